import type { FoldedSampleSite, MaskScope, StochasticModel, StochasticSite } from '../model.js';
import { McuError } from '../errors.js';
import { sizeOf } from '../tensor.js';

/**
 * A call that reduces its outputs over the samples inside the model (`runReduced`), and the
 * sites it folds into their weight layers ({@link StochasticModel.foldedSampleSites}; sample
 * scope only).
 */
export interface ReducedCall {
  readonly folded: readonly FoldedSampleSite[];
}

/**
 * Copies of an output of S·N values a reduced call holds: the reductions' intermediates (for
 * logits: LogSoftmax, exp, deviations from the mean and their squares, p·log p, the OneHot votes).
 */
export const REDUCED_OUTPUT_COPIES = 6;

/**
 * Estimate the bytes one MC sample costs in one backend call over N rows:
 * its masks, the activations at every site (a site's activation has the mask's size per row)
 * counted twice (input and product), and its outputs — all float32. In a reduced call
 * (`reduced`) the outputs count {@link REDUCED_OUTPUT_COPIES} times, and a site folded into its
 * weight layer costs instead of its activation its masked weights (D·D′), the layer's output
 * (N·D′) and its input (N·D) unless that input has no sample axis. A conservative heuristic:
 * backends hold other intermediates too, so the budget is a target, not a bound.
 */
export function bytesPerSample(
  model: StochasticModel,
  rows: number,
  scope: MaskScope,
  sites: readonly StochasticSite[] = model.sites,
  reduced?: ReducedCall,
): number {
  const foldedBy = new Map(scope === 'sample' && reduced ? reduced.folded.map((f) => [f.site, f]) : []);
  let floats = 0;
  for (const site of sites) {
    const perRow = sizeOf(site.maskShape);
    floats += (scope === 'point' ? rows : 1) * perRow; // the mask itself
    const f = foldedBy.get(site.name);
    if (f === undefined)
      floats += 2 * rows * perRow; // activation in and out of the site
    else floats += perRow * f.outputs + rows * f.outputs + (f.sharedInput ? 0 : rows * perRow);
  }
  for (const out of model.outputs) {
    const rest = out.dims.slice(1).map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    floats += rows * sizeOf(rest) * (reduced ? REDUCED_OUTPUT_COPIES : 1);
  }
  return Math.max(1, floats) * 4;
}

/** Per-call bytes of the widest site activation, when a model has little work before its first site. */
export const CACHE_FRIENDLY_BYTES = 8 * 1024 * 1024;
/** From this share of work before the first site on, calls are as large as the budget allows. */
export const PREFIX_SHARE_FOR_BUDGET = 0.5;

/**
 * Samples per backend call: as many as the memory budget allows (at least 1), so that the
 * work before the first site is done once for many samples. When the model says that work is
 * small (`shareBeforeFirstSite` < 0.5: an MLP with dropout from its first layer on), there is
 * nothing to amortise and large calls only push activations out of cache; the widest site
 * activation of one call is then kept to about 8 MiB. Measured (T = 100, in-graph, interleaved
 * pairs): co2 4×512 on 741 rows 2 samples per call 320 ms vs 14 per call 390 ms, and 1, 4 or 5
 * per call within ±5 % of 2; co2 4×1024 on 1,000 rows 2 per call 0.91× the time of 1 (its 4 MB
 * weights read half as often per row) and 4 per call 1.02× 2; co2 4×128 22 per call 0.94× 11; the
 * UCI model 822 per call as 411. `reduced`: a call that reduces in the model (see
 * {@link bytesPerSample}).
 */
export function chunkSamplesFor(
  model: StochasticModel,
  rows: number,
  scope: MaskScope,
  budgetBytes: number,
  total: number,
  sites: readonly StochasticSite[] = model.sites,
  reduced?: ReducedCall,
): number {
  if (!(budgetBytes > 0)) {
    throw new McuError('E_CONFIG', `memory budget must be a positive number of bytes, got ${budgetBytes}`);
  }
  const per = bytesPerSample(model, rows, scope, sites, reduced);
  let chunk = Math.max(1, Math.min(total, Math.floor(budgetBytes / per)));
  const share = model.shareBeforeFirstSite;
  if (share !== undefined && share < PREFIX_SHARE_FOR_BUDGET) {
    const widest = Math.max(0, ...sites.map((s) => sizeOf(s.maskShape))) * rows * 4;
    if (widest > 0) chunk = Math.min(chunk, Math.max(1, Math.floor(CACHE_FRIENDLY_BYTES / widest)));
  }
  return chunk;
}
