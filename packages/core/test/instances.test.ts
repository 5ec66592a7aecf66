// Two createMcu instances with different settings in one process share nothing: each run gives
// what it gives alone, each instance has its own mask kernel and self-check results, and
// disposing one leaves the other working.
import { ContainerModule } from 'inversify';
import { describe, expect, it } from 'vitest';
import {
  bindBackend,
  createMcu,
  createSeededSampler,
  McEngine,
  randomMlp,
  ReferenceBackend,
  RegressionEstimator,
  SeededSampler,
  type Mcu,
  type MaskScope,
  type NamedTensors,
  type StochasticModel,
} from '../src/index.js';
import { expectMcuRejection } from '../../../test/helpers/check.js';

const referenceModule = new ContainerModule((options) => bindBackend(options, { name: 'reference', priority: 0, create: () => new ReferenceBackend() }));
const spec = randomMlp({ sizes: [2, 32, 32, 1], rates: [0.3, 0.2], seed: 21 });
const source = { kind: 'object', value: spec } as const;
const feeds: NamedTensors = {
  x: { dtype: 'float32', data: Float32Array.from({ length: 16 }, (_, i) => Math.sin(i) * 2), dims: [8, 2] },
};

/** Mean and std of 64 samples, seed 7, with the instance's own settings (on a model it loads, or `model`). */
async function run(mcu: Mcu, scope: MaskScope, model?: StochasticModel) {
  model ??= await mcu.load(source);
  const est = new RegressionEstimator({ output: 'y' });
  const meta = await mcu.engine.run(model, feeds, { samples: 64, seed: 7, scope, estimators: [est] });
  const r = est.result();
  return { mean: Array.from(r.mean), std: Array.from(r.std), chunkSamples: meta.chunkSamples, cached: meta.selfCheck?.cached };
}

// Budgets that give different chunkings (masks are counter-based, so the numbers agree bit for bit).
const small = () => createMcu({ modules: [referenceModule], memoryBudgetBytes: 16 * 1024 });
const large = () => createMcu({ modules: [referenceModule] });

describe('two createMcu instances in one process', () => {
  it('run interleaved, each giving exactly what it gives alone, on its own mask kernel', async () => {
    const aloneA = await run(small(), 'point');
    const aloneB = await run(large(), 'sample');
    const a = small();
    const b = large();
    const [ra, rb] = await Promise.all([run(a, 'point'), run(b, 'sample')]);
    expect(ra).toEqual(aloneA);
    expect(rb).toEqual(aloneB);
    expect(ra.chunkSamples).toBeLessThan(rb.chunkSamples);

    const ka = a.engine.resources.maskKernel;
    const kb = b.engine.resources.maskKernel;
    expect(ka).not.toBe(kb);
    expect(ka.built && kb.built).toBe(true);
    expect(ka.get()).not.toBe(kb.get());
    expect(ka.memoryBytes).toBeGreaterThan(0);
    expect(kb.memoryBytes).toBeGreaterThan(0);
    // a sampler made outside any Mcu draws on a kernel of its own: a mask larger than either
    // instance ever drew leaves both kernels' memory as it was
    const [bytesA, bytesB] = [ka.memoryBytes, kb.memoryBytes];
    const site = { name: 's', kind: 'bernoulli', rate: 0.5, maskShape: [4096] } as const;
    const mask = new SeededSampler({ seed: 1 }).sample({ site, siteIndex: 0, firstSample: 0, count: 64, rows: 8, scope: 'point' });
    expect(mask.data.length * 4).toBeGreaterThan(Math.max(bytesA, bytesB));
    expect([ka.memoryBytes, kb.memoryBytes]).toEqual([bytesA, bytesB]);
    expect(new McEngine(createSeededSampler, {}).resources.maskKernel).not.toBe(ka);
  });

  it('keep their own self-check results', async () => {
    const a = large();
    const b = large();
    const model = await a.load(source);
    expect((await run(a, 'sample', model)).cached).toBe(false);
    expect((await run(a, 'sample', model)).cached).toBe(true);
    // b has not checked this model: it checks for itself, then remembers it too
    expect((await run(b, 'sample', model)).cached).toBe(false);
    expect((await run(b, 'sample', model)).cached).toBe(true);
  });

  it('disposing one frees its kernel and models and leaves the other working', async () => {
    const a = small();
    const b = large();
    const expected = await run(large(), 'point');
    const modelA = await a.load(source);
    await Promise.all([run(a, 'point'), run(b, 'point')]);
    const kb = b.engine.resources.maskKernel;
    const bytesB = kb.memoryBytes;

    await a.dispose();
    await a.dispose(); // safe twice
    expect(a.engine.resources).toMatchObject({ disposed: true, selfChecks: 0 });
    expect(a.engine.resources.maskKernel.memoryBytes).toBe(0);
    expect(a.engine.resources.maskKernel.get()).toBeNull();
    // the models it loaded were disposed with it
    await expectMcuRejection(modelA.run(feeds, {}, { samples: 1, scope: 'sample' }), 'E_RUNTIME', /disposed/);
    await expectMcuRejection(a.load(source), 'E_CONFIG', /this Mcu was disposed; create a new one with createMcu\(\)/);
    const other = await b.load(source);
    await expectMcuRejection(a.engine.run(other, feeds, { samples: 4, estimators: [] }), 'E_CONFIG', /this engine \(and its Mcu\) was disposed/);

    expect(kb.memoryBytes).toBe(bytesB);
    expect(await run(b, 'point')).toEqual(expected);
    await b.dispose();
  });
});
