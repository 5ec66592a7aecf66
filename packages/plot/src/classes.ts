/**
 * Classification over a sequence of inputs (the paper's figure 4: twelve images of a "1",
 * rotated step by step). With the T passes themselves: two scatter panels, the softmax INPUT
 * (the logits) and the softmax OUTPUT (the probabilities) of each pass for the top-k classes,
 * x = input index, one colour per class. Without them (a saved result keeps only summaries):
 * the MC-averaged probability of each top-k class. Below, per input: predictive entropy,
 * mutual information and the variation ratio, with the predicted class under each index.
 *
 * The top-k classes are those with the largest mean probability averaged over the sequence.
 */
import type { TopLevelSpec } from 'vega-lite';
import { BASE_CONFIG, CATEGORY_COLORS, MEASURE_COLORS, VEGA_LITE_SCHEMA, titleOf } from './theme.js';
import { finiteNumbers, inputError, integerIn, nonNegative, optionalText, record, texts, type Numbers } from './validate.js';

export interface ClassSequenceData {
  /** MC samples behind the summaries (and the number of passes in `logits` / `probs`). */
  readonly T: number;
  /** Inputs in the sequence. */
  readonly N: number;
  /** Classes. */
  readonly C: number;
  /** Softmax inputs of every pass, T·N·C sample-major: value (t, i, c) at (t·N + i)·C + c. */
  readonly logits?: Numbers;
  /** Softmax outputs of every pass, same layout. */
  readonly probs?: Numbers;
  /** MC-averaged probabilities: N rows of C. */
  readonly meanProbs: readonly Numbers[];
  /** Predicted class per input (argmax of meanProbs). */
  readonly predicted: Numbers;
  readonly entropy: Numbers;
  readonly mutualInformation: Numbers;
  readonly variationRatio: Numbers;
  /** A label per input (default: its index). */
  readonly labels?: readonly string[];
  /** A name per class (default: its index). */
  readonly classNames?: readonly string[];
  /** How many classes to draw (default 3, at most C). */
  readonly topK?: number;
  readonly title?: string;
  readonly subtitle?: string;
}

export const DEFAULT_TOP_K = 3;
/** Passes × inputs × classes above which the scatter is refused (the SVG would be huge). */
export const MAX_SCATTER_POINTS = 500_000;

const PANEL_WIDTH = 380;
const PANEL_HEIGHT = 240;

/** The k classes with the largest mean probability over the sequence (ties: the lower index). */
export function topClasses(meanProbs: readonly (readonly number[])[], k: number): number[] {
  const C = meanProbs[0]?.length ?? 0;
  const avg = Array.from({ length: C }, (_, c) => meanProbs.reduce((s, row) => s + row[c]!, 0) / meanProbs.length);
  return avg
    .map((p, c) => [p, c] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, k)
    .map(([, c]) => c);
}

/** A class's dodge inside an input's slot, so that the classes' points stand side by side. */
const dodge = (rank: number, k: number): number => (k === 1 ? 0 : ((rank - (k - 1) / 2) / k) * 0.6);

/**
 * The Vega-Lite spec of a classification sequence. Its data sets are named `logits` and
 * `probs` (T·N·k points each, when given), `meanProbs` (N·k) and `uncertainty` (3·N).
 * Throws McuError('E_INPUT') on sizes that disagree with T, N, C or values that are not finite.
 */
export function classSequenceSpec(data: ClassSequenceData): TopLevelSpec {
  const d = record('classification plot data', data) as unknown as ClassSequenceData;
  const N = integerIn('classification plot: N', d.N, 1, 1_000_000);
  const C = integerIn('classification plot: C', d.C, 2, 1_000_000);
  const T = integerIn('classification plot: T', d.T, 1, Number.MAX_SAFE_INTEGER);
  if (!Array.isArray(d.meanProbs)) throw inputError(`classification plot: meanProbs: expected ${N} rows of ${C} probabilities`);
  if (d.meanProbs.length !== N) throw inputError(`classification plot: meanProbs: expected ${N} rows (one per input), got ${d.meanProbs.length}`);
  const meanProbs = d.meanProbs.map((row, i) => nonNegative(`classification plot: meanProbs[${i}]`, row, C));
  const predicted = finiteNumbers('classification plot: predicted', d.predicted, N);
  predicted.forEach((p, i) => {
    if (!Number.isInteger(p) || p < 0 || p >= C) throw inputError(`classification plot: predicted[${i}]: expected a class in 0..${C - 1}, got ${p}`);
  });
  const entropy = nonNegative('classification plot: entropy', d.entropy, N);
  const mi = finiteNumbers('classification plot: mutualInformation', d.mutualInformation, N);
  const vr = nonNegative('classification plot: variationRatio', d.variationRatio, N);
  const k = d.topK === undefined ? Math.min(DEFAULT_TOP_K, C) : integerIn('classification plot: topK', d.topK, 1, C);
  const labels = d.labels === undefined ? Array.from({ length: N }, (_, i) => String(i)) : texts('classification plot: labels', d.labels, N);
  const names = d.classNames === undefined ? Array.from({ length: C }, (_, c) => String(c)) : texts('classification plot: classNames', d.classNames, C);
  const title = optionalText('classification plot: title', d.title) ?? 'MC dropout: classification over a sequence of inputs';
  const subtitle = optionalText('classification plot: subtitle', d.subtitle);
  const size = T * N * C;
  const passes = (what: 'logits' | 'probs'): number[] | undefined => {
    const v = d[what];
    if (v === undefined) return undefined;
    if (T * N * k > MAX_SCATTER_POINTS) {
      throw inputError(
        `classification plot: ${what}: ${T} passes × ${N} inputs × ${k} classes = ${T * N * k} points exceeds ${MAX_SCATTER_POINTS}; draw fewer passes (T) or classes (topK)`,
      );
    }
    return finiteNumbers(`classification plot: ${what} (T·N·C = ${T}·${N}·${C})`, v, size);
  };
  const logits = passes('logits');
  const probs = passes('probs');

  const top = topClasses(meanProbs, k);
  const className = (c: number) => `class ${names[c]}`;
  const classDomain = top.map(className);
  const classColor = {
    field: 'class',
    type: 'nominal' as const,
    title: `top ${k} classes`,
    legend: { symbolOpacity: 1 },
    scale: { domain: classDomain, range: top.map((_, r) => CATEGORY_COLORS[r % CATEGORY_COLORS.length]!) },
  };
  const scatter = (values: number[]) => {
    const rows: { x: number; v: number; class: string }[] = [];
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < N; i++) {
        top.forEach((c, r) => rows.push({ x: i + dodge(r, k), v: values[(t * N + i) * C + c]!, class: className(c) }));
      }
    }
    return rows;
  };
  const xTicks = Array.from({ length: N }, (_, i) => i);
  const labelLookup = (lines: string[][]) => `${JSON.stringify(lines)}[datum.value]`;
  const xAxis = (withPrediction: boolean) => ({
    field: 'x',
    type: 'quantitative' as const,
    title: withPrediction ? 'input (predicted class below)' : 'input',
    scale: { domain: [-0.5, N - 0.5], nice: false, zero: false },
    axis: {
      values: xTicks,
      grid: false,
      // every input gets its label while they fit; beyond that Vega drops overlapping ones
      labelOverlap: N > 30,
      labelExpr: labelLookup(labels.map((l, i) => (withPrediction ? [l, `→ ${names[predicted[i]!]}`] : [l]))),
    },
  });
  // one scatter alone (a network ending in Softmax has no logits to show) takes the full width
  const scatterWidth = logits !== undefined && probs !== undefined ? PANEL_WIDTH : 2 * PANEL_WIDTH;
  const scatterPanel = (name: 'logits' | 'probs', yTitle: string, title: string) => ({
    title,
    width: scatterWidth,
    height: PANEL_HEIGHT,
    data: { name },
    mark: { type: 'point', filled: true, size: 14, opacity: T > 200 ? 0.25 : 0.5 },
    encoding: {
      x: xAxis(false),
      y: { field: 'v', type: 'quantitative', title: yTitle, scale: name === 'probs' ? { domain: [0, 1] } : { zero: false } },
      color: classColor,
    },
  });

  const datasets: Record<string, unknown[]> = {};
  const upper: unknown[] = [];
  if (logits !== undefined) {
    datasets['logits'] = scatter(logits);
    upper.push(scatterPanel('logits', 'logit', `softmax input, ${T} passes`));
  }
  if (probs !== undefined) {
    datasets['probs'] = scatter(probs);
    upper.push(scatterPanel('probs', 'probability', `softmax output, ${T} passes`));
  }
  if (upper.length === 0) {
    datasets['meanProbs'] = meanProbs.flatMap((row, i) => top.map((c) => ({ x: i, v: row[c]!, class: className(c) })));
    upper.push({
      title: `MC-averaged probability (T = ${T})`,
      width: 2 * PANEL_WIDTH,
      height: PANEL_HEIGHT,
      data: { name: 'meanProbs' },
      mark: { type: 'line', point: { filled: true, size: 40 }, strokeWidth: 2 },
      encoding: {
        x: xAxis(false),
        y: { field: 'v', type: 'quantitative', title: 'mean probability', scale: { domain: [0, 1] } },
        color: classColor,
      },
    });
  }
  const measures = ['predictive entropy', 'mutual information', 'variation ratio'];
  datasets['uncertainty'] = [entropy, mi, vr].flatMap((values, m) => values.map((v, i) => ({ x: i, v, measure: measures[m]! })));
  const lower = {
    title: 'uncertainty per input',
    width: upper.length === 1 ? 2 * PANEL_WIDTH : 2 * PANEL_WIDTH + 60,
    height: 170,
    data: { name: 'uncertainty' },
    mark: { type: 'line', point: { filled: true, size: 40 }, strokeWidth: 2 },
    encoding: {
      x: xAxis(true),
      y: { field: 'v', type: 'quantitative', title: 'nats / ratio', scale: { zero: true } },
      color: { field: 'measure', type: 'nominal', title: 'uncertainty', scale: { domain: measures, range: [...MEASURE_COLORS] } },
    },
  };

  return {
    $schema: VEGA_LITE_SCHEMA,
    background: 'white',
    padding: 12,
    title: titleOf(title, subtitle),
    config: { ...BASE_CONFIG, concat: { spacing: 24 } },
    datasets,
    vconcat: [upper.length === 1 ? upper[0] : { hconcat: upper, resolve: { scale: { color: 'shared' } } }, lower],
    resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
  } as unknown as TopLevelSpec;
}
