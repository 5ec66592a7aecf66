/**
 * The answer of `POST /v1/models/:name/predict`: the JSON contract of `mcu predict --format json`
 * (`meta` and each output's values as rows), made from @mcu/core's typed prediction — and
 * a coalesced prediction cut back into each request's rows.
 */
import type { MaskScope, OutputPrediction, PredictResult as CorePrediction, SiteKind, StochasticModel } from '@mcu/core';

/** A stochastic site as the result names it. */
export interface SiteMeta {
  readonly name: string;
  readonly kind: SiteKind;
  readonly rate: number;
}

/** How the result was made (the fields of `mcu predict --format json`'s meta that a request can give rise to). */
export interface PredictMeta {
  readonly backend: string;
  readonly executionProvider: string;
  readonly seed: number;
  /** MC samples T drawn. */
  readonly samples: number;
  /** Samples per backend call, in the (possibly coalesced) run that made this result. */
  readonly chunkSamples: number;
  readonly sites: readonly SiteMeta[];
  /** τ (null: none given, τ⁻¹ = 0). */
  readonly tau: number | null;
  readonly maskScope: MaskScope;
  readonly warnings: readonly string[];
}

/** Per row i: predictive mean, variance (incl. τ⁻¹) and std, each row's output flattened to D values. */
export interface RegressionRows {
  readonly task: 'regression';
  readonly mean: number[][];
  readonly variance: number[][];
  readonly std: number[][];
}

/** Per row i: MC-averaged probabilities, argmax class, entropy, mutual information, variation ratio. */
export interface ClassificationRows {
  readonly task: 'classification';
  readonly probs: number[][];
  readonly predicted: number[];
  readonly entropy: number[];
  readonly mutualInformation: number[];
  readonly variationRatio: number[];
}

/** The predict answer: `meta` and every output by name. */
export interface PredictResponse {
  readonly meta: PredictMeta;
  readonly outputs: Readonly<Record<string, RegressionRows | ClassificationRows>>;
}

/** Rows [first, first + n) of a flat row-major [N, D] array, as n rows of D numbers. */
function rows(a: ArrayLike<number>, total: number, first: number, n: number): number[][] {
  const d = total === 0 ? 0 : a.length / total;
  const out: number[][] = [];
  for (let i = first; i < first + n; i++) out.push(Array.from({ length: d }, (_, j) => a[i * d + j]!));
  return out;
}

const values = (a: ArrayLike<number>, first: number, n: number): number[] => Array.from({ length: n }, (_, i) => a[first + i]!);

/** Rows [first, first + n) of one output's prediction. */
function outputRows(p: OutputPrediction, first: number, n: number): RegressionRows | ClassificationRows {
  const total = p.dims[0];
  if (p.task === 'regression') {
    return { task: 'regression', mean: rows(p.mean, total, first, n), variance: rows(p.variance, total, first, n), std: rows(p.std, total, first, n) };
  }
  return {
    task: 'classification',
    probs: rows(p.probs, total, first, n),
    predicted: values(p.predicted, first, n),
    entropy: values(p.entropy, first, n),
    mutualInformation: values(p.mutualInformation, first, n),
    variationRatio: values(p.variationRatio, first, n),
  };
}

/** The answer for rows [first, first + n) of a core prediction on `model` (all rows: first 0, n = N). */
export function predictResponse(model: StochasticModel, r: CorePrediction, first: number, n: number): PredictResponse {
  const m = r.meta;
  const outputs: Record<string, RegressionRows | ClassificationRows> = {};
  for (const [name, p] of Object.entries(r.outputs)) outputs[name] = outputRows(p, first, n);
  return {
    meta: {
      backend: m.backend,
      executionProvider: m.executionProvider,
      seed: m.seed,
      samples: m.samples,
      chunkSamples: m.chunkSamples,
      sites: model.sites.map((s) => ({ name: s.name, kind: s.kind, rate: s.rate })),
      tau: m.tau,
      maskScope: m.scope,
      warnings: m.warnings,
    },
    outputs,
  };
}
