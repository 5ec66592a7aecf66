import { describe, expect, it } from 'vitest';
import { McuError } from '../src/errors.js';
import { StreamingLogSumExp, argmax, entropy, expectedCalibrationError, rootMeanSquaredError, softmaxEntropy, softmaxInto } from '../src/estimators/index.js';
import { lcg } from '../../../test/helpers/check.js';

/** Two-pass reference: max, then Σ exp(v − max). */
function lse(values: number[]): number {
  const m = Math.max(...values);
  if (m === -Infinity) return -Infinity;
  return m + Math.log(values.reduce((s, v) => s + Math.exp(v - m), 0));
}

describe('StreamingLogSumExp', () => {
  it('matches the naive log Σ exp for moderate values', () => {
    const rand = lcg(9);
    const v = Array.from({ length: 50 }, () => 10 * (rand() - 0.5));
    const acc = new StreamingLogSumExp();
    for (const x of v) acc.add(x);
    const naive = Math.log(v.reduce((s, x) => s + Math.exp(x), 0));
    // 50 rescalings, each one rounding: 1e-13 relative.
    expect(Math.abs(acc.value() - naive)).toBeLessThan(1e-13 * Math.abs(naive) + 1e-15);
  });

  it('handles values around −1e4 (naive underflows) and +700 (naive overflows)', () => {
    const rand = lcg(10);
    for (const centre of [-1e4, 700, -1e6]) {
      const v = Array.from({ length: 40 }, () => centre + 20 * (rand() - 0.5));
      const acc = new StreamingLogSumExp(2);
      for (const x of v) acc.add(x, 1);
      const ref = lse(v);
      expect(Number.isFinite(acc.value(1))).toBe(true);
      // Magnitudes up to 1e6: 1e-13 relative covers the rescaling roundings.
      expect(Math.abs(acc.value(1) - ref)).toBeLessThanOrEqual(1e-13 * Math.abs(ref));
      expect(acc.value(0)).toBe(-Infinity); // untouched slot
    }
    const naiveLow = Math.log([-1e4, -1e4 + 1].reduce((s, x) => s + Math.exp(x), 0));
    expect(naiveLow).toBe(-Infinity);
  });

  it('increasing, decreasing and −∞ inputs; values() returns every slot', () => {
    const acc = new StreamingLogSumExp(3);
    for (const x of [1, 2, 3]) acc.add(x, 0);
    for (const x of [3, 2, 1]) acc.add(x, 1);
    acc.add(-Infinity, 2);
    acc.add(-Infinity, 0);
    const vals = acc.values();
    const ref = lse([1, 2, 3]);
    expect(Math.abs(vals[0] - ref)).toBeLessThan(1e-15 * ref + 1e-15);
    expect(Math.abs(vals[1] - ref)).toBeLessThan(1e-15 * ref + 1e-15);
    expect(vals[2]).toBe(-Infinity);
    expect(() => acc.add(Number.NaN)).toThrow(McuError);
    expect(() => new StreamingLogSumExp(0)).toThrow(McuError);
  });
});

describe('StreamingLogSumExp effective sample size', () => {
  /** Two-pass reference: (Σ e^v)² / Σ e^{2v}, shifted by the max. */
  function ess(values: number[]): number {
    const m = Math.max(...values);
    const s1 = values.reduce((s, v) => s + Math.exp(v - m), 0);
    const s2 = values.reduce((s, v) => s + Math.exp(2 * (v - m)), 0);
    return (s1 * s1) / s2;
  }

  it('is the count for equal terms, ≈ 1 for one dominant term, and matches the two-pass form', () => {
    const acc = new StreamingLogSumExp(3, true);
    for (let k = 0; k < 40; k++) acc.add(-3.5, 0);
    acc.add(0, 1);
    for (let k = 0; k < 999; k++) acc.add(-50, 1); // e^{-50}: 999 negligible terms
    const rand = lcg(4);
    const v = Array.from({ length: 500 }, () => -1e4 + 20 * rand()); // exp underflows without the shift
    for (const x of v) acc.add(x, 2);
    expect(acc.effectiveSamples(0)).toBeCloseTo(40, 10);
    expect(Math.abs(acc.effectiveSamples(1) - 1)).toBeLessThan(1e-15);
    // 500 rescalings (increasing maxima), each rounding: 1e-12 relative.
    expect(Math.abs(acc.effectiveSamples(2) / ess(v) - 1)).toBeLessThan(1e-12);
    expect(acc.value(2)).toBeCloseTo(lse(v), 9);
  });

  it('is 0 for an empty slot and needs the squares option', () => {
    expect(new StreamingLogSumExp(1, true).effectiveSamples(0)).toBe(0);
    const plain = new StreamingLogSumExp(1);
    plain.add(1);
    expect(() => plain.effectiveSamples(0)).toThrow(McuError);
  });
});

describe('metrics helpers', () => {
  it('softmaxInto / softmaxEntropy are stable for huge logits', () => {
    const x = Float64Array.from([1000, 999, -1e300]);
    const p = new Float64Array(3);
    const norm = new Float64Array(2);
    softmaxInto(x, 0, 3, p, norm);
    const e = Math.exp(-1);
    expect(Math.abs(p[0] - 1 / (1 + e))).toBeLessThan(1e-16);
    expect(Math.abs(p[1] - e / (1 + e))).toBeLessThan(1e-16);
    expect(p[2]).toBe(0);
    expect(norm[0]).toBe(1000);
    const h = softmaxEntropy(x, 0, 3, p, norm);
    expect(Math.abs(h - entropy([1 / (1 + e), e / (1 + e)]))).toBeLessThan(1e-15);
  });

  it('entropy uses 0·log 0 = 0; argmax picks the lowest index on ties', () => {
    expect(entropy([1, 0, 0])).toBe(0);
    expect(Math.abs(entropy([0.5, 0, 0.5]) - Math.log(2))).toBeLessThan(1e-16);
    expect(argmax([1, 3, 3, 2])).toBe(1);
    expect(argmax([9, 1, 5, 5, 7], 1, 3)).toBe(1);
  });

  it('expectedCalibrationError bins by (b/15, (b+1)/15]', () => {
    // 1/15 exactly belongs to bin 0; 0.1 to bin 1; 1.0 to bin 14.
    const conf = [1 / 15, 0.1, 0.1, 1.0];
    const correct = [1, 0, 1, 1];
    // bin0: |1 − 1/15|·1/4; bin1: |0.5 − 0.1|·2/4; bin14: 0.
    const expected = (1 - 1 / 15) / 4 + 0.4 / 2;
    expect(Math.abs(expectedCalibrationError(conf, correct) - expected)).toBeLessThan(1e-15);
    // With a single bin the ECE is |accuracy − mean confidence|.
    expect(Math.abs(expectedCalibrationError(conf, correct, 1) - Math.abs(0.75 - (1 / 15 + 1.2) / 4))).toBeLessThan(1e-15);
    expect(() => expectedCalibrationError([], [])).toThrow(McuError);
    expect(() => expectedCalibrationError([1.5], [1])).toThrow(McuError);
  });

  it('rootMeanSquaredError', () => {
    expect(rootMeanSquaredError([1, 2, 3], [1, 0, 3])).toBe(Math.sqrt(4 / 3));
    expect(() => rootMeanSquaredError([1], [1, 2])).toThrow(McuError);
  });
});
