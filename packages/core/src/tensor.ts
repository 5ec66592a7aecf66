import { McuError } from './errors.js';

export type DType = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'int8' | 'bool';

export type TypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;

/** A dense, row-major tensor. `bool` is stored as Uint8Array (0/1), `int64` as BigInt64Array. */
export interface TensorData {
  readonly dtype: DType;
  readonly data: TypedArray;
  readonly dims: readonly number[];
}

export type NamedTensors = Record<string, TensorData>;

export function sizeOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

const CTORS = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  int8: Int8Array,
  bool: Uint8Array,
} as const;

export function zeros(dtype: DType, dims: readonly number[]): TensorData {
  return { dtype, data: new CTORS[dtype](sizeOf(dims)), dims: [...dims] };
}

/** Build a tensor, checking that the buffer length matches the dims. */
export function tensor(dtype: DType, data: TypedArray, dims: readonly number[]): TensorData {
  const n = sizeOf(dims);
  if (data.length !== n) {
    throw new McuError('E_INPUT', `tensor of dims [${dims.join(', ')}] needs ${n} values, got ${data.length}`);
  }
  return { dtype, data, dims: [...dims] };
}

export function float32(data: ArrayLike<number>, dims: readonly number[]): TensorData {
  return tensor('float32', Float32Array.from(data), dims);
}

/** Read element i as a number (int64 converted, exact below 2^53). */
export function valueAt(t: TensorData, i: number): number {
  const v = t.data[i];
  return typeof v === 'bigint' ? Number(v) : (v as number);
}

export function formatDims(dims: readonly (number | string)[]): string {
  return `[${dims.join(', ')}]`;
}
