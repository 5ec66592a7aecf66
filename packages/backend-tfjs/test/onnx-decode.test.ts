// The tfjs backend's own ONNX decoder (src/onnx/decode.ts): the repo's PyTorch exports decoded
// field by field, hand-encoded tensors of every storage form, external data, and broken files.
import { describe, expect, it } from 'vitest';
import { isMcuError } from '@mcu/core';
import { fixtureBytes } from '@mcu/fixtures';
import { decodeModel, DataType } from '../src/onnx/decode.js';
import { model, tensor, type TensorSpec } from './onnx-encode.js';

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isMcuError(e) ? e.code : `not an McuError: ${String(e)}`;
  }
  return undefined;
}

/** A one-initializer model whose graph passes it through Identity. */
function withTensor(t: TensorSpec): Uint8Array {
  return model({
    nodes: [{ op: 'Identity', inputs: [t.name], outputs: ['y'] }],
    inputs: [],
    outputs: [{ name: 'y', dims: t.dims }],
    initializers: [t],
  });
}

describe('decodeModel on the PyTorch exports', () => {
  it('reads co2_relu (1.13-small): header, opset, nodes, attributes, value infos, initializers', () => {
    const m = decodeModel(fixtureBytes('pytorch-1.13-small/co2_relu.preserve.onnx'));
    expect(m.irVersion).toBe(7);
    expect(m.opsetImport).toEqual([{ domain: '', version: 13 }]);
    expect(m.producerName).toBe('pytorch');
    const ops = m.graph.nodes.map((n) => n.opType);
    expect(ops.filter((o) => o === 'Gemm')).toHaveLength(5);
    expect(ops.filter((o) => o === 'Dropout')).toHaveLength(4);
    expect(m.graph.inputs.find((i) => i.name === 'x')).toEqual({ name: 'x', elemType: DataType.FLOAT, dims: ['batch', 1] });
    expect(m.graph.outputs).toEqual([{ name: 'y', elemType: DataType.FLOAT, dims: ['batch', 1] }]);
    const gemm = m.graph.nodes[0]!;
    expect(gemm.inputs).toEqual(['x', '0.weight', '0.bias']);
    expect(gemm.attributes.find((a) => a.name === 'transB')).toMatchObject({ type: 2, i: 1 });
    expect(gemm.attributes.find((a) => a.name === 'alpha')).toMatchObject({ type: 1, f: 1 });
    const w = m.graph.initializers.find((t) => t.name === '0.weight')!;
    expect(w.dims).toEqual([128, 1]);
    expect(w.data).toBeInstanceOf(Float32Array);
    expect(w.data.length).toBe(128);
    // the Dropout ratio Constant: a 0-d float tensor attribute; training_mode: a bool
    const ratio = m.graph.nodes.find((n) => n.opType === 'Constant')!.attributes[0]!;
    expect(ratio.t!.dims).toEqual([]);
    expect(ratio.t!.data[0]).toBeCloseTo(0.1, 7);
    const train = m.graph.nodes.filter((n) => n.opType === 'Constant')[1]!.attributes[0]!;
    expect(train.t!.dataType).toBe(DataType.BOOL);
    expect(Array.from(train.t!.data)).toEqual([1]);
  });

  it('reads LeNet: Conv / MaxPool int lists and the 800 → 500 weight', () => {
    const m = decodeModel(fixtureBytes('pytorch-1.13/lenet.preserve.onnx'));
    const conv = m.graph.nodes[0]!;
    expect(conv.opType).toBe('Conv');
    expect(conv.attributes.find((a) => a.name === 'kernel_shape')).toMatchObject({ type: 7, ints: [5, 5] });
    expect(conv.attributes.find((a) => a.name === 'pads')?.ints).toEqual([0, 0, 0, 0]);
    expect(m.graph.initializers.find((t) => t.name === 'f1.weight')!.dims).toEqual([500, 800]);
    expect(m.graph.inputs[0]).toEqual({ name: 'image', elemType: 1, dims: ['batch', 1, 28, 28] });
  });

  it('reads a legacy opset-6 export (ratio and is_test attributes)', () => {
    const m = decodeModel(fixtureBytes('pytorch-1.13/co2_relu.opset6.onnx'));
    expect(m.opsetImport[0]!.version).toBe(6);
    const d = m.graph.nodes.find((n) => n.opType === 'Dropout')!;
    expect(d.attributes.find((a) => a.name === 'ratio')!.f).toBeCloseTo(0.1, 7);
    expect(d.attributes.find((a) => a.name === 'is_test')!.i).toBe(0);
  });
});

describe('decodeModel: tensor storage forms', () => {
  const decodeOne = (t: TensorSpec, readExternal?: (l: string, o: number, n: number | undefined) => Uint8Array) =>
    decodeModel(withTensor(t), { label: 'hand', ...(readExternal ? { readExternal } : {}) }).graph.initializers[0]!;

  it('float_data, double_data (→ float32), int32_data, int64_data with negatives and INT64_MAX', () => {
    expect(Array.from(decodeOne({ name: 'a', dims: [3], type: 1, floats: [1.5, -2, 3.25] }).data)).toEqual([1.5, -2, 3.25]);
    const d = decodeOne({ name: 'a', dims: [2], type: DataType.DOUBLE, doubles: [0.1, -1e300] });
    expect(d.data).toBeInstanceOf(Float32Array);
    expect(d.data[0]).toBe(Math.fround(0.1));
    expect(d.data[1]).toBe(-Infinity);
    expect(Array.from(decodeOne({ name: 'a', dims: [3], type: DataType.INT8, int32s: [-128, 0, 127] }).data)).toEqual([-128, 0, 127]);
    const i64 = decodeOne({ name: 'a', dims: [4], type: DataType.INT64, int64s: [-1, 0, 2 ** 40, 9223372036854775807n] });
    expect(i64.data).toBeInstanceOf(Float64Array);
    expect(Array.from(i64.data)).toEqual([-1, 0, 2 ** 40, 2 ** 63]); // INT64_MAX rounds to 2⁶³ in a float64
  });

  it('raw_data of FLOAT, INT64, INT32, BOOL, UINT8 and FLOAT16', () => {
    const raw = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    expect(Array.from(decodeOne({ name: 'a', dims: [2, 2], type: 1, raw: raw(Float32Array.of(1, 2, 3, -4)) }).data)).toEqual([1, 2, 3, -4]);
    expect(Array.from(decodeOne({ name: 'a', dims: [3], type: 7, raw: raw(BigInt64Array.of(-5n, 7n, -(2n ** 33n))) }).data)).toEqual([-5, 7, -(2 ** 33)]);
    expect(Array.from(decodeOne({ name: 'a', dims: [2], type: 6, raw: raw(Int32Array.of(-7, 9)) }).data)).toEqual([-7, 9]);
    expect(Array.from(decodeOne({ name: 'a', dims: [3], type: 9, raw: Uint8Array.of(1, 0, 1) }).data)).toEqual([1, 0, 1]);
    expect(Array.from(decodeOne({ name: 'a', dims: [2], type: 2, raw: Uint8Array.of(255, 3) }).data)).toEqual([255, 3]);
    // float16: 1.0 = 0x3c00, −2.5 = 0xc100, 2^-24 (smallest subnormal) = 0x0001
    expect(Array.from(decodeOne({ name: 'a', dims: [3], type: 10, raw: raw(Uint16Array.of(0x3c00, 0xc100, 0x0001)) }).data)).toEqual([1, -2.5, 2 ** -24]);
  });

  it('external data goes through readExternal (location, offset, length); without it: E_UNSUPPORTED naming the fix', () => {
    const file = new Uint8Array(64);
    new Float32Array(file.buffer, 16, 3).set([7, 8, 9]);
    const calls: unknown[] = [];
    const t = decodeOne({ name: 'w', dims: [3], type: 1, external: { location: 'w.bin', offset: 16, length: 12 } }, (l, o, n) => {
      calls.push([l, o, n]);
      return file.subarray(o, o + (n ?? file.length - o));
    });
    expect(Array.from(t.data)).toEqual([7, 8, 9]);
    expect(calls).toEqual([['w.bin', 16, 12]]);
    let msg = '';
    try {
      decodeOne({ name: 'w', dims: [3], type: 1, external: { location: 'w.bin' } });
    } catch (e) {
      msg = (e as Error).message;
      expect(isMcuError(e) && e.code).toBe('E_UNSUPPORTED');
    }
    expect(msg).toMatch(/external file 'w\.bin'.*readExternal/);
  });

  it('a raw_data size that does not match the dims, and string tensors, are refused', () => {
    expect(code(() => decodeOne({ name: 'a', dims: [3], type: 1, raw: new Uint8Array(8) }))).toBe('E_MODEL');
    expect(code(() => decodeOne({ name: 'a', dims: [1], type: DataType.STRING }))).toBe('E_UNSUPPORTED');
  });

  it('the tensor encoder and decoder agree on a value-info with symbolic and fixed dims', () => {
    const bytes = model({ nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }], inputs: [{ name: 'x', dims: ['N', 3, 4] }], outputs: [{ name: 'y' }] });
    const m = decodeModel(bytes);
    expect(m.graph.inputs[0]!.dims).toEqual(['N', 3, 4]);
    expect(m.graph.outputs[0]!.dims).toBeUndefined();
    expect(tensor({ name: 't', dims: [1], type: 1, floats: [1] }).length).toBeGreaterThan(0);
  });

  it('decodes subgraph attributes and string lists', () => {
    const body = { nodes: [{ op: 'Relu', inputs: ['a'], outputs: ['b'] }], inputs: [{ name: 'a', dims: [1] }], outputs: [{ name: 'b', dims: [1] }] };
    const bytes = model({
      nodes: [{ op: 'If', inputs: ['c'], outputs: ['y'], attrs: { then_branch: { graph: body }, names: { strings: ['p', 'q'] } } }],
      inputs: [{ name: 'c', type: 9, dims: [] }],
      outputs: [{ name: 'y' }],
    });
    const n = decodeModel(bytes).graph.nodes[0]!;
    expect(n.attributes[0]!.g!.nodes[0]!.opType).toBe('Relu');
    expect(n.attributes[1]!.strings).toEqual(['p', 'q']);
  });
});

describe('decodeModel: broken files are E_MODEL', () => {
  const good = fixtureBytes('pytorch-1.13-small/co2_relu.preserve.onnx');
  it.each([
    ['truncated to half', good.subarray(0, good.length >> 1)],
    ['truncated by one byte', good.subarray(0, good.length - 1)],
    ['empty', new Uint8Array(0)],
    ['text', new TextEncoder().encode('this is not an onnx model\n')],
    ['random bytes', Uint8Array.from({ length: 256 }, (_, i) => (i * 97 + 13) & 0xff)],
    ['a JSON file', new TextEncoder().encode('{"format": "layers-model"}')],
  ])('%s', (_what, bytes) => {
    expect(code(() => decodeModel(bytes, { label: 'broken.onnx' }))).toBe('E_MODEL');
  });
});
