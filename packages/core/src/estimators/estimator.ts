import type { NamedTensors } from '../tensor.js';

/** One chunk of MC outputs: every output has leading axis samples·rows, sample-major. */
export interface Chunk {
  readonly outputs: NamedTensors;
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
}
