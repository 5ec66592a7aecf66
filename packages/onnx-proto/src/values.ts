/**
 * Value checks the generated code calls: cheap ones on encode (a bad value would otherwise
 * be written as garbage), and the `check*` sanitizers for objects built by hand. Errors name
 * the path of the bad field, what was expected and what was received.
 */
import { MAX_DEPTH, OnnxWireError } from './wire.js';

const INT64_MIN = -(1n << 63n);
const INT64_END = 1n << 63n;
const UINT64_END = 1n << 64n;

/** How a value looks in an error message ("an array", "1.5", "\"x\"", "7n"). */
export function describeValue(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return 'bytes';
  if (v !== null && typeof v === 'object') return 'an object';
  return String(v);
}

export function badValue(path: string, want: string, got: unknown): never {
  throw new OnnxWireError(`${path} must be ${want}, got ${describeValue(got)}`, { path });
}

function int64InRange(v: bigint, unsigned: boolean): boolean {
  return unsigned ? v >= 0n && v < UINT64_END : v >= INT64_MIN && v < INT64_END;
}

// ---- encode: accept what the wire can hold, refuse the rest -------------------------------

/** An int64/uint64 field's value on encode: a bigint in range or a safe-integer number. */
// `path` names the field; `index`, when given, the element of a repeated field (the path
// string of an element is only built for the error message).

const at = (path: string, index: number | undefined): string => (index === undefined ? path : `${path}[${index}]`);

export function int64Value(v: unknown, path: string, unsigned: boolean, index?: number): bigint | number {
  if (typeof v === 'bigint') {
    if (int64InRange(v, unsigned)) return v;
    return badValue(at(path, index), unsigned ? 'an unsigned 64-bit integer' : 'a 64-bit integer', v);
  }
  if (typeof v === 'number' && Number.isSafeInteger(v) && (!unsigned || v >= 0)) return v;
  return badValue(at(path, index), 'a 64-bit integer (bigint or safe-integer number)', v);
}

export function int32Value(v: unknown, path: string, index?: number): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= -0x80000000 && v <= 0xffffffff) return v;
  return badValue(at(path, index), 'a 32-bit integer', v);
}

export function numberValue(v: unknown, path: string, index?: number): number {
  if (typeof v === 'number') return v;
  return badValue(at(path, index), 'a number', v);
}

export function stringValue(v: unknown, path: string, index?: number): string {
  if (typeof v === 'string') return v;
  return badValue(at(path, index), 'a string', v);
}

export function bytesValue(v: unknown, path: string, index?: number): Uint8Array {
  if (v instanceof Uint8Array) return v;
  return badValue(at(path, index), 'a Uint8Array', v);
}

export function boolValue(v: unknown, path: string, index?: number): boolean {
  if (typeof v === 'boolean') return v;
  return badValue(at(path, index), 'a boolean', v);
}

export function arrayValue(v: unknown, path: string): readonly unknown[] {
  if (Array.isArray(v)) return v;
  return badValue(path, 'an array', v);
}

export function objectValue(v: unknown, path: string, type: string, depth: number): Record<string, unknown> {
  if (depth > MAX_DEPTH) throw new OnnxWireError(`${path}: messages nested more than ${MAX_DEPTH} deep`, { path });
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) {
    return badValue(path, `a ${type} object`, v);
  }
  return v as Record<string, unknown>;
}

// ---- check: a clean copy of a hand-built value --------------------------------------------

export function checkInt64(v: unknown, path: string, unsigned: boolean): bigint {
  if (typeof v === 'bigint') {
    if (int64InRange(v, unsigned)) return v;
    return badValue(path, unsigned ? 'an unsigned 64-bit integer' : 'a 64-bit integer', v);
  }
  if (typeof v === 'number' && Number.isSafeInteger(v) && (!unsigned || v >= 0)) return BigInt(v);
  return badValue(path, 'a 64-bit integer (bigint)', v);
}

export function checkInteger(v: unknown, path: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  return badValue(path, 'an integer', v);
}

export function checkEnum(v: unknown, path: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  return badValue(path, 'an enum number', v);
}

export const checkNumber = (v: unknown, path: string): number => numberValue(v, path);
export const checkString = (v: unknown, path: string): string => stringValue(v, path);
export const checkBytes = (v: unknown, path: string): Uint8Array => bytesValue(v, path);
export const checkBool = (v: unknown, path: string): boolean => boolValue(v, path);

/**
 * A repeated field: `undefined` when empty (empty repeated fields are absent). Numeric
 * arrays (weights in float_data can be millions long) are checked in place and shared when
 * nothing needs converting; other arrays are mapped element by element.
 */
export function checkRepeated<T>(v: unknown, path: string, one: (x: unknown, p: string) => T, inPlace?: (x: unknown) => boolean): T[] | undefined {
  const a = arrayValue(v, path);
  if (a.length === 0) return undefined;
  if (inPlace !== undefined && a.every(inPlace)) return a as T[];
  return a.map((x, i) => one(x, `${path}[${i}]`));
}

export const isNumber = (x: unknown): boolean => typeof x === 'number';
export const isInteger = (x: unknown): boolean => Number.isInteger(x);
export const isInt64 = (x: unknown): boolean => typeof x === 'bigint' && x >= INT64_MIN && x < INT64_END;
export const isUint64 = (x: unknown): boolean => typeof x === 'bigint' && x >= 0n && x < UINT64_END;
