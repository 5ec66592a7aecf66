/**
 * `acquire()`: score a pool and select its top k, in this thread or on worker threads
 * (piscina), each with its own model session. Shards are aligned to B and stream their blocks;
 * a shard returns only its top k (batchbald: its top-m candidates), so memory is bounded by
 * B rows per thread plus k (or m) results per shard whatever the pool's size. The selection is
 * identical — bytes of formatSelection included — for any worker count and shard size.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { optOutOfOrtTelemetry } from '@mcu/backend-onnx';
import { McuError } from '@mcu/core';
import { Piscina } from 'piscina';
import { modelHash } from './hash.js';
import { mergeShards, metaOf } from './merge.js';
import { ShardScorer } from './score.js';
import { shardsOf } from './shards.js';
import type { AcquireOptions, ModelSpec, ScoreOptions, Selection, SelectionMeta, ShardResult } from './types.js';
import type { ReleaseTask, ThreadAnswer, ThreadTask } from './worker-thread.js';

/** The worker thread's file: dist/worker-thread.js next to this module (from src, as tests run it: the built one). */
export function workerThreadFile(): string {
  for (const rel of ['./worker-thread.js', '../dist/worker-thread.js']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new McuError(
    'E_INTERNAL',
    `@mcu/acquire's worker thread (dist/worker-thread.js) is missing next to ${fileURLToPath(import.meta.url)}; build the package`,
  );
}

/** Rows per shard by default: about 4 shards per worker, a multiple of B. */
export function defaultShardRows(rows: number, workers: number, blockRows: number): number {
  const blocks = Math.ceil(rows / blockRows);
  return Math.max(1, Math.ceil(blocks / (4 * workers))) * blockRows;
}

/** onnxruntime intra-op threads per worker so that workers × threads ≤ cores. */
export function threadsPerWorker(workers: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / workers));
}

function withThreads(model: ModelSpec, workers: number): ModelSpec {
  if ((model.backend ?? 'onnx') !== 'onnx' || model.backendOptions?.['intraOpNumThreads'] !== undefined) return model;
  return { ...model, backendOptions: { ...model.backendOptions, intraOpNumThreads: threadsPerWorker(workers) } };
}

function scoreOptionsOf(o: AcquireOptions): ScoreOptions {
  return {
    heuristic: o.heuristic,
    k: o.k,
    samples: o.samples,
    seed: o.seed,
    ...(o.scope !== undefined ? { scope: o.scope } : {}),
    ...(o.tau !== undefined ? { tau: o.tau } : {}),
    ...(o.blockRows !== undefined ? { blockRows: o.blockRows } : {}),
    ...(o.candidates !== undefined ? { candidates: o.candidates } : {}),
  };
}

/**
 * The worker threads' Node flags: this process's, without export conditions (`--conditions`,
 * `-C`). The worker file is built JavaScript and imports the built entries of @mcu/core and
 * @mcu/backend-onnx; a condition such as the repository's `source` (vitest's) would resolve
 * them to TypeScript sources that a worker thread cannot load.
 */
export function workerExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--conditions' || a === '-C') i++;
    else if (!a.startsWith('--conditions=') && !a.startsWith('-C=')) out.push(a);
  }
  return out;
}

const aborted = (signal: AbortSignal): McuError => new McuError('E_ABORTED', 'acquire was cancelled', { cause: signal.reason });

/**
 * Score the pool and select k rows. `workers` (default: os.availableParallelism()): 1 scores in
 * this thread, N ≥ 2 on N worker threads. Every check that can refuse the run (k against the
 * pool, the pool's width against the model input, the heuristic against the output, bad
 * options) happens before any row is scored.
 */
export async function acquire(options: AcquireOptions): Promise<Selection> {
  const workers = options.workers ?? availableParallelism();
  if (!(Number.isSafeInteger(workers) && workers >= 1)) throw new McuError('E_CONFIG', `workers must be an integer ≥ 1, got ${String(workers)}`);
  const score = scoreOptionsOf(options);
  const model = withThreads(options.model, workers);
  const signal = options.signal;
  if (signal?.aborted) throw aborted(signal);
  // the checks, and for one worker the scorer itself
  const scorer = await ShardScorer.open(model, options.pool, score, options.mcu !== undefined ? { mcu: options.mcu } : {});
  let meta: SelectionMeta;
  let shards: { start: number; end: number }[];
  try {
    meta = metaOf(scorer, await modelHash(model));
    const rows = meta.poolRows;
    shards = shardsOf(rows, options.shardRows ?? defaultShardRows(rows, workers, meta.blockRows), meta.blockRows);
    if (workers === 1) {
      let done = 0;
      const results: ShardResult[] = [];
      for (const range of shards) {
        results.push(
          await scorer.score(range, {
            ...(signal !== undefined ? { signal } : {}),
            onRows: (n) => {
              done += n;
              options.onProgress?.({ rowsDone: done, rowsTotal: rows });
            },
          }),
        );
      }
      return mergeShards(results, meta, score);
    }
  } finally {
    await scorer.close();
  }
  return mergeShards(await onThreads(model, options, score, shards, workers, meta.poolRows), meta, score);
}

async function onThreads(
  model: ModelSpec,
  options: AcquireOptions,
  score: ScoreOptions,
  shards: readonly { start: number; end: number }[],
  workers: number,
  rows: number,
): Promise<ShardResult[]> {
  const signal = options.signal;
  // on this thread, not in the workers: their process.env is a copy that onnxruntime's getenv does
  // not see (the checks above have loaded onnxruntime here already; this holds should they not)
  optOutOfOrtTelemetry();
  const piscina = new Piscina<ThreadTask, ThreadAnswer>({
    filename: workerThreadFile(),
    minThreads: Math.min(workers, shards.length),
    maxThreads: Math.min(workers, shards.length),
    atomics: 'disabled',
    idleTimeout: 1000,
    execArgv: workerExecArgv(),
  });
  const inner = new AbortController();
  const onAbort = (): void => inner.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  let done = 0;
  let first: unknown;
  try {
    const runs = shards.map(async (range) => {
      const { port1, port2 } = new MessageChannel();
      port1.on('message', (m: { rows: number }) => {
        done += m.rows;
        options.onProgress?.({ rowsDone: done, rowsTotal: rows });
      });
      // cancelled through the port (see worker-thread.ts); a shard still queued stops at its start
      const cancel = (): void => port1.postMessage({ abort: true });
      inner.signal.addEventListener('abort', cancel, { once: true });
      try {
        const answer = await piscina.run({ model, pool: options.pool, options: score, range, port: port2 }, { transferList: [port2] });
        if ('error' in answer) throw new McuError(answer.error.code ?? 'E_INTERNAL', answer.error.message);
        return answer.result;
      } catch (e) {
        // the first failure stops the other shards; it is the one reported
        first ??= signal?.aborted
          ? aborted(signal)
          : e instanceof McuError
            ? e
            : new McuError('E_INTERNAL', `a worker thread failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
        inner.abort();
        throw first;
      } finally {
        inner.signal.removeEventListener('abort', cancel);
        port1.close();
      }
    });
    const settled = await Promise.allSettled(runs);
    if (first !== undefined) throw first;
    return settled.map((s) => (s as PromiseFulfilledResult<ShardResult>).value);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // every thread closes its session before the threads end (see release in worker-thread.ts)
    const threads = piscina.threads.length;
    const barrier = new SharedArrayBuffer(4);
    await Promise.allSettled(
      Array.from({ length: threads }, () => piscina.run({ barrier, threads } satisfies ReleaseTask as unknown as ThreadTask, { name: 'release' })),
    );
    await piscina.destroy();
  }
}
