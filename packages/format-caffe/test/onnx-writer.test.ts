// The ONNX encoder: field numbers checked by decoding the bytes with a small independent wire
// reader, and by loading and running the models in onnxruntime-node.
import { describe, expect, test } from 'vitest';
import * as ort from 'onnxruntime-node';
import { encodeOnnxModel, type OnnxModel } from '../src/onnx-writer.js';

/** A decoded protobuf field: varints as bigint, fixed32 as the raw 4 bytes, length-delimited as bytes. */
type Field = { no: number; wire: number; v: bigint | Uint8Array };

/** Decodes one message's fields (wire types 0, 1, 2, 5). */
function fields(b: Uint8Array): Field[] {
  const out: Field[] = [];
  let at = 0;
  const varint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      const byte = b[at++]!;
      v |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return v;
      shift += 7n;
    }
  };
  while (at < b.length) {
    const tag = Number(varint());
    const no = tag >> 3;
    const wire = tag & 7;
    if (wire === 0) out.push({ no, wire, v: varint() });
    else if (wire === 2) {
      const n = Number(varint());
      out.push({ no, wire, v: b.subarray(at, at + n) });
      at += n;
    } else if (wire === 5) {
      out.push({ no, wire, v: b.subarray(at, at + 4) });
      at += 4;
    } else if (wire === 1) {
      out.push({ no, wire, v: b.subarray(at, at + 8) });
      at += 8;
    } else throw new Error(`wire type ${wire}`);
  }
  return out;
}
const sub = (fs: Field[], no: number): Uint8Array[] => fs.filter((f) => f.no === no).map((f) => f.v as Uint8Array);
const str = (fs: Field[], no: number): string[] => sub(fs, no).map((b) => new TextDecoder().decode(b));
const ints = (fs: Field[], no: number): bigint[] => fs.filter((f) => f.no === no).map((f) => BigInt.asIntN(64, f.v as bigint));
const float = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true);

/** Y = Softmax(Relu(X·Wᵀ + b), axis −1) and S = Shape-independent constant via ConstantOfShape, with every attribute kind. */
function model(): OnnxModel {
  return {
    graph: {
      name: 'g',
      nodes: [
        {
          opType: 'Gemm',
          name: 'fc',
          inputs: ['X', 'W', 'B'],
          outputs: ['h'],
          attributes: [
            { name: 'transB', type: 'int', value: 1 },
            { name: 'alpha', type: 'float', value: 0.5 },
          ],
        },
        { opType: 'LeakyRelu', name: 'act', inputs: ['h'], outputs: ['a'], attributes: [{ name: 'alpha', type: 'float', value: 0.25 }] },
        { opType: 'Softmax', name: 'sm', inputs: ['a'], outputs: ['Y'], attributes: [{ name: 'axis', type: 'int', value: -1 }] },
        { opType: 'Reshape', name: 'rs', inputs: ['Y', 'shape'], outputs: ['R'] },
        {
          opType: 'ConstantOfShape',
          name: 'cos',
          inputs: ['cshape'],
          outputs: ['C'],
          attributes: [{ name: 'value', type: 'tensor', value: { name: 'v', dataType: 'float', dims: [1], data: [2.5] } }],
        },
        {
          opType: 'Pad',
          name: 'pad',
          inputs: ['X', 'pads'],
          outputs: ['P'],
          attributes: [{ name: 'mode', type: 'string', value: 'edge' }],
        },
        {
          opType: 'MaxPool',
          name: 'pool',
          inputs: ['X4'],
          outputs: ['M'],
          attributes: [
            { name: 'kernel_shape', type: 'ints', value: [2, 2] },
            { name: 'pads', type: 'ints', value: [0, 0, 1, 1] },
          ],
        },
      ],
      initializers: [
        { name: 'W', dataType: 'float', dims: [2, 3], data: Float32Array.of(1, 2, 3, -1, 0.5, 0) },
        { name: 'B', dataType: 'float', dims: [2], data: [0.1, -0.2] },
        { name: 'shape', dataType: 'int64', dims: [2], data: [0, -1] },
        { name: 'cshape', dataType: 'int64', dims: [2], data: BigInt64Array.of(2n, 3n) },
        { name: 'pads', dataType: 'int64', dims: [4], data: [0, 1, 0, 1] },
      ],
      inputs: [
        { name: 'X', dims: ['N', 3] },
        { name: 'X4', dims: ['N', 1, 3, 3] },
      ],
      outputs: [
        { name: 'R', dims: ['N', 2] },
        { name: 'C', dims: [2, 3] },
        { name: 'P', dims: ['N', 5] },
        { name: 'M', dims: ['N', 1, 3, 3] },
      ],
      valueInfo: [
        { name: 'h', dims: ['N', 2] },
        { name: 'a', dims: ['N', undefined] },
      ],
    },
    metadata: { 'mcu.source': 'caffe', 'caffe.net': 'tiny' },
  };
}

describe('encodeOnnxModel', () => {
  test('fields: ir_version 7, opset 13, producer, metadata, dims, attribute types, raw_data', () => {
    const m = model();
    const bytes = encodeOnnxModel({
      ...m,
      graph: {
        ...m.graph,
        nodes: [
          ...m.graph.nodes,
          {
            opType: 'X',
            inputs: [],
            outputs: [],
            attributes: [
              { name: 'ss', type: 'strings', value: ['a', 'bc'] },
              { name: 'ff', type: 'floats', value: [1.5, -2] },
            ],
          },
        ],
      },
    });
    const top = fields(bytes);
    expect(ints(top, 1)).toEqual([7n]);
    expect(str(top, 2)).toEqual(['mcu-format-caffe']);
    const opset = fields(sub(top, 8)[0]!);
    expect(str(opset, 1)).toEqual(['']);
    expect(ints(opset, 2)).toEqual([13n]);
    const meta = sub(top, 14)
      .map((e) => fields(e))
      .map((e) => [str(e, 1)[0], str(e, 2)[0]]);
    expect(meta).toEqual([
      ['mcu.source', 'caffe'],
      ['caffe.net', 'tiny'],
    ]);
    const graph = fields(sub(top, 7)[0]!);
    expect(str(graph, 2)).toEqual(['g']);
    const nodes = sub(graph, 1).map(fields);
    expect(nodes.map((n) => str(n, 4)[0])).toEqual(['Gemm', 'LeakyRelu', 'Softmax', 'Reshape', 'ConstantOfShape', 'Pad', 'MaxPool', 'X']);
    expect(str(nodes[0]!, 1)).toEqual(['X', 'W', 'B']);
    expect(str(nodes[0]!, 2)).toEqual(['h']);
    expect(str(nodes[0]!, 3)).toEqual(['fc']);
    const attrs = (n: Field[]): Field[][] => sub(n, 5).map(fields);
    const [transB, alpha] = attrs(nodes[0]!);
    expect(str(transB!, 1)).toEqual(['transB']);
    expect(ints(transB!, 3)).toEqual([1n]);
    expect(ints(transB!, 20)).toEqual([2n]); // INT
    expect(float(sub(alpha!, 2)[0]!)).toBe(0.5);
    expect(ints(alpha!, 20)).toEqual([1n]); // FLOAT
    expect(ints(attrs(nodes[2]!)[0]!, 3)).toEqual([-1n]); // negative int64, 10-byte varint
    const value = attrs(nodes[4]!)[0]!;
    expect(ints(value, 20)).toEqual([4n]); // TENSOR
    const t = fields(sub(value, 5)[0]!);
    expect(ints(t, 2)).toEqual([1n]);
    expect(float(sub(t, 9)[0]!)).toBe(2.5);
    const mode = attrs(nodes[5]!)[0]!;
    expect(str(mode, 4)).toEqual(['edge']);
    expect(ints(mode, 20)).toEqual([3n]); // STRING
    const ks = attrs(nodes[6]!)[0]!;
    expect(ints(ks, 8)).toEqual([2n, 2n]);
    expect(ints(ks, 20)).toEqual([7n]); // INTS
    const [ss, ff] = attrs(nodes[7]!);
    expect(str(ss!, 9)).toEqual(['a', 'bc']);
    expect(ints(ss!, 20)).toEqual([8n]); // STRINGS
    expect(sub(ff!, 7).map(float)).toEqual([1.5, -2]);
    expect(ints(ff!, 20)).toEqual([6n]); // FLOATS
    const inits = sub(graph, 5).map(fields);
    expect(inits.map((i) => str(i, 8)[0])).toEqual(['W', 'B', 'shape', 'cshape', 'pads']);
    expect(ints(inits[0]!, 1)).toEqual([2n, 3n]);
    expect(ints(inits[0]!, 2)).toEqual([1n]); // FLOAT
    expect(ints(inits[2]!, 2)).toEqual([7n]); // INT64
    const raw = sub(inits[2]!, 9)[0]!;
    expect(new DataView(raw.buffer, raw.byteOffset).getBigInt64(8, true)).toBe(-1n);
    const w = sub(inits[0]!, 9)[0]!;
    expect(Array.from({ length: 6 }, (_, i) => new DataView(w.buffer, w.byteOffset).getFloat32(4 * i, true))).toEqual([1, 2, 3, -1, 0.5, 0]);
    // ValueInfo X: tensor_type { elem_type 1, shape { dim { dim_param N } dim { dim_value 3 } } }
    const x = fields(sub(graph, 11)[0]!);
    expect(str(x, 1)).toEqual(['X']);
    const tensor = fields(sub(fields(sub(x, 2)[0]!), 1)[0]!);
    expect(ints(tensor, 1)).toEqual([1n]);
    const dims = sub(fields(sub(tensor, 2)[0]!), 1).map(fields);
    expect(str(dims[0]!, 2)).toEqual(['N']);
    expect(ints(dims[1]!, 1)).toEqual([3n]);
    expect(sub(graph, 12)).toHaveLength(4);
    const a = fields(sub(graph, 13)[1]!);
    const aDims = sub(fields(sub(fields(sub(a, 2)[0]!), 1)[0]!), 2);
    expect(sub(fields(aDims[0]!), 1).map(fields)[1]).toEqual([]); // unknown dim: an empty Dimension
  });

  test('onnxruntime loads and runs it: Gemm, LeakyRelu, Softmax(-1), Reshape, ConstantOfShape, Pad(edge), MaxPool pads', async () => {
    const session = await ort.InferenceSession.create(encodeOnnxModel(model()), { logSeverityLevel: 3 });
    const inX = Float32Array.of(1, 0, 2, -1, 1, 0.5);
    const inX4 = Float32Array.from({ length: 9 }, (_, i) => i);
    const r = await session.run({ X: new ort.Tensor('float32', inX, [2, 3]), X4: new ort.Tensor('float32', inX4, [1, 1, 3, 3]) });
    // Reference.
    const W = [
      [1, 2, 3],
      [-1, 0.5, 0],
    ];
    const B = [0.1, -0.2];
    const expR: number[] = [];
    for (let n = 0; n < 2; n++) {
      const h = W.map((w, o) => 0.5 * w.reduce((s, v, i) => s + v * inX[n * 3 + i]!, 0) + B[o]!);
      const a = h.map((v) => (v > 0 ? v : 0.25 * v));
      const m = Math.max(...a);
      const e = a.map((v) => Math.exp(v - m));
      const z = e.reduce((s, v) => s + v, 0);
      expR.push(...e.map((v) => v / z));
    }
    const got = r['R']!.data as Float32Array;
    expect(r['R']!.dims).toEqual([2, 2]);
    got.forEach((v, i) => expect(Math.abs(v - expR[i]!)).toBeLessThan(1e-6));
    expect(Array.from(r['C']!.data as Float32Array)).toEqual([2.5, 2.5, 2.5, 2.5, 2.5, 2.5]);
    expect(Array.from(r['P']!.data as Float32Array)).toEqual([1, 1, 0, 2, 2, -1, -1, 1, 0.5, 0.5]);
    expect(Array.from(r['M']!.data as Float32Array)).toEqual([4, 5, 5, 7, 8, 8, 7, 8, 8]);
    const meta = session.inputMetadata.find((m) => m.name === 'X')!;
    expect(meta.isTensor && meta.shape).toEqual(['N', 3]);
    await session.release();
  });

  test('a large tensor goes through without copies of the message tree (4 MB initializer)', async () => {
    const n = 1 << 20;
    const w = new Float32Array(n).map((_, i) => (i % 7) - 3);
    const bytes = encodeOnnxModel({
      graph: {
        name: 'big',
        nodes: [{ opType: 'Add', name: 'add', inputs: ['x', 'w'], outputs: ['y'] }],
        initializers: [{ name: 'w', dataType: 'float', dims: [n], data: w }],
        inputs: [{ name: 'x', dims: [n] }],
        outputs: [{ name: 'y', dims: [n] }],
      },
    });
    expect(bytes.length).toBeGreaterThan(4 * n);
    const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
    const r = await s.run({ x: new ort.Tensor('float32', new Float32Array(n).fill(1), [n]) });
    const y = r['y']!.data as Float32Array;
    expect(y[0]).toBe(-2);
    expect(y[n - 1]).toBe(w[n - 1]! + 1);
    await s.release();
  });

  test('refuses a tensor whose data does not match its dims', () => {
    expect(() =>
      encodeOnnxModel({
        graph: { name: 'g', nodes: [], initializers: [{ name: 't', dataType: 'float', dims: [2, 2], data: [1, 2, 3] }], inputs: [], outputs: [] },
      }),
    ).toThrow(/tensor 't' has 3 values for dims \[2, 2\]/);
  });
});
