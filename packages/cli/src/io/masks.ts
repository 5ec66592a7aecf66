/**
 * `--masks FILE`: user-given dropout masks, JSON shaped as one entry per stochastic site,
 * each an array of mask rows (one row per MC sample, or per sample×row for scope `point`),
 * each row an array of finite numbers: number[][][]. Matching against the model's sites
 * (count, widths, values) is the caller's job (E_MASK there too).
 */
import { McuError } from '@mcu/core';
import { readFileText } from './files.js';
import { parseJsonText } from './json.js';

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** Check a parsed masks value; `source` prefixes messages. */
export function validateMasks(value: unknown, source: string): number[][][] {
  const fail = (msg: string): McuError => new McuError('E_MASK', `${source}: ${msg}`);
  if (!Array.isArray(value)) {
    throw fail(`expected a JSON array with one entry per dropout site (number[][][]), got ${show(value)}`);
  }
  if (value.length === 0) throw fail('no sites: expected one array of mask rows per dropout site');
  value.forEach((site: unknown, s) => {
    const at = `site ${s + 1}`;
    if (!Array.isArray(site)) throw fail(`${at}: expected an array of mask rows, got ${show(site)}`);
    if (site.length === 0) throw fail(`${at}: no mask rows`);
    let width = -1;
    site.forEach((row: unknown, r) => {
      if (!Array.isArray(row)) throw fail(`${at}, row ${r + 1}: expected an array of numbers, got ${show(row)}`);
      if (width < 0) width = row.length;
      else if (row.length !== width) {
        throw fail(`${at}, row ${r + 1}: expected ${width} values (as row 1), got ${row.length}`);
      }
      if (row.length === 0) throw fail(`${at}, row ${r + 1}: empty mask row`);
      row.forEach((v: unknown, k) => {
        if (typeof v !== 'number' || !Number.isFinite(v)) {
          throw fail(`${at}, row ${r + 1}, element ${k + 1}: expected a finite number, got ${show(v)}`);
        }
      });
    });
  });
  return value as number[][][];
}

/** Read and validate a masks file. Missing: E_FILE; invalid JSON or shape: E_MASK. */
export function readMasksFile(path: string): number[][][] {
  const text = readFileText(path, 'masks file');
  return validateMasks(parseJsonText(text, path, 'E_MASK'), path);
}
