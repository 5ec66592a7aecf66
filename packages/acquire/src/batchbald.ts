/**
 * BatchBALD (Kirsch, van Amersfoort & Gal, "BatchBALD: Efficient and Diverse Batch Acquisition
 * for Deep Bayesian Active Learning", NeurIPS 2019): the batch A that maximises the mutual
 * information between the labels of its points and the model parameters,
 *
 *   a(A) = H(y_A) − Σ_{i∈A} E_ω[H(y_i | ω)],
 *
 * built greedily (their algorithm 1: add the candidate with the largest a(A ∪ {x}); a is
 * submodular, so greedy is within 1 − 1/e of the best batch). The T MC dropout samples are
 * the ω draws: p(y_A | ω_t) = Π_{i∈A} p_t,i(y_i), which needs every point's sample t to be the
 * same network — mask scope 'sample' (scope 'point' is refused by the scorer).
 *
 * H(y_A ∪ {x}) is computed exactly — enumerating the C^n label configurations with the T × C^n
 * table P[t, y_A] = Π p_t,i(y_i) — while T · C^(n+1) ≤ {@link EXACT_JOINT_BUDGET}; beyond
 * that, from {@link MC_CONFIGURATIONS} configurations of y_A sampled from p(y_A) (their eq. 12:
 * H(y_A, y_x) = E_{y_A}[Σ_c p(c | y_A) (−log p(y_A, c))]), drawn once when the switch happens
 * and extended by each point added, with a seeded generator: the same candidates and seed give
 * the same batch. All sums run in float64 in a fixed order over candidates sorted by row index.
 */
import { McuError, mulberry32 } from '@mcu/core';
import type { Candidate, Scored } from './types.js';

/** Products per candidate evaluation up to which the joint entropy is exact: T · C^(n+1) ≤ 2^21. */
export const EXACT_JOINT_BUDGET = 2 ** 21;
/** Sampled label configurations of the batch once the exact table would exceed the budget. */
export const MC_CONFIGURATIONS = 4096;

/** Entropy (nats) of the mean over T samples of [T, C] class probabilities, and the mean entropy of each sample. */
function marginals(probs: Float32Array, T: number, C: number): { h: number; cond: number } {
  let cond = 0;
  let h = 0;
  for (let c = 0; c < C; c++) {
    let q = 0;
    for (let t = 0; t < T; t++) q += probs[t * C + c]!;
    q /= T;
    if (q > 0) h -= q * Math.log(q);
  }
  for (let t = 0; t < T; t++) {
    let ht = 0;
    for (let c = 0; c < C; c++) {
      const p = probs[t * C + c]!;
      if (p > 0) ht -= p * Math.log(p);
    }
    cond += ht;
  }
  return { h, cond: cond / T };
}

/** BALD of one point from its per-sample class probabilities [T, C]: H[p̄] − mean_t H[p_t] (nats). */
export function baldOf(probs: Float32Array, T: number, C: number): number {
  const { h, cond } = marginals(probs, T, C);
  return h - cond;
}

/** The generator of the Monte Carlo configurations: mulberry32, seeded by the run's seed (both 32-bit halves). */
function generator(seed: number): () => number {
  return mulberry32((seed % 4294967296) ^ Math.imul(Math.floor(seed / 4294967296), 0x85ebca6b) ^ 0x9e3779b9);
}

/** Draw a class from probabilities p[off .. off+C) (float32, possibly not summing to exactly 1). */
function draw(p: Float32Array, off: number, C: number, u: number): number {
  let total = 0;
  for (let c = 0; c < C; c++) total += p[off + c]!;
  let acc = 0;
  const target = u * total;
  for (let c = 0; c < C; c++) {
    acc += p[off + c]!;
    if (target < acc) return c;
  }
  return C - 1;
}

export interface BatchBaldOptions {
  /** T: samples per candidate. */
  readonly samples: number;
  /** C: classes. */
  readonly classes: number;
  /** Seed of the Monte Carlo configurations (the run's seed). */
  readonly seed: number;
  /** Override {@link EXACT_JOINT_BUDGET} (tests). */
  readonly exactBudget?: number;
  /** Override {@link MC_CONFIGURATIONS} (tests). */
  readonly configurations?: number;
}

/**
 * Greedy BatchBALD over `candidates`: k rows in the order they were added, each with a(A)
 * of the batch up to and including it (non-decreasing). Ties go to the lower row index.
 */
export function batchBald(candidates: readonly Candidate[], k: number, options: BatchBaldOptions): Scored[] {
  const T = options.samples;
  const C = options.classes;
  if (!(Number.isSafeInteger(k) && k >= 1)) throw new McuError('E_CONFIG', `k must be an integer ≥ 1, got ${k}`);
  if (k > candidates.length) throw new McuError('E_CONFIG', `BatchBALD: k = ${k} exceeds the ${candidates.length} candidates; raise candidates to at least k`);
  for (const c of candidates) {
    if (c.probs.length !== T * C) {
      throw new McuError('E_INTERNAL', `BatchBALD: candidate row ${c.index} has ${c.probs.length} probabilities, expected T × C = ${T} × ${C}`);
    }
  }
  const budget = options.exactBudget ?? EXACT_JOINT_BUDGET;
  const M = options.configurations ?? MC_CONFIGURATIONS;
  const pool = [...candidates].sort((a, b) => a.index - b.index);
  const condOf = pool.map((c) => marginals(c.probs, T, C).cond);
  const chosen = new Uint8Array(pool.length);
  const out: Scored[] = [];
  let condSum = 0;

  // exact: P[t · K + j] over the K = C^n configurations of the batch
  let P: Float64Array | null = new Float64Array(T).fill(1);
  let K = 1;
  // Monte Carlo: Q[t · M + m] = Π_{i∈A} p_t,i(y_i^m) for sampled configurations m, drawn via ω index omega[m]
  let Q: Float64Array | null = null;
  let omega: Int32Array | null = null;
  let Qm: Float64Array | null = null; // p(y_A^m) = mean_t Q[t, m]
  const next = generator(options.seed);

  const exactJoint = (probs: Float32Array): number => {
    let h = 0;
    for (let j = 0; j < K; j++) {
      for (let c = 0; c < C; c++) {
        let q = 0;
        for (let t = 0; t < T; t++) q += P![t * K + j]! * probs[t * C + c]!;
        q /= T;
        if (q > 0) h -= q * Math.log(q);
      }
    }
    return h;
  };
  const mcJoint = (probs: Float32Array): number => {
    let h = 0;
    for (let m = 0; m < M; m++) {
      const pm = Qm![m]!;
      if (!(pm > 0)) continue;
      for (let c = 0; c < C; c++) {
        let q = 0;
        for (let t = 0; t < T; t++) q += Q![t * M + m]! * probs[t * C + c]!;
        q /= T;
        if (q > 0) h -= (q / pm) * Math.log(q);
      }
    }
    return h / M;
  };

  for (let step = 0; step < k; step++) {
    if (P !== null && T * K * C > budget) {
      // switch to sampled configurations of the batch chosen so far
      Q = new Float64Array(T * M).fill(1);
      omega = new Int32Array(M);
      for (let m = 0; m < M; m++) omega[m] = Math.min(T - 1, Math.floor(next() * T));
      for (const s of out) extendMc(pool.find((c) => c.index === s.index)!.probs);
      P = null;
    }
    let best = -1;
    let bestScore = -Infinity;
    for (let j = 0; j < pool.length; j++) {
      if (chosen[j]) continue;
      const joint = P !== null ? exactJoint(pool[j]!.probs) : mcJoint(pool[j]!.probs);
      const a = joint - (condSum + condOf[j]!);
      if (Number.isNaN(a)) throw new McuError('E_RUNTIME', `BatchBALD: row index ${pool[j]!.index} gives a NaN score; its class probabilities are not numbers`);
      if (a > bestScore) {
        bestScore = a;
        best = j;
      }
    }
    const x = pool[best]!;
    chosen[best] = 1;
    condSum += condOf[best]!;
    out.push({ index: x.index, score: bestScore });
    if (P !== null) {
      const grown = new Float64Array(T * K * C);
      for (let t = 0; t < T; t++) {
        for (let j = 0; j < K; j++) {
          const v = P[t * K + j]!;
          for (let c = 0; c < C; c++) grown[t * K * C + j * C + c] = v * x.probs[t * C + c]!;
        }
      }
      P = grown;
      K *= C;
    } else extendMc(x.probs);
  }
  return out;

  function extendMc(probs: Float32Array): void {
    for (let m = 0; m < M; m++) {
      const y = draw(probs, omega![m]! * C, C, next());
      for (let t = 0; t < T; t++) Q![t * M + m] *= probs[t * C + y]!;
    }
    Qm = new Float64Array(M);
    for (let m = 0; m < M; m++) {
      let s = 0;
      for (let t = 0; t < T; t++) s += Q![t * M + m]!;
      Qm[m] = s / T;
    }
  }
}
