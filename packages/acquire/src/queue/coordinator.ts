/**
 * The coordinator of a queued run (`mcu acquire … --queue redis://…`): one BullMQ job per shard
 * on the queue, scored by `mcu worker` processes on any machines, merged here.
 *
 * Why the answer is the one a single process gives: the shards are L's aligned shards
 * (`shardsOf`, boundaries multiples of blockRows), each job carries the resolved score options
 * (blockRows, scope, candidates) and the backend, so every worker scores each row in the same
 * globally aligned block with the same masks; `mergeShards` ranks by score, then row index.
 * A worker that dies mid-shard loses its lock; BullMQ's stalled-job check (in the other
 * workers) puts the job back to wait, another worker scores it again — same rows, same bits.
 */
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { McuError } from '@mcu/core';
import { Queue } from 'bullmq';
import { decodeShardResult, mergeShards, openPool, selectionMeta, shardsOf } from '../index.js';
import type { AcquireOptions, AcquireProgress, ScoreOptions, Selection, ShardResult } from '../types.js';
import { checkReachable, parseQueueUrl } from './connection.js';
import { errorOfReason, JOB_VERSION, parseReturn, SHARD_JOB, shardJobId, type PoolIdentity, type ShardJobData } from './job.js';

/** Progress of a queued run: rows scored (completed shards and the progress the active ones report) and shards held by workers. */
export interface QueueProgress extends AcquireProgress {
  readonly shardsDone: number;
  readonly shardsTotal: number;
  /** Shards being scored now (0 while no worker has taken any: start `mcu worker`s). */
  readonly active: number;
}

export interface QueueAcquireOptions extends Omit<AcquireOptions, 'workers' | 'mcu' | 'onProgress'> {
  /** `redis://HOST:PORT[/DB][?queue=NAME]`. */
  readonly queue: string;
  readonly onProgress?: (progress: QueueProgress) => void;
  /** How often the coordinator reads the jobs' states (default 200 ms). */
  readonly pollMs?: number;
}

/** Shards a queued run is cut into by default: about 16 (so several workers share it), each a whole number of blocks, at most 64 blocks. */
export function defaultQueueShardRows(rows: number, blockRows: number): number {
  const blocks = Math.ceil(rows / blockRows);
  return blockRows * Math.max(1, Math.min(64, Math.ceil(blocks / 16)));
}

async function poolIdentity(options: QueueAcquireOptions): Promise<PoolIdentity> {
  const pool = await openPool(options.pool);
  try {
    const { size } = await stat(options.pool.path);
    return { ...options.pool, rows: pool.rows, width: pool.width, bytes: size };
  } finally {
    await pool.close();
  }
}

/** The score options every worker uses: the run's, with the defaults the meta resolved written out. */
function resolvedOptions(options: QueueAcquireOptions, blockRows: number, scope: 'sample' | 'point'): ScoreOptions {
  return {
    heuristic: options.heuristic,
    k: options.k,
    samples: options.samples,
    seed: options.seed,
    scope,
    blockRows,
    ...(options.tau !== undefined ? { tau: options.tau } : {}),
    ...(options.candidates !== undefined ? { candidates: options.candidates } : {}),
  };
}

/** Wait `ms`, or less when `signal` aborts (its listener removed either way: one poll per wait, many waits a run). */
const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * Score the pool on the queue and return the selection — the same as `acquire()` in one process
 * for the same model, pool and score options. Redis not reachable: E_QUEUE within a few seconds.
 * A shard that fails (bad pool width, NaN score, …) fails the run with the worker's error and
 * its code. The run's jobs are removed from Redis at the end, failed or not.
 */
export async function acquireOnQueue(options: QueueAcquireOptions): Promise<Selection> {
  const target = parseQueueUrl(options.queue);
  await checkReachable(target);
  const meta = await selectionMeta(options.model, options.pool, options);
  const pool = await poolIdentity(options);
  const score = resolvedOptions(options, meta.blockRows, meta.scope);
  const shardRows = options.shardRows ?? defaultQueueShardRows(meta.poolRows, meta.blockRows);
  const shards = shardsOf(meta.poolRows, shardRows, meta.blockRows);
  const run = randomUUID().slice(0, 8);
  const { path: _path, ...model } = options.model;

  // A Redis that goes away mid-run fails the coordinator's next command (no endless reconnecting).
  const queue = new Queue<ShardJobData>(target.name, {
    connection: { ...target.redis, maxRetriesPerRequest: 2, retryStrategy: (times: number) => (times > 5 ? null : 200 * times) },
  });
  let lastRedisError: string | undefined;
  queue.on('error', (e: Error) => {
    lastRedisError = e.message;
  });
  const ids = shards.map((s) => shardJobId(run, s.start));
  const queueError = (e: unknown): McuError =>
    e instanceof McuError
      ? e
      : new McuError('E_QUEUE', `the job queue at ${target.shown} failed: ${lastRedisError ?? (e instanceof Error ? e.message : String(e))}`, { cause: e });
  try {
    await queue.addBulk(
      shards.map((range, i) => ({
        name: SHARD_JOB,
        data: { version: JOB_VERSION, run, modelHash: meta.modelHash, model, pool, range, options: score },
        opts: {
          jobId: ids[i]!,
          // a shard that throws is the run's error (bad data, a NaN): not retried
          attempts: 1,
          // the coordinator reads the results, then removes them; jobs of a run that was
          // interrupted expire (evicted when a later job finishes after a day)
          removeOnComplete: { age: 24 * 3600 },
          removeOnFail: { age: 24 * 3600 },
        },
      })),
    );
    const results = new Map<number, ShardResult>();
    const rowsTotal = meta.poolRows;
    let doneRows = 0;
    while (results.size < shards.length) {
      if (options.signal?.aborted) throw new McuError('E_ABORTED', `mcu acquire --queue was cancelled with ${results.size} of ${shards.length} shards scored`);
      let activeRows = 0;
      let active = 0;
      for (let i = 0; i < shards.length; i++) {
        const range = shards[i]!;
        if (results.has(range.start)) continue;
        const id = ids[i]!;
        const job = await queue.getJob(id);
        if (job === undefined) {
          throw new McuError(
            'E_QUEUE',
            `shard [${range.start}, ${range.end}) (job ${id}) is no longer on the queue ${target.name} at ${target.shown}: it was removed while the run waited for it; run again`,
          );
        }
        if (job.finishedOn !== undefined && job.failedReason !== undefined && job.failedReason !== null && job.returnvalue == null) {
          throw errorOfReason(job.failedReason, range);
        }
        if (job.finishedOn !== undefined && job.returnvalue != null) {
          results.set(range.start, decodeShardResult(parseReturn(id, job.returnvalue, range)));
          doneRows += range.end - range.start;
          continue;
        }
        if (job.processedOn !== undefined && job.processedOn !== null) {
          active++;
          const p = typeof job.progress === 'number' ? job.progress : 0;
          activeRows += Math.min(Math.max(0, p), range.end - range.start);
        }
      }
      options.onProgress?.({ rowsDone: doneRows + activeRows, rowsTotal, shardsDone: results.size, shardsTotal: shards.length, active });
      if (results.size < shards.length) await sleep(options.pollMs ?? 200, options.signal);
    }
    return mergeShards(
      shards.map((s) => results.get(s.start)!),
      meta,
      score,
    );
  } catch (e) {
    throw queueError(e);
  } finally {
    // the run's jobs leave Redis: the finished ones and those still waiting (a shard a worker
    // holds now cannot be removed; it expires with removeOnComplete's age)
    await Promise.allSettled(ids.map((id) => queue.remove(id)));
    await queue.close().catch(() => undefined);
  }
}
