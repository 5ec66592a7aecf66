import { McuError } from '../errors.js';

/**
 * Streaming log-sum-exp over `size` independent slots, in float64.
 *
 * Each slot keeps a running maximum m and a scaled sum s = Σ exp(v − m), so
 * log Σ exp(v) = m + log s never overflows or underflows to 0 for any finite inputs
 * (e.g. values around −1e4, where exp underflows). Values are folded in the order they
 * are added, so the result depends only on that order, not on how a caller batches them.
 */
export class StreamingLogSumExp {
  readonly size: number;
  private readonly max: Float64Array;
  private readonly scaled: Float64Array;
  private readonly squares: Float64Array | null;

  /**
   * @param squares also keep Σ exp(2(v − m)) per slot, for {@link effectiveSamples}.
   */
  constructor(size = 1, squares = false) {
    if (!Number.isInteger(size) || size < 1) {
      throw new McuError('E_INTERNAL', `StreamingLogSumExp needs a positive integer size, got ${size}`);
    }
    this.size = size;
    this.max = new Float64Array(size).fill(-Infinity);
    this.scaled = new Float64Array(size);
    this.squares = squares ? new Float64Array(size) : null;
  }

  /** Fold exp(value) into slot `index`. −Infinity (a zero term) is accepted and ignored. */
  add(value: number, index = 0): void {
    if (value === -Infinity) return;
    if (!(value < Infinity)) {
      // NaN or +Infinity: the callers validate their inputs, so this is a broken invariant.
      throw new McuError('E_INTERNAL', `log-sum-exp received ${value} (expected a finite value or −Infinity)`);
    }
    const m = this.max[index];
    const sq = this.squares;
    if (value > m) {
      // Rescale the old sum to the new maximum (exp(−∞) = 0 for the first value).
      const r = Math.exp(m - value);
      this.scaled[index] = this.scaled[index] * r + 1;
      if (sq !== null) sq[index] = sq[index] * r * r + 1;
      this.max[index] = value;
    } else {
      const e = Math.exp(value - m);
      this.scaled[index] += e;
      if (sq !== null) sq[index] += e * e;
    }
  }

  /**
   * Kish's effective sample size of slot `index`, (Σ e^v)² / Σ e^{2v}: how many of the terms
   * carry the sum (1 when one term dominates, the count when all are equal). Needs `squares`;
   * 0 for an empty slot.
   */
  effectiveSamples(index = 0): number {
    const sq = this.squares;
    if (sq === null) throw new McuError('E_INTERNAL', 'StreamingLogSumExp: effectiveSamples needs the squares option');
    const s = this.scaled[index];
    return s === 0 ? 0 : (s * s) / sq[index];
  }

  /** log Σ exp(v) of slot `index`; −Infinity when nothing (or only −∞) was added. */
  value(index = 0): number {
    const s = this.scaled[index];
    return s === 0 ? -Infinity : this.max[index] + Math.log(s);
  }

  /** All slots' values. */
  values(): Float64Array {
    const out = new Float64Array(this.size);
    for (let i = 0; i < this.size; i++) out[i] = this.value(i);
    return out;
  }
}
