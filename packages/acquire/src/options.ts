/** The score options with their defaults, checked once (E_CONFIG naming the option and the fix). */
import { McuError } from '@mcu/core';
import { DEFAULT_BLOCK_ROWS, HEURISTICS, type Heuristic, type ScoreOptions } from './types.js';

/** {@link ScoreOptions} with every default filled in. */
export interface ResolvedScoreOptions {
  readonly heuristic: Heuristic;
  readonly k: number;
  readonly samples: number;
  readonly seed: number;
  readonly scope: 'sample' | 'point';
  readonly tau?: number;
  readonly blockRows: number;
  /** batchbald: m, the candidates kept by BALD (1 for the other heuristics: unused). */
  readonly candidates: number;
}

/** The classification heuristics (on a class-probability output); `std` scores a regression output. */
export const CLASSIFICATION_HEURISTICS: readonly Heuristic[] = ['bald', 'entropy', 'variation-ratio', 'margin', 'batchbald'];

const config = (msg: string): McuError => new McuError('E_CONFIG', msg);

/** Check the options against a pool of `poolRows` rows (k ≤ rows, before any model runs). */
export function resolveScoreOptions(options: ScoreOptions, poolRows: number): ResolvedScoreOptions {
  if (typeof options !== 'object' || options === null) throw config('acquire: score options are missing (heuristic, k, samples, seed)');
  const { heuristic, k, samples, seed } = options;
  if (!HEURISTICS.includes(heuristic)) throw config(`heuristic must be one of ${HEURISTICS.join(', ')}, got '${String(heuristic)}'`);
  if (!(Number.isSafeInteger(k) && k >= 1)) throw config(`k must be an integer ≥ 1, got ${String(k)}`);
  if (k > poolRows) throw config(`k = ${k} is larger than the pool (${poolRows} row${poolRows === 1 ? '' : 's'}); give k ≤ ${poolRows}`);
  if (!(Number.isSafeInteger(samples) && samples >= 1)) throw config(`samples (T) must be an integer ≥ 1, got ${String(samples)}`);
  if (!(Number.isSafeInteger(seed) && seed >= 0)) throw config(`seed must be an integer ≥ 0 (below 2^53), got ${String(seed)}`);
  const scope = options.scope ?? 'sample';
  if (scope !== 'sample' && scope !== 'point') throw config(`scope must be 'sample' or 'point', got '${String(scope)}'`);
  const blockRows = options.blockRows ?? DEFAULT_BLOCK_ROWS;
  if (!(Number.isSafeInteger(blockRows) && blockRows >= 1)) throw config(`blockRows must be an integer ≥ 1, got ${String(blockRows)}`);
  if (options.tau !== undefined) {
    if (heuristic !== 'std')
      throw config(`tau applies to the regression heuristic std only (a model precision added to the variance), not to ${heuristic}; drop tau`);
    if (!(typeof options.tau === 'number' && Number.isFinite(options.tau) && options.tau > 0))
      throw config(`tau must be a positive number, got ${String(options.tau)}`);
  }
  let candidates = 1;
  if (heuristic === 'batchbald') {
    if (scope !== 'sample') {
      throw config(
        "batchbald needs mask scope 'sample': its joint entropy multiplies the points' probabilities under the same network sample ω_t, which scope 'point' (masks per row) does not give; use scope 'sample'",
      );
    }
    const m = options.candidates ?? Math.max(10 * k, 100);
    if (!(Number.isSafeInteger(m) && m >= 1)) throw config(`candidates must be an integer ≥ 1, got ${String(options.candidates)}`);
    if (m < k) throw config(`candidates (${m}) must be at least k (${k}): BatchBALD picks the batch among the top candidates by BALD`);
    candidates = Math.min(m, poolRows);
  } else if (options.candidates !== undefined) {
    throw config(`candidates applies to batchbald only, not to ${heuristic}; drop it`);
  }
  return { heuristic, k, samples, seed, scope, blockRows, candidates, ...(options.tau !== undefined ? { tau: options.tau } : {}) };
}
