import { createRequire } from 'node:module';
import { McuError } from '@mcu/core/errors';
import { helpText, parseArgs } from './args.js';
import { exitCodeFor, oneLine } from './exit.js';

export interface MainIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WriteStream;
  readonly cwd: string;
}

/** The CLI package's version, read from its package.json at run time (only for --version). */
function version(): string {
  // src/main.ts and dist/main.js sit one folder below the package root, the bundle (dist/bundle/main.js) two
  const require = createRequire(import.meta.url);
  for (const up of ['../package.json', '../../package.json']) {
    try {
      const p = require(up) as { name?: string; version: string };
      if (p.name === '@mcu/cli') return p.version;
    } catch {
      // not there: one level up
    }
  }
  throw new McuError('E_INTERNAL', `@mcu/cli's package.json is not next to ${import.meta.url}: reinstall @mcu/cli`);
}

/**
 * The one top-level catch: commands are imported lazily (`mcu --help` loads no runtime);
 * any failure prints ONE line `mcu: …` (stack only with --debug) and maps to an exit status.
 */
export async function main(argv: readonly string[], io: MainIo = { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() }): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    const parsed = parseArgs(argv);
    if (parsed.command === 'version') {
      io.stdout.write(`mcu ${version()}\n`);
      return 0;
    }
    if (parsed.command === 'help') {
      io.stdout.write(helpText(parsed.topic));
      return 0;
    }
    // the configuration and the plan load only past help and --version (they pull in @mcu/core's engine)
    const { loadConfig, mergeSettings } = await import('./config.js');
    const { describePlan, makePlan } = await import('./plan.js');
    const settings = mergeSettings(loadConfig(io.cwd, parsed.options.config), parsed);
    // Every setting reaches the run through the plan, or is refused there (plan.ts).
    const plan = makePlan(settings);
    if (plan.debug) io.stderr.write(`mcu: debug: plan ${JSON.stringify(describePlan(plan))}\n`);
    switch (plan.command) {
      case 'predict':
        await (await import('./commands/predict.js')).predict(plan, io);
        break;
      case 'inspect':
        await (await import('./commands/inspect.js')).inspect(plan, io);
        break;
      case 'convert':
        await (await import('./commands/convert.js')).convert(plan, io);
        break;
      case 'evaluate':
        await (await import('./commands/evaluate.js')).evaluate(plan, io);
        break;
      case 'plot':
        // @mcu/plot (and vega) load here, not for --help
        await (await import('./commands/plot.js')).plot(plan, io);
        break;
      case 'backends':
        await (await import('./commands/backends.js')).backends(plan, io);
        break;
      case 'serve':
        // @mcu/server (fastify, the runtimes) loads here, not for --help
        await (await import('./commands/serve.js')).serve(plan, io);
        break;
      case 'acquire':
        // @mcu/acquire (piscina, bullmq, the runtime) loads here, not for --help
        await (await import('./commands/acquire.js')).acquireCommand(plan, io);
        break;
      case 'worker':
        await (await import('./commands/worker.js')).worker(plan, io);
        break;
      default:
        throw new McuError('E_INTERNAL', `unhandled command '${String(plan.command)}'`);
    }
    return 0;
  } catch (e) {
    io.stderr.write(`${oneLine(e)}\n`);
    if (debug && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`);
    return exitCodeFor(e);
  }
}
