import { describe, expect, it } from 'vitest';
import type { Chunk } from '../src/estimators/estimator.js';
import { ClassificationEstimator, type ClassificationResult } from '../src/estimators/index.js';
import type { TensorData } from '../src/tensor.js';
import { codeOf, lcg } from '../../../test/helpers/check.js';

/** logits[t][i][c] → chunks of `size` samples, dims [S·N, C]. */
function chunksOf(logits: number[][][], size: number, dtype: 'float32' | 'float64' = 'float64'): Chunk[] {
  const T = logits.length;
  const N = logits[0].length;
  const C = logits[0][0].length;
  const chunks: Chunk[] = [];
  for (let first = 0; first < T; first += size) {
    const S = Math.min(size, T - first);
    const flat: number[] = [];
    for (let t = first; t < first + S; t++) for (let i = 0; i < N; i++) flat.push(...logits[t][i]);
    const data = dtype === 'float32' ? Float32Array.from(flat) : Float64Array.from(flat);
    const out: TensorData = { dtype, data, dims: [S * N, C] };
    chunks.push({ outputs: { logits: out }, samples: S, rows: N, firstSample: first });
  }
  return chunks;
}

function run(est: ClassificationEstimator, chunks: Chunk[]): ClassificationResult {
  for (const c of chunks) est.update(c);
  return est.result();
}

function bytes(a: Float64Array | Int32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function close(actual: number, expected: number, abs: number): void {
  if (!(Math.abs(actual - expected) <= abs)) throw new Error(`${actual} vs ${expected} (tolerance ${abs})`);
}

const H = (p: number[]): number => -p.reduce((s, v) => s + (v > 0 ? v * Math.log(v) : 0), 0);

describe('ClassificationEstimator: hand-built sets', () => {
  it('two classes, T = 4, known probabilities: p̄, entropy, MI, variation ratio, LL, Brier, ECE', () => {
    const L3 = Math.log(3);
    // softmax: [0,0] → [.5,.5]; [0,ln3] → [.25,.75]; [ln3,0] → [.75,.25].
    const logits = [[[0, 0]], [[0, L3]], [[L3, 0]], [[0, L3]]];
    const r = run(new ClassificationEstimator({ output: 'logits', labels: [1] }), chunksOf(logits, 3));
    // p̄ = [(.5+.25+.75+.25)/4, …] = [0.4375, 0.5625]; inputs ln 3 carry 1 ulp → 1e-15 absolute.
    close(r.probs[0], 0.4375, 1e-15);
    close(r.probs[1], 0.5625, 1e-15);
    expect(r.predicted[0]).toBe(1);
    close(r.confidence[0], 0.5625, 1e-15);
    const hBar = H([0.4375, 0.5625]);
    const hQuarter = H([0.25, 0.75]);
    const expected = (Math.log(2) + 3 * hQuarter) / 4;
    // Entropies of O(1) from O(1) probabilities: 1e-14 absolute.
    close(r.entropy[0], hBar, 1e-14);
    close(r.expectedEntropy[0], expected, 1e-14);
    close(r.mutualInformation[0], hBar - expected, 1e-14);
    // Votes: the tie [0,0] goes to class 0, so [2, 2] → f_mode = 2 → VR = 1 − 2/4.
    expect(Array.from(r.votes)).toEqual([2, 2]);
    expect(r.variationRatio[0]).toBe(0.5);
    close((r.logLikelihood as Float64Array)[0], Math.log(0.5625), 1e-14);
    close(r.meanLogLikelihood as number, Math.log(0.5625), 1e-14);
    expect(r.accuracy).toBe(1);
    close(r.brier as number, 2 * 0.4375 ** 2, 1e-15);
    close(r.ece as number, 1 - 0.5625, 1e-15);
    expect(r.dims).toEqual([1, 2]);
  });

  it('votes [0, 0, 1, 2] → variation ratio 1 − 2/4 (the paper’s, not 1 − max p̄)', () => {
    const logits = [[[1, 0, 0]], [[1, 0, 0]], [[0, 1, 0]], [[0, 0, 1]]];
    const r = run(new ClassificationEstimator({ output: 'logits' }), chunksOf(logits, 1));
    expect(Array.from(r.votes)).toEqual([2, 1, 1]);
    expect(r.variationRatio[0]).toBe(0.5);
    const a = Math.E / (Math.E + 2);
    const b = 1 / (Math.E + 2);
    const pBar = [(2 * a + 2 * b) / 4, (a + 3 * b) / 4, (a + 3 * b) / 4];
    for (let c = 0; c < 3; c++) close(r.probs[c], pBar[c], 1e-15); // O(1) values, few roundings
    // 1 − max p̄ would be different: make sure it is not what we report.
    expect(Math.abs(r.variationRatio[0] - (1 - pBar[0]))).toBeGreaterThan(0.01);
    close(r.entropy[0], H(pBar), 1e-14);
    close(r.expectedEntropy[0], H([a, b, b]), 1e-14);
    expect(r.logLikelihood).toBeNull();
    expect(r.accuracy).toBeNull();
    expect(r.brier).toBeNull();
    expect(r.ece).toBeNull();
  });

  it('identical samples → MI = 0, VR = 0; uniform logits → entropy = log C', () => {
    const row = [0.3, -2.1, 1.7, 0.4, -0.9];
    const logits = Array.from({ length: 9 }, () => [row, [2, 2, 2, 2, 2]]);
    const r = run(new ClassificationEstimator({ output: 'logits' }), chunksOf(logits, 4));
    // Mathematically 0; the clamp guarantees ≥ 0 and round-off is < 1e-15.
    expect(r.mutualInformation[0]).toBeGreaterThanOrEqual(0);
    expect(r.mutualInformation[0]).toBeLessThan(1e-15);
    expect(r.variationRatio[0]).toBe(0);
    close(r.entropy[1], Math.log(5), 1e-15);
    close(r.expectedEntropy[1], Math.log(5), 1e-15);
    for (let c = 0; c < 5; c++) close(r.probs[5 + c], 0.2, 1e-16);
    expect(r.predicted[1]).toBe(0); // ties → lowest class
  });

  it('ECE over several points with 15 bins, by hand', () => {
    // Three points, certain logits so that p̄ is known: confidences ≈ 1, 0.75, 0.75.
    const L3 = Math.log(3);
    const logits = [
      [
        [50, 0],
        [L3, 0],
        [0, L3],
      ],
    ];
    const r = run(new ClassificationEstimator({ output: 'logits', labels: [0, 1, 1] }), chunksOf(logits, 1));
    // Point 0: conf ≈ 1, correct → bin 15 gap ≈ 0. Points 1, 2 in bin (0.733, 0.8]: conf .75,
    // accuracy 1/2 → gap .25, weight 2/3. ECE = 1/3·(1 − conf0) + 2/3·0.25.
    const conf0 = 1 / (1 + Math.exp(-50));
    close(r.ece as number, (1 / 3) * (1 - conf0) + (2 / 3) * 0.25, 1e-15);
    expect(r.accuracy).toBeCloseTo(2 / 3, 15);
  });
});

describe('ClassificationEstimator: streaming equals one-shot', () => {
  const T = 83;
  const N = 7;
  const C = 4;
  const rand = lcg(777);
  const logits = Array.from({ length: T }, () => Array.from({ length: N }, () => Array.from({ length: C }, () => 6 * (rand() - 0.5))));
  const labels = Array.from({ length: N }, () => Math.floor(rand() * C));

  /** Naive one-shot reference: direct softmax, direct logs (fine for moderate logits). */
  function reference(lg: number[][][]) {
    const probs = new Array(N * C).fill(0);
    const sq = new Array(N * C).fill(0);
    const eH = new Array(N).fill(0);
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < N; i++) {
        const z = lg[t][i].reduce((s, v) => s + Math.exp(v), 0);
        const p = lg[t][i].map((v) => Math.exp(v) / z);
        eH[i] += H(p) / T;
        p.forEach((v, c) => {
          probs[i * C + c] += v / T;
          sq[i * C + c] += v * v;
        });
      }
    }
    const ll = labels.map((y, i) => Math.log(probs[i * C + y]));
    const se = probs.map((m, k) => Math.sqrt((sq[k] - T * m * m) / (T - 1) / T));
    return { probs, eH, ll, se };
  }

  for (const dtype of ['float64', 'float32'] as const) {
    it(`${dtype}: chunk sizes 1, 7, 64 and T → byte-identical, equal to the reference`, () => {
      const used = dtype === 'float32' ? logits.map((s) => s.map((r) => r.map((v) => Math.fround(v)))) : logits;
      const ref = reference(used);
      const results = [1, 7, 64, T].map((size) => run(new ClassificationEstimator({ output: 'logits', labels }), chunksOf(used, size, dtype)));
      for (const r of results) {
        for (let k = 0; k < N * C; k++) {
          // Sums of ~80 probabilities in [0, 1] in different orders/forms: 1e-12 relative.
          close(r.probs[k], ref.probs[k], 1e-12 * ref.probs[k]);
          // Σp² − T p̄² loses a few digits to cancellation: 1e-9 relative.
          close(r.probsStandardError[k], ref.se[k], 1e-9 * ref.se[k]);
        }
        for (let i = 0; i < N; i++) {
          close(r.expectedEntropy[i], ref.eH[i], 1e-12 * ref.eH[i]);
          close(r.entropy[i], H(ref.probs.slice(i * C, (i + 1) * C)), 1e-12);
          close((r.logLikelihood as Float64Array)[i], ref.ll[i], 1e-12 * Math.abs(ref.ll[i]));
          // VR from the reference argmax votes.
          const votes = new Array(C).fill(0);
          for (let t = 0; t < T; t++) {
            const row = used[t][i];
            votes[row.indexOf(Math.max(...row))] += 1;
          }
          expect(r.variationRatio[i]).toBe(1 - Math.max(...votes) / T);
        }
      }
      const base = results[0];
      for (const r of results.slice(1)) {
        for (const key of [
          'probs',
          'probsStandardError',
          'predicted',
          'confidence',
          'votes',
          'entropy',
          'expectedEntropy',
          'mutualInformation',
          'variationRatio',
          'logLikelihood',
        ] as const) {
          expect(bytes(r[key] as Float64Array).equals(bytes(base[key] as Float64Array))).toBe(true);
        }
        for (const key of ['meanLogLikelihood', 'accuracy', 'brier', 'ece'] as const) {
          expect(Object.is(r[key], base[key])).toBe(true);
        }
      }
    });
  }

  it('maxStandardError: Infinity before two samples, then the largest probsStandardError', () => {
    const est = new ClassificationEstimator({ output: 'logits' });
    expect(est.maxStandardError()).toBe(Infinity);
    const chunks = chunksOf(logits, 1);
    est.update(chunks[0]);
    expect(est.maxStandardError()).toBe(Infinity);
    expect(Array.from(est.result().probsStandardError).every((v) => v === Infinity)).toBe(true);
    for (const c of chunks.slice(1)) est.update(c);
    expect(est.samples).toBe(T);
    expect(est.maxStandardError()).toBe(Math.max(...est.result().probsStandardError));
  });
});

describe('ClassificationEstimator: large logits', () => {
  it('logits of ±1e4 give finite probabilities, entropies and log-likelihoods', () => {
    const logits = [[[1e4, 0, -1e4]], [[-1e4, 1e4, 0]], [[1e4, 0, -1e4]]];
    const r = run(new ClassificationEstimator({ output: 'logits', labels: [2] }), chunksOf(logits, 2));
    // log_softmax(ŷ_t)[2] = −2e4, −1e4, −2e4 (the others are exp(−1e4) ≈ 0 next to 1).
    const a = [-2e4, -1e4, -2e4];
    const naive = Math.log(a.reduce((s, v) => s + Math.exp(v), 0)) - Math.log(3);
    expect(naive).toBe(-Infinity); // the naive formula fails
    const expected = -1e4 + Math.log(1 + 2 * Math.exp(-1e4)) - Math.log(3);
    close((r.logLikelihood as Float64Array)[0], expected, 1e-12 * 1e4); // magnitude 1e4
    close(r.probs[0], 2 / 3, 1e-15);
    close(r.probs[1], 1 / 3, 1e-15);
    expect(r.probs[2]).toBe(0);
    close(r.expectedEntropy[0], 0, 1e-300); // each p_t is one-hot up to exp(−1e4) = 0
    close(r.entropy[0], H([2 / 3, 1 / 3]), 1e-15);
    expect(Number.isFinite(r.mutualInformation[0])).toBe(true);
  });
});

describe('ClassificationEstimator: validation', () => {
  const one = chunksOf(
    [
      [
        [0, 1],
        [1, 0],
      ],
    ],
    1,
  );

  it('rejects a single class, out-of-range or non-integer labels, wrong label count (E_INPUT)', () => {
    const single: Chunk = { outputs: { logits: { dtype: 'float64', data: new Float64Array(2), dims: [2, 1] } }, samples: 1, rows: 2, firstSample: 0 };
    expect(codeOf(() => new ClassificationEstimator({ output: 'logits' }).update(single))).toBe('E_INPUT');
    const cube: Chunk = { outputs: { logits: { dtype: 'float64', data: new Float64Array(8), dims: [2, 2, 2] } }, samples: 1, rows: 2, firstSample: 0 };
    expect(codeOf(() => new ClassificationEstimator({ output: 'logits' }).update(cube))).toBe('E_INPUT');
    expect(codeOf(() => new ClassificationEstimator({ output: 'logits', labels: [0, 2] }).update(one[0]))).toBe('E_INPUT');
    expect(codeOf(() => new ClassificationEstimator({ output: 'logits', labels: [0, 0.5] }).update(one[0]))).toBe('E_INPUT');
    expect(codeOf(() => new ClassificationEstimator({ output: 'logits', labels: [0] }).update(one[0]))).toBe('E_INPUT');
    expect(codeOf(() => new ClassificationEstimator({ output: 'logits', labels: Int32Array.from([1, 0]) }).update(one[0]))).toBeUndefined();
  });

  it('rejects bad options (E_CONFIG), NaN/Inf logits (E_RUNTIME), empty results', () => {
    expect(codeOf(() => new ClassificationEstimator({ output: 'logits', eceBins: 0 }))).toBe('E_CONFIG');
    expect(codeOf(() => new ClassificationEstimator({ output: '' }))).toBe('E_CONFIG');
    const inf: Chunk = {
      outputs: { logits: { dtype: 'float32', data: Float32Array.from([0, Infinity, 1, 0]), dims: [2, 2] } },
      samples: 1,
      rows: 2,
      firstSample: 0,
    };
    expect(codeOf(() => new ClassificationEstimator({ output: 'logits' }).update(inf))).toBe('E_RUNTIME');
    expect(codeOf(() => new ClassificationEstimator({ output: 'logits' }).result())).toBe('E_RUNTIME');
  });
});

describe('ClassificationEstimator: outputs that are already probabilities', () => {
  it('softmax outputs give the same result as the logits they came from (1e-12)', () => {
    const rand = lcg(99);
    const T = 20;
    const N = 3;
    const C = 4;
    const logits = Array.from({ length: T }, () => Array.from({ length: N }, () => Array.from({ length: C }, () => (rand() - 0.5) * 6)));
    const probs = logits.map((rows) =>
      rows.map((z) => {
        const m = Math.max(...z);
        const e = z.map((v) => Math.exp(v - m));
        const s = e.reduce((a, b) => a + b, 0);
        return e.map((v) => v / s);
      }),
    );
    const a = new ClassificationEstimator({ output: 'logits', labels: [0, 1, 2] });
    const b = new ClassificationEstimator({ output: 'logits', labels: [0, 1, 2], outputs: 'probabilities' });
    for (const c of chunksOf(logits, 7)) a.update(c);
    for (const c of chunksOf(probs, 7)) b.update(c);
    const ra = a.result();
    const rb = b.result();
    for (const key of ['probs', 'entropy', 'mutualInformation', 'variationRatio', 'logLikelihood'] as const) {
      const x = ra[key]!;
      const y = rb[key]!;
      for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - y[i]!)).toBeLessThan(1e-12);
    }
    expect(Array.from(rb.predicted)).toEqual(Array.from(ra.predicted));
  });

  it('values outside [0, 1] are refused with the fix', () => {
    const e = new ClassificationEstimator({ output: 'logits', outputs: 'probabilities' });
    expect(() => e.update(chunksOf([[[2.5, -1]]], 1)[0]!)).toThrow(/declared probabilities.*2\.5.*treat it as logits/);
    expect(codeOf(() => new ClassificationEstimator({ output: 'logits', outputs: 'odds' as never }))).toBe('E_CONFIG');
  });
});
