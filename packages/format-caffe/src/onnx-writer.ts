/**
 * ONNX output of a translated Caffe net: the small model description below (ModelProto,
 * GraphProto, NodeProto, AttributeProto, TensorProto with FLOAT and INT64 as little-endian
 * raw_data, ValueInfoProto with TypeProto.Tensor and TensorShapeProto) turned into
 * @mcu/onnx-proto messages and serialized by its generated encoder, the repository's one ONNX
 * codec. Repeated scalars (dims, ints, floats) are written unpacked, as onnx.proto declares.
 *
 * Large tensors are not copied while the message tree is built: raw_data is a view of a
 * Float32Array's memory (on a little-endian host), copied once into the output.
 */
import {
  AttributeProto_AttributeType as AttributeType,
  encodeModelProto,
  TensorProto_DataType as DataType,
  type AttributeProto,
  type GraphProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from '@mcu/onnx-proto';

/** Element types the writer emits: TensorProto.DataType FLOAT (1) and INT64 (7). */
export type OnnxElemType = 'float' | 'int64';

/** A tensor (initializer or attribute value). `data` holds product(dims) values, row-major. */
export interface OnnxTensor {
  readonly name: string;
  readonly dataType: OnnxElemType;
  readonly dims: readonly number[];
  /** float: Float32Array or numbers; int64: BigInt64Array or (safe integer) numbers. */
  readonly data: Float32Array | BigInt64Array | readonly number[];
}

/** A node attribute; `type` selects AttributeProto.type and the field the value goes to. */
export type OnnxAttribute =
  | { readonly name: string; readonly type: 'float'; readonly value: number }
  | { readonly name: string; readonly type: 'int'; readonly value: number }
  | { readonly name: string; readonly type: 'string'; readonly value: string }
  | { readonly name: string; readonly type: 'tensor'; readonly value: OnnxTensor }
  | { readonly name: string; readonly type: 'floats'; readonly value: readonly number[] }
  | { readonly name: string; readonly type: 'ints'; readonly value: readonly number[] }
  | { readonly name: string; readonly type: 'strings'; readonly value: readonly string[] };

/** A graph node (NodeProto); `domain` absent means the default ONNX domain. */
export interface OnnxNode {
  readonly opType: string;
  readonly name?: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes?: readonly OnnxAttribute[];
  readonly domain?: string;
}

/**
 * A typed value (ValueInfoProto): a tensor of `elemType` (default float). `dims`: a number is a
 * dim_value, a string a dim_param (symbolic), undefined an unknown dim; `dims` undefined: shape
 * unknown (no TensorShapeProto).
 */
export interface OnnxValueInfo {
  readonly name: string;
  readonly elemType?: OnnxElemType;
  readonly dims?: readonly (number | string | undefined)[];
}

/** A graph (GraphProto). */
export interface OnnxGraph {
  readonly name: string;
  readonly nodes: readonly OnnxNode[];
  readonly initializers: readonly OnnxTensor[];
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  readonly valueInfo?: readonly OnnxValueInfo[];
}

/** A model (ModelProto); defaults: ir_version 7, default-domain opset 13, producer 'mcu-format-caffe'. */
export interface OnnxModel {
  readonly graph: OnnxGraph;
  readonly irVersion?: number;
  readonly opsetVersion?: number;
  readonly producerName?: string;
  readonly producerVersion?: string;
  /** metadata_props, in insertion order. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** TensorProto.DataType codes. */
const DATA_TYPE: Record<OnnxElemType, number> = { float: DataType.FLOAT, int64: DataType.INT64 };

/** AttributeProto.AttributeType codes. */
const ATTRIBUTE_TYPE = {
  float: AttributeType.FLOAT,
  int: AttributeType.INT,
  string: AttributeType.STRING,
  tensor: AttributeType.TENSOR,
  floats: AttributeType.FLOATS,
  ints: AttributeType.INTS,
  strings: AttributeType.STRINGS,
} as const;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const TEXT = new TextEncoder();

/** An int64 field's value: safe integers only (a float would be a translation bug). */
function int64(v: number): bigint {
  if (!Number.isSafeInteger(v)) throw new RangeError(`onnx-writer: ${v} is not a safe integer`);
  return BigInt(v);
}

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** The little-endian bytes of a tensor's values (a view, not a copy, for a Float32Array on a little-endian host). */
function rawData(t: OnnxTensor): Uint8Array {
  const n = product(t.dims);
  if (t.data.length !== n) {
    throw new RangeError(`onnx-writer: tensor '${t.name}' has ${t.data.length} values for dims [${t.dims.join(', ')}] (${n})`);
  }
  if (t.dataType === 'float') {
    if (t.data instanceof Float32Array && LITTLE_ENDIAN) return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (t.data instanceof BigInt64Array) throw new TypeError(`onnx-writer: float tensor '${t.name}' holds bigints`);
    const out = new Uint8Array(4 * n);
    const view = new DataView(out.buffer);
    for (let i = 0; i < n; i++) view.setFloat32(4 * i, Number(t.data[i]), true);
    return out;
  }
  const out = new Uint8Array(8 * n);
  const view = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const v = t.data[i]!;
    if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new RangeError(`onnx-writer: int64 tensor '${t.name}' holds ${v}`);
    view.setBigInt64(8 * i, typeof v === 'bigint' ? v : BigInt(v), true);
  }
  return out;
}

function tensorProto(t: OnnxTensor): TensorProto {
  return { dims: t.dims.map(int64), data_type: DATA_TYPE[t.dataType], name: t.name, raw_data: rawData(t) };
}

/** The value goes to the field `type` selects; `type` is always set (readers of IR ≥ 4 require it). */
function attributeProto(a: OnnxAttribute): AttributeProto {
  const out: AttributeProto = { name: a.name, type: ATTRIBUTE_TYPE[a.type] };
  switch (a.type) {
    case 'float':
      out.f = a.value;
      break;
    case 'int':
      out.i = int64(a.value);
      break;
    case 'string':
      out.s = TEXT.encode(a.value);
      break;
    case 'tensor':
      out.t = tensorProto(a.value);
      break;
    case 'floats':
      out.floats = [...a.value];
      break;
    case 'ints':
      out.ints = a.value.map(int64);
      break;
    case 'strings':
      out.strings = a.value.map((v) => TEXT.encode(v));
      break;
  }
  return out;
}

function nodeProto(n: OnnxNode): NodeProto {
  return {
    input: [...n.inputs],
    output: [...n.outputs],
    ...(n.name !== undefined ? { name: n.name } : {}),
    op_type: n.opType,
    attribute: (n.attributes ?? []).map(attributeProto),
    ...(n.domain !== undefined && n.domain !== '' ? { domain: n.domain } : {}),
  };
}

function valueInfoProto(v: OnnxValueInfo): ValueInfoProto {
  const dims = v.dims?.map((d) => (typeof d === 'number' ? { dim_value: int64(d) } : typeof d === 'string' ? { dim_param: d } : {}));
  return {
    name: v.name,
    type: { tensor_type: { elem_type: DATA_TYPE[v.elemType ?? 'float'], ...(dims !== undefined ? { shape: { dim: dims } } : {}) } },
  };
}

function graphProto(g: OnnxGraph): GraphProto {
  return {
    node: g.nodes.map(nodeProto),
    name: g.name,
    initializer: g.initializers.map(tensorProto),
    input: g.inputs.map(valueInfoProto),
    output: g.outputs.map(valueInfoProto),
    value_info: (g.valueInfo ?? []).map(valueInfoProto),
  };
}

/** Serializes a model (defaults: see {@link OnnxModel}). */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  return encodeModelProto({
    ir_version: int64(model.irVersion ?? 7),
    producer_name: model.producerName ?? 'mcu-format-caffe',
    ...(model.producerVersion !== undefined ? { producer_version: model.producerVersion } : {}),
    graph: graphProto(model.graph),
    opset_import: [{ domain: '', version: int64(model.opsetVersion ?? 13) }],
    metadata_props: Object.entries(model.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
}
