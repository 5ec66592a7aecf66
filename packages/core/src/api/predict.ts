/**
 * `predict`: the predictive distribution of every model output in one call — the task of each
 * output (README "Tasks"), τ, row batches, the engine run and the estimators.
 */
import type { RunMeta } from '../engine/engine.js';
import { McuError } from '../errors.js';
import { ClassificationEstimator } from '../estimators/classification.js';
import { RegressionEstimator } from '../estimators/regression.js';
import { acquireModel, rowCount, sliceRows, toFeeds, type Inputs, type ModelInput } from './inputs.js';
import { checkOptionKeys, engineOf, metaOf, settingsOf, tasksOf, tauOf, type ResultMeta, type ApiRunOptions } from './run.js';
import type { OutputTask } from './tasks.js';

/** Options of {@link predict}. */
export interface PredictOptions extends ApiRunOptions {
  /**
   * Input rows per engine run (default: all rows in one run). Masks are drawn per global row,
   * so the numbers are those of one run over all rows; only memory changes. With `tolerance`
   * each batch stops on its own.
   */
  readonly batchSize?: number;
}

/**
 * A regression output. Arrays are Float64Array, row-major with dims [N, D]
 * (D = values per row = prod(outputDims)): value j of row i is at i·D + j.
 */
export interface RegressionPrediction {
  readonly task: 'regression';
  /** [N, D]. */
  readonly dims: readonly [number, number];
  /** The output's dims per row. */
  readonly outputDims: readonly number[];
  /** Predictive mean (eq. 6). */
  readonly mean: Float64Array;
  /** Predictive variance: the biased sample variance + τ⁻¹. */
  readonly variance: Float64Array;
  /** sqrt(variance). */
  readonly std: Float64Array;
  /** Monte Carlo standard error of the mean (Infinity when T < 2). */
  readonly standardError: Float64Array;
}

/**
 * A classification output. `probs` is Float64Array row-major [N, C] (class c of row i at
 * i·C + c); the per-row arrays have length N.
 */
export interface ClassificationPrediction {
  readonly task: 'classification';
  /** [N, C]. */
  readonly dims: readonly [number, number];
  /** MC-averaged class probabilities p̄. */
  readonly probs: Float64Array;
  /** Monte Carlo standard error of each p̄ entry. */
  readonly probsStandardError: Float64Array;
  /** argmax_c p̄ (lowest class on ties). */
  readonly predicted: Int32Array;
  /** Predictive entropy H[p̄] (nats). */
  readonly entropy: Float64Array;
  /** Mutual information (BALD), nats. */
  readonly mutualInformation: Float64Array;
  /** 1 − f_mode / T. */
  readonly variationRatio: Float64Array;
}

/** One output's prediction. */
export type OutputPrediction = RegressionPrediction | ClassificationPrediction;

/** What {@link predict} returns: each output's prediction by name, and how it was made. */
export interface PredictResult {
  readonly outputs: Record<string, OutputPrediction>;
  readonly meta: ResultMeta;
}

function concat<A extends Float64Array | Int32Array>(parts: readonly A[], Ctor: new (n: number) => A): A {
  if (parts.length === 1) return parts[0]!;
  const out = new Ctor(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The batches' predictions of one output, as one. */
function join(parts: readonly OutputPrediction[]): OutputPrediction {
  const first = parts[0]!;
  const rows = parts.reduce((a, p) => a + p.dims[0], 0);
  if (first.task === 'regression') {
    const rs = parts as readonly RegressionPrediction[];
    const f = (k: 'mean' | 'variance' | 'std' | 'standardError') =>
      concat(
        rs.map((r) => r[k]),
        Float64Array,
      );
    return {
      task: 'regression',
      dims: [rows, first.dims[1]],
      outputDims: first.outputDims,
      mean: f('mean'),
      variance: f('variance'),
      std: f('std'),
      standardError: f('standardError'),
    };
  }
  const cs = parts as readonly ClassificationPrediction[];
  const f = (k: 'probs' | 'probsStandardError' | 'entropy' | 'mutualInformation' | 'variationRatio') =>
    concat(
      cs.map((c) => c[k]),
      Float64Array,
    );
  return {
    task: 'classification',
    dims: [rows, first.dims[1]],
    probs: f('probs'),
    probsStandardError: f('probsStandardError'),
    predicted: concat(
      cs.map((c) => c.predicted),
      Int32Array,
    ),
    entropy: f('entropy'),
    mutualInformation: f('mutualInformation'),
    variationRatio: f('variationRatio'),
  };
}

/** One estimator per output, by its task (a softmax output holds probabilities, anything else logits). */
function estimatorsOf(tasks: readonly OutputTask[], tau: number | undefined): Map<string, RegressionEstimator | ClassificationEstimator> {
  const m = new Map<string, RegressionEstimator | ClassificationEstimator>();
  for (const out of tasks) {
    m.set(
      out.name,
      out.task === 'classification'
        ? new ClassificationEstimator({ output: out.name, outputs: out.holds ?? 'logits' })
        : new RegressionEstimator({ output: out.name, ...(tau !== undefined ? { tau } : {}) }),
    );
  }
  return m;
}

function predictionOf(est: RegressionEstimator | ClassificationEstimator): OutputPrediction {
  if (est instanceof RegressionEstimator) {
    const r = est.result();
    return { task: 'regression', dims: r.dims, outputDims: r.outputDims, mean: r.mean, variance: r.variance, std: r.std, standardError: r.standardError };
  }
  const c = est.result();
  return {
    task: 'classification',
    dims: c.dims,
    probs: c.probs,
    probsStandardError: c.probsStandardError,
    predicted: c.predicted,
    entropy: c.entropy,
    mutualInformation: c.mutualInformation,
    variationRatio: c.variationRatio,
  };
}

/**
 * Monte Carlo dropout predictions of every model output, in one call:
 *
 * ```ts
 * const { outputs } = await predict('model.onnx', [[0.1], [0.2]], { mcu: createMcu({ modules: [onnxModule] }), tau: 50 });
 * ```
 *
 * `model` is a loaded model or where to load it from with `options.mcu` (see {@link ModelInput});
 * `inputs` are rows by input name or, for a one-input model, that input's rows (see {@link Inputs}).
 * Each output's task follows README "Tasks" (`options.task`); regression variances add τ⁻¹
 * (`options.tau` or `options.fitTau`). Failures are McuErrors with a code (E_USAGE for a task or
 * τ that cannot apply, E_INPUT for rows that do not fit the model, E_CONFIG for bad options).
 */
export async function predict(model: ModelInput, inputs: Inputs, options: PredictOptions = {}): Promise<PredictResult> {
  checkOptionKeys(options, 'predict', ['batchSize']);
  const s = settingsOf(options);
  if (options.batchSize !== undefined && !(Number.isInteger(options.batchSize) && options.batchSize >= 1)) {
    throw new McuError('E_CONFIG', `batchSize must be an integer ≥ 1, got ${options.batchSize}`);
  }
  const engine = engineOf(options.mcu);
  const { model: m, owned } = await acquireModel(model, options.mcu, options.load, 'predict');
  try {
    const feeds = toFeeds(m, inputs);
    const rows = rowCount(feeds);
    const tasks = await tasksOf(engine, m, feeds, options.task, undefined, options.wording?.task);
    const { tau, fitted } = await tauOf(engine, m, tasks, options, s);
    const batch = options.batchSize !== undefined ? Math.min(options.batchSize, rows) : rows;
    const batches = Math.ceil(rows / batch);
    const metas: RunMeta[] = [];
    const parts = new Map<string, OutputPrediction[]>(tasks.map((t) => [t.name, []]));
    for (let first = 0, k = 0; first < rows; first += batch, k++) {
      const n = Math.min(batch, rows - first);
      const estimators = estimatorsOf(tasks, tau);
      metas.push(
        await engine.run(m, batch === rows ? feeds : sliceRows(feeds, first, n), {
          samples: s.samples,
          seed: s.seed,
          scope: s.scope,
          // point-scope masks are drawn by global row index, so batches change no mask
          firstRow: first,
          ...(s.tolerance !== undefined ? { tolerance: s.tolerance } : {}),
          ...(s.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: s.memoryBudgetBytes } : {}),
          ...(s.signal !== undefined ? { signal: s.signal } : {}),
          ...(options.sampler !== undefined ? { sampler: options.sampler } : {}),
          ...(options.reduceInGraph !== undefined ? { reduceInGraph: options.reduceInGraph } : {}),
          ...(options.onProgress !== undefined ? { onProgress: (e) => options.onProgress!({ ...e, batch: k, batches }) } : {}),
          estimators: [...estimators.values()],
        }),
      );
      for (const [name, est] of estimators) parts.get(name)!.push(predictionOf(est));
    }
    const outputs: Record<string, OutputPrediction> = {};
    for (const [name, p] of parts) outputs[name] = join(p);
    return { outputs, meta: metaOf(m, s, metas, tasks, tau, fitted, options.batchSize !== undefined ? { size: batch } : undefined, [], options.wording) };
  } finally {
    if (owned) await m.dispose();
  }
}
