import { McuError } from '../errors.js';
import { formatDims, sizeOf } from '../tensor.js';
import type { Chunk } from './estimator.js';

/** Targets: flat row-major N·D values, or N rows of D values. */
export type TargetsInput = Float64Array | readonly number[] | readonly (readonly number[])[];

/** Class labels, one integer in [0, C) per row. */
export type LabelsInput = Int32Array | readonly number[];

/** Row layout fixed by an estimator's first chunk. */
export interface ChunkLayout {
  readonly rows: number;
  /** Output dims after the leading S·N axis. */
  readonly rest: readonly number[];
  /** prod(rest): values per row. */
  readonly width: number;
}

/** One chunk's output, checked. */
export interface ChunkView extends ChunkLayout {
  readonly data: Float32Array | Float64Array;
  readonly samples: number;
}

export function checkOutputName(output: unknown, who: string): string {
  if (typeof output !== 'string' || output.length === 0) {
    throw new McuError('E_CONFIG', `${who}: option 'output' must name a model output, got ${String(output)}`);
  }
  return output;
}

/**
 * Check a chunk against what the estimator expects: chunks in sample order, the named
 * output present as float32/float64 with dims [S·N, ...rest], N and rest unchanged since
 * the first chunk, and every value finite (a NaN/Inf output is a runtime failure).
 */
export function readChunk(chunk: Chunk, output: string, consumed: number, layout: ChunkLayout | undefined, who: string): ChunkView {
  const S = chunk.samples;
  const N = chunk.rows;
  if (!Number.isInteger(S) || S < 1) {
    throw new McuError('E_INPUT', `${who}: chunk.samples must be a positive integer, got ${S}`);
  }
  if (!Number.isInteger(N) || N < 1) {
    throw new McuError('E_INPUT', `${who}: chunk.rows must be a positive integer, got ${N}`);
  }
  if (chunk.firstSample !== consumed) {
    throw new McuError('E_INPUT', `${who}: chunks must arrive in sample order: expected firstSample ${consumed}, got ${chunk.firstSample}`);
  }
  const t = chunk.outputs[output];
  if (t === undefined) {
    const names = Object.keys(chunk.outputs);
    throw new McuError('E_INPUT', `${who}: the chunk has no output '${output}' (outputs: ${names.length ? names.join(', ') : 'none'})`);
  }
  if (t.dtype !== 'float32' && t.dtype !== 'float64') {
    throw new McuError('E_INPUT', `${who}: output '${output}' must be float32 or float64, got ${t.dtype}`);
  }
  const dims = t.dims;
  if (dims.length < 1 || dims[0] !== S * N) {
    throw new McuError('E_INPUT', `${who}: output '${output}' must have dims [samples·rows = ${S}·${N} = ${S * N}, ...], got ${formatDims(dims)}`);
  }
  const rest = dims.slice(1);
  const width = sizeOf(rest);
  if (width < 1) {
    throw new McuError('E_INPUT', `${who}: output '${output}' has no values per row: dims ${formatDims(dims)}`);
  }
  const data = t.data as Float32Array | Float64Array;
  if (data.length !== S * N * width) {
    throw new McuError('E_INPUT', `${who}: output '${output}' of dims ${formatDims(dims)} needs ${S * N * width} values, got ${data.length}`);
  }
  if (layout !== undefined) {
    if (N !== layout.rows) {
      throw new McuError('E_INPUT', `${who}: every chunk must have the same rows N: expected ${layout.rows} (first chunk), got ${N}`);
    }
    if (rest.length !== layout.rest.length || rest.some((d, k) => d !== layout.rest[k])) {
      throw new McuError(
        'E_INPUT',
        `${who}: output '${output}' per-row dims changed: expected ${formatDims(layout.rest)} (first chunk), got ${formatDims(rest)}`,
      );
    }
  }
  // Check everything before the estimator touches its state, so a bad chunk leaves it intact.
  for (let k = 0; k < data.length; k++) {
    const v = data[k];
    if (!Number.isFinite(v)) {
      const perSample = N * width;
      const tt = Math.floor(k / perSample);
      const i = Math.floor((k % perSample) / width);
      throw new McuError(
        'E_RUNTIME',
        `${who}: output '${output}' has a non-finite value (${v}) at MC sample ${consumed + tt}, row ${i}, ` +
          `element ${k % width}; expected finite values (check the model and its inputs)`,
      );
    }
  }
  return { data, samples: S, rows: N, rest, width };
}

/** Targets as a flat float64 N·D array, checked for size and finiteness. */
export function parseTargets(targets: TargetsInput, rows: number, width: number, who: string): Float64Array {
  const out = new Float64Array(rows * width);
  const isRows = targets.length > 0 && typeof (targets as ArrayLike<unknown>)[0] !== 'number';
  if (isRows) {
    const rowsIn = targets as readonly (readonly number[])[];
    if (rowsIn.length !== rows) {
      throw new McuError('E_INPUT', `${who}: expected targets for ${rows} rows, got ${rowsIn.length}`);
    }
    for (let i = 0; i < rows; i++) {
      const r = rowsIn[i];
      if (!r || r.length !== width) {
        throw new McuError('E_INPUT', `${who}: target row ${i} must have ${width} values (the output's values per row), got ${r ? r.length : String(r)}`);
      }
      for (let d = 0; d < width; d++) out[i * width + d] = r[d];
    }
  } else {
    const flat = targets as ArrayLike<number>;
    if (flat.length !== rows * width) {
      throw new McuError('E_INPUT', `${who}: expected ${rows}×${width} = ${rows * width} target values, got ${flat.length}`);
    }
    for (let k = 0; k < flat.length; k++) out[k] = flat[k];
  }
  for (let k = 0; k < out.length; k++) {
    if (!Number.isFinite(out[k])) {
      throw new McuError('E_INPUT', `${who}: target of row ${Math.floor(k / width)}, element ${k % width} must be finite, got ${out[k]}`);
    }
  }
  return out;
}

/** Labels as Int32Array, each an integer in [0, classes). */
export function parseLabels(labels: LabelsInput, rows: number, classes: number, who: string): Int32Array {
  if (labels.length !== rows) {
    throw new McuError('E_INPUT', `${who}: expected ${rows} labels (one per row), got ${labels.length}`);
  }
  const out = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= classes) {
      throw new McuError('E_INPUT', `${who}: label of row ${i} must be an integer class index in [0, ${classes}), got ${y}`);
    }
    out[i] = y;
  }
  return out;
}
