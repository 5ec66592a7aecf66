// Every ONNX file of the repository: decode → encode → decode is lossless, and the generated
// decoder reads exactly what protobufjs (an independent implementation, reflecting over the
// same onnx.proto at test time) reads.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import protobuf from 'protobufjs';
import { decodeModelProto, encodeModelProto } from '../src/index.js';
import { onnxFiles, PROTO_FILE, protoDiff } from './helpers.js';

const files = onnxFiles();

describe('real models round-trip', () => {
  test('the repository has ONNX files under test/fixtures and examples', () => {
    expect(files.filter(([f]) => f.startsWith('fixtures/')).length).toBeGreaterThan(50);
    expect(files.filter(([f]) => f.startsWith('examples/')).length).toBeGreaterThanOrEqual(2);
  });

  test.each(files)('%s', (_, bytes) => {
    const src = bytes();
    const m1 = decodeModelProto(src);
    expect(m1.graph).toBeDefined();
    const b1 = encodeModelProto(m1);
    const m2 = decodeModelProto(b1);
    expect(protoDiff(m2, m1)).toBeUndefined();
    expect(Buffer.from(encodeModelProto(m2)).equals(Buffer.from(b1))).toBe(true);
    // Raw tensor bytes are views of the input, not copies.
    for (const t of m1.graph!.initializer ?? []) if (t.raw_data) expect(t.raw_data.buffer).toBe(src.buffer);
  });
});

// ---- the reference: protobufjs messages as plain objects in the same conventions ----

const root = protobuf.parse(readFileSync(PROTO_FILE, 'utf8'), { keepCase: true }).root;
root.resolveAll();
const LONG = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

function plain(type: protobuf.Type, msg: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    if (!Object.hasOwn(msg, field.name)) continue;
    const v = msg[field.name];
    if (v === undefined || v === null) continue;
    const rt = field.resolvedType;
    const one = (x: unknown): unknown => {
      if (rt instanceof protobuf.Type) return plain(rt, x as Record<string, unknown>);
      if (LONG.has(field.type)) {
        const l = x as { low: number; high: number };
        const u = (BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0);
        return field.type === 'uint64' || field.type === 'fixed64' ? u : BigInt.asIntN(64, u);
      }
      return x;
    };
    if (field.repeated) {
      const a = v as unknown[];
      if (a.length > 0) out[field.name] = a.map(one);
    } else out[field.name] = one(v);
  }
  return out;
}

describe('the generated decoder agrees with protobufjs', () => {
  const ModelProto = root.lookupType('onnx.ModelProto');
  test.each(files)('%s', (_, bytes) => {
    const src = bytes();
    const reference = plain(ModelProto, ModelProto.decode(src) as unknown as Record<string, unknown>);
    expect(protoDiff(decodeModelProto(src), reference)).toBeUndefined();
    // And protobufjs reads our encoding back to the same model.
    const again = plain(ModelProto, ModelProto.decode(encodeModelProto(decodeModelProto(src))) as unknown as Record<string, unknown>);
    expect(protoDiff(again, reference)).toBeUndefined();
  });
});
