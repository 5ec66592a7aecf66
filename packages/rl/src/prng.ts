import { McuError } from '@mcu/core';

/*
 * The environment's and the learner's own randomness (item positions, random actions, replay
 * indices, initial weights). Math.random is never used: a run is a function of its seed.
 * Dropout masks do NOT come from here but from @mcu/core's counter-based SeededSampler.
 */

const TWO_POW_32 = 4294967296;

/** One round of a 32-bit finaliser (murmur3 fmix32): spreads every input bit over the output. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Check a seed: a non-negative safe integer (what SeededSampler accepts too). */
export function checkSeed(seed: unknown, what = 'seed'): number {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw new McuError('E_CONFIG', `${what} must be a non-negative integer below 2^53, got ${String(seed)}`);
  }
  return seed;
}

/**
 * xoshiro128** (Blackman & Vigna): four 32-bit words of state, period 2^128 − 1. The state is
 * filled from (seed, stream) through fmix32, so streams of one seed are independent.
 */
export class Prng {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  constructor(seed: number, stream = 0) {
    checkSeed(seed);
    const lo = (seed % TWO_POW_32) >>> 0;
    const hi = Math.floor(seed / TWO_POW_32) >>> 0;
    const st = stream >>> 0;
    this.#s0 = fmix32(lo ^ 0x9e3779b9);
    this.#s1 = fmix32(hi ^ Math.imul(st + 1, 0x7f4a7c15));
    this.#s2 = fmix32((lo + Math.imul(st, 0x85ebca77)) ^ 0xc2b2ae3d);
    this.#s3 = fmix32(hi ^ st ^ 0x27d4eb2f);
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
    for (let i = 0; i < 8; i++) this.nextUint32();
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s0 = this.#s0;
    const s1 = this.#s1;
    const s2 = this.#s2;
    const s3 = this.#s3;
    const m = Math.imul(s1, 5);
    const r = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    let n2 = s2 ^ s0;
    let n3 = s3 ^ s1;
    const n1 = s1 ^ n2;
    const n0 = s0 ^ n3;
    n2 ^= t;
    n3 = (n3 << 11) | (n3 >>> 21);
    this.#s0 = n0 >>> 0;
    this.#s1 = n1 >>> 0;
    this.#s2 = n2 >>> 0;
    this.#s3 = n3 >>> 0;
    return r;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  float(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** A uniform integer in [lo, hi) (the demo's randi). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo));
  }

  /** A standard normal draw (Box–Muller, one of the pair). */
  normal(): number {
    const u1 = (this.nextUint32() + 0.5) / TWO_POW_32;
    const u2 = this.float();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}

/** Stream numbers: each consumer of a run's seed draws from its own stream. */
export const STREAMS = { world: 1, weights: 2, agent: 3 } as const;
