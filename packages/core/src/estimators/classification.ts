import { McuError } from '../errors.js';
import type { OutputReduction } from '../model.js';
import { formatDims } from '../tensor.js';
import type { Chunk, Estimator, ReducedChunk } from './estimator.js';
import { checkOutputName, parseLabels, readChunk, type ChunkLayout, type LabelsInput } from './input.js';
import { BatchMeans, checkMcBatches, DEFAULT_MC_BATCHES } from './batch-means.js';
import { StreamingLogSumExp } from './logsumexp.js';
import { argmax, entropy, expectedCalibrationError, softmaxEntropy, softmaxInto } from './metrics.js';
import { readReduced } from './reduced.js';

export interface ClassificationEstimatorOptions {
  /** The model output holding the logits (the softmax input), dims [S·N, C]. */
  readonly output: string;
  /** True class per row (N integers in [0, C)): enables log-likelihood, accuracy, Brier, ECE. */
  readonly labels?: LabelsInput;
  /** Confidence bins for ECE (equal width over (0, 1]); default 15. */
  readonly eceBins?: number;
  /**
   * What the output holds: `logits` (default; also right for log-softmax outputs, whose
   * softmax is themselves) or `probabilities` (the network ends in a softmax): each sample's
   * probabilities are then used as they are, through logits log p.
   */
  readonly outputs?: 'logits' | 'probabilities';
  /**
   * With labels: the number B of interleaved batches for the Monte Carlo standard errors of
   * `meanLogLikelihood` and `brier` (batch means; memory B·N·(C+1) float64 — for B·N·C over
   * 2^24 the Brier score's error is skipped, null). Default 32; 0 = off.
   */
  readonly mcBatches?: number;
}

/** Per-class arrays are flat row-major with dims [N, C]; per-row arrays have length N. */
export interface ClassificationResult {
  readonly output: string;
  /** T: MC samples consumed. */
  readonly samples: number;
  /** [N, C]. */
  readonly dims: readonly [number, number];
  /** p̄ = (1/T) Σ_t softmax(ŷ_t). */
  readonly probs: Float64Array;
  /** Standard error of each p̄ entry: sqrt(unbiased sample variance / T); Infinity when T < 2. */
  readonly probsStandardError: Float64Array;
  /** argmax_c p̄ (lowest class on ties). */
  readonly predicted: Int32Array;
  /** max_c p̄. */
  readonly confidence: Float64Array;
  /** How many of the T samples had argmax ŷ_t = c (lowest class on ties), [N, C]. */
  readonly votes: Int32Array;
  /** Predictive entropy H[p̄] (nats). */
  readonly entropy: Float64Array;
  /** (1/T) Σ_t H[softmax(ŷ_t)] (nats). */
  readonly expectedEntropy: Float64Array;
  /** Mutual information (BALD): entropy − expectedEntropy, ≥ 0. */
  readonly mutualInformation: Float64Array;
  /** 1 − f_mode / T, f_mode = count of the most frequent sampled label (the paper's definition). */
  readonly variationRatio: Float64Array;
  /** log p̄[y] = logsumexp_t(log_softmax(ŷ_t)[y]) − log T per row; null without labels. */
  readonly logLikelihood: Float64Array | null;
  readonly meanLogLikelihood: number | null;
  /** Fraction of rows with predicted = label; null without labels. */
  readonly accuracy: number | null;
  /** Mean over rows of Σ_c (p̄_c − 1[c = y])²; null without labels. */
  readonly brier: number | null;
  /** Expected calibration error of max p̄ (eceBins equal-width bins); null without labels. */
  readonly ece: number | null;
  /**
   * Monte Carlo standard error of `meanLogLikelihood` (batch means, see `mcBatches`): a run
   * with other masks differs by about √2 times it. Null without labels or batches, or T < 2.
   */
  readonly logLikelihoodStandardError: number | null;
  /** Monte Carlo standard error of `brier`, likewise. */
  readonly brierStandardError: number | null;
  /**
   * Per row: the effective number of samples behind log p̄[y], (Σ_t p_t[y])² / Σ_t p_t[y]²;
   * near 1 when the true class got its probability from a few samples. Null without labels.
   */
  readonly logLikelihoodEffectiveSamples: Float64Array | null;
}

/**
 * Streaming classification summary of MC dropout logits. State is O(N·C): Σ_t p_t, Σ_t p_t²,
 * Σ_t H[p_t], argmax votes, and one streaming log-sum-exp per row for the log-likelihood. All
 * per-value sums run in sample order, so the results of update() are byte-identical for any
 * chunking; chunks reduced by the backend (updateReduced, without labels) give them to float
 * tolerance.
 */
export class ClassificationEstimator implements Estimator<ClassificationResult> {
  readonly output: string;
  private readonly labelsInput: LabelsInput | undefined;
  private readonly eceBins: number;
  private consumed = 0;
  private layout: ChunkLayout | undefined;
  private sumP = new Float64Array(0);
  private sumP2 = new Float64Array(0);
  private sumH = new Float64Array(0);
  private votes = new Int32Array(0);
  private labels: Int32Array | null = null;
  private lse: StreamingLogSumExp | null = null;
  private probsBuf = new Float64Array(0);
  private readonly norm = new Float64Array(2);
  private readonly fromProbabilities: boolean;
  private logBuf = new Float64Array(0);
  private readonly mcBatches: number;
  private batchMeans: BatchMeans | null = null;

  constructor(options: ClassificationEstimatorOptions) {
    this.output = checkOutputName(options?.output, 'ClassificationEstimator');
    this.labelsInput = options.labels;
    const bins = options.eceBins ?? 15;
    if (!Number.isInteger(bins) || bins < 1) {
      throw new McuError('E_CONFIG', `ClassificationEstimator: eceBins must be a positive integer, got ${bins}`);
    }
    this.eceBins = bins;
    const kind = options.outputs ?? 'logits';
    if (kind !== 'logits' && kind !== 'probabilities') {
      throw new McuError('E_CONFIG', `ClassificationEstimator: outputs must be 'logits' or 'probabilities', got ${String(kind)}`);
    }
    this.fromProbabilities = kind === 'probabilities';
    this.mcBatches = options.mcBatches === undefined ? DEFAULT_MC_BATCHES : checkMcBatches(options.mcBatches, 'ClassificationEstimator');
  }

  get samples(): number {
    return this.consumed;
  }

  /** The first chunk fixes the rows and classes. */
  private start(N: number, rest: readonly number[], C: number, who: string): void {
    if (rest.length === 0 || rest[rest.length - 1] !== C || C < 2) {
      throw new McuError(
        'E_INPUT',
        `${who}: output '${this.output}' must be logits of dims [samples·rows, C] with C ≥ 2 classes, ` + `got per-row dims ${formatDims(rest)}`,
      );
    }
    const labels = this.labelsInput === undefined ? null : parseLabels(this.labelsInput, N, C, who);
    this.layout = { rows: N, rest, width: C };
    this.sumP = new Float64Array(N * C);
    this.sumP2 = new Float64Array(N * C);
    this.sumH = new Float64Array(N);
    this.votes = new Int32Array(N * C);
    this.probsBuf = new Float64Array(C);
    this.logBuf = new Float64Array(C);
    this.labels = labels;
    if (labels !== null) this.lse = new StreamingLogSumExp(N, true);
    if (labels !== null && this.mcBatches > 0) this.batchMeans = new BatchMeans(this.mcBatches, N, C, true);
  }

  /**
   * Without labels: per chunk the mean and M2 of p_t, the mean of H[p_t] and the argmax shares
   * (kind `logits` or `probabilities`, as the `outputs` option). With labels: null — the
   * log-likelihood's log-sum-exp and the batch-means errors of it and of the Brier score
   * (sample t in batch t mod B) need each sample's probabilities, so those runs take the raw
   * path.
   */
  reduction(): OutputReduction | null {
    if (this.labelsInput !== undefined) return null;
    return { output: this.output, kind: this.fromProbabilities ? 'probabilities' : 'logits' };
  }

  /**
   * One chunk reduced by the backend: Σ_t p_t += n_b·m_b, Σ_t p_t² += M2_b + n_b·m_b² (so the
   * variance behind probsStandardError rests on the chunks' deviations, not on float32 sums of
   * squares), Σ_t H[p_t] += n_b·H̄_b and votes += round(n_b · share) — the counts are exact:
   * a float32 share k/n_b times n_b is within 2⁻²³·k of the integer k.
   */
  updateReduced(chunk: ReducedChunk): void {
    const who = 'ClassificationEstimator';
    if (this.labelsInput !== undefined) {
      throw new McuError('E_INPUT', `${who}: with labels the estimator needs the raw samples (update), not a reduced chunk (see reduction())`);
    }
    const kind = this.fromProbabilities ? 'probabilities' : 'logits';
    const r = readReduced(chunk, this.output, kind, this.consumed, who);
    const N = chunk.rows;
    const C = r.dims[r.dims.length - 1] ?? 0;
    const layout = this.layout;
    if (layout === undefined) this.start(N, [...r.dims], C, who);
    else if (N !== layout.rows || C !== layout.width) {
      throw new McuError(
        'E_INPUT',
        `${who}: every chunk of '${this.output}' must have ${layout.rows} rows of ${layout.width} classes (first chunk), got ${N} of ${C}`,
      );
    }
    const S = chunk.samples;
    const { sumP, sumP2, sumH, votes } = this;
    const mean = r.mean;
    const m2 = r.m2;
    const share = r.votes!;
    const h = r.entropy!;
    for (let k = 0; k < sumP.length; k++) {
      const m = mean[k];
      sumP[k] += S * m;
      sumP2[k] += m2[k] + S * m * m;
      votes[k] += Math.round(S * share[k]);
    }
    for (let i = 0; i < N; i++) sumH[i] += S * h[i];
    this.consumed += S;
  }

  update(chunk: Chunk): void {
    const who = 'ClassificationEstimator';
    const v = readChunk(chunk, this.output, this.consumed, this.layout, who);
    const { data, samples: S, rows: N, width: C } = v;
    if (this.layout === undefined) this.start(N, v.rest, C, who);
    const { sumP, sumP2, sumH, votes, labels, lse, norm } = this;
    const p = this.probsBuf;
    const bm = this.batchMeans;
    for (let t = 0; t < S; t++) {
      const b = bm === null ? 0 : bm.begin(this.consumed + t);
      for (let i = 0; i < N; i++) {
        let src: ArrayLike<number> = data;
        let off = (t * N + i) * C;
        if (this.fromProbabilities) {
          // softmax(log p) = p / Σp: the same code path, for outputs that are already probabilities.
          for (let c = 0; c < C; c++) {
            const v = data[off + c]!;
            if (!(v >= 0 && v <= 1 + 1e-6)) {
              throw new McuError(
                'E_INPUT',
                `${who}: output '${this.output}' was declared probabilities, but sample ${this.consumed + t}, row ${i}, class ${c} is ${v}; treat it as logits instead`,
              );
            }
            this.logBuf[c] = Math.log(Math.max(v, Number.MIN_VALUE));
          }
          src = this.logBuf;
          off = 0;
        }
        softmaxInto(src, off, C, p, norm);
        sumH[i] += softmaxEntropy(src, off, C, p, norm);
        const row = i * C;
        for (let c = 0; c < C; c++) {
          const pc = p[c];
          sumP[row + c] += pc;
          sumP2[row + c] += pc * pc;
          if (bm !== null) bm.addValue(b, row + c, pc);
        }
        votes[row + argmax(src, off, C)] += 1;
        if (lse !== null) {
          const y = (labels as Int32Array)[i];
          const logPy = src[off + y]! - norm[0] - norm[1];
          lse.add(logPy, i);
          if (bm !== null) bm.addLogWeight(b, i, logPy);
        }
      }
    }
    this.consumed += S;
  }

  maxStandardError(): number {
    const T = this.consumed;
    if (T < 2) return Infinity;
    let worst = 0;
    for (let k = 0; k < this.sumP.length; k++) {
      const v = this.unbiasedVariance(k, T);
      if (v > worst) worst = v;
    }
    return Math.sqrt(worst / T);
  }

  /** Unbiased sample variance of entry k of p_t, from Σp and Σp² (clamped at 0 against round-off). */
  private unbiasedVariance(k: number, T: number): number {
    const s = this.sumP[k];
    const v = (this.sumP2[k] - (s * s) / T) / (T - 1);
    return v > 0 ? v : 0;
  }

  result(): ClassificationResult {
    const layout = this.layout;
    const T = this.consumed;
    if (layout === undefined || T === 0) {
      throw new McuError('E_RUNTIME', `ClassificationEstimator: no MC samples of '${this.output}' yet; call update() first`);
    }
    const N = layout.rows;
    const C = layout.width;
    const probs = new Float64Array(N * C);
    const probsStandardError = new Float64Array(N * C);
    const predicted = new Int32Array(N);
    const confidence = new Float64Array(N);
    const ent = new Float64Array(N);
    const expectedEntropy = new Float64Array(N);
    const mutualInformation = new Float64Array(N);
    const variationRatio = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      const row = i * C;
      let fMode = 0;
      for (let c = 0; c < C; c++) {
        const k = row + c;
        probs[k] = this.sumP[k] / T;
        probsStandardError[k] = T < 2 ? Infinity : Math.sqrt(this.unbiasedVariance(k, T) / T);
        if (this.votes[k] > fMode) fMode = this.votes[k];
      }
      predicted[i] = argmax(probs, row, C);
      confidence[i] = probs[row + predicted[i]];
      ent[i] = entropy(probs, row, C);
      expectedEntropy[i] = this.sumH[i] / T;
      // MI ≥ 0 exactly (entropy is concave, Jensen); a negative value can only be float
      // round-off (e.g. identical samples give H[p̄] and mean H[p_t] differing in the last
      // bits), so it is clamped to 0.
      const mi = ent[i] - expectedEntropy[i];
      mutualInformation[i] = mi > 0 ? mi : 0;
      variationRatio[i] = 1 - fMode / T;
    }
    let logLikelihood: Float64Array | null = null;
    let meanLogLikelihood: number | null = null;
    let accuracy: number | null = null;
    let brier: number | null = null;
    let ece: number | null = null;
    let logLikelihoodStandardError: number | null = null;
    let brierStandardError: number | null = null;
    let logLikelihoodEffectiveSamples: Float64Array | null = null;
    const labels = this.labels;
    if (labels !== null && this.lse !== null) {
      logLikelihood = new Float64Array(N);
      const correct = new Uint8Array(N);
      const logT = Math.log(T);
      let sLL = 0;
      let sBrier = 0;
      let hits = 0;
      for (let i = 0; i < N; i++) {
        const y = labels[i];
        logLikelihood[i] = this.lse.value(i) - logT;
        sLL += logLikelihood[i];
        let b = 0;
        for (let c = 0; c < C; c++) {
          const d = probs[i * C + c] - (c === y ? 1 : 0);
          b += d * d;
        }
        sBrier += b;
        if (predicted[i] === y) {
          correct[i] = 1;
          hits += 1;
        }
      }
      meanLogLikelihood = sLL / N;
      accuracy = hits / N;
      brier = sBrier / N;
      ece = expectedCalibrationError(confidence, correct, this.eceBins);
      const lse = this.lse;
      logLikelihoodEffectiveSamples = Float64Array.from({ length: N }, (_, i) => lse.effectiveSamples(i));
      if (this.batchMeans !== null) {
        logLikelihoodStandardError = this.batchMeans.logLikelihoodError(lse.values(), T);
        // ∂Brier/∂p̄_ic = 2 (p̄_ic − 1[c = y_i]) / N
        const gradient = Float64Array.from(probs, (v, k) => (2 * (v - (k % C === labels[Math.floor(k / C)] ? 1 : 0))) / N);
        brierStandardError = this.batchMeans.linearError(probs, gradient);
      }
    }
    return {
      output: this.output,
      samples: T,
      dims: [N, C],
      probs,
      probsStandardError,
      predicted,
      confidence,
      votes: Int32Array.from(this.votes),
      entropy: ent,
      expectedEntropy,
      mutualInformation,
      variationRatio,
      logLikelihood,
      meanLogLikelihood,
      accuracy,
      brier,
      ece,
      logLikelihoodStandardError,
      brierStandardError,
      logLikelihoodEffectiveSamples,
    };
  }
}
