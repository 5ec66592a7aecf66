/**
 * `mcu serve`: the flags as @mcu/server's createServer options, on the CLI's composition root
 * (so --config's backend, its options and the memory budget load and run the models, as for
 * predict). It returns once the server listens (the server keeps the process alive); SIGTERM or
 * SIGINT closes it gracefully.
 */
import { McuError, type Mcu } from '@mcu/core';
import { TASKS } from '@mcu/core/options';
import { createServer, type McuServer, type RequestOptions } from '@mcu/server';
import { compose } from '../compose.js';
import type { Plan } from '../plan.js';

const running = new Set<{ readonly server: McuServer; readonly mcu: Mcu }>();
let handlers = false;

/** Close every server `mcu serve` started in this process (what SIGTERM and SIGINT do): in-flight requests finish first. */
export async function closeServers(): Promise<void> {
  const all = [...running];
  running.clear();
  await Promise.all(
    all.map(async ({ server, mcu }) => {
      await server.close();
      await mcu.dispose();
    }),
  );
}

/**
 * The config's run options (samples, seed, maskScope, task, tau) as the defaults of every
 * request; serve takes no run flags, so each comes from mcu.config.json or is left to the request.
 * A per-output task cannot apply to every served model: it is refused.
 */
function configDefaults(plan: Plan): RequestOptions {
  const from = plan.settings.sources;
  if (Object.keys(plan.tasks.byOutput).length > 0) {
    throw new McuError(
      'E_USAGE',
      `serve: the config's "task" names outputs (${Object.keys(plan.tasks.byOutput).join(', ')}), which cannot apply to every served model: give "task" as one of ${TASKS.join(', ')}, or per request (options.task)`,
    );
  }
  return {
    ...(from.samples === 'config' ? { samples: plan.engine.samples } : {}),
    ...(from.seed === 'config' ? { seed: plan.engine.seed } : {}),
    ...(from.maskScope === 'config' ? { maskScope: plan.engine.scope } : {}),
    ...(from.task === 'config' ? { task: plan.tasks.default } : {}),
    ...(plan.tau.kind === 'value' ? { tau: plan.tau.tau } : {}),
  };
}

export async function serve(plan: Plan, io: { stderr: NodeJS.WritableStream }): Promise<void> {
  const s = plan.serve;
  if (s === undefined) throw new McuError('E_USAGE', 'serve: missing --models DIR (a directory of *.onnx or model.json files to serve)');
  const mcu = compose({
    ...(plan.backend.name !== undefined ? { backend: plan.backend.name } : {}),
    backendOptions: plan.backend.options,
    memoryBudgetBytes: plan.backend.memoryBudgetBytes,
  });
  let server: McuServer;
  try {
    server = await createServer({
      mcu,
      models: s.models,
      defaults: configDefaults(plan),
      memoryBudgetBytes: plan.backend.memoryBudgetBytes,
      ...(s.maxRows !== undefined ? { maxRows: s.maxRows } : {}),
      ...(s.maxSamples !== undefined ? { maxSamples: s.maxSamples } : {}),
      ...(s.queue !== undefined ? { queue: s.queue } : {}),
      ...(s.batchWaitMs !== undefined ? { batchWaitMs: s.batchWaitMs } : {}),
      // pino's JSON lines on stdout (no transport: no worker thread)
      logger: { level: 'info' },
    });
  } catch (e) {
    await mcu.dispose();
    throw e;
  }
  let url: string;
  try {
    url = await server.listen({ port: s.port, host: s.host });
  } catch (e) {
    await server.close();
    await mcu.dispose();
    const code = (e as { code?: string }).code;
    throw new McuError(
      'E_USAGE',
      `serve: cannot listen on ${s.host}:${s.port} (${code ?? (e instanceof Error ? e.message : String(e))}): give another --port or --host`,
      { cause: e },
    );
  }
  running.add({ server, mcu });
  if (!handlers) {
    handlers = true;
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void closeServers());
  }
  const l = server.limits;
  const limits = `max rows ${l.maxRows}, max samples ${l.maxSamples}, queue ${l.queue}, batch wait ${l.batchWaitMs} ms, timeout ${l.timeoutMs} ms`;
  io.stderr.write(`mcu: serving ${server.models.join(', ')} at ${url} (${limits}); SIGTERM stops it\n`);
}
