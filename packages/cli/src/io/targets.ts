/** Labelled data for `mcu evaluate`: one file holding features and a target column. */
import { McuError } from '@mcu/core';
import { loadNumericFile, reshapeRows } from './input.js';
import type { InputData, InputSpecLike } from './input.js';

export interface Targets {
  /** One target per row. */
  readonly values: Float64Array;
  /** 0-based index of the target column. */
  readonly column: number;
  /** Its header name, when the file has a header. */
  readonly name?: string;
}

export interface LabeledData {
  /** Every column but the target (reshaped to `spec` when given). */
  readonly x: InputData;
  readonly y: Targets;
}

function resolveColumn(path: string, column: string | number | undefined, cols: number, columns?: string[]): number {
  if (column === undefined) return cols - 1;
  if (typeof column === 'number') {
    if (!Number.isInteger(column) || column < 0 || column >= cols) {
      throw new McuError(
        'E_INPUT',
        `${path}: target column ${column} is out of range: the file has ${cols} column${cols === 1 ? '' : 's'} (0-based: 0..${cols - 1})`,
      );
    }
    return column;
  }
  if (columns === undefined) {
    throw new McuError(
      'E_INPUT',
      `${path}: target column '${column}' asks for a header name, but the file has no header; give a 0-based index (0..${cols - 1})`,
    );
  }
  const hits = columns.flatMap((c, i) => (c === column ? [i] : []));
  if (hits.length === 0) {
    throw new McuError('E_INPUT', `${path}: no column named '${column}' (columns: ${columns.join(', ')})`);
  }
  if (hits.length > 1) {
    throw new McuError('E_INPUT', `${path}: ${hits.length} columns are named '${column}' (0-based ${hits.join(', ')}); give the index instead`);
  }
  return hits[0]!;
}

/**
 * Read one column of a table (CSV / whitespace / JSON rows / 2-D NPY) by header name or
 * 0-based index; without `column`, the last column.
 */
export function readTargets(path: string, column?: string | number): Targets {
  return split(path, column, undefined, false).y;
}

/** Split a labelled file into features (every other column) and targets. */
export function readLabeled(path: string, target?: string | number, spec?: InputSpecLike): LabeledData {
  return split(path, target, spec, true);
}

function split(path: string, target: string | number | undefined, spec: InputSpecLike | undefined, needX: boolean): LabeledData {
  const a = loadNumericFile(path);
  if (a.dims.length !== 2) {
    throw new McuError('E_INPUT', `${path}: labelled data must be a 2-D table (rows × columns), got dims [${a.dims.join(', ')}]`);
  }
  const [rows, cols] = a.dims as [number, number];
  const t = resolveColumn(path, target, cols, a.columns);
  const y = new Float64Array(rows);
  const xCols = cols - 1;
  if (needX && xCols === 0) {
    throw new McuError('E_INPUT', `${path}: the file has only the target column, no feature columns`);
  }
  let xData: Float32Array = new Float32Array(rows * xCols);
  for (let r = 0; r < rows; r++) {
    y[r] = a.values[r * cols + t]!;
    let k = r * xCols;
    for (let c = 0; c < cols; c++) if (c !== t) xData[k++] = a.values[r * cols + c]!;
  }
  let dims = [rows, xCols];
  if (spec !== undefined) {
    const reshaped = reshapeRows(xData, rows, xCols, spec.dims, spec.name);
    xData = reshaped.data;
    dims = reshaped.dims;
  }
  const name = a.columns?.[t];
  const columns = a.columns?.filter((_, i) => i !== t);
  return {
    x: columns ? { data: xData, dims, columns } : { data: xData, dims },
    y: name === undefined ? { values: y, column: t } : { values: y, column: t, name },
  };
}
