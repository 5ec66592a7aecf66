// After a site the broadcast layout's leading axis holds S·N rows: every op that would treat
// it as something else is refused there (a LayoutRefusal: by default prepare then runs the
// graph tiled, and the self-check has the last word). Each case fails without its check.
import { describe, expect, test } from 'vitest';
import * as ort from 'onnxruntime-node';
import { LayoutRefusal } from '../src/graph/broadcast.js';
import { prepareModel } from '../src/graph/prepare.js';
import { encodeModel } from '../src/proto/codec.js';
import type { AttributeProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../src/proto/types.js';
import { f32, i64, vi } from './builders.js';

const ints = (name: string, v: number[]): AttributeProto => ({ name, type: 7, ints: v.map(BigInt) });
const int = (name: string, v: number): AttributeProto => ({ name, type: 2, i: BigInt(v) });
const str = (name: string, v: string): AttributeProto => ({ name, type: 3, s: new TextEncoder().encode(v) });

/** x [N, 4, 6] → Relu → Dropout → d [S·N, 4, 6] → (op) → y */
function graph(op: NodeProto, inits: TensorProto[] = [], extraInputs: ValueInfoProto[] = [], opset = 13): ModelProto {
  return {
    ir_version: 8n,
    opset_import: [{ domain: '', version: BigInt(opset) }],
    graph: {
      name: 'g',
      node: [
        { op_type: 'Relu', input: ['x'], output: ['h'] },
        { op_type: 'Constant', output: ['r'], attribute: [{ name: 'value', type: 4, t: f32('', [], [0.5]) }] },
        { op_type: 'Dropout', input: ['h', 'r'], output: ['d'], name: 'drop' },
        op,
      ],
      initializer: inits,
      input: [vi('x', ['N', 4, 6]), ...extraInputs],
      output: [{ name: 'y', type: { tensor_type: { elem_type: 1 } } }],
    },
  };
}
const node = (op_type: string, input: string[], attribute: AttributeProto[] = []): NodeProto => ({
  name: `the${op_type}`,
  op_type,
  input,
  output: ['y'],
  attribute,
});

const REFUSED: [string, ModelProto, RegExp][] = [
  ['Reshape with a leading -1 that merges rows', graph(node('Reshape', ['d', 's']), [i64('s', [-1, 6])]), /leading -1/],
  ['Slice of the row axis', graph(node('Slice', ['d', 'st', 'en', 'ax']), [i64('st', [1]), i64('en', [3]), i64('ax', [0])]), /slices the row axis/],
  ['Pad on the row axis', graph(node('Pad', ['d', 'pads']), [i64('pads', [1, 0, 0, 0, 0, 0])]), /pads the row axis/],
  ['Tile of the row axis', graph(node('Tile', ['d', 'reps']), [i64('reps', [2, 1, 1])]), /repeats the row axis/],
  [
    'Compress without an axis',
    graph(node('Compress', ['d', 'c']), [{ name: 'c', data_type: 9, dims: [2n], raw_data: Uint8Array.of(1, 0) }]),
    /flattens its input/,
  ],
  [
    'Compress on axis 0',
    graph(node('Compress', ['d', 'c'], [int('axis', 0)]), [{ name: 'c', data_type: 9, dims: [2n], raw_data: Uint8Array.of(1, 0) }]),
    /selects along the row axis/,
  ],
  ['Einsum moving the row index', graph(node('Einsum', ['d'], [str('equation', 'nij->jin')])), /row index leading/],
  ['MeanVarianceNormalization (default axes include 0)', graph(node('MeanVarianceNormalization', ['d'])), /normalises over the row axis/],
  ['LpNormalization on axis 0', graph(node('LpNormalization', ['d'], [int('axis', 0)])), /normalises over the row axis/],
  ['Flatten with a negative axis reaching 0', graph(node('Flatten', ['d'], [int('axis', -3)])), /flattens the row axis/],
  ['Gather from the rows', graph(node('Gather', ['d', 'idx'], [int('axis', 0)]), [i64('idx', [0, 1])]), /selects along the row axis/],
  [
    'ScatterND into the rows',
    graph(node('ScatterND', ['d', 'idx2', 'upd']), [{ ...i64('idx2', [0]), dims: [1n, 1n] }, f32('upd', [1, 4, 6], new Array(24).fill(0))]),
    /writes by indices/,
  ],
  ['NonZero', graph(node('NonZero', ['d'])), /does not keep rows apart/],
  [
    'LSTM reading time from the row axis (layout 0)',
    graph(node('LSTM', ['d', 'W', 'R'], [int('hidden_size', 2)]), [f32('W', [1, 8, 6], new Array(48).fill(0.1)), f32('R', [1, 8, 2], new Array(16).fill(0.1))]),
    /sequence-first/,
  ],
  ['MatMul contracting over the rows', graph(node('MatMul', ['t', 'd2']), [f32('t', [3, 1], [1, 2, 3])]), /contracts over the row axis|takes the rows/],
  ['Resize scaling the row axis', graph(node('Resize', ['d', '', 'sc']), [f32('sc', [3], [2, 1, 1])]), /scales the row axis/],
];
// MatMul case: make d2 a 2-D expanded tensor
{
  const g = REFUSED.find(([n]) => n.startsWith('MatMul'))![1].graph!;
  g.node!.splice(3, 0, { op_type: 'ReduceMean', input: ['d'], output: ['d2'], attribute: [ints('axes', [2]), int('keepdims', 0)] });
}

describe('ops that misread the S·N axis after a site', () => {
  test.each(REFUSED)('%s: refused by the broadcast layout, naming the op', (_, m, pattern) => {
    let err: unknown;
    try {
      prepareModel(m, { rewrite: 'broadcast' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LayoutRefusal);
    expect((err as Error).message).toMatch(/the\w+|node/);
    expect((err as Error).message).toMatch(pattern);
  });

  test.each(REFUSED)('%s: runs tiled by default instead', (_, m) => {
    const p = prepareModel(m);
    expect(p.layout).toBe('tiled');
  });

  test('Gather(table, indices computed from the rows) is a lookup per row: accepted, and right', async () => {
    // x [N, 4] → Dropout → d → ArgMax over features → idx [S·N] → Gather(table [4, 3], idx) → y [S·N, 3]
    const m: ModelProto = {
      ir_version: 8n,
      opset_import: [{ domain: '', version: 13n }],
      graph: {
        name: 'g',
        node: [
          { op_type: 'Constant', output: ['r'], attribute: [{ name: 'value', type: 4, t: f32('', [], [0.5]) }] },
          { op_type: 'Dropout', input: ['x', 'r'], output: ['d'] },
          { op_type: 'ArgMax', input: ['d'], output: ['idx'], attribute: [int('axis', 1), int('keepdims', 0)] },
          { op_type: 'Gather', input: ['table', 'idx'], output: ['y'], attribute: [int('axis', 0)] },
        ],
        initializer: [
          f32(
            'table',
            [4, 3],
            Array.from({ length: 12 }, (_, k) => k),
          ),
        ],
        input: [vi('x', ['N', 4])],
        output: [{ name: 'y', type: { tensor_type: { elem_type: 1 } } }],
      },
    };
    const p = prepareModel(m, { rewrite: 'broadcast' });
    expect(p.layout).toBe('broadcast');
    const s = await ort.InferenceSession.create(encodeModel(p.model), { logSeverityLevel: 3 });
    // rows [1,2,3,4], [4,3,2,1]; masks keep only feature (t+i)%4 in sample t, row i
    const x = Float32Array.of(1, 2, 3, 4, 4, 3, 2, 1);
    const mask = new Float32Array(2 * 2 * 4);
    for (let t = 0; t < 2; t++) for (let i = 0; i < 2; i++) mask[(t * 2 + i) * 4 + ((t + i) % 4)] = 2;
    const out = await s.run({ x: new ort.Tensor('float32', x, [2, 4]), [p.sites[0]!.name]: new ort.Tensor('float32', mask, [2, 2, 4]) });
    expect(out.y!.dims).toEqual([4, 3]);
    const rows = Array.from(out.y!.data as Float32Array);
    for (let t = 0; t < 2; t++)
      for (let i = 0; i < 2; i++) {
        const k = (t + i) % 4;
        expect(rows.slice((t * 2 + i) * 3, (t * 2 + i) * 3 + 3)).toEqual([3 * k, 3 * k + 1, 3 * k + 2]);
      }
    await s.release();
  });
});
