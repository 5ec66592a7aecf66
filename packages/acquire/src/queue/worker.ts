/**
 * A queue worker (`mcu worker MODEL --queue redis://…`): takes shard jobs from the queue,
 * scores each with `scoreShard` on its own model file, and completes the job with the encoded
 * shard result.
 *
 * Refusals. A job whose model hash is not this worker's file's (or whose pool here is not the
 * coordinator's) must be scored by another worker, not lost and not failed: the worker moves it
 * back (to the delayed set for a moment, then waiting — BullMQ's DelayedError: no attempt is
 * spent), stops taking jobs, and `runWorker` rejects with the one-line reason (E_MODEL / E_INPUT:
 * the CLI exits 2). A job this worker cannot score for a reason of the run itself (a NaN score,
 * a bad option) fails, with its error's code, and the coordinator fails the run with it.
 *
 * Stalled jobs. While a shard is scored, BullMQ renews its lock every lockMs/2 from this
 * process's event loop (the scoring awaits the runtime between blocks, so the loop is free).
 * A worker that dies (SIGKILL, a lost machine) stops renewing; after lockMs the lock expires and
 * the stalled-job check that every worker runs every lockMs moves the job back to wait, so it
 * is scored again elsewhere within about 2·lockMs. A lock shorter than the longest pause of a
 * healthy worker's event loop (one block's scoring is one await) makes it look dead: its job is
 * then scored twice, and the second result is dropped (the job completes once) — the answer
 * is unchanged, only time is lost. maxStalledCount bounds how often one shard may be recovered.
 */
import { stat } from 'node:fs/promises';
import { McuError } from '@mcu/core';
import { DelayedError, Worker, type Job } from 'bullmq';
import { encodeShardResult, modelHash, openPool, ShardScorer } from '../index.js';
import type { EncodedShardResult, ModelSpec, PoolSpec } from '../types.js';
import { checkReachable, parseQueueUrl } from './connection.js';
import { failureReason, parseJobData, SHARD_JOB, type PoolIdentity, type ShardJobData } from './job.js';

/** Default job lock: BullMQ's 30 s. */
export const DEFAULT_LOCK_MS = 30_000;

/** How many times one shard may be recovered from a dead worker before the run fails. */
export const MAX_STALLED = 5;

/**
 * How long a stopping worker waits, once its shards are scored, for BullMQ to complete them and
 * close; then it disconnects (a Redis that went away would otherwise hold it forever: BullMQ's
 * worker connections retry every command until Redis is back).
 */
export const CLOSE_GRACE_MS = 5000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

export interface RunWorkerOptions {
  /** `redis://HOST:PORT[/DB][?queue=NAME]`. */
  readonly queue: string;
  /** This worker's model file (each job's backend, options and output come with the job). */
  readonly model: Pick<ModelSpec, 'path'>;
  /** Where this machine has the pool (default: the coordinator's path, from the job). */
  readonly pool?: string;
  /** Shards scored at once (default 1). */
  readonly concurrency?: number;
  /** Job lock in ms (default {@link DEFAULT_LOCK_MS}); also the stalled-job check interval. */
  readonly lockMs?: number;
  /** Aborting stops taking jobs; the shards being scored finish first. */
  readonly signal?: AbortSignal;
  /** One line per event (started, scoring, done, refused), for stderr. */
  readonly log?: (line: string) => void;
}

export interface WorkerSummary {
  /** Shards this worker completed. */
  readonly shards: number;
  readonly rows: number;
}

const rowsOf = (d: ShardJobData): number => d.range.end - d.range.start;

/**
 * Run a queue worker until `signal` aborts (resolves with what it scored) or it refuses a job
 * (rejects with the McuError, after putting the job back). Redis not reachable at start:
 * E_QUEUE within a few seconds; later outages are waited out (BullMQ reconnects).
 */
export async function runWorker(options: RunWorkerOptions): Promise<WorkerSummary> {
  const target = parseQueueUrl(options.queue);
  const log = options.log ?? (() => undefined);
  const ownHash = await modelHash({ path: options.model.path });
  await checkReachable(target);
  const lockMs = options.lockMs ?? DEFAULT_LOCK_MS;
  const checkedPools = new Map<string, PoolSpec>();
  /** The model loaded and the pool opened once per run, kept between its shards (the last run's only). */
  let scorer: { readonly run: string; readonly opened: Promise<ShardScorer> } | undefined;
  const scorerFor = (d: ShardJobData, pool: PoolSpec): Promise<ShardScorer> => {
    if (scorer?.run !== d.run) {
      const previous = scorer;
      scorer = { run: d.run, opened: ShardScorer.open({ ...d.model, path: options.model.path }, pool, d.options) };
      // a failed open is not kept: the next shard tries again
      scorer.opened.catch(() => {
        if (scorer?.run === d.run) scorer = undefined;
      });
      void previous?.opened.then((s) => s.close()).catch(() => undefined);
    }
    return scorer.opened;
  };
  let refusal: McuError | undefined;
  let shards = 0;
  let rows = 0;
  let stopping: Promise<void> | undefined;
  let worker: Worker<ShardJobData, EncodedShardResult> | undefined;
  /** Shards being scored now, and who waits for there to be none. */
  let scoring = 0;
  let whenIdle: (() => void)[] = [];
  const idle = (): Promise<void> => (scoring === 0 ? Promise.resolve() : new Promise((resolve) => whenIdle.push(resolve)));
  let stopRequested!: () => void;
  const stopped = new Promise<void>((resolve) => {
    stopRequested = resolve;
  });
  /** Take no new shard, finish scoring the ones held, let BullMQ complete them (CLOSE_GRACE_MS at most), then close. */
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const w = worker;
      if (w === undefined) return;
      // no new job from here on; the ones held are scored first
      await Promise.race([w.pause(true).catch(() => undefined), sleep(1000)]);
      await idle();
      // Redis there: BullMQ completes the held jobs and closes (a grace period at most); gone:
      // a forced close (nothing to complete), then the connections are dropped
      const reachable = await checkReachable(target, 1000).then(
        () => true,
        () => false,
      );
      const closed = w.close(!reachable).catch(() => undefined);
      const inTime = await Promise.race([closed.then(() => true), sleep(reachable ? CLOSE_GRACE_MS : 1000).then(() => false)]);
      if (!inTime) await Promise.race([w.disconnect().catch(() => undefined), sleep(1000)]);
    })().finally(() => stopRequested());
    return stopping;
  };

  /** The pool this worker reads for a run, checked once against the coordinator's identity. */
  const poolFor = async (d: ShardJobData): Promise<PoolSpec> => {
    const cached = checkedPools.get(d.run);
    if (cached !== undefined) return cached;
    const want: PoolIdentity = d.pool;
    const spec: PoolSpec = { path: options.pool ?? want.path, ...(want.format !== undefined ? { format: want.format } : {}) };
    let pool: Awaited<ReturnType<typeof openPool>>;
    try {
      pool = await openPool(spec);
    } catch (e) {
      // a pool this machine does not have (or cannot read) is this worker's problem, not the run's
      throw new McuError(
        'E_FILE',
        `worker: run ${d.run}'s pool cannot be read here: ${e instanceof Error ? e.message : String(e)}; give this worker the pool's path on this machine (--pool PATH)`,
        { cause: e },
      );
    }
    let bytes: number;
    try {
      bytes = (await stat(spec.path)).size;
    } finally {
      await pool.close();
    }
    if (pool.rows !== want.rows || pool.width !== want.width || bytes !== want.bytes) {
      throw new McuError(
        'E_INPUT',
        `worker: the pool ${spec.path} here is ${pool.rows} × ${pool.width} (${bytes} bytes), but run ${d.run}'s pool ${want.path} is ${want.rows} × ${want.width} (${want.bytes} bytes): give this worker the same pool file (--pool PATH)`,
      );
    }
    checkedPools.set(d.run, spec);
    return spec;
  };

  /** Put a job back for another worker and stop this one: the reason is runWorker's rejection. */
  const refuse = async (job: Job<ShardJobData>, token: string | undefined, reason: McuError): Promise<never> => {
    // the reason is printed once, by the caller, from runWorker's rejection
    refusal ??= reason;
    await job.moveToDelayed(Date.now() + 200, token);
    void stop();
    throw new DelayedError();
  };

  const processor = async (job: Job<ShardJobData>, token?: string): Promise<EncodedShardResult> => {
    if (job.name !== SHARD_JOB) throw new McuError('E_QUEUE', `job ${job.id} on queue ${target.name} is '${job.name}', not an mcu acquire shard`);
    let d: ShardJobData;
    try {
      d = parseJobData(job.id, job.data);
    } catch (e) {
      throw new Error(failureReason(e));
    }
    // the pool first (opened once per run), then the model: either refusal gives the shard back
    let pool: PoolSpec;
    try {
      pool = await poolFor(d);
    } catch (e) {
      if (e instanceof McuError) return refuse(job, token, e);
      throw e;
    }
    if (d.modelHash !== ownHash) {
      return refuse(
        job,
        token,
        new McuError(
          'E_MODEL',
          `worker: run ${d.run} scores model ${d.modelHash}, but this worker's MODEL ${options.model.path} is ${ownHash}: start the worker with the same model file as mcu acquire (the shard went back to the queue)`,
        ),
      );
    }
    const { start, end } = d.range;
    log(`mcu: worker: scoring rows ${start}–${end} of run ${d.run} (job ${job.id})`);
    const began = Date.now();
    let done = 0;
    let reported = 0;
    scoring++;
    try {
      const result = await (await scorerFor(d, pool)).score(d.range, {
        onRows: (n: number) => {
          done += n;
          // progress for the coordinator's bar, at most every 10 % of the shard
          if (done - reported >= (end - start) / 10 || done === end - start) {
            reported = done;
            void job.updateProgress(done).catch(() => undefined);
          }
        },
      });
      shards++;
      rows += rowsOf(d);
      const s = (Date.now() - began) / 1000;
      log(`mcu: worker: done rows ${start}–${end} in ${s.toFixed(1)} s (${Math.round(rowsOf(d) / Math.max(s, 1e-3))} rows/s)`);
      return encodeShardResult(result);
    } catch (e) {
      log(`mcu: worker: shard rows ${start}–${end} failed: ${e instanceof Error ? e.message : String(e)}`);
      throw new Error(failureReason(e));
    } finally {
      scoring--;
      if (scoring === 0) {
        const waiting = whenIdle;
        whenIdle = [];
        for (const resolve of waiting) resolve();
      }
    }
  };

  let lastError = '';
  worker = new Worker<ShardJobData, EncodedShardResult>(target.name, processor, {
    // a worker waits out a Redis outage (BullMQ's advice for workers)
    connection: { ...target.redis, maxRetriesPerRequest: null },
    concurrency: options.concurrency ?? 1,
    lockDuration: lockMs,
    stalledInterval: lockMs,
    maxStalledCount: MAX_STALLED,
    autorun: false,
  });
  worker.on('error', (e: Error) => {
    if (e.message !== lastError) log(`mcu: worker: queue error: ${e.message} (retrying)`);
    lastError = e.message;
  });
  const onAbort = (): void => {
    log('mcu: worker: stopping after the shards in progress');
    void stop();
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  log(
    `mcu: worker: waiting for shards on ${target.shown} queue ${target.name} (model ${ownHash.slice(0, 19)}…, concurrency ${options.concurrency ?? 1}, lock ${lockMs} ms)`,
  );
  const running = worker.run();
  try {
    // the main loop ends when the worker closes; a forced stop (Redis gone) may not end it
    await Promise.race([running, stopped]);
    await stop();
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await scorer?.opened.then((s) => s.close()).catch(() => undefined);
  }
  if (refusal !== undefined) throw refusal;
  return { shards, rows };
}
