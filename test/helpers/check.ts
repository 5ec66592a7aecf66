/**
 * Small test utilities shared by every package's tests: seeded generators (so failures
 * reproduce) and assertions on the McuErrors that the code under test throws.
 */
import { expect } from 'vitest';
import { isMcuError, type McuError } from '@mcu/core';

/** Seeded LCG (Numerical Recipes constants), uniform in [0, 1). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** mulberry32 (a small seeded PRNG with better low bits than an LCG, uniform in [0, 1)): core's. */
export { mulberry32 } from '@mcu/core';

function checked(thrown: unknown, code: string, patterns: readonly (string | RegExp)[]): McuError {
  expect(thrown, 'expected an McuError to be thrown').toBeDefined();
  expect(isMcuError(thrown), `expected an McuError, got ${String(thrown)}`).toBe(true);
  const err = thrown as McuError;
  expect(err.code).toBe(code);
  for (const p of patterns) expect(err.message).toMatch(p);
  return err;
}

/** `fn` throws an McuError with this code whose message matches every pattern. */
export function expectMcuError(fn: () => unknown, code: string, ...patterns: (string | RegExp)[]): McuError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  return checked(thrown, code, patterns);
}

/** `p` rejects with an McuError with this code whose message matches every pattern. */
export async function expectMcuRejection(p: Promise<unknown>, code: string, ...patterns: (string | RegExp)[]): Promise<McuError> {
  let thrown: unknown;
  try {
    await p;
  } catch (e) {
    thrown = e;
  }
  return checked(thrown, code, patterns);
}

/** The message of the McuError (with this code) that `fn` throws. */
export function mcuErrorMessage(fn: () => unknown, code: string): string {
  return expectMcuError(fn, code).message;
}

/** The code of the McuError `fn` throws, or undefined when it does not throw. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(isMcuError(e), `expected an McuError, got ${String(e)}`).toBe(true);
    return (e as McuError).code;
  }
  return undefined;
}
