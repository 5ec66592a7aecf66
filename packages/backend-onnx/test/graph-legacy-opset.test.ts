// raiseLegacyOpset: opset < 7 operators whose meaning changed by opset 7 are translated
// exactly (checked by running the raised graph in onnxruntime) or refused, naming the node,
// and a refused graph is left untouched.
import { describe, expect, test } from 'vitest';
import * as ort from 'onnxruntime-node';
import { encodeModel } from '../src/proto/codec.js';
import { sanitizeModel } from '../src/proto/sanitize.js';
import type { AttributeProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../src/proto/types.js';
import { raiseLegacyOpset } from '../src/graph/legacy-opset.js';
import { prepareModel } from '../src/graph/prepare.js';
import { switchBatchNormToInference } from '../src/graph/batchnorm.js';
import { cloneProto } from '../src/graph/clone.js';
import { tensorNumbers } from '../src/graph/tensor-values.js';
import { expectMcuError } from '../../../test/helpers/check.js';
import { f32, vi } from './builders.js';

function i64(name: string, dims: number[], data: number[]): TensorProto {
  return { name, data_type: 7, dims: dims.map(BigInt), int64_data: data.map(BigInt) };
}
const int = (name: string, i: number): AttributeProto => ({ name, type: 2, i: BigInt(i) });
const ints = (name: string, v: number[]): AttributeProto => ({ name, type: 7, ints: v.map(BigInt) });
const flt = (name: string, f: number): AttributeProto => ({ name, type: 1, f });
const str = (name: string, s: string): AttributeProto => ({ name, type: 3, s: new TextEncoder().encode(s) });

function model(opset: number, nodes: NodeProto[], inits: TensorProto[], inputs: ValueInfoProto[], outputs: ValueInfoProto[]): ModelProto {
  return sanitizeModel(
    {
      ir_version: 3n,
      opset_import: [{ domain: '', version: BigInt(opset) }],
      graph: { name: 'g', node: nodes, initializer: inits, input: inputs, output: outputs },
    },
    'm',
  );
}

function raise(m: ModelProto): ModelProto {
  const opset = Number(m.opset_import![0]!.version);
  const r = raiseLegacyOpset(m, opset, 'm');
  expect(r?.to).toBe(7);
  expect(Number(m.opset_import![0]!.version)).toBe(7);
  return m;
}

async function run(m: ModelProto, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const s = await ort.InferenceSession.create(encodeModel(m), { logSeverityLevel: 3 });
  try {
    return (await s.run(feeds)) as Record<string, ort.Tensor>;
  } finally {
    await s.release();
  }
}
const t32 = (data: number[], dims: number[]) => new ort.Tensor('float32', Float32Array.from(data), dims);
const values = (t: ort.Tensor | undefined) => Array.from(t!.data as Float32Array);

/** The refusal is E_UNSUPPORTED, names what it must, and leaves the model exactly as it was. */
function expectRefusedUntouched(m: ModelProto, ...patterns: (string | RegExp)[]): void {
  const before = cloneProto(m);
  const opset = Number(m.opset_import![0]!.version);
  expectMcuError(() => raiseLegacyOpset(m, opset, 'm'), 'E_UNSUPPORTED', ...patterns, /opset ≥ 7/);
  expect(m).toEqual(before);
}

describe('Tile-1 (input, tiles, axis) → Tile-6 (input, repeats)', () => {
  const tile1 = (tilesInit: TensorProto | undefined, axisInit: TensorProto | undefined, xDims: (number | string)[] = [2, 3]) =>
    model(
      5,
      [{ op_type: 'Tile', name: 'tile', input: ['x', 'tiles', 'axis'], output: ['y'] }],
      [tilesInit, axisInit].filter((t): t is TensorProto => t !== undefined),
      [vi('x', xDims), ...(tilesInit ? [] : [vi('tiles', [1], 7)]), ...(axisInit ? [] : [vi('axis', [1], 7)])],
      [vi('y', ['?', '?'])],
    );

  test('constant tiles and axis become a repeats initializer [1, …, tiles, …, 1]; onnxruntime tiles as Tile-1 did', async () => {
    const m = raise(tile1(i64('tiles', [1], [3]), i64('axis', [], [1])));
    const node = m.graph!.node![0]!;
    expect(node.input).toHaveLength(2);
    const repeats = m.graph!.initializer!.find((t) => t.name === node.input![1])!;
    expect(tensorNumbers(repeats)).toEqual([1, 3]);
    expect(m.graph!.initializer!.map((t) => t.name)).toEqual([node.input![1]]); // tiles / axis: no longer read
    const out = await run(m, { x: t32([1, 2, 3, 4, 5, 6], [2, 3]) });
    expect(out.y!.dims).toEqual([2, 9]);
    expect(values(out.y)).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6, 4, 5, 6]);
  });

  test('tiles and axis from Constant nodes (float-typed, as Tile-1 allowed) are read too', async () => {
    const m = model(
      1,
      [
        { op_type: 'Constant', input: [], output: ['tiles'], attribute: [{ name: 'value', type: 4, t: f32('', [1], [2]) }] },
        { op_type: 'Constant', input: [], output: ['axis'], attribute: [{ name: 'value', type: 4, t: f32('', [1], [0]) }] },
        { op_type: 'Tile', name: 'tile', input: ['x', 'tiles', 'axis'], output: ['y'] },
      ],
      [],
      [vi('x', [1, 2])],
      [vi('y', [2, 2])],
    );
    raise(m);
    expect(values((await run(m, { x: t32([7, 8], [1, 2]) })).y)).toEqual([7, 8, 7, 8]);
  });

  test('runtime tiles, an unknown input rank, or an axis out of range are refused, naming the node', () => {
    expectRefusedUntouched(tile1(undefined, i64('axis', [1], [0])), /Tile-1 Tile node 'tile'/, /'tiles'/, /constants/);
    const unknownRank = tile1(i64('tiles', [1], [2]), i64('axis', [1], [0]));
    delete unknownRank.graph!.input![0]!.type!.tensor_type!.shape;
    expectRefusedUntouched(unknownRank, /Tile node 'tile'/, /rank of its input 'x' is unknown/);
    expectRefusedUntouched(tile1(i64('tiles', [1], [2]), i64('axis', [1], [2])), /Tile node 'tile'/, /axis 2/);
    expectRefusedUntouched(tile1(i64('tiles', [2], [2, 2]), i64('axis', [1], [0])), /Tile node 'tile'/, /one-element/);
  });
});

describe('Split-1 → Split-2', () => {
  const split1 = (splitInit: TensorProto | undefined, attrs: AttributeProto[] = [int('axis', 1)]) =>
    model(
      1,
      [{ op_type: 'Split', name: 'split', input: splitInit ? ['x', 'lens'] : ['x', 'lens'], output: ['a', 'b'], attribute: attrs }],
      splitInit ? [splitInit] : [],
      [vi('x', [1, 5]), ...(splitInit ? [] : [vi('lens', [2])])],
      [vi('a', [1, '?']), vi('b', [1, '?'])],
    );

  test("a constant 'split' input (a float tensor in Split-1) becomes the 'split' attribute", async () => {
    const m = raise(split1(f32('lens', [2], [2, 3])));
    const node = m.graph!.node![0]!;
    expect(node.input).toEqual(['x']);
    expect(node.attribute!.find((a) => a.name === 'split')!.ints).toEqual([2n, 3n]);
    const out = await run(m, { x: t32([1, 2, 3, 4, 5], [1, 5]) });
    expect(values(out.a)).toEqual([1, 2]);
    expect(values(out.b)).toEqual([3, 4, 5]);
  });

  test('a runtime split input, conflicting lengths, or no axis (Split-1 has no default) are refused', () => {
    expectRefusedUntouched(split1(undefined), /Split-1 Split node 'split'/, /input 'lens'/, /attribute/);
    expectRefusedUntouched(split1(f32('lens', [2], [2, 3]), [int('axis', 1), ints('split', [1, 4])]), /Split node 'split'/, /different/);
    expectRefusedUntouched(split1(f32('lens', [2], [2, 3]), []), /Split node 'split'/, /no 'axis'/, /default/);
  });

  test('Split-1 with only attributes is Split-2 already', async () => {
    const m = model(
      1,
      [{ op_type: 'Split', input: ['x'], output: ['a', 'b'], attribute: [int('axis', 0), ints('split', [1, 1])] }],
      [],
      [vi('x', [2])],
      [vi('a', [1]), vi('b', [1])],
    );
    raise(m);
    const out = await run(m, { x: t32([4, 5], [2]) });
    expect([values(out.a), values(out.b)]).toEqual([[4], [5]]);
  });
});

describe("Pad-1 'paddings' → Pad-2 'pads'", () => {
  const pad1 = (paddings: number[]) =>
    model(
      1,
      [{ op_type: 'Pad', name: 'pad', input: ['x'], output: ['y'], attribute: [ints('paddings', paddings), flt('value', 9)] }],
      [],
      [vi('x', [1, 2])],
      [vi('y', ['?', '?'])],
    );

  test('paddings that read the same in both of Pad-1 documented layouts are renamed', async () => {
    const m = raise(pad1([0, 1, 1, 1]));
    const node = m.graph!.node![0]!;
    expect(node.attribute!.map((a) => a.name).sort()).toEqual(['pads', 'value']);
    const out = await run(m, { x: t32([1, 2], [1, 2]) });
    expect(out.y!.dims).toEqual([2, 4]);
    expect(values(out.y)).toEqual([9, 1, 2, 9, 9, 9, 9, 9]);
  });

  test('ambiguous or negative paddings are refused, naming the node', () => {
    expectRefusedUntouched(pad1([0, 0, 2, 0]), /Pad-1 Pad node 'pad'/, /\[0, 0, 2, 0\]/, /x1_begin, x1_end/);
    expectRefusedUntouched(pad1([0, -1, -1, 0]), /Pad node 'pad'/, /negative/);
    expectRefusedUntouched(pad1([1, 1]), /Pad node 'pad'/, /2 paddings for a rank-2 input/);
  });
});

describe('attribute changes at opset 6', () => {
  test("Cast-1's string 'to' becomes the DataType number", async () => {
    const m = raise(model(5, [{ op_type: 'Cast', input: ['x'], output: ['y'], attribute: [str('to', 'INT32')] }], [], [vi('x', [3])], [vi('y', [3], 6)]));
    expect(m.graph!.node![0]!.attribute).toEqual([{ name: 'to', type: 2, i: 6n }]);
    const out = await run(m, { x: t32([1.5, -2.5, 7], [3]) });
    expect(Array.from(out.y!.data as Int32Array)).toEqual([1, -2, 7]);
  });

  test('Cast-1 to an unknown type name is refused', () => {
    expectRefusedUntouched(
      model(5, [{ op_type: 'Cast', name: 'c', input: ['x'], output: ['y'], attribute: [str('to', 'STRING')] }], [], [vi('x', [3])], [vi('y', [3])]),
      /Cast node 'c'/,
      /"STRING"/,
    );
  });

  test("Selu-1's own defaults (alpha 1.6732, gamma 1.0507) are written out; Selu-6's differ", async () => {
    const m = raise(
      model(1, [{ op_type: 'Selu', input: ['x'], output: ['y'], attribute: [ints('consumed_inputs', [0])] }], [], [vi('x', [2])], [vi('y', [2])]),
    );
    const attrs = Object.fromEntries(m.graph!.node![0]!.attribute!.map((a) => [a.name, a.f]));
    expect(Object.keys(attrs).sort()).toEqual(['alpha', 'gamma']);
    const [y0, y1] = values((await run(m, { x: t32([-1, 2], [2]) })).y);
    const f = Math.fround;
    expect(y0).toBeCloseTo(f(1.0507) * f(1.6732) * (Math.exp(-1) - 1), 6);
    expect(y0).not.toBeCloseTo(1.0507010221481323 * 1.6732631921768188 * (Math.exp(-1) - 1), 6);
    expect(y1).toBeCloseTo(f(1.0507) * 2, 6);
  });

  test('Selu-1 with explicit coefficients keeps them', () => {
    const m = raise(
      model(1, [{ op_type: 'Selu', input: ['x'], output: ['y'], attribute: [flt('alpha', 2), flt('gamma', 1)] }], [], [vi('x', [2])], [vi('y', [2])]),
    );
    expect(m.graph!.node![0]!.attribute!.map((a) => [a.name, a.f])).toEqual([
      ['alpha', 2],
      ['gamma', 1],
    ]);
  });

  test('Clip-1 without bounds clips nothing, not at ±3.402823e38 (Clip-6 defaults)', async () => {
    const m = raise(model(1, [{ op_type: 'Clip', input: ['x'], output: ['y'], attribute: [flt('max', 1)] }], [], [vi('x', [3])], [vi('y', [3])]));
    const out = values((await run(m, { x: t32([-Infinity, -3.4028234e38, 5], [3]) })).y);
    expect(out).toEqual([-Infinity, Math.fround(-3.4028234e38), 1]);
  });
});

describe('BatchNormalization-1/6 → 7', () => {
  const bn = (attrs: AttributeProto[], opts: { paramDims?: number[]; xDims?: number[]; outputs?: string[]; graphOutputs?: string[] } = {}) => {
    const pd = opts.paramDims ?? [2];
    const n = pd.reduce((a, b) => a * b, 1);
    return model(
      6,
      [{ op_type: 'BatchNormalization', name: 'bn', input: ['x', 's', 'b', 'mu', 'var'], output: opts.outputs ?? ['y'], attribute: attrs }],
      [f32('s', pd, new Array(n).fill(2)), f32('b', pd, new Array(n).fill(1)), f32('mu', pd, new Array(n).fill(1)), f32('var', pd, new Array(n).fill(4))],
      [vi('x', opts.xDims ?? [1, 2, 2])],
      (opts.graphOutputs ?? ['y']).map((o) => vi(o, opts.xDims ?? [1, 2, 2])),
    );
  };
  const bnOut = (x: number) => (2 * (x - 1)) / Math.sqrt(4 + 1e-5) + 1;

  test('spatial = 0 with per-channel parameters is per-channel in test mode: the attribute is dropped', async () => {
    const m = raise(bn([int('is_test', 1), int('spatial', 0)]));
    expect(m.graph!.node![0]!.attribute!.map((a) => a.name)).toEqual([]);
    const out = values((await run(m, { x: t32([1, 3, 5, 7], [1, 2, 2]) })).y);
    out.forEach((v, i) => expect(v).toBeCloseTo(bnOut([1, 3, 5, 7][i]!), 5));
  });

  test('spatial = 0 with per-activation parameters is refused', () => {
    expectRefusedUntouched(bn([int('is_test', 1), int('spatial', 0)], { paramDims: [2, 2] }), /BatchNormalization node 'bn'/, /spatial = 0/, /\[2, 2, 2, 2\]/);
  });

  test('test mode: unused statistics outputs are dropped (at opset 7 they would mean training mode)', async () => {
    const m = raise(bn([int('is_test', 1)], { outputs: ['y', 'm1', 'v1'] }));
    expect(m.graph!.node![0]!.output).toEqual(['y']);
    const out = values((await run(m, { x: t32([1, 3, 5, 7], [1, 2, 2]) })).y);
    out.forEach((v, i) => expect(v).toBeCloseTo(bnOut([1, 3, 5, 7][i]!), 5));
  });

  test('a statistics output that is used, or training mode left in place, is refused', () => {
    expectRefusedUntouched(bn([int('is_test', 1)], { outputs: ['y', 'm1'], graphOutputs: ['y', 'm1'] }), /BatchNormalization node 'bn'/, /'m1'/);
    expectRefusedUntouched(bn([int('is_test', 0)]), /BatchNormalization node 'bn'/, /training mode/);
  });

  test('after prepare-style switching to inference, a training-mode BatchNormalization-1 is raised', () => {
    const m = model(
      1,
      [
        {
          op_type: 'BatchNormalization',
          input: ['x', 's', 'b', 'mu', 'var'],
          output: ['y', 'm1', 'v1', 'sm', 'sv'],
          attribute: [ints('consumed_inputs', [0, 0, 0, 1, 1])],
        },
      ],
      [f32('s', [2], [1, 1]), f32('b', [2], [0, 0]), f32('mu', [2], [0, 0]), f32('var', [2], [1, 1])],
      [vi('x', [1, 2])],
      [vi('y', [1, 2])],
    );
    switchBatchNormToInference(m.graph!, 1, 'm');
    raise(m);
    expect(m.graph!.node![0]!.output).toEqual(['y']);
    expect(m.graph!.node![0]!.attribute).toEqual([]);
  });
});

describe('legacy broadcasting', () => {
  test('a one-element B with an axis broadcasts like numpy', async () => {
    const m = raise(
      model(
        6,
        [{ op_type: 'Mul', input: ['x', 'k'], output: ['y'], attribute: [int('broadcast', 1), int('axis', 0)] }],
        [f32('k', [1], [3])],
        [vi('x', [2, 2])],
        [vi('y', [2, 2])],
      ),
    );
    expect(m.graph!.node![0]!.attribute).toEqual([]);
    expect(values((await run(m, { x: t32([1, 2, 3, 4], [2, 2]) })).y)).toEqual([3, 6, 9, 12]);
  });

  test('a B of higher rank than A (legacy: one element, output shaped like A) is refused', () => {
    expectRefusedUntouched(
      model(
        6,
        [{ op_type: 'Add', name: 'add', input: ['x', 'k'], output: ['y'], attribute: [int('broadcast', 1)] }],
        [f32('k', [1, 1], [3])],
        [vi('x', [2])],
        [vi('y', [2])],
      ),
      /Add node 'add'/,
      /rank-2 second input onto a rank-1/,
    );
  });
});

describe('all or nothing', () => {
  test('a refusal after translatable nodes leaves the whole graph unmodified', () => {
    const m = model(
      1,
      [
        { op_type: 'Relu', input: ['x'], output: ['r'], attribute: [ints('consumed_inputs', [0])] },
        { op_type: 'Reshape', input: ['r'], output: ['s'], attribute: [ints('shape', [2, 3])] },
        { op_type: 'Tile', input: ['s', 'tiles', 'axis'], output: ['t'] },
        { op_type: 'Add', name: 'lead', input: ['t', 'b'], output: ['y'], attribute: [int('broadcast', 1), int('axis', 0)] },
      ],
      [i64('tiles', [1], [2]), i64('axis', [1], [0]), f32('b', [4], [1, 2, 3, 4])],
      [vi('x', [6])],
      [vi('y', [4, 3])],
    );
    expectRefusedUntouched(m, /Add node 'lead'/, /axis 0/);
  });

  test('through prepareModel: an opset-5 Tile-1 + Dropout graph is raised, gets its site, and runs', async () => {
    const m = model(
      5,
      [
        { op_type: 'Dropout', input: ['x'], output: ['d'], attribute: [flt('ratio', 0.5), int('is_test', 0)] },
        { op_type: 'Tile', input: ['d', 'tiles', 'axis'], output: ['y'] },
      ],
      [i64('tiles', [1], [2]), i64('axis', [1], [1])],
      [vi('x', ['N', 2]), vi('tiles', [1], 7), vi('axis', [1], 7)],
      [vi('y', ['N', 4])],
    );
    const p = prepareModel(m);
    expect(p.opset).toBe(7);
    expect(p.inputs.map((i) => i.name)).toEqual(['x']);
    expect(p.sites.map((s) => s.maskShape)).toEqual([[2]]);
    const out = await run(p.model, { x: t32([1, 2], [1, 2]), [p.sites[0]!.name]: t32([2, 0], [1, 1, 2]) });
    expect(values(out.y)).toEqual([2, 0, 2, 0]);
  });

  test('AveragePool-1 (excludes padding) is AveragePool-7 with its default count_include_pad = 0', async () => {
    const m = raise(
      model(
        1,
        [{ op_type: 'AveragePool', input: ['x'], output: ['y'], attribute: [ints('kernel_shape', [2, 2]), ints('pads', [1, 1, 1, 1])] }],
        [],
        [vi('x', [1, 1, 2, 2])],
        [vi('y', [1, 1, 3, 3])],
      ),
    );
    const out = values((await run(m, { x: t32([4, 4, 4, 4], [1, 1, 2, 2]) })).y);
    expect(out).toEqual(new Array(9).fill(4));
  });

  test('operators outside the table stay refused (PRelu-6 broadcasting changed at 7)', () => {
    expectRefusedUntouched(model(6, [{ op_type: 'PRelu', input: ['x', 'a'], output: ['y'] }], [f32('a', [1], [0.1])], [vi('x', [2])], [vi('y', [2])]), /PRelu/);
  });
});
