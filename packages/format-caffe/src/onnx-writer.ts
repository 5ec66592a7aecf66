/**
 * A minimal ONNX protobuf encoder (no dependency): the subset of onnx.proto that a translated
 * Caffe net needs — ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto (FLOAT and
 * INT64 as little-endian raw_data), ValueInfoProto with TypeProto.Tensor and TensorShapeProto.
 *
 * Field numbers are those of onnx/onnx.proto (proto2). Repeated scalars are written unpacked,
 * as the reference implementation does; every protobuf reader also accepts that form.
 *
 * Large tensors are not copied while the message tree is built: each message is a list of byte
 * chunks whose sizes are known, and the chunks are joined once at the end.
 */

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
const DATA_TYPE: Record<OnnxElemType, number> = { float: 1, int64: 7 };

/** AttributeProto.AttributeType codes. */
const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7, strings: 8 } as const;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const TEXT = new TextEncoder();

/** Protobuf wire types. */
const VARINT = 0;
const FIXED32 = 5;
const LEN = 2;

/**
 * One message being encoded: small fields accumulate in `scratch`, large byte arrays and
 * sub-messages are kept as chunks by reference; `size` is the encoded length so far.
 */
class Writer {
  private readonly chunks: Uint8Array[] = [];
  private scratch: number[] = [];
  size = 0;

  private byte(b: number): void {
    this.scratch.push(b);
    this.size++;
  }

  private flush(): void {
    if (this.scratch.length > 0) {
      this.chunks.push(Uint8Array.from(this.scratch));
      this.scratch = [];
    }
  }

  /** A varint of a non-negative safe integer, or of a negative one as 64-bit two's complement. */
  varint(v: number): void {
    if (!Number.isSafeInteger(v)) throw new RangeError(`onnx-writer: ${v} is not a safe integer`);
    if (v < 0) {
      let u = BigInt.asUintN(64, BigInt(v));
      while (u >= 0x80n) {
        this.byte(Number(u & 0x7fn) | 0x80);
        u >>= 7n;
      }
      this.byte(Number(u));
      return;
    }
    while (v >= 0x80) {
      this.byte((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.byte(v);
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  int(field: number, v: number): void {
    this.tag(field, VARINT);
    this.varint(v);
  }

  float(field: number, v: number): void {
    this.tag(field, FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    for (const x of b) this.byte(x);
  }

  bytes(field: number, b: Uint8Array): void {
    this.tag(field, LEN);
    this.varint(b.length);
    if (b.length <= 64) {
      for (const x of b) this.byte(x);
      return;
    }
    this.flush();
    this.chunks.push(b);
    this.size += b.length;
  }

  string(field: number, s: string): void {
    this.bytes(field, TEXT.encode(s));
  }

  message(field: number, m: Writer): void {
    this.tag(field, LEN);
    this.varint(m.size);
    this.size += m.size;
    if (m.chunks.length === 0) {
      for (const b of m.scratch) this.scratch.push(b);
      return;
    }
    this.flush();
    m.flush();
    for (const c of m.chunks) this.chunks.push(c);
  }

  /** All chunks joined. */
  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
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

/** TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9. */
function tensorProto(t: OnnxTensor): Writer {
  const w = new Writer();
  for (const d of t.dims) w.int(1, d);
  w.int(2, DATA_TYPE[t.dataType]);
  w.string(8, t.name);
  w.bytes(9, rawData(t));
  return w;
}

/**
 * AttributeProto: name = 1, f = 2, i = 3, s = 4, t = 5, floats = 7, ints = 8, strings = 9,
 * type = 20 (always set: readers of IR ≥ 4 require it).
 */
function attributeProto(a: OnnxAttribute): Writer {
  const w = new Writer();
  w.string(1, a.name);
  switch (a.type) {
    case 'float':
      w.float(2, a.value);
      break;
    case 'int':
      w.int(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'tensor':
      w.message(5, tensorProto(a.value));
      break;
    case 'floats':
      for (const v of a.value) w.float(7, v);
      break;
    case 'ints':
      for (const v of a.value) w.int(8, v);
      break;
    case 'strings':
      for (const v of a.value) w.string(9, v);
      break;
  }
  w.int(20, ATTRIBUTE_TYPE[a.type]);
  return w;
}

/** NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5, domain = 7. */
function nodeProto(n: OnnxNode): Writer {
  const w = new Writer();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name !== undefined) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes ?? []) w.message(5, attributeProto(a));
  if (n.domain !== undefined && n.domain !== '') w.string(7, n.domain);
  return w;
}

/**
 * ValueInfoProto: name = 1, type = 2 → TypeProto: tensor_type = 1 → Tensor: elem_type = 1,
 * shape = 2 → TensorShapeProto: dim = 1 → Dimension: dim_value = 1, dim_param = 2.
 */
function valueInfoProto(v: OnnxValueInfo): Writer {
  const tensor = new Writer();
  tensor.int(1, DATA_TYPE[v.elemType ?? 'float']);
  if (v.dims !== undefined) {
    const shape = new Writer();
    for (const d of v.dims) {
      const dim = new Writer();
      if (typeof d === 'number') dim.int(1, d);
      else if (typeof d === 'string') dim.string(2, d);
      shape.message(1, dim);
    }
    tensor.message(2, shape);
  }
  const type = new Writer();
  type.message(1, tensor);
  const w = new Writer();
  w.string(1, v.name);
  w.message(2, type);
  return w;
}

/** GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12, value_info = 13. */
function graphProto(g: OnnxGraph): Writer {
  const w = new Writer();
  for (const n of g.nodes) w.message(1, nodeProto(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, tensorProto(t));
  for (const v of g.inputs) w.message(11, valueInfoProto(v));
  for (const v of g.outputs) w.message(12, valueInfoProto(v));
  for (const v of g.valueInfo ?? []) w.message(13, valueInfoProto(v));
  return w;
}

/**
 * Serializes a model: ModelProto ir_version = 1, producer_name = 2, producer_version = 3,
 * graph = 7, opset_import = 8 (OperatorSetIdProto domain = 1, version = 2), metadata_props = 14
 * (StringStringEntryProto key = 1, value = 2).
 */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const w = new Writer();
  w.int(1, model.irVersion ?? 7);
  w.string(2, model.producerName ?? 'mcu-format-caffe');
  if (model.producerVersion !== undefined) w.string(3, model.producerVersion);
  w.message(7, graphProto(model.graph));
  const opset = new Writer();
  opset.string(1, '');
  opset.int(2, model.opsetVersion ?? 13);
  w.message(8, opset);
  for (const [key, value] of Object.entries(model.metadata ?? {})) {
    const entry = new Writer();
    entry.string(1, key);
    entry.string(2, value);
    w.message(14, entry);
  }
  return w.finish();
}
