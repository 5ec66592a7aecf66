/**
 * Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror & Shaw,
 * "Parallel random numbers: as easy as 1, 2, 3" (SC 2011) — the generator behind
 * Random123, cuRAND's `curandStatePhilox4_32_10` and JAX's default PRNG.
 *
 * A counter-based generator is a keyed bijection: output = f_key(counter). There is no
 * state to advance, so the value for any (key, counter) can be computed directly, in any
 * order, in any chunking — which is what lets mcu promise that a mask never depends on how
 * the samples were split into batches.
 *
 * All arithmetic is exact uint32 arithmetic: `Math.imul` gives the low word of a 32×32
 * product and {@link mulhi32} the high word (through 16-bit halves, so that no intermediate
 * exceeds 2^53).
 */

import { McuError } from '../errors.js';

/** Round multipliers. */
export const PHILOX_M0 = 0xd2511f53;
export const PHILOX_M1 = 0xcd9e8d57;
/** Key schedule increments (Weyl sequence): golden ratio and sqrt(3) − 1. */
export const PHILOX_W0 = 0x9e3779b9;
export const PHILOX_W1 = 0xbb67ae85;
export const PHILOX_ROUNDS = 10;

export type PhiloxCounter = readonly [number, number, number, number];
export type PhiloxKey = readonly [number, number];

/** Low 32 bits of a·b for uint32 a, b, as a uint32. */
export function mullo32(a: number, b: number): number {
  return Math.imul(a, b) >>> 0;
}

/** High 32 bits of the exact 64-bit product a·b for uint32 a, b, as a uint32. */
export function mulhi32(a: number, b: number): number {
  const ah = a >>> 16;
  const al = a & 0xffff;
  const bh = b >>> 16;
  const bl = b & 0xffff;
  // a·b = ah·bh·2^32 + (ah·bl + al·bh)·2^16 + al·bl; every partial product is < 2^32.
  const ll = al * bl;
  const lh = al * bh;
  const hl = ah * bl;
  // Carry out of the low word: bits 16..31 of the sum of the middle terms' low halves.
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff); // < 3·2^16
  return (ah * bh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
}

// 16-bit halves of the multipliers, for the inlined mulhi in the hot loop.
const M0H = PHILOX_M0 >>> 16;
const M0L = PHILOX_M0 & 0xffff;
const M1H = PHILOX_M1 >>> 16;
const M1L = PHILOX_M1 & 0xffff;

function checkUint32(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new McuError('E_INTERNAL', `philox4x32: ${what} must be a uint32 (integer in [0, 2^32)), got ${v}`);
  }
}

/**
 * Philox4x32-10 of one counter under one key. Pure and allocation-light (one result array);
 * checks that every word is a uint32. For hot loops use {@link philox4x32Into}.
 */
export function philox4x32(counter: PhiloxCounter, key: PhiloxKey): [number, number, number, number] {
  for (let i = 0; i < 4; i++) checkUint32(`counter[${i}]`, counter[i]!);
  checkUint32('key[0]', key[0]);
  checkUint32('key[1]', key[1]);
  const out = new Uint32Array(4);
  philox4x32Into(counter[0], counter[1], counter[2], counter[3], key[0], key[1], out, 0);
  return [out[0]!, out[1]!, out[2]!, out[3]!];
}

/**
 * Philox4x32-10 written into `out[offset .. offset + 3]`; allocates nothing.
 * Arguments are taken modulo 2^32 (they are not checked: callers in hot loops pass uint32s).
 */
export function philox4x32Into(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array, offset = 0): void {
  c0 >>>= 0;
  c1 >>>= 0;
  c2 >>>= 0;
  c3 >>>= 0;
  k0 >>>= 0;
  k1 >>>= 0;
  for (let r = 0; r < PHILOX_ROUNDS; r++) {
    if (r > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    // hi0:lo0 = M0 · c0, hi1:lo1 = M1 · c2 (exact 64-bit products).
    const a0h = c0 >>> 16;
    const a0l = c0 & 0xffff;
    const ll0 = a0l * M0L;
    const lh0 = a0l * M0H;
    const hl0 = a0h * M0L;
    const hi0 = (a0h * M0H + (lh0 >>> 16) + (hl0 >>> 16) + (((ll0 >>> 16) + (lh0 & 0xffff) + (hl0 & 0xffff)) >>> 16)) >>> 0;
    const lo0 = Math.imul(c0, PHILOX_M0) >>> 0;

    const a2h = c2 >>> 16;
    const a2l = c2 & 0xffff;
    const ll1 = a2l * M1L;
    const lh1 = a2l * M1H;
    const hl1 = a2h * M1L;
    const hi1 = (a2h * M1H + (lh1 >>> 16) + (hl1 >>> 16) + (((ll1 >>> 16) + (lh1 & 0xffff) + (hl1 & 0xffff)) >>> 16)) >>> 0;
    const lo1 = Math.imul(c2, PHILOX_M1) >>> 0;

    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  out[offset] = c0;
  out[offset + 1] = c1;
  out[offset + 2] = c2;
  out[offset + 3] = c3;
}

/**
 * Philox4x32-10 for `n` consecutive values of the first counter word
 * (c0, c0 + 1, …, c0 + n − 1, wrapping mod 2^32), written as 4·n words into `out` from `offset`.
 */
export function philox4x32Fill(out: Uint32Array, n: number, c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, offset = 0): void {
  if (offset + 4 * n > out.length) {
    throw new McuError('E_INTERNAL', `philox4x32Fill: ${n} blocks from offset ${offset} need ${offset + 4 * n} words, the buffer has ${out.length}`);
  }
  for (let i = 0; i < n; i++) philox4x32Into((c0 + i) >>> 0, c1, c2, c3, k0, k1, out, offset + 4 * i);
}

/** 2^−32, exact. */
export const TWO_POW_M32 = 1 / 4294967296;

/** A uint32 word mapped to a uniform strictly inside (0, 1): (w + 0.5) / 2^32. */
export function uint32ToOpenUnit(w: number): number {
  return ((w >>> 0) + 0.5) * TWO_POW_M32;
}
