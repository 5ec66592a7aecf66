/**
 * A request's `inputs` as @mcu/core's feeds: nested row arrays, rows by input name, or a
 * base64 float32 tensor `{ data, dims }` (little-endian, row-major) — for the one input or by name.
 */
import { McuError, toFeeds, type InputValue, type Inputs, type NamedTensors, type StochasticModel } from '@mcu/core';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

interface Base64Tensor {
  readonly data: string;
  readonly dims: readonly number[];
}

const isBase64Tensor = (v: unknown): v is Base64Tensor =>
  typeof v === 'object' && v !== null && typeof (v as Base64Tensor).data === 'string' && Array.isArray((v as Base64Tensor).dims);

/** A base64 float32 tensor as a typed one (its size is checked against dims by core). */
function decode(t: Base64Tensor, where: string): InputValue {
  if (t.data.length % 4 !== 0 || !BASE64.test(t.data)) {
    throw new McuError(
      'E_INPUT',
      `${where}.data is not base64 (got ${t.data.length} characters${BASE64.test(t.data) ? '' : ' with characters outside A–Z a–z 0–9 + / ='}): encode the float32 bytes, little-endian`,
    );
  }
  const bytes = Buffer.from(t.data, 'base64');
  if (bytes.length % 4 !== 0)
    throw new McuError('E_INPUT', `${where}.data decodes to ${bytes.length} bytes, not a whole number of float32 values (4 bytes each)`);
  const data = new Float32Array(bytes.length / 4);
  new Uint8Array(data.buffer).set(bytes);
  return { data, dims: t.dims, dtype: 'float32' };
}

/** The request's inputs for core: base64 tensors decoded, everything else as it came. */
function requestInputs(inputs: unknown): Inputs {
  if (isBase64Tensor(inputs)) return decode(inputs, 'inputs');
  if (typeof inputs === 'object' && inputs !== null && !Array.isArray(inputs)) {
    const out: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(inputs)) out[name] = isBase64Tensor(v) ? decode(v, `inputs.${name}`) : v;
    return out as Inputs;
  }
  return inputs as Inputs;
}

/** Every value finite: NaN or ±Infinity in a row is an E_INPUT naming the input, row and value. */
function assertFinite(feeds: NamedTensors): void {
  for (const [name, t] of Object.entries(feeds)) {
    if (t.dtype !== 'float32' && t.dtype !== 'float64') continue;
    const per = t.data.length / t.dims[0]!;
    const data = t.data as Float32Array | Float64Array;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!)) {
        throw new McuError('E_INPUT', `input '${name}' row ${Math.floor(i / per)} value ${i % per} is ${data[i]}: inputs must be finite numbers`);
      }
    }
  }
}

/** The feeds of one request for `model` (shape, dtype and finiteness checked: E_INPUT / E_USAGE). */
export function feedsOf(model: StochasticModel, inputs: unknown): NamedTensors {
  if (inputs === undefined || inputs === null) throw new McuError('E_USAGE', 'the request has no inputs: send { "inputs": [[…], …] }');
  const feeds = toFeeds(model, requestInputs(inputs), 'inputs');
  assertFinite(feeds);
  return feeds;
}

/** The rows of several requests' feeds (same inputs, dtypes and per-row dims) as one set of feeds. */
export function concatFeeds(parts: readonly NamedTensors[]): NamedTensors {
  if (parts.length === 1) return parts[0]!;
  const out: NamedTensors = {};
  for (const name of Object.keys(parts[0]!)) {
    const ts = parts.map((p) => p[name]!);
    const first = ts[0]!;
    const length = ts.reduce((a, t) => a + t.data.length, 0);
    const data = new (first.data.constructor as new (n: number) => typeof first.data)(length);
    let at = 0;
    for (const t of ts) {
      (data as Float32Array).set(t.data as Float32Array, at);
      at += t.data.length;
    }
    out[name] = { dtype: first.dtype, data, dims: [ts.reduce((a, t) => a + t.dims[0]!, 0), ...first.dims.slice(1)] };
  }
  return out;
}
