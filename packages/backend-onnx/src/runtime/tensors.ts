import { McuError, sizeOf, type TensorData, type TensorSpec } from '@mcu/core';

/** Element types onnxruntime uses for the dtypes mcu feeds. */
export type OrtType = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'int8' | 'bool';

/** Convert a feed to the dtype the model declares (CSV and JSON inputs arrive as float32). */
export function castFeed(t: TensorData, spec: TensorSpec): TensorData {
  if (t.dtype === spec.dtype) return t;
  const n = t.data.length;
  switch (spec.dtype) {
    case 'float32':
      return { dtype: 'float32', data: Float32Array.from(t.data as ArrayLike<number>), dims: t.dims };
    case 'float64':
      return { dtype: 'float64', data: Float64Array.from(t.data as ArrayLike<number>), dims: t.dims };
    case 'int32':
      return { dtype: 'int32', data: Int32Array.from(t.data as ArrayLike<number>, Math.round), dims: t.dims };
    case 'int64': {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = BigInt(Math.round(Number(t.data[i])));
      return { dtype: 'int64', data: out, dims: t.dims };
    }
    default:
      throw new McuError('E_UNSUPPORTED', `input '${spec.name}' has element type ${spec.dtype}; mcu feeds float32, float64, int32 and int64 inputs`);
  }
}

/** Check a feed's rank and static dims (batch axis excluded) against the model's declaration. */
export function checkFeedDims(t: TensorData, spec: TensorSpec, leading: number): void {
  const want = spec.dims;
  const got = t.dims;
  const ok = got.length === want.length && want.every((d, k) => k < leading || typeof d !== 'number' || d < 0 || d === got[k]);
  if (!ok || sizeOf(got) !== t.data.length) {
    const shown = want.map((d, k) => (k === 0 ? 'N' : typeof d === 'number' && d >= 0 ? d : String(d)));
    throw new McuError('E_INPUT', `input '${spec.name}' expects dims [${shown.join(', ')}], got [${got.join(', ')}]`);
  }
}

/** Repeat a tensor S times along a new (layout 'sample-axis') or the existing leading axis. */
export function tileLeading(t: TensorData, times: number, newAxis: boolean): TensorData {
  const n = t.data.length;
  const Ctor = t.data.constructor as new (len: number) => typeof t.data;
  const out = new Ctor(n * times);
  for (let s = 0; s < times; s++) (out as Float32Array).set(t.data as Float32Array, s * n);
  const dims = newAxis ? [times, ...t.dims] : [t.dims[0]! * times, ...t.dims.slice(1)];
  return { dtype: t.dtype, data: out, dims };
}
