// Sample-scope masks folded into the weight layer that reads them (graph/fold.ts): which sites
// fold in the PyTorch fixtures (co2, LeNet, a UCI model: the sites before a layer no wider than its input) and
// in hand-made graphs (the Gemm forms it takes and the ones it leaves), and that the folded
// graph computes what the prepared graph does on onnxruntime for random per-sample masks.
//
// Tolerance: h·(diag(m)W) and (h ⊙ m)·W round each product once, in another order, then sum
// the same D terms: relative 1e-5 plus 1e-6 of the largest output covers D ≤ 500 float32 terms.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { fixturePath, uciFixture } from '../../../test/helpers/fixtures.js';
import { mulberry32 } from '../../../test/helpers/check.js';
import { foldSampleMasks } from '../src/graph/fold.js';
import { decodeModel, encodeModel, prepareModel, type PreparedModel } from '../src/index.js';
import type { ModelProto, NodeProto } from '../src/proto/types.js';
import { f32, vi } from './builders.js';

const prepared = (path: string): PreparedModel => prepareModel(decodeModel(new Uint8Array(readFileSync(path))));

/** Outputs of `model` on rows x and S per-sample masks drawn at each site's rate. */
async function outputs(model: ModelProto, p: PreparedModel, x: Float32Array, rows: number, samples: number): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(encodeModel(model), { logSeverityLevel: 3 });
  try {
    const rand = mulberry32(11);
    const feeds: Record<string, ort.Tensor> = {};
    const input = p.inputs[0]!;
    feeds[input.name] = new ort.Tensor('float32', x, [rows, ...input.dims.slice(1).map(Number)]);
    for (const site of p.sites) {
      const n = samples * site.maskShape.reduce((a, b) => a * b, 1);
      const keep = 1 / (1 - site.rate);
      feeds[site.name] = new ort.Tensor(
        'float32',
        Float32Array.from({ length: n }, () => (rand() < site.rate ? 0 : keep)),
        [samples, 1, ...site.maskShape],
      );
    }
    const out = await session.run(feeds);
    return out[p.outputs[0]!.name]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

function expectClose(got: Float32Array, want: Float32Array): void {
  expect(got.length).toBe(want.length);
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  expect(scale).toBeGreaterThan(0);
  let worst = 0;
  for (let k = 0; k < want.length; k++) worst = Math.max(worst, Math.abs(got[k]! - want[k]!) - 1e-5 * Math.abs(want[k]!) - 1e-6 * scale);
  expect(worst).toBeLessThanOrEqual(0);
}

const rowsOf = (n: number, width: number, seed: number): Float32Array => {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n * width }, () => r() * 2 - 1);
};

describe('foldSampleMasks', () => {
  const uci = uciFixture('bostonHousing').splits[0]!.modelPath;
  it.each([
    // co2: four sites of 128, before 128 → 128 (three) and 128 → 1: all fold
    // (the first after the 1 → 128 layer: its input has N rows only, the later ones S·N)
    [
      'co2 example',
      fixturePath('pytorch-1.13-small/co2_relu.preserve.onnx'),
      [
        { site: 'mcu_mask_1', outputs: 128, sharedInput: true },
        { site: 'mcu_mask_2', outputs: 128, sharedInput: false },
        { site: 'mcu_mask_3', outputs: 128, sharedInput: false },
        { site: 'mcu_mask_4', outputs: 1, sharedInput: false },
      ],
      1,
      13,
    ],
    // LeNet: one site of 500 (after the convolutions and the 800 → 500 layer) before the 500 → 10 layer
    ['LeNet', fixturePath('pytorch-1.13/lenet.preserve.onnx'), [{ site: 'mcu_mask_1', outputs: 10, sharedInput: true }], 784, 6],
    // UCI: the input site (13 → 50, wider) stays, the one before 50 → 1 folds (after the input site: S·N rows)
    ['UCI bostonHousing', uci, [{ site: 'mcu_mask_2', outputs: 1, sharedInput: false }], 13, 9],
  ])('%s: folds the sites before a layer no wider than its input; the outputs equal the prepared graph', async (_name, path, want, width, rows) => {
    const p = prepared(path);
    const f = foldSampleMasks(p);
    expect(f?.sites).toEqual(want);
    const x = rowsOf(rows, width, 3);
    expectClose(await outputs(f!.model, p, x, rows, 5), await outputs(p.model, p, x, rows, 5));
    // the folded graph has the batched MatMul on the masked weights; the prepared model is left as it was
    const foldedMatMul = (m: ModelProto) => m.graph!.node!.some((n) => n.op_type === 'MatMul' && n.input?.[1]?.startsWith('mcu/fold'));
    expect(foldedMatMul(f!.model)).toBe(true);
    expect(foldedMatMul(p.model)).toBe(false);
    // every folded bias reaches its Add as [1, 1, D′], the rank of the product [S, N, D′]
    // (onnxruntime's Add is ≈ 14× slower per value on [S, N, 1] + [1]: bench/broadcast-probe.mjs)
    expect(foldedBiasDims(f!.model)).toEqual(want.map((w) => [1, 1, w.outputs]));
  });

  /** The dims each folded layer's bias is reshaped to before its Add (from the Reshape's constant shape). */
  function foldedBiasDims(m: ModelProto): number[][] {
    const g = m.graph!;
    const nodes = g.node ?? [];
    const dims: number[][] = [];
    for (const add of nodes.filter((n) => n.op_type === 'Add' && n.name?.startsWith('mcu/fold'))) {
      const reshape = nodes.find((n) => n.output?.includes(add.input![1]!));
      expect(reshape?.op_type).toBe('Reshape');
      const shape = (g.initializer ?? []).find((t) => t.name === reshape!.input![1]);
      expect(shape).toBeDefined();
      dims.push(Array.from(new BigInt64Array(shape!.raw_data!.slice().buffer), Number));
    }
    return dims;
  }

  // x [N, 8] → Gemm (8 → 8) → Relu → Dropout → the layer under test
  function mlp(layer: NodeProto[], extraOutputs: string[] = []): ModelProto {
    const r = mulberry32(5);
    const w = (n: number) => Float32Array.from({ length: n }, () => r() - 0.5);
    return {
      ir_version: 7n,
      opset_import: [{ domain: '', version: 13n }],
      graph: {
        name: 'g',
        node: [
          { op_type: 'Gemm', input: ['x', 'w1', 'b1'], output: ['h'], attribute: [{ name: 'transB', type: 2, i: 1n }] },
          { op_type: 'Relu', input: ['h'], output: ['r'] },
          { op_type: 'Constant', input: [], output: ['ratio'], attribute: [{ name: 'value', type: 4, t: f32('', [], [0.3]) }] },
          { op_type: 'Dropout', input: ['r', 'ratio'], output: ['d'] },
          ...layer,
        ],
        initializer: [
          f32('w1', [8, 8], w(64)),
          f32('b1', [8], w(8)),
          f32('w2', [2, 8], w(16)),
          f32('w2n', [8, 2], w(16)),
          f32('b2', [2], w(2)),
          f32('b2row', [1, 2], w(2)),
          f32('w16', [8, 16], w(128)),
          f32('w16to2', [16, 2], w(32)),
          f32('w8to300', [8, 300], w(2400)),
          f32('w300', [300, 300], w(90000)),
          f32('w300to2', [300, 2], w(600)),
        ],
        input: [vi('x', ['N', 8])],
        output: [vi('y', ['N', 2]), ...extraOutputs.map((o) => vi(o, ['N', 8]))],
      },
    };
  }

  it.each([
    ['Gemm transB = 1 with a bias', [{ op_type: 'Gemm', input: ['d', 'w2', 'b2'], output: ['y'], attribute: [{ name: 'transB', type: 2, i: 1n }] }]],
    ['Gemm transB = 1 with a [1, 2] bias', [{ op_type: 'Gemm', input: ['d', 'w2', 'b2row'], output: ['y'], attribute: [{ name: 'transB', type: 2, i: 1n }] }]],
    ['Gemm transB = 0 without a bias', [{ op_type: 'Gemm', input: ['d', 'w2n'], output: ['y'] }]],
    ['MatMul', [{ op_type: 'MatMul', input: ['d', 'w2n'], output: ['y'] }]],
  ] as [string, NodeProto[]][])('folds %s (8 → 2) with the same outputs', async (_name, layer) => {
    const p = prepareModel(mlp(layer));
    const f = foldSampleMasks(p);
    expect(f?.sites.map((s) => s.site)).toEqual(['mcu_mask_1']);
    expect(foldedBiasDims(f!.model)).toEqual(layer[0]!.input!.length > 2 ? [[1, 1, 2]] : []);
    const x = rowsOf(7, 8, 4);
    expectClose(await outputs(f!.model, p, x, 7, 4), await outputs(p.model, p, x, 7, 4));
  });

  it.each([
    [
      'alpha ≠ 1',
      [
        {
          op_type: 'Gemm',
          input: ['d', 'w2', 'b2'],
          output: ['y'],
          attribute: [
            { name: 'transB', type: 2, i: 1n },
            { name: 'alpha', type: 1, f: 2 },
          ],
        },
      ],
      [],
    ],
    [
      'the layer is wider than its input (8 → 16, then 16 → 2)',
      [
        { op_type: 'MatMul', input: ['d', 'w16'], output: ['e'] },
        { op_type: 'MatMul', input: ['e', 'w16to2'], output: ['y'] },
      ],
      [],
    ],
    [
      'the weights are larger than MAX_FOLDED_WEIGHTS (300 → 300)',
      [
        { op_type: 'MatMul', input: ['d', 'w8to300'], output: ['e0'] },
        { op_type: 'Relu', input: ['e0'], output: ['e1'] },
        { op_type: 'Dropout', input: ['e1', 'ratio'], output: ['e2'] },
        { op_type: 'MatMul', input: ['e2', 'w300'], output: ['e3'] },
        { op_type: 'MatMul', input: ['e3', 'w300to2'], output: ['y'] },
      ],
      [],
    ],
    [
      'weights that are not an initializer',
      [
        { op_type: 'Identity', input: ['w2n'], output: ['wv'] },
        { op_type: 'MatMul', input: ['d', 'wv'], output: ['y'] },
      ],
      [],
    ],
    ['the dropped activations read twice (also a graph output)', [{ op_type: 'MatMul', input: ['d', 'w2n'], output: ['y'] }], ['d']],
  ] as [string, NodeProto[], string[]][])('leaves the site where %s', (_name, layer, extra) => {
    expect(foldSampleMasks(prepareModel(mlp(layer, extra)))).toBeUndefined();
  });
});
