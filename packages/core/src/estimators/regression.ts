import { McuError } from '../errors.js';
import type { OutputReduction } from '../model.js';
import { sizeOf, type TensorData } from '../tensor.js';
import type { Chunk, Estimator, ReducedChunk } from './estimator.js';
import { checkOutputName, parseTargets, readChunk, type ChunkLayout, type TargetsInput } from './input.js';
import { BatchMeans, checkMcBatches, DEFAULT_MC_BATCHES } from './batch-means.js';
import { StreamingLogSumExp } from './logsumexp.js';
import { rootMeanSquaredError } from './metrics.js';
import { readReduced } from './reduced.js';

const LOG_2PI = Math.log(2 * Math.PI);

export interface RegressionEstimatorOptions {
  /** The model output to summarise. */
  readonly output: string;
  /** Model precision τ > 0 (eq. 7). Without it τ⁻¹ = 0 and no log-likelihood is computed. */
  readonly tau?: number;
  /** True values, N×D (flat row-major or N rows of D): enables log-likelihood and RMSE. */
  readonly targets?: TargetsInput;
  /**
   * With targets: the number B of interleaved batches used for the Monte Carlo standard
   * errors of `meanLogLikelihood` and `rmse` (batch means; memory B·N·(D+1) float64 — for
   * B·N·D over 2^24 the RMSE's error is skipped, null). Default 32; 0 turns them off.
   */
  readonly mcBatches?: number;
}

/** Every per-value array is flat row-major with dims [N, D], D = prod(outputDims). */
export interface RegressionResult {
  readonly output: string;
  /** T: MC samples consumed. */
  readonly samples: number;
  /** [N, D]. */
  readonly dims: readonly [number, number];
  /** The output's dims per row (D = their product). */
  readonly outputDims: readonly number[];
  /** τ used for `variance` and `logLikelihood`; null when none was given (then τ⁻¹ = 0). */
  readonly tau: number | null;
  /** Predictive mean (eq. 6): (1/T) Σ_t ŷ_t. */
  readonly mean: Float64Array;
  /** Predictive variance: sampleVariance + τ⁻¹. */
  readonly variance: Float64Array;
  /** sqrt(variance). */
  readonly std: Float64Array;
  /** Biased sample variance (1/T) Σ_t ŷ_t² − mean², without τ⁻¹. */
  readonly sampleVariance: Float64Array;
  /** Standard error of the MC mean: sqrt(unbiased sample variance / T); Infinity when T < 2. */
  readonly standardError: Float64Array;
  /** Eq. 8 per row (length N); null without targets or without τ. */
  readonly logLikelihood: Float64Array | null;
  /** Average of `logLikelihood` over rows; null when it is null. */
  readonly meanLogLikelihood: number | null;
  /** RMSE of the MC mean against the targets, over all N·D values; null without targets. */
  readonly rmse: number | null;
  /**
   * Monte Carlo standard error of `meanLogLikelihood` as an estimate of its T → ∞ limit
   * (batch means, see `mcBatches`): a second run with other masks differs from this one by
   * about √2 times it. Null without targets, τ or batches, or with fewer than 2 samples.
   */
  readonly logLikelihoodStandardError: number | null;
  /** Monte Carlo standard error of `rmse`, likewise; null without targets or batches. */
  readonly rmseStandardError: number | null;
  /**
   * Per row (length N): the effective number of samples behind its eq. 8 log-sum-exp,
   * (Σ_t w_t)² / Σ_t w_t² with w_t = exp(−τ/2 ‖y − ŷ_t‖²). Near T when the samples agree on
   * the row; near 1 when the row's likelihood rests on a few samples that came close to a far
   * target — then that row's log-likelihood (and the standard error above, which cannot see
   * the samples that did not occur) is unreliable until T grows. Null without targets or τ.
   */
  readonly logLikelihoodEffectiveSamples: Float64Array | null;
}

function checkTau(tau: unknown, who: string): number | null {
  if (tau === undefined) return null;
  if (typeof tau !== 'number' || !Number.isFinite(tau) || tau <= 0) {
    throw new McuError('E_CONFIG', `${who}: tau (model precision) must be a finite number > 0, got ${String(tau)}`);
  }
  return tau;
}

/**
 * Streaming regression summary of MC dropout outputs (Gal & Ghahramani 2016, eqs. 6–8).
 *
 * State is O(N·D): a Welford running mean and sum of squared deviations per value, and one
 * streaming log-sum-exp per row for eq. 8. Every per-value update runs in sample order, one
 * sample at a time, so the results of update() are byte-identical however the samples are
 * chunked. Chunks reduced by the backend (updateReduced, without targets) give the same
 * results to float tolerance — the backend's float32 sums depend on the chunk size in the
 * last bits.
 */
export class RegressionEstimator implements Estimator<RegressionResult> {
  readonly output: string;
  readonly tau: number | null;
  private readonly targetsInput: TargetsInput | undefined;
  private consumed = 0;
  private layout: ChunkLayout | undefined;
  private mean = new Float64Array(0);
  private m2 = new Float64Array(0);
  private targets: Float64Array | null = null;
  private lse: StreamingLogSumExp | null = null;
  private readonly mcBatches: number;
  private batchMeans: BatchMeans | null = null;

  constructor(options: RegressionEstimatorOptions) {
    this.output = checkOutputName(options?.output, 'RegressionEstimator');
    this.tau = checkTau(options.tau, 'RegressionEstimator');
    this.targetsInput = options.targets;
    this.mcBatches = options.mcBatches === undefined ? DEFAULT_MC_BATCHES : checkMcBatches(options.mcBatches, 'RegressionEstimator');
  }

  get samples(): number {
    return this.consumed;
  }

  /** The first chunk fixes the rows and per-row dims. */
  private start(N: number, rest: readonly number[], D: number, who: string): void {
    // Parse targets before committing to the layout, so a mismatch leaves the estimator fresh.
    const targets = this.targetsInput === undefined ? null : parseTargets(this.targetsInput, N, D, who);
    this.layout = { rows: N, rest, width: D };
    this.mean = new Float64Array(N * D);
    this.m2 = new Float64Array(N * D);
    this.targets = targets;
    if (targets !== null && this.tau !== null) this.lse = new StreamingLogSumExp(N, true);
    if (targets !== null && this.mcBatches > 0) this.batchMeans = new BatchMeans(this.mcBatches, N, D, this.lse !== null);
  }

  update(chunk: Chunk): void {
    const who = 'RegressionEstimator';
    const v = readChunk(chunk, this.output, this.consumed, this.layout, who);
    const { data, samples: S, rows: N, width: D } = v;
    if (this.layout === undefined) this.start(N, v.rest, D, who);
    const mean = this.mean;
    const m2 = this.m2;
    const targets = this.targets;
    const lse = this.lse;
    const halfTau = this.tau === null ? 0 : 0.5 * this.tau;
    const bm = this.batchMeans;
    for (let t = 0; t < S; t++) {
      const n = this.consumed + t + 1;
      const b = bm === null ? 0 : bm.begin(n - 1);
      for (let i = 0; i < N; i++) {
        const base = (t * N + i) * D;
        const row = i * D;
        let sq = 0;
        for (let d = 0; d < D; d++) {
          const x = data[base + d];
          const k = row + d;
          // Welford: stable running mean and sum of squared deviations.
          const delta = x - mean[k];
          mean[k] += delta / n;
          m2[k] += delta * (x - mean[k]);
          if (bm !== null) bm.addValue(b, k, x);
          if (lse !== null) {
            const e = (targets as Float64Array)[k] - x;
            sq += e * e;
          }
        }
        if (lse !== null) {
          const logWeight = -halfTau * sq;
          lse.add(logWeight, i);
          if (bm !== null) bm.addLogWeight(b, i, logWeight);
        }
      }
    }
    this.consumed += S;
  }

  /**
   * Without targets: per chunk the mean and M2 of every value over the chunk's samples
   * (`moments`). With targets: null — eq. 8's log-sum-exp, the RMSE and their batch-means
   * errors (sample t in batch t mod B) need each sample's values, so those runs take the raw
   * path.
   */
  reduction(): OutputReduction | null {
    return this.targetsInput === undefined ? { output: this.output, kind: 'moments' } : null;
  }

  /**
   * One chunk reduced by the backend: its per-value mean m_b and M2_b over n_b samples join the
   * running mean and M2 by Chan et al.'s parallel update in float64,
   *   δ = m_b − m, m += δ·n_b/n, M2 += M2_b + δ²·n_a·n_b/n,
   * the same as the one-sample Welford steps of update() to float tolerance (the backend's
   * float32 sums over ≤ S samples, relative ≈ S·2⁻²⁴ at worst). m_b = shift + mean when the
   * backend summed shifted samples, so that |mean| ≫ std loses nothing to float32.
   */
  updateReduced(chunk: ReducedChunk): void {
    const who = 'RegressionEstimator';
    if (this.targetsInput !== undefined) {
      throw new McuError('E_INPUT', `${who}: with targets the estimator needs the raw samples (update), not a reduced chunk (see reduction())`);
    }
    const r = readReduced(chunk, this.output, 'moments', this.consumed, who);
    const N = chunk.rows;
    const D = sizeOf(r.dims);
    const layout = this.layout;
    if (layout === undefined) this.start(N, [...r.dims], D, who);
    else if (N !== layout.rows || r.dims.length !== layout.rest.length || r.dims.some((d, k) => d !== layout.rest[k])) {
      throw new McuError(
        'E_INPUT',
        `${who}: every chunk of '${this.output}' must have ${layout.rows} rows of dims [${layout.rest.join(', ')}] (first chunk), got ${N} of [${r.dims.join(', ')}]`,
      );
    }
    const nA = this.consumed;
    const nB = chunk.samples;
    const n = nA + nB;
    const wB = nB / n;
    const wAB = (nA * nB) / n;
    const { mean, m2 } = this;
    const mB = r.mean;
    const m2B = r.m2;
    const shift = r.shift;
    for (let k = 0; k < mean.length; k++) {
      const delta = (shift === undefined ? mB[k] : shift[k] + mB[k]) - mean[k];
      mean[k] += delta * wB;
      m2[k] += m2B[k] + delta * delta * wAB;
    }
    this.consumed = n;
  }

  maxStandardError(): number {
    const T = this.consumed;
    if (T < 2) return Infinity;
    let worst = 0;
    for (let k = 0; k < this.m2.length; k++) if (this.m2[k] > worst) worst = this.m2[k];
    return Math.sqrt(worst / (T - 1) / T);
  }

  result(): RegressionResult {
    const layout = this.layout;
    const T = this.consumed;
    if (layout === undefined || T === 0) {
      throw new McuError('E_RUNTIME', `RegressionEstimator: no MC samples of '${this.output}' yet; call update() first`);
    }
    const N = layout.rows;
    const D = layout.width;
    const size = N * D;
    const tauInv = this.tau === null ? 0 : 1 / this.tau;
    const mean = Float64Array.from(this.mean);
    const variance = new Float64Array(size);
    const std = new Float64Array(size);
    const sampleVariance = new Float64Array(size);
    const standardError = new Float64Array(size);
    for (let k = 0; k < size; k++) {
      const sv = this.m2[k] / T;
      sampleVariance[k] = sv;
      variance[k] = sv + tauInv;
      std[k] = Math.sqrt(variance[k]);
      standardError[k] = T < 2 ? Infinity : Math.sqrt(this.m2[k] / (T - 1) / T);
    }
    let logLikelihood: Float64Array | null = null;
    let meanLogLikelihood: number | null = null;
    let logLikelihoodStandardError: number | null = null;
    let logLikelihoodEffectiveSamples: Float64Array | null = null;
    if (this.lse !== null && this.tau !== null) {
      // Eq. 8: logsumexp_t(−τ/2 ‖y − ŷ_t‖²) − log T − (D/2) log 2π + (D/2) log τ.
      const c = -Math.log(T) - 0.5 * D * LOG_2PI + 0.5 * D * Math.log(this.tau);
      logLikelihood = new Float64Array(N);
      logLikelihoodEffectiveSamples = new Float64Array(N);
      let s = 0;
      for (let i = 0; i < N; i++) {
        logLikelihood[i] = this.lse.value(i) + c;
        logLikelihoodEffectiveSamples[i] = this.lse.effectiveSamples(i);
        s += logLikelihood[i];
      }
      meanLogLikelihood = s / N;
      if (this.batchMeans !== null) logLikelihoodStandardError = this.batchMeans.logLikelihoodError(this.lse.values(), T);
    }
    const rmse = this.targets === null ? null : rootMeanSquaredError(mean, this.targets);
    let rmseStandardError: number | null = null;
    if (rmse !== null && this.batchMeans !== null) {
      // ∂RMSE/∂ŷ̄_k = (ŷ̄_k − y_k) / (N·D·RMSE); 0 when the RMSE is 0.
      const targets = this.targets as Float64Array;
      const gradient = Float64Array.from(mean, (m, k) => (rmse === 0 ? 0 : (m - targets[k]) / (size * rmse)));
      rmseStandardError = this.batchMeans.linearError(mean, gradient);
    }
    return {
      output: this.output,
      samples: T,
      dims: [N, D],
      outputDims: [...layout.rest],
      tau: this.tau,
      mean,
      variance,
      std,
      sampleVariance,
      standardError,
      logLikelihood,
      meanLogLikelihood,
      rmse,
      logLikelihoodStandardError,
      rmseStandardError,
      logLikelihoodEffectiveSamples,
    };
  }
}

export interface DeterministicRegressionOptions {
  /** With τ, also the Gaussian log-likelihood log N(y; ŷ, τ⁻¹ I) per row (eq. 8 with T = 1). */
  readonly tau?: number;
}

export interface DeterministicRegressionResult {
  /** [N, D]. */
  readonly dims: readonly [number, number];
  readonly rmse: number;
  readonly tau: number | null;
  readonly logLikelihood: Float64Array | null;
  readonly meanLogLikelihood: number | null;
}

/**
 * Metrics of the "standard dropout" pass: ONE deterministic forward pass with every mask = 1
 * (weight scaling), outputs dims [N, ...rest]. Reports its RMSE against the targets (and the
 * Gaussian log-likelihood when τ is given).
 */
export function deterministicRegression(
  outputs: TensorData,
  targets: TargetsInput,
  options: DeterministicRegressionOptions = {},
): DeterministicRegressionResult {
  const rows = outputs?.dims?.[0];
  if (!Number.isInteger(rows) || rows < 1) {
    throw new McuError('E_INPUT', `deterministicRegression: outputs must have dims [N, ...] with N ≥ 1, got [${outputs?.dims?.join(', ')}]`);
  }
  const est = new RegressionEstimator({ output: 'y', targets, mcBatches: 0, ...(options.tau === undefined ? {} : { tau: options.tau }) });
  est.update({ outputs: { y: outputs }, samples: 1, rows, firstSample: 0 });
  const r = est.result();
  return {
    dims: r.dims,
    rmse: r.rmse as number,
    tau: r.tau,
    logLikelihood: r.logLikelihood,
    meanLogLikelihood: r.meanLogLikelihood,
  };
}
