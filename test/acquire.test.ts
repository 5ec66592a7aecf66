// @mcu/acquire end to end on real models: the selection is the same (deep-equal and the same
// bytes) for one thread, two worker threads and any shard size; its scores are core predict's
// per-row values; bad input is refused before any row is scored. LeNet (PyTorch 1.13 export,
// test/fixtures) for the classification heuristics, the CO2 example for std.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AcquireOptions, acquire, formatSelection, type Heuristic, modelHash, type Selection } from '@mcu/acquire';
import { onnxModule } from '@mcu/backend-onnx';
import { type ClassificationPrediction, createMcu, type McuError, type Mcu, predict, type RegressionPrediction } from '@mcu/core';
import { mcuError, npyBytes, rng, tempDir } from '../packages/acquire/test/helpers.js';
import { fixturePath } from './helpers/fixtures.js';
import { writeSoftmaxModel } from './helpers/flag-models.js';

const CO2 = { path: 'examples/co2_relu.preserve.onnx' };
const LENET = { path: fixturePath('pytorch-1.13/lenet.preserve.onnx') };
const tmp = tempDir();
let mcu: Mcu;

// pool sizes that are not multiples of B, so the last block is short
const CO2_ROWS = 300;
const LENET_ROWS = 100;
const co2x = Float32Array.from({ length: CO2_ROWS }, (_, i) => -2 + (6 * i) / CO2_ROWS);
const r = rng(7);
const lenetx = Float32Array.from({ length: LENET_ROWS * 784 }, () => r());
const co2Pool = { path: join(tmp.dir, 'co2.npy') };
const lenetPool = { path: join(tmp.dir, 'lenet.npy') };

beforeAll(() => {
  writeFileSync(co2Pool.path, npyBytes('<f4', [CO2_ROWS, 1], co2x));
  writeFileSync(lenetPool.path, npyBytes('<f4', [LENET_ROWS, 784], lenetx));
  mcu = createMcu({ backends: ['onnx'], modules: [onnxModule] });
});
afterAll(async () => {
  await mcu.dispose();
  tmp.remove();
});

/** The reference ranking of all rows: higher score first, then the lower index. */
function bruteTop(scores: ArrayLike<number>, k: number): { index: number; score: number }[] {
  return Array.from(scores, (score, index) => ({ index, score }))
    .sort((a, b) => (a.score === b.score ? a.index - b.index : a.score > b.score ? -1 : 1))
    .slice(0, k);
}

/** The same selection, by value and by the bytes written, for every configuration. */
async function sameForAnySharding(base: AcquireOptions, B: number): Promise<Selection> {
  const one = await acquire({ ...base, blockRows: B, workers: 1 });
  const bytes = formatSelection(one, 'json');
  for (const variant of [
    { workers: 1, shardRows: B },
    { workers: 1, shardRows: 3 * B },
    { workers: 1, shardRows: 7 * B },
    { workers: 2, shardRows: 3 * B },
  ]) {
    const other = await acquire({ ...base, blockRows: B, ...variant });
    expect(other, JSON.stringify(variant)).toEqual(one);
    expect(formatSelection(other, 'json'), JSON.stringify(variant)).toBe(bytes);
    expect(formatSelection(other, 'csv')).toBe(formatSelection(one, 'csv'));
  }
  return one;
}

describe('std on the CO2 example (regression)', () => {
  for (const scope of ['sample', 'point'] as const) {
    it(`scope ${scope}: one selection for 1 thread, 2 threads and shards of B, 3B, 7B; scores are predict's std`, async () => {
      const T = 20;
      const base: AcquireOptions = { model: CO2, pool: co2Pool, heuristic: 'std', k: 7, samples: T, seed: 3, scope, tau: 50 };
      const sel = await sameForAnySharding(base, 32);
      const p = await predict(CO2.path, { data: co2x, dims: [CO2_ROWS, 1] }, { mcu, samples: T, seed: 3, scope, tau: 50, batchSize: 32 });
      const y = Object.values(p.outputs)[0] as RegressionPrediction;
      // the same masks, rows per call and samples per call as predict's batches of 32: the same numbers, bit for bit
      expect(sel.selected).toEqual(bruteTop(y.std, 7));
      expect(sel).toMatchObject({ heuristic: 'std', k: 7, samples: T, seed: 3, scope, blockRows: 32, poolRows: CO2_ROWS });
      expect(sel.modelHash).toBe(`sha256:${createHash('sha256').update(readFileSync(CO2.path)).digest('hex')}`);
    });
  }

  it('reads a CSV pool to the same selection as the NPY pool', async () => {
    const csv = join(tmp.dir, 'co2.csv');
    writeFileSync(csv, `x\n${Array.from(co2x, String).join('\n')}\n`);
    const base = { model: CO2, heuristic: 'std', k: 5, samples: 10, seed: 1, blockRows: 64, workers: 1 } as const;
    const a = await acquire({ ...base, pool: co2Pool });
    const b = await acquire({ ...base, pool: { path: csv }, shardRows: 128 });
    expect(formatSelection(b, 'csv')).toBe(formatSelection(a, 'csv'));
  });
});

describe('classification heuristics on LeNet', () => {
  const T = 8;
  const B = 16;
  let probs: ClassificationPrediction;
  const scoresOf = (h: Heuristic, p: ClassificationPrediction): Float64Array => {
    if (h === 'bald') return p.mutualInformation;
    if (h === 'entropy') return p.entropy;
    if (h === 'variation-ratio') return p.variationRatio;
    // margin from predict's p̄, written out: 1 − (largest − second largest)
    return Float64Array.from({ length: LENET_ROWS }, (_, i) => {
      const row = Array.from(p.probs.subarray(i * 10, i * 10 + 10)).sort((a, b) => b - a);
      return 1 - (row[0]! - row[1]!);
    });
  };

  beforeAll(async () => {
    // LeNet's output holds logits (no Softmax): the classification heuristics read it so, predict needs the task
    const p = await predict(LENET.path, { data: lenetx, dims: [LENET_ROWS, 1, 28, 28] }, { mcu, samples: T, seed: 9, batchSize: B, task: 'classification' });
    probs = Object.values(p.outputs)[0] as ClassificationPrediction;
  });

  for (const h of ['bald', 'entropy', 'variation-ratio', 'margin'] as const) {
    it(`${h}: the selection is predict's per-row values ranked (ties to the lower row)`, async () => {
      const sel = await acquire({ model: LENET, pool: lenetPool, heuristic: h, k: 6, samples: T, seed: 9, blockRows: B, workers: 1, shardRows: 3 * B });
      // variation ratio takes few values (multiples of 1/8): ties, broken by the row index
      expect(sel.selected).toEqual(bruteTop(scoresOf(h, probs), 6));
    });
  }

  it('bald on LeNet ending in Softmax (an output of probabilities) is predict’s mutual information ranked', async () => {
    const path = writeSoftmaxModel('pytorch-1.13/lenet.preserve.onnx', join(tmp.dir, 'lenet-softmax.onnx'));
    const sel = await acquire({ model: { path }, pool: lenetPool, heuristic: 'bald', k: 6, samples: T, seed: 9, blockRows: B, workers: 1 });
    const p = await predict(path, { data: lenetx, dims: [LENET_ROWS, 1, 28, 28] }, { mcu, samples: T, seed: 9, batchSize: B });
    expect(sel.selected).toEqual(bruteTop((Object.values(p.outputs)[0] as ClassificationPrediction).mutualInformation, 6));
  });

  for (const scope of ['sample', 'point'] as const) {
    it(`bald, scope ${scope}: one selection for 1 thread, 2 threads and any shard size`, async () => {
      await sameForAnySharding({ model: LENET, pool: lenetPool, heuristic: 'bald', k: 5, samples: T, seed: 2, scope }, B);
    });
  }

  it("batchbald: one batch for any sharding; its first row is BALD's top row", async () => {
    const sel = await sameForAnySharding({ model: LENET, pool: lenetPool, heuristic: 'batchbald', k: 3, samples: T, seed: 9, candidates: 12 }, B);
    const top = bruteTop(probs.mutualInformation, 1)[0]!;
    expect(sel.selected[0]!.index).toBe(top.index);
    // a(A) from float32 per-sample probabilities vs core's float64 sums: float32 rounding, ≤ 1e-6 nats
    expect(Math.abs(sel.selected[0]!.score - top.score)).toBeLessThan(1e-6);
    // the batch's mutual information grows with each point
    expect(sel.selected[1]!.score).toBeGreaterThanOrEqual(sel.selected[0]!.score);
    expect(sel.selected[2]!.score).toBeGreaterThanOrEqual(sel.selected[1]!.score);
  });
});

describe('bad input is refused before any row is scored', () => {
  const base = { model: CO2, pool: co2Pool, heuristic: 'std', k: 3, samples: 5, seed: 0, workers: 1 } as const;
  const refused = async (o: Partial<AcquireOptions>): Promise<McuError> => mcuError(acquire({ ...base, ...o } as AcquireOptions));

  it('k larger than the pool, k < 1', async () => {
    const e = await refused({ k: CO2_ROWS + 1 });
    expect([e.code, e.message]).toEqual(['E_CONFIG', `k = ${CO2_ROWS + 1} is larger than the pool (${CO2_ROWS} rows); give k ≤ ${CO2_ROWS}`]);
    expect((await refused({ k: 0 })).code).toBe('E_CONFIG');
  });

  it('an empty pool, a pool of the wrong width, a NaN row, missing files', async () => {
    const empty = join(tmp.dir, 'empty.npy');
    writeFileSync(empty, npyBytes('<f4', [0, 1], new Float32Array(0)));
    expect((await refused({ pool: { path: empty } })).code).toBe('E_INPUT');
    const wide = join(tmp.dir, 'wide.npy');
    writeFileSync(wide, npyBytes('<f4', [4, 2], new Float32Array(8)));
    const w = await refused({ pool: { path: wide } });
    expect([w.code, w.message]).toEqual(['E_INPUT', expect.stringMatching(/the pool has 2 features per row, but model input '.+' expects 1 \(\[N, 1\]\)/)]);
    const nan = join(tmp.dir, 'nan.npy');
    const x = Float32Array.from(co2x.subarray(0, 50));
    x[37] = Number.NaN;
    writeFileSync(nan, npyBytes('<f4', [50, 1], x));
    const n = await refused({ pool: { path: nan } });
    expect([n.code, n.message]).toEqual(['E_INPUT', expect.stringMatching(/row index 37 \(0-based\), column 1: expected a finite number, got NaN/)]);
    expect((await refused({ pool: { path: join(tmp.dir, 'none.npy') } })).code).toBe('E_FILE');
    expect((await refused({ model: { path: join(tmp.dir, 'none.onnx') } })).code).toBe('E_FILE');
  });

  it('a heuristic that does not fit the output, options that do not apply', async () => {
    const e1 = await refused({ heuristic: 'bald' });
    expect([e1.code, e1.message]).toEqual([
      'E_CONFIG',
      expect.stringMatching(/heuristic bald scores class probabilities, but output '.+' is a regression output .*; use heuristic std/),
    ]);
    const softmax = writeSoftmaxModel('pytorch-1.13/lenet.preserve.onnx', join(tmp.dir, 'lenet-softmax-2.onnx'));
    const e2 = await mcuError(acquire({ ...base, model: { path: softmax }, pool: lenetPool }));
    expect([e2.code, e2.message]).toEqual([
      'E_CONFIG',
      expect.stringMatching(/heuristic std scores a regression output, .*; use bald, entropy, variation-ratio, margin or batchbald/),
    ]);
    expect((await mcuError(acquire({ ...base, model: LENET, pool: lenetPool, heuristic: 'bald', tau: 2 }))).message).toMatch(/tau applies to .* std only/);
    expect((await mcuError(acquire({ ...base, model: LENET, pool: lenetPool, heuristic: 'batchbald', scope: 'point' }))).message).toMatch(
      /batchbald needs mask scope 'sample'/,
    );
    expect((await refused({ blockRows: 32, shardRows: 40 })).message).toMatch(/multiple of blockRows \(32\)/);
    expect((await refused({ workers: 0 })).code).toBe('E_CONFIG');
  });

  it('a cancelled run is E_ABORTED, on threads too', async () => {
    const ac = new AbortController();
    ac.abort();
    expect((await refused({ signal: ac.signal })).code).toBe('E_ABORTED');
    const late = new AbortController();
    const e = await mcuError(
      acquire({ ...base, model: LENET, pool: lenetPool, heuristic: 'bald', blockRows: 16, workers: 2, signal: late.signal, onProgress: () => late.abort() }),
    );
    expect(e.code).toBe('E_ABORTED');
  });

  it('modelHash is the sha256 of the model file', async () => {
    expect(await modelHash(LENET)).toBe(`sha256:${createHash('sha256').update(readFileSync(LENET.path)).digest('hex')}`);
    expect((await mcuError(modelHash({ path: join(tmp.dir, 'none.onnx') }))).code).toBe('E_FILE');
  });
});
