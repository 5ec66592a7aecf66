/**
 * The answer of `POST /v1/models/:name/predict`: the JSON contract of `mcu predict --format json`
 * (`meta` and each output's values as rows), made from @mcu/core's typed prediction — and
 * a coalesced prediction cut back into each request's rows.
 */
import { outputRows, type MaskScope, type OutputRows, type PredictResult as CorePrediction, type SiteKind, type StochasticModel } from '@mcu/core';

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

/** The predict answer: `meta` and every output by name. */
export interface PredictResponse {
  readonly meta: PredictMeta;
  readonly outputs: Readonly<Record<string, OutputRows>>;
}

/** The answer for rows [first, first + n) of a core prediction on `model` (all rows: first 0, n = N). */
export function predictResponse(model: StochasticModel, r: CorePrediction, first: number, n: number): PredictResponse {
  const m = r.meta;
  const outputs: Record<string, OutputRows> = {};
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
