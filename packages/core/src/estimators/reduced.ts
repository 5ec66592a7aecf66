/**
 * Checks of chunks that the backend reduced over their samples ({@link ReducedChunk}), shared
 * by the estimators' `updateReduced` and the engine.
 */
import { McuError } from '../errors.js';
import type { ReducedOutput, ReducedOutputs, ReductionKind } from '../model.js';
import { formatDims, sizeOf } from '../tensor.js';
import type { ReducedChunk } from './estimator.js';

/** The largest value a `probabilities` output may hold (as ClassificationEstimator.update allows: float32 sums a little over 1). */
export const PROBABILITY_SLACK = 1e-6;

function allFinite(a: ArrayLike<number> | undefined): boolean {
  if (a === undefined) return true;
  for (let k = 0; k < a.length; k++) if (!Number.isFinite(a[k])) return false;
  return true;
}

/**
 * Whether reduced outputs can stand for their raw samples: every number finite (a sum over
 * samples is non-finite when any sample is, and float32 sums can also overflow where float64
 * would not) and `probabilities` within [0, 1 + 1e-6]. When not, the engine runs the chunk
 * again on the raw path, where the estimators name the sample, row and value that is wrong.
 */
export function reducedUsable(outputs: ReducedOutputs): boolean {
  for (const r of outputs) {
    if (!allFinite(r.mean) || !allFinite(r.m2) || !allFinite(r.shift) || !allFinite(r.entropy) || !allFinite(r.votes)) return false;
    if (r.kind === 'probabilities') {
      const range = r.range;
      if (range === undefined || !(range[0] >= 0 && range[1] <= 1 + PROBABILITY_SLACK)) return false;
    }
  }
  return true;
}

/** One chunk's reduction of `output`, checked: sample order, sizes, finite values. */
export function readReduced(chunk: ReducedChunk, output: string, kind: ReductionKind, consumed: number, who: string): ReducedOutput {
  const S = chunk.samples;
  const N = chunk.rows;
  if (!Number.isInteger(S) || S < 1) throw new McuError('E_INPUT', `${who}: chunk.samples must be a positive integer, got ${S}`);
  if (!Number.isInteger(N) || N < 1) throw new McuError('E_INPUT', `${who}: chunk.rows must be a positive integer, got ${N}`);
  if (chunk.firstSample !== consumed) {
    throw new McuError('E_INPUT', `${who}: chunks must arrive in sample order: expected firstSample ${consumed}, got ${chunk.firstSample}`);
  }
  const r = chunk.outputs.find((o) => o.output === output && o.kind === kind);
  if (r === undefined) {
    const have = chunk.outputs.map((o) => `${o.output} (${o.kind})`);
    throw new McuError(
      'E_INPUT',
      `${who}: the reduced chunk has no '${kind}' reduction of output '${output}' (it has: ${have.length ? have.join(', ') : 'none'})`,
    );
  }
  const width = sizeOf(r.dims);
  if (width < 1 || r.mean.length !== N * width || r.m2.length !== N * width) {
    throw new McuError(
      'E_INPUT',
      `${who}: the reduction of '${output}' must hold ${N} rows of dims ${formatDims(r.dims)} (${N * width} values), got mean ${r.mean.length} and m2 ${r.m2.length}`,
    );
  }
  if (r.shift !== undefined && r.shift.length !== N * width) {
    throw new McuError('E_INPUT', `${who}: the reduction of '${output}' has ${r.shift.length} shift values, expected ${N * width}`);
  }
  if (kind !== 'moments' && (r.entropy?.length !== N || r.votes?.length !== N * width)) {
    throw new McuError('E_INPUT', `${who}: the classification reduction of '${output}' needs entropy (${N}) and votes (${N * width}) values`);
  }
  if (!reducedUsable([r])) {
    throw new McuError(
      'E_RUNTIME',
      `${who}: the reduction of '${output}' over MC samples ${consumed}–${consumed + S - 1} holds a non-finite value` +
        (kind === 'probabilities' ? ' or a probability outside [0, 1]' : '') +
        '; feed the raw samples (update) to find the sample and row',
    );
  }
  return r;
}
