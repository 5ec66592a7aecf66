// Small builders for hand-made ONNX graphs in tests.
import type { TensorProto, ValueInfoProto } from '../src/proto/types.js';

/** A float32 initializer. */
export function f32(name: string, dims: number[], data: ArrayLike<number>): TensorProto {
  return { name, data_type: 1, dims: dims.map(BigInt), float_data: Array.from(data) };
}

/** An int64 initializer (1-D unless dims are given). */
export function i64(name: string, values: readonly number[], dims: readonly number[] = [values.length]): TensorProto {
  const raw = new Uint8Array(values.length * 8);
  values.forEach((x, k) => new DataView(raw.buffer).setBigInt64(k * 8, BigInt(x), true));
  return { name, data_type: 7, dims: dims.map(BigInt), raw_data: raw };
}

/** A typed graph input / output with a shape (strings are symbolic dims). */
export function vi(name: string, dims: (number | string)[], elem = 1): ValueInfoProto {
  return {
    name,
    type: { tensor_type: { elem_type: elem, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: BigInt(d) } : { dim_param: d })) } } },
  };
}
