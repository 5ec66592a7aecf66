import type { MaskScope, StochasticModel } from '../model.js';
import { McuError } from '../errors.js';
import { sizeOf } from '../tensor.js';

/**
 * Estimate the bytes one MC sample costs in one backend call over N rows:
 * its masks, the activations at every site (a site's activation has the mask's size per row)
 * counted twice (input and product), and its outputs — all float32. A conservative
 * heuristic: backends hold other intermediates too, so the budget is a target, not a bound.
 */
export function bytesPerSample(model: StochasticModel, rows: number, scope: MaskScope): number {
  let floats = 0;
  for (const site of model.sites) {
    const perRow = sizeOf(site.maskShape);
    floats += (scope === 'point' ? rows : 1) * perRow; // the mask itself
    floats += 2 * rows * perRow; // activation in and out of the site
  }
  for (const out of model.outputs) {
    const rest = out.dims.slice(1).map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    floats += rows * sizeOf(rest);
  }
  return Math.max(1, floats) * 4;
}

/** Samples per backend call so that one call stays within the memory budget (at least 1). */
export function chunkSamplesFor(
  model: StochasticModel,
  rows: number,
  scope: MaskScope,
  budgetBytes: number,
  total: number,
): number {
  if (!(budgetBytes > 0)) {
    throw new McuError('E_CONFIG', `memory budget must be a positive number of bytes, got ${budgetBytes}`);
  }
  const per = bytesPerSample(model, rows, scope);
  return Math.max(1, Math.min(total, Math.floor(budgetBytes / per)));
}
