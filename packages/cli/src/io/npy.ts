/**
 * NumPy .npy reading and writing (format versions 1, 2 and 3; C order only).
 * https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 */
import { McuError, sizeOf } from '@mcu/core';
import type { DType, TypedArray } from '@mcu/core';
import { isNpy, parseNpyHeader } from '@mcu/acquire/npy-header';

export interface NpyArray {
  readonly dtype: DType;
  readonly data: TypedArray;
  readonly dims: number[];
}

/** What writeNpy accepts: a TensorData, or plain numbers (written as float64 unless dtype says). */
export interface NpyWritable {
  readonly dtype?: DType;
  readonly data: TypedArray | ArrayLike<number>;
  readonly dims: readonly number[];
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export { isNpy };

const bad = (source: string, msg: string): McuError => new McuError('E_INPUT', `${source}: ${msg}`);

/** Parse .npy bytes. Integer types wider than int32 other than int64 are widened; uint32 → float64. */
export function readNpy(bytes: Uint8Array, source = 'NPY data'): NpyArray {
  // the header parser is @mcu/acquire's, which reads pools of any size by their header alone
  const { descr, dims, dataOffset: offset } = parseNpyHeader(bytes, source);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = sizeOf(dims);
  const need = count * descr.size;
  if (bytes.length - offset < need) {
    throw bad(source, `NPY data is truncated: shape (${dims.join(', ')}) needs ${need} bytes, file has ${bytes.length - offset}`);
  }
  const le = descr.little || descr.size === 1;
  const at = (k: number): number => offset + k * descr.size;
  const key = `${descr.kind}${descr.size}`;
  switch (key) {
    case 'f4': {
      const out = new Float32Array(count);
      for (let k = 0; k < count; k++) out[k] = view.getFloat32(at(k), le);
      return { dtype: 'float32', data: out, dims };
    }
    case 'f8': {
      const out = new Float64Array(count);
      for (let k = 0; k < count; k++) out[k] = view.getFloat64(at(k), le);
      return { dtype: 'float64', data: out, dims };
    }
    case 'i1':
      return { dtype: 'int8', data: new Int8Array(bytes.slice(offset, offset + count)), dims };
    case 'u1':
      return { dtype: 'uint8', data: bytes.slice(offset, offset + count), dims };
    case 'b1':
      return { dtype: 'bool', data: bytes.slice(offset, offset + count).map((b) => (b ? 1 : 0)), dims };
    case 'i2':
    case 'u2':
    case 'i4': {
      const out = new Int32Array(count);
      for (let k = 0; k < count; k++) {
        out[k] = key === 'i2' ? view.getInt16(at(k), le) : key === 'u2' ? view.getUint16(at(k), le) : view.getInt32(at(k), le);
      }
      return { dtype: 'int32', data: out, dims };
    }
    case 'u4': {
      const out = new Float64Array(count);
      for (let k = 0; k < count; k++) out[k] = view.getUint32(at(k), le);
      return { dtype: 'float64', data: out, dims };
    }
    case 'i8':
    case 'u8': {
      const out = new BigInt64Array(count);
      for (let k = 0; k < count; k++) {
        if (key === 'i8') out[k] = view.getBigInt64(at(k), le);
        else {
          const v = view.getBigUint64(at(k), le);
          if (v > 0x7fffffffffffffffn) throw bad(source, `uint64 value ${v} at element ${k} does not fit int64`);
          out[k] = v;
        }
      }
      return { dtype: 'int64', data: out, dims };
    }
    default:
      throw bad(source, `NPY dtype '${key}' is not supported`);
  }
}

const DESCR: Record<DType, string> = {
  float32: '<f4',
  float64: '<f8',
  int32: '<i4',
  int64: '<i8',
  uint8: '|u1',
  int8: '|i1',
  bool: '|b1',
};
const ITEM: Record<DType, number> = { float32: 4, float64: 8, int32: 4, int64: 8, uint8: 1, int8: 1, bool: 1 };

function dtypeOf(data: NpyWritable['data']): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int8Array) return 'int8';
  return 'float64';
}

/** Serialise to .npy bytes (version 1.0, or 2.0 for a header over 64 KiB), little-endian, C order. */
export function writeNpy(t: NpyWritable): Uint8Array {
  const dtype = t.dtype ?? dtypeOf(t.data);
  const dims = [...t.dims];
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) {
      throw new McuError('E_INTERNAL', `writeNpy: bad dims [${dims.join(', ')}]`);
    }
  }
  const count = sizeOf(dims);
  if (t.data.length !== count) {
    throw new McuError('E_INTERNAL', `writeNpy: dims [${dims.join(', ')}] need ${count} values, got ${t.data.length}`);
  }
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let dict = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  let version = 1;
  let pre = 10;
  const total = (): number => pre + dict.length + 1;
  if (total() + 64 > 0xffff + 10) {
    version = 2;
    pre = 12;
  }
  dict += `${' '.repeat((64 - (total() % 64)) % 64)}\n`;
  const headerLen = dict.length;
  const item = ITEM[dtype];
  const out = new Uint8Array(pre + headerLen + count * item);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, headerLen, true);
  else view.setUint32(8, headerLen, true);
  for (let k = 0; k < headerLen; k++) out[pre + k] = dict.charCodeAt(k);
  const off = pre + headerLen;
  const src = t.data;
  for (let k = 0; k < count; k++) {
    const p = off + k * item;
    const v = src[k]!;
    switch (dtype) {
      case 'float32':
        view.setFloat32(p, Number(v), true);
        break;
      case 'float64':
        view.setFloat64(p, Number(v), true);
        break;
      case 'int32':
        view.setInt32(p, Number(v), true);
        break;
      case 'int64':
        view.setBigInt64(p, typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v))), true);
        break;
      case 'uint8':
        view.setUint8(p, Number(v));
        break;
      case 'int8':
        view.setInt8(p, Number(v));
        break;
      case 'bool':
        view.setUint8(p, Number(v) ? 1 : 0);
        break;
    }
  }
  return out;
}
