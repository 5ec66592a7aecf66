/**
 * Checking a ModelProto that did not come from decodeModel (built by hand, passed in as an
 * object) against the schema: every field must have its protobuf type. Returns a clean
 * copy — unknown keys dropped, int64 numbers turned into bigint, byte arrays shared — or
 * throws McuError('E_MODEL') naming the first bad field.
 */
import protobuf from 'protobufjs';
import { McuError } from '@mcu/core';
import { onnxType } from './schema.js';
import type { ModelProto } from './types.js';

const LONG = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const INT32 = new Set(['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32']);
const MAX_DEPTH = 200;
const NUMERIC = new Set([...LONG, ...INT32, 'float', 'double']);

function describeValue(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return 'bytes';
  if (v !== null && typeof v === 'object') return 'an object';
  return String(v);
}

function scalar(field: protobuf.Field, v: unknown, path: string): unknown {
  const bad = (want: string): never => {
    throw new McuError('E_MODEL', `${path} must be ${want}, got ${describeValue(v)}`);
  };
  const t = field.type;
  if (field.resolvedType instanceof protobuf.Enum) {
    if (typeof v !== 'number' || !Number.isInteger(v)) bad('an enum number');
    return v;
  }
  if (LONG.has(t)) {
    if (typeof v === 'bigint') {
      const ok = t === 'uint64' || t === 'fixed64' ? v >= 0n && v < 1n << 64n : v >= -(1n << 63n) && v < 1n << 63n;
      if (!ok) bad('a 64-bit integer');
      return v;
    }
    if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
    return bad('a 64-bit integer (bigint)');
  }
  if (INT32.has(t)) {
    if (typeof v !== 'number' || !Number.isInteger(v)) bad('an integer');
    return v;
  }
  if (t === 'float' || t === 'double') {
    if (typeof v !== 'number') bad('a number');
    return v;
  }
  if (t === 'bool') {
    if (typeof v !== 'boolean') bad('a boolean');
    return v;
  }
  if (t === 'string') {
    if (typeof v !== 'string') bad('a string');
    return v;
  }
  if (t === 'bytes') {
    if (!(v instanceof Uint8Array)) bad('a Uint8Array');
    return v;
  }
  return bad(`a ${t}`);
}

function message(type: protobuf.Type, v: unknown, path: string, depth: number): Record<string, unknown> {
  if (depth > MAX_DEPTH) throw new McuError('E_MODEL', `${path}: messages nested too deeply`);
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) {
    throw new McuError('E_MODEL', `${path} must be an ${type.name} object`);
  }
  const obj = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    const x = obj[field.name];
    if (x === undefined || x === null) continue;
    const p = `${path}.${field.name}`;
    const rt = field.resolvedType;
    const one = (y: unknown, q: string) => (rt instanceof protobuf.Type ? message(rt, y, q, depth + 1) : scalar(field, y, q));
    if (field.repeated) {
      if (!Array.isArray(x)) throw new McuError('E_MODEL', `${p} must be an array`);
      if (x.length === 0) continue;
      // Numeric arrays (weights stored as float_data can be millions long) are checked in
      // place and shared when nothing needs converting; mcu never edits them in place.
      const ok = LONG.has(field.type)
        ? (y: unknown) => typeof y === 'bigint'
        : INT32.has(field.type)
          ? (y: unknown) => Number.isInteger(y)
          : (y: unknown) => typeof y === 'number';
      if (NUMERIC.has(field.type) && !(rt instanceof protobuf.Enum) && x.every(ok)) {
        if (LONG.has(field.type)) x.forEach((y, i) => scalar(field, y, `${p}[${i}]`));
        out[field.name] = x;
      } else out[field.name] = x.map((y, i) => one(y, `${p}[${i}]`));
    } else out[field.name] = one(x, p);
  }
  return out;
}

/** A checked copy of `model` (see the module comment). */
export function sanitizeModel(model: unknown, what = 'model'): ModelProto {
  return message(onnxType('ModelProto'), model, what, 0) as ModelProto;
}
