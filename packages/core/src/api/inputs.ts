/**
 * What the one-call API accepts as a model and as input rows, and how it turns them into what
 * the engine takes: a loaded {@link StochasticModel}, and {@link NamedTensors} with every input
 * in its model dtype and dims.
 */
import { McuError } from '../errors.js';
import type { Mcu } from '../di/container.js';
import type { LoadOptions, ModelSource, StochasticModel, TensorSpec } from '../model.js';
import { formatDims, sizeOf, type DType, type NamedTensors, type TensorData, type TypedArray } from '../tensor.js';

/**
 * A model for the one-call API: one already loaded (it stays loaded: the caller disposes it),
 * or where to load it from with `options.mcu` — a {@link ModelSource}, a path, a URL (`file:`
 * is read as a path; other URLs are fetched as bytes) or the model's bytes. A model loaded from
 * a source is disposed before the call returns.
 */
export type ModelInput = StochasticModel | ModelSource | string | URL | Uint8Array;

/** Numbers nested as rows: `[N]` (one value per row), `[N][D]`, or deeper (`[N][C][H][W]`). */
export type NestedNumbers = readonly number[] | readonly NestedNumbers[];

/** A tensor as a library user holds it: `dtype` optional (default: the model input's), data typed or plain numbers. */
export interface TensorLike {
  readonly data: TypedArray | readonly number[];
  readonly dims: readonly number[];
  readonly dtype?: DType;
}

/**
 * The rows of one model input:
 * - a {@link TensorLike} ({@link TensorData}): used with its dims when they have the model
 *   input's rank, else read as `dims[0]` rows of `prod(dims[1:])` values each and laid out in
 *   the input's per-row dims (`[N, 784]` → `[N, 1, 28, 28]`, as the CLI does with CSV rows);
 * - a typed array: row-major values, `length / (values per row)` rows (the input's per-row
 *   dims must be fixed), laid out in the input's per-row dims;
 * - nested number arrays: their shape gives the dims (`[N]` is N rows of one value), laid out
 *   in the input's per-row dims where the rank differs.
 * Values are converted to the input's dtype unless a tensor names its own.
 */
export type InputValue = TensorLike | TypedArray | NestedNumbers;

/** Input rows: by input name, or for a model with one input that input's rows alone. */
export type Inputs = NamedTensors | Readonly<Record<string, InputValue>> | InputValue;

/** True for a loaded model (anything with `run`, `inputs` and `outputs`). */
export function isStochasticModel(m: unknown): m is StochasticModel {
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof (m as StochasticModel).run === 'function' &&
    Array.isArray((m as StochasticModel).inputs) &&
    Array.isArray((m as StochasticModel).outputs)
  );
}

/** A file: URL as a path, without node:url (core runs in browsers too). */
function fileUrlPath(url: URL): string {
  const p = decodeURIComponent(url.pathname);
  return /^\/[A-Za-z]:\//.test(p) ? p.slice(1) : p;
}

/** The source a {@link ModelInput} that is not a loaded model stands for (URLs other than file: are fetched). */
export async function toModelSource(model: Exclude<ModelInput, StochasticModel>): Promise<ModelSource> {
  if (typeof model === 'string') return { kind: 'path', path: model };
  if (model instanceof Uint8Array) return { kind: 'bytes', bytes: model };
  if (model instanceof URL) {
    if (model.protocol === 'file:') return { kind: 'path', path: fileUrlPath(model) };
    let response: Response;
    try {
      response = await fetch(model);
    } catch (e) {
      throw new McuError('E_FILE', `cannot fetch the model from ${model.href}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (!response.ok) throw new McuError('E_FILE', `cannot fetch the model from ${model.href}: HTTP ${response.status} ${response.statusText}`);
    return { kind: 'bytes', bytes: new Uint8Array(await response.arrayBuffer()) };
  }
  if (typeof model === 'object' && model !== null && (model.kind === 'path' || model.kind === 'bytes' || model.kind === 'object')) return model;
  throw new McuError('E_USAGE', 'model must be a loaded StochasticModel, a ModelSource, a path, a URL or the model bytes (Uint8Array)');
}

/** A model ready to run, and whether this call loaded it (and so disposes it). */
export interface AcquiredModel {
  readonly model: StochasticModel;
  readonly owned: boolean;
}

/**
 * The loaded model of a {@link ModelInput}: as it is, or loaded with `mcu` (which knows the
 * backends; core never imports one). A source without `mcu` is an E_USAGE.
 */
export async function acquireModel(model: ModelInput, mcu: Mcu | undefined, loadOptions: LoadOptions | undefined, fn: string): Promise<AcquiredModel> {
  if (isStochasticModel(model)) return { model, owned: false };
  if (mcu === undefined) {
    throw new McuError(
      'E_USAGE',
      `${fn}(): a model given as a path, URL, bytes or ModelSource is loaded by a backend, which core does not know: ` +
        `pass options.mcu (createMcu({ modules: [onnxModule] }) from @mcu/backend-onnx, say), or a model loaded with mcu.load()`,
    );
  }
  const source = await toModelSource(model);
  return { model: await mcu.load(source, loadOptions), owned: true };
}

const isFixed = (d: number | string): d is number => typeof d === 'number' && Number.isInteger(d) && d > 0;

/** The input's dims as a message shows them: N for the batch axis, ? for a free one. */
export function showModelDims(dims: readonly (number | string)[]): string {
  return formatDims(dims.map((d, i) => (i === 0 && !isFixed(d) ? 'N' : isFixed(d) ? d : '?')));
}

/**
 * The dims of `rows` rows of `cols` values laid out in a model input's dims (`[N, 784]` →
 * `[N, 1, 28, 28]`): the leading axis is the batch; one free axis among the others is inferred.
 * Sizes that disagree are an E_INPUT naming the input, the values per row it expects and what it got.
 */
export function rowDims(rows: number, cols: number, modelInputDims: readonly (number | string)[], name: string): number[] {
  const label = `input '${name}'`;
  if (modelInputDims.length === 0) throw new McuError('E_INPUT', `${label} is a scalar ([]); mcu feeds rows along a leading batch axis`);
  const rest = modelInputDims.slice(1);
  const got = `got ${cols} value${cols === 1 ? '' : 's'} per row`;
  const free = rest.map((d, i) => (isFixed(d) ? -1 : i)).filter((i) => i >= 0);
  const known = sizeOf(rest.filter(isFixed));
  if (free.length === 0) {
    if (cols !== known)
      throw new McuError('E_INPUT', `${label} expects ${known} value${known === 1 ? '' : 's'} per row (${showModelDims(modelInputDims)}), ${got}`);
    return [rows, ...(rest as number[])];
  }
  if (free.length === 1) {
    if (cols === 0 || cols % known !== 0)
      throw new McuError('E_INPUT', `${label} expects a multiple of ${known} values per row (${showModelDims(modelInputDims)}), ${got}`);
    return [rows, ...rest.map((d) => (isFixed(d) ? d : cols / known))];
  }
  throw new McuError(
    'E_INPUT',
    `${label} has ${free.length} free axes besides the batch (${showModelDims(modelInputDims)}): cannot tell how to lay out ${cols} values per row; give a tensor with the full dims`,
  );
}

const CTORS = { float32: Float32Array, float64: Float64Array, int32: Int32Array, uint8: Uint8Array, int8: Int8Array, bool: Uint8Array } as const;

/** `values` in `dtype` (the same array when it already is one; int64 as BigInt64Array). */
function inDtype(values: ArrayLike<number | bigint>, dtype: DType, name: string): TypedArray {
  if (dtype === 'int64') {
    if (values instanceof BigInt64Array) return values;
    const out = new BigInt64Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = Number(values[i]);
      if (!Number.isInteger(v)) throw new McuError('E_INPUT', `input '${name}' is int64, but value ${i} is ${String(values[i])}`);
      out[i] = BigInt(v);
    }
    return out;
  }
  const Ctor = CTORS[dtype];
  if (values instanceof Ctor) return values as TypedArray;
  const out = new Ctor(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Number(values[i]);
  return out;
}

const isTypedArray = (v: unknown): v is TypedArray => ArrayBuffer.isView(v) && !(v instanceof DataView);
const isTensorLike = (v: unknown): v is TensorLike =>
  typeof v === 'object' &&
  v !== null &&
  !Array.isArray(v) &&
  !isTypedArray(v) &&
  Array.isArray((v as TensorLike).dims) &&
  (isTypedArray((v as TensorLike).data) || Array.isArray((v as TensorLike).data));
const isInputValue = (v: unknown): v is InputValue => Array.isArray(v) || isTypedArray(v) || isTensorLike(v);

/** The shape of rectangular nested arrays and their values, row-major; ragged or non-numeric arrays are E_INPUT. */
function flatten(nested: NestedNumbers, name: string): { dims: number[]; values: number[] } {
  const dims: number[] = [];
  for (let level: unknown = nested; Array.isArray(level); level = level[0]) dims.push(level.length);
  const values: number[] = [];
  const walk = (a: unknown, depth: number, at: string): void => {
    if (depth === dims.length) {
      if (typeof a !== 'number') throw new McuError('E_INPUT', `input '${name}'${at}: expected a number, got ${Array.isArray(a) ? 'an array' : typeof a}`);
      values.push(a);
      return;
    }
    if (!Array.isArray(a) || a.length !== dims[depth]) {
      throw new McuError(
        'E_INPUT',
        `input '${name}'${at}: nested arrays must be rectangular (dims ${formatDims(dims)}), got ${Array.isArray(a) ? `${a.length} entries` : String(a)} here`,
      );
    }
    a.forEach((x, i) => walk(x, depth + 1, `${at}[${i}]`));
  };
  walk(nested, 0, '');
  return { dims, values };
}

/** One input's rows as a tensor in the model input's dtype and dims. */
export function toTensor(value: InputValue, spec: TensorSpec): TensorData {
  const name = spec.name;
  let data: ArrayLike<number | bigint>;
  let dims: number[];
  let dtype: DType = spec.dtype;
  if (isTensorLike(value)) {
    data = value.data;
    dims = [...value.dims];
    if (value.dtype !== undefined) dtype = value.dtype;
    if (sizeOf(dims) !== data.length)
      throw new McuError('E_INPUT', `input '${name}': dims ${formatDims(dims)} need ${sizeOf(dims)} values, got ${data.length}`);
  } else if (isTypedArray(value)) {
    const rest = spec.dims.slice(1);
    if (!rest.every(isFixed)) {
      throw new McuError(
        'E_INPUT',
        `input '${name}' has free sizes per row (${showModelDims(spec.dims)}), so a flat array does not say how many rows it holds: give { data, dims }`,
      );
    }
    const per = sizeOf(rest);
    if (value.length === 0 || value.length % per !== 0) {
      throw new McuError(
        'E_INPUT',
        `input '${name}' expects ${per} value${per === 1 ? '' : 's'} per row (${showModelDims(spec.dims)}); a flat array of ${value.length} values is not a whole number of rows`,
      );
    }
    data = value;
    dims = [value.length / per, ...rest];
  } else if (Array.isArray(value)) {
    const f = flatten(value as NestedNumbers, name);
    data = f.values;
    dims = f.dims.length === 1 ? [f.dims[0]!, 1] : f.dims;
  } else {
    throw new McuError(
      'E_INPUT',
      `input '${name}': expected a tensor { data, dims }, a typed array or nested number arrays, got ${value === null ? 'null' : typeof value}`,
    );
  }
  if (dims.length === 0 || dims[0]! < 1) throw new McuError('E_INPUT', `input '${name}': no rows (dims ${formatDims(dims)})`);
  if (dims.length !== spec.dims.length) dims = rowDims(dims[0]!, sizeOf(dims.slice(1)), spec.dims, name);
  return { dtype, data: inDtype(data, dtype, name), dims };
}

/**
 * The engine's feeds for {@link Inputs}: a record by input name (every model input given,
 * none unknown), or one input's rows for a model with exactly one input.
 */
export function toFeeds(model: StochasticModel, inputs: Inputs, what = 'inputs'): NamedTensors {
  const names = model.inputs.map((i) => i.name);
  let byName: Readonly<Record<string, InputValue>>;
  if (isInputValue(inputs)) {
    if (model.inputs.length !== 1) {
      throw new McuError(
        'E_USAGE',
        `${what}: the model has ${model.inputs.length} inputs (${names.join(', ')}): give the rows by name, { ${names.map((n) => `${n}: …`).join(', ')} }`,
      );
    }
    byName = { [names[0]!]: inputs };
  } else if (typeof inputs === 'object' && inputs !== null) {
    byName = inputs as Readonly<Record<string, InputValue>>;
  } else {
    throw new McuError(
      'E_USAGE',
      `${what}: expected input rows (a tensor, typed array, nested arrays, or a record of them by input name), got ${inputs === null ? 'null' : typeof inputs}`,
    );
  }
  for (const k of Object.keys(byName)) {
    if (!names.includes(k)) throw new McuError('E_USAGE', `${what}: the model has no input '${k}'; its inputs: ${names.join(', ')}`);
  }
  const feeds: NamedTensors = {};
  for (const spec of model.inputs) {
    const v = byName[spec.name];
    if (v === undefined) throw new McuError('E_USAGE', `${what}: model input '${spec.name}' was not given; the model takes ${names.join(', ')}`);
    feeds[spec.name] = toTensor(v, spec);
  }
  const rows = new Set(Object.values(feeds).map((t) => t.dims[0]));
  if (rows.size > 1) throw new McuError('E_INPUT', `${what}: all inputs need the same number of rows, got ${[...rows].join(' and ')}`);
  return feeds;
}

/** Rows [first, first + n) of every feed. */
export function sliceRows(feeds: NamedTensors, first: number, n: number): NamedTensors {
  const out: NamedTensors = {};
  for (const [name, t] of Object.entries(feeds)) {
    const per = t.data.length / t.dims[0]!;
    out[name] = { dtype: t.dtype, data: t.data.slice(first * per, (first + n) * per), dims: [n, ...t.dims.slice(1)] };
  }
  return out;
}

/** The number of rows of the feeds (their common leading axis). */
export function rowCount(feeds: NamedTensors): number {
  return Object.values(feeds)[0]?.dims[0] ?? 0;
}
