/**
 * Printing a PredictResult as json, csv, table or npy.
 *
 * - json: the contract in result.ts, 2-space indentation, arrays of numbers kept on one line.
 * - csv: a header, then one line per input row. Per output, regression:
 *   `<out>_mean_0..<out>_mean_{D-1}, <out>_std_0..`; classification:
 *   `<out>_predicted, <out>_entropy, <out>_mutual_information, <out>_variation_ratio, <out>_prob_0..`.
 *   First column `row` (0-based).
 * - table: aligned columns for people, numbers with 4 significant digits, cut to `maxWidth`.
 * - npy: one array, so only for a single output: regression → [2, N, D] (mean, std:
 *   `mean, std = np.load(f)`), classification → probs [N, K]; `field` picks another array.
 */
import { McuError } from '@mcu/core';
import type { OutputFormat } from '../args.js';
import { writeNpy } from './npy.js';
import type { ClassificationOutput, OutputResult, PredictResult, RegressionOutput } from './result.js';

export type NpyField = 'mean' | 'variance' | 'std' | 'probs' | 'predicted' | 'entropy' | 'mutualInformation' | 'variationRatio';

export interface FormatOptions {
  /** table: the widest a line may be (default 100). */
  readonly maxWidth?: number;
  /** table: rows shown per output (default all). */
  readonly maxRows?: number;
  /** npy: which array of the single output to write (default: see above). */
  readonly field?: NpyField;
}

export function formatResult(result: PredictResult, format: 'npy', options?: FormatOptions): Uint8Array;
export function formatResult(result: PredictResult, format: Exclude<OutputFormat, 'npy'>, options?: FormatOptions): string;
export function formatResult(result: PredictResult, format: OutputFormat, options?: FormatOptions): string | Uint8Array;
export function formatResult(result: PredictResult, format: OutputFormat, options: FormatOptions = {}): string | Uint8Array {
  switch (format) {
    case 'json':
      return `${stringifyJson(result)}\n`;
    case 'csv':
      return formatCsv(result);
    case 'table':
      return formatTable(result, options);
    case 'npy':
      return formatNpy(result, options.field);
    case 'svg':
    case 'png':
      throw new McuError('E_USAGE', `--format ${format} draws a figure: use mcu plot (a result's formats: json, csv, table, npy)`);
    default: {
      const never: never = format;
      throw new McuError('E_USAGE', `unknown format '${String(never)}' (json, csv, table, npy)`);
    }
  }
}

// ---------------------------------------------------------------------------------------

/** JSON.stringify with 2-space indentation, but arrays of numbers/strings on one line. */
export function stringifyJson(value: unknown, indent = ''): string {
  if (value === null || typeof value !== 'object') {
    const s = JSON.stringify(value);
    return s === undefined ? 'null' : s;
  }
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((v) => v === null || typeof v !== 'object')) {
      return `[${value.map((v) => stringifyJson(v)).join(', ')}]`;
    }
    return `[\n${value.map((v) => inner + stringifyJson(v, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined && typeof v !== 'function');
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${stringifyJson(v, inner)}`).join(',\n')}\n${indent}}`;
}

function rowCount(o: OutputResult): number {
  return o.task === 'regression' ? o.mean.length : o.probs.length;
}

function width(rows: readonly (readonly number[])[], name: string, field: string): number {
  const w = rows[0]?.length ?? 0;
  rows.forEach((r, i) => {
    if (r.length !== w) {
      throw new McuError('E_INTERNAL', `output '${name}': ${field}[${i}] has ${r.length} values, ${field}[0] has ${w}`);
    }
  });
  return w;
}

function commonRows(result: PredictResult, format: string): number {
  const names = Object.keys(result.outputs);
  if (names.length === 0) throw new McuError('E_INTERNAL', 'the result has no outputs');
  const counts = names.map((n) => rowCount(result.outputs[n]!));
  if (counts.some((c) => c !== counts[0])) {
    throw new McuError(
      'E_USAGE',
      `--format ${format} prints one line per input row, but the outputs have different row counts (${names
        .map((n, i) => `${n}: ${counts[i]}`)
        .join(', ')}); use --format json`,
    );
  }
  return counts[0]!;
}

function csvCell(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

interface Column {
  readonly header: string;
  readonly value: (row: number) => number;
  readonly integer?: boolean;
}

function regressionColumns(name: string, o: RegressionOutput, interleave: boolean): Column[] {
  const d = width(o.mean, name, 'mean');
  width(o.std, name, 'std');
  const mean = (j: number): Column => ({ header: `${name}_mean_${j}`, value: (i) => o.mean[i]![j]! });
  const std = (j: number): Column => ({ header: `${name}_std_${j}`, value: (i) => o.std[i]![j]! });
  const idx = [...Array(d).keys()];
  return interleave ? idx.flatMap((j) => [mean(j), std(j)]) : [...idx.map(mean), ...idx.map(std)];
}

function classificationColumns(name: string, o: ClassificationOutput): Column[] {
  const k = width(o.probs, name, 'probs');
  return [
    { header: `${name}_predicted`, value: (i) => o.predicted[i]!, integer: true },
    { header: `${name}_entropy`, value: (i) => o.entropy[i]! },
    { header: `${name}_mutual_information`, value: (i) => o.mutualInformation[i]! },
    { header: `${name}_variation_ratio`, value: (i) => o.variationRatio[i]! },
    ...[...Array(k).keys()].map((c): Column => ({ header: `${name}_prob_${c}`, value: (i) => o.probs[i]![c]! })),
  ];
}

function formatCsv(result: PredictResult): string {
  const n = commonRows(result, 'csv');
  const cols = Object.entries(result.outputs).flatMap(([name, o]) =>
    o.task === 'regression' ? regressionColumns(name, o, false) : classificationColumns(name, o),
  );
  const lines = [['row', ...cols.map((c) => c.header)].map(csvCell).join(',')];
  for (let i = 0; i < n; i++) lines.push([String(i), ...cols.map((c) => String(c.value(i)))].join(','));
  return `${lines.join('\n')}\n`;
}

/** 4 significant digits (toPrecision switches to exponent form for large/small values). */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  return x.toPrecision(4);
}

function formatTable(result: PredictResult, options: FormatOptions): string {
  const maxWidth = options.maxWidth ?? 100;
  const maxRows = options.maxRows ?? Infinity;
  const m = result.meta;
  const out: string[] = [];
  const sites = m.sites.length === 0 ? 'no sites' : `${m.sites.length} site${m.sites.length === 1 ? '' : 's'} (p = ${m.sites.map((s) => s.rate).join(', ')})`;
  const tau = m.tau === null ? '' : `, τ = ${formatNumber(m.tau)}`;
  out.push(`${m.backend} (${m.executionProvider}), ${m.samples} samples, seed ${m.seed}, ${sites}${tau}`);
  for (const [name, o] of Object.entries(result.outputs)) {
    const n = rowCount(o);
    const short = (h: string): string => h.slice(name.length + 1);
    const all =
      o.task === 'regression'
        ? regressionColumns(name, o, true).map((c) => ({
            ...c,
            header: width(o.mean, name, 'mean') === 1 ? short(c.header).replace(/_0$/, '') : short(c.header),
          }))
        : classificationColumns(name, o).map((c) => ({ ...c, header: short(c.header) }));
    const shown = Math.min(n, maxRows);
    const cells = all.map((c) => {
      const vals: string[] = [];
      for (let i = 0; i < shown; i++) vals.push(c.integer ? String(c.value(i)) : formatNumber(c.value(i)));
      return { header: c.header, vals, w: Math.max(c.header.length, ...vals.map((v) => v.length)) };
    });
    const rowW = Math.max(3, String(Math.max(0, shown - 1)).length);
    let used = rowW;
    const fit: typeof cells = [];
    for (const c of cells) {
      if (used + 2 + c.w > maxWidth && fit.length > 0) break;
      fit.push(c);
      used += 2 + c.w;
    }
    out.push('');
    out.push(`output '${name}': ${o.task}, ${n} row${n === 1 ? '' : 's'}`);
    out.push(['row'.padStart(rowW), ...fit.map((c) => c.header.padStart(c.w))].join('  '));
    for (let i = 0; i < shown; i++) {
      out.push([String(i).padStart(rowW), ...fit.map((c) => c.vals[i]!.padStart(c.w))].join('  '));
    }
    const hiddenCols = cells.length - fit.length;
    if (hiddenCols > 0 || shown < n) {
      const parts: string[] = [];
      if (shown < n) parts.push(`${n - shown} more row${n - shown === 1 ? '' : 's'}`);
      if (hiddenCols > 0) parts.push(`${hiddenCols} more column${hiddenCols === 1 ? '' : 's'}`);
      out.push(`… ${parts.join(' and ')} not shown; use --format csv or json for everything`);
    }
  }
  return `${out.join('\n')}\n`;
}

function formatNpy(result: PredictResult, field: NpyField | undefined): Uint8Array {
  const names = Object.keys(result.outputs);
  if (names.length !== 1) {
    throw new McuError('E_USAGE', `--format npy writes one array, but the result has ${names.length} outputs (${names.join(', ')}); use --format json`);
  }
  const name = names[0]!;
  const o = result.outputs[name]!;
  const matrix = (rows: readonly (readonly number[])[], f: string): { data: Float64Array; dims: number[] } => {
    const d = width(rows, name, f);
    const data = new Float64Array(rows.length * d);
    rows.forEach((r, i) => data.set(r, i * d));
    return { data, dims: [rows.length, d] };
  };
  const vector = (v: readonly number[]): { data: Float64Array; dims: number[] } => ({
    data: Float64Array.from(v),
    dims: [v.length],
  });
  if (field === undefined) {
    if (o.task === 'classification') return writeNpy({ dtype: 'float64', ...matrix(o.probs, 'probs') });
    const mean = matrix(o.mean, 'mean');
    const std = matrix(o.std, 'std');
    const data = new Float64Array(mean.data.length * 2);
    data.set(mean.data, 0);
    data.set(std.data, mean.data.length);
    return writeNpy({ dtype: 'float64', data, dims: [2, ...mean.dims] });
  }
  const value = (o as unknown as Record<string, unknown>)[field];
  if (value === undefined) {
    const fields = o.task === 'regression' ? 'mean, variance, std' : 'probs, predicted, entropy, mutualInformation, variationRatio';
    throw new McuError('E_USAGE', `output '${name}' is ${o.task}: it has no '${field}' (it has ${fields})`);
  }
  if (field === 'predicted') return writeNpy({ dtype: 'int32', data: Int32Array.from(value as number[]), dims: [(value as number[]).length] });
  const arr = value as readonly number[] | readonly (readonly number[])[];
  return writeNpy({ dtype: 'float64', ...(Array.isArray(arr[0]) ? matrix(arr as number[][], field) : vector(arr as number[])) });
}
