// float32Pitfalls: constants that make float32 inference fragile (a rounding-noise std
// baked into an input standardisation), with no false alarm on scalars, ordinary weights,
// or the stored UCI / PyTorch fixture models.
import { describe, expect, test } from 'vitest';
import * as ort from 'onnxruntime-node';
import { fixtureBytes, fixtureFiles } from '../../../test/helpers/fixtures.js';
import { decodeModel, encodeModel } from '../src/proto/codec.js';
import { sanitizeModel } from '../src/proto/sanitize.js';
import type { GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../src/proto/types.js';
import { ConstantTable } from '../src/graph/constants.js';
import { float32Pitfalls } from '../src/graph/index.js';
import { mulberry32 } from '../../../test/helpers/check.js';
import { f32, vi } from './builders.js';

function model(nodes: NodeProto[], inits: TensorProto[], inputs: ValueInfoProto[], outputs: ValueInfoProto[]): ModelProto {
  return sanitizeModel(
    { ir_version: 8n, opset_import: [{ domain: '', version: 13n }], graph: { name: 'g', node: nodes, initializer: inits, input: inputs, output: outputs } },
    'm',
  );
}
const pitfalls = (m: ModelProto, what?: string) => float32Pitfalls(m.graph!, new ConstantTable(m.graph!), what);

/** Sub(x, mean) → Div(·, std) → Gemm, as a UCI regression export bakes its standardisation. */
function standardised(mean: number[], std: number[], stdDims = [std.length]): ModelProto {
  const f = mean.length;
  return model(
    [
      { op_type: 'Sub', name: 'centre', input: ['x', 'mean'], output: ['xc'] },
      { op_type: 'Div', name: 'standardise', input: ['xc', 'std'], output: ['xs'] },
      { op_type: 'Gemm', input: ['xs', 'W', 'b'], output: ['y'], attribute: [{ name: 'transB', type: 2, i: 1n }] },
    ],
    [f32('mean', [f], mean), f32('std', stdDims, std), f32('W', [1, f], new Array(f).fill(0.5)), f32('b', [1], [0])],
    [vi('x', ['N', f])],
    [vi('y', ['N', 1])],
  );
}

describe('warnings, each naming the node, the constant, the element, the effect and the fix', () => {
  const mean = [3.5, 120, 0.25, 7];
  const std = [1.2, 30, 2.4e-13, 0.8];

  test('a rounding-noise std (2.4e-13) among O(1) stds', () => {
    const w = pitfalls(standardised(mean, std), 'uci.onnx');
    expect(w).toHaveLength(1);
    const msg = w[0]!;
    expect(msg).toMatch(/^uci\.onnx: Div node 'standardise' divides by constant 'std'/);
    expect(msg).toMatch(/element 2 is 2\.40e-13/);
    expect(msg).toMatch(/median magnitude of its 4 elements is 1/);
    // |x| ≈ mean[2] = 0.25: ulp 2^-25 ≈ 2.98e-8, / 2.4e-13 ≈ 1.24e5.
    expect(msg).toMatch(/in float32 a 1-ulp change of the input \(2\.98e-8 for \|x\| ≈ \|mean\[2\]\| = 0\.25\) becomes ≈ 1\.24e\+5 after the division/);
    expect(msg).toMatch(/standardise in float64 outside the graph, or give a constant feature std 1/);
  });

  test('what the warning says is what a float32 runtime does', async () => {
    const m = standardised(mean, std);
    const s = await ort.InferenceSession.create(encodeModel(m), { logSeverityLevel: 3 });
    try {
      const base = Float32Array.from(mean);
      const bumped = Float32Array.from(mean);
      bumped[2] = 0.25 + 2 ** -25; // the next float32 after 0.25
      const y = async (x: Float32Array) => ((await s.run({ x: new ort.Tensor('float32', x, [1, 4]) })).y!.data as Float32Array)[0]!;
      const dy = Math.abs((await y(bumped)) - (await y(base)));
      expect(dy / 0.5).toBeGreaterThan(1e5); // the Gemm weight is 0.5
      expect(dy / 0.5).toBeLessThan(1.5e5);
    } finally {
      await s.release();
    }
  });

  test('a [1, F] std names the multi-index; several tiny elements are counted', () => {
    const w = pitfalls(standardised([1, 2, 3, 4, 5], [1, 1e-9, 2, 1e-12, 1], [1, 5]));
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^model: Div node 'standardise'/);
    expect(w[0]).toMatch(/element 3 \(index \[0, 3\]\) is 1\.00e-12/);
    expect(w[0]).toMatch(/and 1 more like it: \[0, 1\]/);
  });

  test('a zero divisor, in a vector or as a scalar', () => {
    const v = pitfalls(standardised([1, 2, 3], [1, 0, 2]));
    expect(v).toHaveLength(1);
    expect(v[0]).toMatch(/element 1 is 0/);
    expect(v[0]).toMatch(/±Infinity/);
    expect(v[0]).toMatch(/give a constant feature std 1/);
    const scalar = model([{ op_type: 'Div', input: ['x', 'z'], output: ['y'] }], [f32('z', [], [0])], [vi('x', [2])], [vi('y', [2])]);
    const w = pitfalls(scalar);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/Div node producing 'y' divides by constant 'z' whose element 0 is 0: x \/ 0/);
  });

  test('a multiplier of 4e12 among O(1) values (standardisation as Mul by 1/std)', () => {
    const m = model(
      [
        { op_type: 'Sub', input: ['x', 'mean'], output: ['xc'] },
        { op_type: 'Mul', name: 'scale', input: ['inv_std', 'xc'], output: ['y'] },
      ],
      [f32('mean', [4], [3.5, 120, 0.25, 7]), f32('inv_std', [4], [0.83, 0.033, 4e12, 1.25])],
      [vi('x', ['N', 4])],
      [vi('y', ['N', 4])],
    );
    const w = pitfalls(m);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/Mul node 'scale' multiplies by constant 'inv_std' whose element 2 is 4\.00e\+12/);
    expect(w[0]).toMatch(/median magnitude of its 4 elements is 1\.04/);
    expect(w[0]).toMatch(/1-ulp change of the input \(2\.98e-8 for \|x\| ≈ \|mean\[2\]\| = 0\.25\) becomes ≈ 1\.19e\+5 after the multiplication/);
    expect(w[0]).toMatch(/standardise in float64 outside the graph/);
  });

  test('Mul by Reciprocal(std), and a std given by a Constant node', () => {
    const m = model(
      [
        { op_type: 'Constant', input: [], output: ['std'], attribute: [{ name: 'value', type: 4, t: f32('', [3], [2, 2.4e-13, 3]) }] },
        { op_type: 'Reciprocal', name: 'inv', input: ['std'], output: ['r'] },
        { op_type: 'Mul', name: 'scale', input: ['x', 'r'], output: ['y'] },
      ],
      [],
      [vi('x', ['N', 3])],
      [vi('y', ['N', 3])],
    );
    const w = pitfalls(m);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/Mul node 'scale' multiplies by Reciprocal node 'inv' of constant 'std' whose element 1 is 2\.40e-13/);
    expect(w[0]).toMatch(/for \|x\| ≈ 1\) becomes ≈ 4\.97e\+5 after the division/);
  });
});

describe('no warning', () => {
  test('scalar constants: attention scales, epsilons, masks times -10000 or -3.4e38', () => {
    const m = model(
      [
        { op_type: 'Div', input: ['q', 'sqrt_d'], output: ['s1'] },
        { op_type: 'Mul', input: ['s1', 'eighth'], output: ['s2'] },
        { op_type: 'Sub', input: ['one', 'mask'], output: ['inv'] },
        { op_type: 'Mul', input: ['inv', 'minus1e4'], output: ['bias1'] },
        { op_type: 'Mul', input: ['inv', 'lowest'], output: ['bias2'] },
        { op_type: 'Add', input: ['s2', 'bias1'], output: ['s3'] },
        { op_type: 'Add', input: ['s3', 'bias2'], output: ['s4'] },
        // LayerNorm, decomposed: Div by Sqrt(var + eps), not a constant.
        { op_type: 'ReduceMean', input: ['s4'], output: ['mu'], attribute: [{ name: 'axes', type: 7, ints: [-1n] }] },
        { op_type: 'Sub', input: ['s4', 'mu'], output: ['d'] },
        { op_type: 'Mul', input: ['d', 'd'], output: ['d2'] },
        { op_type: 'ReduceMean', input: ['d2'], output: ['var'], attribute: [{ name: 'axes', type: 7, ints: [-1n] }] },
        { op_type: 'Add', input: ['var', 'eps'], output: ['ve'] },
        { op_type: 'Sqrt', input: ['ve'], output: ['sd'] },
        { op_type: 'Div', input: ['d', 'sd'], output: ['y'] },
      ],
      [
        f32('sqrt_d', [], [8]),
        f32('eighth', [], [0.125]),
        f32('one', [], [1]),
        f32('minus1e4', [], [-10000]),
        f32('lowest', [1], [-3.4028234663852886e38]),
        f32('eps', [], [1e-12]),
      ],
      [vi('q', ['N', 8]), vi('mask', ['N', 8])],
      [vi('y', ['N', 8])],
    );
    expect(pitfalls(m)).toEqual([]);
  });

  test('ordinary weights, uniformly small stds, and masks with a zero median', () => {
    const rand = mulberry32(7);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    const w = Array.from({ length: 256 }, () => 0.05 * gauss());
    const m = model(
      [
        { op_type: 'Mul', input: ['x', 'w'], output: ['a'] },
        { op_type: 'Div', input: ['a', 'small'], output: ['b'] },
        { op_type: 'Mul', input: ['b', 'mask'], output: ['c'] },
        { op_type: 'Div', input: ['c', 'sixteen'], output: ['y'] },
      ],
      [
        f32('w', [256], w),
        f32(
          'small',
          [256],
          Array.from({ length: 256 }, (_, i) => 1e-4 * (1 + (i % 7))),
        ),
        f32(
          'mask',
          [256],
          Array.from({ length: 256 }, (_, i) => (i % 5 === 0 ? 1e9 : 0)),
        ),
        f32('sixteen', [1], [16]),
      ],
      [vi('x', ['N', 256])],
      [vi('y', ['N', 256])],
    );
    expect(pitfalls(m)).toEqual([]);
  });

  test('integer shape arithmetic and float64 ones are not confused with float constants', () => {
    const m = model(
      [
        { op_type: 'Shape', input: ['x'], output: ['s'] },
        { op_type: 'Div', input: ['s', 'two'], output: ['h'] },
      ],
      [{ name: 'two', data_type: 7, dims: [2n], int64_data: [2n, 0n] }],
      [vi('x', ['N', 4])],
      [vi('h', [2], 7)],
    );
    expect(pitfalls(m)).toEqual([]);
  });
});

describe('stored fixture models', () => {
  const uci = fixtureFiles().filter((f) => /^uci\/[^/]+\/split\d+\.onnx$/.test(f));
  const load = (f: string): GraphProto => sanitizeModel(decodeModel(fixtureBytes(f), f), f).graph!;

  test('the 80 UCI split models (standardisation in the graph, no constant feature) give no warning', () => {
    expect(uci).toHaveLength(80);
    expect(new Set(uci.map((f) => f.split('/')[1]))).toEqual(new Set(['bostonHousing', 'concrete', 'energy', 'yacht']));
    for (const f of uci) {
      const g = load(f);
      expect(g.node!.map((n) => n.op_type).slice(0, 2), f).toEqual(['Sub', 'Div']);
      expect(float32Pitfalls(g, new ConstantTable(g), f), f).toEqual([]);
    }
  });

  test('a UCI model whose std of one feature is replaced by rounding noise is flagged at that feature', () => {
    const g = load('uci/energy/split03.onnx');
    const div = g.node!.find((n) => n.op_type === 'Div')!;
    const std = g.initializer!.find((t) => t.name === div.input![1])!;
    const values = new Float32Array(std.raw_data ? new Float32Array(std.raw_data.slice().buffer) : std.float_data!);
    values[5] = 2.4e-13;
    const patched = { ...std, raw_data: new Uint8Array(values.buffer), float_data: undefined };
    g.initializer = g.initializer!.map((t) => (t === std ? patched : t));
    const w = float32Pitfalls(g, new ConstantTable(g), 'energy');
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(new RegExp(`Div node (?:'[^']*'|producing '[^']*') divides by constant '${std.name}' whose element 5 is 2\\.40e-13`));
  });

  test('no other stored model is flagged either', () => {
    for (const f of fixtureFiles().filter((x) => x.endsWith('.onnx') && !uci.includes(x))) {
      const g = load(f);
      expect(float32Pitfalls(g, new ConstantTable(g), f), f).toEqual([]);
    }
  });
});
