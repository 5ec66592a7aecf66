/**
 * `mcu acquire`: the plan as @mcu/acquire's options — `acquire()` on this machine's worker
 * threads, or `acquireOnQueue()` with --queue (shards for `mcu worker` processes) — and the
 * selection written by `writeSelection` (atomically: nothing at --out unless the whole run
 * succeeded) or printed on stdout without --out. The bytes are `formatSelection`'s either way,
 * so they are identical however the pool was split. One summary line on stderr (rows/s) unless --quiet.
 */
import { availableParallelism } from 'node:os';
import { McuError } from '@mcu/core';
import { acquire, acquireOnQueue, formatSelection, writeSelection, type ModelSpec, type ScoreOptions, type Selection } from '@mcu/acquire';
import type { Plan } from '../plan.js';
import { rowsProgressBar } from '../progress.js';

/** The model as a spec a worker thread or process loads itself: the plan's backend and its options. */
export function modelSpecOf(plan: Plan): ModelSpec {
  if (plan.modelPath === undefined) throw new McuError('E_USAGE', 'acquire: missing MODEL');
  const name = plan.backend.name;
  const options = plan.backend.options[(name ?? 'onnx') as keyof Plan['backend']['options']] as Record<string, unknown> | undefined;
  return {
    path: plan.modelPath,
    ...(name !== undefined ? { backend: name } : {}),
    ...(options !== undefined && Object.keys(options).length > 0 ? { backendOptions: { ...options } } : {}),
    ...(plan.settings.output !== undefined ? { output: plan.settings.output } : {}),
  };
}

/** The score options of the plan. */
export function scoreOptionsOf(plan: Plan): ScoreOptions {
  const a = plan.acquire;
  if (a === undefined) throw new McuError('E_USAGE', 'acquire: missing --pool FILE and --k K');
  // τ: --tau (args refuses it for other heuristics); the config's "tau" only where it applies (std)
  const tau = plan.tau.kind === 'value' && (plan.tau.source === 'flag' || a.heuristic === 'std') ? plan.tau.tau : undefined;
  return {
    heuristic: a.heuristic,
    k: a.k,
    samples: plan.engine.samples,
    seed: plan.engine.seed,
    scope: plan.engine.scope,
    ...(tau !== undefined ? { tau } : {}),
    ...(a.blockRows !== undefined ? { blockRows: a.blockRows } : {}),
    ...(a.candidates !== undefined ? { candidates: a.candidates } : {}),
  };
}

export async function acquireCommand(plan: Plan, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WriteStream }): Promise<void> {
  const a = plan.acquire;
  if (a === undefined) throw new McuError('E_USAGE', 'acquire: missing --pool FILE and --k K');
  const format = plan.format === 'csv' ? 'csv' : 'json';
  const model = modelSpecOf(plan);
  const score = scoreOptionsOf(plan);
  const pool = { path: a.pool };
  const bar = rowsProgressBar(io.stderr, !plan.quiet);
  // Ctrl-C: the run stops (a queued run removes its jobs from Redis), nothing is written
  const ac = new AbortController();
  const onSignal = (): void => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let selection: Selection;
  const began = Date.now();
  try {
    selection =
      a.queue !== undefined
        ? await acquireOnQueue({
            ...score,
            model,
            pool,
            queue: a.queue,
            ...(a.shardRows !== undefined ? { shardRows: a.shardRows } : {}),
            onProgress: (p) => bar.update(p),
            signal: ac.signal,
          })
        : await acquire({
            ...score,
            model,
            pool,
            ...(a.workers !== undefined ? { workers: a.workers } : {}),
            ...(a.shardRows !== undefined ? { shardRows: a.shardRows } : {}),
            onProgress: (p) => bar.update(p),
            signal: ac.signal,
          });
  } finally {
    bar.done();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  if (plan.out !== undefined) await writeSelection(plan.out, selection, format);
  else io.stdout.write(formatSelection(selection, format));
  if (!plan.quiet) {
    const s = (Date.now() - began) / 1000;
    const where =
      a.queue !== undefined ? `on the queue ${a.queue}` : a.workers === 1 ? 'in this thread' : `on ${a.workers ?? availableParallelism()} worker threads`;
    io.stderr.write(
      `mcu: acquire: selected ${selection.selected.length} of ${selection.poolRows} rows (${selection.heuristic}) in ${s.toFixed(1)} s, ${Math.round(selection.poolRows / Math.max(s, 1e-3))} rows/s ${where}${plan.out !== undefined ? ` → ${plan.out}` : ''}\n`,
    );
  }
}
