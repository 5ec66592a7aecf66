// Estimators the cross-framework tests share: the outputs of one replayed sample, and the raw
// moments of every output element over all samples.
import type { Chunk, Estimator } from '@mcu/core';

/** Collects the outputs of one replayed sample. */
export class Capture implements Estimator<Record<string, Float32Array>> {
  readonly out: Record<string, Float32Array> = {};
  update(c: Chunk): void {
    for (const [k, v] of Object.entries(c.outputs)) this.out[k] = Float32Array.from(v.data as ArrayLike<number>);
  }
  result(): Record<string, Float32Array> {
    return this.out;
  }
}

/** Per output element over all samples (float64): mean, population std and 4th central moment m4. */
export class Moments implements Estimator<Record<string, { mean: Float64Array; std: Float64Array; m4: Float64Array }>> {
  readonly #sums = new Map<string, Float64Array[]>();
  #samples = 0;
  update(c: Chunk): void {
    for (const [k, v] of Object.entries(c.outputs)) {
      const per = v.data.length / c.samples;
      let s = this.#sums.get(k);
      if (!s) this.#sums.set(k, (s = [0, 1, 2, 3].map(() => new Float64Array(per))));
      for (let t = 0; t < c.samples; t++) {
        for (let j = 0; j < per; j++) {
          const y = Number(v.data[t * per + j]);
          const y2 = y * y;
          s[0]![j]! += y;
          s[1]![j]! += y2;
          s[2]![j]! += y2 * y;
          s[3]![j]! += y2 * y2;
        }
      }
    }
    this.#samples += c.samples;
  }
  result() {
    const out: Record<string, { mean: Float64Array; std: Float64Array; m4: Float64Array }> = {};
    const n = this.#samples;
    for (const [k, [s1, s2, s3, s4]] of this.#sums) {
      const mean = s1!.map((v) => v / n);
      const std = new Float64Array(mean.length);
      const m4 = new Float64Array(mean.length);
      for (let j = 0; j < mean.length; j++) {
        const m = mean[j]!;
        const [e2, e3, e4] = [s2![j]! / n, s3![j]! / n, s4![j]! / n];
        std[j] = Math.sqrt(Math.max(0, e2 - m * m));
        m4[j] = Math.max(0, e4 - 4 * m * e3 + 6 * m * m * e2 - 3 * m ** 4);
      }
      out[k] = { mean, std, m4 };
    }
    return out;
  }
}

/** max |got − want| / max(|want|, floor) — the relative error the cross-framework tests bound. */
export function maxRelative(got: ArrayLike<number>, want: ArrayLike<number>, floor = 1e-30): number {
  if (got.length !== want.length) throw new Error(`maxRelative: ${got.length} values against ${want.length}`);
  let d = 0;
  let s = floor;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i]! - want[i]!));
    s = Math.max(s, Math.abs(want[i]!));
  }
  return d / s;
}
