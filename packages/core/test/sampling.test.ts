import { describe, expect, it } from 'vitest';
import { deterministicMaskValue, type MaskScope, type SiteKind, type StochasticSite } from '../src/model.js';
import {
  createSeededSampler,
  mulhi32,
  mullo32,
  philox4x32,
  philox4x32Fill,
  philox4x32Into,
  SeededSampler,
  seedToKey,
  uint32ToOpenUnit,
  type MaskRequest,
  mulberry32,
} from '../src/sampling/index.js';
import { createBernoulliKernel, bernoulliThreshold } from '../src/sampling/bernoulli-wasm.js';
import { expectMcuError } from '../../../test/helpers/check.js';

// ---------------------------------------------------------------------------------------------
// helpers

function hex(words: readonly number[]): string {
  return words.map((w) => w.toString(16).padStart(8, '0')).join(' ');
}

function bytesEqual(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

function site(name: string, kind: SiteKind, rate: number, maskShape: number[], extra: Partial<StochasticSite> = {}): StochasticSite {
  return { name, kind, rate, maskShape, ...extra };
}

function req(s: StochasticSite, siteIndex: number, firstSample: number, count: number, scope: MaskScope = 'sample', rows = 1): MaskRequest {
  return { site: s, siteIndex, firstSample, count, rows, scope };
}

/** Straightforward BigInt Philox4x32-10 (independent of the implementation under test). */
function philoxBig(ctr: readonly number[], key: readonly number[]): number[] {
  const M = 0xffffffffn;
  let [c0, c1, c2, c3] = ctr.map(BigInt) as [bigint, bigint, bigint, bigint];
  let [k0, k1] = key.map(BigInt) as [bigint, bigint];
  for (let r = 0; r < 10; r++) {
    const p0 = 0xd2511f53n * c0;
    const p1 = 0xcd9e8d57n * c2;
    [c0, c1, c2, c3] = [((p1 >> 32n) ^ c1 ^ k0) & M, p1 & M, ((p0 >> 32n) ^ c3 ^ k1) & M, p0 & M];
    k0 = (k0 + 0x9e3779b9n) & M;
    k1 = (k1 + 0xbb67ae85n) & M;
  }
  return [c0, c1, c2, c3].map(Number);
}

/** A small deterministic uint32 stream for test inputs (xorshift32). */
function* xorshift(seed: number): Generator<number> {
  let x = seed >>> 0 || 1;
  for (;;) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    yield x;
  }
}

// ---------------------------------------------------------------------------------------------

describe('philox4x32-10', () => {
  it('matches the Random123 known-answer vectors (kat_vectors, philox4x32_10)', () => {
    expect(hex(philox4x32([0, 0, 0, 0], [0, 0]))).toBe('6627e8d5 e169c58d bc57ac4c 9b00dbd8');
    expect(hex(philox4x32([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]))).toBe('408f276d 41c83b0e a20bc7c6 6d5451fd');
    expect(hex(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]))).toBe('d16cfe09 94fdcceb 5001e420 24126ea1');
  });

  it('mulhi32/mullo32 are the exact 64-bit product halves (checked against BigInt)', () => {
    const edge = [0, 1, 2, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0xd2511f53, 0xcd9e8d57];
    const rnd = xorshift(12345);
    const pairs: [number, number][] = [];
    for (const a of edge) for (const b of edge) pairs.push([a, b]);
    for (let i = 0; i < 2000; i++) pairs.push([rnd.next().value as number, rnd.next().value as number]);
    for (const [a, b] of pairs) {
      const p = BigInt(a) * BigInt(b);
      expect(mulhi32(a, b)).toBe(Number(p >> 32n));
      expect(mullo32(a, b)).toBe(Number(p & 0xffffffffn));
    }
  });

  it('agrees with an independent BigInt implementation on 500 pseudo-random counters and keys', () => {
    const rnd = xorshift(777);
    const next = () => rnd.next().value as number;
    for (let i = 0; i < 500; i++) {
      const c = [next(), next(), next(), next()] as const;
      const k = [next(), next()] as const;
      expect(philox4x32(c, k)).toEqual(philoxBig(c, k));
    }
  });

  it('philox4x32Into writes at an offset without touching other words; philox4x32Fill steps c0 and wraps', () => {
    const out = new Uint32Array(8).fill(0xabcdef01);
    philox4x32Into(0, 0, 0, 0, 0, 0, out, 2);
    expect(hex([...out.subarray(2, 6)])).toBe('6627e8d5 e169c58d bc57ac4c 9b00dbd8');
    expect([out[0], out[1], out[6], out[7]]).toEqual([0xabcdef01, 0xabcdef01, 0xabcdef01, 0xabcdef01]);

    const buf = new Uint32Array(12);
    philox4x32Fill(buf, 3, 0xfffffffe, 5, 6, 7, 8, 9);
    expect([...buf.subarray(0, 4)]).toEqual(philox4x32([0xfffffffe, 5, 6, 7], [8, 9]));
    expect([...buf.subarray(4, 8)]).toEqual(philox4x32([0xffffffff, 5, 6, 7], [8, 9]));
    expect([...buf.subarray(8, 12)]).toEqual(philox4x32([0, 5, 6, 7], [8, 9]));
    expectMcuError(() => philox4x32Fill(new Uint32Array(7), 2, 0, 0, 0, 0, 0, 0), 'E_INTERNAL', /8 words/);
  });

  it('rejects words that are not uint32', () => {
    expectMcuError(() => philox4x32([2 ** 32, 0, 0, 0], [0, 0]), 'E_INTERNAL', /counter\[0\]/, /4294967296/);
    expectMcuError(() => philox4x32([0, 0, 0, 0], [0, -1]), 'E_INTERNAL', /key\[1\]/);
    expectMcuError(() => philox4x32([0, 0.5, 0, 0], [0, 0]), 'E_INTERNAL', /counter\[1\]/);
  });

  it('uint32ToOpenUnit maps to the open interval (0, 1)', () => {
    expect(uint32ToOpenUnit(0)).toBe(0.5 / 2 ** 32);
    expect(uint32ToOpenUnit(0xffffffff)).toBe((2 ** 32 - 0.5) / 2 ** 32);
    expect(uint32ToOpenUnit(0xffffffff)).toBeLessThan(1);
    expect(uint32ToOpenUnit(0)).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('SeededSampler: seed and site validation', () => {
  it('splits the seed into the key [low 32 bits, high 21 bits]', () => {
    expect(seedToKey(0)).toEqual([0, 0]);
    expect(seedToKey(42)).toEqual([42, 0]);
    expect(seedToKey(3 * 2 ** 32 + 7)).toEqual([7, 3]);
    expect(seedToKey(Number.MAX_SAFE_INTEGER)).toEqual([0xffffffff, 0x1fffff]);
  });

  it('rejects seeds that are not non-negative safe integers, naming the value and what is expected', () => {
    for (const bad of [-1, 1.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectMcuError(() => new SeededSampler({ seed: bad }), 'E_CONFIG', /non-negative integer/, new RegExp(String(bad).replace('.', '\\.')));
    }
    expectMcuError(() => createSeededSampler({ seed: '42' as unknown as number }), 'E_CONFIG', /"42"/, /string/);
    expectMcuError(() => new SeededSampler({} as { seed: number }), 'E_CONFIG', /undefined/);
  });

  it('rejects rates outside [0, 1), naming the site, the rate and the range', () => {
    const s = new SeededSampler({ seed: 1 });
    for (const rate of [1, 1.5, -0.1, Number.NaN]) {
      expectMcuError(
        () => s.sample(req(site('drop7', 'bernoulli', rate, [4]), 0, 0, 1)),
        'E_SITE',
        /drop7/,
        new RegExp(String(rate).replace('.', '\\.')),
        /\[0, 1\)/,
      );
    }
    expectMcuError(() => s.sample(req(site('g', 'gaussian', 1, [4]), 0, 0, 1)), 'E_SITE', /"g"/);
  });

  it('rejects unknown kinds, scalings and bad mask shapes', () => {
    const s = new SeededSampler({ seed: 1 });
    expectMcuError(() => s.sample(req(site('a', 'uniform' as SiteKind, 0.1, [4]), 0, 0, 1)), 'E_SITE', /"a"/, /uniform/);
    expectMcuError(() => s.sample(req(site('b', 'bernoulli', 0.1, [4], { scaling: 'scaled' as 'none' }), 0, 0, 1)), 'E_SITE', /"b"/, /scaled/);
    expectMcuError(() => s.sample(req(site('c', 'bernoulli', 0.1, [4, -1]), 0, 0, 1)), 'E_SITE', /"c"/, /maskShape/);
  });

  it('rejects malformed requests as internal errors', () => {
    const s = new SeededSampler({ seed: 1 });
    const a = site('a', 'bernoulli', 0.5, [2]);
    expectMcuError(() => s.sample(req(a, 0, -1, 1)), 'E_INTERNAL', /firstSample/);
    expectMcuError(() => s.sample(req(a, 0, 0, 1.5)), 'E_INTERNAL', /count/);
    expectMcuError(() => s.sample({ ...req(a, 0, 0, 1), scope: 'row' as MaskScope }), 'E_INTERNAL', /scope/);
    expectMcuError(() => s.sample(req(a, 0, 2 ** 32 - 1, 2)), 'E_CONFIG', /2\^32/);
  });

  it('describes itself with the seed', () => {
    expect(createSeededSampler({ seed: 9 }).description).toMatch(/philox4x32-10.*9/);
  });
});

describe('SeededSampler: values, layout and reproducibility', () => {
  it('computes element j from word (j·k) mod 4 of counter [⌊j·k/4⌋, i, t, s] (k = 1 Bernoulli, 2 Gaussian) and key [seed lo, seed hi]', () => {
    const seed = 5 * 2 ** 32 + 1234567;
    const key = [1234567, 5] as const;
    const s = new SeededSampler({ seed });
    const p = 0.4;
    const b = site('b', 'bernoulli', p, [2, 3]);
    const out = s.sample(req(b, 3, 10, 2, 'point', 4));
    expect(out.dtype).toBe('float32');
    expect(out.dims).toEqual([2, 4, 2, 3]);
    expect(out.data).toBeInstanceOf(Float32Array);
    let checked = 0;
    for (let c = 0; c < 2; c++)
      for (let i = 0; i < 4; i++)
        for (let j = 0; j < 6; j++) {
          const w = philox4x32([Math.floor(j / 4), i, 10 + c, 3], key)[j % 4]!;
          const u = (w + 0.5) / 2 ** 32;
          const expected = Math.fround(u < p ? 0 : 1 / (1 - p));
          expect(out.data[(c * 4 + i) * 6 + j]).toBe(expected);
          checked++;
        }
    expect(checked).toBe(48);

    const g = site('g', 'gaussian', 0.2, [5]);
    const gout = s.sample(req(g, 1, 7, 1));
    expect(gout.dims).toEqual([1, 1, 5]);
    const sigma = Math.sqrt(0.2 / 0.8);
    for (let j = 0; j < 5; j++) {
      const block = philox4x32([Math.floor(j / 2), 0, 7, 1], key);
      const [w0, w1] = [block[2 * (j % 2)]!, block[2 * (j % 2) + 1]!];
      const z = Math.sqrt(-2 * Math.log((w0 + 0.5) / 2 ** 32)) * Math.cos(2 * Math.PI * ((w1 + 0.5) / 2 ** 32));
      expect(gout.data[j]).toBe(Math.fround(1 + sigma * z));
    }
  });

  it('is byte-identical whether samples 0..T-1 are drawn at once or in chunks of 1, 7 and 64, for both scopes and kinds', () => {
    const T = 150;
    const sites = [site('d', 'bernoulli', 0.3, [3, 4]), site('g', 'gaussian', 0.25, [5])];
    for (const scope of ['sample', 'point'] as const) {
      const rows = scope === 'point' ? 3 : 1;
      sites.forEach((st, si) => {
        const whole = new SeededSampler({ seed: 2024 }).sample(req(st, si, 0, T, scope, rows)).data as Float32Array;
        expect(whole.length).toBe(T * rows * (si === 0 ? 12 : 5));
        for (const chunk of [1, 7, 64]) {
          const s = new SeededSampler({ seed: 2024 });
          const parts: Float32Array[] = [];
          for (let t0 = 0; t0 < T; t0 += chunk) {
            parts.push(s.sample(req(st, si, t0, Math.min(chunk, T - t0), scope, rows)).data as Float32Array);
          }
          const joined = new Float32Array(whole.length);
          let o = 0;
          for (const part of parts) {
            joined.set(part, o);
            o += part.length;
          }
          expect(o).toBe(whole.length);
          expect(bytesEqual(joined, whole), `${scope} ${st.name} chunk ${chunk}`).toBe(true);
        }
      });
    }
  });

  it('does not depend on call order or on other draws from the same sampler', () => {
    const a = site('a', 'bernoulli', 0.5, [16]);
    const b = site('b', 'gaussian', 0.5, [16]);
    const fresh = new SeededSampler({ seed: 77 });
    const refA = fresh.sample(req(a, 0, 20, 10)).data as Float32Array;
    const refB = fresh.sample(req(b, 1, 0, 30)).data as Float32Array;

    const busy = new SeededSampler({ seed: 77 });
    busy.sample(req(b, 1, 0, 100, 'point', 5));
    const lateB = busy.sample(req(b, 1, 15, 15)).data as Float32Array; // second half first
    const earlyB = busy.sample(req(b, 1, 0, 15)).data as Float32Array;
    busy.sample(req(a, 0, 0, 1000));
    const lateA = busy.sample(req(a, 0, 20, 10)).data as Float32Array;
    expect(bytesEqual(lateA, refA)).toBe(true);
    expect(bytesEqual(earlyB, refB.subarray(0, 15 * 16))).toBe(true);
    expect(bytesEqual(lateB, refB.subarray(15 * 16))).toBe(true);
  });

  it('gives the point-scope mask of (t, row 0) as the sample-scope mask of sample t', () => {
    const s = new SeededSampler({ seed: 31337 });
    for (const [si, st] of [site('d', 'bernoulli', 0.2, [2, 5]), site('g', 'gaussian', 0.6, [10])].entries()) {
      const T = 40;
      const rows = 4;
      const m = 10;
      const sampleScope = s.sample(req(st, si, 5, T, 'sample')).data as Float32Array;
      const pointScope = s.sample(req(st, si, 5, T, 'point', rows)).data as Float32Array;
      let row1SameAsRow0 = 0;
      for (let t = 0; t < T; t++) {
        const row0 = pointScope.subarray(t * rows * m, t * rows * m + m);
        expect(bytesEqual(row0, sampleScope.subarray(t * m, (t + 1) * m)), `sample ${t}`).toBe(true);
        if (bytesEqual(pointScope.subarray(t * rows * m + m, t * rows * m + 2 * m), row0)) row1SameAsRow0++;
      }
      // Row 1 is an independent mask, not a copy of row 0. Two independent 10-element Bernoulli(0.2)
      // masks coincide with probability 0.68^10 ≈ 2 %, so a few of the 40 may; Gaussian ones never do.
      if (st.kind === 'gaussian') expect(row1SameAsRow0).toBe(0);
      else expect(row1SameAsRow0).toBeLessThan(8);
    }
  });

  it('gives different masks for different seeds, sites, samples and rows', () => {
    const st = site('g', 'gaussian', 0.3, [64]);
    const draw = (seed: number, si: number, t: number) => new SeededSampler({ seed }).sample(req(st, si, t, 1)).data as Float32Array;
    const base = draw(1, 0, 0);
    expect(bytesEqual(base, draw(1, 0, 0))).toBe(true);
    expect(bytesEqual(base, draw(2, 0, 0))).toBe(false);
    expect(bytesEqual(base, draw(1 + 2 ** 32, 0, 0))).toBe(false); // the high seed word matters
    expect(bytesEqual(base, draw(1, 1, 0))).toBe(false);
    expect(bytesEqual(base, draw(1, 0, 1))).toBe(false);
    const pts = new SeededSampler({ seed: 1 }).sample(req(st, 0, 0, 1, 'point', 2)).data as Float32Array;
    expect(bytesEqual(pts.subarray(0, 64), pts.subarray(64))).toBe(false);
    // a Bernoulli mask shares its uniforms with the same-counter Gaussian one, but different sites differ
    const b = site('b', 'bernoulli', 0.5, [256]);
    const s = new SeededSampler({ seed: 1 });
    expect(bytesEqual(s.sample(req(b, 0, 0, 1)).data as Float32Array, s.sample(req(b, 1, 0, 1)).data as Float32Array)).toBe(false);
  });

  it('gives all-ones masks for rate 0, for both kinds and both scalings', () => {
    const s = new SeededSampler({ seed: 3 });
    for (const st of [site('a', 'bernoulli', 0, [7]), site('b', 'bernoulli', 0, [7], { scaling: 'none' }), site('c', 'gaussian', 0, [7])]) {
      const out = s.sample(req(st, 0, 0, 5, 'point', 2));
      expect(out.dims).toEqual([5, 2, 7]);
      expect([...out.data].every((v) => v === 1)).toBe(true);
    }
  });

  it('handles empty requests and empty mask shapes', () => {
    const s = new SeededSampler({ seed: 3 });
    expect(s.sample(req(site('a', 'bernoulli', 0.5, [4]), 0, 0, 0)).dims).toEqual([0, 1, 4]);
    const e = s.sample(req(site('a', 'bernoulli', 0.5, [0, 3]), 0, 0, 2, 'point', 3));
    expect(e.dims).toEqual([2, 3, 0, 3]);
    expect(e.data.length).toBe(0);
  });
});

describe('SeededSampler: statistics', () => {
  // 200 samples × 512 elements = 102 400 draws per check. The sampler is deterministic, so each
  // check has a fixed outcome; the tolerances are what an unbiased generator meets with near
  // certainty, so a pass means the seed was not cherry-picked to hide a bias.
  const T = 200;
  const M = 512;
  const n = T * M;

  it('Bernoulli: drop fraction ≈ p, masks in {0, 1/(1−p)} with mean ≈ 1', () => {
    for (const p of [0.1, 0.3, 0.5, 0.9]) {
      const out = new SeededSampler({ seed: 99 }).sample(req(site('d', 'bernoulli', p, [M]), 2, 0, T)).data as Float32Array;
      const keep = Math.fround(1 / (1 - p));
      let drops = 0;
      let kept = 0;
      let sum = 0;
      for (const v of out) {
        if (v === 0) drops++;
        else if (v === keep) kept++;
        sum += v;
      }
      expect(drops + kept).toBe(n); // every value is 0 or the keep scale
      // drop count ~ Binomial(n, p): standard error of the fraction sqrt(p(1−p)/n); allow 4 SE
      // (two-sided p-value 6e-5).
      const seFrac = Math.sqrt((p * (1 - p)) / n);
      expect(Math.abs(drops / n - p)).toBeLessThan(4 * seFrac);
      // mask = keep·Bernoulli(1−p) has mean 1 and variance p/(1−p); SE of the mean
      // sqrt(p/(1−p)/n); allow 5 SE (two-sided p-value 6e-7).
      const seMean = Math.sqrt(p / (1 - p) / n);
      expect(Math.abs(sum / n - 1)).toBeLessThan(5 * seMean);
    }
  });

  it('Bernoulli: neighbouring elements and consecutive samples are uncorrelated', () => {
    const p = 0.5;
    const out = new SeededSampler({ seed: 5 }).sample(req(site('d', 'bernoulli', p, [M]), 0, 0, T)).data as Float32Array;
    const keep = 1 / (1 - p);
    // standardise: x = (mask/keep − (1−p)) / sqrt(p(1−p)) has mean 0, variance 1.
    const x = Float64Array.from(out, (v) => (v / keep - (1 - p)) / Math.sqrt(p * (1 - p)));
    let neighbours = 0;
    let nn = 0;
    let consecutive = 0;
    let nc = 0;
    for (let t = 0; t < T; t++)
      for (let j = 0; j < M; j++) {
        if (j + 1 < M) {
          neighbours += x[t * M + j]! * x[t * M + j + 1]!;
          nn++;
        }
        if (t + 1 < T) {
          consecutive += x[t * M + j]! * x[(t + 1) * M + j]!;
          nc++;
        }
      }
    // For independent standardised variables the sample correlation has SE 1/sqrt(pairs); allow 5 SE.
    expect(Math.abs(neighbours / nn)).toBeLessThan(5 / Math.sqrt(nn));
    expect(Math.abs(consecutive / nc)).toBeLessThan(5 / Math.sqrt(nc));
  });

  it('Gaussian: mean ≈ 1, variance ≈ p/(1−p), and normal shape', () => {
    for (const p of [0.1, 0.5, 0.8]) {
      const out = new SeededSampler({ seed: 123 }).sample(req(site('g', 'gaussian', p, [M]), 1, 0, T)).data as Float32Array;
      const s2 = p / (1 - p);
      const sigma = Math.sqrt(s2);
      let sum = 0;
      let sq = 0;
      let within = 0;
      for (const v of out) {
        sum += v;
        sq += (v - 1) * (v - 1);
        if (Math.abs(v - 1) < sigma) within++;
      }
      const mean = sum / n;
      const variance = sq / n - (mean - 1) * (mean - 1);
      // SE of the mean is σ/sqrt(n); allow 5 SE.
      expect(Math.abs(mean - 1)).toBeLessThan((5 * sigma) / Math.sqrt(n));
      // For normal data the sample variance has SE σ²·sqrt(2/(n−1)); allow 5 SE (≈ 2.2 % of σ²).
      expect(Math.abs(variance - s2)).toBeLessThan(5 * s2 * Math.sqrt(2 / (n - 1)));
      // P(|Z| < 1) = 0.682689 for a standard normal (checks the Box–Muller shape, not only moments);
      // binomial SE sqrt(q(1−q)/n); allow 5 SE.
      const q = 0.682689492137;
      expect(Math.abs(within / n - q)).toBeLessThan(5 * Math.sqrt((q * (1 - q)) / n));
    }
  });

  it('scaling `none` gives masks in {0, 1}, both present, with drop fraction ≈ p', () => {
    const p = 0.25;
    const out = new SeededSampler({ seed: 8 }).sample(req(site('d', 'bernoulli', p, [M], { scaling: 'none' }), 0, 0, T)).data as Float32Array;
    let zeros = 0;
    let ones = 0;
    for (const v of out) {
      if (v === 0) zeros++;
      else if (v === 1) ones++;
    }
    expect(zeros + ones).toBe(n);
    expect(zeros).toBeGreaterThan(0);
    expect(ones).toBeGreaterThan(0);
    // Binomial SE of the drop fraction, 4 SE as above.
    expect(Math.abs(zeros / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
  });
});

describe('SeededSampler: performance', () => {
  it('draws 1000 samples × 4 sites × 512 elements well under a second', () => {
    const s = new SeededSampler({ seed: 1 });
    const sites = [
      site('a', 'bernoulli', 0.5, [512]),
      site('b', 'bernoulli', 0.1, [512]),
      site('c', 'gaussian', 0.3, [512]),
      site('d', 'bernoulli', 0.2, [8, 8, 8]),
    ];
    // warm-up so the timing measures the optimised inner loop, not JIT compilation
    sites.forEach((st, i) => s.sample(req(st, i, 0, 10)));
    const start = performance.now();
    let total = 0;
    sites.forEach((st, i) => {
      total += s.sample(req(st, i, 0, 1000)).data.length;
    });
    const ms = performance.now() - start;
    expect(total).toBe(1000 * 4 * 512);
    console.info(`seeded sampler: 1000 samples × 4 sites × 512 elements in ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(1000);
  });
});

describe('SeededSampler: the WebAssembly Bernoulli kernel', () => {
  it('builds here (Node has WebAssembly) and gives the JavaScript path’s masks bit for bit', () => {
    expect(createBernoulliKernel()).not.toBeNull();
    // widths around the 4-word block (partial last blocks of 1–3 words), rates incl. tiny and
    // near 1, scaling none, both scopes, offsets, a seed above 2^32 (key word 1 ≠ 0), a site
    // index > 0, and a request larger than one kernel call (1 Mi floats) for both chunkings.
    const cases: [number[], number, 'inverted' | 'none', MaskScope, number, number, number][] = [
      [[1], 0.5, 'inverted', 'sample', 3, 1, 0],
      [[2], 0.1, 'inverted', 'point', 5, 4, 7],
      [[3], 0.9, 'none', 'point', 2, 3, 11],
      [[5], 1e-9, 'inverted', 'sample', 9, 1, 1],
      [[7, 3], 0.25, 'inverted', 'point', 4, 6, 2],
      [[512], 0.1, 'inverted', 'point', 3, 700, 5], // 1.07 Mi floats: split by samples
      [[300_000], 0.3, 'none', 'point', 2, 5, 1], // rows longer than a quarter chunk: split by rows
      [[4], 1 - 2 ** -40, 'inverted', 'sample', 6, 1, 3],
    ];
    for (const seed of [0, 1234567, 2 ** 40 + 5]) {
      const fast = new SeededSampler({ seed });
      const slow = new SeededSampler({ seed, wasm: false });
      for (const [shape, rate, scaling, scope, count, rows, siteIndex] of cases) {
        const s = site('x', 'bernoulli', rate, shape, { scaling });
        const r: MaskRequest = { site: s, siteIndex, firstSample: 13, count, rows, scope, firstRow: 40 };
        const a = fast.sample(r).data as Float32Array;
        const b = slow.sample(r).data as Float32Array;
        expect(bytesEqual(a, b), `seed ${seed}, shape [${shape}], p ${rate}, ${scope}`).toBe(true);
      }
    }
  });

  it('the SIMD build (four rows a pass) and the scalar build both give the JavaScript path’s masks bit for bit', () => {
    const simd = createBernoulliKernel();
    const scalar = createBernoulliKernel({ simd: false });
    // Node 20's WebAssembly has SIMD: the default is that build
    expect(simd?.simd).toBe(true);
    expect(scalar?.simd).toBe(false);
    // count · rows of 1, 2, 3, 5, 6, 7, 21, 99 and 100 (groups of four with 0–3 rows left over, the
    // wrap from the last row of a sample to the next sample inside a group), widths with partial
    // last blocks of 0–3 words (1–9, 13, 50, 513), a seed above 2^32, a site index > 0
    const shapes: [number, number][] = [
      [1, 1],
      [1, 2],
      [3, 1],
      [2, 3],
      [5, 1],
      [1, 7],
      [7, 3],
      [100, 1],
      [3, 33],
    ];
    const widths = [1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 50, 513];
    const [k0, k1] = seedToKey(2 ** 40 + 5);
    const js = new SeededSampler({ seed: 2 ** 40 + 5, wasm: false });
    for (const m of widths) {
      for (const [count, rows] of shapes) {
        for (const p of [0.1, 0.5]) {
          const s = site('x', 'bernoulli', p, [m]);
          const want = js.sample({ site: s, siteIndex: 3, firstSample: 13, count, rows, scope: 'point', firstRow: 40 }).data as Float32Array;
          for (const kernel of [simd!, scalar!]) {
            const got = new Float32Array(count * rows * m);
            kernel.fill(got, m, rows, 40, 13, count, 3, k0, k1, bernoulliThreshold(p), 1 / (1 - p));
            expect(bytesEqual(got, want), `${kernel.simd ? 'SIMD' : 'scalar'}: m ${m}, ${count} × ${rows}, p ${p}`).toBe(true);
          }
        }
      }
    }
    simd!.dispose();
    scalar!.dispose();
  });

  it('maps a word to "dropped" exactly when (w + ½)·2⁻³² < p', () => {
    for (const p of [0.1, 0.5, 1 / 3, 2 ** -32, 0.999999]) {
      const t = bernoulliThreshold(p);
      for (const w of [t - 2, t - 1, t, t + 1].filter((x) => x >= 0 && x < 2 ** 32)) {
        expect(w < t, `p ${p}, w ${w}`).toBe((w + 0.5) * 2 ** -32 < p);
      }
    }
  });
});

describe('SeededSampler: additive (Gaussian noise) sites', () => {
  const site: StochasticSite = { name: 'noise', kind: 'additive', rate: 0, stddev: 0.3, maskShape: [2000] };

  it('draws N(0, σ²) noise: mean 0 and std σ within 4 standard errors; the deterministic value is 0', () => {
    const m = createSeededSampler({ seed: 5 }).sample({ site, siteIndex: 0, firstSample: 0, count: 10, rows: 1, scope: 'sample' });
    const v = m.data as Float32Array;
    const n = v.length;
    const mean = v.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
    expect(Math.abs(mean)).toBeLessThan(4 * (0.3 / Math.sqrt(n)));
    expect(Math.abs(sd - 0.3)).toBeLessThan(4 * (0.3 / Math.sqrt(2 * n)));
    expect(deterministicMaskValue(site)).toBe(0);
  });

  it('needs a stddev σ > 0', () => {
    expectMcuError(
      () => createSeededSampler({ seed: 1 }).sample({ site: { ...site, stddev: 0 }, siteIndex: 0, firstSample: 0, count: 1, rows: 1, scope: 'sample' }),
      'E_SITE',
      /needs stddev σ > 0/,
    );
  });
});

describe('mulberry32 (the plain generator for what is not a mask)', () => {
  it('gives the reference sequence (an independent Python implementation of mulberry32, 32-bit arithmetic mod 2^32)', () => {
    const first3 = (seed: number) => {
      const r = mulberry32(seed);
      return [r(), r(), r()];
    };
    expect(first3(0)).toEqual([0.26642920868471265, 0.0003297457005828619, 0.2232720274478197]);
    expect(first3(42)).toEqual([0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
    // the state is taken mod 2^32: −1 and 2^32 − 1 are the same seed
    expect(first3(-1)).toEqual([0.8964226141106337, 0.189478256739676, 0.7156526781618595]);
    expect(first3(0xffffffff)).toEqual(first3(-1));
    const r = mulberry32(7);
    const u = Array.from({ length: 10_000 }, r);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
  });
});
