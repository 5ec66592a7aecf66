// Every field of every message survives encode → decode, packed or not; the check
// functions keep what is valid and name what is not.
import { describe, expect, test } from 'vitest';
import {
  checkers,
  checkModelProto,
  decoders,
  decodeTensorProto,
  encoders,
  encodeModelProto,
  OnnxWireError,
  TensorProto_DataType,
  Writer,
} from '../src/index.js';
import { INT64_MAX, INT64_MIN, protoDiff, sample, schema, UINT64_MAX } from './helpers.js';

type Codec = (m: unknown) => Uint8Array;
type Decoder = (b: Uint8Array) => unknown;
type Checker = (v: unknown, path?: string) => unknown;

describe('every field of every message round-trips', () => {
  test('the generated tables cover every message of onnx.proto', () => {
    const names = schema.messages.map((m) => m.tsName).sort();
    expect(Object.keys(decoders).sort()).toEqual(names);
    expect(Object.keys(encoders).sort()).toEqual(names);
    expect(Object.keys(checkers).sort()).toEqual(names);
    expect(names.length).toBeGreaterThanOrEqual(28);
  });

  test.each(schema.messages.map((m) => [m.fullName, m] as const))('%s', (_, def) => {
    const value = sample(def);
    // Every field of the message is set (one member per oneof).
    const oneofs = new Set(def.fields.filter((f) => f.oneof).map((f) => f.oneof));
    expect(Object.keys(value).length).toBe(def.fields.filter((f) => !f.oneof).length + oneofs.size);
    const encode = (encoders as unknown as Record<string, Codec>)[def.tsName]!;
    const decode = (decoders as unknown as Record<string, Decoder>)[def.tsName]!;
    const check = (checkers as unknown as Record<string, Checker>)[def.tsName]!;
    const bytes = encode(value);
    const back = decode(bytes);
    expect(protoDiff(back, value)).toBeUndefined();
    // Deterministic, and a fixed point.
    expect(Buffer.from(encode(back)).equals(Buffer.from(bytes))).toBe(true);
    // A valid value passes its check unchanged.
    expect(protoDiff(check(value), value)).toBeUndefined();
  });

  test('the other member of a oneof: the last one on the wire wins', () => {
    const a = encoders.TensorShapeProto_Dimension({ dim_value: 4n });
    const b = encoders.TensorShapeProto_Dimension({ dim_param: 'N' });
    const both = new Uint8Array([...a, ...b]);
    expect(decoders.TensorShapeProto_Dimension(both)).toEqual({ dim_param: 'N' });
    expect(decoders.TensorShapeProto_Dimension(new Uint8Array([...b, ...a]))).toEqual({ dim_value: 4n });
  });
});

describe('repeated scalars: packed and unpacked are both accepted', () => {
  test('TensorProto.dims packed (the schema says unpacked) and float_data unpacked (the schema says packed)', () => {
    const w = new Writer();
    w.tag(1, 2); // dims, packed
    w.fork();
    for (const d of [2n, INT64_MAX, -1n]) w.int64(d);
    w.ldelim();
    for (const f of [0.5, -2]) {
      w.tag(4, 5); // float_data, one element per field
      w.float(f);
    }
    w.tag(4, 2); // and a packed run after it: appended
    w.uint32(4);
    w.float(8);
    w.tag(11, 0); // uint64_data unpacked
    w.uint64(UINT64_MAX);
    const t = decodeTensorProto(w.finish());
    expect(t).toEqual({ dims: [2n, INT64_MAX, -1n], float_data: [0.5, -2, 8], uint64_data: [UINT64_MAX] });
  });

  test('an empty packed field leaves the field absent', () => {
    expect(decodeTensorProto(Uint8Array.of(0x22, 0x00))).toEqual({});
  });
});

describe('int64 extremes', () => {
  test('INT64_MIN, INT64_MAX and UINT64_MAX survive in every 64-bit field kind', () => {
    const t = {
      dims: [INT64_MIN, INT64_MAX, 0n, -1n, 1n << 53n, (1n << 53n) + 1n],
      int64_data: [INT64_MIN, INT64_MAX],
      uint64_data: [UINT64_MAX, 1n << 63n, 0n],
      segment: { begin: INT64_MIN, end: INT64_MAX },
      data_type: TensorProto_DataType.INT64,
    };
    expect(decodeTensorProto(encoders.TensorProto(t))).toEqual(t);
  });

  test('-1 as int64 is the 10-byte varint, as other encoders write it', () => {
    expect(Array.from(encoders.OperatorSetIdProto({ version: -1n }))).toEqual([0x10, ...Array(9).fill(0xff), 0x01]);
  });

  test('numbers are accepted for int64 on encode and come back as bigint', () => {
    expect(decoders.OperatorSetIdProto(encoders.OperatorSetIdProto({ version: 13 as unknown as bigint }))).toEqual({ version: 13n });
  });

  test('out of range or unsafe values are refused, naming the field', () => {
    const bad = (v: unknown) => () => encoders.OperatorSetIdProto({ version: v as bigint }, 'opset[0]');
    expect(bad(1n << 63n)).toThrow(/opset\[0\]\.version must be a 64-bit integer, got 9223372036854775808n/);
    expect(bad(2 ** 60)).toThrow(/opset\[0\]\.version must be a 64-bit integer \(bigint or safe-integer number\), got 1152921504606847000/);
    expect(() => encoders.TensorProto({ uint64_data: [1n, -1n] })).toThrow(/TensorProto\.uint64_data\[1\] must be an unsigned 64-bit integer, got -1n/);
  });
});

describe('check (sanitize) of hand-built values', () => {
  test('unknown keys are dropped, int64 numbers become bigint, bytes and numeric arrays are shared', () => {
    const raw = Uint8Array.of(1, 2, 3, 4);
    const floats = [1, 2, 3];
    const m = checkModelProto({
      ir_version: 8,
      extra: 'dropped',
      graph: { node: [{ op_type: 'Relu', bogus: 1 }], initializer: [{ dims: [1, 4n], raw_data: raw, float_data: floats }], input: [] },
    });
    expect(m).toEqual({ ir_version: 8n, graph: { node: [{ op_type: 'Relu' }], initializer: [{ dims: [1n, 4n], raw_data: raw, float_data: floats }] } });
    expect(m.graph!.initializer![0]!.raw_data).toBe(raw);
    expect(m.graph!.initializer![0]!.float_data).toBe(floats);
  });

  const BAD: [unknown, RegExp][] = [
    [{ ir_version: 1.5 }, /^model\.ir_version must be a 64-bit integer \(bigint\), got 1\.5$/],
    [{ graph: { node: [{}, { input: ['x', 3] }] } }, /^model\.graph\.node\[1\]\.input\[1\] must be a string, got 3$/],
    [{ graph: { node: 'Relu' } }, /^model\.graph\.node must be an array, got "Relu"$/],
    [{ graph: [] }, /^model\.graph must be a GraphProto object, got an array$/],
    [{ graph: { initializer: [{ data_type: 'FLOAT' }] } }, /^model\.graph\.initializer\[0\]\.data_type must be an integer, got "FLOAT"$/],
    [{ graph: { initializer: [{ raw_data: [1, 2] }] } }, /^model\.graph\.initializer\[0\]\.raw_data must be a Uint8Array, got an array$/],
    [{ graph: { node: [{ attribute: [{ type: 1.5 }] }] } }, /^model\.graph\.node\[0\]\.attribute\[0\]\.type must be an enum number, got 1\.5$/],
    [{ graph: { initializer: [{ float_data: [1, '2'] }] } }, /^model\.graph\.initializer\[0\]\.float_data\[1\] must be a number, got "2"$/],
    [{ opset_import: [{ version: 1n << 64n }] }, /^model\.opset_import\[0\]\.version must be a 64-bit integer, got 18446744073709551616n$/],
  ];
  // Named by the path the message names ('model.graph.node[1].input[1]').
  test.each(BAD.map(([v, m]) => [m.source.split(' must')[0]!.slice(1).replace(/\\/g, ''), v, m] as const))('%s', (_, value, message) => {
    let err: unknown;
    try {
      checkModelProto(value, 'model');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OnnxWireError);
    expect((err as Error).message).toMatch(message);
  });

  test('a cycle stops at the depth limit with an OnnxWireError', () => {
    const g: Record<string, unknown> = { name: 'g' };
    g.node = [{ attribute: [{ g }] }];
    expect(() => checkModelProto({ graph: g })).toThrow(OnnxWireError);
    expect(() => encodeModelProto({ graph: g })).toThrow(/nested more than 100 deep/);
  });
});
