/**
 * Several series, each a line with a shaded band (e.g. the mean over repetitions and an
 * interval): the RL figure plots the average reward against the number of batches, on a log
 * x axis, one series per agent.
 */
import type { TopLevelSpec } from 'vega-lite';
import { BASE_CONFIG, CATEGORY_COLORS, DEFAULT_HEIGHT, DEFAULT_WIDTH, RULE_COLOR, VEGA_LITE_SCHEMA, titleOf } from './theme.js';
import { finiteNumber, finiteNumbers, inputError, integerIn, optionalText, record, type Numbers } from './validate.js';

export interface CurveSeries {
  readonly name: string;
  readonly x: Numbers;
  readonly mean: Numbers;
  /** Lower and upper edge of the band (lo ≤ hi). */
  readonly lo: Numbers;
  readonly hi: Numbers;
}

export interface CurvesData {
  readonly series: readonly CurveSeries[];
  /** A logarithmic x axis (every x must be > 0). */
  readonly logX?: boolean;
  /** A horizontal reference line at this y. */
  readonly hline?: number;
  readonly title?: string;
  readonly subtitle?: string;
  readonly xLabel?: string;
  readonly yLabel?: string;
  readonly width?: number;
  readonly height?: number;
}

/**
 * The Vega-Lite spec of curves with bands; its data set `curves` holds one row
 * {series, x, mean, lo, hi} per point. Throws McuError('E_INPUT') for an empty or unnamed
 * series, lengths that differ, values that are not finite, lo > hi, or x ≤ 0 with logX.
 */
export function curvesSpec(data: CurvesData): TopLevelSpec {
  const d = record('curves data', data) as unknown as CurvesData;
  if (!Array.isArray(d.series) || d.series.length === 0) throw inputError('curves: series: expected at least one series');
  const logX = d.logX === true;
  const names = new Set<string>();
  const rows: { series: string; x: number; mean: number; lo: number; hi: number }[] = [];
  d.series.forEach((s0, j) => {
    const s = record(`curves: series[${j}]`, s0);
    const name = s['name'];
    if (typeof name !== 'string' || name === '') throw inputError(`curves: series[${j}].name: expected a non-empty string, got ${JSON.stringify(name)}`);
    if (names.has(name)) throw inputError(`curves: series '${name}' is given twice; names must differ`);
    names.add(name);
    const x = finiteNumbers(`curves: series '${name}': x`, s['x']);
    if (x.length === 0) throw inputError(`curves: series '${name}': x: expected at least one point, got 0`);
    const mean = finiteNumbers(`curves: series '${name}': mean`, s['mean'], x.length);
    const lo = finiteNumbers(`curves: series '${name}': lo`, s['lo'], x.length);
    const hi = finiteNumbers(`curves: series '${name}': hi`, s['hi'], x.length);
    x.forEach((v, i) => {
      if (logX && v <= 0) throw inputError(`curves: series '${name}': x[${i}] = ${v}, but a log x axis needs every x > 0`);
      if (lo[i]! > hi[i]!) throw inputError(`curves: series '${name}': lo[${i}] = ${lo[i]} is above hi[${i}] = ${hi[i]}`);
      rows.push({ series: name, x: v, mean: mean[i]!, lo: lo[i]!, hi: hi[i]! });
    });
  });
  const hline = d.hline === undefined ? undefined : finiteNumber('curves: hline', d.hline);
  const width = d.width === undefined ? DEFAULT_WIDTH : integerIn('curves: width', d.width, 50, 10_000);
  const height = d.height === undefined ? DEFAULT_HEIGHT : integerIn('curves: height', d.height, 50, 10_000);
  const title = optionalText('curves: title', d.title) ?? '';
  const subtitle = optionalText('curves: subtitle', d.subtitle);
  const xLabel = optionalText('curves: xLabel', d.xLabel) ?? 'x';
  const yLabel = optionalText('curves: yLabel', d.yLabel) ?? 'y';

  const domain = [...names];
  const color = {
    field: 'series',
    type: 'nominal',
    title: null,
    legend: { symbolType: 'stroke', symbolStrokeWidth: 3, symbolOpacity: 1, labelLimit: 0 },
    scale: { domain, range: domain.map((_, j) => CATEGORY_COLORS[j % CATEGORY_COLORS.length]!) },
  };
  // the axis spans the data (a log scale would otherwise round out to the next power of ten)
  const xs = rows.map((r) => (r as { x: number }).x);
  const xDomain = [Math.min(...xs), Math.max(...xs)];
  const x = { field: 'x', type: 'quantitative', title: xLabel, scale: logX ? { type: 'log', nice: false, domain: xDomain } : { zero: false, nice: false } };
  const layers: unknown[] = [
    {
      mark: { type: 'area', opacity: 0.22 },
      encoding: { x, y: { field: 'lo', type: 'quantitative', title: yLabel, scale: { zero: false } }, y2: { field: 'hi' }, color },
    },
    { mark: { type: 'line', strokeWidth: 2 }, encoding: { x, y: { field: 'mean', type: 'quantitative', title: yLabel }, color } },
  ];
  if (hline !== undefined) {
    layers.push({
      data: { values: [{ y: hline }] },
      mark: { type: 'rule', color: RULE_COLOR, strokeDash: [4, 4] },
      encoding: { y: { field: 'y', type: 'quantitative' } },
    });
  }
  return {
    $schema: VEGA_LITE_SCHEMA,
    background: 'white',
    padding: 12,
    ...(title !== '' ? { title: titleOf(title, subtitle) } : {}),
    width,
    height,
    config: BASE_CONFIG,
    datasets: { curves: rows },
    data: { name: 'curves' },
    layer: layers,
  } as unknown as TopLevelSpec;
}
