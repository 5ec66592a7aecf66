/**
 * Scoring rows of a pool. Every block — rows [b·B, min((b+1)·B, poolRows)) — is one engine
 * run with T samples, the seed, point-scope masks drawn by global row index (`firstRow`) and
 * samples per backend call fixed by (model, B, scope, T) alone, so a row's score is
 * bit-identical whichever shard, thread or machine scores it.
 *
 * Heuristics (higher = more informative, README "Heuristics"):
 * - bald: the mutual information I[y; ω | x] = H[p̄] − (1/T) Σ_t H[p_t] (nats);
 * - entropy: the predictive entropy H[p̄] (nats);
 * - variation-ratio: 1 − f_mode / T (f_mode: samples voting for the modal class);
 * - margin: 1 − (p̄_(1) − p̄_(2)), the two largest mean class probabilities — higher when the
 *   top two classes are closer, so higher is more uncertain like the others;
 * - std: the regression predictive standard deviation sqrt(var + τ⁻¹), averaged over the D
 *   values of a multi-value output;
 * - batchbald: the shard keeps its top-m rows by BALD with their per-sample class
 *   probabilities; the merge runs the greedy BatchBALD over all shards' candidates.
 */
import { onnxModule } from '@mcu/backend-onnx/module';
import {
  ClassificationEstimator,
  chunkSamplesFor,
  createMcu,
  isMcuError,
  McuError,
  RegressionEstimator,
  SampleCollector,
  softmaxInto,
  tasksOf,
  toTensor,
  type Mcu,
  type NamedTensors,
  type OutputTask,
  type StochasticModel,
  type TensorSpec,
} from '@mcu/core';
import { baldOf } from './batchbald.js';
import { CLASSIFICATION_HEURISTICS, resolveScoreOptions, type ResolvedScoreOptions } from './options.js';
import { openPool } from './pool/index.js';
import { blocksOf, type RowRange } from './shards.js';
import { TopK } from './topk.js';
import type { Candidate, ModelSpec, Pool, PoolSpec, ScoreContext, ScoreOptions, ShardResult } from './types.js';

/**
 * The memory budget from which samples per backend call follow (core's default, 256 MiB). It
 * is fixed here, not taken from an Mcu's configuration, so that every worker splits T the
 * same way whatever its Mcu says.
 */
export const ACQUIRE_MEMORY_BUDGET_BYTES = 256 * 1024 * 1024;

/** An Mcu with the ONNX backend for a {@link ModelSpec} (its backend and backend options). */
export function mcuFor(model: ModelSpec): Mcu {
  const backend = model.backend ?? 'onnx';
  return createMcu({
    backends: [backend],
    ...(model.backendOptions !== undefined ? { backendOptions: { [backend]: model.backendOptions } } : {}),
    modules: [onnxModule],
  });
}

const perRowOf = (spec: TensorSpec): number | undefined => {
  const rest = spec.dims.slice(1);
  return rest.every((d) => typeof d === 'number' && Number.isInteger(d) && d > 0) ? (rest as number[]).reduce((a, b) => a * b, 1) : undefined;
};

const showDims = (spec: TensorSpec): string => `[${spec.dims.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? 'N' : '?')).join(', ')}]`;

/** The output to score: `model.output`, else the only one. */
function outputOf(m: StochasticModel, spec: ModelSpec): string {
  const names = m.outputs.map((o) => o.name);
  if (spec.output !== undefined) {
    if (!names.includes(spec.output)) throw new McuError('E_CONFIG', `the model has no output '${spec.output}'; its outputs: ${names.join(', ')}`);
    return spec.output;
  }
  if (names.length !== 1) throw new McuError('E_CONFIG', `the model has ${names.length} outputs (${names.join(', ')}): say which one to score (output)`);
  return names[0]!;
}

/**
 * The output's task and whether the heuristic fits it: mcu's task rule first (a network ending
 * in Softmax is classification, one value per row regression); where that rule cannot tell
 * (several values, no softmax), the heuristic says it (a classification heuristic reads them as
 * logits, std as D regression values).
 */
async function taskFor(mcu: Mcu, m: StochasticModel, feeds: NamedTensors, output: string, heuristic: string): Promise<OutputTask> {
  let task: OutputTask;
  try {
    [task] = (await tasksOf(mcu.engine, m, feeds, 'auto', [output])) as [OutputTask];
  } catch (e) {
    if (!(isMcuError(e) && e.code === 'E_USAGE')) throw e;
    [task] = (await tasksOf(mcu.engine, m, feeds, heuristic === 'std' ? 'regression' : 'classification', [output])) as [OutputTask];
  }
  const classification = CLASSIFICATION_HEURISTICS.includes(heuristic as never);
  if (classification && task.task !== 'classification') {
    throw new McuError(
      'E_CONFIG',
      `heuristic ${heuristic} scores class probabilities, but output '${output}' is a regression output (${task.width} value${task.width === 1 ? '' : 's'} per row); use heuristic std`,
    );
  }
  if (!classification && task.task !== 'regression') {
    throw new McuError(
      'E_CONFIG',
      `heuristic std scores a regression output, but output '${output}' is a classification output (${task.reason === 'softmax' ? 'it ends in Softmax' : 'class scores'}, ${task.width} classes); use bald, entropy, variation-ratio, margin or batchbald`,
    );
  }
  return task;
}

/**
 * A model loaded once and a pool opened once, scoring any aligned row range of the pool: what a
 * worker thread or a queue worker keeps between shards. `open` checks everything a run can be
 * refused for before any row is scored: k against the pool, the pool's width against the model
 * input, the heuristic against the output's task.
 */
export class ShardScorer {
  readonly options: ResolvedScoreOptions;
  readonly pool: Pool;
  readonly model: StochasticModel;
  /** The scored output's name and task. */
  readonly output: OutputTask;
  /** Samples per backend call, from (model, B, scope, T) alone. */
  readonly chunkSamples: number;
  readonly #mcu: Mcu;
  readonly #ownsMcu: boolean;
  readonly #ownsPool: boolean;
  readonly #input: TensorSpec;

  private constructor(parts: {
    options: ResolvedScoreOptions;
    pool: Pool;
    ownsPool: boolean;
    mcu: Mcu;
    ownsMcu: boolean;
    model: StochasticModel;
    input: TensorSpec;
    output: OutputTask;
    chunkSamples: number;
  }) {
    this.options = parts.options;
    this.pool = parts.pool;
    this.#ownsPool = parts.ownsPool;
    this.#mcu = parts.mcu;
    this.#ownsMcu = parts.ownsMcu;
    this.model = parts.model;
    this.#input = parts.input;
    this.output = parts.output;
    this.chunkSamples = parts.chunkSamples;
  }

  /** Open the pool (or take an open one), check the options, load the model (with `context.mcu`, else an Mcu of its own). */
  static async open(model: ModelSpec, pool: PoolSpec | Pool, options: ScoreOptions, context: { readonly mcu?: Mcu } = {}): Promise<ShardScorer> {
    const ownsPool = !('read' in pool);
    const p = 'read' in pool ? pool : await openPool(pool);
    let mcu: Mcu | undefined;
    let m: StochasticModel | undefined;
    try {
      const resolved = resolveScoreOptions(options, p.rows);
      if (typeof model?.path !== 'string' || model.path === '') throw new McuError('E_FILE', 'no model file given; give the path of an .onnx file');
      mcu = context.mcu ?? mcuFor(model);
      m = await mcu.load({ kind: 'path', path: model.path });
      if (m.inputs.length !== 1) {
        throw new McuError(
          'E_UNSUPPORTED',
          `the model has ${m.inputs.length} inputs (${m.inputs.map((i) => i.name).join(', ')}); a pool is one matrix of rows, so acquire scores one-input models`,
        );
      }
      const input = m.inputs[0]!;
      const per = perRowOf(input);
      if (per !== undefined && per !== p.width) {
        throw new McuError(
          'E_INPUT',
          `the pool has ${p.width} feature${p.width === 1 ? '' : 's'} per row, but model input '${input.name}' expects ${per} (${showDims(input)}); give a pool of the model's inputs`,
        );
      }
      const output = outputOf(m, model);
      const first = { [input.name]: toTensor({ data: await p.read(0, 1), dims: [1, p.width] }, input) } as NamedTensors;
      const task = await taskFor(mcu, m, first, output, resolved.heuristic);
      const chunkSamples = chunkSamplesFor(m, resolved.blockRows, resolved.scope, ACQUIRE_MEMORY_BUDGET_BYTES, resolved.samples);
      return new ShardScorer({ options: resolved, pool: p, ownsPool, mcu, ownsMcu: context.mcu === undefined, model: m, input, output: task, chunkSamples });
    } catch (e) {
      if (m !== undefined) await m.dispose().catch(() => undefined);
      if (mcu !== undefined && context.mcu === undefined) await mcu.dispose().catch(() => undefined);
      if (ownsPool) await p.close().catch(() => undefined);
      throw e;
    }
  }

  /** Score rows [start, end) (aligned to B, or ending at the pool's end) and keep the shard's best. */
  async score(range: RowRange, context: Omit<ScoreContext, 'mcu'> = {}): Promise<ShardResult> {
    const o = this.options;
    const blocks = blocksOf(range, this.pool.rows, o.blockRows);
    const bb = o.heuristic === 'batchbald';
    const top = new TopK<Candidate>(bb ? Math.min(o.candidates, range.end - range.start) : Math.min(o.k, range.end - range.start));
    for (const b of blocks) {
      if (context.signal?.aborted) throw new McuError('E_ABORTED', 'acquire was cancelled', { cause: context.signal.reason });
      const n = b.end - b.start;
      const feeds = { [this.#input.name]: toTensor({ data: await this.pool.read(b.start, b.end), dims: [n, this.pool.width] }, this.#input) } as NamedTensors;
      if (bb) this.#candidates(await this.#collect(feeds, b.start, n, context.signal), b.start, n, top);
      else {
        const scores = await this.#scores(feeds, b.start, n, context.signal);
        for (let i = 0; i < n; i++) top.offer({ index: b.start + i, score: scores[i]! } as Candidate);
      }
      context.onRows?.(n);
    }
    const kept = top.sorted();
    return {
      start: range.start,
      end: range.end,
      top: kept.map((c) => ({ index: c.index, score: c.score })),
      ...(bb ? { candidates: kept } : {}),
    };
  }

  async #run(
    feeds: NamedTensors,
    firstRow: number,
    estimator: ClassificationEstimator | RegressionEstimator | SampleCollector,
    signal?: AbortSignal,
  ): Promise<void> {
    const o = this.options;
    await this.#mcu.engine.run(this.model, feeds, {
      samples: o.samples,
      seed: o.seed,
      scope: o.scope,
      firstRow,
      chunkSamples: this.chunkSamples,
      estimators: [estimator],
      ...(signal !== undefined ? { signal } : {}),
    });
  }

  /** Per-row scores of one block by the heuristic (not batchbald). */
  async #scores(feeds: NamedTensors, firstRow: number, n: number, signal?: AbortSignal): Promise<Float64Array> {
    const o = this.options;
    const name = this.output.name;
    const out = new Float64Array(n);
    if (o.heuristic === 'std') {
      const est = new RegressionEstimator({ output: name, ...(o.tau !== undefined ? { tau: o.tau } : {}) });
      await this.#run(feeds, firstRow, est, signal);
      const { std, dims } = est.result();
      const D = dims[1];
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < D; j++) s += std[i * D + j]!;
        out[i] = s / D;
      }
      return out;
    }
    const est = new ClassificationEstimator({ output: name, outputs: this.output.holds ?? 'logits' });
    await this.#run(feeds, firstRow, est, signal);
    const r = est.result();
    if (o.heuristic === 'bald') out.set(r.mutualInformation);
    else if (o.heuristic === 'entropy') out.set(r.entropy);
    else if (o.heuristic === 'variation-ratio') out.set(r.variationRatio);
    else {
      const C = r.dims[1];
      for (let i = 0; i < n; i++) {
        let a = -Infinity;
        let b = -Infinity;
        for (let c = 0; c < C; c++) {
          const p = r.probs[i * C + c]!;
          if (p > a) {
            b = a;
            a = p;
          } else if (p > b) b = p;
        }
        out[i] = 1 - (a - b);
      }
    }
    return out;
  }

  /** Every sample's class probabilities of one block, float32 [n, T, C]. */
  async #collect(feeds: NamedTensors, firstRow: number, n: number, signal?: AbortSignal): Promise<{ probs: Float32Array; C: number }> {
    const T = this.options.samples;
    const C = this.output.width;
    const est = new SampleCollector({ output: this.output.name, maxValues: T * n * C });
    await this.#run(feeds, firstRow, est, signal);
    const { values } = est.result(); // (t·n + i)·C + c
    const probs = new Float32Array(n * T * C);
    const p = new Float64Array(C);
    const norm = new Float64Array(2);
    const logs = new Float64Array(C);
    const fromProbabilities = this.output.holds === 'probabilities';
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < n; i++) {
        const off = (t * n + i) * C;
        if (fromProbabilities) {
          // as core's ClassificationEstimator: softmax(log p) = p / Σp
          for (let c = 0; c < C; c++) {
            const v = values[off + c]!;
            if (!(v >= 0 && v <= 1 + 1e-6)) {
              throw new McuError(
                'E_RUNTIME',
                `output '${this.output.name}' ends in Softmax, but sample ${t} of row index ${firstRow + i} holds ${v} for class ${c}`,
              );
            }
            logs[c] = Math.log(Math.max(v, Number.MIN_VALUE));
          }
          softmaxInto(logs, 0, C, p, norm);
        } else softmaxInto(values, off, C, p, norm);
        const dst = (i * T + t) * C;
        for (let c = 0; c < C; c++) probs[dst + c] = p[c]!;
      }
    }
    return { probs, C };
  }

  /** Offer a block's rows as BatchBALD candidates, ranked by their BALD (from the float32 probabilities the merge uses). */
  #candidates(block: { probs: Float32Array; C: number }, firstRow: number, n: number, top: TopK<Candidate>): void {
    const T = this.options.samples;
    const stride = T * block.C;
    for (let i = 0; i < n; i++) {
      const probs = block.probs.subarray(i * stride, (i + 1) * stride);
      const score = baldOf(probs, T, block.C);
      const index = firstRow + i;
      // a NaN is offered so that it is refused with the row's index
      if (Number.isNaN(score) || top.wouldKeep(index, score)) top.offer({ index, score, probs: probs.slice() });
    }
  }

  /** Free the model, and the pool and Mcu when this scorer opened them. */
  async close(): Promise<void> {
    await this.model.dispose();
    if (this.#ownsMcu) await this.#mcu.dispose();
    if (this.#ownsPool) await this.pool.close();
  }
}

/**
 * Score one shard — rows [range.start, range.end), aligned to B — of the pool: its top-k (for
 * batchbald its top-m candidates). Loads the model and opens the pool for this call; a worker
 * scoring many shards keeps a {@link ShardScorer} instead.
 */
export async function scoreShard(model: ModelSpec, pool: PoolSpec, range: RowRange, options: ScoreOptions, context: ScoreContext = {}): Promise<ShardResult> {
  const scorer = await ShardScorer.open(model, pool, options, context.mcu !== undefined ? { mcu: context.mcu } : {});
  try {
    return await scorer.score(range, context);
  } finally {
    await scorer.close();
  }
}
