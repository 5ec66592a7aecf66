import { describe, expect, it } from 'vitest';
import { bytesPerSample, chunkSamplesFor } from '../src/engine/chunking.js';
import { McEngine } from '../src/engine/engine.js';
import { McuError } from '../src/errors.js';
import { ClassificationEstimator, RegressionEstimator } from '../src/estimators/index.js';
import type { Chunk, Estimator } from '../src/estimators/estimator.js';
import type { StochasticModel } from '../src/model.js';
import { ReferenceBackend } from '../src/reference/backend.js';
import { randomMlp, type MlpSpec } from '../src/reference/mlp.js';
import { createSeededSampler, ReplaySampler } from '../src/sampling/index.js';
import type { NamedTensors } from '../src/tensor.js';

const engine = () => new McEngine(createSeededSampler, {});
const load = (spec: MlpSpec) => new ReferenceBackend().load({ kind: 'object', value: spec });
const x = (rows: number[][]): NamedTensors => ({
  x: { dtype: 'float32', data: Float32Array.from(rows.flat()), dims: [rows.length, rows[0]!.length] },
});

/** Counts backend calls and the samples per call. */
function spy(model: StochasticModel): { model: StochasticModel; calls: number[] } {
  const calls: number[] = [];
  return {
    calls,
    model: new Proxy(model, {
      get(target, prop, receiver) {
        if (prop === 'run') {
          return (f: NamedTensors, m: NamedTensors, o: { samples: number }) => {
            calls.push(o.samples);
            return target.run(f, m, o as never);
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    }),
  };
}

describe('McEngine on a linear model with every mask enumerated (closed form)', () => {
  // y = Σ_j w_j x_j m_j with m_j ∈ {0, 2} (p = 0.5). Enumerating all 2³ masks once each makes
  // the MC mean and the biased sample variance EQUAL to the exact moments:
  // E[y] = Σ w_j x_j,  Var[y] = Σ w_j² x_j² · p/(1−p) = Σ w_j² x_j².
  const w = [0.5, -1.25, 2];
  const spec: MlpSpec = {
    input: 'x',
    output: 'y',
    inputSize: 3,
    layers: [
      { type: 'dropout', name: 'm', rate: 0.5 },
      { type: 'dense', weights: w.map((v) => [v]), bias: [0] },
    ],
  };
  const rows = [
    [1, 2, 3],
    [-1, 0.5, 0.25],
  ];
  const all = Array.from({ length: 8 }, (_, k) => [k & 1, (k >> 1) & 1, (k >> 2) & 1].map((b) => b * 2));
  const replay = (model: StochasticModel) => new ReplaySampler({ m: { dtype: 'float32', data: Float32Array.from(all.flat()), dims: [8, 1, 3] } }, model.sites);

  for (const chunkSamples of [1, 3, 8]) {
    it(`mean and variance are exact (chunks of ${chunkSamples}); τ⁻¹ is added to the variance`, async () => {
      const model = await load(spec);
      const tau = 4;
      const est = new RegressionEstimator({ output: 'y', tau });
      const meta = await engine().run(model, x(rows), { samples: 8, sampler: replay(model), chunkSamples, estimators: [est] });
      const r = est.result();
      for (let i = 0; i < rows.length; i++) {
        const mean = w.reduce((a, wj, j) => a + wj * rows[i]![j]!, 0);
        const variance = w.reduce((a, wj, j) => a + (wj * rows[i]![j]!) ** 2, 0);
        // float32 outputs: relative error ~1e-7.
        expect(r.mean[i]).toBeCloseTo(mean, 5);
        expect(r.sampleVariance[i]).toBeCloseTo(variance, 4);
        expect(r.variance[i]).toBeCloseTo(variance + 1 / tau, 4);
      }
      expect(meta.samples).toBe(8);
      expect(meta.seed).toBeNull();
      expect(meta.sampler).toMatch(/replay/i);
    });
  }
});

describe('McEngine reproducibility', () => {
  const spec = randomMlp({ sizes: [2, 12, 12, 3], rates: [0.3, 0.1], seed: 4 });
  const input = x([
    [0.1, -0.4],
    [1.2, 0.3],
    [-2, 0.7],
  ]);

  for (const scope of ['sample', 'point'] as const) {
    it(`same seed → byte-identical estimator results for chunk sizes 1, 7, 64 and T (scope ${scope})`, async () => {
      const model = await load(spec);
      const T = 100;
      const results: string[] = [];
      for (const chunkSamples of [1, 7, 64, T]) {
        const reg = new RegressionEstimator({
          output: 'y',
          tau: 2,
          targets: [
            [0, 0, 0],
            [1, 1, 1],
            [2, 2, 2],
          ],
        });
        const cls = new ClassificationEstimator({ output: 'y', labels: [0, 1, 2] });
        await engine().run(model, input, { samples: T, seed: 42, scope, chunkSamples, estimators: [reg, cls] });
        const r = reg.result();
        const c = cls.result();
        results.push(
          JSON.stringify([
            Buffer.from(r.mean.buffer).toString('base64'),
            Buffer.from(r.variance.buffer).toString('base64'),
            Buffer.from(r.logLikelihood!.buffer).toString('base64'),
            Buffer.from(c.probs.buffer).toString('base64'),
            Buffer.from(c.mutualInformation.buffer).toString('base64'),
            Buffer.from(c.variationRatio.buffer).toString('base64'),
            c.meanLogLikelihood,
          ]),
        );
      }
      expect(new Set(results).size).toBe(1);
    });
  }

  it('different seeds give different estimates', async () => {
    const model = await load(spec);
    const mean = async (seed: number) => {
      const reg = new RegressionEstimator({ output: 'y' });
      await engine().run(model, input, { samples: 20, seed, estimators: [reg] });
      return Array.from(reg.result().mean);
    };
    expect(await mean(1)).not.toEqual(await mean(2));
  });
});

describe('McEngine chunking, progress, cancellation, adaptive T', () => {
  const spec = randomMlp({ sizes: [1, 8, 1], rates: [0.5], seed: 9 });
  const input = x([[0.5], [1], [1.5], [2]]);

  it('runs ONE backend call per chunk, sized to the memory budget', async () => {
    const { model, calls } = spy(await load(spec));
    // Per sample (scope sample, N = 4): mask 8 + activations 2·4·8 + output 4 = 76 floats = 304 bytes.
    const meta = await engine().run(model, input, { samples: 10, memoryBudgetBytes: 304 * 3, estimators: [], selfCheck: false });
    expect(calls).toEqual([3, 3, 3, 1]);
    expect(meta.chunkSamples).toBe(3);
  });

  it('keeps calls cache-sized when the model has little work before its first site', async () => {
    // A wide site: 4 rows × 262,144 units × 4 bytes = 4 MiB per sample. With the share before
    // the first site unknown or ≥ 0.5, the budget decides (here all 6 samples in one call);
    // below 0.5, two samples per call (8 MiB / 4 MiB).
    const base = await load(spec);
    const wide = (share?: number): StochasticModel =>
      new Proxy(base, {
        get(target, prop, receiver) {
          if (prop === 'sites') return [{ ...target.sites[0]!, maskShape: [262_144] }];
          if (prop === 'shareBeforeFirstSite') return share;
          return Reflect.get(target, prop, receiver);
        },
      });
    const budget = 1024 ** 3;
    expect(chunkSamplesFor(wide(), 4, 'sample', budget, 6)).toBe(6);
    expect(chunkSamplesFor(wide(0.9), 4, 'sample', budget, 6)).toBe(6);
    expect(chunkSamplesFor(wide(0.01), 4, 'sample', budget, 6)).toBe(2);
    expect(chunkSamplesFor(wide(0.01), 1, 'sample', budget, 20)).toBe(8); // 1 MiB per sample
    // and the budget still caps it
    expect(chunkSamplesFor(wide(0.01), 1, 'sample', bytesPerSample(wide(0.01), 1, 'sample') * 2, 6)).toBe(2);
  });

  it('reports progress after each chunk', async () => {
    const seen: number[] = [];
    await engine().run(await load(spec), input, {
      samples: 5,
      chunkSamples: 2,
      estimators: [],
      onProgress: (e) => seen.push(e.samplesDone),
    });
    expect(seen).toEqual([2, 4, 5]);
  });

  it('stops with E_ABORTED when the signal fires', async () => {
    const ctl = new AbortController();
    const err = await engine()
      .run(await load(spec), input, {
        samples: 50,
        chunkSamples: 5,
        estimators: [],
        signal: ctl.signal,
        onProgress: (e) => e.samplesDone >= 10 && ctl.abort(),
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McuError);
    expect((err as McuError).code).toBe('E_ABORTED');
    expect((err as McuError).message).toContain('after 10 of 50 samples');
  });

  it('adaptive T stops once the largest standard error is within tolerance', async () => {
    const reg = new RegressionEstimator({ output: 'y' });
    const meta = await engine().run(await load(spec), input, {
      samples: 5000,
      chunkSamples: 10,
      tolerance: 0.05,
      estimators: [reg],
    });
    expect(meta.converged).toBe(true);
    expect(meta.samples).toBeLessThan(5000);
    expect(Math.max(...reg.result().standardError)).toBeLessThanOrEqual(0.05);
    expect(meta.maxStandardError).toBeLessThanOrEqual(0.05);
    // …and not one chunk later than needed: the previous chunk was still above tolerance.
    const again = new RegressionEstimator({ output: 'y' });
    await engine().run(await load(spec), input, { samples: meta.samples - 10, chunkSamples: 10, estimators: [again] });
    expect(Math.max(...again.result().standardError)).toBeGreaterThan(0.05);
  });

  it('with a tolerance the stopping rule is checked at least every ⌈T/8⌉ samples, even when the budget would fit all T in one call', async () => {
    const { model, calls } = spy(await load(spec));
    const reg = new RegressionEstimator({ output: 'y' });
    const meta = await engine().run(model, input, { samples: 4000, tolerance: 0.05, estimators: [reg], selfCheck: false });
    expect(meta.chunkSamples).toBe(500);
    expect(calls.every((c) => c <= 500)).toBe(true);
    expect(meta.converged).toBe(true);
    expect(meta.samples).toBeLessThan(4000);
    // without a tolerance one call takes them all
    const all = await engine().run(await load(spec), input, { samples: 4000, estimators: [], selfCheck: false });
    expect(all.chunkSamples).toBe(4000);
  });

  it('adaptive T runs to T_max when the tolerance is never met', async () => {
    const meta = await engine().run(await load(spec), input, {
      samples: 30,
      chunkSamples: 10,
      tolerance: 1e-9,
      estimators: [new RegressionEstimator({ output: 'y' })],
    });
    expect([meta.samples, meta.converged]).toEqual([30, false]);
  });

  it('returns what is needed to reproduce the run', async () => {
    const meta = await engine().run(await load(spec), input, { samples: 4, seed: 77, scope: 'point', estimators: [] });
    expect(meta).toMatchObject({
      backend: 'reference',
      executionProvider: 'typescript',
      seed: 77,
      samples: 4,
      scope: 'point',
      rows: 4,
      sites: [{ name: 'mask1', kind: 'bernoulli', rate: 0.5, maskShape: [8], scaling: 'inverted' }],
    });
  });

  it('the deterministic pass uses mask means (1, or 1 − p without inverted scaling)', async () => {
    const w = [[2]];
    const inverted: MlpSpec = {
      input: 'x',
      output: 'y',
      inputSize: 1,
      layers: [
        { type: 'dropout', name: 'm', rate: 0.25 },
        { type: 'dense', weights: w, bias: [0] },
      ],
    };
    const out = await engine().deterministic(await load(inverted), x([[3]]));
    expect(Array.from(out.y!.data as Float32Array)).toEqual([6]);
    const model = await load(inverted);
    const none = { ...model, sites: model.sites.map((s) => ({ ...s, scaling: 'none' as const })), run: model.run.bind(model) };
    const out2 = await engine().deterministic(none as StochasticModel, x([[3]]));
    expect(Array.from(out2.y!.data as Float32Array)).toEqual([4.5]);
  });

  it('bad requests are McuErrors naming what was expected', async () => {
    const model = await load(spec);
    const run = (feeds: NamedTensors, samples = 3) => engine().run(model, feeds, { samples, estimators: [] });
    await expect(run(input, 0)).rejects.toThrow(/integer ≥ 1, got 0/);
    await expect(run({})).rejects.toThrow(/model input 'x' was not given/);
    await expect(run({ ...input, z: input.x! })).rejects.toThrow(/'z' is not an input of the model/);
    await expect(run(x([[1, 2]]))).rejects.toThrow(/expects dims \[N, 1\], got \[1, 2\]/);
  });
});

describe('estimators see every sample once, in order', () => {
  it('chunks arrive with consecutive firstSample', async () => {
    const firsts: number[] = [];
    const probe: Estimator<null> = {
      samples: 0,
      update(c: Chunk) {
        firsts.push(c.firstSample);
      },
      result: () => null,
    };
    await engine().run(await load(randomMlp({ sizes: [1, 4, 1], rates: [0.1] })), x([[1]]), { samples: 7, chunkSamples: 3, estimators: [probe] });
    expect(firsts).toEqual([0, 3, 6]);
  });
});
