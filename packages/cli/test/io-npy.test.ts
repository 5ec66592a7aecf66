import { describe, expect, it } from 'vitest';
import { McuError } from '@mcu/core';
import { isNpy, readNpy, writeNpy } from '../src/io/npy.js';

/** Build .npy bytes by hand the way numpy lays them out (header dict, padding, '\n'). */
function handNpy(header: string, payload: Uint8Array, opts: { version?: 1 | 2; align?: number } = {}): Uint8Array {
  const version = opts.version ?? 1;
  const align = opts.align ?? 64;
  const pre = version === 1 ? 10 : 12;
  let h = header;
  const pad = (align - ((pre + h.length + 1) % align)) % align;
  h = `${h + ' '.repeat(pad)}\n`;
  const out = new Uint8Array(pre + h.length + payload.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, h.length, true);
  else view.setUint32(8, h.length, true);
  for (let i = 0; i < h.length; i++) out[pre + i] = h.charCodeAt(i);
  out.set(payload, pre + h.length);
  return out;
}

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function inputError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(McuError);
    expect((e as McuError).code).toBe('E_INPUT');
    return (e as McuError).message;
  }
  throw new Error('did not throw');
}

describe('writeNpy / readNpy', () => {
  it('round-trips float32', () => {
    const data = Float32Array.from([1.5, -2, 3.25, 0, 1e-8, 7]);
    const bytes = writeNpy({ dtype: 'float32', data, dims: [2, 3] });
    expect(isNpy(bytes)).toBe(true);
    expect((bytes.length - data.byteLength) % 64).toBe(0); // header aligned to 64 bytes
    const back = readNpy(bytes);
    expect(back.dtype).toBe('float32');
    expect(back.dims).toEqual([2, 3]);
    expect(Array.from(back.data as Float32Array)).toEqual(Array.from(data));
  });

  it('round-trips float64 (default for plain numbers) and other dtypes', () => {
    const back = readNpy(writeNpy({ data: [0.1, 0.2, Math.PI], dims: [3] }));
    expect(back.dtype).toBe('float64');
    expect(back.dims).toEqual([3]);
    expect(Array.from(back.data as Float64Array)).toEqual([0.1, 0.2, Math.PI]);

    const i32 = readNpy(writeNpy({ data: Int32Array.from([-1, 2, 3, 4]), dims: [2, 2] }));
    expect(i32.dtype).toBe('int32');
    expect(Array.from(i32.data as Int32Array)).toEqual([-1, 2, 3, 4]);

    const i64 = readNpy(writeNpy({ dtype: 'int64', data: BigInt64Array.from([5n, -6n]), dims: [2] }));
    expect(i64.dtype).toBe('int64');
    expect(Array.from(i64.data as BigInt64Array)).toEqual([5n, -6n]);

    const u8 = readNpy(writeNpy({ dtype: 'uint8', data: Uint8Array.from([0, 255]), dims: [2] }));
    expect(Array.from(u8.data as Uint8Array)).toEqual([0, 255]);

    const b = readNpy(writeNpy({ dtype: 'bool', data: Uint8Array.from([1, 0, 1]), dims: [3] }));
    expect(b.dtype).toBe('bool');
    expect(Array.from(b.data as Uint8Array)).toEqual([1, 0, 1]);

    const scalar = readNpy(writeNpy({ data: [4], dims: [] }));
    expect(scalar.dims).toEqual([]);
    expect(Array.from(scalar.data as Float64Array)).toEqual([4]);

    const empty = readNpy(writeNpy({ dtype: 'float32', data: new Float32Array(0), dims: [0, 3] }));
    expect(empty.dims).toEqual([0, 3]);
  });

  it('writes the header numpy writes', () => {
    const bytes = writeNpy({ dtype: 'float32', data: new Float32Array(6), dims: [2, 3] });
    const len = bytes[8]! | (bytes[9]! << 8);
    const header = new TextDecoder('latin1').decode(bytes.subarray(10, 10 + len));
    expect(header.startsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }")).toBe(true);
    expect(header.endsWith('\n')).toBe(true);
    const one = writeNpy({ dtype: 'float64', data: [1], dims: [1] });
    expect(new TextDecoder('latin1').decode(one.subarray(10, 70))).toContain("'shape': (1,)");
  });

  it('reads numpy-written layouts: v1 with 16-byte alignment (old numpy), v2, big-endian, int64', () => {
    const f8 = Float64Array.from([1, 2, 3, 4, 5, 6]);
    const a = readNpy(handNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", bytesOf(f8), { align: 16 }));
    expect(a.dims).toEqual([2, 3]);
    expect(Array.from(a.data as Float64Array)).toEqual([1, 2, 3, 4, 5, 6]);

    const f4 = Float32Array.from([0.5, 1.5]);
    const b = readNpy(handNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", bytesOf(f4), { version: 2 }));
    expect(b.dims).toEqual([2]);
    expect(Array.from(b.data as Float32Array)).toEqual([0.5, 1.5]);

    const be = new Uint8Array(8);
    new DataView(be.buffer).setFloat32(0, 2.5, false);
    new DataView(be.buffer).setFloat32(4, -1, false);
    const c = readNpy(handNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (1, 2), }", be));
    expect(Array.from(c.data as Float32Array)).toEqual([2.5, -1]);

    const i8 = BigInt64Array.from([3n, 9n]);
    const d = readNpy(handNpy("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 1), }", bytesOf(i8)));
    expect(d.dtype).toBe('int64');
    expect(d.dims).toEqual([2, 1]);

    const i2 = Int16Array.from([-3, 4]);
    const e = readNpy(handNpy("{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }", bytesOf(i2)));
    expect(e.dtype).toBe('int32');
    expect(Array.from(e.data as Int32Array)).toEqual([-3, 4]);
  });

  it('rejects Fortran order, structured and unsupported dtypes, truncation, bad magic', () => {
    const f8 = bytesOf(Float64Array.from([1, 2, 3, 4]));
    expect(inputError(() => readNpy(handNpy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", f8), 'x.npy'))).toMatch(
      /^x\.npy: NPY array is in Fortran order; save it in C order/,
    );
    expect(inputError(() => readNpy(handNpy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", f8)))).toMatch(/structured NPY arrays/);
    expect(inputError(() => readNpy(handNpy("{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }", f8)))).toMatch(/NPY dtype '<f2' is not supported/);
    expect(inputError(() => readNpy(handNpy("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", f8)))).toMatch(/NPY dtype '<c16' is not supported/);
    expect(inputError(() => readNpy(handNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", f8), 'y.npy'))).toBe(
      'y.npy: NPY data is truncated: shape (3, 2) needs 48 bytes, file has 32',
    );
    expect(inputError(() => readNpy(new TextEncoder().encode('1,2,3\n'), 'z.npy'))).toMatch(/z\.npy: not an NPY file/);
  });
});
