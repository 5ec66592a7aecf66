import type { OutputReduction, ReducedOutputs } from '../model.js';
import type { NamedTensors } from '../tensor.js';

/** One chunk of MC outputs: every output has leading axis samples·rows, sample-major. */
export interface Chunk {
  readonly outputs: NamedTensors;
  readonly samples: number;
  readonly rows: number;
  /** Index of the chunk's first MC sample within the run. */
  readonly firstSample: number;
}

/**
 * One chunk reduced over its samples by the backend (`StochasticModel.runReduced`): one
 * entry per requested reduction, in the order of the request.
 */
export interface ReducedChunk {
  readonly outputs: ReducedOutputs;
  readonly samples: number;
  readonly rows: number;
  /** Index of the chunk's first MC sample within the run. */
  readonly firstSample: number;
}

/** A streaming estimator: O(N·D) state, never O(T·N·D). */
export interface Estimator<R> {
  update(chunk: Chunk): void;
  /** Samples consumed so far. */
  readonly samples: number;
  result(): R;
  /**
   * Largest standard error of the quantity this estimator tracks (used for adaptive T);
   * Infinity before two samples.
   */
  maxStandardError?(): number;
  /**
   * The per-chunk reduction this estimator can be fed from ({@link updateReduced}) instead of
   * the raw samples, giving the same results to float tolerance; null (or no method): it needs
   * the raw samples, and a run with it uses the backend's `run`.
   */
  reduction?(): OutputReduction | null;
  /** Consume one chunk reduced as {@link reduction} asked. */
  updateReduced?(chunk: ReducedChunk): void;
}
