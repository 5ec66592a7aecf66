/**
 * The top-k selection: higher score first, then the lower row index, so the result is one
 * total order whatever order rows arrive in. A bounded binary heap keeps memory at k entries
 * whatever the pool size.
 */
import { McuError } from '@mcu/core';
import type { Scored } from './types.js';

/** True when a ranks before b: higher score, then lower index. */
export function ranksBefore(a: Scored, b: Scored): boolean {
  return a.score > b.score || (a.score === b.score && a.index < b.index);
}

/** Sort comparator of the ranking (best first). */
export function byRank(a: Scored, b: Scored): number {
  if (a.score !== b.score) return b.score - a.score;
  return a.index - b.index;
}

/** A min-heap (worst kept entry at the root) of at most k entries; an entry may carry more than its index and score. */
export class TopK<E extends Scored = Scored> {
  readonly #k: number;
  readonly #heap: E[] = [];

  constructor(k: number) {
    if (!(Number.isSafeInteger(k) && k >= 1)) throw new McuError('E_CONFIG', `k must be an integer ≥ 1, got ${k}`);
    this.#k = k;
  }

  get size(): number {
    return this.#heap.length;
  }

  /** Would an entry with this score and index be kept? (Lets a caller skip building a large entry.) */
  wouldKeep(index: number, score: number): boolean {
    return this.#heap.length < this.#k || ranksBefore({ index, score }, this.#heap[0]!);
  }

  /** Offer a row; NaN is refused (a NaN cannot be ranked) — E_RUNTIME naming the row. */
  push(index: number, score: number): void {
    this.offer({ index, score } as E);
  }

  /** Offer an entry; the heap keeps it (and drops its worst) only when it ranks among the k best. */
  offer(e: E): void {
    if (Number.isNaN(e.score)) {
      throw new McuError('E_RUNTIME', `row index ${e.index} scored NaN (the model's output for it is not a number); check that row's features and the model`);
    }
    const h = this.#heap;
    if (h.length < this.#k) {
      h.push(e);
      this.#up(h.length - 1);
    } else if (ranksBefore(e, h[0]!)) {
      h[0] = e;
      this.#down(0);
    }
  }

  /** The kept entries, best first. */
  sorted(): E[] {
    return [...this.#heap].sort(byRank);
  }

  #up(i: number): void {
    const h = this.#heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      // the root is the entry that ranks last
      if (!ranksBefore(h[p]!, h[i]!)) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  #down(i: number): void {
    const h = this.#heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let worst = i;
      if (l < h.length && ranksBefore(h[worst]!, h[l]!)) worst = l;
      if (r < h.length && ranksBefore(h[worst]!, h[r]!)) worst = r;
      if (worst === i) return;
      [h[worst], h[i]] = [h[i]!, h[worst]!];
      i = worst;
    }
  }
}
