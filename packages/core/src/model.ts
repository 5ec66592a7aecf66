import type { DType, NamedTensors } from './tensor.js';

/**
 * Bernoulli: dropout masks 0 or 1/(1−p). Gaussian: multiplicative noise N(1, p/(1−p)).
 * Alpha: AlphaDropout of self-normalising (SELU) networks — masks are keep indicators 0 or 1
 * and the backend computes a·(x·m + α′(1 − m)) + b exactly as PyTorch's nn.AlphaDropout
 * (α′ = −1.7580993408473766, a = ((1 − p)(1 + p·α′²))^−½, b = −a·α′·p); the mask value −1 asks
 * for the layer as in eval mode (the identity), which the deterministic pass uses.
 * Additive: noise added to the activation, N(0, σ²) with σ = `stddev` (Keras' GaussianNoise);
 * its deterministic value is 0, its `rate` 0.
 */
export type SiteKind = 'bernoulli' | 'gaussian' | 'alpha' | 'additive';

/** The mask value that makes a site deterministic ("standard dropout", eq. 6's weight scaling). */
export function deterministicMaskValue(site: Pick<StochasticSite, 'kind' | 'rate' | 'scaling'>): number {
  if (site.kind === 'alpha') return -1;
  if (site.kind === 'additive') return 0;
  return site.kind === 'bernoulli' && site.scaling === 'none' ? 1 - site.rate : 1;
}

/**
 * `sample` (default): one mask per MC sample, shared by every input row — the paper's W_t,
 * each sample is one function. `point`: an independent mask for every row (what
 * `x.repeat(T)` through nn.Dropout gives in PyTorch). Both have the same marginals.
 */
export type MaskScope = 'sample' | 'point';

/**
 * `inverted` (PyTorch, Keras, ONNX): kept units are scaled by 1/(1−p) at training time,
 * so masks are {0, 1/(1−p)}. `none` (some Caffe forks, `scale_train = false`): masks are {0, 1}.
 */
export type DropoutScaling = 'inverted' | 'none';

/** One place in the network where multiplicative noise enters (a dropout layer). */
export interface StochasticSite {
  /** The model input that receives this site's mask. */
  readonly name: string;
  readonly kind: SiteKind;
  /** Drop probability p ∈ [0, 1) (0 for an additive site). */
  readonly rate: number;
  /** Additive sites: the noise's standard deviation σ > 0. */
  readonly stddev?: number;
  /**
   * The mask shape for ONE input row, without the batch axis: [512] for a dense layer,
   * [C, 1, 1] for channel-wise (spatial) dropout where a mask is shared over H and W.
   */
  readonly maskShape: readonly number[];
  /** Scaling convention for kept units. Default `inverted`. */
  readonly scaling?: DropoutScaling;
  /** Where the site came from, for inspect output (e.g. op `Dropout`, opset 13, node name). */
  readonly origin?: { readonly op?: string; readonly opset?: number; readonly node?: string };
  /**
   * Where the rows are in the site's tensor, when not simply its leading axis: the tensor's axis
   * `axis` holds N·factor entries, row-major (row i owns entries i·factor … i·factor + factor − 1),
   * e.g. attention weights [N·heads, L, L] (axis 0, factor = heads) or a sequence-first
   * activation [L, N, E] (axis 1). The mask of one row is then [factor, ...the other dims]
   * (factor left out when 1). For inspect output; the backend applies it.
   */
  readonly rowLayout?: { readonly axis: number; readonly factor: number };
  /**
   * The per-row mask shape with named dims taken from the inputs (e.g. [4, 'seq', 'seq']), when
   * it depends on them; `maskShape` is then only valid for the feeds given to `sitesFor`.
   */
  readonly dims?: readonly (number | string)[];
}

/** Dims use -1 (or a symbolic name) for a dimension that is free, such as the batch axis. */
export interface TensorSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly dims: readonly (number | string)[];
  /**
   * Outputs only: the network already normalises this output (its last operation is a softmax
   * or log-softmax), so it holds probabilities / log-probabilities rather than logits.
   */
  readonly activation?: 'softmax' | 'log-softmax';
}

export interface RunOptions {
  /** Number of MC samples S in this call. */
  readonly samples: number;
  readonly scope: MaskScope;
  readonly signal?: AbortSignal;
}

/**
 * What a backend reduces over one chunk's S samples of one output instead of returning its
 * S·N values per row ({@link StochasticModel.runReduced}):
 * - `moments`: per value, the chunk mean over the samples and the chunk's sum of squared
 *   deviations from that mean (M2) — combined across chunks in float64 by Chan et al.'s
 *   parallel update, never as Σy² − (Σy)²/S, which cancels for |mean| ≫ std;
 * - `logits` / `probabilities` (a classification output [S·N, C], as ClassificationEstimator's
 *   `outputs` option): per sample p_t = softmax(logits), or the probabilities normalised
 *   (p/Σp); per row the chunk mean and M2 of p_t, the mean of H[p_t] = −Σ_c p log p (0·log 0 = 0),
 *   and the share of samples whose argmax (lowest class on ties) is each class.
 *   `probabilities` also gives the smallest and largest raw value of the chunk, so that values
 *   outside [0, 1] are refused as the estimator refuses them.
 */
export type ReductionKind = 'moments' | 'logits' | 'probabilities';

/** One output and how it is reduced. */
export interface OutputReduction {
  readonly output: string;
  readonly kind: ReductionKind;
}

/**
 * One output reduced over a chunk's S samples (float32 as the backend computes it). Every
 * array is flat row-major; `dims` are the output's dims per row ([...rest]; [C] for
 * classification). A row whose output depends on no site gives the same numbers (M2 = 0).
 */
export interface ReducedOutput {
  readonly output: string;
  readonly kind: ReductionKind;
  readonly dims: readonly number[];
  /**
   * [N, ...dims]: mean over the chunk's samples of the output (`moments`) or of p_t — for
   * `moments` relative to `shift` when that is given.
   */
  readonly mean: Float32Array | Float64Array;
  /**
   * `moments`, optional, [N, ...dims]: a value the samples were shifted by before they were
   * summed (e.g. the chunk's first sample), so that the chunk mean is shift + mean in float64:
   * float32 then only has to hold deviations of the size of the spread, not |mean| ≫ std.
   */
  readonly shift?: Float32Array | Float64Array;
  /** [N, ...dims]: Σ_t (x_t − mean)² over the chunk's samples. */
  readonly m2: Float32Array | Float64Array;
  /** Classification, [N]: mean over the chunk's samples of H[p_t] (nats). */
  readonly entropy?: Float32Array | Float64Array;
  /** Classification, [N, C]: share of the chunk's samples whose argmax is class c (count / S). */
  readonly votes?: Float32Array | Float64Array;
  /** `probabilities`: [min, max] of the raw output values over the chunk. */
  readonly range?: readonly [number, number];
}

/** A site folded into its weight layer in reduced, sample-scope runs ({@link StochasticModel.foldedSampleSites}). */
export interface FoldedSampleSite {
  readonly site: string;
  /** D′: the outputs of the weight layer (its weights are D·D′, D the site's mask size). */
  readonly outputs: number;
  /** The site's input has N rows only (no sample axis): nothing per sample is left at the site. */
  readonly sharedInput: boolean;
}

/** What {@link StochasticModel.runReduced} returns: one entry per requested reduction, in order. */
export type ReducedOutputs = readonly ReducedOutput[];

/**
 * A network whose stochastic sites are inputs.
 *
 * `run(feeds, masks, options)`:
 * - `feeds` are the model's ordinary inputs with N rows each (leading axis N) — NOT tiled:
 *   a backend may compute the deterministic prefix (everything before the first site) once.
 * - `masks[site.name]` has dims [S, 1, ...maskShape] for scope `sample` and
 *   [S, N, ...maskShape] for scope `point`.
 * - Every output comes back with leading axis S·N, sample-major (row t·N + i).
 */
export interface StochasticModel {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly sites: readonly StochasticSite[];
  /** Backend name and the execution provider that actually runs this model. */
  readonly backend: string;
  readonly executionProvider: string;
  /** Warnings found while preparing the model (inserted dropout, BatchNorm switched, …). */
  readonly warnings: readonly string[];
  /**
   * Share (0–1) of one row's forward-pass work that lies before the first site and so runs
   * once per row per backend call, when the backend knows it. The engine sizes chunks by it:
   * a large share is amortised by many samples per call; with little to amortise, calls are
   * kept small enough for their activations to stay in cache.
   */
  readonly shareBeforeFirstSite?: number;
  run(feeds: NamedTensors, masks: NamedTensors, options: RunOptions): Promise<NamedTensors>;
  /**
   * Optional: as `run`, but every requested output comes back reduced over the call's S
   * samples ({@link ReducedOutput}: O(N·D) numbers instead of O(S·N·D)), computed where the
   * model runs (e.g. appended to an ONNX graph). Resolves to null when this model cannot
   * reduce this request (a layout, output type or runtime it does not cover): the caller then
   * uses `run` — null is never an error. The engine uses it only when every estimator of a
   * run can be served from the reductions.
   */
  runReduced?(feeds: NamedTensors, masks: NamedTensors, options: RunOptions, request: readonly OutputReduction[]): Promise<ReducedOutputs | null>;
  /**
   * Optional: the sites whose mask `runReduced` with scope 'sample' folds into the weight layer
   * that reads them ((h ⊙ m) W = h (diag(m) W)), so that a call holds per sample a masked copy of
   * the weights and the layer's output instead of the masked activation. The engine sizes such
   * runs' chunks by it (a network whose only site feeds a small last layer then runs all its
   * samples in one call, the layers before it once).
   */
  foldedSampleSites?(): readonly FoldedSampleSite[];
  /**
   * Models whose mask shapes depend on the inputs' non-batch dims (a sequence length): the
   * concrete sites for these feeds (same names, kinds and order as `sites`). Absent: `sites`
   * are concrete for every input.
   */
  sitesFor?(feeds: NamedTensors): readonly StochasticSite[];
  /** A stable identity of the prepared model (e.g. sha256 of its bytes and options), for caches. */
  readonly hash?: string;
  /**
   * After a failed self-check (samples or rows mix): the first operation where they do, when the
   * backend can tell (e.g. "node '/attn/Reshape_3' (Reshape)"). Given the joint run and each
   * sample-row pair run alone, as the self-check made them.
   */
  locateMixing?(check: MixingProbe): Promise<string | undefined>;
  /** Safe to call more than once. */
  dispose(): Promise<void>;
}

/** The runs of a failed self-check, handed to {@link StochasticModel.locateMixing}. */
export interface MixingProbe {
  /** The joint run: R rows × S samples, point scope (outputs have S·R rows, sample-major). */
  readonly feeds: NamedTensors;
  readonly masks: NamedTensors;
  readonly samples: number;
  readonly rows: number;
  /** Sample t, row i alone: one row, one sample. */
  readonly singles: readonly { readonly sample: number; readonly row: number; readonly feeds: NamedTensors; readonly masks: NamedTensors }[];
}

/** A model given as bytes, a path, or (for the reference backend) a parsed object. */
export type ModelSource =
  | { readonly kind: 'path'; readonly path: string }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array; readonly baseDir?: string }
  | { readonly kind: 'object'; readonly value: unknown };

export interface LoadOptions {
  /** Backend-specific options (execution providers, insertion of dropout, …). */
  readonly [key: string]: unknown;
}

/** One execution provider of a backend, as {@link Backend.describe} finds it. */
export interface ProviderInfo {
  readonly name: string;
  /** Probed: it started. Not probed: the files it needs are installed (it may still fail to start, e.g. without a GPU). */
  readonly available: boolean;
  /** Why not (or, not probed, what starting it needs beyond the files). */
  readonly reason?: string;
}

/** What a backend can do on this machine ({@link Backend.describe}). */
export interface BackendInfo {
  readonly name: string;
  /** Probed: the runtime loaded. Not probed: its package is installed. */
  readonly available: boolean;
  readonly reason?: string;
  /** Whether the runtime and each provider were started (`describe({ probe: true })`), or only their files looked for. */
  readonly probed: boolean;
  readonly executionProviders: readonly ProviderInfo[];
}

/** Options of {@link Backend.describe}. */
export interface DescribeOptions {
  /**
   * Start the runtime and each execution provider to see that it runs (loads native code and
   * GPU drivers: seconds). Default false: look for the installed files only (milliseconds).
   */
  readonly probe?: boolean;
}

/** The whole backend contract: everything Monte Carlo lives in core. */
export interface Backend {
  readonly name: string;
  init(): Promise<void>;
  load(source: ModelSource, options?: LoadOptions): Promise<StochasticModel>;
  /** What this backend and its execution providers can do on this machine, and why not (installed files, or started with `probe`). */
  describe?(options?: DescribeOptions): Promise<BackendInfo>;
}

/** Model file formats, for choosing a backend when none is named. */
export type ModelFormat = 'onnx' | 'tfjs-layers';

/** What each {@link ModelFormat} is, for messages. */
export const MODEL_FORMATS: Readonly<Record<ModelFormat, string>> = {
  onnx: 'ONNX models (.onnx)',
  'tfjs-layers': 'TensorFlow.js / Keras layers models (model.json)',
};

/**
 * The format of a model source, where it shows without reading files: a path's extension
 * (.onnx, .json), or the first byte of given bytes ('{' = JSON, 0x08 = an ONNX ModelProto's
 * ir_version field). Undefined when it does not show (folders, other names, objects).
 */
export function modelFormatOf(source: ModelSource): ModelFormat | undefined {
  if (source.kind === 'path') {
    if (/\.onnx$/i.test(source.path)) return 'onnx';
    if (/\.json$/i.test(source.path)) return 'tfjs-layers';
    return undefined;
  }
  if (source.kind === 'bytes') {
    const b = source.bytes;
    let k = b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0; // UTF-8 BOM
    while (k < b.length && (b[k] === 0x20 || b[k] === 0x09 || b[k] === 0x0a || b[k] === 0x0d)) k++;
    if (b[k] === 0x7b) return 'tfjs-layers';
    if (b[0] === 0x08) return 'onnx';
  }
  return undefined;
}

export interface BackendDescriptor {
  readonly name: string;
  /** Higher first. Negative: used only when asked for by name. */
  readonly priority: number;
  /**
   * The model formats this backend reads; when no backend is named, a model whose format
   * shows ({@link modelFormatOf}) goes to the best backend that reads it. Omitted: any.
   */
  readonly formats?: readonly ModelFormat[];
  /** A factory, so nothing heavy (native runtimes, wasm) loads until the backend is chosen. */
  readonly create: () => Promise<Backend> | Backend;
  /**
   * What is installed, from the files alone (`describe()` without probe), without creating the
   * backend or loading its code: `mcu backends` in milliseconds. Omitted: the backend is
   * created and its describe() asked.
   */
  readonly installed?: () => Promise<BackendInfo> | BackendInfo;
}
