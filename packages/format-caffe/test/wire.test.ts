import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { thrown } from './helpers.js';
import { parseText } from '../src/text.js';
import type { Message } from '../src/types.js';
import { checkDropoutField2, decodeBinary, dropoutField2 } from '../src/wire.js';

const data = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`./data/${name}`, import.meta.url)));
const text = (name: string): string => readFileSync(new URL(`./data/${name}`, import.meta.url), 'utf8');
const decode = (bytes: Uint8Array | number[], msg = 'NetParameter'): ReturnType<typeof decodeBinary> =>
  decodeBinary(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes), msg, 'm.caffemodel');

/** Plain data for comparing text and binary decodes: typed arrays as arrays, numbers as float32 (singular floats differ by design). */
function plain(v: unknown): unknown {
  if (v instanceof Float32Array || v instanceof Float64Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'number') return Math.fround(v);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

// --- a small hand encoder -----------------------------------------------------------------------
const varint = (n: number | bigint): number[] => {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    let b = Number(v & 127n);
    v >>= 7n;
    if (v !== 0n) b |= 128;
    out.push(b);
  } while (v !== 0n);
  return out;
};
const tag = (no: number, wt: number): number[] => varint(no * 8 + wt);
const ld = (no: number, payload: number[]): number[] => [...tag(no, 2), ...varint(payload.length), ...payload];
const str = (no: number, s: string): number[] => ld(no, [...new TextEncoder().encode(s)]);
const f32 = (v: number): number[] => [...new Uint8Array(new Float32Array([v]).buffer)];
const f64 = (v: number): number[] => [...new Uint8Array(new Float64Array([v]).buffer)];

describe('decodeBinary: files made by protoc --encode', () => {
  it('decodes a current-format net with BlobShape blobs exactly as the text it came from', () => {
    const bin = decode(data('tiny.caffemodel'));
    const txt = parseText(text('tiny_trained.prototxt'), 'NetParameter', 't');
    expect(bin.warnings).toEqual([]);
    expect(plain(bin.message)).toEqual(plain(txt.message));
    const ip1 = (bin.message.layer as Message[])[1];
    const [w, b] = ip1.blobs as Message[];
    expect(w.data).toBeInstanceOf(Float32Array);
    expect(Array.from(w.data as Float32Array)).toEqual([0.5, -1, 2, 0.25, 3, -0.125]);
    expect((w.shape as Message).dim).toEqual([2, 3]);
    expect(Array.from(b.data as Float32Array)).toEqual([Math.fround(0.1), Math.fround(-0.2)]);
  });

  it('decodes a V1 net with legacy 4-D blob dims and enum types', () => {
    const bin = decode(data('v1.caffemodel'));
    const txt = parseText(text('v1.prototxt'), 'NetParameter', 't');
    expect(plain(bin.message)).toEqual(plain(txt.message));
    const conv = (bin.message.layers as Message[])[0];
    expect(conv.type).toBe('CONVOLUTION');
    expect((conv.blobs as Message[])[0]).toMatchObject({ num: 1, channels: 1, height: 2, width: 2 });
    expect(bin.message.input_dim).toEqual([1, 1, 3, 3]);
    expect(((bin.message.layers as Message[])[2].dropout_param as Message).dropout_ratio).toBe(Math.fround(0.4));
  });

  it('decodes double_data into a Float64Array', () => {
    const bin = decode(data('double.caffemodel'));
    const blob = ((bin.message.layer as Message[])[0].blobs as Message[])[0];
    expect(blob.double_data).toEqual(new Float64Array([0.1, 1e300]));
    expect(blob.data).toBeUndefined();
  });

  it('skips unknown fields of every wire type (groups too), one warning per field path, and reads unpacked floats', () => {
    const bin = decode(data('fork_true.caffemodel'));
    expect(bin.warnings).toEqual([
      'm.caffemodel: unknown field 77 of NetParameter (in NetParameter) (wire type 0, varint) skipped',
      'm.caffemodel: unknown field 20 of BlobProto (in NetParameter.layer.blobs) (wire type 2, length-delimited) skipped',
      'm.caffemodel: unknown field 120 of LayerParameter (in NetParameter.layer) (wire type 2, length-delimited) skipped',
      'm.caffemodel: unknown field 150 of LayerParameter (in NetParameter.layer) (wire type 3, start-group) skipped',
      'm.caffemodel: unknown field 151 of LayerParameter (in NetParameter.layer) (wire type 5, fixed32) skipped',
      'm.caffemodel: unknown field 9 of DropoutParameter (in NetParameter.layer.dropout_param) (wire type 0, varint) skipped',
      "m.caffemodel: Dropout layer 'drop1' has fork field 2 of dropout_param = true (Gal's sample_weights_test or another fork's scale_train; harmless for mcu either way), ignored",
    ]);
    const [ip1, drop1] = bin.message.layer as Message[];
    expect(ip1).toEqual({
      name: 'ip1',
      type: 'InnerProduct',
      bottom: ['data'],
      top: ['ip1'],
      blobs: [
        { shape: { dim: [2, 2] }, data: new Float32Array([1, 2, 3, 4]) },
        { shape: { dim: [2] }, data: new Float32Array([-1, 1]) },
      ],
    });
    expect(drop1.dropout_param).toEqual({ dropout_ratio: 0.5 });
    expect(dropoutField2(drop1.dropout_param as Message)).toBe(1);
  });

  it('counts repeated occurrences of one unknown field in one warning', () => {
    const layer = [...str(1, 'a'), ...tag(120, 0), 1];
    const bytes = [...ld(100, layer), ...ld(100, layer), ...ld(100, layer)];
    expect(decode(bytes).warnings).toEqual([
      'm.caffemodel: unknown field 120 of LayerParameter (in NetParameter.layer) (wire type 0, varint) skipped, 3 times',
    ]);
  });

  it('refuses DropoutParameter field 2 = 0 (ambiguous) unless the check is deferred', () => {
    const bytes = data('fork_false.caffemodel');
    expect(thrown(() => decode(bytes))).toMatchObject({
      code: 'E_UNSUPPORTED',
      message:
        "m.caffemodel: Dropout layer 'drop1' has fork field 2 of dropout_param = false, which is ambiguous in a caffemodel: Gal's fork means sample_weights_test: false (ordinary inverted dropout), other forks mean scale_train: false (masks not rescaled by 1/(1-p)); give the prototxt too, whose field names tell which",
    });
    const deferred = decodeBinary(bytes, 'NetParameter', 'm.caffemodel', { deferDropoutCheck: true });
    expect(deferred.warnings).toEqual([]);
    const dp = (deferred.message.layer as Message[])[0].dropout_param as Message;
    expect(dp).toEqual({ dropout_ratio: 0.5 });
    expect(dropoutField2(dp)).toBe(0);
    expect(thrown(() => checkDropoutField2(dp, 'm.caffemodel', 'drop1')).code).toBe('E_UNSUPPORTED');
    expect(checkDropoutField2({ dropout_ratio: 0.5 }, 'f', 'd')).toBeUndefined();
  });

  for (const [file, defer] of [
    ['tiny.caffemodel', false],
    ['v1.caffemodel', false],
    ['double.caffemodel', false],
    ['fork_true.caffemodel', false],
    ['fork_false.caffemodel', true],
  ] as const) {
    it(`every prefix of ${file} decodes (only at a top-level field boundary) or throws E_MODEL`, () => {
      const bytes = data(file);
      // Top-level field boundaries, found by an independent scan (these files use wire types 0 and 2 only at top level).
      const boundaries = new Set<number>([0]);
      for (let p = 0; p < bytes.length; ) {
        const readVarint = (): number => {
          let v = 0;
          let s = 0;
          for (;;) {
            if (p >= bytes.length) throw new Error('scan past the end');
            const b = bytes[p++];
            v += (b & 127) * 2 ** s;
            s += 7;
            if (b < 128) return v;
          }
        };
        const t = readVarint();
        const v = readVarint();
        if ((t & 7) === 2) p += v;
        boundaries.add(p);
      }
      let decodedPrefixes = 0;
      for (let n = 0; n < bytes.length; n++) {
        try {
          decodeBinary(bytes.subarray(0, n), 'NetParameter', file, { deferDropoutCheck: defer });
          expect(boundaries.has(n), `prefix ${n} decoded`).toBe(true);
          decodedPrefixes++;
        } catch (e) {
          expect((e as { code?: string }).code, `prefix ${n}: ${(e as Error).message}`).toBe('E_MODEL');
          expect((e as Error).message).toMatch(new RegExp(`^${file.replace('.', '\\.')}: (truncated|malformed) caffemodel: `));
        }
      }
      expect(decodedPrefixes).toBe(boundaries.size - 1);
    });
  }

  it('names the field, the message, the byte offset and the bytes missing when truncated', () => {
    const bytes = data('tiny.caffemodel');
    const e = thrown(() => decode(bytes.subarray(0, 20)));
    expect(e.message).toMatch(
      /^m\.caffemodel: truncated caffemodel: field \d+ \(\w+\) of \w+ at byte \d+ needs \d+ bytes, only \d+ remain; the file is cut short or corrupt \(copy it again\)$/,
    );
    expect(thrown(() => decode([...tag(100, 2), 10, ...str(1, 'ab')])).message).toBe(
      'm.caffemodel: truncated caffemodel: field 100 (layer) of NetParameter at byte 2 needs 11 bytes, only 5 remain; the file is cut short or corrupt (copy it again)',
    );
    expect(thrown(() => decode([...ld(100, [...tag(1, 2), 9, 97]), ...str(1, 'net name')])).message).toBe(
      'm.caffemodel: truncated caffemodel: field 1 (name) of LayerParameter at byte 4 needs 10 bytes, only 2 remain in the enclosing message; the file is cut short or corrupt (copy it again)',
    );
    expect(thrown(() => decode([...tag(4, 0), 0x80])).message).toBe(
      'm.caffemodel: truncated caffemodel: field 4 (input_dim) of NetParameter at byte 1 needs more bytes, only 1 remain; the file is cut short or corrupt (copy it again)',
    );
  });
});

describe('decodeBinary: wire details', () => {
  it('accepts packed and unpacked repeated scalars, mixed, in order', () => {
    const blob = [
      ...ld(5, [...f32(1), ...f32(2)]),
      ...tag(5, 5),
      ...f32(3),
      ...ld(5, [...f32(4)]),
      ...ld(7, [...ld(1, [...varint(2), ...varint(2)])]),
      ...tag(8, 1),
      ...f64(0.5),
      ...ld(8, [...f64(1.5)]),
    ];
    const m = decode(blob, 'BlobProto').message;
    expect(m.data).toEqual(new Float32Array([1, 2, 3, 4]));
    expect(m.double_data).toEqual(new Float64Array([0.5, 1.5]));
    expect((m.shape as Message).dim).toEqual([2, 2]);
    const net = decode([...tag(4, 0), 1, ...ld(4, [2, 3]), ...tag(4, 0), 4]).message;
    expect(net.input_dim).toEqual([1, 2, 3, 4]);
    const layer = decode([...ld(100, [...tag(11, 0), 1, ...ld(11, [0, 1])])]).message;
    expect((layer.layer as Message[])[0].propagate_down).toEqual([true, false, true]);
  });

  it('decodes int32 (10-byte negatives), uint32, int64, bool, enums, strings, and copies bytes', () => {
    const m = decode([...tag(4, 0), ...varint(-3), ...tag(5, 0), 2, ...ld(8, [...ld(1, [...varint(-5), ...varint(2 ** 40)])])]).message;
    expect(m.input_dim).toEqual([-3]);
    expect(m.force_backward).toBe(true);
    expect((m.input_shape as Message[])[0].dim).toEqual([-5, 2 ** 40]);
    const conv = decode([...tag(1, 0), ...varint(4294967295), ...tag(15, 0), 2], 'ConvolutionParameter').message;
    expect(conv).toEqual({ num_output: 4294967295, engine: 'CUDNN' });
    const layer = decode([...str(1, 'é'), ...tag(10, 0), 1], 'LayerParameter').message;
    expect(layer).toEqual({ name: 'é', phase: 'TEST' });
  });

  it('rejects an int64 beyond ±(2^53 − 1)', () => {
    expect(thrown(() => decode(ld(1, varint(2n ** 53n)), 'BlobShape')).message).toBe(
      'm.caffemodel: field 1 (dim) of BlobShape at byte 2 is an int64 beyond ±2^53 − 1, which mcu cannot represent exactly; the file is corrupt or not a caffemodel',
    );
    expect(decode(ld(1, varint(-(2n ** 53n - 1n))), 'BlobShape').message.dim).toEqual([-(2 ** 53 - 1)]);
  });

  it('drops an unknown enum number with a warning (proto2)', () => {
    const r = decode([...tag(1, 0), 9, ...tag(2, 0), 3], 'PoolingParameter');
    expect(r.message).toEqual({ kernel_size: 3 });
    expect(r.warnings).toEqual(['m.caffemodel: enum value 9 of PoolingParameter.pool (PoolingParameter.PoolMethod) not in the schema, field ignored']);
  });

  it('merges a singular message given twice and keeps the last singular scalar', () => {
    const m = decode([...ld(7, ld(1, [2])), ...ld(7, ld(1, [3])), ...tag(1, 0), 1, ...tag(1, 0), 6], 'BlobProto').message;
    expect(m).toEqual({ shape: { dim: [2, 3] }, num: 6 });
  });

  it('skips nested groups and refuses a stray or mismatched end-group', () => {
    const group = [
      ...tag(40, 3),
      ...tag(1, 0),
      5,
      ...tag(41, 3),
      ...tag(2, 1),
      ...f64(1),
      ...tag(41, 4),
      ...ld(3, [1, 2]),
      ...tag(4, 5),
      ...f32(1),
      ...tag(40, 4),
    ];
    const r = decode([...group, ...str(1, 'after')]);
    expect(r.message).toEqual({ name: 'after' });
    expect(r.warnings).toEqual(['m.caffemodel: unknown field 40 of NetParameter (in NetParameter) (wire type 3, start-group) skipped']);
    expect(thrown(() => decode([...tag(40, 4)])).message).toBe('m.caffemodel: malformed caffemodel: unexpected end of group 40 in NetParameter at byte 0');
    expect(thrown(() => decode([...tag(40, 3), ...tag(41, 4)])).message).toBe(
      'm.caffemodel: malformed caffemodel: unexpected end of group 41 in NetParameter at byte 2',
    );
    expect(thrown(() => decode([...tag(40, 3), ...tag(1, 0), 1])).code).toBe('E_MODEL');
  });

  it('refuses a known field with the wrong wire type, invalid wire types and field 0', () => {
    expect(thrown(() => decode([...tag(7, 0), 1], 'BlobProto')).message).toBe(
      'm.caffemodel: malformed caffemodel: field 7 (shape) of BlobProto at byte 0 has wire type 0 (varint), expected 2 (length-delimited); the file does not follow caffe.proto',
    );
    expect(thrown(() => decode([...tag(5, 1), ...f64(1)], 'BlobProto')).message).toBe(
      'm.caffemodel: malformed caffemodel: field 5 (data) of BlobProto at byte 0 has wire type 1 (fixed64), expected 5 (fixed32) or 2 (packed); the file does not follow caffe.proto',
    );
    expect(thrown(() => decode([...ld(1, [1])], 'BlobProto')).message).toMatch(
      /field 1 \(num\) of BlobProto at byte 0 has wire type 2 \(length-delimited\), expected 0 \(varint\);/,
    );
    expect(thrown(() => decode([...tag(1, 0), 1], 'DropoutParameter')).code).toBe('E_MODEL');
    expect(thrown(() => decode([...tag(60, 6)])).message).toMatch(/invalid wire type 6 for field 60 of NetParameter at byte 0/);
    expect(thrown(() => decode([0, 0])).message).toMatch(/field number 0 in NetParameter at byte 0/);
    expect(thrown(() => decode(ld(5, [1, 2, 3]), 'BlobProto')).message).toBe(
      'm.caffemodel: malformed caffemodel: packed field 5 (data) of BlobProto at byte 0 has 3 bytes, not a multiple of 4',
    );
    expect(thrown(() => decode([...tag(1, 0), ...Array(10).fill(0xff), 1], 'BlobProto')).message).toMatch(/varint longer than 10 bytes/);
  });

  it('never throws anything but E_MODEL on random bytes, and never hangs', () => {
    let seed = 12345;
    const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / 2 ** 24;
    for (let k = 0; k < 3000; k++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(rand() * 64) }, () => Math.floor(rand() * 256));
      try {
        decodeBinary(bytes, 'NetParameter', 'r', { deferDropoutCheck: true });
      } catch (e) {
        expect((e as { code?: string }).code, (e as Error).message).toBe('E_MODEL');
      }
    }
  });

  it('decodes a 10M-float (40 MB) blob well under a second, straight into a Float32Array', () => {
    const n = 10_000_000;
    const shape = ld(7, ld(1, varint(n)));
    const dataHead = [...tag(5, 2), ...varint(4 * n)];
    const blobLen = shape.length + dataHead.length + 4 * n;
    const layerHead = [...str(1, 'big')];
    const layerLen = layerHead.length + tag(7, 2).length + varint(blobLen).length + blobLen;
    const head = [...str(1, 'n'), ...tag(100, 2), ...varint(layerLen), ...layerHead, ...tag(7, 2), ...varint(blobLen), ...shape, ...dataHead];
    const bytes = new Uint8Array(head.length + 4 * n);
    bytes.set(head);
    const floats = new Float32Array(n);
    for (let i = 0; i < n; i++) floats[i] = i * 0.5 - 7;
    new Uint8Array(bytes.buffer, head.length).set(new Uint8Array(floats.buffer));
    const t0 = performance.now();
    const { message } = decode(bytes);
    const ms = performance.now() - t0;
    const blob = ((message.layer as Message[])[0].blobs as Message[])[0];
    const out = blob.data as Float32Array;
    expect(out).toBeInstanceOf(Float32Array);
    expect(out.length).toBe(n);
    expect([out[0], out[1], out[n - 1]]).toEqual([-7, -6.5, (n - 1) * 0.5 - 7]);
    expect(out.buffer).not.toBe(bytes.buffer);
    expect(ms).toBeLessThan(1000);
  });
});
