/**
 * The worker thread of `acquire({ workers })` (run by piscina): it loads the model once — its
 * own Mcu and onnxruntime session — opens the pool once, and scores the shards it is given,
 * reporting rows done on the task's port after each block. Errors come back as { error } so
 * that their McuError code survives the thread boundary.
 */
import type { MessagePort } from 'node:worker_threads';
import { describeError, isMcuError, type McuErrorCode } from '@mcu/core';
import { ShardScorer } from './score.js';
import type { ModelSpec, PoolSpec, ScoreOptions, ShardResult } from './types.js';

export interface ThreadTask {
  readonly model: ModelSpec;
  readonly pool: PoolSpec;
  readonly options: ScoreOptions;
  readonly range: { readonly start: number; readonly end: number };
  /** Receives { rows } after each block. */
  readonly port: MessagePort;
}

export type ThreadAnswer = { readonly result: ShardResult } | { readonly error: { readonly code: McuErrorCode | null; readonly message: string } };

/** One scorer per thread and run (model, pool and options), kept between its shards. */
let cached: { key: string; scorer: Promise<ShardScorer> } | undefined;

async function scorerFor(task: ThreadTask): Promise<ShardScorer> {
  const key = JSON.stringify([task.model, task.pool, task.options]);
  if (cached?.key !== key) {
    const old = cached;
    cached = { key, scorer: ShardScorer.open(task.model, task.pool, task.options) };
    if (old !== undefined) await (await old.scorer.catch(() => undefined))?.close();
  }
  return cached.scorer;
}

export default async function scoreInThread(task: ThreadTask): Promise<ThreadAnswer> {
  try {
    const scorer = await scorerFor(task);
    const result = await scorer.score(task.range, { onRows: (rows) => task.port.postMessage({ rows }) });
    return { result };
  } catch (e) {
    return { error: { code: isMcuError(e) ? e.code : null, message: describeError(e) } };
  } finally {
    task.port.close();
  }
}
