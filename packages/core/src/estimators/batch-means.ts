import { McuError } from '../errors.js';
import { StreamingLogSumExp } from './logsumexp.js';

/** Default number of interleaved batches when Monte Carlo standard errors are on. */
export const DEFAULT_MC_BATCHES = 32;

/**
 * The most per-batch mean values kept (B·N·D float64: 128 MiB). Beyond it the errors of
 * statistics of the mean values (RMSE, Brier) are not computed — null — while the
 * log-likelihood's, which needs only B·N, still is.
 */
export const MAX_BATCH_VALUES = 2 ** 24;

/** Validates `mcBatches`: 0 (off) or an integer in [2, 4096]. */
export function checkMcBatches(value: unknown, who: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || (value !== 0 && (value < 2 || value > 4096))) {
    throw new McuError('E_CONFIG', `${who}: mcBatches must be 0 (no Monte Carlo standard errors) or an integer from 2 to 4096, got ${String(value)}`);
  }
  return value;
}

/**
 * Monte Carlo standard errors of T-sample statistics (test log-likelihood, RMSE, Brier score)
 * by the method of batch means.
 *
 * Sample t goes to batch t mod B (the masks of different samples are independent, so any
 * fixed partition works and the assignment does not depend on how samples are chunked).
 * Each batch keeps its own running mean per value and its own log-sum-exp per row. The
 * statistics are smooth functions of per-row sample means, so they are linearised around the
 * all-sample estimate (delta method): batch b's deviation is
 *   LL:     z_b = (1/N) Σ_i (w̄_bi / w̄_i − 1)     (w = the row's likelihood under one sample)
 *   f(m̄):   z_b = Σ_k ∂f/∂m̄_k · (m̄_bk − m̄_k)      (RMSE, Brier: functions of the mean values)
 * and SE² = Σ_b n_b z_b² / ((B' − 1)·T) over the B' non-empty batches (n_b samples each).
 * Rows may share masks (mask scope 'sample'): the batches see whole samples, so the
 * correlation between rows is in the z_b and the error is not understated.
 *
 * Memory: B·N·(D + 1) float64 values (D values per row); B·N when B·N·D > {@link MAX_BATCH_VALUES}.
 */
export class BatchMeans {
  readonly batches: number;
  private readonly rows: number;
  private readonly width: number;
  private readonly counts: Float64Array;
  private readonly means: Float64Array | null;
  private readonly lse: StreamingLogSumExp | null;

  constructor(batches: number, rows: number, width: number, withLogLikelihood: boolean) {
    this.batches = batches;
    this.rows = rows;
    this.width = width;
    this.counts = new Float64Array(batches);
    this.means = batches * rows * width <= MAX_BATCH_VALUES ? new Float64Array(batches * rows * width) : null;
    this.lse = withLogLikelihood ? new StreamingLogSumExp(batches * rows) : null;
  }

  /** Starts global sample `t`; returns its batch. */
  begin(t: number): number {
    const b = t % this.batches;
    this.counts[b] += 1;
    return b;
  }

  /** Value k (row-major over N·D) of the current sample of batch b. */
  addValue(b: number, k: number, x: number): void {
    const means = this.means;
    if (means === null) return;
    const j = b * this.rows * this.width + k;
    means[j] += (x - means[j]) / this.counts[b];
  }

  /** −τ/2 ‖y − ŷ‖² of row i of the current sample of batch b. */
  addLogWeight(b: number, i: number, v: number): void {
    this.lse!.add(v, b * this.rows + i);
  }

  private combine(z: (b: number, n: number) => number): number | null {
    let T = 0;
    let used = 0;
    let s = 0;
    for (let b = 0; b < this.batches; b++) {
      const n = this.counts[b];
      if (n === 0) continue;
      const zb = z(b, n);
      s += n * zb * zb;
      T += n;
      used++;
    }
    if (used < 2) return null;
    return Math.sqrt(s / ((used - 1) * T));
  }

  /** SE of the mean log-likelihood, given each row's log-sum-exp over all T samples. */
  logLikelihoodError(totalLse: Float64Array, T: number): number | null {
    const lse = this.lse;
    if (lse === null) return null;
    const N = this.rows;
    const logT = Math.log(T);
    return this.combine((b, n) => {
      const logN = Math.log(n);
      let s = 0;
      for (let i = 0; i < N; i++) s += Math.exp(lse.value(b * N + i) - logN - (totalLse[i] - logT)) - 1;
      return s / N;
    });
  }

  /**
   * SE of f(mean values), given the all-sample means and the gradient ∂f/∂mean (N·D each);
   * null when the per-batch means were too many to keep.
   */
  linearError(mean: Float64Array, gradient: Float64Array): number | null {
    const means = this.means;
    if (means === null) return null;
    const K = this.rows * this.width;
    return this.combine((b) => {
      const off = b * K;
      let s = 0;
      for (let k = 0; k < K; k++) s += gradient[k] * (means[off + k] - mean[k]);
      return s;
    });
  }
}
