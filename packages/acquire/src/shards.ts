/**
 * Shards and blocks. Every row is scored inside its globally aligned block
 * [b·B, min((b+1)·B, rows)), whoever scores it, because onnxruntime's numbers for a row can
 * depend on how many rows share its call; shard boundaries are therefore multiples of B.
 */
import { McuError } from '@mcu/core';

export interface RowRange {
  readonly start: number;
  readonly end: number;
}

function positiveInteger(name: string, v: number): void {
  if (!(Number.isSafeInteger(v) && v >= 1)) throw new McuError('E_CONFIG', `${name} must be an integer ≥ 1, got ${v}`);
}

/**
 * Shards of [0, rows): [0, S), [S, 2S), …, the last one shorter. `shardRows` (S) must be a
 * multiple of `blockRows` (B) — E_CONFIG with the nearest multiples otherwise — so no block is
 * split between two shards.
 */
export function shardsOf(rows: number, shardRows: number, blockRows: number): RowRange[] {
  if (!(Number.isSafeInteger(rows) && rows >= 0)) throw new McuError('E_CONFIG', `pool rows must be an integer ≥ 0, got ${rows}`);
  positiveInteger('blockRows', blockRows);
  positiveInteger('shardRows', shardRows);
  if (shardRows % blockRows !== 0) {
    const lo = Math.max(blockRows, Math.floor(shardRows / blockRows) * blockRows);
    throw new McuError(
      'E_CONFIG',
      `shardRows must be a multiple of blockRows (${blockRows}) so that no block is split between shards, got ${shardRows}; use ${lo} or ${lo + blockRows}`,
    );
  }
  const out: RowRange[] = [];
  for (let start = 0; start < rows; start += shardRows) out.push({ start, end: Math.min(rows, start + shardRows) });
  return out;
}

/** The aligned blocks of a shard (whose start is a multiple of B; E_CONFIG otherwise). */
export function blocksOf(range: RowRange, rows: number, blockRows: number): RowRange[] {
  positiveInteger('blockRows', blockRows);
  if (!(Number.isSafeInteger(range.start) && Number.isSafeInteger(range.end) && range.start >= 0 && range.end > range.start && range.end <= rows)) {
    throw new McuError('E_CONFIG', `a shard must be a non-empty row range inside [0, ${rows}), got [${range.start}, ${range.end})`);
  }
  if (range.start % blockRows !== 0 || (range.end % blockRows !== 0 && range.end !== rows)) {
    throw new McuError(
      'E_CONFIG',
      `shard [${range.start}, ${range.end}) is not aligned to blockRows ${blockRows}: its start must be a multiple of ${blockRows} and its end too, or the pool's end (${rows})`,
    );
  }
  const out: RowRange[] = [];
  for (let s = range.start; s < range.end; s += blockRows) out.push({ start: s, end: Math.min(range.end, s + blockRows) });
  return out;
}
