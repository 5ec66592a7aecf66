// Monte Carlo standard errors of the test log-likelihood and RMSE (batch means), checked
// against closed forms for Gaussian samples and against the spread of independent repeats.
import { describe, expect, it } from 'vitest';
import { ClassificationEstimator, RegressionEstimator, type RegressionResult } from '../src/estimators/index.js';
import { codeOf, mulberry32 } from '../../../test/helpers/check.js';

/** Standard normal draws (Box–Muller on mulberry32). */
function normals(seed: number): () => number {
  const u = mulberry32(seed);
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    const a = 2 * Math.PI * u();
    spare = r * Math.sin(a);
    return r * Math.cos(a);
  };
}

interface Case {
  mu: number[];
  sigma: number[];
  y: number[];
}

/**
 * Feeds T samples ŷ_ti = μ_i + σ_i ε_ti in chunks of 500; `shared` gives every row the same
 * ε_t (rows share masks, as with mask scope 'sample').
 */
function estimate(c: Case, T: number, opts: { tau: number; mcBatches?: number; seed: number; shared?: boolean }): RegressionResult {
  const N = c.mu.length;
  const est = new RegressionEstimator({ output: 'y', targets: c.y, tau: opts.tau, ...(opts.mcBatches !== undefined ? { mcBatches: opts.mcBatches } : {}) });
  const eps = normals(opts.seed);
  for (let first = 0; first < T; first += 500) {
    const S = Math.min(500, T - first);
    const data = new Float64Array(S * N);
    for (let t = 0; t < S; t++) {
      const e0 = eps();
      for (let i = 0; i < N; i++) data[t * N + i] = c.mu[i] + c.sigma[i] * (opts.shared ? e0 : eps());
    }
    est.update({ outputs: { y: { dtype: 'float64', data, dims: [S * N, 1] } }, samples: S, rows: N, firstSample: first });
  }
  return est.result();
}

/** Var of log(mean of T draws of w = exp(−τ/2 (y − ŷ)²)), ŷ ~ N(μ, σ²), by the delta method. */
function logMeanWeightVariance(tau: number, mu: number, sigma: number, y: number, T: number): number {
  const d2 = (y - mu) ** 2;
  const a = tau * sigma * sigma;
  const m1 = Math.exp((-tau * d2) / (2 * (1 + a))) / Math.sqrt(1 + a);
  const m2 = Math.exp((-tau * d2) / (1 + 2 * a)) / Math.sqrt(1 + 2 * a);
  return (m2 / (m1 * m1) - 1) / T;
}

/**
 * Repeated estimates with their reported SEs: the mean SE against the s.d. of the estimates,
 * within 15 % (300 repeats: the s.d. itself has ≈ 4 % relative noise; plus the O(1/T) delta error).
 */
function expectCalibrated(repeats: readonly (readonly [number, number])[], what: string): void {
  const n = repeats.length;
  const m = repeats.reduce((a, [x]) => a + x, 0) / n;
  const sd = Math.sqrt(repeats.reduce((a, [x]) => a + (x - m) ** 2, 0) / (n - 1));
  const se = repeats.reduce((a, [, e]) => a + e, 0) / n;
  expect(se / sd, what).toBeGreaterThan(0.85);
  expect(se / sd, what).toBeLessThan(1.15);
}

function testCase(N: number, seed: number): Case {
  const u = mulberry32(seed);
  const mu = Array.from({ length: N }, () => 4 * u() - 2);
  const sigma = Array.from({ length: N }, () => 0.3 + 0.5 * u());
  // Targets within 1.5 σ of μ, on one side, so that every row's error pushes the RMSE the same way.
  const y = mu.map((m, i) => m + (0.5 + u()) * sigma[i]);
  return { mu, sigma, y };
}

describe('Monte Carlo standard errors (batch means)', () => {
  // B = 256 batches: the SE estimate itself has relative s.d. ≈ 1/√(2·255) ≈ 4.4 %, so 15 %
  // is > 3 s.d. of that noise; the delta-method closed forms are exact to O(1/T).
  const T = 25_600;
  const tau = 2;
  const c = testCase(40, 7);
  const N = c.mu.length;

  it('matches the closed form for independent rows (RMSE and log-likelihood)', () => {
    const r = estimate(c, T, { tau, mcBatches: 256, seed: 1 });
    const e = c.mu.map((m, i) => m - c.y[i]);
    const rmse = Math.sqrt(e.reduce((s, v) => s + v * v, 0) / N);
    const rmseSe = Math.sqrt(e.reduce((s, v, i) => s + v * v * c.sigma[i] ** 2, 0) / T) / (N * rmse);
    expect(r.rmseStandardError! / rmseSe).toBeGreaterThan(0.85);
    expect(r.rmseStandardError! / rmseSe).toBeLessThan(1.15);
    const llVar = c.mu.reduce((s, m, i) => s + logMeanWeightVariance(tau, m, c.sigma[i], c.y[i], T), 0);
    const llSe = Math.sqrt(llVar) / N;
    expect(r.logLikelihoodStandardError! / llSe).toBeGreaterThan(0.85);
    expect(r.logLikelihoodStandardError! / llSe).toBeLessThan(1.15);
  });

  it('accounts for rows that share masks: the errors add up instead of averaging out', () => {
    const r = estimate(c, T, { tau, mcBatches: 256, seed: 2, shared: true });
    const e = c.mu.map((m, i) => m - c.y[i]);
    const rmse = Math.sqrt(e.reduce((s, v) => s + v * v, 0) / N);
    // δRMSE ≈ Σ e_i σ_i ε̄ / (N·RMSE) with one shared ε̄ of variance 1/T.
    const correlated = Math.abs(e.reduce((s, v, i) => s + v * c.sigma[i], 0)) / (Math.sqrt(T) * N * rmse);
    const independent = Math.sqrt(e.reduce((s, v, i) => s + v * v * c.sigma[i] ** 2, 0) / T) / (N * rmse);
    expect(correlated / independent).toBeGreaterThan(4); // the case is built so that sharing matters
    expect(r.rmseStandardError! / correlated).toBeGreaterThan(0.85);
    expect(r.rmseStandardError! / correlated).toBeLessThan(1.15);

    // N identical rows with one shared noise: the mean log-likelihood is as noisy as one row's.
    const same: Case = { mu: Array(N).fill(0.2), sigma: Array(N).fill(0.6), y: Array(N).fill(0.9) };
    const one = Math.sqrt(logMeanWeightVariance(tau, 0.2, 0.6, 0.9, T));
    const rs = estimate(same, T, { tau, mcBatches: 256, seed: 3, shared: true });
    expect(rs.logLikelihoodStandardError! / one).toBeGreaterThan(0.85);
    expect(rs.logLikelihoodStandardError! / one).toBeLessThan(1.15);
    const ri = estimate(same, T, { tau, mcBatches: 256, seed: 3 });
    expect(ri.logLikelihoodStandardError! / (one / Math.sqrt(N))).toBeGreaterThan(0.85);
    expect(ri.logLikelihoodStandardError! / (one / Math.sqrt(N))).toBeLessThan(1.15);
  });

  it('predicts the spread of independent repeats with the default 32 batches', () => {
    // 300 runs of T = 512 on a 10-row case.
    const small = testCase(10, 11);
    const runs = Array.from({ length: 300 }, (_, k) => estimate(small, 512, { tau, seed: 100 + k }));
    expectCalibrated(
      runs.map((r) => [r.meanLogLikelihood!, r.logLikelihoodStandardError!]),
      'log-likelihood',
    );
    expectCalibrated(
      runs.map((r) => [r.rmse!, r.rmseStandardError!]),
      'RMSE',
    );
  });

  it('does not depend on how the samples are chunked', () => {
    const small = testCase(6, 5);
    const samples: Float64Array[] = [];
    const eps = normals(9);
    for (let t = 0; t < 200; t++) samples.push(Float64Array.from(small.mu, (m, i) => m + small.sigma[i] * eps()));
    const run = (size: number): RegressionResult => {
      const est = new RegressionEstimator({ output: 'y', targets: small.y, tau });
      for (let first = 0; first < 200; first += size) {
        const S = Math.min(size, 200 - first);
        const data = new Float64Array(S * 6);
        for (let t = 0; t < S; t++) data.set(samples[first + t], t * 6);
        est.update({ outputs: { y: { dtype: 'float64', data, dims: [S * 6, 1] } }, samples: S, rows: 6, firstSample: first });
      }
      return est.result();
    };
    const a = run(1);
    for (const size of [7, 64, 200]) {
      const b = run(size);
      expect(Object.is(b.logLikelihoodStandardError, a.logLikelihoodStandardError)).toBe(true);
      expect(Object.is(b.rmseStandardError, a.rmseStandardError)).toBe(true);
    }
  });

  it('reports each row’s effective number of samples behind its log-likelihood', () => {
    // Row 0: every sample on the target (all weights 1) → T. Row 1: the target far out in the
    // tail (6 σ), so a few samples carry the log-sum-exp. Reference: the two-pass formula.
    const T = 2000;
    const far: Case = { mu: [0, 0], sigma: [0, 1], y: [0, 6] };
    const est = new RegressionEstimator({ output: 'y', targets: far.y, tau: 4 });
    const eps = normals(21);
    const w: number[] = [];
    const data = new Float64Array(T * 2);
    for (let t = 0; t < T; t++) {
      data[2 * t + 1] = eps();
      w.push(-2 * (6 - data[2 * t + 1]) ** 2);
    }
    est.update({ outputs: { y: { dtype: 'float64', data, dims: [T * 2, 1] } }, samples: T, rows: 2, firstSample: 0 });
    const r = est.result();
    const m = Math.max(...w);
    const s1 = w.reduce((s, v) => s + Math.exp(v - m), 0);
    const s2 = w.reduce((s, v) => s + Math.exp(2 * (v - m)), 0);
    expect(r.logLikelihoodEffectiveSamples![0]).toBeCloseTo(T, 6);
    expect(Math.abs(r.logLikelihoodEffectiveSamples![1] / ((s1 * s1) / s2) - 1)).toBeLessThan(1e-12);
    expect(r.logLikelihoodEffectiveSamples![1]).toBeLessThan(10);
  });

  it('skips the RMSE error (only) when the per-batch means would exceed 2^24 values', () => {
    // 4096 batches × 5000 values = 20.5 M > 2^24: the log-likelihood's error needs only B·N.
    const N = 5000;
    const wide: Case = { mu: Array(N).fill(0), sigma: Array(N).fill(1), y: Array(N).fill(0.5) };
    const r = estimate(wide, 8, { tau: 1, mcBatches: 4096, seed: 4 });
    expect(r.rmseStandardError).toBeNull();
    expect(r.logLikelihoodStandardError).toBeGreaterThan(0);
    expect(estimate(wide, 8, { tau: 1, mcBatches: 2048, seed: 4 }).rmseStandardError).toBeGreaterThan(0);
  });

  it('is null without targets, τ (log-likelihood only), batches or a second sample; bad mcBatches is E_CONFIG', () => {
    const one = (opts: object, T: number): RegressionResult => {
      const est = new RegressionEstimator({ output: 'y', ...opts });
      est.update({
        outputs: { y: { dtype: 'float64', data: Float64Array.from({ length: T * 2 }, (_, k) => k % 5), dims: [T * 2, 1] } },
        samples: T,
        rows: 2,
        firstSample: 0,
      });
      return est.result();
    };
    const none = one({ tau: 1 }, 10);
    expect([none.rmseStandardError, none.logLikelihoodStandardError, none.logLikelihoodEffectiveSamples]).toEqual([null, null, null]);
    const noTau = one({ targets: [1, 2] }, 10);
    expect(noTau.logLikelihoodStandardError).toBeNull();
    expect(noTau.logLikelihoodEffectiveSamples).toBeNull();
    expect(noTau.rmseStandardError).toBeGreaterThan(0);
    const off = one({ targets: [1, 2], tau: 1, mcBatches: 0 }, 10);
    expect([off.rmseStandardError, off.logLikelihoodStandardError]).toEqual([null, null]);
    const single = one({ targets: [1, 2], tau: 1 }, 1);
    expect([single.rmseStandardError, single.logLikelihoodStandardError]).toEqual([null, null]);
    for (const bad of [1, -1, 2.5, 5000, Number.NaN, '32']) {
      expect(codeOf(() => new RegressionEstimator({ output: 'y', targets: [1], mcBatches: bad as number }))).toBe('E_CONFIG');
    }
  });

  it('classification: the SEs of the mean log-likelihood and the Brier score predict the spread of repeats', () => {
    // 8 rows, 4 classes, logits μ_ic + 1.5 ε (independent per class, row and sample): 300 runs
    // of T = 400 with 32 batches; tolerance as in the regression repeat test.
    const N = 8;
    const C = 4;
    const u = mulberry32(31);
    const mu = Array.from({ length: N * C }, () => 3 * u());
    const labels = Array.from({ length: N }, (_, i) => i % C);
    const run = (seed: number, T: number) => {
      const est = new ClassificationEstimator({ output: 'z', labels });
      const eps = normals(seed);
      const data = Float64Array.from({ length: T * N * C }, (_, k) => mu[k % (N * C)] + 1.5 * eps());
      est.update({ outputs: { z: { dtype: 'float64', data, dims: [T * N, C] } }, samples: T, rows: N, firstSample: 0 });
      return est.result();
    };
    const runs = Array.from({ length: 300 }, (_, k) => run(500 + k, 400));
    expectCalibrated(
      runs.map((r) => [r.meanLogLikelihood!, r.logLikelihoodStandardError!]),
      'NLL',
    );
    expectCalibrated(
      runs.map((r) => [r.brier!, r.brierStandardError!]),
      'Brier',
    );
    // effective samples: between 1 and T, and exactly T when every sample agrees
    const r = run(1, 400);
    for (const e of r.logLikelihoodEffectiveSamples!) expect(e > 1 && e <= 400).toBe(true);
    const same = new ClassificationEstimator({ output: 'z', labels: [0] });
    same.update({
      outputs: { z: { dtype: 'float64', data: Float64Array.from({ length: 50 * 2 }, (_, k) => k % 2), dims: [50, 2] } },
      samples: 50,
      rows: 1,
      firstSample: 0,
    });
    expect(same.result().logLikelihoodEffectiveSamples![0]).toBeCloseTo(50, 9);
    expect(codeOf(() => new ClassificationEstimator({ output: 'z', labels: [0], mcBatches: 1 }))).toBe('E_CONFIG');
  });
});
