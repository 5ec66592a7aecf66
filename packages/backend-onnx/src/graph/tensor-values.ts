/**
 * Reading the values of small constant tensors (a Dropout ratio, a Reshape shape, Slice
 * bounds). Sizes are checked against the bytes actually present before anything is
 * allocated, so a tensor that declares 10^12 elements costs nothing.
 */
import { DataLocation, DataType } from '../proto/enums.js';
import type { TensorProto } from '../proto/types.js';

/** The ONNX integer element types (signed and unsigned, 8 to 64 bits). */
export const INTEGER_TYPES: ReadonlySet<number> = new Set<number>([
  DataType.INT64,
  DataType.INT32,
  DataType.INT16,
  DataType.INT8,
  DataType.UINT8,
  DataType.UINT16,
  DataType.UINT32,
  DataType.UINT64,
]);

/** Element count from dims, or undefined when negative / absurd (> 2^53). */
export function tensorElementCount(t: TensorProto): number | undefined {
  let n = 1n;
  for (const d of t.dims ?? []) {
    if (d < 0n) return undefined;
    n *= d;
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  }
  return Number(n);
}

/** Bytes per element of a fixed-width data type (undefined for strings / sub-byte types). */
export function bytesPerElement(dataType: number | undefined): number | undefined {
  switch (dataType) {
    case DataType.FLOAT:
    case DataType.INT32:
    case DataType.UINT32:
      return 4;
    case DataType.UINT8:
    case DataType.INT8:
    case DataType.BOOL:
      return 1;
    case DataType.UINT16:
    case DataType.INT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return 2;
    case DataType.INT64:
    case DataType.DOUBLE:
    case DataType.UINT64:
    case DataType.COMPLEX64:
      return 8;
    case DataType.COMPLEX128:
      return 16;
    case 17:
    case 18:
    case 19:
    case 20:
    case 24:
      return 1;
    default:
      return undefined;
  }
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/**
 * The values of a small numeric tensor as numbers (int64 → number; exact below 2^53), or
 * undefined when it is not readable here (external data, strings, more than `maxElements`,
 * or fewer bytes than its dims need).
 */
export function tensorNumbers(t: TensorProto, maxElements = 4096): number[] | undefined {
  const big = tensorBigints(t, maxElements);
  if (big !== undefined) return big.map((v) => Number(v));
  const n = tensorElementCount(t);
  if (n === undefined || n > maxElements || t.data_location === DataLocation.EXTERNAL) return undefined;
  const dt = t.data_type;
  const raw = t.raw_data;
  if (raw !== undefined) {
    const bpe = bytesPerElement(dt);
    if (bpe === undefined || raw.byteLength !== n * bpe) return undefined;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      switch (dt) {
        case DataType.FLOAT:
          out.push(view.getFloat32(i * 4, true));
          break;
        case DataType.DOUBLE:
          out.push(view.getFloat64(i * 8, true));
          break;
        case DataType.FLOAT16:
          out.push(halfToFloat(view.getUint16(i * 2, true)));
          break;
        case DataType.BFLOAT16: {
          const buf = new DataView(new ArrayBuffer(4));
          buf.setUint32(0, view.getUint16(i * 2, true) << 16, true);
          out.push(buf.getFloat32(0, true));
          break;
        }
        default:
          return undefined;
      }
    }
    return out;
  }
  let src: number[] | undefined;
  if (dt === DataType.FLOAT || dt === DataType.COMPLEX64) src = t.float_data;
  else if (dt === DataType.DOUBLE || dt === DataType.COMPLEX128) src = t.double_data;
  else if (dt === DataType.FLOAT16 || dt === DataType.BFLOAT16) {
    const ints = t.int32_data ?? [];
    if (ints.length !== n) return undefined;
    return ints.map((h) => {
      if (dt === DataType.FLOAT16) return halfToFloat(h & 0xffff);
      const buf = new DataView(new ArrayBuffer(4));
      buf.setUint32(0, (h & 0xffff) << 16, true);
      return buf.getFloat32(0, true);
    });
  }
  if (src === undefined) src = [];
  return src.length === n ? src.slice() : undefined;
}

/** Integer / bool tensors as bigint values (same limits as tensorNumbers). */
export function tensorBigints(t: TensorProto, maxElements = 4096): bigint[] | undefined {
  const n = tensorElementCount(t);
  if (n === undefined || n > maxElements || t.data_location === DataLocation.EXTERNAL) return undefined;
  const dt = t.data_type;
  const raw = t.raw_data;
  if (dt === undefined || !(INTEGER_TYPES.has(dt) || dt === DataType.BOOL)) return undefined;
  if (raw !== undefined) {
    const bpe = bytesPerElement(dt)!;
    if (raw.byteLength !== n * bpe) return undefined;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out: bigint[] = [];
    for (let i = 0; i < n; i++) {
      switch (dt) {
        case DataType.INT64:
          out.push(view.getBigInt64(i * 8, true));
          break;
        case DataType.UINT64:
          out.push(view.getBigUint64(i * 8, true));
          break;
        case DataType.INT32:
          out.push(BigInt(view.getInt32(i * 4, true)));
          break;
        case DataType.UINT32:
          out.push(BigInt(view.getUint32(i * 4, true)));
          break;
        case DataType.INT16:
          out.push(BigInt(view.getInt16(i * 2, true)));
          break;
        case DataType.UINT16:
          out.push(BigInt(view.getUint16(i * 2, true)));
          break;
        case DataType.INT8:
          out.push(BigInt(view.getInt8(i)));
          break;
        default:
          out.push(BigInt(view.getUint8(i)));
          break;
      }
    }
    return out;
  }
  if (dt === DataType.INT64) {
    const v = t.int64_data ?? [];
    return v.length === n ? v.slice() : undefined;
  }
  if (dt === DataType.UINT64) {
    const v = t.uint64_data ?? [];
    return v.length === n ? v.slice() : undefined;
  }
  const v = t.int32_data ?? [];
  return v.length === n ? v.map((x) => BigInt(x)) : undefined;
}
