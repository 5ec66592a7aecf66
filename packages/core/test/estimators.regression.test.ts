import { describe, expect, it } from 'vitest';
import type { Chunk } from '../src/estimators/estimator.js';
import { RegressionEstimator, deterministicRegression, type RegressionResult } from '../src/estimators/index.js';
import type { TensorData } from '../src/tensor.js';
import { codeOf, lcg } from '../../../test/helpers/check.js';

// ---- helpers ------------------------------------------------------------------------------

/** samples[t][i][d] → chunks of `size` samples, dims [S·N, ...rest]. */
function chunksOf(samples: number[][][], size: number, rest: number[], dtype: 'float32' | 'float64' = 'float64', name = 'y'): Chunk[] {
  const T = samples.length;
  const N = samples[0].length;
  const chunks: Chunk[] = [];
  for (let first = 0; first < T; first += size) {
    const S = Math.min(size, T - first);
    const flat: number[] = [];
    for (let t = first; t < first + S; t++) for (let i = 0; i < N; i++) flat.push(...samples[t][i]);
    const data = dtype === 'float32' ? Float32Array.from(flat) : Float64Array.from(flat);
    const out: TensorData = { dtype, data, dims: [S * N, ...rest] };
    chunks.push({ outputs: { [name]: out }, samples: S, rows: N, firstSample: first });
  }
  return chunks;
}

function run(est: RegressionEstimator, chunks: Chunk[]): RegressionResult {
  for (const c of chunks) est.update(c);
  return est.result();
}

function bytes(a: Float64Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function expectRel(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, abs = 0): void {
  expect(actual.length).toBe(expected.length);
  for (let k = 0; k < expected.length; k++) {
    const tol = rel * Math.abs(expected[k]) + abs;
    if (!(Math.abs(actual[k] - expected[k]) <= tol)) {
      throw new Error(`element ${k}: ${actual[k]} vs ${expected[k]} (tolerance ${tol})`);
    }
  }
}

/** Independent one-shot float64 reference: two-pass mean/variance, direct eq. 8 via max-shift. */
function reference(samples: number[][][], targets: number[][] | null, tau: number | null) {
  const T = samples.length;
  const N = samples[0].length;
  const D = samples[0][0].length;
  const mean: number[] = [];
  const sampleVariance: number[] = [];
  const unbiased: number[] = [];
  for (let i = 0; i < N; i++) {
    for (let d = 0; d < D; d++) {
      let s = 0;
      for (let t = 0; t < T; t++) s += samples[t][i][d];
      const m = s / T;
      let q = 0;
      for (let t = 0; t < T; t++) q += (samples[t][i][d] - m) ** 2;
      mean.push(m);
      sampleVariance.push(q / T);
      unbiased.push(T > 1 ? q / (T - 1) : NaN);
    }
  }
  let ll: number[] | null = null;
  let rmse: number | null = null;
  if (targets) {
    let s = 0;
    for (let i = 0; i < N; i++) for (let d = 0; d < D; d++) s += (mean[i * D + d] - targets[i][d]) ** 2;
    rmse = Math.sqrt(s / (N * D));
    if (tau !== null) {
      ll = [];
      for (let i = 0; i < N; i++) {
        const a: number[] = [];
        for (let t = 0; t < T; t++) {
          let sq = 0;
          for (let d = 0; d < D; d++) sq += (targets[i][d] - samples[t][i][d]) ** 2;
          a.push((-tau / 2) * sq);
        }
        const m = Math.max(...a);
        const lse = m + Math.log(a.reduce((acc, v) => acc + Math.exp(v - m), 0));
        ll.push(lse - Math.log(T) - (D / 2) * Math.log(2 * Math.PI) + (D / 2) * Math.log(tau));
      }
    }
  }
  return { mean, sampleVariance, unbiased, ll, rmse };
}

function randomSamples(rand: () => number, T: number, N: number, D: number, scale = 1): number[][][] {
  return Array.from({ length: T }, () => Array.from({ length: N }, () => Array.from({ length: D }, () => scale * (2 * rand() - 1) + 3)));
}

// ---- tests --------------------------------------------------------------------------------

describe('RegressionEstimator: closed forms', () => {
  it('linear model ŷ_t = w_t·x: mean and variance match the exact moments', () => {
    // Sample t is the function x ↦ w_t·x (D = 1) and x ↦ w_t·x + 1 (D = 2).
    const w = [1, 2, 3, 4];
    const x = [1, 2, 3];
    const samples = w.map((wt) => x.map((xi) => [wt * xi, wt * xi + 1]));
    const tau = 4;
    const r = run(new RegressionEstimator({ output: 'y', tau }), chunksOf(samples, 3, [2]));
    // mean(w) = 2.5, biased var(w) = 1.25, unbiased var(w) = 5/3.
    const expMean = x.flatMap((xi) => [2.5 * xi, 2.5 * xi + 1]);
    const expVar = x.flatMap((xi) => [1.25 * xi * xi, 1.25 * xi * xi]);
    // Welford on small integers: a few roundings at most, so 1e-14 relative.
    expectRel(r.mean, expMean, 1e-14);
    expectRel(r.sampleVariance, expVar, 1e-14);
    expectRel(
      r.variance,
      expVar.map((v) => v + 1 / tau),
      1e-14,
    );
    expectRel(
      r.std,
      expVar.map((v) => Math.sqrt(v + 1 / tau)),
      1e-14,
    );
    expectRel(
      r.standardError,
      x.flatMap((xi) => [xi * Math.sqrt(5 / 3 / 4), xi * Math.sqrt(5 / 3 / 4)]),
      1e-14,
    );
    expect(r.dims).toEqual([3, 2]);
    expect(r.outputDims).toEqual([2]);
    expect(r.samples).toBe(4);
    expect(r.tau).toBe(4);
    // Two-pass reference agrees too (1e-14: same data, both float64).
    const ref = reference(samples, null, null);
    expectRel(r.mean, ref.mean, 1e-14);
    expectRel(r.sampleVariance, ref.sampleVariance, 1e-14);
  });

  it('constant samples → variance exactly τ⁻¹, zero sample variance and standard error', () => {
    const samples = Array.from({ length: 5 }, () => [[0.1], [-7.3], [1e6 + 0.25]]);
    const tau = 3;
    const r = run(new RegressionEstimator({ output: 'y', tau }), chunksOf(samples, 2, [1]));
    for (let k = 0; k < 3; k++) {
      expect(r.sampleVariance[k]).toBe(0);
      expect(r.variance[k]).toBe(1 / tau);
      expect(r.standardError[k]).toBe(0);
      expect(r.mean[k]).toBe(samples[0][k][0]);
    }
  });

  it('eq. 8 with T = 1 is the Gaussian log density log N(y; ŷ, τ⁻¹ I)', () => {
    const yhat = [
      [0.3, -1.2],
      [2.0, 0.5],
    ];
    const y = [
      [0.1, -1.0],
      [2.5, -0.25],
    ];
    const tau = 2.5;
    const r = run(new RegressionEstimator({ output: 'y', tau, targets: y }), chunksOf([yhat], 1, [2]));
    const expected = yhat.map((row, i) => row.reduce((acc, m, d) => acc + (-0.5 * Math.log((2 * Math.PI) / tau) - (tau / 2) * (y[i][d] - m) ** 2), 0));
    // Same quantity, differently grouped float64 arithmetic: 1e-12 absolute.
    expectRel(r.logLikelihood as Float64Array, expected, 0, 1e-12);
    expect(r.meanLogLikelihood).toBeCloseTo((expected[0] + expected[1]) / 2, 12);
    // T = 1: the sample variance is 0 and the standard error undefined (Infinity).
    expect(Array.from(r.standardError)).toEqual([Infinity, Infinity, Infinity, Infinity]);
  });

  it('RMSE of the MC mean and a targets-as-flat-array input', () => {
    const samples = [
      [[1], [2]],
      [[3], [6]],
    ]; // mean [2, 4]
    const targets = Float64Array.from([1, 7]); // errors 1, −3 → RMSE sqrt(5)
    const r = run(new RegressionEstimator({ output: 'y', targets }), chunksOf(samples, 1, [1]));
    expect(r.rmse).toBe(Math.sqrt(5));
    // Without τ there is no τ⁻¹ and no log-likelihood (eq. 8 needs τ).
    expect(r.tau).toBeNull();
    expect(r.logLikelihood).toBeNull();
    expect(r.meanLogLikelihood).toBeNull();
    expect(Array.from(r.variance)).toEqual(Array.from(r.sampleVariance));
  });

  it('outputs with no per-row dims ([S·N]) have D = 1', () => {
    const data = Float64Array.from([1, 2, 3, 5]); // T = 2, N = 2
    const est = new RegressionEstimator({ output: 'y' });
    est.update({ outputs: { y: { dtype: 'float64', data, dims: [4] } }, samples: 2, rows: 2, firstSample: 0 });
    const r = est.result();
    expect(r.dims).toEqual([2, 1]);
    expect(Array.from(r.mean)).toEqual([2, 3.5]);
  });
});

describe('RegressionEstimator: streaming equals one-shot', () => {
  const T = 97;
  const N = 11;
  const D = 3;
  const rand = lcg(12345);
  const samples = randomSamples(rand, T, N, D);
  const targets = Array.from({ length: N }, () => Array.from({ length: D }, () => 3 + (2 * rand() - 1)));
  const tau = 1.7;
  const ref = reference(samples, targets, tau);

  for (const dtype of ['float64', 'float32'] as const) {
    it(`${dtype}: chunk sizes 1, 7, 64 and T give byte-identical results equal to the two-pass reference`, () => {
      // float32 inputs are exactly representable in float64, so the reference uses the rounded values.
      const used = dtype === 'float32' ? samples.map((s) => s.map((r) => r.map((v) => Math.fround(v)))) : samples;
      const refUsed = dtype === 'float32' ? reference(used, targets, tau) : ref;
      const results = [1, 7, 64, T].map((size) => run(new RegressionEstimator({ output: 'y', tau, targets }), chunksOf(used, size, [D], dtype)));
      for (const r of results) {
        // Welford vs two-pass over ~100 values of O(1): rounding ~1e-15 relative; 1e-12 is ample.
        expectRel(r.mean, refUsed.mean, 1e-12);
        expectRel(r.sampleVariance, refUsed.sampleVariance, 1e-12);
        expectRel(
          r.standardError,
          refUsed.unbiased.map((v) => Math.sqrt(v / T)),
          1e-12,
        );
        expectRel(r.logLikelihood as Float64Array, refUsed.ll as number[], 1e-12);
        expect(Math.abs((r.rmse as number) - (refUsed.rmse as number))).toBeLessThanOrEqual(1e-12 * (refUsed.rmse as number));
      }
      const base = results[0];
      for (const r of results.slice(1)) {
        for (const key of ['mean', 'variance', 'std', 'sampleVariance', 'standardError', 'logLikelihood'] as const) {
          expect(bytes(r[key] as Float64Array).equals(bytes(base[key] as Float64Array))).toBe(true);
        }
        expect(Object.is(r.rmse, base.rmse)).toBe(true);
        expect(Object.is(r.meanLogLikelihood, base.meanLogLikelihood)).toBe(true);
      }
    });
  }

  it('maxStandardError: Infinity before two samples, then the largest standard error', () => {
    const est = new RegressionEstimator({ output: 'y' });
    expect(est.maxStandardError()).toBe(Infinity);
    const chunks = chunksOf(samples, 1, [D]);
    est.update(chunks[0]);
    expect(est.samples).toBe(1);
    expect(est.maxStandardError()).toBe(Infinity);
    for (const c of chunks.slice(1)) est.update(c);
    expect(est.samples).toBe(T);
    expect(est.maxStandardError()).toBe(Math.max(...est.result().standardError));
  });

  it('result() can be taken mid-stream and the stream continues', () => {
    const est = new RegressionEstimator({ output: 'y', tau, targets });
    const chunks = chunksOf(samples, 7, [D]);
    est.update(chunks[0]);
    const early = est.result();
    expect(early.samples).toBe(7);
    for (const c of chunks.slice(1)) est.update(c);
    expectRel(est.result().mean, ref.mean, 1e-12);
  });
});

describe('RegressionEstimator: large magnitudes', () => {
  it('eq. 8 with −τ/2 ‖y − ŷ_t‖² ≈ −1e4 stays finite and matches a max-shifted reference', () => {
    // Errors of ~100 with τ = 2 give exponents around −1e4, where exp() underflows to 0.
    const y = [[0]];
    const yhat = [100, 100.5, 99.7, 101, 100.2];
    const samples = yhat.map((v) => [[v]]);
    const tau = 2;
    const r = run(new RegressionEstimator({ output: 'y', tau, targets: y }), chunksOf(samples, 2, [1]));
    const a = yhat.map((v) => -(tau / 2) * v * v);
    const naive = Math.log(a.reduce((s, v) => s + Math.exp(v), 0));
    expect(naive).toBe(-Infinity); // the naive formula fails here
    const m = Math.max(...a);
    const lse = m + Math.log(a.reduce((s, v) => s + Math.exp(v - m), 0));
    const expected = lse - Math.log(5) - 0.5 * Math.log(2 * Math.PI) + 0.5 * Math.log(tau);
    const got = (r.logLikelihood as Float64Array)[0];
    expect(Number.isFinite(got)).toBe(true);
    // Values of magnitude ~1e4: 1e-12 relative.
    expect(Math.abs(got - expected)).toBeLessThanOrEqual(1e-12 * Math.abs(expected));
  });

  it('variance of values near 1e8 with spread 1e-2 is accurate (no catastrophic cancellation)', () => {
    const deltas = [0.01, -0.02, 0.005, 0.0, 0.015, -0.01];
    const samples = deltas.map((d) => [[1e8 + d]]);
    const r = run(new RegressionEstimator({ output: 'y' }), chunksOf(samples, 4, [1]));
    const ref = reference(samples, null, null);
    // The naive Σŷ²/T − ȳ² loses all digits here; Welford keeps ~1e-8 relative (inputs carry
    // ~1e-8 absolute representation error at 1e8, which dominates).
    expectRel(r.sampleVariance, ref.sampleVariance, 1e-6);
  });
});

describe('deterministicRegression', () => {
  it('RMSE (and Gaussian log-likelihood with τ) of one deterministic pass', () => {
    const out: TensorData = { dtype: 'float32', data: Float32Array.from([1, 2, 4]), dims: [3, 1] };
    const r = deterministicRegression(out, [[0], [2], [2]], { tau: 1 });
    expect(r.rmse).toBe(Math.sqrt(5 / 3));
    expect(r.dims).toEqual([3, 1]);
    const expected = [1, 0, 4].map((e2) => -0.5 * Math.log(2 * Math.PI) - 0.5 * e2);
    expectRel(r.logLikelihood as Float64Array, expected, 0, 1e-12); // float64 rounding only
    const plain = deterministicRegression(out, [0, 2, 2]);
    expect(plain.rmse).toBe(Math.sqrt(5 / 3));
    expect(plain.logLikelihood).toBeNull();
    expect(plain.tau).toBeNull();
  });
});

describe('RegressionEstimator: validation', () => {
  const good = chunksOf(
    [
      [[1], [2]],
      [[3], [4]],
    ],
    1,
    [1],
  );

  it('rejects bad options with E_CONFIG', () => {
    expect(codeOf(() => new RegressionEstimator({ output: '' }))).toBe('E_CONFIG');
    expect(codeOf(() => new RegressionEstimator({ output: 'y', tau: 0 }))).toBe('E_CONFIG');
    expect(codeOf(() => new RegressionEstimator({ output: 'y', tau: Number.NaN }))).toBe('E_CONFIG');
    expect(codeOf(() => new RegressionEstimator({ output: 'y', tau: -1 }))).toBe('E_CONFIG');
  });

  it('rejects a missing output, wrong dims, changing N or per-row dims, out-of-order chunks', () => {
    const est = new RegressionEstimator({ output: 'z' });
    expect(codeOf(() => est.update(good[0]))).toBe('E_INPUT');
    try {
      est.update(good[0]);
    } catch (e) {
      expect((e as Error).message).toContain("no output 'z'");
      expect((e as Error).message).toContain('outputs: y');
    }
    const e2 = new RegressionEstimator({ output: 'y' });
    const badDims: Chunk = { ...good[0], outputs: { y: { dtype: 'float64', data: new Float64Array(3), dims: [3, 1] } } };
    expect(codeOf(() => e2.update(badDims))).toBe('E_INPUT');
    const intOut: Chunk = { ...good[0], outputs: { y: { dtype: 'int32', data: new Int32Array(2), dims: [2, 1] } } };
    expect(codeOf(() => e2.update(intOut))).toBe('E_INPUT');
    e2.update(good[0]);
    const otherN = chunksOf([[[1], [2], [3]]], 1, [1])[0];
    expect(codeOf(() => e2.update({ ...otherN, firstSample: 1 }))).toBe('E_INPUT');
    try {
      e2.update({ ...otherN, firstSample: 1 });
    } catch (e) {
      expect((e as Error).message).toMatch(/expected 2 .*got 3/);
    }
    const otherRest = chunksOf(
      [
        [
          [1, 1],
          [2, 2],
        ],
      ],
      1,
      [2],
    )[0];
    expect(codeOf(() => e2.update({ ...otherRest, firstSample: 1 }))).toBe('E_INPUT');
    expect(codeOf(() => e2.update(good[0]))).toBe('E_INPUT'); // firstSample 0 again
    e2.update(good[1]);
    expect(e2.samples).toBe(2);
  });

  it('NaN outputs → E_RUNTIME naming sample and row, and the state is left untouched', () => {
    const est = new RegressionEstimator({ output: 'y' });
    est.update(good[0]);
    const nan: Chunk = { ...good[1], outputs: { y: { dtype: 'float64', data: Float64Array.from([5, Number.NaN]), dims: [2, 1] } } };
    expect(codeOf(() => est.update(nan))).toBe('E_RUNTIME');
    try {
      est.update(nan);
    } catch (e) {
      expect((e as Error).message).toContain('MC sample 1, row 1');
    }
    expect(est.samples).toBe(1);
    est.update(good[1]);
    expect(Array.from(est.result().mean)).toEqual([2, 3]);
  });

  it('bad targets → E_INPUT; result() before any sample → McuError', () => {
    expect(codeOf(() => new RegressionEstimator({ output: 'y', targets: [1, 2, 3] }).update(good[0]))).toBe('E_INPUT');
    expect(codeOf(() => new RegressionEstimator({ output: 'y', targets: [[1], [2, 3]] }).update(good[0]))).toBe('E_INPUT');
    expect(codeOf(() => new RegressionEstimator({ output: 'y', targets: [1, Number.NaN] }).update(good[0]))).toBe('E_INPUT');
    expect(codeOf(() => new RegressionEstimator({ output: 'y' }).result())).toBe('E_RUNTIME');
  });
});
