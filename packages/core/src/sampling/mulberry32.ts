/**
 * mulberry32: a small seeded generator of uniform numbers in [0, 1) (32-bit state, period 2^32),
 * for randomness that is not a dropout mask — BatchBALD's Monte Carlo configurations, test and
 * benchmark data. Masks come from Philox ({@link SeededSampler}), whose values are keyed by
 * sample, row, element and site; this one is a plain sequence.
 */
export function mulberry32(state: number): () => number {
  let a = state >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
