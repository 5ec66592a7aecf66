/**
 * A small ONNX protobuf decoder: the protobuf wire format read by hand (no protobufjs, no
 * dependency on @mcu/backend-onnx — backends never import each other), for the messages and
 * fields a translation to the tfjs graph needs. Field numbers are those of onnx.proto.
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

/** TensorProto.DataType values (onnx.proto). */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
} as const;

const DATA_TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(DataType).map(([k, v]) => [v, k]));

/** 'FLOAT', 'INT64', … or 'type 23' for one this decoder does not know. */
export function dataTypeName(t: number): string {
  return DATA_TYPE_NAMES[t] ?? `type ${t}`;
}

/** AttributeProto.AttributeType values (onnx.proto). */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;

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

/** Thrown inside the reader; turned into E_MODEL with the label by decodeModel. */
class WireError extends Error {}

const utf8 = new TextDecoder('utf-8');

/** A cursor over one length-delimited protobuf message. */
class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint as a JS number (int64 two's complement: negatives come back negative). */
  varint(): number {
    let lo = 0;
    let hi = 0;
    let shift = 0;
    const b = this.buf;
    for (let k = 0; k < 10; k++) {
      if (this.pos >= this.end) throw new WireError('truncated varint');
      const byte = b[this.pos++]!;
      // bits 0–31 go to lo, 32–63 to hi; the fifth byte straddles both
      if (shift < 28) lo |= (byte & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (byte & 0x0f) << 28;
        hi |= (byte & 0x70) >>> 4;
      } else hi |= (byte & 0x7f) << (shift - 32);
      shift += 7;
      if ((byte & 0x80) === 0) return (hi | 0) * 4294967296 + (lo >>> 0);
    }
    throw new WireError('varint longer than 10 bytes');
  }

  fixed32(): DataView {
    if (this.pos + 4 > this.end) throw new WireError('truncated fixed32');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4);
    this.pos += 4;
    return v;
  }

  fixed64(): DataView {
    if (this.pos + 8 > this.end) throw new WireError('truncated fixed64');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8);
    this.pos += 8;
    return v;
  }

  /** The [start, end) of a length-delimited field's payload; advances past it. */
  span(): [number, number] {
    const len = this.varint();
    if (len < 0 || this.pos + len > this.end) throw new WireError(`length-delimited field of ${len} bytes runs past its message`);
    const s = this.pos;
    this.pos += len;
    return [s, this.pos];
  }

  sub(): Reader {
    const [s, e] = this.span();
    return new Reader(this.buf, s, e);
  }

  bytes(): Uint8Array {
    const [s, e] = this.span();
    return this.buf.subarray(s, e);
  }

  string(): string {
    return utf8.decode(this.bytes());
  }

  skip(wire: number): void {
    switch (wire) {
      case 0:
        this.varint();
        return;
      case 1:
        this.fixed64();
        return;
      case 2:
        this.span();
        return;
      case 5:
        this.fixed32();
        return;
      default:
        throw new WireError(`wire type ${wire} (groups or garbage)`);
    }
  }

  /** A tag: [field number, wire type]. */
  tag(): [number, number] {
    const t = this.varint();
    const field = Math.floor(t / 8);
    if (field < 1) throw new WireError(`field number ${field}`);
    return [field, t & 7];
  }

  /** Repeated varints, packed (wire 2) or one (wire 0). */
  varints(wire: number, into: number[]): void {
    if (wire === 2) {
      const r = this.sub();
      while (!r.done) into.push(r.varint());
    } else if (wire === 0) into.push(this.varint());
    else throw new WireError(`wire type ${wire} for a varint field`);
  }

  /** Repeated float32, packed or one. */
  floats(wire: number, into: number[]): void {
    if (wire === 2) {
      const [s, e] = this.span();
      if ((e - s) % 4 !== 0) throw new WireError('packed floats not a multiple of 4 bytes');
      const v = new DataView(this.buf.buffer, this.buf.byteOffset + s, e - s);
      for (let o = 0; o < e - s; o += 4) into.push(v.getFloat32(o, true));
    } else if (wire === 5) into.push(this.fixed32().getFloat32(0, true));
    else throw new WireError(`wire type ${wire} for a float field`);
  }

  /** Repeated float64, packed or one. */
  doubles(wire: number, into: number[]): void {
    if (wire === 2) {
      const [s, e] = this.span();
      if ((e - s) % 8 !== 0) throw new WireError('packed doubles not a multiple of 8 bytes');
      const v = new DataView(this.buf.buffer, this.buf.byteOffset + s, e - s);
      for (let o = 0; o < e - s; o += 8) into.push(v.getFloat64(o, true));
    } else if (wire === 1) into.push(this.fixed64().getFloat64(0, true));
    else throw new WireError(`wire type ${wire} for a double field`);
  }
}

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
    throw new WireError(`${where()}: raw_data holds ${raw.length} bytes, dims need ${count * size} (${count} × ${size})`);
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

interface RawTensor {
  name: string;
  dims: number[];
  dataType: number;
  raw?: Uint8Array;
  floatData: number[];
  int32Data: number[];
  int64Data: number[];
  doubleData: number[];
  uint64Data: number[];
  stringCount: number;
  external: { key: string; value: string }[];
  dataLocation: number;
  segment: boolean;
}

function readEntry(r: Reader): { key: string; value: string } {
  let key = '';
  let value = '';
  while (!r.done) {
    const [f, w] = r.tag();
    if (f === 1 && w === 2) key = r.string();
    else if (f === 2 && w === 2) value = r.string();
    else r.skip(w);
  }
  return { key, value };
}

function readTensor(r: Reader, ctx: Ctx): OnnxTensor {
  const t: RawTensor = {
    name: '',
    dims: [],
    dataType: 0,
    floatData: [],
    int32Data: [],
    int64Data: [],
    doubleData: [],
    uint64Data: [],
    stringCount: 0,
    external: [],
    dataLocation: 0,
    segment: false,
  };
  while (!r.done) {
    const [f, w] = r.tag();
    switch (f) {
      case 1:
        r.varints(w, t.dims);
        break;
      case 2:
        t.dataType = r.varint();
        break;
      case 3:
        t.segment = true;
        r.skip(w);
        break;
      case 4:
        r.floats(w, t.floatData);
        break;
      case 5:
        r.varints(w, t.int32Data);
        break;
      case 6:
        t.stringCount++;
        r.skip(w);
        break;
      case 7:
        r.varints(w, t.int64Data);
        break;
      case 8:
        t.name = r.string();
        break;
      case 9:
        t.raw = r.bytes();
        break;
      case 10:
        r.doubles(w, t.doubleData);
        break;
      case 11:
        r.varints(w, t.uint64Data);
        break;
      case 13:
        t.external.push(readEntry(r.sub()));
        break;
      case 14:
        t.dataLocation = r.varint();
        break;
      default:
        r.skip(w);
    }
  }
  return finishTensor(t, ctx);
}

function finishTensor(t: RawTensor, ctx: Ctx): OnnxTensor {
  const where = (): string => `tensor '${t.name || '?'}'`;
  for (const d of t.dims) if (!Number.isSafeInteger(d) || d < 0) throw new WireError(`${where()} has dim ${d}`);
  const count = t.dims.reduce((a, b) => a * b, 1);
  const dt = t.dataType;
  if (t.segment) throw new McuError('E_UNSUPPORTED', `${ctx.label}: ${where()} is stored in segments, which the tfjs backend does not read; run it on the onnx backend`);
  if (!FLOAT_TYPES.has(dt) && !INT_TYPES.has(dt)) {
    throw new McuError(
      'E_UNSUPPORTED',
      `${ctx.label}: ${where()} has element type ${dataTypeName(dt)}; the tfjs backend reads float, double, float16, bfloat16, integer and bool tensors — run the model on the onnx backend`,
    );
  }
  let raw = t.raw;
  if (t.dataLocation === 1) {
    const info = new Map(t.external.map((e) => [e.key, e.value]));
    const location = info.get('location');
    if (location === undefined) throw new WireError(`${where()} is external but names no location`);
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
      throw new WireError(`${where()} has external offset/length ${info.get('offset')}/${info.get('length')}`);
    }
    raw = ctx.readExternal(location, offset, length);
  }
  let data: Float32Array | Float64Array;
  const isFloat = FLOAT_TYPES.has(dt);
  if (raw !== undefined) data = fromRaw(raw, dt, count, where);
  else {
    let src: number[];
    if (dt === DataType.FLOAT) src = t.floatData;
    else if (dt === DataType.DOUBLE) src = t.doubleData;
    else if (dt === DataType.INT64) src = t.int64Data;
    else if (dt === DataType.UINT32) src = t.uint64Data;
    else if (dt === DataType.FLOAT16) src = t.int32Data.map((h) => halfToFloat(h & 0xffff));
    else if (dt === DataType.BFLOAT16) src = t.int32Data.map((h) => new Float32Array(new Uint32Array([(h & 0xffff) << 16]).buffer)[0]!);
    else src = t.int32Data;
    if (src.length !== count) throw new WireError(`${where()} holds ${src.length} values, dims [${t.dims.join(', ')}] need ${count}`);
    data = isFloat ? Float32Array.from(src) : Float64Array.from(src);
  }
  return { name: t.name, dims: t.dims, dataType: dt, data };
}

function readDim(r: Reader): OnnxDim {
  let d: OnnxDim;
  while (!r.done) {
    const [f, w] = r.tag();
    if (f === 1 && w === 0) d = r.varint();
    else if (f === 2 && w === 2) d = r.string();
    else r.skip(w);
  }
  return d;
}

function readValueInfo(r: Reader): OnnxValueInfo {
  let name = '';
  let elemType: number | undefined;
  let dims: OnnxDim[] | undefined;
  while (!r.done) {
    const [f, w] = r.tag();
    if (f === 1 && w === 2) name = r.string();
    else if (f === 2 && w === 2) {
      const type = r.sub();
      while (!type.done) {
        const [tf, tw] = type.tag();
        if (tf === 1 && tw === 2) {
          // TypeProto.Tensor
          const tt = type.sub();
          while (!tt.done) {
            const [xf, xw] = tt.tag();
            if (xf === 1 && xw === 0) elemType = tt.varint();
            else if (xf === 2 && xw === 2) {
              const shape = tt.sub();
              dims = [];
              while (!shape.done) {
                const [sf, sw] = shape.tag();
                if (sf === 1 && sw === 2) dims.push(readDim(shape.sub()));
                else shape.skip(sw);
              }
            } else tt.skip(xw);
          }
        } else type.skip(tw);
      }
    } else r.skip(w);
  }
  return { name, ...(elemType !== undefined ? { elemType } : {}), ...(dims !== undefined ? { dims } : {}) };
}

function readAttribute(r: Reader, ctx: Ctx): OnnxAttribute {
  let name = '';
  let type = 0;
  let f: number | undefined;
  let i: number | undefined;
  let s: string | undefined;
  let t: OnnxTensor | undefined;
  let g: OnnxGraph | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  const strings: string[] = [];
  let other = 0;
  while (!r.done) {
    const [field, w] = r.tag();
    switch (field) {
      case 1:
        name = r.string();
        break;
      case 20:
        type = r.varint();
        break;
      case 2:
        if (w !== 5) throw new WireError(`attribute '${name}': f with wire type ${w}`);
        f = r.fixed32().getFloat32(0, true);
        break;
      case 3:
        i = r.varint();
        break;
      case 4:
        s = r.string();
        break;
      case 5:
        t = readTensor(r.sub(), ctx);
        break;
      case 6:
        g = readGraph(r.sub(), ctx);
        break;
      case 7:
        r.floats(w, floats);
        break;
      case 8:
        r.varints(w, ints);
        break;
      case 9:
        strings.push(r.string());
        break;
      case 10:
      case 11:
      case 22:
      case 23:
      case 14:
      case 15:
        other++;
        r.skip(w);
        break;
      default:
        r.skip(w);
    }
  }
  return {
    name,
    type,
    ...(f !== undefined ? { f } : {}),
    ...(i !== undefined ? { i } : {}),
    ...(s !== undefined ? { s } : {}),
    ...(t !== undefined ? { t } : {}),
    ...(g !== undefined ? { g } : {}),
    ...(floats.length ? { floats } : {}),
    ...(ints.length ? { ints } : {}),
    ...(strings.length ? { strings } : {}),
    ...(other ? { otherValues: other } : {}),
  };
}

function readNode(r: Reader, ctx: Ctx): OnnxNode {
  const inputs: string[] = [];
  const outputs: string[] = [];
  const attributes: OnnxAttribute[] = [];
  let name = '';
  let opType = '';
  let domain = '';
  let docString = '';
  while (!r.done) {
    const [f, w] = r.tag();
    if (f === 1 && w === 2) inputs.push(r.string());
    else if (f === 2 && w === 2) outputs.push(r.string());
    else if (f === 3 && w === 2) name = r.string();
    else if (f === 4 && w === 2) opType = r.string();
    else if (f === 5 && w === 2) attributes.push(readAttribute(r.sub(), ctx));
    else if (f === 6 && w === 2) docString = r.string();
    else if (f === 7 && w === 2) domain = r.string();
    else r.skip(w);
  }
  return { inputs, outputs, name, opType, domain, attributes, docString };
}

function readGraph(r: Reader, ctx: Ctx): OnnxGraph {
  if (++ctx.depth > 64) throw new WireError('subgraphs nested more than 64 deep');
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  const inputs: OnnxValueInfo[] = [];
  const outputs: OnnxValueInfo[] = [];
  const valueInfo: OnnxValueInfo[] = [];
  let name = '';
  let sparse = 0;
  while (!r.done) {
    const [f, w] = r.tag();
    if (f === 1 && w === 2) nodes.push(readNode(r.sub(), ctx));
    else if (f === 2 && w === 2) name = r.string();
    else if (f === 5 && w === 2) initializers.push(readTensor(r.sub(), ctx));
    else if (f === 11 && w === 2) inputs.push(readValueInfo(r.sub()));
    else if (f === 12 && w === 2) outputs.push(readValueInfo(r.sub()));
    else if (f === 13 && w === 2) valueInfo.push(readValueInfo(r.sub()));
    else if (f === 15 && w === 2) {
      sparse++;
      r.skip(w);
    } else r.skip(w);
  }
  ctx.depth--;
  return { name, nodes, initializers, inputs, outputs, valueInfo, sparseInitializers: sparse };
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
  let irVersion = 0;
  let producerName = '';
  let producerVersion = '';
  let graph: OnnxGraph | undefined;
  let functions = 0;
  const opsetImport: { domain: string; version: number }[] = [];
  const metadataProps: { key: string; value: string }[] = [];
  try {
    const r = new Reader(bytes, 0, bytes.length);
    while (!r.done) {
      const [f, w] = r.tag();
      if (f === 1 && w === 0) irVersion = r.varint();
      else if (f === 2 && w === 2) producerName = r.string();
      else if (f === 3 && w === 2) producerVersion = r.string();
      else if (f === 7 && w === 2) graph = readGraph(r.sub(), ctx);
      else if (f === 8 && w === 2) {
        const o = r.sub();
        let domain = '';
        let version = 0;
        while (!o.done) {
          const [of, ow] = o.tag();
          if (of === 1 && ow === 2) domain = o.string();
          else if (of === 2 && ow === 0) version = o.varint();
          else o.skip(ow);
        }
        opsetImport.push({ domain, version });
      } else if (f === 14 && w === 2) metadataProps.push(readEntry(r.sub()));
      else if (f === 25 && w === 2) {
        functions++;
        r.skip(w);
      } else r.skip(w);
    }
  } catch (e) {
    if (e instanceof WireError) {
      throw new McuError('E_MODEL', `${label} is not a valid ONNX model (protobuf: ${e.message}); the file may be truncated or not ONNX`, { cause: e });
    }
    throw e;
  }
  if (graph === undefined) throw new McuError('E_MODEL', `${label} has no graph: not an ONNX model (or a truncated one)`);
  if (irVersion <= 0) throw new McuError('E_MODEL', `${label} declares no IR version: not an ONNX model`);
  return { irVersion, opsetImport, producerName, producerVersion, graph, metadataProps, functions };
}

/** The attribute of a node, or undefined. */
export function attr(node: OnnxNode, name: string): OnnxAttribute | undefined {
  return node.attributes.find((a) => a.name === name);
}
