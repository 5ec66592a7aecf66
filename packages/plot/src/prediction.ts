/**
 * From a prediction to a figure: a saved `mcu predict --format json` result, or live MC
 * samples ({@link collectSamples}), plus the input rows, become a band plot (a regression
 * output with one value per row, over a model input with one feature) or a classification
 * sequence plot. Every option that the figure of the output's task cannot use is refused,
 * never dropped.
 */
import type { TopLevelSpec } from 'vega-lite';
import { McuError, type ClassificationRows, type DecidedTask, type RegressionRows } from '@mcu/core';
import { bandPlotSpec } from './band.js';
import { classSequenceSpec, topClasses } from './classes.js';
import type { McRunInfo, McSamples } from './collect.js';
import { renderPng, renderSvg } from './render.js';
import { finiteNumbers, inputError, nonNegative, record, type Numbers } from './validate.js';

/** One output of a saved predict result (packages/cli/src/io/result.ts writes these). */
/** A saved regression output: @mcu/core's rows (one definition for predict, serve and plot). */
export type SavedRegression = RegressionRows;
/** A saved classification output: @mcu/core's rows. */
export type SavedClassification = ClassificationRows;
export type SavedOutput = SavedRegression | SavedClassification;

/** The JSON `mcu predict --format json` writes: `{ meta, outputs }`. */
export interface SavedPrediction {
  readonly meta: Readonly<Record<string, unknown>> & { readonly samples: number };
  readonly outputs: Readonly<Record<string, SavedOutput>>;
}

/** The input rows the prediction was made for: [N, …] row-major. */
export interface InputRows {
  readonly data: Numbers;
  readonly dims: readonly number[];
  /** Where they came from (a file name), for messages. */
  readonly source?: string;
}

export type PlotInput =
  | { readonly kind: 'result'; readonly result: SavedPrediction; readonly inputs: InputRows /** the result's file, for messages */; readonly source?: string }
  | { readonly kind: 'samples'; readonly samples: McSamples; readonly inputs: InputRows };

export type FigureFormat = 'svg' | 'png';

export interface PlotOptions {
  /** The output to plot (default: the only one). */
  readonly output?: string;
  /** svg (default) or png. */
  readonly format?: FigureFormat;
  /** PNG pixels per spec pixel (default 2). */
  readonly scale?: number;
  // band plots (regression)
  readonly trainEnd?: number;
  readonly sigmaScale?: number;
  /** Draw the "standard dropout" curve (live samples collected with `standard: true`). */
  readonly standard?: boolean;
  readonly points?: { readonly x: Numbers; readonly y: Numbers };
  readonly xLabel?: string;
  readonly yLabel?: string;
  // classification plots
  readonly topK?: number;
  readonly classNames?: readonly string[];
  readonly labels?: readonly string[];
  readonly title?: string;
  readonly subtitle?: string;
  /** More metadata to embed (merged over what the figure records itself). */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** How messages name the options, e.g. the CLI's flags: { trainEnd: '--train-end' }. */
  readonly optionNames?: Readonly<Partial<Record<PlotOptionName, string>>>;
}

export type PlotOptionName = 'output' | 'trainEnd' | 'sigmaScale' | 'standard' | 'points' | 'xLabel' | 'yLabel' | 'topK' | 'classNames' | 'labels' | 'inputs';

/** Options that only a band plot (regression) uses, and those only a classification plot uses. */
export const BAND_OPTIONS: readonly PlotOptionName[] = ['trainEnd', 'sigmaScale', 'standard', 'points', 'xLabel', 'yLabel'];
export const CLASS_OPTIONS: readonly PlotOptionName[] = ['topK', 'classNames', 'labels'];

export type Figure = { readonly format: 'svg'; readonly svg: string } | { readonly format: 'png'; readonly png: Uint8Array };

export interface PredictionFigure {
  readonly output: string;
  readonly task: DecidedTask;
  readonly spec: TopLevelSpec;
  /** What the figure embeds (see render.ts). */
  readonly metadata: Record<string, unknown>;
}

const nameOf = (o: PlotOptions, key: PlotOptionName): string => o.optionNames?.[key] ?? key;
const given = (o: PlotOptions, key: PlotOptionName): boolean => {
  const v = (o as Record<string, unknown>)[key];
  return v !== undefined && v !== false;
};

/**
 * The output to plot among `names`: `requested`, or the only one. Throws E_USAGE naming the
 * outputs when it is missing or ambiguous.
 */
export function chooseOutput(names: readonly string[], requested: string | undefined, options: PlotOptions = {}, where = 'the model'): string {
  const flag = nameOf(options, 'output');
  if (requested !== undefined) {
    if (names.includes(requested)) return requested;
    const file = /\.(svg|png)$/i.test(requested) ? ` (${flag} names a model output; the figure's file is -o FILE)` : '';
    throw new McuError('E_USAGE', `${flag} ${requested}: ${where} has no output '${requested}'; its outputs: ${names.join(', ')}${file}`);
  }
  if (names.length === 1) return names[0]!;
  throw new McuError('E_USAGE', `${where} has ${names.length} outputs (${names.join(', ')}): choose the one to plot with ${flag} NAME`);
}

/**
 * Refuse options that the figure of `task` cannot use: a band plot's (train end, σ scale,
 * standard dropout, data points) on a classification output, top-k on a regression output.
 */
export function checkPlotOptions(task: DecidedTask, output: string, options: PlotOptions, classes?: number): void {
  const wrong = (task === 'regression' ? CLASS_OPTIONS : BAND_OPTIONS).filter((k) => given(options, k));
  if (wrong.length > 0) {
    const names = wrong.map((k) => nameOf(options, k)).join(', ');
    throw new McuError(
      'E_USAGE',
      task === 'classification'
        ? `${names} draw${wrong.length === 1 ? 's' : ''} on a band plot of a regression output, but output '${output}' is classification (a plot of its class probabilities and uncertainty): drop ${wrong.length === 1 ? 'it' : 'them'}`
        : `${names} appl${wrong.length === 1 ? 'ies' : 'y'} to a classification plot, but output '${output}' is regression (a band plot): drop ${wrong.length === 1 ? 'it' : 'them'}`,
    );
  }
  if (task === 'classification' && options.topK !== undefined && classes !== undefined) {
    if (!Number.isSafeInteger(options.topK) || options.topK < 1 || options.topK > classes) {
      throw new McuError('E_USAGE', `${nameOf(options, 'topK')} ${options.topK}: output '${output}' has ${classes} classes; give 1..${classes}`);
    }
  }
}

/** Per-row size of input rows [N, …]. */
const featuresOf = (dims: readonly number[]): number => dims.slice(1).reduce((a, b) => a * b, 1);

/**
 * The x values of a band plot: the inputs must have exactly one feature per row. Throws
 * E_INPUT naming the source and its dims otherwise.
 */
export function bandX(inputs: InputRows, options: PlotOptions = {}): number[] {
  const src = inputs.source !== undefined ? `'${inputs.source}'` : 'the input';
  const dims = inputs.dims;
  const features = featuresOf(dims);
  if (dims.length === 0 || features !== 1) {
    throw new McuError(
      'E_INPUT',
      `a band plot needs exactly one input feature (its x axis), but ${src} has ${features} per row (dims [${dims.join(', ')}]); ` +
        `give ${nameOf(options, 'inputs')} a single column of x values, or plot a classification output`,
    );
  }
  return finiteNumbers(`${src}`, inputs.data, dims[0]);
}

const rowsText = (n: number) => `${n} row${n === 1 ? '' : 's'}`;

function checkRows(expected: number, inputs: InputRows, what: string, options: PlotOptions): void {
  const n = inputs.dims[0] ?? 0;
  if (n !== expected) {
    const src = inputs.source !== undefined ? `'${inputs.source}'` : 'the input';
    throw new McuError(
      'E_INPUT',
      `${what} holds ${rowsText(expected)}, but ${nameOf(options, 'inputs')} ${src} has ${rowsText(n)}: give the inputs the prediction was made for`,
    );
  }
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
}

/** The subtitle line of the run: T, seed, mask scope, τ, backend. */
export function runLine(run: Partial<McRunInfo> & { samples: number }, extra: string[] = []): string {
  const parts = [`T = ${run.samples} MC dropout samples`];
  if (run.seed !== undefined && run.seed !== null) parts.push(`seed ${run.seed}`);
  if (run.scope !== undefined) parts.push(`mask scope ${run.scope}`);
  if (run.tau !== undefined && run.tau !== null) parts.push(`τ = ${fmt(run.tau)}`);
  if (run.backend !== undefined) parts.push(run.executionProvider !== undefined ? `${run.backend} (${run.executionProvider})` : run.backend);
  return [...parts, ...extra].join(' · ');
}

function runOfMeta(meta: SavedPrediction['meta']): Partial<McRunInfo> & { samples: number } {
  const str = (k: string) => (typeof meta[k] === 'string' ? (meta[k] as string) : undefined);
  const num = (k: string) => (typeof meta[k] === 'number' ? (meta[k] as number) : undefined);
  const scope = str('maskScope');
  return {
    samples: meta.samples,
    ...(num('seed') !== undefined ? { seed: num('seed')! } : {}),
    ...(scope === 'sample' || scope === 'point' ? { scope } : {}),
    ...(num('tau') !== undefined ? { tau: num('tau')! } : {}),
    ...(str('backend') !== undefined ? { backend: str('backend')! } : {}),
    ...(str('executionProvider') !== undefined ? { executionProvider: str('executionProvider')! } : {}),
  };
}

/** The spec (and metadata) of the figure of a prediction; see {@link plotPrediction}. */
export function predictionSpec(input: PlotInput, options: PlotOptions = {}): PredictionFigure {
  const inp = record('plot input', input) as unknown as PlotInput;
  if (inp.kind !== 'result' && inp.kind !== 'samples') {
    throw inputError(`plot input: kind must be 'result' or 'samples', got ${JSON.stringify((inp as { kind?: unknown }).kind)}`);
  }
  record('plot input: inputs', inp.inputs);
  const fromFile = inp.kind === 'result' ? inp.source : undefined;
  const where = inp.kind === 'result' ? (fromFile !== undefined ? `'${fromFile}'` : 'the result') : 'the samples';
  const names = inp.kind === 'result' ? Object.keys(inp.result.outputs) : [inp.samples.output];
  const output = chooseOutput(names, options.output, options, where);
  const run = inp.kind === 'result' ? runOfMeta(inp.result.meta) : inp.samples.run;
  const saved = inp.kind === 'result' ? inp.result.outputs[output]! : undefined;
  const live = inp.kind === 'samples' ? inp.samples : undefined;
  const task = saved?.task ?? live!.task;
  const what = inp.kind === 'result' ? `output '${output}' of ${where}` : `output '${output}'`;
  const line = options.subtitle ?? runLine(run, fromFile !== undefined ? [`from ${fromFile}`] : []);
  const metadata: Record<string, unknown> = {
    output,
    task,
    ...(fromFile !== undefined ? { result: fromFile } : {}),
    run: inp.kind === 'result' ? inp.result.meta : live!.run,
  };

  if (task === 'regression') {
    checkPlotOptions(task, output, options);
    const s = live as Extract<McSamples, { task: 'regression' }> | undefined;
    const width = saved !== undefined && saved.task === 'regression' ? (saved.mean[0]?.length ?? 0) : s!.width;
    if (width !== 1) {
      throw new McuError('E_INPUT', `a band plot draws one value per row, but ${what} has ${width} values per row: plot a model output with one value per row`);
    }
    let mean: number[];
    let std: number[];
    let standard: number[] | undefined;
    if (saved !== undefined && saved.task === 'regression') {
      mean = saved.mean.map((r) => r[0]!);
      std = saved.std.map((r) => r[0]!);
      if (options.standard === true) {
        throw new McuError(
          'E_USAGE',
          `${nameOf(options, 'standard')} draws the deterministic ("standard dropout") pass of the model, which a saved result does not hold: plot the model itself`,
        );
      }
    } else {
      mean = Array.from(s!.mean);
      std = Array.from(s!.std);
      if (options.standard === true) {
        if (s!.standard === undefined)
          throw new McuError('E_CONFIG', `${nameOf(options, 'standard')}: the samples hold no deterministic pass; collect them with standard: true`);
        standard = Array.from(s!.standard);
      }
    }
    checkRows(mean.length, inp.inputs, what, options);
    const x = bandX(inp.inputs, options);
    const spec = bandPlotSpec({
      x,
      mean,
      std,
      ...(standard ? { standard } : {}),
      ...(options.points ? { points: options.points } : {}),
      ...(options.trainEnd !== undefined ? { trainEnd: options.trainEnd } : {}),
      ...(options.sigmaScale !== undefined ? { sigmaScale: options.sigmaScale } : {}),
      title: options.title ?? `'${output}': MC dropout predictive mean and uncertainty`,
      subtitle: line,
      xLabel: options.xLabel ?? 'x',
      yLabel: options.yLabel ?? output,
    });
    const figure = {
      bands: [1, 2, 3, 4].map((k) => (k * (options.sigmaScale ?? 1)) / 2),
      ...(options.trainEnd !== undefined ? { trainEnd: options.trainEnd } : {}),
      standard: standard !== undefined,
      points: options.points ? options.points.x.length : 0,
      rows: x.length,
    };
    return { output, task, spec, metadata: { ...metadata, figure, ...options.metadata } };
  }

  // classification
  let N: number;
  let C: number;
  let base: { meanProbs: number[][]; predicted: number[]; entropy: number[]; mutualInformation: number[]; variationRatio: number[] };
  let passes: { logits?: Float32Array; probs?: Float32Array } = {};
  if (saved !== undefined && saved.task === 'classification') {
    N = saved.probs.length;
    C = saved.probs[0]?.length ?? 0;
    base = {
      meanProbs: saved.probs.map((r) => [...r]),
      predicted: [...saved.predicted],
      entropy: [...saved.entropy],
      mutualInformation: [...saved.mutualInformation],
      variationRatio: [...saved.variationRatio],
    };
  } else {
    const s = live as Extract<McSamples, { task: 'classification' }>;
    N = s.rows;
    C = s.classes;
    base = {
      meanProbs: Array.from({ length: N }, (_, i) => Array.from(s.meanProbs.subarray(i * C, (i + 1) * C))),
      predicted: Array.from(s.predicted),
      entropy: Array.from(s.entropy),
      mutualInformation: Array.from(s.mutualInformation),
      variationRatio: Array.from(s.variationRatio),
    };
    passes = { ...(s.logits ? { logits: s.logits } : {}), ...(s.probs ? { probs: s.probs } : {}) };
  }
  checkPlotOptions(task, output, options, C);
  checkRows(N, inp.inputs, what, options);
  const k = options.topK ?? Math.min(3, C);
  const spec = classSequenceSpec({
    T: run.samples,
    N,
    C,
    ...base,
    ...passes,
    topK: k,
    ...(options.labels ? { labels: options.labels } : {}),
    ...(options.classNames ? { classNames: options.classNames } : {}),
    title: options.title ?? `'${output}': MC dropout classification of ${N} input${N === 1 ? '' : 's'}`,
    subtitle: line,
  });
  const figure = { classes: topClasses(base.meanProbs, k), topK: k, passes: passes.probs !== undefined, rows: N };
  return { output, task, spec, metadata: { ...metadata, figure, ...options.metadata } };
}

/**
 * Turn a prediction into a figure: SVG text (default) or PNG bytes, with the run's metadata
 * embedded. Bad input is an McuError (E_INPUT / E_USAGE) naming what was expected.
 */
export async function plotPrediction(input: PlotInput, options: PlotOptions = {}): Promise<Figure> {
  const format = options.format ?? 'svg';
  if (format !== 'svg' && format !== 'png') throw new McuError('E_CONFIG', `plotPrediction: format must be 'svg' or 'png', got ${JSON.stringify(format)}`);
  const { spec, metadata } = predictionSpec(input, options);
  if (format === 'png') return { format, png: await renderPng(spec, { metadata, ...(options.scale !== undefined ? { scale: options.scale } : {}) }) };
  return { format, svg: await renderSvg(spec, { metadata }) };
}

// ---------------------------------------------------------------------------------------
// Reading a saved result
// ---------------------------------------------------------------------------------------

/**
 * Check that `value` (parsed JSON) is a result of `mcu predict --format json` and return it
 * typed. Anything else (an `mcu evaluate` report, a truncated file, rows of unequal length)
 * is E_INPUT naming `source` and the first thing wrong.
 */
export function parseSavedPrediction(value: unknown, source = 'the result'): SavedPrediction {
  const not = (why: string) =>
    inputError(
      `${source} is not a result of 'mcu predict --format json' (${why}); write one with mcu predict MODEL --input FILE --format json -o ${source.endsWith('.json') ? source : 'result.json'}`,
    );
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw not(`expected a JSON object with "meta" and "outputs", got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  const v = value as Record<string, unknown>;
  const meta = v['meta'];
  const outputs = v['outputs'];
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) throw not(`no "meta" object; its keys: ${Object.keys(v).join(', ') || 'none'}`);
  if (outputs === null || typeof outputs !== 'object' || Array.isArray(outputs) || Object.keys(outputs).length === 0)
    throw not(`no "outputs" object; its keys: ${Object.keys(v).join(', ') || 'none'}`);
  const samples = (meta as Record<string, unknown>)['samples'];
  if (typeof samples !== 'number' || !Number.isSafeInteger(samples) || samples < 1)
    throw not(`"meta.samples" should be the number of MC samples, got ${JSON.stringify(samples)}`);
  const out: Record<string, SavedOutput> = {};
  for (const [name, o] of Object.entries(outputs as Record<string, unknown>)) {
    const at = `${source}: outputs.${name}`;
    if (o === null || typeof o !== 'object' || Array.isArray(o)) throw not(`"outputs.${name}" is not an object`);
    const r = o as Record<string, unknown>;
    const rows = (key: string, width?: number, atLeast = 1): number[][] => {
      const a = r[key];
      if (!Array.isArray(a) || a.length === 0)
        throw inputError(`${at}.${key}: expected rows of numbers (one per input), got ${Array.isArray(a) ? 'no rows' : JSON.stringify(a)?.slice(0, 40)}`);
      const w = width ?? (Array.isArray(a[0]) ? a[0].length : -1);
      if (w < atLeast) throw inputError(`${at}.${key}[0]: expected a row of at least ${atLeast} number${atLeast === 1 ? '' : 's'}`);
      return a.map((row, i) => finiteNumbers(`${at}.${key}[${i}]`, row, w));
    };
    if (r['task'] === 'regression') {
      const mean = rows('mean');
      const w = mean[0]!.length;
      const variance = rows('variance', w);
      const std = rows('std', w);
      if (variance.length !== mean.length || std.length !== mean.length) {
        throw inputError(`${at}: mean, variance and std should have one row per input; they have ${mean.length}, ${variance.length} and ${std.length}`);
      }
      std.forEach((row, i) => nonNegative(`${at}.std[${i}]`, row));
      out[name] = { task: 'regression', mean, variance, std };
    } else if (r['task'] === 'classification') {
      const probs = rows('probs', undefined, 2);
      const n = probs.length;
      const C = probs[0]!.length;
      const predicted = finiteNumbers(`${at}.predicted`, r['predicted'], n);
      predicted.forEach((p, i) => {
        if (!Number.isInteger(p) || p < 0 || p >= C) throw inputError(`${at}.predicted[${i}]: expected a class in 0..${C - 1}, got ${p}`);
      });
      out[name] = {
        task: 'classification',
        probs,
        predicted,
        entropy: nonNegative(`${at}.entropy`, r['entropy'], n),
        mutualInformation: finiteNumbers(`${at}.mutualInformation`, r['mutualInformation'], n),
        variationRatio: nonNegative(`${at}.variationRatio`, r['variationRatio'], n),
      };
    } else {
      throw not(`"outputs.${name}.task" should be "regression" or "classification", got ${JSON.stringify(r['task'])}`);
    }
  }
  return { meta: meta as SavedPrediction['meta'], outputs: out };
}
