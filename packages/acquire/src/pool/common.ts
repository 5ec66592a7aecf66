/** What the pool readers share: file errors, range checks, the finite check. */
import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { McuError } from '@mcu/core';

/** stat a pool file: E_FILE when it is missing, a directory or unreadable. */
export async function statPool(path: string): Promise<Stats> {
  if (typeof path !== 'string' || path === '') throw new McuError('E_FILE', 'no pool file given; give the path of an .npy or .csv file');
  let info: Stats;
  try {
    info = await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException | undefined)?.code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read (permission denied)' : `cannot be read (${code ?? String(e)})`;
    throw new McuError('E_FILE', `pool file ${path} ${why}; give the path of an .npy or .csv file`, { cause: e });
  }
  if (info.isDirectory()) throw new McuError('E_FILE', `pool file ${path} is a directory; give the path of an .npy or .csv file`);
  if (!info.isFile()) throw new McuError('E_FILE', `pool file ${path} is not a regular file`);
  return info;
}

export function fileReadError(path: string, e: unknown): McuError {
  if (e instanceof McuError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return new McuError('E_FILE', `pool file ${path} cannot be read (${code ?? (e instanceof Error ? e.message : String(e))})`, { cause: e });
}

/** A row range of a pool of `rows` rows: 0 ≤ start < end ≤ rows. */
export function checkRange(path: string, rows: number, start: number, end: number): void {
  if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && end > start && end <= rows)) {
    throw new McuError('E_CONFIG', `pool ${path}: rows [${start}, ${end}) are not a non-empty range inside [0, ${rows})`);
  }
}

/** Refuse a non-finite feature, naming its row (0-based pool index, as the selection's indices are) and column. */
export function checkFinite(path: string, data: Float32Array, firstRow: number, width: number): void {
  for (let k = 0; k < data.length; k++) {
    if (!Number.isFinite(data[k]!)) {
      const r = Math.floor(k / width);
      throw new McuError(
        'E_INPUT',
        `${path}: row index ${firstRow + r} (0-based), column ${k - r * width + 1}: expected a finite number, got ${String(data[k])}; drop or impute that row`,
      );
    }
  }
}
