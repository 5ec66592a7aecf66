import { McuError } from '../errors.js';

/** Numeric arrays the estimators read (model outputs are float32 or float64). */
export type NumericArray = ArrayLike<number>;

/**
 * Stable softmax of src[offset .. offset+n) into out[0 .. n).
 * Writes norm[0] = max_c x_c and norm[1] = log Σ_c exp(x_c − max), so
 * log_softmax(x)_c = (x_c − norm[0]) − norm[1] without cancellation for large logits.
 */
export function softmaxInto(src: NumericArray, offset: number, n: number, out: Float64Array, norm: Float64Array): void {
  let m = -Infinity;
  for (let c = 0; c < n; c++) {
    const x = src[offset + c];
    if (x > m) m = x;
  }
  let z = 0;
  for (let c = 0; c < n; c++) {
    const e = Math.exp(src[offset + c] - m);
    out[c] = e;
    z += e;
  }
  for (let c = 0; c < n; c++) out[c] /= z;
  norm[0] = m;
  norm[1] = Math.log(z);
}

/**
 * Entropy (nats) of the softmax whose probabilities `probs` and normaliser `norm` came
 * from {@link softmaxInto} on the same logits: H = log Z − Σ_c p_c (x_c − max).
 * This form is exact for p_c that underflow to 0 (their term is 0·finite = 0).
 */
export function softmaxEntropy(src: NumericArray, offset: number, n: number, probs: Float64Array, norm: Float64Array): number {
  const m = norm[0];
  let s = 0;
  for (let c = 0; c < n; c++) s += probs[c] * (src[offset + c] - m);
  return norm[1] - s;
}

/** Entropy −Σ p log p (natural log) of p[offset .. offset+n), with 0·log 0 = 0. */
export function entropy(p: NumericArray, offset = 0, n = p.length - offset): number {
  let h = 0;
  for (let c = 0; c < n; c++) {
    const v = p[offset + c];
    if (v > 0) h -= v * Math.log(v);
  }
  return h;
}

/** Index of the largest of src[offset .. offset+n); the lowest index wins ties. */
export function argmax(src: NumericArray, offset = 0, n = src.length - offset): number {
  let best = 0;
  let bestValue = src[offset];
  for (let c = 1; c < n; c++) {
    const v = src[offset + c];
    if (v > bestValue) {
      bestValue = v;
      best = c;
    }
  }
  return best;
}

/** Root mean squared difference over all elements of two equally long arrays. */
export function rootMeanSquaredError(predicted: NumericArray, targets: NumericArray): number {
  if (predicted.length !== targets.length || predicted.length === 0) {
    throw new McuError('E_INPUT', `RMSE needs two non-empty arrays of equal length, got ${predicted.length} and ${targets.length}`);
  }
  let s = 0;
  for (let k = 0; k < predicted.length; k++) {
    const d = predicted[k] - targets[k];
    s += d * d;
  }
  return Math.sqrt(s / predicted.length);
}

/**
 * Expected calibration error: confidences binned into `bins` equal-width bins over (0, 1]
 * (bin b = (b/bins, (b+1)/bins]; a confidence of exactly 0 joins the first bin), then
 * Σ_b (n_b / N) · |accuracy_b − mean confidence_b|.
 */
export function expectedCalibrationError(confidence: NumericArray, correct: ArrayLike<boolean | number>, bins = 15): number {
  const n = confidence.length;
  if (n === 0 || correct.length !== n) {
    throw new McuError('E_INPUT', `ECE needs as many correctness flags as confidences (non-empty), got ${correct.length} and ${n}`);
  }
  if (!Number.isInteger(bins) || bins < 1) {
    throw new McuError('E_CONFIG', `ECE needs a positive integer number of bins, got ${bins}`);
  }
  const count = new Float64Array(bins);
  const confSum = new Float64Array(bins);
  const hits = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    const c = confidence[i];
    if (!(c >= 0 && c <= 1)) {
      throw new McuError('E_INPUT', `ECE confidence ${i} must lie in [0, 1], got ${c}`);
    }
    let b = Math.ceil(c * bins) - 1;
    if (b < 0) b = 0;
    if (b >= bins) b = bins - 1;
    count[b] += 1;
    confSum[b] += c;
    if (correct[i]) hits[b] += 1;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    if (count[b] === 0) continue;
    ece += (count[b] / n) * Math.abs(hits[b] / count[b] - confSum[b] / count[b]);
  }
  return ece;
}
