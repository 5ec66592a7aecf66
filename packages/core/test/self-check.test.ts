import { describe, expect, it } from 'vitest';
import { McEngine } from '../src/engine/engine.js';
import { selfCheck, SelfCheckMemo } from '../src/engine/self-check.js';
import { RegressionEstimator } from '../src/estimators/index.js';
import type { MixingProbe, RunOptions, StochasticModel } from '../src/model.js';
import { ReferenceBackend } from '../src/reference/backend.js';
import { randomMlp } from '../src/reference/mlp.js';
import { createSeededSampler } from '../src/sampling/index.js';
import type { NamedTensors, TensorData } from '../src/tensor.js';
import { expectMcuRejection as expectMcuError } from '../../../test/helpers/check.js';

const engine = () => new McEngine(createSeededSampler, {});
const spec = randomMlp({ sizes: [2, 16, 16, 1], rates: [0.3, 0.3], seed: 4 });
const load = () => new ReferenceBackend().load({ kind: 'object', value: spec });
const x = (rows: number[][]): NamedTensors => ({
  x: { dtype: 'float32', data: Float32Array.from(rows.flat()), dims: [rows.length, rows[0]!.length] },
});
const rows3 = x([
  [0.5, 1],
  [1, -1],
  [1.5, 0.25],
]);

/** Wraps a model; `transform` may corrupt its masks before every run. */
function wrap(
  model: StochasticModel,
  transform: (m: NamedTensors, o: RunOptions) => NamedTensors,
  extra: Partial<StochasticModel> = {},
): StochasticModel & { calls: number } {
  const w = {
    calls: 0,
    inputs: model.inputs,
    outputs: model.outputs,
    sites: model.sites,
    backend: model.backend,
    executionProvider: model.executionProvider,
    warnings: model.warnings,
    run(f: NamedTensors, m: NamedTensors, o: RunOptions) {
      w.calls++;
      return model.run(f, transform(m, o), o);
    },
    dispose: () => model.dispose(),
    ...extra,
  };
  return w;
}

/**
 * The bug a rewrite can make: masks [S, R, …] read as [R, S, …] (samples taken for rows). With
 * one sample or one row it is invisible; in a joint run every sample gets another row's masks.
 */
function samplesAsRows(m: NamedTensors, o: RunOptions): NamedTensors {
  const out: Record<string, TensorData> = {};
  for (const [k, t] of Object.entries(m)) {
    const [s, r] = [t.dims[0]!, t.dims[1]!];
    const per = t.data.length / (s * r);
    const data = new Float32Array(t.data.length);
    for (let a = 0; a < s; a++)
      for (let b = 0; b < r; b++) {
        const flat = a * r + b; // read element (a, b) from position (b, a) of an [R, S] view
        const src = (flat % r) * s + Math.floor(flat / r);
        data.set((t.data as Float32Array).subarray(src * per, src * per + per), flat * per);
      }
    out[k] = { ...t, data };
  }
  void o;
  return out;
}

describe('self-check: samples and rows must not mix', () => {
  it('passes a correct model, with 2 rows × 2 samples against each pair alone', async () => {
    const model = wrap(await load(), (m) => m);
    const report = await selfCheck(model, rows3, model.sites);
    expect(report).toMatchObject({ passed: true, rows: 2, samples: 2, cached: false });
    expect(report.maxDifference).toBeLessThanOrEqual(report.tolerance);
    expect(model.calls).toBe(5);
  });

  it('runs before the first real run, once per model and input shape (cached by the engine)', async () => {
    const model = wrap(await load(), (m) => m);
    const est = () => [new RegressionEstimator({ output: 'y' })];
    const e = engine();
    const first = await e.run(model, rows3, { samples: 10, chunkSamples: 10, estimators: est() });
    expect(first.selfCheck).toMatchObject({ passed: true, cached: false });
    expect(model.calls).toBe(5 + 1);
    const again = await e.run(model, rows3, { samples: 10, chunkSamples: 10, estimators: est() });
    expect(again.selfCheck).toMatchObject({ passed: true, cached: true });
    expect(model.calls).toBe(5 + 1 + 1);
    const off = await e.run(model, rows3, { samples: 10, chunkSamples: 10, estimators: est(), selfCheck: false });
    expect(off.selfCheck).toBeNull();
    // another engine (another Mcu) keeps its own results: it checks for itself
    const other = await engine().run(model, rows3, { samples: 10, chunkSamples: 10, estimators: est() });
    expect(other.selfCheck).toMatchObject({ passed: true, cached: false });
    expect(model.calls).toBe(5 + 1 + 1 + 1 + 5 + 1);
  });

  it('shares a memo between loads of the same prepared model (hash), and only through that memo', async () => {
    const a = wrap(await load(), (m) => m, { hash: 'sha256:test-model-a' });
    const b = wrap(await load(), (m) => m, { hash: 'sha256:test-model-a' });
    const memo = new SelfCheckMemo();
    await selfCheck(a, rows3, a.sites, { memo });
    expect(memo.size).toBe(1);
    expect((await selfCheck(b, rows3, b.sites, { memo })).cached).toBe(true);
    expect(b.calls).toBe(0);
    expect((await selfCheck(b, rows3, b.sites, { memo, cache: false })).cached).toBe(false);
    expect((await selfCheck(b, rows3, b.sites)).cached).toBe(false);
    expect(b.calls).toBe(10);
    memo.clear();
    expect(memo.get(a, rows3)).toBeUndefined();
  });

  it('refuses a model whose runs read samples as rows, and names where when the backend can tell', async () => {
    let probe: MixingProbe | undefined;
    const broken = wrap(await load(), samplesAsRows, {
      locateMixing: async (p) => {
        probe = p;
        return "node 'mcu/site1/Reshape' (Reshape)";
      },
    });
    const err = await expectMcuError(engine().run(broken, rows3, { samples: 4, estimators: [] }), 'E_UNSUPPORTED', /self-check failed/);
    expect(err.message).toMatch(/output 'y' of sample \d, row \d/);
    expect(err.message).toMatch(/first at node 'mcu\/site1\/Reshape'/);
    expect(probe?.singles).toHaveLength(4);
    expect(probe?.samples).toBe(2);
  });

  it('also catches mixing with a single input row (its two copies get different masks)', async () => {
    const broken = wrap(await load(), samplesAsRows);
    await expectMcuError(selfCheck(broken, x([[0.5, 1]]), broken.sites), 'E_UNSUPPORTED', /self-check failed/);
  });

  it('catches rows that interact (an operation across the batch)', async () => {
    const base = await load();
    const model: StochasticModel = {
      ...wrap(base, (m) => m),
      async run(f, m, o) {
        const out = await base.run(f, m, o);
        const y = out['y']!;
        const mean = (y.data as Float32Array).reduce((a, b) => a + b, 0) / y.data.length;
        return { y: { ...y, data: (y.data as Float32Array).map((v) => v - mean) } };
      },
    };
    await expectMcuError(selfCheck(model, rows3, model.sites), 'E_UNSUPPORTED', /self-check failed/);
  });
});
