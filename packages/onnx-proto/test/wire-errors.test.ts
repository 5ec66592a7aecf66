// Malformed bytes: every failure is an OnnxWireError that says where and why; unknown
// fields of every wire type are skipped; nesting stops at 100 messages.
import { describe, expect, test } from 'vitest';
import { decodeModelProto, decodeTypeProto, encodeModelProto, MAX_DEPTH, OnnxWireError, Writer } from '../src/index.js';
import { fixtureBytes } from '../../fixtures/src/fixtures.js';

function thrown(f: () => unknown): OnnxWireError {
  try {
    f();
  } catch (e) {
    if (e instanceof OnnxWireError) return e;
    throw new Error(`expected an OnnxWireError, got ${String(e)}`);
  }
  throw new Error('expected an OnnxWireError, nothing was thrown');
}

/** A TypeProto nested `levels` messages below the top: sequence_type.elem_type, repeatedly. */
function nestedTypes(levels: number): Uint8Array {
  let inner: Uint8Array = Uint8Array.of(0x32, 1, 0x78); // denotation = 'x'
  for (let k = 0; k < levels; k += 2) {
    const seq = new Writer();
    seq.tag(1, 2); // Sequence.elem_type
    seq.bytes(inner);
    const tp = new Writer();
    tp.tag(4, 2); // TypeProto.sequence_type
    tp.bytes(seq.finish());
    inner = tp.finish().slice();
  }
  return inner;
}

describe('truncation', () => {
  test.each(['pytorch-1.13-small/co2_relu.train.onnx', 'onnx-dropout-conformance/test_training_dropout_mask/model.onnx'])(
    'every prefix of %s decodes or throws OnnxWireError',
    (rel) => {
      const bytes = fixtureBytes(rel);
      let decoded = 0;
      let failed = 0;
      const wrong: string[] = [];
      for (let n = 0; n < bytes.length; n++) {
        try {
          decodeModelProto(bytes.subarray(0, n));
          decoded++;
        } catch (e) {
          if (!(e instanceof OnnxWireError)) wrong.push(`prefix ${n}: ${String(e)}`);
          else if (!(e.offset! >= 0 && e.offset! <= n)) wrong.push(`prefix ${n}: offset ${e.offset} outside the input`);
          failed++;
        }
      }
      expect(wrong).toEqual([]);
      // Cuts inside a field fail; cuts between top-level fields decode.
      expect(failed).toBeGreaterThan(bytes.length / 2);
      expect(decoded).toBeGreaterThan(0);
    },
  );

  test('a length beyond the buffer', () => {
    const e = thrown(() => decodeModelProto(Uint8Array.of(0x3a, 0x80, 0x80, 0x80, 0x80, 0x08, 1, 2, 3)));
    expect(e.message).toBe(
      'at byte 1: a field declares 2147483648 bytes but its message ends at byte 9 (3 left); the data is truncated or is not this message',
    );
    expect(e.offset).toBe(1);
  });

  test('a length beyond the enclosing message (inside the buffer)', () => {
    // graph (7) of 2 bytes holding name (2) that declares 5 bytes; 5 more bytes follow the graph.
    expect(thrown(() => decodeModelProto(Uint8Array.of(0x3a, 2, 0x12, 5, 1, 2, 3, 4, 5))).message).toMatch(
      /^at byte 3: a field declares 5 bytes but its message ends at byte 4/,
    );
  });

  test('a truncated varint, and one longer than 10 bytes', () => {
    expect(thrown(() => decodeModelProto(Uint8Array.of(0x08, 0x80, 0x80))).message).toBe('at byte 1: truncated varint');
    expect(thrown(() => decodeModelProto(Uint8Array.of(0x08, ...Array(10).fill(0x80), 1))).message).toBe('at byte 1: varint longer than 10 bytes');
  });

  test('a packed field that ends inside an element', () => {
    // TensorProto.float_data packed, 6 bytes: one float and a half.
    expect(thrown(() => decodeModelProto(Uint8Array.of(0x3a, 10, 0x2a, 8, 0x22, 6, 0, 0, 0x80, 0x3f, 0, 0))).message).toBe(
      'at byte 6: a packed field of 4-byte values has 6 bytes',
    );
    // TensorProto.int64_data packed, 2 bytes: a varint that runs past the field.
    expect(thrown(() => decodeModelProto(Uint8Array.of(0x3a, 6, 0x2a, 4, 0x3a, 2, 1, 0x80))).message).toBe('at byte 7: truncated varint');
  });

  test('a fixed32 cut by the end of its message', () => {
    // TensorProto (3 bytes) holding float_data unpacked: a tag and 2 of its 4 bytes.
    expect(thrown(() => decodeModelProto(Uint8Array.of(0x3a, 5, 0x2a, 3, 0x25, 0, 0, 0, 0))).message).toBe(
      'at byte 5: a 4-byte value runs past the end of its message (byte 7)',
    );
  });
});

describe('wire types', () => {
  test('a known field with the wrong wire type', () => {
    expect(thrown(() => decodeModelProto(Uint8Array.of(0x38, 1))).message).toBe('at byte 1: ModelProto.graph expects wire type length-delimited, got varint');
    expect(thrown(() => decodeModelProto(Uint8Array.of(0x0d, 1, 2, 3, 4))).message).toBe(
      'at byte 1: ModelProto.ir_version expects wire type varint, got 32-bit',
    );
  });

  test('invalid wire types 6 and 7, field number 0, an end group without its start', () => {
    // Field 10 is not a ModelProto field.
    expect(thrown(() => decodeModelProto(Uint8Array.of((10 << 3) | 6, 0x01))).message).toBe('at byte 1: invalid wire type 6 (field 10)');
    expect(thrown(() => decodeModelProto(Uint8Array.of((10 << 3) | 7, 0x01))).message).toBe('at byte 1: invalid wire type 7 (field 10)');
    expect(thrown(() => decodeModelProto(Uint8Array.of(0x00, 0x01))).message).toBe('at byte 1: invalid field number 0');
    expect(thrown(() => decodeModelProto(Uint8Array.of((10 << 3) | 4))).message).toBe('at byte 1: end of group 10 without its start');
  });

  test('unknown fields of every wire type are skipped, groups included', () => {
    const w = new Writer();
    w.tag(100, 0);
    w.int64(-1n);
    w.tag(101, 1);
    w.double(1);
    w.tag(102, 2);
    w.bytes(Uint8Array.of(1, 2, 3));
    w.tag(103, 5);
    w.float(1);
    w.tag(104, 3); // a group holding a varint and a nested group
    w.tag(1, 0);
    w.uint32(5);
    w.tag(2, 3);
    w.tag(2, 4);
    w.tag(104, 4);
    w.tag(2, 2);
    w.string('mcu');
    expect(decodeModelProto(w.finish())).toEqual({ producer_name: 'mcu' });
  });

  test('a group closed by another group number', () => {
    expect(thrown(() => decodeModelProto(Uint8Array.of((10 << 3) | 3, (11 << 3) | 4))).message).toBe('at byte 2: group 10 ends with the end of group 11');
  });
});

describe('depth', () => {
  test(`messages nested ${MAX_DEPTH} deep decode; ${MAX_DEPTH + 2} do not`, () => {
    let t = decodeTypeProto(nestedTypes(MAX_DEPTH));
    for (let k = 0; k < MAX_DEPTH / 2; k++) t = t.sequence_type!.elem_type!;
    expect(t).toEqual({ denotation: 'x' });
    expect(thrown(() => decodeTypeProto(nestedTypes(MAX_DEPTH + 2))).message).toMatch(/messages nested more than 100 deep/);
  });

  test('graphs in attributes 180 levels deep', () => {
    let inner = new Uint8Array();
    const wrap = (tag: number, body: Uint8Array) => {
      const w = new Writer();
      w.uint32(tag);
      w.bytes(body);
      return w.finish().slice();
    };
    for (let i = 0; i < 60; i++) inner = wrap(0x0a, wrap(0x2a, wrap(0x32, inner)));
    expect(thrown(() => decodeModelProto(wrap(0x3a, inner))).message).toMatch(/nested more than 100 deep/);
  });

  test('encode refuses the same depth', () => {
    let g: Record<string, unknown> = { name: 'leaf' };
    for (let i = 0; i < 40; i++) g = { node: [{ attribute: [{ g }] }] };
    expect(() => encodeModelProto({ graph: g })).toThrow(/nested more than 100 deep/);
  });
});

test('not bytes', () => {
  expect(thrown(() => decodeModelProto('model.onnx' as unknown as Uint8Array)).message).toBe('expected bytes (Uint8Array), got string');
});
