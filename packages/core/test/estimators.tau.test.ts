import { describe, expect, it } from 'vitest';
import type { Chunk } from '../src/estimators/estimator.js';
import { RegressionEstimator, SquaredErrorCollector, fitTau, logLikelihoodForTau, tauFromWeightDecay, weightDecayFromTau } from '../src/estimators/index.js';
import { codeOf, lcg } from '../../../test/helpers/check.js';

function chunk(values: number[], S: number, N: number, D: number, first: number): Chunk {
  return {
    outputs: { y: { dtype: 'float64', data: Float64Array.from(values), dims: [S * N, D] } },
    samples: S,
    rows: N,
    firstSample: first,
  };
}

/** Independent eq. 8 mean over rows, from errors [T][N]. */
function eq8(errors: number[][], D: number, tau: number): number {
  const T = errors.length;
  const N = errors[0].length;
  let total = 0;
  for (let i = 0; i < N; i++) {
    const a = errors.map((row) => (-tau / 2) * row[i]);
    const m = Math.max(...a);
    total += m + Math.log(a.reduce((s, v) => s + Math.exp(v - m), 0));
  }
  return total / N - Math.log(T) - (D / 2) * Math.log(2 * Math.PI) + (D / 2) * Math.log(tau);
}

describe('tauFromWeightDecay (eq. 7, p = drop rate)', () => {
  it('matches a hand computation', () => {
    // (1 − 0.1) · (1e-2)² / (2 · 1000 · 1e-6) = 0.9e-4 / 2e-3 = 0.045.
    const tau = tauFromWeightDecay({ dropoutRate: 0.1, lengthScale: 1e-2, nTrain: 1000, weightDecay: 1e-6 });
    expect(Math.abs(tau - 0.045)).toBeLessThanOrEqual(1e-15); // a few float64 roundings of O(0.05)
    // p = 0 (no dropout): keep = 1.
    expect(tauFromWeightDecay({ dropoutRate: 0, lengthScale: 2, nTrain: 1, weightDecay: 0.5 })).toBe(4);
  });

  it('weightDecayFromTau inverts it (Gal’s UCI protocol)', () => {
    const params = { dropoutRate: 0.05, lengthScale: 1e-2, nTrain: 455 };
    const lambda = weightDecayFromTau({ ...params, tau: 0.25 });
    // Round trip through two products/quotients: 1e-15 relative.
    expect(Math.abs(tauFromWeightDecay({ ...params, weightDecay: lambda }) - 0.25)).toBeLessThanOrEqual(1e-15);
  });

  it('invalid values throw McuError E_CONFIG naming the value', () => {
    const ok = { dropoutRate: 0.1, lengthScale: 1e-2, nTrain: 1000, weightDecay: 1e-6 };
    for (const bad of [
      { dropoutRate: 1 },
      { dropoutRate: -0.1 },
      { dropoutRate: Number.NaN },
      { lengthScale: 0 },
      { lengthScale: -1 },
      { nTrain: 0 },
      { weightDecay: -1e-6 },
      { weightDecay: Infinity },
    ]) {
      expect(codeOf(() => tauFromWeightDecay({ ...ok, ...bad }))).toBe('E_CONFIG');
    }
    try {
      tauFromWeightDecay({ ...ok, dropoutRate: 1 });
    } catch (e) {
      expect((e as Error).message).toContain('dropoutRate');
      expect((e as Error).message).toContain('[0, 1)');
    }
    expect(codeOf(() => weightDecayFromTau({ dropoutRate: 0.1, lengthScale: 1, nTrain: 1, tau: 0 }))).toBe('E_CONFIG');
  });
});

describe('SquaredErrorCollector', () => {
  it('stores ‖y − ŷ_t‖² per (t, i), identical for any chunking', () => {
    const targets = [
      [1, 2],
      [0, 0],
    ];
    // T = 3, N = 2, D = 2.
    const samples = [
      [
        [1, 3],
        [1, 1],
      ],
      [
        [0, 2],
        [2, 0],
      ],
      [
        [1, 2],
        [0, 3],
      ],
    ];
    const expected = [1, 2, 1, 4, 0, 9];
    const flat = (t0: number, t1: number) => samples.slice(t0, t1).flat(2);
    const a = new SquaredErrorCollector({ output: 'y', targets });
    a.update(chunk(flat(0, 3), 3, 2, 2, 0));
    const b = new SquaredErrorCollector({ output: 'y', targets });
    b.update(chunk(flat(0, 1), 1, 2, 2, 0));
    b.update(chunk(flat(1, 3), 2, 2, 2, 1));
    for (const c of [a, b]) {
      const r = c.result();
      expect(Array.from(r.errors)).toEqual(expected);
      expect([r.samples, r.rows, r.width]).toEqual([3, 2, 2]);
      expect(c.errorsBySample().map((row) => Array.from(row))).toEqual([
        [1, 2],
        [1, 4],
        [0, 9],
      ]);
    }
  });

  it('requires targets and checks them', () => {
    expect(codeOf(() => new SquaredErrorCollector({ output: 'y' } as never))).toBe('E_CONFIG');
    const c = new SquaredErrorCollector({ output: 'y', targets: [1, 2, 3] });
    expect(codeOf(() => c.update(chunk([1, 2], 1, 2, 1, 0)))).toBe('E_INPUT');
    expect(codeOf(() => new SquaredErrorCollector({ output: 'y', targets: [1] }).result())).toBe('E_RUNTIME');
  });
});

describe('fitTau', () => {
  const rand = lcg(4242);
  const N = 200;

  it('T = 1: recovers the analytic maximiser τ* = D / mean(e) (D = 1 and D = 3)', () => {
    for (const D of [1, 3]) {
      const errors = [Array.from({ length: N }, () => D * (0.01 + 2 * rand()))];
      const mean = errors[0].reduce((s, v) => s + v, 0) / N;
      const best = D / mean;
      const r = fitTau(errors, D);
      // Golden-section to 1e-6 in log τ ⇒ ~1e-6 relative in τ; 1e-4 leaves a wide margin.
      expect(Math.abs(r.tau - best) / best).toBeLessThan(1e-4);
      expect(r.atBoundary).toBe(false);
      // The reported log-likelihood is eq. 8 at the returned τ (1e-12: same formula, reordered).
      expect(Math.abs(r.logLikelihood - eq8(errors, D, r.tau))).toBeLessThan(1e-12);
      // …and it is (to second order) the maximum.
      expect(r.logLikelihood).toBeGreaterThanOrEqual(eq8(errors, D, best) - 1e-10);
    }
  });

  it('T > 1 with identical samples has the same optimum; a collector gives the same answer', () => {
    const D = 1;
    const T = 5;
    const y = Array.from({ length: N }, () => rand());
    const yhat = y.map((v) => v + 0.3 * (rand() - 0.5));
    const e = y.map((v, i) => (v - yhat[i]) ** 2);
    const best = D / (e.reduce((s, v) => s + v, 0) / N);
    const errors = Array.from({ length: T }, () => e);
    const r = fitTau(errors, D);
    expect(Math.abs(r.tau - best) / best).toBeLessThan(1e-4); // golden-section tolerance, see above
    const c = new SquaredErrorCollector({ output: 'y', targets: y });
    c.update(chunk([...yhat, ...yhat], 2, N, 1, 0));
    c.update(chunk([...yhat, ...yhat, ...yhat], 3, N, 1, 2));
    const rc = fitTau(c);
    expect(rc.tau).toBe(r.tau); // same squared errors (float64-exact differences) → same search
    expect(rc.logLikelihood).toBe(r.logLikelihood);
  });

  it('agrees with the RegressionEstimator’s eq. 8 at the fitted τ', () => {
    const T = 20;
    const D = 2;
    const targets = Array.from({ length: N }, () => [rand(), rand()]);
    const values: number[] = [];
    for (let t = 0; t < T; t++) for (let i = 0; i < N; i++) values.push(targets[i][0] + 0.2 * (rand() - 0.5), targets[i][1] + 0.1 * (rand() - 0.5));
    const c = new SquaredErrorCollector({ output: 'y', targets });
    c.update(chunk(values, T, N, D, 0));
    const r = fitTau(c, { min: 1e-2, max: 1e5 });
    const est = new RegressionEstimator({ output: 'y', tau: r.tau, targets });
    est.update(chunk(values, T, N, D, 0));
    // Both are eq. 8 in float64 (streaming vs two-pass LSE): 1e-12 absolute on O(1) values.
    expect(Math.abs((est.result().meanLogLikelihood as number) - r.logLikelihood)).toBeLessThan(1e-12);
    expect(Math.abs(logLikelihoodForTau(c.errorsBySample(), D, r.tau) - r.logLikelihood)).toBeLessThan(1e-12);
    // Perturbing τ by ±1 % never improves the likelihood.
    expect(logLikelihoodForTau(c.errorsBySample(), D, r.tau * 1.01)).toBeLessThanOrEqual(r.logLikelihood);
    expect(logLikelihoodForTau(c.errorsBySample(), D, r.tau * 0.99)).toBeLessThanOrEqual(r.logLikelihood);
  });

  it('an optimum outside [min, max] is reported at the boundary', () => {
    const zero = [[0, 0, 0]];
    const r = fitTau(zero, 1, { min: 0.1, max: 1e3 });
    expect(r.tau).toBe(1e3); // perfect fit: the likelihood grows with τ
    expect(r.atBoundary).toBe(true);
    const wide = [[100, 200, 300]]; // τ* = 1/200 < min
    const r2 = fitTau(wide, 1, { min: 0.1, max: 10 });
    expect(r2.tau).toBeCloseTo(0.1, 12);
    expect(r2.atBoundary).toBe(true);
  });

  it('invalid input → E_INPUT / E_CONFIG', () => {
    expect(codeOf(() => fitTau([[1, -1]], 1))).toBe('E_INPUT');
    expect(codeOf(() => fitTau([[1, Number.NaN]], 1))).toBe('E_INPUT');
    expect(codeOf(() => fitTau([[1, 2], [1]], 1))).toBe('E_INPUT');
    expect(codeOf(() => fitTau([], 1))).toBe('E_INPUT');
    expect(codeOf(() => fitTau([[1]], 0))).toBe('E_CONFIG');
    expect(codeOf(() => fitTau([[1]], 1, { min: 10, max: 1 }))).toBe('E_CONFIG');
    expect(codeOf(() => fitTau([[1]], 1, { min: -1 }))).toBe('E_CONFIG');
    expect(codeOf(() => fitTau(new SquaredErrorCollector({ output: 'y', targets: [1] })))).toBe('E_INPUT');
  });
});
