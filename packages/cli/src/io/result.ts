/**
 * The JSON contract of `mcu predict` (what `--format json` prints, and what the other
 * formats are made from). The lead's predict command fills these; io/format.ts prints them.
 *
 * {
 *   "meta": { "backend", "executionProvider", "seed", "samples", "sites": [{ "name", "kind", "rate" }], "tau", ... },
 *   "outputs": {
 *     "<name>": { "task": "regression", "mean": [[..]], "variance": [[..]], "std": [[..]] }
 *             | { "task": "classification", "probs": [[..]], "predicted": [..], "entropy": [..],
 *                 "mutualInformation": [..], "variationRatio": [..] }
 *   }
 * }
 *
 * Arrays are per input row: `mean[i]` is row i's output flattened (row-major) to D values.
 */
import type { SavedClassification, SavedRegression } from '@mcu/plot';
import type { MaskScope, ResultMeta, SiteRow } from '@mcu/core';

/** A stochastic site as the JSON names it (@mcu/core's, which builds the meta: predictionMeta). */
export type SiteMeta = SiteRow;

/**
 * What the JSON shares with @mcu/core's ResultMeta: τ (added as 1/τ to regression variance;
 * null when none was given), with --fit-tau tauFitted (true, or "boundary" with `tauFitRange`),
 * with --tolerance whether every batch converged and the largest standard error, with
 * --batch-size rows per batch, the number of batches and the samples each drew.
 */
type SharedMeta = Pick<ResultMeta, 'tau' | 'tauFitted' | 'tauFitRange' | 'tolerance' | 'converged' | 'maxStandardError' | 'batches'>;

export interface PredictMeta extends SharedMeta {
  readonly backend: string;
  readonly executionProvider: string;
  readonly seed: number;
  /**
   * MC samples actually drawn (with --tolerance: where it stopped; with --batch-size: the most
   * any batch drew, each batch's count in `batches.samples`).
   */
  readonly samples: number;
  /** Samples per backend call (bounded by --memory-budget; the largest over batches). */
  readonly chunkSamples?: number;
  readonly sites: readonly SiteMeta[];
  readonly maskScope?: MaskScope;
  readonly warnings?: readonly string[];
  /** Room for more (timings, tolerance reached, mcu version, …). */
  readonly [extra: string]: unknown;
}

/**
 * Per row i and output component j: predictive mean, variance (incl. 1/τ) and std = √variance.
 * (The shape @mcu/plot reads back from a saved result: one definition for both.)
 */
export type RegressionOutput = SavedRegression;

/**
 * Per row i: MC-averaged class probabilities, argmax class, predictive entropy H[y|x],
 * mutual information (BALD) H[y|x] − E[H[y|x,ω]], variation ratio 1 − (mode count)/T.
 */
export type ClassificationOutput = SavedClassification;

export type OutputResult = RegressionOutput | ClassificationOutput;

export interface PredictResult {
  readonly meta: PredictMeta;
  readonly outputs: Readonly<Record<string, OutputResult>>;
}
