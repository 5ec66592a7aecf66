/**
 * A prediction as rows of plain numbers: the JSON of `mcu predict --format json` and of
 * `mcu serve`'s predict answer (and what @mcu/plot reads back from a saved result). Row i of an
 * output with D values per row is its D values, row-major.
 */
import type { MaskScope, SiteKind, StochasticModel } from '../model.js';
import type { OutputPrediction, PredictResult } from './predict.js';
import type { ResultMeta } from './run.js';

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

/** A stochastic site as the JSON names it. */
export interface SiteRow {
  readonly name: string;
  readonly kind: SiteKind;
  readonly rate: number;
}

/**
 * How a prediction was made, as its JSON gives it (`mcu predict --format json`'s and
 * `mcu serve`'s `meta`): the run's backend, provider, seed, samples drawn and per call, the
 * model's sites, τ, the mask scope and the warnings — and where the run had them, τ's fit
 * (tauFitted, tauFitRange), --tolerance's convergence and --batch-size's batches.
 */
export interface PredictionMeta extends Pick<ResultMeta, 'tauFitted' | 'tauFitRange' | 'tolerance' | 'converged' | 'maxStandardError' | 'batches'> {
  readonly backend: string;
  readonly executionProvider: string;
  readonly seed: number;
  readonly samples: number;
  readonly chunkSamples: number;
  readonly sites: readonly SiteRow[];
  readonly tau: number | null;
  readonly maskScope: MaskScope;
  readonly warnings: readonly string[];
}

/** The JSON meta of `r`, a prediction of `model` (`warnings`: the run's unless given, e.g. with the load's before them). */
export function predictionMeta(model: Pick<StochasticModel, 'sites'>, r: PredictResult, warnings: readonly string[] = r.meta.warnings): PredictionMeta {
  const m = r.meta;
  return {
    backend: m.backend,
    executionProvider: m.executionProvider,
    seed: m.seed,
    samples: m.samples,
    chunkSamples: m.chunkSamples,
    sites: model.sites.map((s) => ({ name: s.name, kind: s.kind, rate: s.rate })),
    tau: m.tau,
    ...(m.tauFitted !== undefined ? { tauFitted: m.tauFitted } : {}),
    ...(m.tauFitRange !== undefined ? { tauFitRange: m.tauFitRange } : {}),
    maskScope: m.scope,
    ...(m.tolerance !== undefined ? { tolerance: m.tolerance, converged: m.converged, maxStandardError: m.maxStandardError } : {}),
    ...(m.batches !== undefined ? { batches: m.batches } : {}),
    warnings,
  };
}
