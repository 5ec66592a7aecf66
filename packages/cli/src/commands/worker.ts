/**
 * `mcu worker`: @mcu/acquire's queue worker on this process — shards of `mcu acquire … --queue`
 * runs taken from Redis, scored with MODEL, one stderr line as each starts and ends. SIGTERM or
 * SIGINT: no new shard is taken, the ones in progress finish, then the command returns (exit 0).
 * A run whose model is not MODEL (or whose pool here differs) is refused: the shard goes back
 * to the queue for another worker and the command fails with the reason (exit 2).
 */
import { McuError } from '@mcu/core';
import { runWorker } from '@mcu/acquire';
import type { Plan } from '../plan.js';

export async function worker(plan: Plan, io: { stderr: NodeJS.WritableStream }): Promise<void> {
  const w = plan.worker;
  if (w === undefined || plan.modelPath === undefined) throw new McuError('E_USAGE', 'worker: usage: mcu worker MODEL --queue redis://HOST:PORT');
  const ac = new AbortController();
  const onSignal = (): void => ac.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    const done = await runWorker({
      queue: w.queue,
      model: { path: plan.modelPath },
      ...(w.pool !== undefined ? { pool: w.pool } : {}),
      ...(w.concurrency !== undefined ? { concurrency: w.concurrency } : {}),
      ...(w.lockMs !== undefined ? { lockMs: w.lockMs } : {}),
      signal: ac.signal,
      log: (line) => io.stderr.write(`${line}\n`),
    });
    io.stderr.write(`mcu: worker: stopped after ${done.shards} shard${done.shards === 1 ? '' : 's'} (${done.rows} rows)\n`);
  } finally {
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
  }
}
