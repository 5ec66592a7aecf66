/**
 * Deep copy of decoded ONNX objects. Byte arrays (raw_data, string values) are shared, not
 * copied: rewrites never mutate them, and a model's weights can be hundreds of megabytes.
 */
export function cloneProto<T>(value: T): T {
  return cloneValue(value) as T;
}

function cloneValue(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(cloneValue);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = cloneValue(x);
  return out;
}
