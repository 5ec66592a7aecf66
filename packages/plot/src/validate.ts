/**
 * Checks on the data a figure is drawn from. A figure of wrong data is a silent wrong answer,
 * so every length and every value is checked, and a failure is an McuError('E_INPUT') that
 * names the field, what was expected and what was received.
 */
import { McuError } from '@mcu/core';

/** What a field may hold: an array or typed array of numbers. */
export type Numbers = ArrayLike<number>;

export const inputError = (msg: string): McuError => new McuError('E_INPUT', msg);

const isArrayLike = (v: unknown): v is ArrayLike<unknown> => Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/**
 * `value` as finite numbers: an array or typed array, of `length` entries when given.
 * `what` names the field in messages ("band plot: std").
 */
export function finiteNumbers(what: string, value: unknown, length?: number): number[] {
  if (!isArrayLike(value)) throw inputError(`${what}: expected an array of numbers, got ${kindOf(value)}`);
  if (length !== undefined && value.length !== length) {
    throw inputError(`${what}: expected ${length} value${length === 1 ? '' : 's'} (one per input), got ${value.length}`);
  }
  const out = new Array<number>(value.length);
  for (let i = 0; i < value.length; i++) {
    const v = value[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw inputError(`${what}[${i}]: expected a finite number, got ${typeof v === 'number' ? String(v) : kindOf(v)}`);
    }
    out[i] = v;
  }
  return out;
}

/** Like {@link finiteNumbers}, and every value ≥ 0 (standard deviations, entropies). */
export function nonNegative(what: string, value: unknown, length?: number): number[] {
  const out = finiteNumbers(what, value, length);
  const bad = out.findIndex((v) => v < 0);
  if (bad >= 0) throw inputError(`${what}[${bad}]: expected a value ≥ 0, got ${out[bad]}`);
  return out;
}

/** A finite number (optionally > 0). */
export function finiteNumber(what: string, value: unknown, positive = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || (positive && value <= 0)) {
    throw inputError(`${what}: expected a finite number${positive ? ' > 0' : ''}, got ${typeof value === 'number' ? String(value) : kindOf(value)}`);
  }
  return value;
}

/** An integer in [min, max]. */
export function integerIn(what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw inputError(`${what}: expected an integer in ${min}..${max}, got ${typeof value === 'number' ? String(value) : kindOf(value)}`);
  }
  return value;
}

/** An optional string (titles, labels). */
export function optionalText(what: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw inputError(`${what}: expected a string, got ${kindOf(value)}`);
  return value;
}

/** An array of `length` strings. */
export function texts(what: string, value: unknown, length: number): string[] {
  if (!Array.isArray(value)) throw inputError(`${what}: expected an array of ${length} strings, got ${kindOf(value)}`);
  if (value.length !== length) throw inputError(`${what}: expected ${length} strings, got ${value.length}`);
  value.forEach((v, i) => {
    if (typeof v !== 'string') throw inputError(`${what}[${i}]: expected a string, got ${kindOf(v)}`);
  });
  return value as string[];
}

/** A plain object (the data argument of a spec builder). */
export function record(what: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw inputError(`${what}: expected an object, got ${kindOf(value)}`);
  }
  return value as Record<string, unknown>;
}
