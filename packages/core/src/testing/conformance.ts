import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McEngine } from '../engine/engine.js';
import type { Estimator, Chunk } from '../estimators/estimator.js';
import type { Backend, StochasticModel } from '../model.js';
import { ReferenceBackend } from '../reference/backend.js';
import { randomMlp, type MlpSpec } from '../reference/mlp.js';
import { createSeededSampler } from '../sampling/seeded.js';
import type { NamedTensors, TensorData } from '../tensor.js';

export interface ConformanceTarget {
  /** Shown in test names, e.g. 'onnx (cpu)'. */
  readonly name: string;
  createBackend(): Promise<Backend>;
  /** Build the given MLP in this backend's own model format and load it. */
  loadMlp(backend: Backend, spec: MlpSpec): Promise<StochasticModel>;
  /**
   * Largest allowed |a − b| / max(1, max|reference|). Default 1e-5: float32 matmuls of
   * a 3-layer, 16-wide net accumulate ~1e-6 relative round-off, far below this.
   */
  readonly tolerance?: number;
}

/** Keeps every chunk's outputs (tests only: O(T·N·D) on purpose). */
class Collect implements Estimator<Float32Array> {
  readonly parts: Float32Array[] = [];
  samples = 0;
  constructor(readonly output: string) {}
  update(chunk: Chunk): void {
    this.parts.push(Float32Array.from(chunk.outputs[this.output]!.data as Float32Array));
    this.samples += chunk.samples;
  }
  result(): Float32Array {
    const n = this.parts.reduce((a, p) => a + p.length, 0);
    const out = new Float32Array(n);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

function engine(): McEngine {
  return new McEngine(createSeededSampler, {});
}

function inputs(spec: MlpSpec, rows: number): NamedTensors {
  const data = new Float32Array(rows * spec.inputSize);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 1.5;
  return { [spec.input]: { dtype: 'float32', data, dims: [rows, spec.inputSize] } };
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 1;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d / scale;
}

/**
 * The backend conformance suite: every real backend runs it against the reference backend.
 * Same model + same masks → same outputs; seeded runs repeat exactly; different seeds
 * differ; dims and dtypes round-trip; scopes agree; dispose twice is safe.
 */
export function describeBackendConformance(target: ConformanceTarget): void {
  const tol = target.tolerance ?? 1e-5;
  const spec = randomMlp({ sizes: [3, 16, 16, 2], rates: [0.2, 0.5], activation: 'tanh', seed: 7 });
  const rows = 5;
  let backend: Backend;
  let model: StochasticModel;
  let reference: StochasticModel;

  describe(`backend conformance: ${target.name}`, () => {
    beforeAll(async () => {
      backend = await target.createBackend();
      await backend.init();
      model = await target.loadMlp(backend, spec);
      reference = await new ReferenceBackend().load({ kind: 'object', value: spec });
    });
    afterAll(async () => {
      await model?.dispose();
      await reference?.dispose();
    });

    it('describes the same inputs, outputs and sites as the reference', () => {
      expect(model.inputs.map((i) => i.name)).toEqual([spec.input]);
      expect(model.outputs.map((o) => o.name)).toEqual([spec.output]);
      // Site names are each backend's choice (mask input names); order, kind, rate and
      // shape are the contract — masks are drawn by site index.
      expect(model.sites.map((s) => [s.kind, s.rate, [...s.maskShape]])).toEqual(reference.sites.map((s) => [s.kind, s.rate, [...s.maskShape]]));
      expect(typeof model.executionProvider).toBe('string');
    });

    for (const scope of ['sample', 'point'] as const) {
      it(`same masks → same outputs as the reference (scope ${scope})`, async () => {
        const sampler = createSeededSampler({ seed: 11 });
        const s = 4;
        const masks: Record<string, TensorData> = {};
        const refMasks: Record<string, TensorData> = {};
        model.sites.forEach((site, siteIndex) => {
          masks[site.name] = sampler.sample({ site, siteIndex, firstSample: 0, count: s, rows, scope });
          refMasks[reference.sites[siteIndex]!.name] = masks[site.name]!;
        });
        const feeds = inputs(spec, rows);
        const got = (await model.run(feeds, masks, { samples: s, scope }))[spec.output]!;
        const want = (await reference.run(feeds, refMasks, { samples: s, scope }))[spec.output]!;
        expect(got.dtype).toBe('float32');
        expect([...got.dims]).toEqual([s * rows, 2]);
        expect(maxRelDiff(got.data as Float32Array, want.data as Float32Array)).toBeLessThanOrEqual(tol);
      });
    }

    it('a per-sample mask equals the same mask given to every row (scope point)', async () => {
      const sampler = createSeededSampler({ seed: 3 });
      const s = 3;
      const perSample: Record<string, TensorData> = {};
      const perPoint: Record<string, TensorData> = {};
      model.sites.forEach((site, siteIndex) => {
        const m = sampler.sample({ site, siteIndex, firstSample: 0, count: s, rows, scope: 'sample' });
        perSample[site.name] = m;
        const w = site.maskShape.reduce((a, b) => a * b, 1);
        const data = new Float32Array(s * rows * w);
        for (let t = 0; t < s; t++) for (let i = 0; i < rows; i++) data.set((m.data as Float32Array).subarray(t * w, (t + 1) * w), (t * rows + i) * w);
        perPoint[site.name] = { dtype: 'float32', data, dims: [s, rows, ...site.maskShape] };
      });
      const feeds = inputs(spec, rows);
      const a = (await model.run(feeds, perSample, { samples: s, scope: 'sample' }))[spec.output]!;
      const b = (await model.run(feeds, perPoint, { samples: s, scope: 'point' }))[spec.output]!;
      expect(maxRelDiff(a.data as Float32Array, b.data as Float32Array)).toBeLessThanOrEqual(tol);
    });

    it('seeded runs repeat exactly, whatever the chunk size; different seeds differ', async () => {
      const feeds = inputs(spec, rows);
      const run = async (seed: number, chunkSamples: number) => {
        const c = new Collect(spec.output);
        await engine().run(model, feeds, { samples: 9, seed, chunkSamples, estimators: [c] });
        return c.result();
      };
      const a = await run(5, 9);
      const b = await run(5, 9);
      expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
      const c = await run(5, 2);
      expect(maxRelDiff(c, a)).toBeLessThanOrEqual(tol);
      const d = await run(6, 9);
      expect(maxRelDiff(d, a)).toBeGreaterThan(1e-3);
    });

    it('the deterministic pass has leading axis N', async () => {
      const out = (await engine().deterministic(model, inputs(spec, rows)))[spec.output]!;
      const ref = (await engine().deterministic(reference, inputs(spec, rows)))[spec.output]!;
      expect([...out.dims]).toEqual([rows, 2]);
      expect(maxRelDiff(out.data as Float32Array, ref.data as Float32Array)).toBeLessThanOrEqual(tol);
    });

    it('dispose twice is safe', async () => {
      const m = await target.loadMlp(backend, spec);
      await m.dispose();
      await expect(m.dispose()).resolves.toBeUndefined();
    });
  });
}
