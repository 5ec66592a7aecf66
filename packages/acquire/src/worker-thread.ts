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
  /** Receives { rows } after each block; sends { abort: true } to cancel the shard. */
  readonly port: MessagePort;
}

/** The last task of every thread: see {@link release}. */
export interface ReleaseTask {
  /** One Int32 counting the release tasks that arrived. */
  readonly barrier: SharedArrayBuffer;
  readonly threads: number;
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
  // Cancelled by a message, not by piscina's abort signal: piscina ends the thread of an aborted
  // task, and a thread that ends holding an onnxruntime session can abort the whole process.
  const cancel = new AbortController();
  task.port.on('message', (m: { abort?: boolean }) => {
    if (m.abort === true) cancel.abort();
  });
  try {
    const scorer = await scorerFor(task);
    const result = await scorer.score(task.range, { signal: cancel.signal, onRows: (rows) => task.port.postMessage({ rows }) });
    return { result };
  } catch (e) {
    return { error: { code: isMcuError(e) ? e.code : null, message: describeError(e) } };
  } finally {
    task.port.close();
  }
}

/**
 * Close this thread's scorer (its onnxruntime session) before the pool ends the thread.
 * onnxruntime-node's binding can throw a Napi::Error — which aborts the whole process — when a
 * session is finalised while Node tears a worker's environment down, so every thread releases
 * its session first. The task then waits until all `threads` release tasks have arrived, so that
 * each of them occupies a different thread (a thread runs one task at a time); the wait is
 * bounded (10 s) so that a lost thread cannot hang the run.
 */
export async function release(task: ReleaseTask): Promise<void> {
  const old = cached;
  cached = undefined;
  if (old !== undefined) await (await old.scorer.catch(() => undefined))?.close();
  const count = new Int32Array(task.barrier);
  Atomics.add(count, 0, 1);
  Atomics.notify(count, 0);
  const deadline = Date.now() + 10_000;
  for (let seen = Atomics.load(count, 0); seen < task.threads && Date.now() < deadline; seen = Atomics.load(count, 0)) {
    Atomics.wait(count, 0, seen, 100);
  }
}
