/**
 * The answer of `POST /v1/models/:name/predict`: the JSON contract of `mcu predict --format json`
 * (`meta` and each output's values as rows), made from @mcu/core's typed prediction — and
 * a coalesced prediction cut back into each request's rows.
 */
import {
  outputRows,
  predictionMeta,
  type OutputRows,
  type PredictionMeta,
  type PredictResult as CorePrediction,
  type SiteRow,
  type StochasticModel,
} from '@mcu/core';

/** How the result was made: @mcu/core's JSON meta of a prediction, as `mcu predict --format json` gives it. */
export type PredictMeta = PredictionMeta;
/** A stochastic site as the result names it. */
export type SiteMeta = SiteRow;

/** The predict answer: `meta` and every output by name. */
export interface PredictResponse {
  readonly meta: PredictMeta;
  readonly outputs: Readonly<Record<string, OutputRows>>;
}

/** The answer for rows [first, first + n) of a core prediction on `model` (all rows: first 0, n = N). */
export function predictResponse(model: StochasticModel, r: CorePrediction, first: number, n: number): PredictResponse {
  const outputs: Record<string, OutputRows> = {};
  for (const [name, p] of Object.entries(r.outputs)) outputs[name] = outputRows(p, first, n);
  return { meta: predictionMeta(model, r), outputs };
}
