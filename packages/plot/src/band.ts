/**
 * The band plot of a regression with one input (the paper's figure 2): the predictive mean
 * as a line, and around it shaded bands at ±½σ, ±σ, ±1½σ and ±2σ — shades of blue, each
 * shade a half standard deviation. σ is the predictive standard deviation (with τ⁻¹ in its
 * variance). `sigmaScale` stretches every band: band k (k = 1..4) spans
 *
 *     mean ± k · σ · sigmaScale / 2,
 *
 * so scale 1 gives ±½σ … ±2σ and scale 4 gives ±2σ … ±8σ (figure 2d plots ±8σ).
 * Optional: the data points, the "standard dropout" curve (one deterministic pass with
 * weights scaled, the paper's comparison), and a vertical rule where the training data ends.
 */
import type { TopLevelSpec } from 'vega-lite';
import {
  BAND_COLORS,
  BASE_CONFIG,
  DEFAULT_HEIGHT,
  DEFAULT_WIDTH,
  MEAN_COLOR,
  POINTS_COLOR,
  RULE_COLOR,
  STANDARD_COLOR,
  VEGA_LITE_SCHEMA,
  titleOf,
} from './theme.js';
import { finiteNumber, finiteNumbers, inputError, integerIn, nonNegative, optionalText, record, type Numbers } from './validate.js';

export interface BandPlotData {
  /** The one input feature of each row (need not be sorted). */
  readonly x: Numbers;
  /** Predictive mean per row (eq. 6). */
  readonly mean: Numbers;
  /** Predictive standard deviation per row (√ of the variance with τ⁻¹). */
  readonly std: Numbers;
  /** The "standard dropout" prediction per row (deterministic pass, weights scaled). */
  readonly standard?: Numbers;
  /** Data points to draw (e.g. the training and test targets). */
  readonly points?: { readonly x: Numbers; readonly y: Numbers };
  /** Where the training data ends on the x axis: a vertical rule. */
  readonly trainEnd?: number;
  /** Multiplies every band's half-width (default 1): band k spans mean ± k·σ·sigmaScale/2. */
  readonly sigmaScale?: number;
  readonly title?: string;
  readonly subtitle?: string;
  readonly xLabel?: string;
  readonly yLabel?: string;
  /** Plot area in pixels (default 640 × 360). */
  readonly width?: number;
  readonly height?: number;
}

/** The number of bands (k = 1..4). */
export const BAND_COUNT = 4;

/** Half-width of band k (1..4) in units of σ: k · sigmaScale / 2. */
export function bandHalfWidth(k: number, sigmaScale = 1): number {
  return (k * sigmaScale) / 2;
}

/** '±½σ', '±σ', '±1½σ', '±2σ', '±8σ', '±0.75σ': the legend label of band k. */
export function bandLabel(k: number, sigmaScale = 1): string {
  const m = bandHalfWidth(k, sigmaScale);
  if (m === 1) return '±σ';
  if (Number.isInteger(m)) return `±${m}σ`;
  if (Number.isInteger(m * 2)) return `±${Math.floor(m) === 0 ? '' : Math.floor(m)}½σ`;
  return `±${Number(m.toPrecision(3))}σ`;
}

/** One row of the curve data set (sorted by x). */
export interface BandRow {
  readonly x: number;
  readonly mean: number;
  readonly std: number;
  readonly standard?: number;
  /** lo1..lo4, hi1..hi4: the band bounds. */
  readonly [bound: `lo${number}` | `hi${number}`]: number;
}

const MEAN_LABEL = 'predictive mean';
const STANDARD_LABEL = 'standard dropout';
const POINTS_LABEL = 'data';

/**
 * The Vega-Lite spec of a band plot. Its data sets are named: `curve` (one {@link BandRow} per
 * row, sorted by x) and `points`. Throws McuError('E_INPUT') for lengths that differ,
 * values that are not finite, a negative σ or a sigmaScale ≤ 0.
 */
export function bandPlotSpec(data: BandPlotData): TopLevelSpec {
  const d = record('band plot data', data) as unknown as BandPlotData;
  const x = finiteNumbers('band plot: x', d.x);
  if (x.length === 0) throw inputError('band plot: x: expected at least one row, got 0');
  const n = x.length;
  const mean = finiteNumbers('band plot: mean', d.mean, n);
  const std = nonNegative('band plot: std', d.std, n);
  const standard = d.standard === undefined ? undefined : finiteNumbers('band plot: standard', d.standard, n);
  const scale = d.sigmaScale === undefined ? 1 : finiteNumber('band plot: sigmaScale', d.sigmaScale, true);
  const trainEnd = d.trainEnd === undefined ? undefined : finiteNumber('band plot: trainEnd', d.trainEnd);
  let points: { x: number; y: number }[] = [];
  if (d.points !== undefined) {
    const p = record('band plot: points', d.points);
    const px = finiteNumbers('band plot: points.x', p['x']);
    const py = finiteNumbers('band plot: points.y', p['y']);
    if (py.length !== px.length) throw inputError(`band plot: points.y: expected ${px.length} values (one per points.x), got ${py.length}`);
    points = px.map((v, i) => ({ x: v, y: py[i]! }));
  }
  const width = d.width === undefined ? DEFAULT_WIDTH : integerIn('band plot: width', d.width, 50, 10_000);
  const height = d.height === undefined ? DEFAULT_HEIGHT : integerIn('band plot: height', d.height, 50, 10_000);
  const title = optionalText('band plot: title', d.title) ?? 'MC dropout: predictive mean and uncertainty';
  const subtitle = optionalText('band plot: subtitle', d.subtitle);
  const xLabel = optionalText('band plot: xLabel', d.xLabel) ?? 'x';
  const yLabel = optionalText('band plot: yLabel', d.yLabel) ?? 'y';

  const order = x.map((_, i) => i).sort((a, b) => x[a]! - x[b]!);
  const curve: BandRow[] = order.map((i) => {
    const row: Record<string, number> = { x: x[i]!, mean: mean[i]!, std: std[i]! };
    if (standard !== undefined) row['standard'] = standard[i]!;
    for (let k = 1; k <= BAND_COUNT; k++) {
      const h = bandHalfWidth(k, scale) * std[i]!;
      row[`lo${k}`] = mean[i]! - h;
      row[`hi${k}`] = mean[i]! + h;
    }
    return row as unknown as BandRow;
  });

  // One colour scale for every layer, so that one legend names bands, lines and points.
  const bandLabels = Array.from({ length: BAND_COUNT }, (_, j) => bandLabel(j + 1, scale));
  const domain: string[] = [];
  const range: string[] = [];
  const entry = (label: string, color: string) => {
    domain.push(label);
    range.push(color);
  };
  if (points.length > 0) entry(POINTS_LABEL, POINTS_COLOR);
  entry(MEAN_LABEL, MEAN_COLOR);
  if (standard !== undefined) entry(STANDARD_LABEL, STANDARD_COLOR);
  bandLabels.forEach((l, j) => entry(l, BAND_COLORS[j]!));
  const color = (label: string) => ({
    datum: label,
    type: 'nominal' as const,
    scale: { domain, range },
    legend: { title: null, orient: 'right' as const, symbolType: 'square' },
  });

  const xEnc = { field: 'x', type: 'quantitative' as const, title: xLabel, scale: { zero: false, nice: false } };
  const yTitle = { title: yLabel, scale: { zero: false } };
  const layers: unknown[] = [];
  for (let k = BAND_COUNT; k >= 1; k--) {
    layers.push({
      data: { name: 'curve' },
      mark: { type: 'area', opacity: 1 },
      encoding: { x: xEnc, y: { field: `lo${k}`, type: 'quantitative', ...yTitle }, y2: { field: `hi${k}` }, color: color(bandLabels[k - 1]!) },
    });
  }
  if (points.length > 0) {
    layers.push({
      data: { name: 'points' },
      mark: { type: 'point', filled: true, size: 10, opacity: 0.75 },
      encoding: { x: xEnc, y: { field: 'y', type: 'quantitative', ...yTitle }, color: color(POINTS_LABEL) },
    });
  }
  layers.push({
    data: { name: 'curve' },
    mark: { type: 'line', strokeWidth: 2 },
    encoding: { x: xEnc, y: { field: 'mean', type: 'quantitative', ...yTitle }, color: color(MEAN_LABEL) },
  });
  // over the mean: where the two agree, the dashes still show
  if (standard !== undefined) {
    layers.push({
      data: { name: 'curve' },
      mark: { type: 'line', strokeWidth: 1.5, strokeDash: [6, 3] },
      encoding: { x: xEnc, y: { field: 'standard', type: 'quantitative', ...yTitle }, color: color(STANDARD_LABEL) },
    });
  }
  if (trainEnd !== undefined) {
    layers.push({
      data: { values: [{ x: trainEnd, label: 'training data ends' }] },
      mark: { type: 'rule', color: RULE_COLOR, strokeWidth: 1.5, strokeDash: [4, 4] },
      encoding: { x: { field: 'x', type: 'quantitative' } },
    });
    layers.push({
      data: { values: [{ x: trainEnd, label: 'training data ends' }] },
      mark: { type: 'text', align: 'left', baseline: 'top', dx: 5, dy: 4, fontSize: 11, color: RULE_COLOR },
      encoding: { x: { field: 'x', type: 'quantitative' }, y: { value: 0 }, text: { field: 'label' } },
    });
  }

  return {
    $schema: VEGA_LITE_SCHEMA,
    background: 'white',
    padding: 12,
    title: titleOf(title, subtitle),
    width,
    height,
    config: BASE_CONFIG,
    datasets: { curve: curve as unknown as Record<string, number>[], points },
    layer: layers,
  } as unknown as TopLevelSpec;
}
