import type { MaskScope, StochasticSite } from '../model.js';
import type { TensorData } from '../tensor.js';
import type { BernoulliKernelSlot } from './bernoulli-wasm.js';

/** Which masks to draw: samples [firstSample, firstSample + count) of one site. */
export interface MaskRequest {
  readonly site: StochasticSite;
  /** Position of the site in the model's `sites` list (graph order); part of the RNG counter. */
  readonly siteIndex: number;
  readonly firstSample: number;
  readonly count: number;
  /** Input rows N of this run (used by scope `point`). */
  readonly rows: number;
  /** Scope `point`: global index of the first row (row batches of one run draw the masks of the whole run). */
  readonly firstRow?: number;
  readonly scope: MaskScope;
}

/**
 * Draws masks. Returns float32 dims [count, 1, ...maskShape] for scope `sample` and
 * [count, rows, ...maskShape] for scope `point`. The value for (seed, sample t, site s,
 * row i, element j) never depends on chunking, call order or backend.
 */
export interface Sampler {
  readonly description: string;
  sample(request: MaskRequest): TensorData;
}

export interface SamplerOptions {
  /** Non-negative integer below 2^53. */
  readonly seed: number;
  /**
   * Bernoulli masks through the WebAssembly kernel where it runs (default true); false keeps
   * the JavaScript path. Both give the same values.
   */
  readonly wasm?: boolean;
  /**
   * The WebAssembly kernel to draw Bernoulli masks with, owned (and freed) by the caller: an
   * engine passes its own, so the samplers of one `createMcu` share one kernel and no two Mcu
   * instances share any. Omitted: the sampler builds its own on first use.
   */
  readonly kernel?: BernoulliKernelSlot;
}

export type SamplerFactory = (options: SamplerOptions) => Sampler;
