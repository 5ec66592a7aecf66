/**
 * The selection's bytes. One function makes them, so the output of one process, of N worker
 * threads and of N queue workers is byte-identical when the numbers are; scores are written
 * with JavaScript's shortest round-trip form of the float64 (`String(x)`, which JSON uses too),
 * so identical bytes mean identical numbers.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { McuError } from '@mcu/core';
import type { Selection } from './types.js';

export type SelectionFormat = 'json' | 'csv';

function checkFormat(format: string): asserts format is SelectionFormat {
  if (format !== 'json' && format !== 'csv') throw new McuError('E_CONFIG', `selection format must be 'json' or 'csv', got '${format}'`);
}

function num(x: number, what: string): string {
  if (!Number.isFinite(x)) throw new McuError('E_INTERNAL', `${what} is ${x}, which a selection cannot hold`);
  return String(x);
}

/**
 * JSON: the metadata then `selected` (one row a line, best first: `{"rank":1,"index":…,"score":…}`);
 * CSV: `rank,index,score` with a header row and no metadata. Both end with a newline.
 */
export function formatSelection(selection: Selection, format: SelectionFormat): string {
  checkFormat(format);
  const rows = selection.selected.map((s, i) => ({ rank: i + 1, index: s.index, score: num(s.score, `the score of row ${s.index}`) }));
  if (format === 'csv') return `rank,index,score\n${rows.map((r) => `${r.rank},${r.index},${r.score}\n`).join('')}`;
  const head = [
    `"heuristic":${JSON.stringify(selection.heuristic)}`,
    `"k":${selection.k}`,
    `"samples":${selection.samples}`,
    `"seed":${selection.seed}`,
    `"scope":${JSON.stringify(selection.scope)}`,
    `"blockRows":${selection.blockRows}`,
    `"modelHash":${JSON.stringify(selection.modelHash)}`,
    `"poolRows":${selection.poolRows}`,
  ];
  const sel = rows.map((r) => `    {"rank":${r.rank},"index":${r.index},"score":${r.score}}`).join(',\n');
  return `{\n  ${head.join(',\n  ')},\n  "selected": [${rows.length > 0 ? `\n${sel}\n  ` : ''}]\n}\n`;
}

/**
 * Write the selection atomically: the bytes go to a temporary file in the target's directory,
 * which is renamed over the target (atomic on one file system); on any failure the temporary
 * file is removed and the target is untouched. E_FILE when the directory cannot be written.
 */
export async function writeSelection(path: string, selection: Selection, format: SelectionFormat): Promise<void> {
  const text = formatSelection(selection, format);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let written = false;
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    written = true;
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    const code = (e as NodeJS.ErrnoException | undefined)?.code;
    const what = written ? `cannot replace ${path}` : `cannot write a file in ${dirname(path)}`;
    throw new McuError('E_FILE', `${what} (${code ?? (e instanceof Error ? e.message : String(e))}); give an output path in a writable directory`, {
      cause: e,
    });
  }
}
