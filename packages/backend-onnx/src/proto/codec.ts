/**
 * ONNX protobuf I/O: bytes ⇄ plain objects (see ./types.ts for the conventions).
 *
 * protobufjs does the wire work (it rejects a declared length beyond the buffer and nests at
 * most 100 messages deep); this module converts its messages into plain snake_case objects
 * with int64 as `bigint`, and turns every failure into McuError('E_MODEL').
 */
import protobuf from 'protobufjs';
import { McuError } from '@mcu/core';
import { onnxType } from './schema.js';
import type { ModelProto, TensorProto } from './types.js';

type Plain = Record<string, unknown>;

const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const UNSIGNED_LONG_TYPES = new Set(['uint64', 'fixed64']);

/** Nesting guard for our own walkers (protobufjs stops at 100 message levels already). */
const MAX_DEPTH = 200;

interface LongLike {
  low: number;
  high: number;
  unsigned?: boolean;
}

function longToBigint(v: unknown, unsigned: boolean): bigint {
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'bigint') return v;
  if (typeof v === 'string') return BigInt(v);
  const l = v as LongLike;
  const raw = (BigInt(l.high | 0) << 32n) | BigInt(l.low >>> 0);
  return unsigned ? BigInt.asUintN(64, raw) : BigInt.asIntN(64, raw);
}

function bigintToLong(v: unknown, unsigned: boolean, where: string): LongLike {
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
  else if (typeof v === 'string' && /^-?\d+$/.test(v)) b = BigInt(v);
  else if (v !== null && typeof v === 'object' && 'low' in v && 'high' in v) return v as LongLike;
  else throw new McuError('E_MODEL', `cannot encode ${where}: ${String(v)} is not a 64-bit integer`);
  const u = BigInt.asUintN(64, b);
  return { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0, unsigned };
}

function toUint8(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return Uint8Array.from(v as number[]);
  return new Uint8Array(0);
}

function fromMessage(type: protobuf.Type, msg: Plain, depth: number): Plain {
  if (depth > MAX_DEPTH) throw new Error('messages nested too deeply');
  const out: Plain = {};
  for (const field of type.fieldsArray) {
    const name = field.name;
    if (!Object.prototype.hasOwnProperty.call(msg, name)) continue;
    const v = msg[name];
    if (v === undefined || v === null) continue;
    const convert = converterFrom(field, depth);
    if (field.repeated) {
      const arr = v as unknown[];
      if (arr.length === 0) continue;
      out[name] = convert === null ? arr.slice() : arr.map(convert);
    } else {
      out[name] = convert === null ? v : convert(v);
    }
  }
  return out;
}

function converterFrom(field: protobuf.Field, depth: number): ((v: unknown) => unknown) | null {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Type) return (v) => fromMessage(rt, v as Plain, depth + 1);
  if (LONG_TYPES.has(field.type)) {
    const unsigned = UNSIGNED_LONG_TYPES.has(field.type);
    return (v) => longToBigint(v, unsigned);
  }
  if (field.type === 'bytes') return toUint8;
  return null;
}

function toMessage(type: protobuf.Type, obj: Plain, depth: number, path: string): Plain {
  if (depth > MAX_DEPTH) throw new McuError('E_MODEL', `cannot encode ${path}: nested too deeply`);
  if (obj === null || typeof obj !== 'object') {
    throw new McuError('E_MODEL', `cannot encode ${path}: expected an object`);
  }
  const out: Plain = {};
  for (const field of type.fieldsArray) {
    const name = field.name;
    const v = obj[name];
    if (v === undefined || v === null) continue;
    const where = `${path}.${name}`;
    const rt = field.resolvedType;
    let convert: ((x: unknown) => unknown) | null = null;
    if (rt instanceof protobuf.Type) convert = (x) => toMessage(rt, x as Plain, depth + 1, where);
    else if (LONG_TYPES.has(field.type)) {
      const unsigned = UNSIGNED_LONG_TYPES.has(field.type);
      convert = (x) => bigintToLong(x, unsigned, where);
    }
    if (field.repeated) {
      if (!Array.isArray(v)) throw new McuError('E_MODEL', `cannot encode ${where}: expected an array`);
      if (v.length === 0) continue;
      out[name] = convert === null ? v : v.map(convert);
    } else {
      out[name] = convert === null ? v : convert(v);
    }
  }
  return out;
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** protobufjs's decode errors, said in terms of the file. */
function decodeProblem(e: unknown): string {
  const msg = describe(e);
  const range = /index out of range: (\d+) \+ (\d+) > (\d+)/.exec(msg);
  if (range) {
    return `a field at byte ${range[1]} declares ${range[2]} bytes but the data ends at byte ${range[3]} — the file is truncated or is not an ONNX model`;
  }
  if (/^index out of range$/.test(msg)) {
    return 'a field declares more bytes than the data holds — the file is truncated or is not an ONNX model';
  }
  const wire = /invalid wire type (\d+) at offset (\d+)/.exec(msg);
  if (wire) return `invalid protobuf wire type ${wire[1]} at byte ${wire[2]} — this is not an ONNX model`;
  return msg;
}

/** Decode one message of `typeName` (e.g. 'TensorProto'); failures → McuError('E_MODEL'). */
export function decodeMessage<T>(typeName: string, bytes: Uint8Array, what: string): T {
  if (!(bytes instanceof Uint8Array)) {
    throw new McuError('E_MODEL', `${what}: expected bytes (Uint8Array), got ${typeof bytes}`);
  }
  if (protobuf.util.Long === undefined || protobuf.util.Long === null) {
    // Without Long, protobufjs would decode int64 as lossy numbers.
    throw new McuError('E_INTERNAL', 'protobufjs has no Long support: int64 values would be lossy');
  }
  const type = onnxType(typeName);
  try {
    const msg = type.decode(bytes) as unknown as Plain;
    return fromMessage(type, msg, 0) as T;
  } catch (e) {
    if (e instanceof McuError) throw e;
    throw new McuError(
      'E_MODEL',
      `${what} is not a valid ONNX ${typeName} (${bytes.byteLength} bytes): ${decodeProblem(e)}`,
      { cause: e },
    );
  }
}

/** Encode one message of `typeName`; failures → McuError('E_MODEL'). */
export function encodeMessage(typeName: string, value: object, what: string): Uint8Array {
  const type = onnxType(typeName);
  try {
    const msg = toMessage(type, value as Plain, 0, what);
    const buf = type.encode(msg).finish();
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    if (e instanceof McuError) throw e;
    throw new McuError('E_MODEL', `cannot encode ${what} as ONNX ${typeName}: ${describe(e)}`, {
      cause: e,
    });
  }
}

/**
 * Parse an ONNX model. `what` names the source in error messages (a file path).
 * Throws McuError('E_MODEL') for anything that is not a protobuf ModelProto with a graph.
 */
export function decodeModel(bytes: Uint8Array, what = 'model'): ModelProto {
  const model = decodeMessage<ModelProto>('ModelProto', bytes, what);
  if (model.graph === undefined) {
    throw new McuError(
      'E_MODEL',
      `${what} is not an ONNX model: it has no graph (${bytes instanceof Uint8Array ? bytes.byteLength : 0} bytes)`,
    );
  }
  return model;
}

/** Serialize a model (int64 fields as bigint or safe-integer numbers). */
export function encodeModel(model: ModelProto, what = 'model'): Uint8Array {
  return encodeMessage('ModelProto', model, what);
}

/** Parse a serialized TensorProto (e.g. ONNX test-data `input_0.pb`). */
export function decodeTensor(bytes: Uint8Array, what = 'tensor'): TensorProto {
  return decodeMessage<TensorProto>('TensorProto', bytes, what);
}

export function encodeTensor(tensor: TensorProto, what = 'tensor'): Uint8Array {
  return encodeMessage('TensorProto', tensor, what);
}
