/**
 * A prediction as rows of plain numbers: the JSON of `mcu predict --format json` and of
 * `mcu serve`'s predict answer (and what @mcu/plot reads back from a saved result). Row i of an
 * output with D values per row is its D values, row-major.
 */
import type { OutputPrediction } from './predict.js';

/** Per row i: predictive mean, variance (with τ⁻¹) and std, each the row's D values. */
export interface RegressionRows {
  readonly task: 'regression';
  readonly mean: readonly (readonly number[])[];
  readonly variance: readonly (readonly number[])[];
  readonly std: readonly (readonly number[])[];
}

/** Per row i: MC-averaged class probabilities, argmax class, entropy, mutual information (BALD), variation ratio. */
export interface ClassificationRows {
  readonly task: 'classification';
  readonly probs: readonly (readonly number[])[];
  readonly predicted: readonly number[];
  readonly entropy: readonly number[];
  readonly mutualInformation: readonly number[];
  readonly variationRatio: readonly number[];
}

/** One output's prediction as rows. */
export type OutputRows = RegressionRows | ClassificationRows;

/** Rows [first, first + n) of a flat row-major [N, D] array. */
function rowsOf(a: ArrayLike<number>, total: number, first: number, n: number): number[][] {
  const d = total === 0 ? 0 : a.length / total;
  const out: number[][] = [];
  for (let i = first; i < first + n; i++) out.push(Array.from({ length: d }, (_, j) => a[i * d + j]!));
  return out;
}

const valuesOf = (a: ArrayLike<number>, first: number, n: number): number[] => Array.from({ length: n }, (_, i) => a[first + i]!);

/** Rows [first, first + n) of one output's prediction (default: all of them). */
export function outputRows(p: OutputPrediction, first = 0, n = p.dims[0] - first): OutputRows {
  const total = p.dims[0];
  if (p.task === 'regression') {
    return { task: 'regression', mean: rowsOf(p.mean, total, first, n), variance: rowsOf(p.variance, total, first, n), std: rowsOf(p.std, total, first, n) };
  }
  return {
    task: 'classification',
    probs: rowsOf(p.probs, total, first, n),
    predicted: valuesOf(p.predicted, first, n),
    entropy: valuesOf(p.entropy, first, n),
    mutualInformation: valuesOf(p.mutualInformation, first, n),
    variationRatio: valuesOf(p.variationRatio, first, n),
  };
}
