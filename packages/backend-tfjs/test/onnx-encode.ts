// A minimal ONNX protobuf WRITER for the tests (field numbers of onnx.proto): builds the small
// hand-made models that onnx-decode / onnx-ops tests translate. Not used by the package.

type Bytes = number[];

function varint(v: number | bigint, out: Bytes): void {
  let x = BigInt.asUintN(64, BigInt(v));
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x) b |= 0x80;
    out.push(b);
  } while (x);
}
const tag = (field: number, wire: number, out: Bytes): void => varint(field * 8 + wire, out);
export function fieldVarint(field: number, v: number | bigint, out: Bytes): void {
  tag(field, 0, out);
  varint(v, out);
}
export function fieldBytes(field: number, b: Uint8Array | Bytes, out: Bytes): void {
  tag(field, 2, out);
  varint(b.length, out);
  for (const x of b) out.push(x);
}
const fieldString = (field: number, s: string, out: Bytes): void => fieldBytes(field, [...new TextEncoder().encode(s)], out);
function fieldFloat(field: number, f: number, out: Bytes): void {
  tag(field, 5, out);
  out.push(...new Uint8Array(Float32Array.of(f).buffer));
}
function packedVarints(field: number, vs: readonly (number | bigint)[], out: Bytes): void {
  const b: Bytes = [];
  for (const v of vs) varint(v, b);
  fieldBytes(field, b, out);
}
function packedFloats(field: number, vs: readonly number[], out: Bytes): void {
  fieldBytes(field, [...new Uint8Array(Float32Array.from(vs).buffer)], out);
}
function packedDoubles(field: number, vs: readonly number[], out: Bytes): void {
  fieldBytes(field, [...new Uint8Array(Float64Array.from(vs).buffer)], out);
}

export interface TensorSpec {
  name: string;
  dims: number[];
  /** DataType: 1 FLOAT, 6 INT32, 7 INT64, 9 BOOL, 10 FLOAT16, 11 DOUBLE, … */
  type: number;
  floats?: number[];
  int64s?: (number | bigint)[];
  int32s?: number[];
  doubles?: number[];
  raw?: Uint8Array;
  external?: { location: string; offset?: number; length?: number };
}

export function tensor(t: TensorSpec): Bytes {
  const out: Bytes = [];
  packedVarints(1, t.dims, out);
  fieldVarint(2, t.type, out);
  if (t.floats) packedFloats(4, t.floats, out);
  if (t.int32s) packedVarints(5, t.int32s, out);
  if (t.int64s) packedVarints(7, t.int64s, out);
  fieldString(8, t.name, out);
  if (t.raw) fieldBytes(9, t.raw, out);
  if (t.doubles) packedDoubles(10, t.doubles, out);
  if (t.external) {
    const entry = (k: string, v: string): Bytes => {
      const e: Bytes = [];
      fieldString(1, k, e);
      fieldString(2, v, e);
      return e;
    };
    fieldBytes(13, entry('location', t.external.location), out);
    if (t.external.offset !== undefined) fieldBytes(13, entry('offset', String(t.external.offset)), out);
    if (t.external.length !== undefined) fieldBytes(13, entry('length', String(t.external.length)), out);
    fieldVarint(14, 1, out);
  }
  return out;
}

/** A float tensor from plain values. */
export const floats = (name: string, dims: number[], values: number[]): TensorSpec => ({ name, dims, type: 1, floats: values });
/** An int64 tensor from plain values. */
export const int64s = (name: string, dims: number[], values: (number | bigint)[]): TensorSpec => ({ name, dims, type: 7, int64s: values });

export type AttrValue = number | string | number[] | { floats: number[] } | { tensor: TensorSpec } | { graph: GraphSpec } | { strings: string[] };

function attribute(name: string, v: AttrValue): Bytes {
  const out: Bytes = [];
  fieldString(1, name, out);
  if (typeof v === 'number') {
    if (Number.isInteger(v) && !Object.is(v, -0)) {
      fieldVarint(3, v, out);
      fieldVarint(20, 2, out);
    } else {
      fieldFloat(2, v, out);
      fieldVarint(20, 1, out);
    }
  } else if (typeof v === 'string') {
    fieldString(4, v, out);
    fieldVarint(20, 3, out);
  } else if (Array.isArray(v)) {
    packedVarints(8, v, out);
    fieldVarint(20, 7, out);
  } else if ('floats' in v) {
    packedFloats(7, v.floats, out);
    fieldVarint(20, 6, out);
  } else if ('tensor' in v) {
    fieldBytes(5, tensor(v.tensor), out);
    fieldVarint(20, 4, out);
  } else if ('graph' in v) {
    fieldBytes(6, graph(v.graph), out);
    fieldVarint(20, 5, out);
  } else {
    for (const s of v.strings) fieldString(9, s, out);
    fieldVarint(20, 8, out);
  }
  return out;
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  /** Numbers: integral → INT, else FLOAT; `{ float: 1 }` forces FLOAT. */
  attrs?: Record<string, AttrValue | { float: number }>;
}

function node(n: NodeSpec): Bytes {
  const out: Bytes = [];
  for (const i of n.inputs) fieldString(1, i, out);
  for (const o of n.outputs) fieldString(2, o, out);
  fieldString(3, n.name ?? n.outputs[0] ?? '', out);
  fieldString(4, n.op, out);
  for (const [k, v] of Object.entries(n.attrs ?? {})) {
    if (typeof v === 'object' && v !== null && 'float' in v) {
      const a: Bytes = [];
      fieldString(1, k, a);
      fieldFloat(2, v.float, a);
      fieldVarint(20, 1, a);
      fieldBytes(5, a, out);
    } else fieldBytes(5, attribute(k, v as AttrValue), out);
  }
  if (n.domain !== undefined) fieldString(7, n.domain, out);
  return out;
}

export interface ValueSpec {
  name: string;
  /** 1 FLOAT (default), 7 INT64 */
  type?: number;
  dims?: (number | string)[];
}

function valueInfo(v: ValueSpec): Bytes {
  const dims: Bytes = [];
  for (const d of v.dims ?? []) {
    const dim: Bytes = [];
    if (typeof d === 'number') fieldVarint(1, d, dim);
    else fieldString(2, d, dim);
    fieldBytes(1, dim, dims);
  }
  const tt: Bytes = [];
  fieldVarint(1, v.type ?? 1, tt);
  if (v.dims) fieldBytes(2, dims, tt);
  const type: Bytes = [];
  fieldBytes(1, tt, type);
  const out: Bytes = [];
  fieldString(1, v.name, out);
  fieldBytes(2, type, out);
  return out;
}

export interface GraphSpec {
  nodes: NodeSpec[];
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  initializers?: TensorSpec[];
  name?: string;
}

function graph(g: GraphSpec): Bytes {
  const out: Bytes = [];
  for (const n of g.nodes) fieldBytes(1, node(n), out);
  fieldString(2, g.name ?? 'g', out);
  for (const t of g.initializers ?? []) fieldBytes(5, tensor(t), out);
  for (const v of g.inputs) fieldBytes(11, valueInfo(v), out);
  for (const v of g.outputs) fieldBytes(12, valueInfo(v), out);
  return out;
}

/** ModelProto bytes: IR 8, the default-domain opset, the graph, optional metadata. */
export function model(g: GraphSpec, opset = 13, metadata: Record<string, string> = {}): Uint8Array {
  const out: Bytes = [];
  fieldVarint(1, 8, out);
  fieldString(2, 'mcu-test', out);
  fieldBytes(7, graph(g), out);
  const os: Bytes = [];
  fieldString(1, '', os);
  fieldVarint(2, opset, os);
  fieldBytes(8, os, out);
  for (const [k, v] of Object.entries(metadata)) {
    const e: Bytes = [];
    fieldString(1, k, e);
    fieldString(2, v, e);
    fieldBytes(14, e, out);
  }
  return Uint8Array.from(out);
}
