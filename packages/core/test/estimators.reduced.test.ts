// The estimators fed from per-chunk reductions (updateReduced) against their own pass over the
// raw samples (update), and the engine's choice between the two paths. The reductions are made
// here in float32 (Math.fround after every operation), as a backend's float32 graph makes them,
// by an implementation independent of the estimators' code.
import { describe, expect, it } from 'vitest';
import { bytesPerSample, chunkSamplesFor, REDUCED_OUTPUT_COPIES } from '../src/engine/chunking.js';
import { McEngine, REDUCE_IN_GRAPH_MIN_VALUES } from '../src/engine/engine.js';
import { isMcuError } from '../src/errors.js';
import { ClassificationEstimator, RegressionEstimator, reducedUsable, SampleCollector } from '../src/estimators/index.js';
import type { ReducedChunk } from '../src/estimators/estimator.js';
import type { FoldedSampleSite, OutputReduction, ReducedOutput, RunOptions, StochasticModel } from '../src/model.js';
import { ReferenceBackend } from '../src/reference/backend.js';
import { randomMlp } from '../src/reference/mlp.js';
import { createSeededSampler } from '../src/sampling/index.js';
import type { NamedTensors } from '../src/tensor.js';

const f = Math.fround;

/** A seeded normal generator (Box–Muller on an LCG): test data only. */
function normals(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

/** float32 moments of samples t0 … t0+S−1 of data [T·N·D], shifted by the chunk's first sample (as graph/reduce.ts). */
function momentsF32(data: Float32Array, t0: number, S: number, N: number, D: number, shifted = true): Pick<ReducedOutput, 'mean' | 'm2' | 'shift'> {
  const K = N * D;
  const shift = new Float32Array(K);
  const mean = new Float32Array(K);
  const m2 = new Float32Array(K);
  for (let k = 0; k < K; k++) {
    const c = shifted ? data[t0 * K + k]! : 0;
    shift[k] = c;
    let s = 0;
    for (let t = 0; t < S; t++) s = f(s + f(data[(t0 + t) * K + k]! - c));
    const m = f(s / S);
    mean[k] = m;
    let q = 0;
    for (let t = 0; t < S; t++) {
      const d = f(f(data[(t0 + t) * K + k]! - c) - m);
      q = f(q + f(d * d));
    }
    m2[k] = q;
  }
  return shifted ? { mean, m2, shift } : { mean, m2 };
}

/** float32 classification reductions of logits (or probabilities) [T·N·C]. */
function classesF32(data: ArrayLike<number>, t0: number, S: number, N: number, C: number, kind: 'logits' | 'probabilities'): ReducedOutput {
  const mean = new Float32Array(N * C);
  const m2 = new Float32Array(N * C);
  const entropy = new Float32Array(N);
  const votes = new Float32Array(N * C);
  const p = new Float32Array(S * N * C);
  let lo = Infinity;
  let hi = -Infinity;
  for (let t = 0; t < S; t++) {
    for (let i = 0; i < N; i++) {
      const off = ((t0 + t) * N + i) * C;
      const out = (t * N + i) * C;
      let best = 0;
      for (let c = 1; c < C; c++) if (data[off + c]! > data[off + best]!) best = c;
      votes[i * C + best] = f(votes[i * C + best]! + 1);
      let h = 0;
      if (kind === 'logits') {
        let z = 0;
        for (let c = 0; c < C; c++) z = f(z + f(Math.exp(f(data[off + c]! - data[off + best]!))));
        for (let c = 0; c < C; c++) {
          const logP = f(f(data[off + c]! - data[off + best]!) - f(Math.log(z)));
          p[out + c] = f(Math.exp(logP));
          h = f(h - f(p[out + c]! * logP));
        }
      } else {
        let z = 0;
        for (let c = 0; c < C; c++) {
          z = f(z + data[off + c]!);
          lo = Math.min(lo, data[off + c]!);
          hi = Math.max(hi, data[off + c]!);
        }
        for (let c = 0; c < C; c++) {
          p[out + c] = f(data[off + c]! / z);
          if (p[out + c]! > 0) h = f(h - f(p[out + c]! * f(Math.log(p[out + c]!))));
        }
      }
      entropy[i] = f(entropy[i]! + h);
    }
  }
  for (let k = 0; k < N * C; k++) {
    let s = 0;
    for (let t = 0; t < S; t++) s = f(s + p[t * N * C + k]!);
    mean[k] = f(s / S);
    let q = 0;
    for (let t = 0; t < S; t++) {
      const d = f(p[t * N * C + k]! - mean[k]!);
      q = f(q + f(d * d));
    }
    m2[k] = q;
    votes[k] = f(votes[k]! / S);
  }
  for (let i = 0; i < N; i++) entropy[i] = f(entropy[i]! / S);
  return { output: 'y', kind, dims: [C], mean, m2, entropy, votes, ...(kind === 'probabilities' ? { range: [lo, hi] as const } : {}) };
}

function maxRelative(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let w = 0;
  for (let k = 0; k < a.length; k++) w = Math.max(w, Math.abs(a[k]! - b[k]!) / Math.abs(b[k]!));
  return w;
}
function maxAbsolute(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let w = 0;
  for (let k = 0; k < a.length; k++) w = Math.max(w, Math.abs(a[k]! - b[k]!));
  return w;
}

describe('RegressionEstimator.updateReduced (Chan et al. combination of float32 chunk moments)', () => {
  // |mean| = 1000 with std 0.01: float32 holds the values to 6e-5 (0.6 % of the std), and
  // Σy² − (Σy)²/S in float32 loses everything (1e6 · 2⁻²⁴ ≈ 0.06 ≫ var = 1e-4).
  const T = 64;
  const N = 5;
  const D = 2;
  const g = normals(3);
  const data = Float32Array.from({ length: T * N * D }, (_, k) => 1000 * (1 + (k % (N * D))) + 0.01 * g());

  it.each([1, 7, 64])('equals update() for |mean| ≫ std (chunks of %i; mean relative 1e-12, variance 1e-5)', (chunk) => {
    const raw = new RegressionEstimator({ output: 'y', tau: 4 });
    const red = new RegressionEstimator({ output: 'y', tau: 4 });
    for (let t0 = 0; t0 < T; t0 += chunk) {
      const S = Math.min(chunk, T - t0);
      raw.update({
        outputs: { y: { dtype: 'float32', data: data.subarray(t0 * N * D, (t0 + S) * N * D), dims: [S * N, D] } },
        samples: S,
        rows: N,
        firstSample: t0,
      });
      const r: ReducedChunk = {
        outputs: [{ output: 'y', kind: 'moments', dims: [D], ...momentsF32(data, t0, S, N, D) }],
        samples: S,
        rows: N,
        firstSample: t0,
      };
      red.updateReduced(r);
      if (t0 + S >= 2) expect(red.maxStandardError() / raw.maxStandardError()).toBeCloseTo(1, 4);
    }
    const a = red.result();
    const b = raw.result();
    expect(a.samples).toBe(T);
    // the shift keeps the chunk means exact to the deviations' float32 rounding: ≤ 7e-9 of 1000
    expect(maxRelative(a.mean, b.mean)).toBeLessThan(1e-11);
    expect(maxRelative(a.sampleVariance, b.sampleVariance)).toBeLessThan(1e-5);
    expect(maxRelative(a.variance, b.variance)).toBeLessThan(1e-5);
    expect(maxRelative(a.standardError, b.standardError)).toBeLessThan(1e-5);
  });

  it('the naive float32 Σy² − (Σy)²/S on the same data is off by orders of magnitude (what the moments avoid)', () => {
    const raw = new RegressionEstimator({ output: 'y' });
    raw.update({ outputs: { y: { dtype: 'float32', data, dims: [T * N, D] } }, samples: T, rows: N, firstSample: 0 });
    const want = raw.result().sampleVariance;
    let worst = 0;
    for (let k = 0; k < N * D; k++) {
      let s = 0;
      let q = 0;
      for (let t = 0; t < T; t++) {
        s = f(s + data[t * N * D + k]!);
        q = f(q + f(data[t * N * D + k]! * data[t * N * D + k]!));
      }
      const naive = f(f(q - f(f(s * s) / T)) / T);
      worst = Math.max(worst, Math.abs(naive - want[k]!) / want[k]!);
    }
    expect(worst).toBeGreaterThan(10);
  });

  it('refuses a reduced chunk with targets (those need the raw samples), a wrong order or a non-finite value', () => {
    const withTargets = new RegressionEstimator({ output: 'y', targets: [1, 2], tau: 1 });
    expect(withTargets.reduction()).toBeNull();
    const chunk = (firstSample: number, m: number): ReducedChunk => ({
      outputs: [{ output: 'y', kind: 'moments', dims: [1], mean: Float32Array.of(m, 0), m2: Float32Array.of(0, 0) }],
      samples: 2,
      rows: 2,
      firstSample,
    });
    expect(() => withTargets.updateReduced(chunk(0, 1))).toThrow(/targets/);
    const est = new RegressionEstimator({ output: 'y' });
    expect(est.reduction()).toEqual({ output: 'y', kind: 'moments' });
    expect(() => est.updateReduced(chunk(2, 1))).toThrow(/sample order/);
    expect(() => est.updateReduced(chunk(0, Number.NaN))).toThrow(/non-finite/);
    expect(est.samples).toBe(0);
    est.updateReduced(chunk(0, 1));
    expect(est.samples).toBe(2);
  });
});

describe('ClassificationEstimator.updateReduced', () => {
  const T = 40;
  const N = 6;
  const C = 4;
  const g = normals(8);
  // rows 0–2 uncertain (logits spread 0.3), rows 3–5 confident (one class ahead by 6)
  const logits = Float32Array.from({ length: T * N * C }, (_, k) => {
    const i = Math.floor(k / C) % N;
    const c = k % C;
    return i < 3 ? 0.3 * g() : (c === i % C ? 6 : 0) + g();
  });
  const probabilities = new Float32Array(logits.length);
  for (let r = 0; r < T * N; r++) {
    let z = 0;
    for (let c = 0; c < C; c++) z += Math.exp(logits[r * C + c]!);
    for (let c = 0; c < C; c++) probabilities[r * C + c] = Math.exp(logits[r * C + c]!) / z;
  }

  for (const kind of ['logits', 'probabilities'] as const) {
    it.each([1, 7, 40])(`${kind}: equals update() (chunks of %i; probabilities 1e-6 absolute, entropies 1e-5, votes exact)`, (chunk) => {
      const data = kind === 'logits' ? logits : probabilities;
      const raw = new ClassificationEstimator({ output: 'y', outputs: kind });
      const red = new ClassificationEstimator({ output: 'y', outputs: kind });
      expect(red.reduction()).toEqual({ output: 'y', kind });
      for (let t0 = 0; t0 < T; t0 += chunk) {
        const S = Math.min(chunk, T - t0);
        raw.update({
          outputs: { y: { dtype: 'float32', data: data.subarray(t0 * N * C, (t0 + S) * N * C), dims: [S * N, C] } },
          samples: S,
          rows: N,
          firstSample: t0,
        });
        const r = classesF32(data, t0, S, N, C, kind);
        expect(reducedUsable([r])).toBe(true);
        red.updateReduced({ outputs: [r], samples: S, rows: N, firstSample: t0 });
      }
      const a = red.result();
      const b = raw.result();
      expect(maxAbsolute(a.probs, b.probs)).toBeLessThan(1e-6);
      expect(maxAbsolute(a.probsStandardError, b.probsStandardError)).toBeLessThan(1e-6);
      expect(maxAbsolute(a.entropy, b.entropy)).toBeLessThan(1e-5);
      expect(maxAbsolute(a.expectedEntropy, b.expectedEntropy)).toBeLessThan(1e-5);
      expect(maxAbsolute(a.mutualInformation, b.mutualInformation)).toBeLessThan(1e-5);
      expect(Array.from(a.votes)).toEqual(Array.from(b.votes));
      expect(Array.from(a.variationRatio)).toEqual(Array.from(b.variationRatio));
      expect(Math.max(...b.variationRatio)).toBeGreaterThan(0.3); // the uncertain rows vote for several classes
    });
  }

  it('votes keep the lowest class on ties, as update() does', () => {
    const tied = Float32Array.from([1, 3, 3, 0, 2, 2, 2, 2]); // two samples of one row, C = 4
    const raw = new ClassificationEstimator({ output: 'y' });
    raw.update({ outputs: { y: { dtype: 'float32', data: tied, dims: [2, 4] } }, samples: 2, rows: 1, firstSample: 0 });
    const red = new ClassificationEstimator({ output: 'y' });
    red.updateReduced({ outputs: [classesF32(tied, 0, 2, 1, 4, 'logits')], samples: 2, rows: 1, firstSample: 0 });
    expect(Array.from(raw.result().votes)).toEqual([1, 1, 0, 0]);
    expect(Array.from(red.result().votes)).toEqual([1, 1, 0, 0]);
  });

  it('a probability out of [0, 1] makes the reduction unusable (and refused), labels need the raw samples', () => {
    const bad = Float32Array.from([0.2, 1.3, 0.1, 0.1]);
    const r = classesF32(bad, 0, 1, 1, 4, 'probabilities');
    expect(reducedUsable([r])).toBe(false);
    const est = new ClassificationEstimator({ output: 'y', outputs: 'probabilities' });
    expect(() => est.updateReduced({ outputs: [r], samples: 1, rows: 1, firstSample: 0 })).toThrow(/outside \[0, 1\]/);
    expect(new ClassificationEstimator({ output: 'y', labels: [0] }).reduction()).toBeNull();
  });
});

/**
 * A reference-backend model with runReduced: the model's own run(), reduced here in float32.
 * `poison` makes the reduction of the chunk starting at that sample NaN; `decline` returns null.
 */
function withReduce(
  model: StochasticModel,
  options: { poison?: number; decline?: boolean; folded?: readonly FoldedSampleSite[] } = {},
): StochasticModel & { rawCalls: number; reducedCalls: number; rawSizes: number[]; reducedSizes: number[] } {
  const counts = { rawCalls: 0, reducedCalls: 0, rawSizes: [] as number[], reducedSizes: [] as number[] };
  let firstSample = 0;
  const wrapped = Object.assign(Object.create(model) as StochasticModel, counts, {
    run(this: typeof counts, feeds: NamedTensors, masks: NamedTensors, o: RunOptions) {
      this.rawCalls++;
      this.rawSizes.push(o.samples);
      return model.run(feeds, masks, o);
    },
    ...(options.folded ? { foldedSampleSites: () => options.folded! } : {}),
    async runReduced(this: typeof counts, feeds: NamedTensors, masks: NamedTensors, o: RunOptions, request: readonly OutputReduction[]) {
      this.reducedCalls++;
      this.reducedSizes.push(o.samples);
      if (options.decline) return null;
      const out = await model.run(feeds, masks, o);
      const S = o.samples;
      const result = request.map((q): ReducedOutput => {
        const y = out[q.output]!;
        const N = y.dims[0]! / S;
        const D = y.data.length / (S * N);
        const data = Float32Array.from(y.data as ArrayLike<number>);
        if (q.kind === 'moments') {
          const m = momentsF32(data, 0, S, N, D);
          if (options.poison === firstSample) m.mean[0] = Number.NaN;
          return { output: q.output, kind: q.kind, dims: y.dims.slice(1), ...m };
        }
        return { ...classesF32(data, 0, S, N, D, q.kind), output: q.output };
      });
      firstSample += S;
      return result;
    },
  });
  return wrapped as StochasticModel & typeof counts;
}

describe('McEngine with a model that reduces in the graph (runReduced)', () => {
  const engine = () => new McEngine(createSeededSampler, {});
  const spec = randomMlp({ sizes: [2, 16, 16, 3], rates: [0.3, 0.2], seed: 6 });
  const feeds: NamedTensors = { x: { dtype: 'float32', data: Float32Array.from([0.1, 0.4, -0.7, 1.2, 2, -0.3]), dims: [3, 2] } };
  const load = () => new ReferenceBackend().load({ kind: 'object', value: spec });
  const common = { samples: 30, seed: 3, chunkSamples: 7, selfCheck: false, reduceInGraph: true } as const;

  it('feeds every estimator from the reductions, never calling run(), with the raw path’s numbers', async () => {
    const model = withReduce(await load());
    const reg = new RegressionEstimator({ output: 'y', tau: 2 });
    const cls = new ClassificationEstimator({ output: 'y' });
    const events: number[] = [];
    const meta = await engine().run(model, feeds, { ...common, estimators: [reg, cls], onProgress: (e) => events.push(e.samplesDone) });
    expect(model.rawCalls).toBe(0);
    expect(model.reducedCalls).toBe(5);
    expect(meta.reducedChunks).toBe(5);
    expect(events).toEqual([7, 14, 21, 28, 30]);
    const rawReg = new RegressionEstimator({ output: 'y', tau: 2 });
    const rawCls = new ClassificationEstimator({ output: 'y' });
    const plain = withReduce(await load());
    const rawMeta = await engine().run(plain, feeds, { ...common, estimators: [rawReg, rawCls], reduceInGraph: false });
    expect(plain.reducedCalls).toBe(0);
    expect(rawMeta.reducedChunks).toBe(0);
    expect(maxRelative(reg.result().mean, rawReg.result().mean)).toBeLessThan(1e-5);
    expect(maxRelative(reg.result().variance, rawReg.result().variance)).toBeLessThan(1e-5);
    expect(maxAbsolute(cls.result().probs, rawCls.result().probs)).toBeLessThan(1e-6);
    expect(Array.from(cls.result().votes)).toEqual(Array.from(rawCls.result().votes));
  });

  it('uses run() when an estimator needs the raw samples, when the model declines, and for a chunk whose reduction is not finite', async () => {
    const collecting = withReduce(await load());
    const a = await engine().run(collecting, feeds, {
      ...common,
      estimators: [new RegressionEstimator({ output: 'y' }), new SampleCollector({ output: 'y' })],
    });
    expect([a.reducedChunks, collecting.reducedCalls, collecting.rawCalls]).toEqual([0, 0, 5]);

    const declining = withReduce(await load(), { decline: true });
    const b = await engine().run(declining, feeds, { ...common, estimators: [new RegressionEstimator({ output: 'y' })] });
    // asked once, then the raw path for the rest of the run
    expect([b.reducedChunks, declining.reducedCalls, declining.rawCalls]).toEqual([0, 1, 5]);

    const poisoned = withReduce(await load(), { poison: 14 });
    const est = new RegressionEstimator({ output: 'y' });
    const c = await engine().run(poisoned, feeds, { ...common, estimators: [est] });
    expect([c.reducedChunks, poisoned.reducedCalls, poisoned.rawCalls]).toEqual([4, 5, 1]);
    const ref = new RegressionEstimator({ output: 'y' });
    await engine().run(await load(), feeds, { ...common, estimators: [ref] });
    expect(maxRelative(est.result().mean, ref.result().mean)).toBeLessThan(1e-5);
    expect(est.samples).toBe(30);
  });

  it('by default reduces in the graph only from REDUCE_IN_GRAPH_MIN_VALUES raw output values per run on', async () => {
    // 3 rows × 3 output values: a run of T samples has 9·T raw values
    const { selfCheck, chunkSamples } = common;
    const small = withReduce(await load());
    const a = await engine().run(small, feeds, { samples: 30, seed: 3, chunkSamples, selfCheck, estimators: [new RegressionEstimator({ output: 'y' })] });
    expect([a.reducedChunks, small.reducedCalls, small.rawCalls]).toEqual([0, 0, 5]);
    const samples = Math.ceil(REDUCE_IN_GRAPH_MIN_VALUES / 9);
    const large = withReduce(await load());
    const b = await engine().run(large, feeds, { samples, seed: 3, chunkSamples: 1000, selfCheck, estimators: [new RegressionEstimator({ output: 'y' })] });
    expect([b.reducedChunks, large.rawCalls]).toEqual([Math.ceil(samples / 1000), 0]);
    const below = withReduce(await load());
    const c = await engine().run(below, feeds, {
      samples: samples - 1,
      seed: 3,
      chunkSamples: 1000,
      selfCheck,
      estimators: [new RegressionEstimator({ output: 'y' })],
    });
    expect([c.reducedChunks, below.reducedCalls]).toEqual([0, 0]);
  });

  it('sizes reduced sample-scope calls by the sites the model folds into weight layers, and raw calls (after a decline) without them', async () => {
    const base = await load();
    const [s1, s2] = base.sites as [StochasticModel['sites'][number], StochasticModel['sites'][number]];
    const rows = 30;
    const x = Float32Array.from({ length: rows * 2 }, (_, i) => Math.sin(i));
    const wide: NamedTensors = { x: { dtype: 'float32', data: x, dims: [rows, 2] } };
    // N = 30, two 16-wide sites, 3 outputs. A raw call, per sample: each site its mask 16 +
    // activations 2·30·16 = 976, plus the output 30·3 = 90: 2,042 floats. A reduced call counts
    // the output REDUCED_OUTPUT_COPIES = 6 times (540); with the first site folded into a
    // (hypothetical) 16 → 1 layer whose input has N rows only: 16 + 16·1 + 30·1 = 62, and the
    // second into the 16 → 3 layer: 16 + 16·3 + 30·3 + its input 30·16 = 634: 1,236 floats.
    // The point scope folds nothing.
    const folded: FoldedSampleSite[] = [
      { site: s1.name, outputs: 1, sharedInput: true },
      { site: s2.name, outputs: 3, sharedInput: false },
    ];
    expect(REDUCED_OUTPUT_COPIES).toBe(6);
    expect(bytesPerSample(base, rows, 'sample')).toBe(2042 * 4);
    expect(bytesPerSample(base, rows, 'sample', base.sites, { folded: [] })).toBe((2042 + 450) * 4);
    expect(bytesPerSample(base, rows, 'sample', base.sites, { folded })).toBe(1236 * 4);
    expect(bytesPerSample(base, rows, 'point', base.sites, { folded })).toBe(bytesPerSample(base, rows, 'point', base.sites, { folded: [] }));
    const budget = 2042 * 4 * 5; // 5 samples per raw call; ⌊40,840 / 4,944⌋ = 8 per folded reduced call
    const run = (model: StochasticModel, est: RegressionEstimator, extra: object = {}) =>
      engine().run(model, wide, { samples: 20, seed: 3, selfCheck: false, reduceInGraph: true, memoryBudgetBytes: budget, estimators: [est], ...extra });

    const reducing = withReduce(await load(), { folded });
    const a = new RegressionEstimator({ output: 'y' });
    expect((await run(reducing, a)).chunkSamples).toBe(8);
    expect(reducing.reducedSizes).toEqual([8, 8, 4]);

    // declined: the raw path for the rest of the run in calls sized without the fold — the
    // first chunk's masks drawn again for 5 samples — with the numbers of a raw run
    const declining = withReduce(await load(), { folded, decline: true });
    const b = new RegressionEstimator({ output: 'y' });
    expect((await run(declining, b)).chunkSamples).toBe(5);
    expect([declining.reducedSizes, declining.rawSizes]).toEqual([[8], [5, 5, 5, 5]]);
    const raw = withReduce(await load(), { folded });
    const c = new RegressionEstimator({ output: 'y' });
    await run(raw, c, { reduceInGraph: false });
    expect(raw.rawSizes).toEqual([5, 5, 5, 5]);
    expect(Array.from(b.result().mean)).toEqual(Array.from(c.result().mean));
    expect(Array.from(b.result().variance)).toEqual(Array.from(c.result().variance));
    expect(maxRelative(a.result().mean, c.result().mean)).toBeLessThan(1e-5);
    // a reduction that is not finite (the chunk from sample 8): its 8 samples again on the raw
    // path in calls of the raw size, 5 + 3, with the raw run's numbers to float32 tolerance
    const poisoned = withReduce(await load(), { folded, poison: 8 });
    const d = new RegressionEstimator({ output: 'y' });
    const meta = await run(poisoned, d);
    expect([meta.reducedChunks, poisoned.reducedSizes, poisoned.rawSizes]).toEqual([2, [8, 8, 4], [5, 3]]);
    expect(d.samples).toBe(20);
    expect(maxRelative(d.result().mean, c.result().mean)).toBeLessThan(1e-5);
    expect(maxRelative(d.result().variance, c.result().variance)).toBeLessThan(1e-5);
    // point scope: no fold, a reduced call's size
    const point = withReduce(await load(), { folded });
    await run(point, new RegressionEstimator({ output: 'y' }), { scope: 'point' });
    expect(point.reducedSizes[0]).toBe(chunkSamplesFor(base, rows, 'point', budget, 20, base.sites, { folded: [] }));
    expect(point.reducedSizes[0]).toBeLessThan(5);
  });

  it('abort and adaptive T work on the reduced path', async () => {
    const model = withReduce(await load());
    const ac = new AbortController();
    const err = await engine()
      .run(model, feeds, {
        ...common,
        estimators: [new RegressionEstimator({ output: 'y' })],
        signal: ac.signal,
        onProgress: (e) => e.samplesDone >= 14 && ac.abort(),
      })
      .catch((e: unknown) => e);
    expect(isMcuError(err) && err.code).toBe('E_ABORTED');
    expect(model.reducedCalls).toBe(2);

    const est = new RegressionEstimator({ output: 'y' });
    const meta = await engine().run(withReduce(await load()), feeds, { ...common, samples: 400, tolerance: 1e9, estimators: [est] });
    expect(meta.converged).toBe(true);
    expect(meta.samples).toBe(14); // the first chunk boundary at or past minSamples 10
    expect(meta.maxStandardError).toBeCloseTo(est.maxStandardError(), 12);
  });
});
