import type { DType, NamedTensors } from './tensor.js';

/** Bernoulli: dropout masks 0 or 1/(1−p). Gaussian: multiplicative noise N(1, p/(1−p)). */
export type SiteKind = 'bernoulli' | 'gaussian';

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
  /** Drop probability p ∈ [0, 1). */
  readonly rate: number;
  /**
   * The mask shape for ONE input row, without the batch axis: [512] for a dense layer,
   * [C, 1, 1] for channel-wise (spatial) dropout where a mask is shared over H and W.
   */
  readonly maskShape: readonly number[];
  /** Scaling convention for kept units. Default `inverted`. */
  readonly scaling?: DropoutScaling;
  /** Where the site came from, for inspect output (e.g. op `Dropout`, opset 13, node name). */
  readonly origin?: { readonly op?: string; readonly opset?: number; readonly node?: string };
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
  /** Safe to call more than once. */
  dispose(): Promise<void>;
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

export interface BackendInfo {
  readonly name: string;
  readonly available: boolean;
  readonly reason?: string;
  readonly executionProviders: readonly { name: string; available: boolean; reason?: string }[];
}

/** The whole backend contract: everything Monte Carlo lives in core. */
export interface Backend {
  readonly name: string;
  init(): Promise<void>;
  load(source: ModelSource, options?: LoadOptions): Promise<StochasticModel>;
  /** What this backend and its execution providers can do on this machine, and why not. */
  describe?(): Promise<BackendInfo>;
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
}
