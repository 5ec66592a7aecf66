/**
 * Merging shard results into the selection, and the selection's metadata. The merge is a
 * function of the set of shard results alone (not of their order or of who scored them): every
 * row's score is bit-identical however the pool was sharded, and the ranking is a total order.
 */
import { McuError } from '@mcu/core';
import { batchBald } from './batchbald.js';
import { modelHash } from './hash.js';
import { resolveScoreOptions } from './options.js';
import { ShardScorer } from './score.js';
import { TopK } from './topk.js';
import type { Candidate, ModelSpec, PoolSpec, ScoreContext, ScoreOptions, Selection, SelectionMeta, ShardResult } from './types.js';

/** Check that the shards cover [0, rows) exactly once (E_INTERNAL otherwise: a lost or doubled shard). */
function checkCoverage(results: readonly ShardResult[], rows: number): void {
  const sorted = [...results].sort((a, b) => a.start - b.start);
  let at = 0;
  for (const r of sorted) {
    if (r.start !== at || !(r.end > r.start)) {
      throw new McuError(
        'E_INTERNAL',
        r.start < at ? `shard results overlap at row ${r.start} (a shard merged twice?)` : `no shard result covers rows [${at}, ${r.start}) (a shard was lost)`,
      );
    }
    at = r.end;
  }
  if (at !== rows) throw new McuError('E_INTERNAL', `the shard results cover rows [0, ${at}), the pool has ${rows}`);
}

/**
 * The selection from shard results covering the pool: the global top-k, or for batchbald the
 * greedy BatchBALD batch over the global top-m candidates.
 */
export function mergeShards(results: readonly ShardResult[], meta: SelectionMeta, options: ScoreOptions): Selection {
  const o = resolveScoreOptions(options, meta.poolRows);
  if (
    o.heuristic !== meta.heuristic ||
    o.k !== meta.k ||
    o.samples !== meta.samples ||
    o.seed !== meta.seed ||
    o.scope !== meta.scope ||
    o.blockRows !== meta.blockRows
  ) {
    throw new McuError('E_INTERNAL', 'mergeShards: the options disagree with the selection metadata they were made with');
  }
  checkCoverage(results, meta.poolRows);
  if (o.heuristic === 'batchbald') {
    const top = new TopK<Candidate>(o.candidates);
    let width = -1;
    for (const r of results) {
      if (r.candidates === undefined) throw new McuError('E_INTERNAL', `shard [${r.start}, ${r.end}) has no BatchBALD candidates`);
      for (const c of r.candidates) {
        if (width === -1) width = c.probs.length;
        top.offer(c);
      }
    }
    const candidates = top.sorted();
    const C = width / o.samples;
    if (!Number.isInteger(C) || C < 2) throw new McuError('E_INTERNAL', `BatchBALD candidates hold ${width} probabilities, not T × C for T = ${o.samples}`);
    return { ...meta, selected: batchBald(candidates, o.k, { samples: o.samples, classes: C, seed: o.seed }) };
  }
  const top = new TopK(o.k);
  for (const r of results) for (const s of r.top) top.offer(s);
  return { ...meta, selected: top.sorted() };
}

/** The metadata of a run scored by `scorer` (its resolved options and pool) on the model of `hash`. */
export function metaOf(scorer: ShardScorer, hash: string): SelectionMeta {
  const o = scorer.options;
  return {
    heuristic: o.heuristic,
    k: o.k,
    samples: o.samples,
    seed: o.seed,
    scope: o.scope,
    blockRows: o.blockRows,
    modelHash: hash,
    poolRows: scorer.pool.rows,
  };
}

/**
 * A run's metadata — the model's hash, the pool's rows, the options with their defaults — after
 * every check that can refuse the run (k against the pool, the pool's width against the model,
 * the heuristic against the output): a coordinator calls this before it hands out any shard.
 */
export async function selectionMeta(model: ModelSpec, pool: PoolSpec, options: ScoreOptions, context: Pick<ScoreContext, 'mcu'> = {}): Promise<SelectionMeta> {
  const scorer = await ShardScorer.open(model, pool, options, context);
  try {
    return metaOf(scorer, await modelHash(model));
  } finally {
    await scorer.close();
  }
}
