/**
 * Run the model and keep what a figure needs: the T passes of a classifier (the scatter of
 * softmax inputs and outputs, figure 4) and the summaries of a regression (mean, σ) with the
 * "standard dropout" pass beside them (figure 2). One engine run: the summaries come from the
 * streaming estimators, the passes from a SampleCollector fed the same chunks.
 */
import {
  ClassificationEstimator,
  McuError,
  RegressionEstimator,
  SampleCollector,
  type DecidedTask,
  type Estimator,
  type MaskScope,
  type Mcu,
  type McRunOptions,
  type NamedTensors,
  type StochasticModel,
} from '@mcu/core';

/** The run behind a figure (what its metadata records). */
export interface McRunInfo {
  readonly backend: string;
  readonly executionProvider: string;
  /** MC samples T. */
  readonly samples: number;
  readonly seed: number | null;
  readonly scope: MaskScope;
  readonly chunkSamples: number;
  /** Model precision τ added as τ⁻¹ to the variance; null without one. */
  readonly tau: number | null;
  readonly sites: readonly { readonly name: string; readonly kind: string; readonly rate: number }[];
}

export interface McRegressionSamples {
  readonly task: 'regression';
  readonly output: string;
  readonly rows: number;
  /** Values per row D. */
  readonly width: number;
  /** N·D, row-major. */
  readonly mean: Float64Array;
  readonly variance: Float64Array;
  readonly std: Float64Array;
  /** The deterministic ("standard dropout") pass, N·D; with `standard: true` only. */
  readonly standard?: Float64Array;
  readonly run: McRunInfo;
}

export interface McClassificationSamples {
  readonly task: 'classification';
  readonly output: string;
  readonly rows: number;
  readonly classes: number;
  /** What the output holds: logits (softmax inputs) or probabilities (a network ending in Softmax). */
  readonly holds: 'logits' | 'probabilities';
  /** N·C MC-averaged probabilities. */
  readonly meanProbs: Float64Array;
  readonly predicted: Int32Array;
  readonly entropy: Float64Array;
  readonly mutualInformation: Float64Array;
  readonly variationRatio: Float64Array;
  /** Softmax inputs of every pass, T·N·C sample-major; absent when the output holds probabilities. */
  readonly logits?: Float32Array;
  /** Softmax outputs of every pass, T·N·C sample-major. */
  readonly probs?: Float32Array;
  readonly run: McRunInfo;
}

/** The MC samples of one output, ready to plot. */
export type McSamples = McRegressionSamples | McClassificationSamples;

export interface CollectOptions {
  /** The model output to collect. */
  readonly output: string;
  /** Its task (the caller decides, e.g. by the CLI's task rule). */
  readonly task: DecidedTask;
  /** Classification: what the output holds (default logits). */
  readonly holds?: 'logits' | 'probabilities';
  readonly samples: number;
  readonly seed?: number;
  readonly scope?: MaskScope;
  /** Regression: model precision τ. */
  readonly tau?: number;
  readonly memoryBudgetBytes?: number;
  /** Regression: also run the deterministic pass (the "standard dropout" curve). */
  readonly standard?: boolean;
  /** Classification: keep the T passes (default true; false keeps the summaries only). */
  readonly keepPasses?: boolean;
  /** Most values the passes may hold (SampleCollector's maxValues, default 2^24). */
  readonly maxValues?: number;
  readonly onProgress?: McRunOptions['onProgress'];
  readonly signal?: AbortSignal;
}

/** Softmax of each row of C values (max-subtracted, float64 inside). */
export function softmaxRows(values: Float32Array, C: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let o = 0; o < values.length; o += C) {
    let max = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, values[o + c]!);
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(values[o + c]! - max);
    for (let c = 0; c < C; c++) out[o + c] = Math.exp(values[o + c]! - max) / sum;
  }
  return out;
}

/**
 * Run T passes of `model` on `feeds` and collect `options.output` for a figure. The masks are
 * the engine's (counter-based: the same seed gives the same passes as `mcu predict`).
 */
export async function collectSamples(mcu: Pick<Mcu, 'engine'>, model: StochasticModel, feeds: NamedTensors, options: CollectOptions): Promise<McSamples> {
  const { output, task } = options;
  if (!model.outputs.some((o) => o.name === output)) {
    throw new McuError('E_USAGE', `the model has no output '${output}'; its outputs: ${model.outputs.map((o) => o.name).join(', ')}`);
  }
  if (task !== 'regression' && task !== 'classification') {
    throw new McuError('E_CONFIG', `collectSamples: task must be 'regression' or 'classification', got ${JSON.stringify(task)}`);
  }
  if (task === 'classification' && (options.tau !== undefined || options.standard === true)) {
    throw new McuError(
      'E_CONFIG',
      `collectSamples: ${options.tau !== undefined ? 'tau' : 'standard'} applies to regression outputs; '${output}' is classification`,
    );
  }
  const holds = options.holds ?? 'logits';
  const regression = task === 'regression' ? new RegressionEstimator({ output, ...(options.tau !== undefined ? { tau: options.tau } : {}) }) : undefined;
  const classification = task === 'classification' ? new ClassificationEstimator({ output, outputs: holds }) : undefined;
  const passes =
    task === 'classification' && options.keepPasses !== false
      ? new SampleCollector({ output, ...(options.maxValues !== undefined ? { maxValues: options.maxValues } : {}) })
      : undefined;
  const estimators: Estimator<unknown>[] = [regression ?? classification!, ...(passes ? [passes] : [])];
  const meta = await mcu.engine.run(model, feeds, {
    samples: options.samples,
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.scope !== undefined ? { scope: options.scope } : {}),
    ...(options.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: options.memoryBudgetBytes } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    estimators,
  });
  const run: McRunInfo = {
    backend: meta.backend,
    executionProvider: meta.executionProvider,
    samples: meta.samples,
    seed: meta.seed,
    scope: meta.scope,
    chunkSamples: meta.chunkSamples,
    tau: options.tau ?? null,
    sites: meta.sites.map((s) => ({ name: s.name, kind: s.kind, rate: s.rate })),
  };
  if (regression !== undefined) {
    const r = regression.result();
    const [rows, width] = r.dims;
    let standard: Float64Array | undefined;
    if (options.standard === true) {
      const det = (await mcu.engine.deterministic(model, feeds))[output];
      if (det === undefined || det.data.length !== rows * width) {
        throw new McuError(
          'E_RUNTIME',
          `the deterministic pass returned ${det === undefined ? 'no' : `${det.data.length} values of`} output '${output}', expected ${rows * width}`,
        );
      }
      standard = Float64Array.from(det.data as ArrayLike<number>);
    }
    return { task: 'regression', output, rows, width, mean: r.mean, variance: r.variance, std: r.std, ...(standard ? { standard } : {}), run };
  }
  const c = classification!.result();
  const [rows, classes] = c.dims;
  let logits: Float32Array | undefined;
  let probs: Float32Array | undefined;
  if (passes !== undefined) {
    const values = passes.result().values;
    if (holds === 'logits') {
      logits = values;
      probs = softmaxRows(values, classes);
    } else {
      probs = values;
    }
  }
  return {
    task: 'classification',
    output,
    rows,
    classes,
    holds,
    meanProbs: c.probs,
    predicted: c.predicted,
    entropy: c.entropy,
    mutualInformation: c.mutualInformation,
    variationRatio: c.variationRatio,
    ...(logits ? { logits } : {}),
    ...(probs ? { probs } : {}),
    run,
  };
}
