/**
 * The ONNX model as the translation to the tfjs graph sees it: @mcu/onnx-proto decodes the
 * protobuf (the repository's one ONNX codec; backends never import each other, so not through
 * @mcu/backend-onnx), and this module turns the messages it needs into compact views.
 *
 * Conventions:
 * - int64 fields are JS numbers (exact up to 2^53; INT64_MAX in a Slice `ends` becomes
 *   9.223372036854776e18, which still means "to the end");
 * - tensors are decoded eagerly into `Float32Array` (FLOAT, FLOAT16, BFLOAT16, DOUBLE — tfjs
 *   computes in float32) or `Float64Array` of integers (INT64, INT32, INT16, INT8, UINT8, UINT16,
 *   UINT32, BOOL);
 * - unknown fields are skipped, as protobuf requires; a truncated or garbled file is E_MODEL.
 */
import { McuError } from '@mcu/core';
import {
  AttributeProto_AttributeType,
  decodeModelProto,
  OnnxWireError,
  TensorProto_DataLocation,
  TensorProto_DataType,
  type AttributeProto,
  type GraphProto,
  type NodeProto,
  type StringStringEntryProto,
  type TensorProto,
  type ValueInfoProto,
} from '@mcu/onnx-proto';

/** TensorProto.DataType values (onnx.proto). */
export const DataType = TensorProto_DataType;

const DATA_TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(DataType).map(([k, v]) => [v, k]));

/** 'FLOAT', 'INT64', … or 'type 99' for one onnx.proto does not know. */
export function dataTypeName(t: number): string {
  return DATA_TYPE_NAMES[t] ?? `type ${t}`;
}

/** AttributeProto.AttributeType values (onnx.proto). */
export const AttributeType = AttributeProto_AttributeType;

/** A decoded TensorProto. */
export interface OnnxTensor {
  readonly name: string;
  readonly dims: readonly number[];
  /** TensorProto.DataType of the stored tensor. */
  readonly dataType: number;
  /** Float types as float32; integer and bool types as exact integers. */
  readonly data: Float32Array | Float64Array;
}

export interface OnnxAttribute {
  readonly name: string;
  /** AttributeProto.AttributeType; 0 when the writer left it out (then inferred from the fields present). */
  readonly type: number;
  readonly f?: number;
  readonly i?: number;
  /** The bytes of a STRING attribute, decoded as UTF-8. */
  readonly s?: string;
  readonly t?: OnnxTensor;
  /** A subgraph attribute (If / Loop / Scan bodies): the translation refuses nodes that carry one. */
  readonly g?: OnnxGraph;
  readonly floats?: readonly number[];
  readonly ints?: readonly number[];
  readonly strings?: readonly string[];
  /** Count of TENSORS / GRAPHS / sparse / type-proto values (not decoded further). */
  readonly otherValues?: number;
}

export interface OnnxNode {
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  readonly attributes: readonly OnnxAttribute[];
  readonly docString: string;
}

/** A dim of a TensorShapeProto: a number (dim_value), a symbol (dim_param), or undefined (neither). */
export type OnnxDim = number | string | undefined;

export interface OnnxValueInfo {
  readonly name: string;
  /** elem_type of a tensor type; undefined when the type is not a tensor or not given. */
  readonly elemType?: number;
  /** undefined when the shape is not given (unknown rank). */
  readonly dims?: readonly OnnxDim[];
}

export interface OnnxGraph {
  readonly name: string;
  readonly nodes: readonly OnnxNode[];
  readonly initializers: readonly OnnxTensor[];
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  readonly valueInfo: readonly OnnxValueInfo[];
  /** Sparse initializers are not decoded; their count, so the translation can refuse them. */
  readonly sparseInitializers: number;
}

export interface OnnxModel {
  readonly irVersion: number;
  readonly opsetImport: readonly { readonly domain: string; readonly version: number }[];
  readonly producerName: string;
  readonly producerVersion: string;
  readonly graph: OnnxGraph;
  readonly metadataProps: readonly { readonly key: string; readonly value: string }[];
  /** Model-local functions are not decoded; their count. */
  readonly functions: number;
}

/**
 * Reads the bytes of an external-data tensor: `location` as the model names it (relative to the
 * model's folder), `offset` in bytes (0 when not given), `length` in bytes (undefined: to the end).
 */
export type ReadExternal = (location: string, offset: number, length: number | undefined) => Uint8Array;

export interface DecodeOptions {
  /** Names the model in messages (e.g. its path). */
  readonly label?: string;
  /** How to read tensors stored outside the model file (data_location EXTERNAL). */
  readonly readExternal?: ReadExternal;
}

/** A model that breaks the format's own rules; turned into E_MODEL with the label by decodeModel. */
class FormatError extends Error {}

const utf8 = new TextDecoder('utf-8');

/** IEEE half → float. */
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f === 0 ? s * Infinity : NaN;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, DataType.DOUBLE]);
const INT_TYPES = new Set<number>([
  DataType.INT64,
  DataType.INT32,
  DataType.INT16,
  DataType.INT8,
  DataType.UINT8,
  DataType.UINT16,
  DataType.UINT32,
  DataType.BOOL,
]);
/** Bytes per element of raw_data. */
const ELEM_BYTES: Record<number, number> = {
  [DataType.FLOAT]: 4,
  [DataType.FLOAT16]: 2,
  [DataType.BFLOAT16]: 2,
  [DataType.DOUBLE]: 8,
  [DataType.INT64]: 8,
  [DataType.INT32]: 4,
  [DataType.INT16]: 2,
  [DataType.INT8]: 1,
  [DataType.UINT8]: 1,
  [DataType.UINT16]: 2,
  [DataType.UINT32]: 4,
  [DataType.BOOL]: 1,
};

/** Elements of raw little-endian bytes. */
function fromRaw(raw: Uint8Array, dt: number, count: number, where: () => string): Float32Array | Float64Array {
  const size = ELEM_BYTES[dt]!;
  if (raw.length !== count * size) {
    throw new FormatError(`${where()}: raw_data holds ${raw.length} bytes, dims need ${count * size} (${count} × ${size})`);
  }
  const v = new DataView(raw.buffer, raw.byteOffset, raw.length);
  if (dt === DataType.FLOAT) {
    const out = new Float32Array(count);
    for (let k = 0; k < count; k++) out[k] = v.getFloat32(4 * k, true);
    return out;
  }
  if (FLOAT_TYPES.has(dt)) {
    const out = new Float32Array(count);
    for (let k = 0; k < count; k++) {
      if (dt === DataType.DOUBLE) out[k] = v.getFloat64(8 * k, true);
      else if (dt === DataType.FLOAT16) out[k] = halfToFloat(v.getUint16(2 * k, true));
      else out[k] = new Float32Array(new Uint32Array([v.getUint16(2 * k, true) << 16]).buffer)[0]!;
    }
    return out;
  }
  const out = new Float64Array(count);
  for (let k = 0; k < count; k++) {
    switch (dt) {
      case DataType.INT64:
        out[k] = v.getInt32(8 * k + 4, true) * 4294967296 + v.getUint32(8 * k, true);
        break;
      case DataType.INT32:
        out[k] = v.getInt32(4 * k, true);
        break;
      case DataType.UINT32:
        out[k] = v.getUint32(4 * k, true);
        break;
      case DataType.INT16:
        out[k] = v.getInt16(2 * k, true);
        break;
      case DataType.UINT16:
        out[k] = v.getUint16(2 * k, true);
        break;
      case DataType.INT8:
        out[k] = v.getInt8(k);
        break;
      default:
        out[k] = v.getUint8(k); // UINT8, BOOL
    }
  }
  return out;
}

const entries = (list: readonly StringStringEntryProto[] | undefined): { key: string; value: string }[] =>
  (list ?? []).map((e) => ({ key: e.key ?? '', value: e.value ?? '' }));

const numbers = (list: readonly (bigint | number)[] | undefined): number[] => (list ?? []).map(Number);

function toTensor(t: TensorProto, ctx: Ctx): OnnxTensor {
  const name = t.name ?? '';
  const where = (): string => `tensor '${name || '?'}'`;
  const dims = numbers(t.dims);
  for (const d of dims) if (!Number.isSafeInteger(d) || d < 0) throw new FormatError(`${where()} has dim ${d}`);
  const count = dims.reduce((a, b) => a * b, 1);
  const dt = t.data_type ?? DataType.UNDEFINED;
  if (t.segment !== undefined)
    throw new McuError('E_UNSUPPORTED', `${ctx.label}: ${where()} is stored in segments, which the tfjs backend does not read; run it on the onnx backend`);
  if (!FLOAT_TYPES.has(dt) && !INT_TYPES.has(dt)) {
    throw new McuError(
      'E_UNSUPPORTED',
      `${ctx.label}: ${where()} has element type ${dataTypeName(dt)}; the tfjs backend reads float, double, float16, bfloat16, integer and bool tensors — run the model on the onnx backend`,
    );
  }
  let raw = t.raw_data;
  if (t.data_location === TensorProto_DataLocation.EXTERNAL) {
    const info = new Map(entries(t.external_data).map((e) => [e.key, e.value]));
    const location = info.get('location');
    if (location === undefined) throw new FormatError(`${where()} is external but names no location`);
    if (ctx.readExternal === undefined) {
      throw new McuError(
        'E_UNSUPPORTED',
        `${ctx.label}: ${where()} keeps its data in the external file '${location}', and no readExternal callback was given to read it; ` +
          'load the model from its path (so its folder is known), or pass readExternal(location, offset, length)',
      );
    }
    const offset = info.has('offset') ? Number(info.get('offset')) : 0;
    const length = info.has('length') ? Number(info.get('length')) : undefined;
    if (!Number.isSafeInteger(offset) || offset < 0 || (length !== undefined && (!Number.isSafeInteger(length) || length < 0))) {
      throw new FormatError(`${where()} has external offset/length ${info.get('offset')}/${info.get('length')}`);
    }
    raw = ctx.readExternal(location, offset, length);
  }
  let data: Float32Array | Float64Array;
  if (raw !== undefined) data = fromRaw(raw, dt, count, where);
  else {
    const int32 = t.int32_data ?? [];
    let src: readonly number[];
    if (dt === DataType.FLOAT) src = t.float_data ?? [];
    else if (dt === DataType.DOUBLE) src = t.double_data ?? [];
    else if (dt === DataType.INT64) src = numbers(t.int64_data);
    else if (dt === DataType.UINT32) src = numbers(t.uint64_data);
    else if (dt === DataType.FLOAT16) src = int32.map((h) => halfToFloat(h & 0xffff));
    else if (dt === DataType.BFLOAT16) src = int32.map((h) => new Float32Array(new Uint32Array([(h & 0xffff) << 16]).buffer)[0]!);
    else src = int32;
    if (src.length !== count) throw new FormatError(`${where()} holds ${src.length} values, dims [${dims.join(', ')}] need ${count}`);
    data = FLOAT_TYPES.has(dt) ? Float32Array.from(src) : Float64Array.from(src);
  }
  return { name, dims, dataType: dt, data };
}

function toValueInfo(v: ValueInfoProto): OnnxValueInfo {
  const tensor = v.type?.tensor_type;
  const elemType = tensor?.elem_type;
  const dims =
    tensor?.shape?.dim?.map((d): OnnxDim => (d.dim_value !== undefined ? Number(d.dim_value) : d.dim_param)) ?? (tensor?.shape !== undefined ? [] : undefined);
  return { name: v.name ?? '', ...(elemType !== undefined ? { elemType } : {}), ...(dims !== undefined ? { dims } : {}) };
}

function toAttribute(a: AttributeProto, ctx: Ctx): OnnxAttribute {
  const name = a.name ?? '';
  const other =
    (a.tensors?.length ?? 0) +
    (a.graphs?.length ?? 0) +
    (a.sparse_tensor !== undefined ? 1 : 0) +
    (a.sparse_tensors?.length ?? 0) +
    (a.tp !== undefined ? 1 : 0) +
    (a.type_protos?.length ?? 0);
  return {
    name,
    type: a.type ?? AttributeType.UNDEFINED,
    ...(a.f !== undefined ? { f: a.f } : {}),
    ...(a.i !== undefined ? { i: Number(a.i) } : {}),
    ...(a.s !== undefined ? { s: utf8.decode(a.s) } : {}),
    ...(a.t !== undefined ? { t: toTensor(a.t, ctx) } : {}),
    ...(a.g !== undefined ? { g: toGraph(a.g, ctx) } : {}),
    ...(a.floats !== undefined ? { floats: a.floats } : {}),
    ...(a.ints !== undefined ? { ints: numbers(a.ints) } : {}),
    ...(a.strings !== undefined ? { strings: a.strings.map((b) => utf8.decode(b)) } : {}),
    ...(other ? { otherValues: other } : {}),
  };
}

function toNode(n: NodeProto, ctx: Ctx): OnnxNode {
  return {
    inputs: n.input ?? [],
    outputs: n.output ?? [],
    name: n.name ?? '',
    opType: n.op_type ?? '',
    domain: n.domain ?? '',
    attributes: (n.attribute ?? []).map((a) => toAttribute(a, ctx)),
    docString: n.doc_string ?? '',
  };
}

function toGraph(g: GraphProto, ctx: Ctx): OnnxGraph {
  if (++ctx.depth > 64) throw new FormatError('subgraphs nested more than 64 deep');
  const graph: OnnxGraph = {
    name: g.name ?? '',
    nodes: (g.node ?? []).map((n) => toNode(n, ctx)),
    initializers: (g.initializer ?? []).map((t) => toTensor(t, ctx)),
    inputs: (g.input ?? []).map(toValueInfo),
    outputs: (g.output ?? []).map(toValueInfo),
    valueInfo: (g.value_info ?? []).map(toValueInfo),
    sparseInitializers: g.sparse_initializer?.length ?? 0,
  };
  ctx.depth--;
  return graph;
}

interface Ctx {
  label: string;
  readExternal?: ReadExternal;
  depth: number;
}

/** Decode ModelProto bytes. A truncated or garbled file → E_MODEL; tensors that cannot be read → E_UNSUPPORTED. */
export function decodeModel(bytes: Uint8Array, options: DecodeOptions = {}): OnnxModel {
  const label = options.label ?? 'model';
  const ctx: Ctx = { label, depth: 0, ...(options.readExternal ? { readExternal: options.readExternal } : {}) };
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw new McuError('E_MODEL', `${label} is empty: not an ONNX model`);
  try {
    const m = decodeModelProto(bytes);
    if (m.graph === undefined) throw new McuError('E_MODEL', `${label} has no graph: not an ONNX model (or a truncated one)`);
    const irVersion = Number(m.ir_version ?? 0);
    if (irVersion <= 0) throw new McuError('E_MODEL', `${label} declares no IR version: not an ONNX model`);
    return {
      irVersion,
      opsetImport: (m.opset_import ?? []).map((o) => ({ domain: o.domain ?? '', version: Number(o.version ?? 0) })),
      producerName: m.producer_name ?? '',
      producerVersion: m.producer_version ?? '',
      graph: toGraph(m.graph, ctx),
      metadataProps: entries(m.metadata_props),
      functions: m.functions?.length ?? 0,
    };
  } catch (e) {
    if (e instanceof OnnxWireError || e instanceof FormatError) {
      throw new McuError('E_MODEL', `${label} is not a valid ONNX model (protobuf: ${e.message}); the file may be truncated or not ONNX`, { cause: e });
    }
    throw e;
  }
}

/** The attribute of a node, or undefined. */
export function attr(node: OnnxNode, name: string): OnnxAttribute | undefined {
  return node.attributes.find((a) => a.name === name);
}
