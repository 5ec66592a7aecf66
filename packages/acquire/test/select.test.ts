import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeShardResult,
  encodeShardResult,
  formatSelection,
  mergeShards,
  type Selection,
  type SelectionMeta,
  type ShardResult,
  shardsOf,
  TopK,
  writeSelection,
} from '../src/index.js';
import { mcuError, rng, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

/** The reference ranking: sort everything, higher score first, then the lower index. */
function bruteTop(scores: readonly number[], k: number): { index: number; score: number }[] {
  return scores
    .map((score, index) => ({ index, score }))
    .sort((a, b) => (a.score === b.score ? a.index - b.index : a.score > b.score ? -1 : 1))
    .slice(0, k);
}

describe('top-k', () => {
  it('equals sorting all scores, ties to the lower row index, whatever the arrival order', () => {
    const r = rng(3);
    // few distinct values: many ties
    const scores = Array.from({ length: 2000 }, () => Math.floor(r() * 40) / 8);
    for (const k of [1, 7, 100, 2000]) {
      const want = bruteTop(scores, k);
      const forward = new TopK(k);
      scores.forEach((s, i) => forward.push(i, s));
      expect(forward.sorted()).toEqual(want);
      const shuffled = scores.map((_, i) => i).sort(() => r() - 0.5);
      const any = new TopK(k);
      for (const i of shuffled) any.push(i, scores[i]!);
      expect(any.sorted()).toEqual(want);
    }
  });

  it('refuses NaN naming the row, and k < 1', async () => {
    const t = new TopK(2);
    t.push(0, 1);
    const e = await mcuError(() => t.push(5, Number.NaN));
    expect([e.code, e.message]).toEqual(['E_RUNTIME', expect.stringMatching(/^row index 5 scored NaN/)]);
    expect((await mcuError(() => new TopK(0))).code).toBe('E_CONFIG');
  });
});

describe('shards', () => {
  it('cover the pool in B-aligned pieces and refuse a shard size that would split a block', async () => {
    expect(shardsOf(10, 4, 2)).toEqual([
      { start: 0, end: 4 },
      { start: 4, end: 8 },
      { start: 8, end: 10 },
    ]);
    expect(shardsOf(3, 8, 8)).toEqual([{ start: 0, end: 3 }]);
    const e = await mcuError(() => shardsOf(100, 10, 4));
    expect([e.code, e.message]).toEqual(['E_CONFIG', expect.stringMatching(/multiple of blockRows \(4\).*use 8 or 12/)]);
  });
});

const meta: SelectionMeta = { heuristic: 'bald', k: 3, samples: 5, seed: 1, scope: 'sample', blockRows: 4, modelHash: 'sha256:00', poolRows: 10 };
const options = { heuristic: 'bald', k: 3, samples: 5, seed: 1, blockRows: 4 } as const;

describe('mergeShards', () => {
  const scores = [0.5, 0.1, 0.9, 0.9, 0.3, 0.2, 0.9, 0.05, 0.7, 0.3];
  const shard = (start: number, end: number): ShardResult => {
    const t = new TopK(3);
    for (let i = start; i < end; i++) t.push(i, scores[i]!);
    return { start, end, top: t.sorted() };
  };

  it('gives the global top-k for any sharding and order', () => {
    const want = bruteTop(scores, 3);
    expect(mergeShards([shard(0, 10)], meta, options).selected).toEqual(want);
    expect(mergeShards([shard(8, 10), shard(0, 4), shard(4, 8)], meta, options).selected).toEqual(want);
  });

  it('refuses lost or doubled shards', async () => {
    expect((await mcuError(() => mergeShards([shard(0, 4), shard(8, 10)], meta, options))).message).toMatch(/no shard result covers rows \[4, 8\)/);
    expect((await mcuError(() => mergeShards([shard(0, 4), shard(0, 4), shard(4, 10)], meta, options))).message).toMatch(/overlap/);
  });

  it('round-trips shard results through JSON bit for bit', () => {
    const probs = Float32Array.from([0.1, 0.9, 1 / 3, 2 / 3, 1e-30, 1]);
    const r: ShardResult = { start: 4, end: 8, top: [{ index: 6, score: 0.1 + 0.2 }], candidates: [{ index: 6, score: 0.1 + 0.2, probs }] };
    const back = decodeShardResult(JSON.parse(JSON.stringify(encodeShardResult(r))));
    expect(back).toEqual(r);
    expect(back.candidates![0]!.probs).toBeInstanceOf(Float32Array);
  });
});

describe('formatSelection / writeSelection', () => {
  const sel: Selection = {
    ...meta,
    selected: [
      { index: 3, score: 0.1 + 0.2 },
      { index: 7, score: 1e-20 },
      { index: 1, score: 2 },
    ],
  };

  it('writes scores that round-trip to the same float64', () => {
    const json = formatSelection(sel, 'json');
    const parsed = JSON.parse(json) as { selected: { rank: number; index: number; score: number }[]; modelHash: string };
    expect(parsed.selected.map((s) => s.score)).toEqual(sel.selected.map((s) => s.score));
    expect(parsed.selected.map((s) => s.rank)).toEqual([1, 2, 3]);
    expect(parsed.modelHash).toBe('sha256:00');
    expect(json).toContain('"score":0.30000000000000004');
    const csv = formatSelection(sel, 'csv');
    expect(csv).toBe('rank,index,score\n1,3,0.30000000000000004\n2,7,1e-20\n3,1,2\n');
    expect(
      csv
        .split('\n')
        .slice(1, -1)
        .map((l) => Number(l.split(',')[2])),
    ).toEqual(sel.selected.map((s) => s.score));
  });

  it('writes atomically and leaves nothing behind on failure', async () => {
    const path = join(tmp.dir, 'out.json');
    await writeSelection(path, sel, 'json');
    expect(readFileSync(path, 'utf8')).toBe(formatSelection(sel, 'json'));
    expect(readdirSync(tmp.dir)).toEqual(['out.json']);
    const e = await mcuError(writeSelection(join(tmp.dir, 'no-such-dir', 'x.csv'), sel, 'csv'));
    expect(e.code).toBe('E_FILE');
    // a target that cannot be replaced (a directory): the temporary file is removed
    mkdirSync(join(tmp.dir, 'taken'));
    expect((await mcuError(writeSelection(join(tmp.dir, 'taken'), sel, 'csv'))).code).toBe('E_FILE');
    expect(readdirSync(tmp.dir).sort()).toEqual(['out.json', 'taken']);
    expect(readdirSync(join(tmp.dir, 'taken'))).toEqual([]);
    // a selection that cannot be formatted writes nothing
    const bad: Selection = { ...sel, selected: [{ index: 0, score: Number.POSITIVE_INFINITY }] };
    expect((await mcuError(writeSelection(join(tmp.dir, 'inf.json'), bad, 'json'))).code).toBe('E_INTERNAL');
    expect(existsSync(join(tmp.dir, 'inf.json'))).toBe(false);
  });
});
