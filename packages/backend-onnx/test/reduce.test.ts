// The reduced graph (graph/reduce.ts) and SessionModel.runReduced: the graph's reductions
// against the same prepared graph's raw outputs reduced here in float64; models of other
// origins (masks as inputs per sample or per row, opset 7) on both paths; and the fallback to
// the raw path when onnxruntime refuses the reduced graph.
//
// Tolerance: the graph sums ≤ S float32 values (relative ≤ S·2⁻²⁴ ≈ 1.2e-6 for S = 20) where
// the reference sums float64; compared at relative 1e-5 plus 1e-6 of the largest value.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  ClassificationEstimator,
  createMcu,
  McuError,
  RegressionEstimator,
  SeededSampler,
  type NamedTensors,
  type StochasticModel,
  type TensorData,
} from '@mcu/core';
import { decodeModel, encodeModel, OnnxNodeBackend, onnxModule, SessionModel, type PreparedModel } from '../src/index.js';
import { reducedGraph } from '../src/graph/reduce.js';
import type { OrtRuntime } from '../src/runtime/session-model.js';
import { fixtureBytes } from '../../../test/helpers/fixtures.js';
import type { ModelProto, NodeProto } from '../src/proto/types.js';
import { f32, vi } from './builders.js';

const REPO = path.resolve(import.meta.dirname, '../../..');
const co2Bytes = (): Uint8Array => new Uint8Array(readFileSync(path.join(REPO, 'examples', 'co2_relu.preserve.onnx')));
const co2Rows = readFileSync(path.join(REPO, 'examples', 'co2-months.csv'), 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map(Number);

function close(got: ArrayLike<number>, want: ArrayLike<number>): boolean {
  let scale = 0;
  for (let k = 0; k < want.length; k++) scale = Math.max(scale, Math.abs(want[k]!));
  for (let k = 0; k < want.length; k++) if (!(Math.abs(got[k]! - want[k]!) <= 1e-5 * Math.abs(want[k]!) + 1e-6 * scale)) return false;
  return got.length === want.length;
}

async function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
}

describe('reducedGraph on the co2 example', () => {
  it('returns the chunk mean (shift + mean) and M2 of the raw outputs of the same masks', async () => {
    const prepared: PreparedModel = await new OnnxNodeBackend().prepare(decodeModel(co2Bytes()));
    const graph = reducedGraph(prepared, [{ output: 'y', kind: 'moments' }])!;
    expect(graph.outputs.map((o) => [o.output, o.kind])).toEqual([['y', 'moments']]);
    const S = 20;
    const N = co2Rows.length;
    const sampler = new SeededSampler({ seed: 7, wasm: false });
    const feeds: Record<string, ort.Tensor> = { [prepared.inputs[0]!.name]: new ort.Tensor('float32', Float32Array.from(co2Rows), [N, 1]) };
    prepared.sites.forEach((site, siteIndex) => {
      const m = sampler.sample({ site, siteIndex, firstSample: 0, count: S, rows: N, scope: 'sample' });
      feeds[site.name] = new ort.Tensor('float32', m.data as Float32Array, m.dims);
    });
    const raw = await session(encodeModel(prepared.model));
    const reduced = await session(encodeModel(graph.model));
    try {
      const y = (await raw.run(feeds)).y!.data as Float32Array; // [S·N, 1], sample-major
      const out = await reduced.run(feeds);
      const names = graph.outputs[0]!;
      expect([...out[names.mean]!.dims].map(Number)).toEqual([N, 1]);
      const mean = new Float64Array(N);
      const m2 = new Float64Array(N);
      for (let i = 0; i < N; i++) {
        for (let t = 0; t < S; t++) mean[i]! += y[t * N + i]! / S;
        for (let t = 0; t < S; t++) m2[i]! += (y[t * N + i]! - mean[i]!) ** 2;
      }
      const shift = out[names.shift!]!.data as Float32Array;
      const rel = out[names.mean]!.data as Float32Array;
      expect(
        close(
          Float64Array.from(rel, (v, i) => shift[i]! + v),
          mean,
        ),
      ).toBe(true);
      expect(close(out[names.m2]!.data as Float32Array, m2)).toBe(true);
      expect(Math.max(...m2)).toBeGreaterThan(0);
    } finally {
      await raw.release();
      await reduced.release();
    }
  });

  it('is not offered for an output that is not the model’s, a classification output without a fixed class count, or the sample-axis layout', async () => {
    const prepared = await new OnnxNodeBackend().prepare(decodeModel(co2Bytes()));
    expect(reducedGraph(prepared, [{ output: 'nope', kind: 'moments' }])).toBeUndefined();
    expect(reducedGraph(prepared, [{ output: 'y', kind: 'logits' }])).toBeUndefined(); // one value per row: no C ≥ 2
    expect(reducedGraph(prepared, [])).toBeUndefined();
    expect(reducedGraph({ ...prepared, layout: 'sample-axis' }, [{ output: 'y', kind: 'moments' }])).toBeUndefined();
  });
});

describe('runReduced on models of other origins: the in-graph path where offered, equal to the JS path', () => {
  const masks = { maskInputs: { mask1: 0.1, mask2: 0.1, mask3: 0.1, mask4: 0.1 } };
  const cases = [
    ['masks as graph inputs [N, …] (co2_relu.masked.onnx)', 'pytorch-1.13/co2_relu.masked.onnx', masks, true],
    ['dropout inserted into an eval export (co2_relu.eval.onnx)', 'pytorch-1.13/co2_relu.eval.onnx', { insertDropout: { rate: 0.1 } }, true],
    ['opset 7 (co2_relu.opset7.onnx): not offered, the raw path', 'pytorch-1.13/co2_relu.opset7.onnx', {}, false],
  ] as const;
  it.each(cases)('%s', async (_label, fixture, load, offered) => {
    const mcu = createMcu({ modules: [onnxModule] });
    const model = await mcu.load({ kind: 'bytes', bytes: fixtureBytes(fixture) }, load);
    try {
      const spec = model.inputs[0]!;
      const N = co2Rows.length;
      const feeds: NamedTensors = { [spec.name]: { dtype: 'float32', data: Float32Array.from(co2Rows), dims: [N, 1] } };
      const output = model.outputs[0]!.name;
      const a = new RegressionEstimator({ output, tau: 20 });
      const b = new RegressionEstimator({ output, tau: 20 });
      const common = { samples: 24, seed: 5, chunkSamples: 7, reduceInGraph: true };
      const ma = await mcu.engine.run(model, feeds, { ...common, estimators: [a] });
      await mcu.engine.run(model, feeds, { ...common, estimators: [b], reduceInGraph: false });
      expect(ma.reducedChunks).toBe(offered ? 4 : 0);
      expect(model.sites.length).toBeGreaterThan(0);
      expect(Math.max(...b.result().sampleVariance)).toBeGreaterThan(0);
      expect(close(a.result().mean, b.result().mean)).toBe(true);
      expect(close(a.result().variance, b.result().variance)).toBe(true);
    } finally {
      await model.dispose();
      mcu.dispose();
    }
  });
});

/**
 * x [N, 4] → Gemm → h [N, 8] → Dropout → Reshape to Shape(h) → Gemm → y [N, 3]: the shape read
 * before the site makes prepare run the graph in the 'tiled' layout (inputs repeated S times).
 */
function tiledModel(): ModelProto {
  const g = normalsLcg(17);
  const W1 = Float32Array.from({ length: 32 }, g);
  const W2 = Float32Array.from({ length: 24 }, g);
  const gemm = (a: string, w: string, b: string, y: string): NodeProto => ({
    op_type: 'Gemm',
    input: [a, w, b],
    output: [y],
    attribute: [{ name: 'transB', type: 2, i: 1n }],
  });
  return {
    ir_version: 7n,
    opset_import: [{ domain: '', version: 13n }],
    graph: {
      name: 'tiled',
      node: [
        gemm('x', 'W1', 'B1', 'h'),
        { op_type: 'Shape', input: ['h'], output: ['s'] },
        { op_type: 'Constant', input: [], output: ['ratio'], attribute: [{ name: 'value', type: 4, t: f32('', [], Float32Array.of(0.3)) }] },
        { op_type: 'Dropout', input: ['h', 'ratio'], output: ['d'] },
        { op_type: 'Reshape', input: ['d', 's'], output: ['r'] },
        gemm('r', 'W2', 'B2', 'y'),
      ],
      initializer: [f32('W1', [8, 4], W1), f32('B1', [8], new Float32Array(8)), f32('W2', [3, 8], W2), f32('B2', [3], new Float32Array(3))],
      input: [vi('x', ['N', 4])],
      output: [vi('y', ['N', 3])],
    },
  };
}

function normalsLcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

describe('runReduced in the tiled layout', () => {
  it('gives the JS path’s regression and classification numbers (3 values per row as logits)', async () => {
    const mcu = createMcu({ modules: [onnxModule] });
    const model = await mcu.load({ kind: 'bytes', bytes: encodeModel(tiledModel()) });
    try {
      expect((model as SessionModel).layout).toBe('tiled');
      const g = normalsLcg(5);
      const feeds: NamedTensors = { x: { dtype: 'float32', data: Float32Array.from({ length: 40 }, g), dims: [10, 4] } };
      for (const scope of ['sample', 'point'] as const) {
        const reg = [new RegressionEstimator({ output: 'y' }), new RegressionEstimator({ output: 'y' })];
        const cls = [new ClassificationEstimator({ output: 'y' }), new ClassificationEstimator({ output: 'y' })];
        const common = { samples: 30, seed: 8, scope, chunkSamples: 7, reduceInGraph: true };
        const a = await mcu.engine.run(model, feeds, { ...common, estimators: [reg[0]!, cls[0]!] });
        await mcu.engine.run(model, feeds, { ...common, estimators: [reg[1]!, cls[1]!], reduceInGraph: false });
        expect(a.reducedChunks).toBe(5);
        expect(close(reg[0]!.result().mean, reg[1]!.result().mean)).toBe(true);
        expect(close(reg[0]!.result().sampleVariance, reg[1]!.result().sampleVariance)).toBe(true);
        expect(Math.max(...reg[1]!.result().sampleVariance)).toBeGreaterThan(0);
        expect(close(cls[0]!.result().probs, cls[1]!.result().probs)).toBe(true);
        expect(close(cls[0]!.result().expectedEntropy, cls[1]!.result().expectedEntropy)).toBe(true);
        expect(Array.from(cls[0]!.result().votes)).toEqual(Array.from(cls[1]!.result().votes));
      }
    } finally {
      await model.dispose();
      mcu.dispose();
    }
  });
});

/**
 * onnxruntime-node, refusing every session after the first (the reduced graph) at creation, or
 * (`at: 'run'`) failing its runs, and counting releases.
 */
function refusingRuntime(at: 'create' | 'run' = 'create'): { runtime: OrtRuntime; created: number; released: number } {
  const state = { created: 0, released: 0 };
  const runtime: OrtRuntime = {
    Tensor: ort.Tensor as unknown as OrtRuntime['Tensor'],
    InferenceSession: {
      async create(bytes, options) {
        state.created++;
        if (state.created > 1 && at === 'create') throw new Error('this runtime refuses the reduced graph');
        const s = await ort.InferenceSession.create(bytes, options);
        if (state.created > 1) s.run = () => Promise.reject(new Error('this kernel fails'));
        const release = s.release.bind(s);
        s.release = async () => {
          state.released++;
          await release();
        };
        return s;
      },
    },
  };
  return Object.assign(state, { runtime });
}

async function sessionModel(runtime: OrtRuntime): Promise<StochasticModel> {
  const prepared = await new OnnxNodeBackend().prepare(decodeModel(co2Bytes()));
  return SessionModel.create({
    runtime,
    bytes: encodeModel(prepared.model),
    backend: 'onnx',
    providers: ['cpu'],
    checkProvider: () => {},
    providerError: (ep, e) => new McuError('E_PROVIDER', `${ep}: ${String(e)}`),
    inputs: prepared.inputs,
    outputs: prepared.outputs,
    sites: prepared.sites,
    layout: prepared.layout,
    warnings: prepared.warnings,
    prepared,
  });
}

describe('SessionModel.runReduced', () => {
  const N = co2Rows.length;
  const feeds: NamedTensors = { x: { dtype: 'float32', data: Float32Array.from(co2Rows), dims: [N, 1] } };

  it.each(['create', 'run'] as const)('falls back to the raw path, with the same numbers, when onnxruntime refuses the reduced graph (at %s)', async (at) => {
    const refusing = refusingRuntime(at);
    const model = await sessionModel(refusing.runtime);
    const mcu = createMcu({ modules: [onnxModule] });
    try {
      const masks: Record<string, TensorData> = {};
      const sampler = new SeededSampler({ seed: 1, wasm: false });
      model.sites.forEach((site, siteIndex) => {
        masks[site.name] = sampler.sample({ site, siteIndex, firstSample: 0, count: 3, rows: N, scope: 'sample' });
      });
      const input = model.inputs[0]!.name;
      const f = { [input]: feeds.x! };
      expect(await model.runReduced!(f, masks, { samples: 3, scope: 'sample' }, [{ output: 'y', kind: 'moments' }])).toBeNull();
      const a = new RegressionEstimator({ output: 'y' });
      const b = new RegressionEstimator({ output: 'y' });
      const common = { samples: 21, seed: 3, chunkSamples: 7, reduceInGraph: true };
      const meta = await mcu.engine.run(model, f, { ...common, estimators: [a] });
      expect(meta.reducedChunks).toBe(0);
      await mcu.engine.run(model, f, { ...common, estimators: [b], reduceInGraph: false });
      expect(Array.from(a.result().mean)).toEqual(Array.from(b.result().mean));
      expect(Array.from(a.result().variance)).toEqual(Array.from(b.result().variance));
      expect(refusing.created).toBe(2); // asked once, remembered
      expect(refusing.released).toBe(at === 'run' ? 1 : 0); // a reduced session that failed is released at once
    } finally {
      await model.dispose();
      mcu.dispose();
    }
    expect(refusing.released).toBe(at === 'run' ? 2 : 1);
  });

  it('creates one session per distinct request, and dispose() releases them all', async () => {
    const state = { created: 0, released: 0 };
    const counting: OrtRuntime = {
      Tensor: ort.Tensor as unknown as OrtRuntime['Tensor'],
      InferenceSession: {
        async create(bytes, options) {
          state.created++;
          const s = await ort.InferenceSession.create(bytes, options);
          const release = s.release.bind(s);
          s.release = async () => {
            state.released++;
            await release();
          };
          return s;
        },
      },
    };
    const model = await sessionModel(counting);
    const mcu = createMcu({ modules: [onnxModule] });
    const f = { [model.inputs[0]!.name]: feeds.x! };
    const run = (chunkSamples: number) =>
      mcu.engine.run(model, f, {
        samples: 6,
        seed: 1,
        chunkSamples,
        selfCheck: false,
        reduceInGraph: true,
        estimators: [new RegressionEstimator({ output: 'y' })],
      });
    expect((await run(2)).reducedChunks).toBe(3);
    expect((await run(3)).reducedChunks).toBe(2);
    expect(state.created).toBe(2); // the model's session and one reduced session for the one request
    await model.dispose();
    await model.dispose();
    mcu.dispose();
    expect(state.released).toBe(2);
  });
});
