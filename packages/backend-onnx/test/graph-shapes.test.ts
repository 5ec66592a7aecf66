// inferShapes: symbolic batch products, arithmetic on shape values, and the operators of
// PyTorch exports of transformers, RNNs and U-Nets. Graphs are built by hand; where
// onnxruntime runs them, the inferred dims (with 'batch' := 3) are checked against the dims
// it actually produces.
import { describe, expect, test } from 'vitest';
import * as ort from 'onnxruntime-node';
import { encodeModel } from '../src/proto/codec.js';
import { AttributeType, DataType } from '../src/proto/enums.js';
import type { AttributeProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../src/proto/types.js';
import { ConstantTable } from '../src/graph/constants.js';
import { dimDivide, dimTimes, inferShapes, parseSymbolicDim, type Dim, type ValueShape } from '../src/graph/shapes.js';

// ---------------------------------------------------------------------------------------------
// Building graphs.

type Attr = number | number[] | string | { f: number } | { floats: number[] } | { t: TensorProto };

function attr(name: string, v: Attr): AttributeProto {
  if (typeof v === 'number') return { name, type: AttributeType.INT, i: BigInt(v) };
  if (typeof v === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AttributeType.INTS, ints: v.map(BigInt) };
  if ('f' in v) return { name, type: AttributeType.FLOAT, f: v.f };
  if ('floats' in v) return { name, type: AttributeType.FLOATS, floats: v.floats };
  return { name, type: AttributeType.TENSOR, t: v.t };
}

function node(op: string, input: string[], output: string[], attrs: Record<string, Attr> = {}): NodeProto {
  return { op_type: op, input, output, name: output[0], attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)) };
}

function vi(name: string, dims: Dim[], elem: number = DataType.FLOAT): ValueInfoProto {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: elem,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: BigInt(d) } : { dim_param: d })) },
      },
    },
  };
}

/** An output without a shape, so nothing but inference says what it is. */
function out(name: string, elem: number = DataType.FLOAT): ValueInfoProto {
  return { name, type: { tensor_type: { elem_type: elem } } };
}

function f32(name: string, dims: number[], fill = (i: number) => ((i * 7) % 5) / 10 - 0.2): TensorProto {
  const n = dims.reduce((a, b) => a * b, 1);
  return { name, data_type: DataType.FLOAT, dims: dims.map(BigInt), float_data: Array.from({ length: n }, (_, i) => fill(i)) };
}

function i64(name: string, values: number[], dims: number[] = [values.length]): TensorProto {
  return { name, data_type: DataType.INT64, dims: dims.map(BigInt), int64_data: values.map(BigInt) };
}

/** A Constant node holding int64 values (scalar when `scalar`). */
function constI64(output: string, values: number[], scalar = false): NodeProto {
  return node('Constant', [], [output], { value: { t: i64('', values, scalar ? [] : [values.length]) } });
}

function model(opset: number, nodes: NodeProto[], inputs: ValueInfoProto[], outputs: (string | [string, number])[], inits: TensorProto[] = []): ModelProto {
  return {
    ir_version: 8n,
    opset_import: [{ domain: '', version: BigInt(opset) }],
    graph: {
      name: 'g',
      node: nodes,
      initializer: inits,
      input: inputs,
      output: outputs.map((o) => (typeof o === 'string' ? out(o) : out(o[0], o[1]))),
    },
  };
}

function infer(m: ModelProto): Map<string, ValueShape> {
  const opset = Number(m.opset_import![0]!.version);
  return inferShapes(m.graph!, opset, new ConstantTable(m.graph!));
}

const dimsOf = (m: ModelProto, name: string) => infer(m).get(name)?.dims;

// ---------------------------------------------------------------------------------------------
// Running them.

/** A dim with its symbols given values ('batch*4' with batch = 3 → 12); undefined if unknown. */
function concrete(d: Dim, sizes: Record<string, number>): number | undefined {
  if (typeof d === 'number') return d;
  const s = parseSymbolicDim(d);
  const v = s ? sizes[s.sym] : undefined;
  return s && v !== undefined ? v * s.k : undefined;
}

function feedFor(v: ValueInfoProto, sizes: Record<string, number>): ort.Tensor {
  const dims = (v.type!.tensor_type!.shape!.dim ?? []).map((d) => (d.dim_value !== undefined ? Number(d.dim_value) : sizes[d.dim_param!]!));
  const n = dims.reduce((a, b) => a * b, 1);
  const elem = v.type!.tensor_type!.elem_type;
  if (elem === DataType.INT64)
    return new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 2)),
      dims,
    );
  if (elem === DataType.BOOL)
    return new ort.Tensor(
      'bool',
      Uint8Array.from({ length: n }, (_, i) => i % 2),
      dims,
    );
  return new ort.Tensor(
    'float32',
    Float32Array.from({ length: n }, (_, i) => Math.sin(i + 1)),
    dims,
  );
}

/** Runs `m` with the symbols set to `sizes` and expects every output's inferred dims to match. */
async function expectOrtAgrees(m: ModelProto, sizes: Record<string, number> = { batch: 3 }): Promise<void> {
  const shapes = infer(m);
  const s = await ort.InferenceSession.create(encodeModel(m), { logSeverityLevel: 3 });
  try {
    const inits = new Set((m.graph!.initializer ?? []).map((t) => t.name));
    const feeds: Record<string, ort.Tensor> = {};
    for (const v of m.graph!.input ?? []) if (!inits.has(v.name)) feeds[v.name!] = feedFor(v, sizes);
    const res = (await s.run(feeds)) as Record<string, ort.Tensor>;
    for (const o of m.graph!.output ?? []) {
      const inferred = shapes.get(o.name!)?.dims;
      expect(inferred, `dims of ${o.name}`).toBeDefined();
      expect(
        inferred!.map((d) => concrete(d, sizes)),
        `dims of ${o.name} (${JSON.stringify(inferred)})`,
      ).toEqual(res[o.name!]!.dims.map(Number));
    }
  } finally {
    await s.release();
  }
}

// ---------------------------------------------------------------------------------------------

describe('symbolic dims', () => {
  test('parseSymbolicDim', () => {
    expect(parseSymbolicDim('batch')).toEqual({ sym: 'batch', k: 1 });
    expect(parseSymbolicDim('batch*4')).toEqual({ sym: 'batch', k: 4 });
    expect(parseSymbolicDim('N*12')).toEqual({ sym: 'N', k: 12 });
    expect(parseSymbolicDim(7)).toBeUndefined();
    expect(parseSymbolicDim('?')).toBeUndefined();
    // Not a product: the whole string is the symbol.
    expect(parseSymbolicDim('batch*1')).toEqual({ sym: 'batch*1', k: 1 });
    expect(parseSymbolicDim('a*b')).toEqual({ sym: 'a*b', k: 1 });
  });

  test('dimTimes', () => {
    expect(dimTimes(3, 4)).toBe(12);
    expect(dimTimes('batch', 4)).toBe('batch*4');
    expect(dimTimes('batch*4', 2)).toBe('batch*8');
    expect(dimTimes('batch', 1)).toBe('batch');
    expect(dimTimes('batch', 0)).toBe(0);
    expect(dimTimes('?', 4)).toBe('?');
    expect(dimTimes('batch', -1)).toBe('?');
    expect(dimTimes('batch', 1.5)).toBe('?');
  });

  test('dimDivide', () => {
    expect(dimDivide(12, 4)).toBe(3);
    expect(dimDivide(13, 4)).toBe('?');
    expect(dimDivide('batch*4', 4)).toBe('batch');
    expect(dimDivide('batch*8', 2)).toBe('batch*4');
    expect(dimDivide('batch*4', 3)).toBe('?');
    expect(dimDivide('batch', 2)).toBe('?');
    expect(dimDivide('batch', 1)).toBe('batch');
    expect(dimDivide('?', 1)).toBe('?');
    expect(dimDivide(12, 0)).toBe('?');
  });
});

describe('nn.MultiheadAttention reshape chain', () => {
  // [L, N, E] = [8, batch, 32], 4 heads of 8: the chain PyTorch 1.13 exports.
  const nodes: NodeProto[] = [
    node('Shape', ['x'], ['s']),
    constI64('i0', [0], true),
    constI64('i1', [1], true),
    constI64('i2', [2], true),
    constI64('c4', [4], true),
    constI64('ax0', [0]),
    node('Gather', ['s', 'i0'], ['L']),
    node('Gather', ['s', 'i1'], ['N']),
    node('Gather', ['s', 'i2'], ['E']),
    node('Mul', ['N', 'c4'], ['NH']),
    node('Div', ['E', 'c4'], ['hd0']),
    node('Cast', ['hd0'], ['hd1'], { to: DataType.FLOAT }),
    node('Cast', ['hd1'], ['hd'], { to: DataType.INT64 }),
    node('Unsqueeze', ['L', 'ax0'], ['Lu']),
    node('Unsqueeze', ['NH', 'ax0'], ['NHu']),
    node('Unsqueeze', ['hd', 'ax0'], ['hdu']),
    node('Concat', ['Lu', 'NHu', 'hdu'], ['qshape'], { axis: 0 }),
    node('Reshape', ['x', 'qshape'], ['q']),
    node('Transpose', ['q'], ['qt'], { perm: [1, 0, 2] }),
    node('Transpose', ['q'], ['kt'], { perm: [1, 2, 0] }),
    node('MatMul', ['qt', 'kt'], ['att']),
    node('Softmax', ['att'], ['p'], { axis: -1 }),
    node('Dropout', ['p'], ['pd']),
    node('MatMul', ['pd', 'qt'], ['o']),
    constI64('heads', [-1, 4, 8, 8]),
    node('Reshape', ['o', 'heads'], ['o4']),
    node('Transpose', ['o'], ['ot'], { perm: [1, 0, 2] }),
    node('Mul', ['L', 'N'], ['LN']),
    node('Unsqueeze', ['LN', 'ax0'], ['LNu']),
    node('Unsqueeze', ['E', 'ax0'], ['Eu']),
    node('Concat', ['LNu', 'Eu'], ['fshape'], { axis: 0 }),
    node('Reshape', ['ot', 'fshape'], ['flat']),
    node('Unsqueeze', ['N', 'ax0'], ['Nu']),
    node('Concat', ['Lu', 'Nu', 'Eu'], ['bshape'], { axis: 0 }),
    node('Reshape', ['flat', 'bshape'], ['back']),
    constI64('minus32', [-1, 32]),
    node('Reshape', ['x', 'minus32'], ['x2']),
    node('Flatten', ['ot'], ['otf'], { axis: 2 }),
  ];
  const m = model(14, nodes, [vi('x', [8, 'batch', 32])], ['q', 'qt', 'att', 'pd', 'o4', 'flat', 'back', 'x2', 'otf']);

  test('the shape values along the chain', () => {
    const s = infer(m);
    expect(s.get('N')?.value).toEqual(['batch']);
    expect(s.get('NH')?.value).toEqual(['batch*4']);
    expect(s.get('hd')?.value).toEqual([8]);
    expect(s.get('qshape')?.value).toEqual([8, 'batch*4', 8]);
    expect(s.get('LN')?.value).toEqual(['batch*8']);
    expect(s.get('bshape')?.value).toEqual([8, 'batch', 32]);
  });

  test('dims per head and back', () => {
    const s = infer(m);
    expect(s.get('q')?.dims).toEqual([8, 'batch*4', 8]);
    expect(s.get('pd')?.dims).toEqual(['batch*4', 8, 8]);
    expect(s.get('o4')?.dims).toEqual(['batch', 4, 8, 8]);
    expect(s.get('flat')?.dims).toEqual(['batch*8', 32]);
    expect(s.get('back')?.dims).toEqual([8, 'batch', 32]);
    expect(s.get('x2')?.dims).toEqual(['batch*8', 32]);
    expect(s.get('otf')?.dims).toEqual(['batch*32', 8]);
  });

  test('onnxruntime agrees', async () => {
    await expectOrtAgrees(m);
    await expectOrtAgrees(m, { batch: 1 });
  });
});

describe('the in_proj chunk of nn.MultiheadAttention', () => {
  test('Slice bounds from (3E + 2) / 3 on int64 (truncating division)', async () => {
    // PyTorch's chunk(3): size = (dim + 2) // 3, slices [0, size), [size, 2·size), [2·size, 3·size).
    const m = model(
      14,
      [
        node('Shape', ['x'], ['s']),
        constI64('last', [-1]),
        node('Gather', ['s', 'last'], ['d']),
        constI64('two', [2]),
        constI64('three', [3]),
        constI64('one', [1]),
        constI64('zero', [0]),
        node('Add', ['d', 'two'], ['d2']),
        node('Div', ['d2', 'three'], ['size']),
        node('Mul', ['size', 'one'], ['e0']),
        node('Mul', ['size', 'two'], ['e1']),
        node('Mul', ['size', 'three'], ['e2']),
        node('Slice', ['x', 'zero', 'e0', 'last'], ['q']),
        node('Slice', ['x', 'e0', 'e1', 'last'], ['k']),
        node('Slice', ['x', 'e1', 'e2', 'last'], ['v']),
        // Bounds unknown: only the sliced axis is unknown.
        node('Slice', ['x', 'zero', 'n', 'last'], ['u']),
      ],
      [vi('x', [8, 'batch', 96]), vi('n', [1], DataType.INT64)],
      ['q', 'k', 'v'],
    );
    const s = infer(m);
    expect(s.get('size')?.value).toEqual([32]);
    for (const n of ['q', 'k', 'v']) expect(s.get(n)?.dims).toEqual([8, 'batch', 32]);
    expect(s.get('u')?.dims).toEqual([8, 'batch', '?']);
    m.graph!.input!.pop();
    m.graph!.node!.pop();
    await expectOrtAgrees(m);
  });
});

describe('Reshape with -1 and symbolic products', () => {
  const reshape = (input: Dim[], shape: number[]) =>
    dimsOf(model(13, [node('Reshape', ['x', 'shape'], ['y'])], [vi('x', input)], ['y'], [i64('shape', shape)]), 'y');

  test('cases', () => {
    expect(reshape(['batch*4', 8, 8], [-1, 4, 8, 8])).toEqual(['batch', 4, 8, 8]);
    expect(reshape([8, 'batch', 32], [-1, 32])).toEqual(['batch*8', 32]);
    expect(reshape(['batch', 4, 8], [0, -1])).toEqual(['batch', 32]);
    expect(reshape(['batch', 4, 8], [-1, 8])).toEqual(['batch*4', 8]);
    expect(reshape(['batch', 4, 8], [-1])).toEqual(['batch*32']);
    expect(reshape(['batch', 'seq', 8], [0, 0, 2, -1])).toEqual(['batch', 'seq', 2, 4]);
    expect(reshape(['batch', 'seq', 8], [-1, 8])).toEqual(['?', 8]);
    expect(reshape(['batch', 6], [-1, 4])).toEqual(['?', 4]);
    expect(reshape(['?', 6], [-1, 6])).toEqual(['?', 6]);
    expect(reshape([2, 6], [-1, 4])).toEqual([3, 4]);
    expect(reshape([2, 6], [-1, -1])).toEqual(['?', '?']);
  });

  test('a target shape of symbolic values', () => {
    // [8, batch, 32] → [8, batch·4, 8] with the target computed from Shape.
    const m = model(
      13,
      [
        node('Shape', ['x'], ['s']),
        constI64('i', [1]),
        node('Gather', ['s', 'i'], ['n']),
        constI64('four', [4]),
        node('Mul', ['n', 'four'], ['n4']),
        constI64('l', [8]),
        node('Concat', ['l', 'n4', 'l'], ['shape'], { axis: 0 }),
        node('Reshape', ['x', 'shape'], ['y']),
      ],
      [vi('x', [8, 'batch', 32])],
      ['y'],
    );
    expect(dimsOf(m, 'y')).toEqual([8, 'batch*4', 8]);
  });
});

describe('arithmetic on shape values', () => {
  test('Add, Sub, Mul, Div, Max, Min, Neg, Abs, Cast', () => {
    const m = model(
      13,
      [
        node('Shape', ['x'], ['s']), // [batch, 6, 4]
        constI64('i0', [0], true),
        constI64('i1', [1], true),
        constI64('i2', [2], true),
        node('Gather', ['s', 'i0'], ['b']),
        node('Gather', ['s', 'i1'], ['six']),
        node('Gather', ['s', 'i2'], ['four']),
        node('Add', ['six', 'four'], ['add']),
        node('Sub', ['six', 'four'], ['sub']),
        node('Mul', ['b', 'six'], ['mul']),
        node('Div', ['mul', 'i2'], ['div']),
        node('Div', ['mul', 'four'], ['divx']), // batch·6 / 4: not exact
        node('Div', ['six', 'four'], ['trunc']), // int64: 6 / 4 = 1
        node('Max', ['six', 'four'], ['max']),
        node('Min', ['six', 'four'], ['min']),
        node('Neg', ['four'], ['neg']),
        node('Abs', ['neg'], ['abs']),
        node('Cast', ['mul'], ['cast'], { to: DataType.INT32 }),
        node('Add', ['b', 'i0'], ['bplus0']),
        node('Add', ['b', 'b'], ['bb']),
        node('Sub', ['b', 'b'], ['bzero']),
        node('Add', ['b', 'i1'], ['bplus1']),
        node('Mul', ['b', 'b'], ['bsq']),
        node('Div', ['mul', 'b'], ['ratio']),
        node('Max', ['b', 'i0'], ['bmax']),
        node('Add', ['s', 'i1'], ['svec']),
      ],
      [vi('x', ['batch', 6, 4])],
      [],
    );
    const s = infer(m);
    const v = (n: string) => s.get(n)?.value;
    expect(v('add')).toEqual([10]);
    expect(v('sub')).toEqual([2]);
    expect(v('mul')).toEqual(['batch*6']);
    expect(v('div')).toEqual(['batch*3']);
    expect(v('divx')).toEqual(['?']);
    expect(v('trunc')).toEqual([1]);
    expect(v('max')).toEqual([6]);
    expect(v('min')).toEqual([4]);
    expect(v('neg')).toEqual([-4]);
    expect(v('abs')).toEqual([4]);
    expect(v('cast')).toEqual(['batch*6']);
    expect(s.get('cast')?.elem).toBe(DataType.INT32);
    expect(v('bplus0')).toEqual(['batch']);
    expect(v('bb')).toEqual(['batch*2']);
    expect(v('bzero')).toEqual([0]);
    expect(v('bplus1')).toEqual(['?']);
    expect(v('bsq')).toEqual(['?']);
    expect(v('ratio')).toEqual([6]);
    expect(v('bmax')).toEqual(['batch']);
    expect(v('svec')).toEqual(['?', 7, 5]);
    expect(s.get('svec')?.dims).toEqual([3]);
  });

  test('Equal / Where / ConstantOfShape / Expand / Tile / Squeeze / Slice of shapes', () => {
    const m = model(
      13,
      [
        node('Shape', ['x'], ['s']), // [batch, 6, 4]
        constI64('minus1', [-1]),
        node('Equal', ['s', 'minus1'], ['eq']),
        node('ConstantOfShape', ['three'], ['ones'], { value: { t: i64('', [1], [1]) } }),
        node('Where', ['eq', 'ones', 's'], ['w']),
        node('Expand', ['x', 'w'], ['xe']),
        node('Slice', ['s', 'st', 'en'], ['tail']), // s[1:]
        node('Slice', ['s', 'st0', 'big'], ['whole']),
        node('Slice', ['s', 'rs', 'rend', 'ax', 'step'], ['rev']), // s[::-1]
        node('Tile', ['tail', 'two'], ['tiled']),
        constI64('i0', [0]),
        node('Gather', ['s', 'i0'], ['b1']),
        node('Squeeze', ['b1', 'i0'], ['b']),
        node('Unsqueeze', ['b', 'i0'], ['bu']),
        node('Expand', ['b', 'three'], ['bbb']),
        node('Concat', ['bu', 'tail'], ['again'], { axis: 0 }),
      ],
      [vi('x', ['batch', 6, 4])],
      [],
      [
        i64('three', [3]),
        i64('st', [1]),
        i64('en', [3]),
        i64('st0', [0]),
        i64('big', [2 ** 62]),
        i64('two', [2]),
        i64('rs', [-1]),
        i64('rend', [-(2 ** 62)]),
        i64('ax', [0]),
        i64('step', [-1]),
      ],
    );
    const s = infer(m);
    const v = (n: string) => s.get(n)?.value;
    expect(v('eq')).toEqual([0, 0, 0]);
    expect(s.get('eq')?.elem).toBe(DataType.BOOL);
    expect(v('ones')).toEqual([1, 1, 1]);
    expect(s.get('ones')?.elem).toBe(DataType.INT64);
    expect(v('w')).toEqual(['batch', 6, 4]);
    expect(s.get('xe')?.dims).toEqual(['batch', 6, 4]);
    expect(v('tail')).toEqual([6, 4]);
    expect(v('whole')).toEqual(['batch', 6, 4]);
    expect(v('rev')).toEqual([4, 6, 'batch']);
    expect(v('tiled')).toEqual([6, 4, 6, 4]);
    expect(s.get('b')?.dims).toEqual([]);
    expect(v('b')).toEqual(['batch']);
    expect(v('bu')).toEqual(['batch']);
    expect(v('bbb')).toEqual(['batch', 'batch', 'batch']);
    expect(v('again')).toEqual(['batch', 6, 4]);
  });

  test('Range', () => {
    const m = model(
      13,
      [
        node('Shape', ['x'], ['s']),
        constI64('i1', [1], true),
        node('Gather', ['s', 'i1'], ['seq']),
        constI64('zero', [0], true),
        constI64('one', [1], true),
        constI64('five', [5], true),
        constI64('two', [2], true),
        node('Range', ['zero', 'five', 'one'], ['r5']),
        node('Range', ['one', 'five', 'two'], ['r2']),
        node('Range', ['zero', 'seq', 'one'], ['rseq']),
        node('Range', ['one', 'seq', 'one'], ['rq']),
        node('Range', ['zero', 'seq', 'two'], ['rq2']),
      ],
      [vi('x', ['batch', 'seq'])],
      [],
    );
    const s = infer(m);
    expect(s.get('r5')).toMatchObject({ dims: [5], value: [0, 1, 2, 3, 4] });
    expect(s.get('r2')).toMatchObject({ dims: [2], value: [1, 3] });
    expect(s.get('rseq')?.dims).toEqual(['seq']);
    expect(s.get('rq')?.dims).toEqual(['?']);
    expect(s.get('rq2')?.dims).toEqual(['?']);
  });

  test('Gather of symbolic values, Size, NonZero', () => {
    const m = model(
      13,
      [
        node('Shape', ['x'], ['s']),
        node('Gather', ['s', 'idx'], ['g']),
        node('Gather', ['s', 'neg'], ['last']),
        node('Size', ['x'], ['n']),
        node('NonZero', ['x'], ['nz']),
      ],
      [vi('x', ['batch', 3, 4])],
      [],
      [i64('idx', [0, 2]), i64('neg', [-1], [])],
    );
    const s = infer(m);
    expect(s.get('g')).toMatchObject({ dims: [2], value: ['batch', 4] });
    expect(s.get('last')).toMatchObject({ dims: [], value: [4] });
    expect(s.get('n')?.value).toEqual(['batch*12']);
    expect(s.get('nz')).toMatchObject({ elem: DataType.INT64, dims: [3, '?'] });
  });
});

describe('recurrent layers', () => {
  const H = 4;
  const I = 3;
  const T = 5;
  function rnnModel(op: 'RNN' | 'GRU' | 'LSTM', dirs: 1 | 2, opts: { layout?: number; hidden?: boolean; initial?: boolean } = {}) {
    const gates = op === 'LSTM' ? 4 : op === 'GRU' ? 3 : 1;
    const layout = opts.layout ?? 0;
    const direction = dirs === 2 ? 'bidirectional' : 'forward';
    const inputs = ['x', 'W', 'R', 'B'];
    const nodes: NodeProto[] = [];
    if (opts.initial) {
      // PyTorch: h0 = ConstantOfShape(Concat([dirs], batch, [H])).
      nodes.push(
        node('Shape', ['x'], ['s']),
        constI64('bi', [layout === 0 ? 1 : 0], true),
        node('Gather', ['s', 'bi'], ['b']),
        constI64('ax0', [0]),
        node('Unsqueeze', ['b', 'ax0'], ['bu']),
        constI64('nd', [dirs]),
        constI64('hs', [H]),
        node('Concat', layout === 0 ? ['nd', 'bu', 'hs'] : ['bu', 'nd', 'hs'], ['hshape'], { axis: 0 }),
        node('ConstantOfShape', ['hshape'], ['h0'], { value: { t: f32('', [1], () => 0) } }),
      );
      inputs.push('', 'h0');
      if (op === 'LSTM') inputs.push('h0');
    }
    const outputs = op === 'LSTM' ? ['Y', 'Y_h', 'Y_c'] : ['Y', 'Y_h'];
    const attrs: Record<string, Attr> = { direction };
    if (opts.hidden !== false) attrs.hidden_size = H;
    if (layout !== 0) attrs.layout = layout;
    nodes.push(node(op, inputs, outputs, attrs));
    return model(14, nodes, [vi('x', layout === 0 ? [T, 'batch', I] : ['batch', T, I])], outputs, [
      f32('W', [dirs, gates * H, I]),
      f32('R', [dirs, gates * H, H]),
      f32('B', [dirs, 2 * gates * H]),
    ]);
  }

  for (const op of ['RNN', 'GRU', 'LSTM'] as const) {
    for (const dirs of [1, 2] as const) {
      test(`${op}, ${dirs === 2 ? 'bidirectional' : 'forward'}, layout 0`, async () => {
        const m = rnnModel(op, dirs, { initial: true });
        const s = infer(m);
        expect(s.get('Y')?.dims).toEqual([T, dirs, 'batch', H]);
        expect(s.get('Y_h')?.dims).toEqual([dirs, 'batch', H]);
        if (op === 'LSTM') expect(s.get('Y_c')?.dims).toEqual([dirs, 'batch', H]);
        expect(s.get('Y')?.elem).toBe(DataType.FLOAT);
        await expectOrtAgrees(m);
      });
    }
    // onnxruntime's CPU kernels refuse layout 1, so this one is checked against the spec only.
    test(`${op}, layout 1 (batch first)`, () => {
      const s = infer(rnnModel(op, 2, { layout: 1, initial: true }));
      expect(s.get('Y')?.dims).toEqual(['batch', T, 2, H]);
      expect(s.get('Y_h')?.dims).toEqual(['batch', 2, H]);
      if (op === 'LSTM') expect(s.get('Y_c')?.dims).toEqual(['batch', 2, H]);
    });
    test(`${op} without hidden_size: read from R`, () => {
      const s = infer(rnnModel(op, 1, { hidden: false }));
      expect(s.get('Y')?.dims).toEqual([T, 1, 'batch', H]);
      expect(s.get('Y_h')?.dims).toEqual([1, 'batch', H]);
    });
  }

  test('the batch from initial_h when X does not say', () => {
    const m = model(
      14,
      [node('GRU', ['x', 'W', 'R', '', '', 'h0'], ['Y', 'Y_h'], { hidden_size: H })],
      [vi('x', [T, '?', I]), vi('h0', [1, 'batch', H])],
      ['Y', 'Y_h'],
      [f32('W', [1, 3 * H, I]), f32('R', [1, 3 * H, H])],
    );
    expect(dimsOf(m, 'Y')).toEqual([T, 1, 'batch', H]);
  });

  test('the PyTorch batch_first tail: Squeeze → Transpose → Gather(-1)', async () => {
    // nn.LSTM(batch_first=True) then out[:, -1]: the feature per row is known.
    const m = rnnModel('LSTM', 1, { initial: true });
    m.graph!.node!.push(
      constI64('one', [1]),
      node('Squeeze', ['Y', 'one'], ['ys']),
      node('Transpose', ['ys'], ['yt'], { perm: [1, 0, 2] }),
      constI64('last', [-1], true),
      node('Gather', ['yt', 'last'], ['h'], { axis: 1 }),
      node('Dropout', ['h'], ['hd']),
    );
    m.graph!.output!.push(out('ys'), out('yt'), out('hd'));
    const s = infer(m);
    expect(s.get('ys')?.dims).toEqual([T, 'batch', H]);
    expect(s.get('yt')?.dims).toEqual(['batch', T, H]);
    expect(s.get('hd')?.dims).toEqual(['batch', H]);
    await expectOrtAgrees(m);
  });
});

describe('ConvTranspose', () => {
  const ct = (xDims: Dim[], wDims: number[], attrs: Record<string, Attr>) =>
    model(13, [node('ConvTranspose', ['x', 'W'], ['y'], attrs)], [vi('x', xDims)], ['y'], [f32('W', wDims)]);

  const cases: [string, Dim[], number[], Record<string, Attr>, Dim[]][] = [
    ['plain', ['batch', 4, 5, 5], [4, 3, 3, 3], {}, ['batch', 3, 7, 7]],
    ['U-Net upsampling (k 2, stride 2)', ['batch', 32, 8, 8], [32, 16, 2, 2], { strides: [2, 2] }, ['batch', 16, 16, 16]],
    ['strides, pads, output_padding', ['batch', 4, 5, 5], [4, 3, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }, ['batch', 3, 10, 10]],
    ['asymmetric pads', ['batch', 4, 5, 6], [4, 3, 3, 3], { strides: [2, 3], pads: [0, 1, 1, 2] }, ['batch', 3, 10, 15]],
    ['dilations', ['batch', 4, 5, 5], [4, 3, 3, 3], { dilations: [2, 2], pads: [1, 1, 1, 1] }, ['batch', 3, 7, 7]],
    ['group 2', ['batch', 4, 5, 5], [4, 3, 3, 3], { group: 2 }, ['batch', 6, 7, 7]],
    ['auto_pad SAME_UPPER', ['batch', 4, 5, 5], [4, 3, 3, 3], { strides: [2, 2], auto_pad: 'SAME_UPPER' }, ['batch', 3, 10, 10]],
    ['auto_pad VALID', ['batch', 4, 5, 5], [4, 3, 3, 3], { strides: [2, 2], auto_pad: 'VALID' }, ['batch', 3, 11, 11]],
    ['output_shape', ['batch', 4, 5, 5], [4, 3, 3, 3], { strides: [2, 2], output_shape: [10, 11] }, ['batch', 3, 10, 11]],
    ['1-D', ['batch', 2, 7], [2, 5, 4], { strides: [3] }, ['batch', 5, 22]],
    ['3-D', ['batch', 2, 3, 4, 5], [2, 1, 2, 2, 2], { strides: [2, 2, 2] }, ['batch', 1, 6, 8, 10]],
  ];
  for (const [what, x, w, attrs, want] of cases) {
    test(what, async () => {
      const m = ct(x, w, attrs);
      expect(dimsOf(m, 'y')).toEqual(want);
      await expectOrtAgrees(m);
    });
  }

  test('kernel_shape attribute, symbolic spatial dims', () => {
    expect(dimsOf(ct(['batch', 4, 'h', 5], [4, 3, 2, 2], { kernel_shape: [2, 2], strides: [2, 2] }), 'y')).toEqual(['batch', 3, 'h*2', 10]);
    expect(dimsOf(ct(['batch', 4, 'h', 5], [4, 3, 3, 3], { strides: [2, 2] }), 'y')).toEqual(['batch', 3, '?', 11]);
  });
});

describe('Split, Pad, Tile, Where, Einsum', () => {
  test('Split: attribute (opset 11), input (13), equal parts, num_outputs (18)', async () => {
    const x = [vi('x', ['batch', 6])];
    const a = model(11, [node('Split', ['x'], ['a', 'b'], { axis: 1, split: [2, 4] })], x, ['a', 'b']);
    expect([dimsOf(a, 'a'), dimsOf(a, 'b')]).toEqual([
      ['batch', 2],
      ['batch', 4],
    ]);
    await expectOrtAgrees(a);
    const b = model(13, [node('Split', ['x', 'sp'], ['a', 'b', 'c'], { axis: -1 })], x, ['a', 'b', 'c'], [i64('sp', [1, 2, 3])]);
    expect([dimsOf(b, 'a'), dimsOf(b, 'b'), dimsOf(b, 'c')]).toEqual([
      ['batch', 1],
      ['batch', 2],
      ['batch', 3],
    ]);
    await expectOrtAgrees(b);
    const c = model(13, [node('Split', ['x'], ['a', 'b', 'c'], { axis: 1 })], x, ['a', 'b', 'c']);
    expect(dimsOf(c, 'c')).toEqual(['batch', 2]);
    await expectOrtAgrees(c);
    const d = model(18, [node('Split', ['x7'], ['a', 'b', 'c'], { axis: 1, num_outputs: 3 })], [vi('x7', ['batch', 7])], ['a', 'b', 'c']);
    expect([dimsOf(d, 'a'), dimsOf(d, 'b'), dimsOf(d, 'c')]).toEqual([
      ['batch', 3],
      ['batch', 3],
      ['batch', 1],
    ]);
    await expectOrtAgrees(d);
    const e = model(13, [node('Split', ['xs'], ['a', 'b'], { axis: 0 })], [vi('xs', ['batch*4', 8])], ['a', 'b']);
    expect(dimsOf(e, 'a')).toEqual(['batch*2', 8]);
    // A shape split in two keeps its values.
    const f = model(13, [node('Shape', ['x'], ['s']), node('Split', ['s', 'sp'], ['s0', 's1'])], x, [], [i64('sp', [1, 1])]);
    expect(infer(f).get('s0')?.value).toEqual(['batch']);
    expect(infer(f).get('s1')?.value).toEqual([6]);
  });

  test('Pad: attribute (< 11), input (≥ 11), axes (18)', async () => {
    const x = [vi('x', ['batch', 3, 4, 4])];
    const a = model(10, [node('Pad', ['x'], ['y'], { pads: [0, 0, 1, 2, 0, 0, 3, 0] })], x, ['y']);
    expect(dimsOf(a, 'y')).toEqual(['batch', 3, 8, 6]);
    await expectOrtAgrees(a);
    const b = model(13, [node('Pad', ['x', 'p'], ['y'], { mode: 'reflect' })], x, ['y'], [i64('p', [0, 0, 1, 1, 0, 0, 1, 1])]);
    expect(dimsOf(b, 'y')).toEqual(['batch', 3, 6, 6]);
    await expectOrtAgrees(b);
    const c = model(18, [node('Pad', ['x', 'p', '', 'ax'], ['y'])], x, ['y'], [i64('p', [1, 2, 3, 4]), i64('ax', [-1, 2])]);
    expect(dimsOf(c, 'y')).toEqual(['batch', 3, 10, 8]);
    await expectOrtAgrees(c);
    const d = model(13, [node('Pad', ['x', 'p'], ['y'])], x, ['y'], [i64('p', [1, 0, 0, 0, 0, 0, 0, 0])]);
    expect(dimsOf(d, 'y')).toEqual(['?', 3, 4, 4]);
  });

  test('Tile', async () => {
    const m = model(13, [node('Tile', ['x', 'r'], ['y'])], [vi('x', ['batch', 3])], ['y'], [i64('r', [2, 2])]);
    expect(dimsOf(m, 'y')).toEqual(['batch*2', 6]);
    await expectOrtAgrees(m);
  });

  test('Where broadcasts three ways', async () => {
    const m = model(13, [node('Where', ['c', 'a', 'b'], ['y'])], [vi('c', ['batch', 1, 4], DataType.BOOL), vi('a', [3, 1]), vi('b', [1])], ['y']);
    expect(dimsOf(m, 'y')).toEqual(['batch', 3, 4]);
    expect(infer(m).get('y')?.elem).toBe(DataType.FLOAT);
    await expectOrtAgrees(m);
  });

  test('Einsum', async () => {
    const e = (eq: string, dims: Dim[][]) =>
      model(
        12,
        [
          node(
            'Einsum',
            dims.map((_, i) => `x${i}`),
            ['y'],
            { equation: eq },
          ),
        ],
        dims.map((d, i) => vi(`x${i}`, d)),
        ['y'],
      );
    const cases: [string, Dim[][], Dim[]][] = [
      [
        'bij,bjk->bik',
        [
          ['batch', 2, 3],
          ['batch', 3, 4],
        ],
        ['batch', 2, 4],
      ],
      [
        'bhqd,bhkd->bhqk',
        [
          ['batch', 4, 5, 8],
          ['batch', 4, 6, 8],
        ],
        ['batch', 4, 5, 6],
      ],
      [
        'ij,jk',
        [
          [2, 3],
          [3, 4],
        ],
        [2, 4],
      ],
      ['bi->b', [['batch', 3]], ['batch']],
      [
        '...ij,...jk->...ik',
        [
          ['batch', 2, 3],
          [1, 3, 4],
        ],
        ['batch', 2, 4],
      ],
      ['ij->ji', [['batch', 3]], [3, 'batch']],
    ];
    for (const [eq, dims, want] of cases) {
      const m = e(eq, dims);
      expect(dimsOf(m, 'y'), eq).toEqual(want);
      await expectOrtAgrees(m);
    }
  });
});

describe('reductions and selections', () => {
  const x = [vi('x', ['batch', 3, 4])];
  test('Reduce*: axes attribute, axes input (ReduceSum 13, all 18), keepdims, noop_with_empty_axes', async () => {
    const cases: [ModelProto, Dim[]][] = [
      [model(13, [node('ReduceMean', ['x'], ['y'], { axes: [-1] })], x, ['y']), ['batch', 3, 1]],
      [model(13, [node('ReduceMax', ['x'], ['y'], { axes: [1, 2], keepdims: 0 })], x, ['y']), ['batch']],
      [model(13, [node('ReduceL2', ['x'], ['y'], { keepdims: 0 })], x, ['y']), []],
      [model(13, [node('ReduceProd', ['x'], ['y'])], x, ['y']), [1, 1, 1]],
      [model(13, [node('ReduceSum', ['x', 'ax'], ['y'], { keepdims: 0 })], x, ['y'], [i64('ax', [1])]), ['batch', 4]],
      [model(13, [node('ReduceSum', ['x'], ['y'], { noop_with_empty_axes: 1 })], x, ['y']), ['batch', 3, 4]],
      [model(13, [node('ReduceSum', ['x'], ['y'])], x, ['y']), [1, 1, 1]],
      [model(18, [node('ReduceMean', ['x', 'ax'], ['y'])], x, ['y'], [i64('ax', [2])]), ['batch', 3, 1]],
      [model(18, [node('ReduceLogSumExp', ['x', 'ax'], ['y'], { keepdims: 0 })], x, ['y'], [i64('ax', [0])]), [3, 4]],
      [model(18, [node('ReduceSumSquare', ['x'], ['y'], { keepdims: 0 })], x, ['y']), []],
      [model(18, [node('ReduceL1', ['x', 'ax'], ['y'])], x, ['y'], [i64('ax', [-2])]), ['batch', 1, 4]],
      [model(18, [node('ReduceMin', ['x'], ['y'], { noop_with_empty_axes: 1 })], x, ['y']), ['batch', 3, 4]],
    ];
    for (const [m, want] of cases) {
      expect(dimsOf(m, 'y'), m.graph!.node![0]!.op_type).toEqual(want);
      await expectOrtAgrees(m);
    }
    // Axes computed and unknown: the rank survives when dims are kept.
    const u = model(18, [node('ReduceMean', ['x', 'ax'], ['y'])], [...x, vi('ax', [1], DataType.INT64)], ['y']);
    expect(dimsOf(u, 'y')).toEqual(['?', '?', '?']);
  });

  test('ArgMax / ArgMin', async () => {
    const a = model(13, [node('ArgMax', ['x'], ['y'], { axis: 1, keepdims: 0 })], x, [['y', DataType.INT64]]);
    expect(infer(a).get('y')).toMatchObject({ elem: DataType.INT64, dims: ['batch', 4] });
    await expectOrtAgrees(a);
    const b = model(13, [node('ArgMin', ['x'], ['y'], { axis: -1 })], x, [['y', DataType.INT64]]);
    expect(dimsOf(b, 'y')).toEqual(['batch', 3, 1]);
    await expectOrtAgrees(b);
  });

  test('TopK: values and indices', async () => {
    const m = model(13, [node('TopK', ['x', 'k'], ['v', 'i'], { axis: 1 })], x, ['v', ['i', DataType.INT64]], [i64('k', [2])]);
    const s = infer(m);
    expect(s.get('v')).toMatchObject({ elem: DataType.FLOAT, dims: ['batch', 2, 4] });
    expect(s.get('i')).toMatchObject({ elem: DataType.INT64, dims: ['batch', 2, 4] });
    await expectOrtAgrees(m);
    const old = model(9, [node('TopK', ['x'], ['v', 'i'], { k: 3 })], x, ['v', ['i', DataType.INT64]]);
    expect(dimsOf(old, 'v')).toEqual(['batch', 3, 3]);
  });
});

describe('resampling and rearranging', () => {
  const x = [vi('x', ['batch', 3, 4, 4])];
  const scales = (name: string, v: number[]): TensorProto => ({ name, data_type: DataType.FLOAT, dims: [BigInt(v.length)], float_data: v });

  test('Resize with constant scales, constant sizes, computed sizes; Upsample', async () => {
    const a = model(13, [node('Resize', ['x', '', 'sc'], ['y'], { mode: 'nearest' })], x, ['y'], [scales('sc', [1, 1, 2, 2])]);
    expect(dimsOf(a, 'y')).toEqual(['batch', 3, 8, 8]);
    await expectOrtAgrees(a);
    const b = model(13, [node('Resize', ['x', '', '', 'sz'], ['y'], { mode: 'linear' })], [vi('x', [2, 3, 4, 4])], ['y'], [i64('sz', [2, 3, 5, 7])]);
    expect(dimsOf(b, 'y')).toEqual([2, 3, 5, 7]);
    await expectOrtAgrees(b);
    const c = model(
      13,
      [
        node('Shape', ['x'], ['s']),
        node('Slice', ['s', 'st', 'en'], ['nc']),
        node('Concat', ['nc', 'hw'], ['sz'], { axis: 0 }),
        node('Resize', ['x', '', '', 'sz'], ['y']),
      ],
      x,
      ['y'],
      [i64('st', [0]), i64('en', [2]), i64('hw', [6, 6])],
    );
    expect(dimsOf(c, 'y')).toEqual(['batch', 3, 6, 6]);
    await expectOrtAgrees(c);
    const d = model(10, [node('Resize', ['x', 'sc'], ['y'])], x, ['y'], [scales('sc', [1, 1, 1.5, 0.5])]);
    expect(dimsOf(d, 'y')).toEqual(['batch', 3, 6, 2]);
    await expectOrtAgrees(d);
    const e = model(9, [node('Upsample', ['x', 'sc'], ['y'])], x, ['y'], [scales('sc', [1, 1, 2, 3])]);
    expect(dimsOf(e, 'y')).toEqual(['batch', 3, 8, 12]);
    await expectOrtAgrees(e);
    const f = model(7, [node('Upsample', ['x'], ['y'], { scales: { floats: [1, 1, 2, 2] } })], x, ['y']);
    expect(dimsOf(f, 'y')).toEqual(['batch', 3, 8, 8]);
    const g = model(18, [node('Resize', ['x', '', '', 'sz'], ['y'], { axes: [2, 3] })], x, ['y'], [i64('sz', [2, 6])]);
    expect(dimsOf(g, 'y')).toEqual(['batch', 3, 2, 6]);
    await expectOrtAgrees(g);
  });

  test('DepthToSpace / SpaceToDepth', async () => {
    const a = model(13, [node('DepthToSpace', ['x'], ['y'], { blocksize: 2 })], [vi('x', ['batch', 8, 3, 3])], ['y']);
    expect(dimsOf(a, 'y')).toEqual(['batch', 2, 6, 6]);
    await expectOrtAgrees(a);
    const b = model(13, [node('SpaceToDepth', ['x'], ['y'], { blocksize: 2 })], [vi('x', ['batch', 2, 6, 6])], ['y']);
    expect(dimsOf(b, 'y')).toEqual(['batch', 8, 3, 3]);
    await expectOrtAgrees(b);
  });

  test('Expand with symbolic values; Flatten of symbolic products', async () => {
    const a = model(13, [node('Shape', ['x'], ['s']), node('Expand', ['c', 's'], ['y'])], [vi('x', ['batch', 3, 4])], ['y'], [f32('c', [1, 1, 4])]);
    expect(dimsOf(a, 'y')).toEqual(['batch', 3, 4]);
    await expectOrtAgrees(a);
    const b = model(
      13,
      [
        node('Shape', ['x'], ['s']),
        node('Gather', ['s', 'i0'], ['b']),
        node('Concat', ['b', 'five'], ['shape'], { axis: 0 }),
        node('Expand', ['x', 'shape'], ['y']),
      ],
      [vi('x', ['batch', 1])],
      ['y'],
      [i64('i0', [0]), i64('five', [5])],
    );
    expect(dimsOf(b, 'y')).toEqual(['batch', 5]);
    await expectOrtAgrees(b);
    const fl = (d: Dim[], axis: number) => dimsOf(model(13, [node('Flatten', ['x'], ['y'], { axis })], [vi('x', d)], ['y']), 'y');
    expect(fl(['batch', 4, 3], 2)).toEqual(['batch*4', 3]);
    expect(fl(['batch', 4, 3], 1)).toEqual(['batch', 12]);
    expect(fl(['batch*2', 4, 3], 3)).toEqual(['batch*24', 1]);
    expect(fl(['batch', 'seq', 3], 2)).toEqual(['?', 3]);
    expect(fl(['batch', 'seq', 3], 1)).toEqual(['batch', 'seq*3']);
    await expectOrtAgrees(model(13, [node('Flatten', ['x'], ['y'], { axis: 2 })], [vi('x', ['batch', 4, 3])], ['y']));
  });
});

describe('normalisation and shape-preserving ops', () => {
  test('LayerNormalization: Y, Mean and InvStdDev', async () => {
    const m = model(
      17,
      [node('LayerNormalization', ['x', 'g', 'b'], ['y', 'mean', 'inv'], { axis: -1 })],
      [vi('x', ['batch', 5, 8])],
      ['y', 'mean', 'inv'],
      [f32('g', [8]), f32('b', [8])],
    );
    const s = infer(m);
    expect(s.get('y')?.dims).toEqual(['batch', 5, 8]);
    expect(s.get('mean')).toMatchObject({ elem: DataType.FLOAT, dims: ['batch', 5, 1] });
    expect(s.get('inv')?.dims).toEqual(['batch', 5, 1]);
    await expectOrtAgrees(m);
    const axis1 = model(
      17,
      [node('LayerNormalization', ['x', 'g'], ['y', 'mean'], { axis: 1 })],
      [vi('x', ['batch', 5, 8])],
      ['y', 'mean'],
      [f32('g', [5, 8])],
    );
    expect(dimsOf(axis1, 'mean')).toEqual(['batch', 1, 1]);
  });

  test('Trilu, CumSum, Erf, Gelu and friends keep the shape', async () => {
    const x = [vi('x', ['batch', 4, 4])];
    const m = model(
      20,
      [
        node('Trilu', ['x'], ['t'], { upper: 0 }),
        node('CumSum', ['t', 'ax'], ['c']),
        node('Erf', ['c'], ['e']),
        node('Gelu', ['e'], ['g']),
        node('HardSwish', ['g'], ['h']),
        node('Mish', ['h'], ['y']),
      ],
      x,
      ['t', 'c', 'e', 'g', 'y'],
      [i64('ax', [1], [])],
    );
    for (const n of ['t', 'c', 'e', 'g', 'y']) expect(dimsOf(m, n)).toEqual(['batch', 4, 4]);
    await expectOrtAgrees(m);
  });

  test('Conv with a symbolic length keeps it where padding keeps the size', () => {
    const conv = (attrs: Record<string, Attr>) =>
      dimsOf(model(13, [node('Conv', ['x', 'W'], ['y'], attrs)], [vi('x', ['batch', 2, 'seq'])], ['y'], [f32('W', [4, 2, 3])]), 'y');
    expect(conv({ pads: [1, 1] })).toEqual(['batch', 4, 'seq']);
    expect(conv({ auto_pad: 'SAME_UPPER' })).toEqual(['batch', 4, 'seq']);
    expect(conv({})).toEqual(['batch', 4, '?']);
    expect(conv({ pads: [1, 1], strides: [2] })).toEqual(['batch', 4, '?']);
  });
});

describe('PyTorch ATen fallbacks of the dropout family keep the shape', () => {
  test('org.pytorch.aten::alpha_dropout and ATen(operator = feature_dropout)', () => {
    const m = model(
      13,
      [
        { ...node('alpha_dropout', ['x', 'p', 't'], ['a']), domain: 'org.pytorch.aten' },
        { ...node('ATen', ['a', 'p', 't'], ['b'], { operator: 'feature_dropout' }), domain: 'org.pytorch.aten' },
        node('Flatten', ['b'], ['y']),
        { ...node('some_other_op', ['x'], ['z']), domain: 'org.pytorch.aten' },
      ],
      [vi('x', ['batch', 3, 4])],
      ['y'],
    );
    const s = infer(m);
    expect(s.get('a')?.dims).toEqual(['batch', 3, 4]);
    expect(s.get('b')?.dims).toEqual(['batch', 3, 4]);
    expect(s.get('y')?.dims).toEqual(['batch', 12]);
    expect(s.get('z')?.dims).toBeUndefined();
  });
});

describe('odd models never make it throw', () => {
  test('bad attributes and inputs', () => {
    const x = [vi('x', ['batch', 3, 4, 4]), vi('v', [4], DataType.INT64)];
    const nodes: NodeProto[] = [
      node('LSTM', [], ['a']),
      node('GRU', ['x'], ['b', 'c'], { direction: 'sideways', layout: 7 }),
      node('ConvTranspose', ['x', 'x'], ['d'], { kernel_shape: [3], strides: [0, 0], output_shape: [1] }),
      node('Split', ['x'], [], { axis: 9 }),
      node('Split', ['x', 'v'], ['e', 'f'], { axis: 1 }),
      node('Einsum', ['x'], ['g'], { equation: 'ab,bc->ac' }),
      node('Einsum', ['x'], ['g2'], { equation: '!!' }),
      node('Reshape', ['x', 'v'], ['h']),
      node('Slice', ['x', 'v', 'v', 'v', 'v'], ['i']),
      node('Pad', ['x', 'v'], ['j']),
      node('Tile', ['x', 'v'], ['k']),
      node('Resize', ['x', '', 'v', 'v'], ['l'], { axes: [99] }),
      node('Range', ['v', 'v', 'v'], ['m']),
      node('DepthToSpace', ['x'], ['n'], { blocksize: 0 }),
      node('TopK', ['x', 'v'], ['o', 'p'], { axis: 12 }),
      node('ReduceSum', ['x', 'v'], ['q'], { keepdims: 0 }),
      node('LayerNormalization', ['x'], ['r', 's', 't'], { axis: 40 }),
      node('Unsqueeze', ['x', 'v'], ['u']),
      node('Squeeze', ['x', 'v'], ['w']),
      node('Concat', ['x', 'v'], ['z'], { axis: 5 }),
      node('Gather', ['v', 'x'], ['gg'], { axis: -3 }),
      node('ConstantOfShape', ['x'], ['cs']),
      node('Expand', ['x', 'x'], ['ex']),
      node('Where', ['x'], ['wh']),
      node('Div', ['v', 'v'], ['dv']),
      node('Mul', ['v'], ['mv']),
      node('Flatten', ['x'], ['fl'], { axis: -9 }),
      node('Transpose', ['x'], ['tr'], { perm: [0, 9] }),
      node('Constant', [], ['k0'], { value: { t: { data_type: DataType.INT64, dims: [3n], raw_data: new Uint8Array(5) } } }),
      node('Reshape', ['x', 'k0'], ['rk']),
    ];
    const m = model(18, nodes, x, []);
    const s = infer(m);
    expect(s.get('rk')).toBeDefined();
    // Whatever comes out keeps to the contract: dims are non-negative integers or strings.
    for (const [, v] of s) {
      for (const d of v.dims ?? []) {
        expect(typeof d === 'string' || (Number.isInteger(d) && d >= 0)).toBe(true);
      }
    }
  });

  test('random graphs', () => {
    const ops = [
      'Shape',
      'Gather',
      'Mul',
      'Div',
      'Add',
      'Sub',
      'Concat',
      'Unsqueeze',
      'Squeeze',
      'Reshape',
      'Slice',
      'Expand',
      'Tile',
      'Split',
      'Pad',
      'Range',
      'Where',
      'Einsum',
      'ReduceMean',
      'ReduceSum',
      'ArgMax',
      'TopK',
      'Resize',
      'ConvTranspose',
      'Conv',
      'LSTM',
      'GRU',
      'RNN',
      'LayerNormalization',
      'Flatten',
      'ConstantOfShape',
      'Cast',
      'Equal',
      'MatMul',
      'Gemm',
      'Transpose',
      'NonZero',
      'DepthToSpace',
      'Max',
      'Min',
      'Neg',
      'Abs',
      'Range',
      'Size',
    ];
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
    const attrPool: [string, Attr][] = [
      ['axis', -1],
      ['axis', 0],
      ['axis', 2],
      ['axes', [0]],
      ['axes', [-1, 1]],
      ['perm', [1, 0]],
      ['keepdims', 0],
      ['hidden_size', 3],
      ['direction', 'bidirectional'],
      ['layout', 1],
      ['strides', [2, 2]],
      ['split', [1, 1]],
      ['equation', 'ij,jk->ik'],
      ['blocksize', 2],
      ['num_outputs', 2],
      ['to', DataType.INT64],
      ['group', 2],
    ];
    for (let g = 0; g < 200; g++) {
      const names = ['x', 'v', 'c'];
      const nodes: NodeProto[] = [];
      for (let k = 0; k < 12; k++) {
        const nin = 1 + Math.floor(rand() * 4);
        const inputs = Array.from({ length: nin }, () => (rand() < 0.1 ? '' : pick(names)));
        const outputs = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, i) => `t${g}_${k}_${i}`);
        const attrs: Record<string, Attr> = {};
        for (let a = 0; a < 3; a++) if (rand() < 0.5) attrs[pick(attrPool)[0]] = pick(attrPool)[1];
        nodes.push(node(pick(ops), inputs, outputs, attrs));
        names.push(...outputs);
      }
      const m = model(pick([7, 11, 13, 14, 18]), nodes, [vi('x', ['batch', 4, 4, 4]), vi('v', [2], DataType.INT64)], [], [i64('c', [2, -1])]);
      expect(() => infer(m)).not.toThrow();
    }
  });
});
