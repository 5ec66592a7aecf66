import { inject, injectable } from 'inversify';
import { describeError, isMcuError, McuError } from '../errors.js';
import type { Estimator } from '../estimators/estimator.js';
import { reducedUsable } from '../estimators/reduced.js';
import { deterministicMaskValue, type MaskScope, type OutputReduction, type ReducedOutputs, type StochasticModel, type StochasticSite } from '../model.js';
import { BernoulliKernelSlot } from '../sampling/bernoulli-wasm.js';
import type { Sampler, SamplerFactory } from '../sampling/sampler.js';
import { sizeOf, type NamedTensors, type TensorData } from '../tensor.js';
import { TOKENS } from '../tokens.js';
import { DEFAULT_MEMORY_BUDGET_BYTES, type McuConfig } from '../di/config.js';
import { chunkSamplesFor } from './chunking.js';
import { selfCheck, SelfCheckMemo, type SelfCheckReport } from './self-check.js';

export interface ProgressEvent {
  readonly samplesDone: number;
  readonly samplesTotal: number;
  /** Largest standard error of the tracked estimates so far (adaptive runs). */
  readonly maxStandardError?: number;
}

export interface McRunOptions {
  /** T, or T_max when `tolerance` is given. */
  readonly samples: number;
  /** Seed of the counter-based mask generator (default 0). Ignored when `sampler` is given. */
  readonly seed?: number;
  readonly scope?: MaskScope;
  /** Global index of the first input row (scope `point`), when one run is split into row batches. */
  readonly firstRow?: number;
  /** Use these masks instead of seeded ones (e.g. a ReplaySampler). */
  readonly sampler?: Sampler;
  /** Samples per backend call; default: as many as the memory budget allows. */
  readonly chunkSamples?: number;
  readonly memoryBudgetBytes?: number;
  /** Adaptive T: stop after the first chunk where every estimator's largest standard error ≤ tolerance. */
  readonly tolerance?: number;
  /** Adaptive T never stops before this many samples (default 10). */
  readonly minSamples?: number;
  /**
   * Before the first real run, check that samples and rows do not mix in the model (see
   * self-check.ts; remembered by this engine per prepared model and input shapes). Default true; false only for
   * tests of the check itself or a caller that ran it already.
   */
  readonly selfCheck?: boolean;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: ProgressEvent) => void;
  readonly estimators: readonly Estimator<unknown>[];
  /**
   * When the model can reduce its outputs over each chunk's samples itself
   * (`StochasticModel.runReduced`, e.g. appended to the ONNX graph) and EVERY estimator can be
   * fed from such reductions (`Estimator.reduction()`), each chunk comes back as O(N·D)
   * numbers instead of O(S·N·D) and the estimators fold those in. Default (undefined): so for
   * runs of at least {@link REDUCE_IN_GRAPH_MIN_VALUES} raw output values (T·N·values per
   * row), the JavaScript pass below. true: whenever the model and estimators can. false:
   * always the raw outputs and the estimators' JavaScript pass (`update`), e.g. to compare.
   */
  readonly reduceInGraph?: boolean;
}

/**
 * By default the in-graph reductions serve runs from this many raw output values
 * (T·N·values per row) on. Below, the estimators' JavaScript pass over the raw outputs takes
 * well under a millisecond, while the backend builds a second graph and session for the
 * reductions (≈ 30 ms for the co2 example: `mcu predict` with T = 1 paid it for nothing).
 */
export const REDUCE_IN_GRAPH_MIN_VALUES = 65_536;

/** Output values per input row over all of the model's outputs (a dim that is not a fixed size counts 1). */
function valuesPerRow(model: StochasticModel): number {
  let n = 0;
  for (const out of model.outputs) n += out.dims.slice(1).reduce<number>((a, d) => a * (typeof d === 'number' && d > 0 ? d : 1), 1);
  return Math.max(1, n);
}

/** The reductions a run's estimators need, or null when one of them needs the raw samples. */
export function reductionsFor(estimators: readonly Estimator<unknown>[]): OutputReduction[] | null {
  if (estimators.length === 0) return null;
  const request: OutputReduction[] = [];
  for (const est of estimators) {
    const r = est.reduction?.() ?? null;
    if (r === null || est.updateReduced === undefined) return null;
    if (!request.some((q) => q.output === r.output && q.kind === r.kind)) request.push({ output: r.output, kind: r.kind });
  }
  return request;
}

/** Everything needed to reproduce a run. */
export interface RunMeta {
  readonly backend: string;
  readonly executionProvider: string;
  readonly seed: number | null;
  readonly sampler: string;
  readonly samples: number;
  readonly samplesRequested: number;
  readonly scope: MaskScope;
  readonly chunkSamples: number;
  readonly rows: number;
  readonly sites: readonly { name: string; kind: string; rate: number; maskShape: readonly number[]; scaling: string }[];
  readonly tolerance: number | null;
  readonly converged: boolean | null;
  readonly maxStandardError: number | null;
  /** The self-check's result (null when it was switched off). */
  readonly selfCheck: SelfCheckReport | null;
  /**
   * Chunks whose outputs the model reduced over their samples (`runReduced`) and the
   * estimators took as such; the others went through `run` and the estimators' own pass.
   */
  readonly reducedChunks: number;
}

/** The model's sites for these feeds (concrete mask shapes for input-dependent sites). */
export function sitesFor(model: StochasticModel, feeds: NamedTensors): readonly StochasticSite[] {
  const sites = model.sitesFor ? model.sitesFor(feeds) : model.sites;
  if (sites.length !== model.sites.length || sites.some((s, k) => s.name !== model.sites[k]!.name)) {
    throw new McuError('E_INTERNAL', `backend '${model.backend}' resolved sites that do not match its model's sites`);
  }
  return sites;
}

/** With a tolerance, the stopping rule is checked at least every ⌈T/8⌉ samples (a chunk holding all of T would make it inert). */
export const TOLERANCE_CHECKS = 8;

function rowsOf(model: StochasticModel, feeds: NamedTensors): number {
  let rows: number | undefined;
  for (const spec of model.inputs) {
    const t = feeds[spec.name];
    if (t === undefined) {
      throw new McuError('E_INPUT', `model input '${spec.name}' was not given; the model takes: ${model.inputs.map((i) => i.name).join(', ')}`);
    }
    const n = t.dims[0];
    if (n === undefined || t.dims.length === 0) {
      throw new McuError('E_INPUT', `input '${spec.name}' needs a leading batch axis, got dims [${t.dims.join(', ')}]`);
    }
    // Checked here too (backends check again), so that a wrong input is named as given, before any run.
    const fixedOk = t.dims.length === spec.dims.length && spec.dims.every((d, k) => k === 0 || typeof d !== 'number' || d < 0 || d === t.dims[k]);
    if (!fixedOk) {
      const shown = spec.dims.map((d, k) => (k === 0 ? 'N' : typeof d === 'number' && d >= 0 ? d : String(d)));
      throw new McuError('E_INPUT', `input '${spec.name}' expects dims [${shown.join(', ')}], got [${t.dims.join(', ')}]`);
    }
    if (rows !== undefined && n !== rows) {
      throw new McuError('E_INPUT', `all inputs need the same number of rows; '${spec.name}' has ${n}, another has ${rows}`);
    }
    rows = n;
  }
  for (const name of Object.keys(feeds)) {
    if (!model.inputs.some((i) => i.name === name)) {
      throw new McuError('E_INPUT', `'${name}' is not an input of the model; it takes: ${model.inputs.map((i) => i.name).join(', ')}`);
    }
  }
  if (rows === undefined || rows < 1) {
    throw new McuError('E_INPUT', 'the input is empty: at least one row is needed');
  }
  return rows;
}

function filled(dims: readonly number[], value: number): TensorData {
  return { dtype: 'float32', data: new Float32Array(sizeOf(dims)).fill(value), dims: [...dims] };
}

/**
 * Runs T stochastic passes in chunks — ONE backend call per chunk over [chunk·N] rows —
 * and streams every chunk into the estimators.
 *
 * An engine owns what its runs build up: the WebAssembly mask kernel its seeded samplers share
 * and the self-check results. Nothing is shared with another engine (one per `createMcu`);
 * {@link McEngine.dispose} frees them.
 */
@injectable()
export class McEngine {
  readonly #kernel = new BernoulliKernelSlot();
  readonly #checks = new SelfCheckMemo();
  #disposed = false;

  constructor(
    @inject(TOKENS.SamplerFactory) private readonly samplerFactory: SamplerFactory,
    @inject(TOKENS.Config) private readonly config: McuConfig,
  ) {}

  /**
   * What this engine holds, for introspection and tests: its Bernoulli mask kernel (built on the
   * first Bernoulli run; `memoryBytes` is its WebAssembly memory) and the number of self-checks
   * it remembers by model hash.
   */
  get resources(): { readonly maskKernel: BernoulliKernelSlot; readonly selfChecks: number; readonly disposed: boolean } {
    return { maskKernel: this.#kernel, selfChecks: this.#checks.size, disposed: this.#disposed };
  }

  /** Free the mask kernel and forget the self-checks; later runs are refused. Safe twice. */
  dispose(): void {
    this.#disposed = true;
    this.#kernel.dispose();
    this.#checks.clear();
  }

  #live(what: string): void {
    if (this.#disposed) {
      throw new McuError('E_CONFIG', `cannot ${what}: this engine (and its Mcu) was disposed; create a new one with createMcu()`);
    }
  }

  async run(model: StochasticModel, feeds: NamedTensors, options: McRunOptions): Promise<RunMeta> {
    this.#live('run the model');
    const total = options.samples;
    if (!Number.isInteger(total) || total < 1) {
      throw new McuError('E_CONFIG', `the number of MC samples T must be an integer ≥ 1, got ${total}`);
    }
    if (options.tolerance !== undefined && !(options.tolerance > 0)) {
      throw new McuError('E_CONFIG', `the standard-error tolerance must be > 0, got ${options.tolerance}`);
    }
    const scope = options.scope ?? 'sample';
    const seed = options.seed ?? 0;
    const rows = rowsOf(model, feeds);
    const sites = sitesFor(model, feeds);
    const sampler = options.sampler ?? this.samplerFactory({ seed, kernel: this.#kernel });
    const budget = options.memoryBudgetBytes ?? this.config.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES;
    const small = options.reduceInGraph === undefined && total * rows * valuesPerRow(model) < REDUCE_IN_GRAPH_MIN_VALUES;
    let request = options.reduceInGraph === false || small || model.runReduced === undefined ? null : reductionsFor(options.estimators);
    /** Samples per call, for a reduced call (its outputs' reductions; the sites it folds) or a raw one. */
    const chunkFor = (reduced: boolean): number => {
      const call = reduced ? { folded: scope === 'sample' ? (model.foldedSampleSites?.() ?? []) : [] } : undefined;
      let c = options.chunkSamples ?? chunkSamplesFor(model, rows, scope, budget, total, sites, call);
      if (!Number.isInteger(c) || c < 1) {
        throw new McuError('E_CONFIG', `samples per chunk must be an integer ≥ 1, got ${c}`);
      }
      c = Math.min(c, total);
      if (options.tolerance !== undefined && options.chunkSamples === undefined) {
        c = Math.min(c, Math.max(1, Math.ceil(total / TOLERANCE_CHECKS)));
      }
      return c;
    };
    let chunk = chunkFor(request !== null);
    const check = options.selfCheck === false ? null : await this.#selfCheck(model, feeds, sites);
    const minSamples = Math.max(2, options.minSamples ?? 10);

    let reducedChunks = 0;
    let done = 0;
    let converged: boolean | null = options.tolerance === undefined ? null : false;
    let maxSe: number | null = null;
    /** Every site's masks for samples [first, first + count): they depend on the sample index only. */
    const drawMasks = (first: number, count: number): Record<string, TensorData> => {
      const masks: Record<string, TensorData> = {};
      sites.forEach((site, siteIndex) => {
        masks[site.name] = sampler.sample({ site, siteIndex, firstSample: first, count, rows, scope, firstRow: options.firstRow ?? 0 });
      });
      return masks;
    };
    while (done < total) {
      if (options.signal?.aborted) {
        throw new McuError('E_ABORTED', `the run was cancelled after ${done} of ${total} samples`, {
          cause: options.signal.reason,
        });
      }
      const count = Math.min(chunk, total - done);
      const masks = drawMasks(done, count);
      const runOptions = { samples: count, scope, signal: options.signal };
      const failed = (e: unknown): McuError =>
        isMcuError(e)
          ? e
          : new McuError('E_RUNTIME', `backend '${model.backend}' failed on samples ${done}–${done + count - 1}: ${describeError(e)}`, { cause: e });
      let reduced: ReducedOutputs | null = null;
      if (request !== null) {
        try {
          reduced = (await model.runReduced?.(feeds, masks, runOptions, request)) ?? null;
        } catch (e) {
          throw failed(e);
        }
        // null: the model cannot reduce this request — the raw path for the rest of the run, in
        // calls sized for it (this chunk's masks are drawn again: they depend on the sample index only)
        if (reduced === null) {
          request = null;
          const raw = chunkFor(false);
          chunk = raw;
          if (raw < count) continue;
        }
      }
      if (reduced !== null && reducedUsable(reduced)) {
        for (const est of options.estimators) est.updateReduced!({ outputs: reduced, samples: count, rows, firstSample: done });
        reducedChunks++;
      } else {
        // Also a reduction holding a non-finite value (or a probability out of range): the same
        // samples once more on the raw path, where the estimators name the sample and row — in
        // calls sized for it (a reduced call with folded sites may hold more samples than a raw one).
        const step = request === null ? count : Math.min(count, chunkFor(false));
        for (let k = 0; k < count; k += step) {
          const c = Math.min(step, count - k);
          let outputs: NamedTensors;
          try {
            outputs = await model.run(feeds, c === count ? masks : drawMasks(done + k, c), { ...runOptions, samples: c });
          } catch (e) {
            throw failed(e);
          }
          for (const est of options.estimators) est.update({ outputs, samples: c, rows, firstSample: done + k });
        }
      }
      done += count;
      if (options.tolerance !== undefined) {
        maxSe = Math.max(...options.estimators.map((e) => e.maxStandardError?.() ?? 0));
        if (done >= minSamples && maxSe <= options.tolerance) {
          converged = true;
        }
      }
      options.onProgress?.({ samplesDone: done, samplesTotal: total, ...(maxSe !== null ? { maxStandardError: maxSe } : {}) });
      if (converged) break;
    }

    return {
      backend: model.backend,
      executionProvider: model.executionProvider,
      seed: options.sampler ? null : seed,
      sampler: sampler.description,
      samples: done,
      samplesRequested: total,
      scope,
      chunkSamples: chunk,
      rows,
      sites: sites.map((s) => ({
        name: s.name,
        kind: s.kind,
        rate: s.rate,
        maskShape: [...s.maskShape],
        scaling: s.scaling ?? 'inverted',
      })),
      tolerance: options.tolerance ?? null,
      converged,
      maxStandardError: maxSe,
      selfCheck: check,
      reducedChunks,
    };
  }

  async #selfCheck(model: StochasticModel, feeds: NamedTensors, sites: readonly StochasticSite[]): Promise<SelfCheckReport> {
    try {
      return await selfCheck(model, feeds, sites, { memo: this.#checks, kernel: this.#kernel });
    } catch (e) {
      if (isMcuError(e)) throw e;
      throw new McuError('E_RUNTIME', `backend '${model.backend}' failed in the self-check run: ${describeError(e)}`, { cause: e });
    }
  }

  /** The self-check alone (e.g. for `inspect`): see self-check.ts. */
  async check(model: StochasticModel, feeds: NamedTensors): Promise<SelfCheckReport> {
    this.#live('run the self-check');
    rowsOf(model, feeds);
    return this.#selfCheck(model, feeds, sitesFor(model, feeds));
  }

  /**
   * The "standard dropout" pass: one deterministic run with every mask at its mean — 1 for
   * inverted dropout and Gaussian noise, 1 − p for dropout trained without inverted scaling
   * (Caffe's test-time rule), eval mode for AlphaDropout. Outputs have leading axis N.
   */
  async deterministic(model: StochasticModel, feeds: NamedTensors): Promise<NamedTensors> {
    this.#live('run the model');
    rowsOf(model, feeds);
    const masks: Record<string, TensorData> = {};
    for (const site of sitesFor(model, feeds)) masks[site.name] = filled([1, 1, ...site.maskShape], deterministicMaskValue(site));
    return model.run(feeds, masks, { samples: 1, scope: 'sample' });
  }
}
