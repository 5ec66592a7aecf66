import { McuError } from '../errors.js';
import type { Chunk, Estimator } from './estimator.js';
import { checkOutputName, parseTargets, readChunk, type ChunkLayout, type TargetsInput } from './input.js';

const LOG_2PI = Math.log(2 * Math.PI);

function positive(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new McuError('E_CONFIG', `${name} must be a finite number > 0, got ${String(value)}`);
  }
  return value;
}

function dropRate(value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) {
    throw new McuError('E_CONFIG', `dropoutRate (the DROP probability p) must lie in [0, 1), got ${String(value)}`);
  }
  return value;
}

export interface WeightDecayParams {
  /** DROP probability p ∈ [0, 1) (keep probability = 1 − p). */
  readonly dropoutRate: number;
  /** Prior length-scale l > 0. */
  readonly lengthScale: number;
  /** Number of training points N > 0. */
  readonly nTrain: number;
  /** Weight decay λ > 0. */
  readonly weightDecay: number;
}

/**
 * Model precision from training hyper-parameters (eq. 7): τ = (1 − p) l² / (2 N λ).
 * The paper writes p for the KEEP probability; here p is the drop rate, so keep = 1 − p
 * (as in Gal's code). Throws McuError E_CONFIG on invalid values.
 */
export function tauFromWeightDecay(params: WeightDecayParams): number {
  const p = dropRate(params?.dropoutRate);
  const l = positive('lengthScale', params.lengthScale);
  const n = positive('nTrain', params.nTrain);
  const lambda = positive('weightDecay', params.weightDecay);
  return ((1 - p) * l * l) / (2 * n * lambda);
}

export interface TauParams {
  readonly dropoutRate: number;
  readonly lengthScale: number;
  readonly nTrain: number;
  readonly tau: number;
}

/** Inverse of eq. 7 (Gal's UCI protocol): λ = (1 − p) l² / (2 N τ). */
export function weightDecayFromTau(params: TauParams): number {
  const p = dropRate(params?.dropoutRate);
  const l = positive('lengthScale', params.lengthScale);
  const n = positive('nTrain', params.nTrain);
  const tau = positive('tau', params.tau);
  return ((1 - p) * l * l) / (2 * n * tau);
}

export interface SquaredErrorCollectorOptions {
  /** The model output to compare with the targets. */
  readonly output: string;
  /** True values N×D (flat row-major or N rows of D). */
  readonly targets: TargetsInput;
}

export interface SquaredErrors {
  /** T. */
  readonly samples: number;
  /** N. */
  readonly rows: number;
  /** D: values per row. */
  readonly width: number;
  /** ‖y_i − ŷ_{t,i}‖², flat sample-major (index t·N + i), length T·N. */
  readonly errors: Float64Array;
}

/**
 * Collects the squared error ‖y_i − ŷ_{t,i}‖² of every (sample t, row i), in float64.
 *
 * NOTE: this is the one estimator whose state is O(T·N) instead of O(N·D): choosing τ means
 * re-evaluating eq. 8 for many candidate τ, and eq. 8's log-sum-exp over t cannot be reduced
 * to a τ-independent O(N) summary. Its memory is T·N·8 bytes (D values collapse to one).
 */
export class SquaredErrorCollector implements Estimator<SquaredErrors> {
  readonly output: string;
  private readonly targetsInput: TargetsInput;
  private consumed = 0;
  private layout: ChunkLayout | undefined;
  private targets: Float64Array = new Float64Array(0);
  /** One Float64Array of N errors per sample, in sample order. */
  private readonly perSample: Float64Array[] = [];

  constructor(options: SquaredErrorCollectorOptions) {
    this.output = checkOutputName(options?.output, 'SquaredErrorCollector');
    if (options.targets === undefined) {
      throw new McuError('E_CONFIG', `SquaredErrorCollector: option 'targets' is required`);
    }
    this.targetsInput = options.targets;
  }

  get samples(): number {
    return this.consumed;
  }

  /** D (values per row); undefined before the first chunk. */
  get width(): number | undefined {
    return this.layout?.width;
  }

  update(chunk: Chunk): void {
    const who = 'SquaredErrorCollector';
    const v = readChunk(chunk, this.output, this.consumed, this.layout, who);
    const { data, samples: S, rows: N, width: D } = v;
    if (this.layout === undefined) {
      this.targets = parseTargets(this.targetsInput, N, D, who);
      this.layout = { rows: N, rest: v.rest, width: D };
    }
    const y = this.targets;
    const block = new Float64Array(S * N);
    for (let t = 0; t < S; t++) {
      for (let i = 0; i < N; i++) {
        const base = (t * N + i) * D;
        let sq = 0;
        for (let d = 0; d < D; d++) {
          const e = y[i * D + d] - data[base + d];
          sq += e * e;
        }
        block[t * N + i] = sq;
      }
      this.perSample.push(block.subarray(t * N, (t + 1) * N));
    }
    this.consumed += S;
  }

  /** The errors as T arrays of N (views, do not modify). */
  errorsBySample(): readonly Float64Array[] {
    return this.perSample;
  }

  result(): SquaredErrors {
    if (this.layout === undefined || this.consumed === 0) {
      throw new McuError('E_RUNTIME', `SquaredErrorCollector: no MC samples of '${this.output}' yet; call update() first`);
    }
    const N = this.layout.rows;
    const errors = new Float64Array(this.consumed * N);
    this.perSample.forEach((row, t) => errors.set(row, t * N));
    return { samples: this.consumed, rows: N, width: this.layout.width, errors };
  }
}

export interface FitTauOptions {
  /** Smallest τ searched; default 1e-3. */
  readonly min?: number;
  /** Largest τ searched; default 1e6. */
  readonly max?: number;
}

export interface FitTauResult {
  /** The τ maximising the mean eq. 8 log-likelihood within [min, max]. */
  readonly tau: number;
  /** The mean eq. 8 log-likelihood at `tau`. */
  readonly logLikelihood: number;
  /** True when the best τ is at (within the tolerance of) min or max: widen the range. */
  readonly atBoundary: boolean;
}

/** Squared errors transposed to per-row runs, with the per-row minimum for a stable LSE. */
interface Prepared {
  readonly T: number;
  readonly N: number;
  readonly D: number;
  /** Row-major [N][T]: e_{t,i} − min_t e_{t,i} (≥ 0). */
  readonly shifted: Float64Array;
  /** min_t e_{t,i}. */
  readonly minimum: Float64Array;
}

function prepare(rowsByT: readonly ArrayLike<number>[], D: number): Prepared {
  const T = rowsByT.length;
  if (T < 1) throw new McuError('E_INPUT', 'fitTau: needs squared errors of at least one MC sample, got none');
  const N = rowsByT[0].length;
  if (N < 1) throw new McuError('E_INPUT', 'fitTau: needs squared errors of at least one row, got none');
  if (!Number.isInteger(D) || D < 1) {
    throw new McuError('E_CONFIG', `fitTau: D (values per row) must be a positive integer, got ${D}`);
  }
  const minimum = new Float64Array(N).fill(Infinity);
  for (let t = 0; t < T; t++) {
    const r = rowsByT[t];
    if (r.length !== N) {
      throw new McuError('E_INPUT', `fitTau: every sample needs ${N} squared errors (as sample 0), sample ${t} has ${r.length}`);
    }
    for (let i = 0; i < N; i++) {
      const e = r[i];
      if (!(e >= 0 && e < Infinity)) {
        throw new McuError('E_INPUT', `fitTau: squared error (sample ${t}, row ${i}) must be finite and ≥ 0, got ${e}`);
      }
      if (e < minimum[i]) minimum[i] = e;
    }
  }
  const shifted = new Float64Array(N * T);
  for (let t = 0; t < T; t++) {
    const r = rowsByT[t];
    for (let i = 0; i < N; i++) shifted[i * T + t] = r[i] - minimum[i];
  }
  return { T, N, D, shifted, minimum };
}

/** Mean over rows of eq. 8 at τ = exp(logTau). */
function meanLogLikelihood(p: Prepared, logTau: number): number {
  const tau = Math.exp(logTau);
  const h = 0.5 * tau;
  const { T, N, shifted, minimum } = p;
  let total = 0;
  for (let i = 0; i < N; i++) {
    // logsumexp_t(−τ/2 e_t) = −τ/2 min e + log Σ_t exp(−τ/2 (e_t − min e)); the sum is ≥ 1.
    let s = 0;
    const off = i * T;
    for (let t = 0; t < T; t++) s += Math.exp(-h * shifted[off + t]);
    total += -h * minimum[i] + Math.log(s);
  }
  return total / N - Math.log(T) - 0.5 * p.D * LOG_2PI + 0.5 * p.D * logTau;
}

/**
 * Mean eq. 8 log-likelihood over rows for a given τ, from squared errors [T][N].
 * Exposed so callers can report the log-likelihood of a τ chosen elsewhere.
 */
export function logLikelihoodForTau(errors: readonly ArrayLike<number>[], d: number, tau: number): number {
  positive('tau', tau);
  return meanLogLikelihood(prepare(errors, d), Math.log(tau));
}

const GRID_POINTS = 40;
const LOG_TOLERANCE = 1e-6;

/**
 * Choose τ by maximising the mean eq. 8 log-likelihood of held-out data over log τ within
 * [min, max] (default [1e-3, 1e6]): a grid of 40 log-spaced points brackets the best, then
 * golden-section search on log τ narrows it to a width of 1e-6 (≈ 1e-6 relative in τ).
 */
export function fitTau(collector: SquaredErrorCollector, options?: FitTauOptions): FitTauResult;
export function fitTau(errors: readonly ArrayLike<number>[], d: number, options?: FitTauOptions): FitTauResult;
export function fitTau(
  source: SquaredErrorCollector | readonly ArrayLike<number>[],
  dOrOptions?: number | FitTauOptions,
  maybeOptions?: FitTauOptions,
): FitTauResult {
  let rows: readonly ArrayLike<number>[];
  let D: number;
  let options: FitTauOptions;
  if (source instanceof SquaredErrorCollector) {
    const width = source.width;
    if (width === undefined || source.samples === 0) {
      throw new McuError('E_INPUT', 'fitTau: the SquaredErrorCollector has no samples yet');
    }
    rows = source.errorsBySample();
    D = width;
    options = (typeof dOrOptions === 'object' ? dOrOptions : maybeOptions) ?? {};
  } else {
    if (typeof dOrOptions !== 'number') {
      throw new McuError('E_CONFIG', `fitTau: with an errors array, pass D (values per row) as the second argument`);
    }
    rows = source;
    D = dOrOptions;
    options = maybeOptions ?? {};
  }
  const min = positive('fitTau min', options.min ?? 1e-3);
  const max = positive('fitTau max', options.max ?? 1e6);
  if (!(max > min)) {
    throw new McuError('E_CONFIG', `fitTau: max (${max}) must be greater than min (${min})`);
  }
  const prepared = prepare(rows, D);
  const lo = Math.log(min);
  const hi = Math.log(max);
  const f = (u: number): number => meanLogLikelihood(prepared, u);

  let bestU = lo;
  let bestF = -Infinity;
  const grid = new Float64Array(GRID_POINTS);
  let bestK = 0;
  for (let k = 0; k < GRID_POINTS; k++) {
    const u = k === GRID_POINTS - 1 ? hi : lo + ((hi - lo) * k) / (GRID_POINTS - 1);
    grid[k] = u;
    const v = f(u);
    if (v > bestF) {
      bestF = v;
      bestU = u;
      bestK = k;
    }
  }
  // Golden-section (maximisation) within the neighbours of the best grid point.
  let a = grid[Math.max(bestK - 1, 0)];
  let b = grid[Math.min(bestK + 1, GRID_POINTS - 1)];
  const r = (Math.sqrt(5) - 1) / 2;
  let c = b - r * (b - a);
  let d = a + r * (b - a);
  let fc = f(c);
  let fd = f(d);
  const consider = (u: number, v: number): void => {
    if (v > bestF) {
      bestF = v;
      bestU = u;
    }
  };
  consider(c, fc);
  consider(d, fd);
  while (b - a > LOG_TOLERANCE) {
    if (fc > fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - r * (b - a);
      fc = f(c);
      consider(c, fc);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + r * (b - a);
      fd = f(d);
      consider(d, fd);
    }
  }
  const atBoundary = bestU - lo <= LOG_TOLERANCE || hi - bestU <= LOG_TOLERANCE;
  // The grid's end points are exactly log(min) and log(max): report those bounds exactly.
  const tau = bestU === lo ? min : bestU === hi ? max : Math.min(max, Math.max(min, Math.exp(bestU)));
  return { tau, logLikelihood: bestF, atBoundary };
}
