/**
 * Reading model inputs: CSV / whitespace tables, JSON and NPY, into float32 rows, and
 * reshaping rows to a model input's dims ([N, 784] → [N, 1, 28, 28]).
 */
import { extname } from 'node:path';
import { McuError, formatDims, sizeOf } from '@mcu/core';
import { readFileBytes } from './files.js';
import { parseJsonText } from './json.js';
import { isNpy, readNpy } from './npy.js';
import { parseNumericTable } from './table.js';

export interface InputData {
  /** Row-major values. */
  readonly data: Float32Array;
  /** [rows, cols] for tables, the model's dims after reshaping, the file's shape for NPY. */
  readonly dims: number[];
  /** Header cells of a CSV with a header. */
  readonly columns?: string[];
}

/** What readInputFile needs of a model input (a core TensorSpec fits). */
export interface InputSpecLike {
  readonly name?: string;
  readonly dims: readonly (number | string)[];
}

export type InputFormat = 'table' | 'json' | 'npy';

/** A loaded numeric array, before any reshaping. */
export interface LoadedArray {
  readonly values: Float64Array | Float32Array;
  readonly dims: number[];
  readonly columns?: string[];
  readonly format: InputFormat;
}

function detectFormat(path: string, bytes: Uint8Array): InputFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.npy' || isNpy(bytes)) return 'npy';
  if (ext === '.json') return 'json';
  if (ext === '.csv' || ext === '.tsv' || ext === '.txt' || ext === '.dat') return 'table';
  for (const b of bytes.subarray(0, 256)) {
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0xef || b === 0xbb || b === 0xbf) continue;
    return b === 0x5b || b === 0x7b ? 'json' : 'table'; // [ or {
  }
  return 'table';
}

const bad = (msg: string): McuError => new McuError('E_INPUT', msg);

function show(v: unknown): string {
  const s = v === undefined ? 'nothing' : JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/**
 * JSON input: an array of rows (arrays of numbers), an array of numbers (one column), or
 * deeper nested arrays (dims taken from the nesting, e.g. [N][1][28][28]).
 */
export function parseJsonArray(value: unknown, source: string): { values: Float64Array; dims: number[] } {
  if (!Array.isArray(value)) {
    throw bad(`${source}: expected a JSON array of rows (e.g. [[1, 2], [3, 4]]), got ${value === null ? 'null' : typeof value}`);
  }
  if (value.length === 0) throw bad(`${source}: the JSON array is empty (no rows)`);
  // Shape from the first element at every depth.
  const dims: number[] = [];
  let probe: unknown = value;
  while (Array.isArray(probe)) {
    dims.push(probe.length);
    if (probe.length === 0) {
      const at = dims.length === 2 ? 'row 1 is empty' : `an empty array at depth ${dims.length}`;
      throw bad(`${source}: ${at}`);
    }
    probe = probe[0];
  }
  const oneColumn = dims.length === 1;
  const out = new Float64Array(sizeOf(dims));
  let k = 0;
  const where = (path: number[]): string => {
    if (path.length === 1) return `row ${path[0]! + 1}`;
    if (path.length === 2 && dims.length === 2) return `row ${path[0]! + 1}, column ${path[1]! + 1}`;
    return `row ${path[0]! + 1}, element [${path.slice(1).join('][')}]`;
  };
  const walk = (v: unknown, depth: number, path: number[]): void => {
    if (depth === dims.length) {
      if (typeof v !== 'number') {
        const what = Array.isArray(v) ? 'an array' : show(v);
        throw bad(`${source}: ${where(path)}: expected a number, got ${what}`);
      }
      out[k++] = v;
      return;
    }
    if (!Array.isArray(v)) {
      throw bad(`${source}: ${where(path)}: expected an array of ${dims[depth]} values, got ${show(v)}`);
    }
    if (v.length !== dims[depth]) {
      const ref = depth === 1 ? 'row 1' : 'the first element';
      const what = depth === 1 ? 'columns' : 'values';
      const n = dims[depth]!;
      throw bad(`${source}: ${where(path)}: expected ${n} ${n === 1 ? what.slice(0, -1) : what} (as ${ref}), got ${v.length}`);
    }
    for (let i = 0; i < v.length; i++) walk(v[i], depth + 1, [...path, i]);
  };
  for (let i = 0; i < value.length; i++) walk(value[i], 1, [i]);
  return { values: out, dims: oneColumn ? [dims[0]!, 1] : dims };
}

function checkFinite(values: ArrayLike<number>, dims: readonly number[], source: string): void {
  const perRow = dims.length > 1 ? sizeOf(dims.slice(1)) : 1;
  for (let k = 0; k < values.length; k++) {
    const v = values[k]!;
    if (!Number.isFinite(v)) {
      const r = Math.floor(k / perRow);
      const c = k - r * perRow;
      throw bad(`${source}: row ${r + 1}, column ${c + 1}: expected a finite number, got ${String(v)}`);
    }
  }
}

/** Load a numeric file (table, JSON or NPY) as-is. Errors: E_FILE (missing), E_INPUT (content). */
export function loadNumericFile(path: string): LoadedArray {
  const bytes = readFileBytes(path, 'input file');
  const format = detectFormat(path, bytes);
  if (format === 'npy') {
    const a = readNpy(bytes, path);
    if (a.dims.length === 0) throw bad(`${path}: the NPY array is a scalar; expected rows (dims [N, ...])`);
    if (a.data.length === 0) throw bad(`${path}: the NPY array is empty (shape (${a.dims.join(', ')}))`);
    const values =
      a.data instanceof Float32Array || a.data instanceof Float64Array
        ? a.data
        : a.data instanceof BigInt64Array
          ? Float64Array.from(a.data, (b) => Number(b))
          : Float64Array.from(a.data);
    checkFinite(values, a.dims, path);
    return { values, dims: a.dims.length === 1 ? [a.dims[0]!, 1] : a.dims, format };
  }
  const text = bytes.toString('utf8');
  if (format === 'json') {
    const { values, dims } = parseJsonArray(parseJsonText(text, path, 'E_INPUT'), path);
    checkFinite(values, dims, path);
    return { values, dims, format };
  }
  const t = parseNumericTable(text, path);
  const dims = [t.rows, t.cols];
  return t.columns ? { values: t.values, dims, columns: t.columns, format } : { values: t.values, dims, format };
}

const isFixed = (d: number | string): d is number => typeof d === 'number' && Number.isInteger(d) && d > 0;

/** Model dims for messages: a free batch axis shows as N. */
function showModelDims(dims: readonly (number | string)[]): string {
  return formatDims(dims.map((d, i) => (i === 0 && !isFixed(d) ? 'N' : isFixed(d) ? d : '?')));
}

/**
 * Reshape `rows` rows of `cols` values to a model input's dims: [N, 784] → [N, 1, 28, 28].
 * The leading model axis is the batch; one free axis among the others is inferred.
 * Sizes that disagree: E_INPUT "input 'x' expects 784 values per row ([N, 1, 28, 28]), got 3 columns".
 */
export function reshapeRows(
  data: Float32Array,
  rows: number,
  cols: number,
  modelInputDims: readonly (number | string)[],
  name?: string,
): { data: Float32Array; dims: number[] } {
  const label = name === undefined ? 'the model input' : `input '${name}'`;
  if (data.length !== rows * cols) {
    throw new McuError('E_INTERNAL', `reshapeRows: ${rows}×${cols} rows need ${rows * cols} values, got ${data.length}`);
  }
  if (modelInputDims.length === 0) {
    throw bad(`${label} is a scalar ([]); mcu feeds rows along a leading batch axis`);
  }
  const rest = modelInputDims.slice(1);
  const got = `got ${cols} column${cols === 1 ? '' : 's'}`;
  const free = rest.map((d, i) => (isFixed(d) ? -1 : i)).filter((i) => i >= 0);
  const known = sizeOf(rest.filter(isFixed));
  if (free.length === 0) {
    if (cols !== known) {
      throw bad(`${label} expects ${known} value${known === 1 ? '' : 's'} per row (${showModelDims(modelInputDims)}), ${got}`);
    }
    return { data, dims: [rows, ...(rest as number[])] };
  }
  if (free.length === 1) {
    if (cols % known !== 0 || cols === 0) {
      throw bad(`${label} expects a multiple of ${known} values per row (${showModelDims(modelInputDims)}), ${got}`);
    }
    const dims = rest.map((d) => (isFixed(d) ? d : cols / known));
    return { data, dims: [rows, ...dims] };
  }
  throw bad(
    `${label} has ${free.length} free axes besides the batch (${showModelDims(modelInputDims)}): cannot tell how to lay out ${cols} columns per row; give an NPY file with the full shape`,
  );
}

function fitsSpec(dims: readonly number[], spec: readonly (number | string)[]): boolean {
  return dims.length === spec.length && spec.every((d, i) => !isFixed(d) || d === dims[i] || i === 0);
}

/**
 * Read model input rows from a CSV / whitespace table, JSON or NPY file (by extension, or
 * sniffed). With `spec`, the rows are reshaped to the model input's dims.
 */
export function readInputFile(path: string, spec?: InputSpecLike): InputData {
  const a = loadNumericFile(path);
  const data = a.values instanceof Float32Array ? a.values : Float32Array.from(a.values);
  let dims = a.dims;
  if (spec !== undefined && !fitsSpec(dims, spec.dims)) {
    const rows = dims[0]!;
    const cols = sizeOf(dims.slice(1));
    try {
      dims = reshapeRows(data, rows, cols, spec.dims, spec.name).dims;
    } catch (e) {
      // name the file, as every other input problem does
      if (e instanceof McuError && e.code === 'E_INPUT') throw new McuError('E_INPUT', `${path}: ${e.message}`, { cause: e });
      throw e;
    }
  }
  return a.columns ? { data, dims, columns: a.columns } : { data, dims };
}
