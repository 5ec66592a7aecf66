#!/usr/bin/env node
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { McuError } from '@mcu/core';
import { POLICIES, type Policy } from './dqn.js';
import { DEFAULT_BURN_IN_BATCHES, DEFAULT_STEPS_PER_BATCH, runComparison, type ComparisonResult } from './experiment.js';
import { RL_BACKENDS, type RlBackend } from './tfjs.js';

/*
 * node packages/rl/dist/cli.js [--out FILE] [--seeds 1,2,3,4,5] [--batches N] …
 *
 * The full comparison of the paper's figure 6 with the defaults below: 2 policies × 5 seeds ×
 * (25 burn-in + 400) batches of 120 steps, two runs at a time (one per core); its size was chosen
 * to fit the reproduction budget on a 2-core machine (see packages/rl/README.md for timings).
 */

export const FULL_RUN = { seeds: [1, 2, 3, 4, 5], batches: 400, stepsPerBatch: DEFAULT_STEPS_PER_BATCH, burnInBatches: DEFAULT_BURN_IN_BATCHES } as const;

export interface CliOptions {
  out: string;
  seeds: number[];
  batches: number;
  stepsPerBatch: number;
  burnInBatches: number;
  parallel: number;
  backend?: RlBackend;
  policies: Policy[];
  proximityReward: 'linear' | 'clipped';
  quiet: boolean;
}

const HELP = `usage: node packages/rl/dist/cli.js [options]

Thompson sampling with dropout vs epsilon-greedy on the ConvNetJS deep-Q-learning world
(Gal & Ghahramani 2016, section 5.4, figure 6). Writes the results as JSON.

  --out FILE             results file (default results/rl-thompson-vs-egreedy.json)
  --seeds LIST           comma-separated seeds (default ${FULL_RUN.seeds.join(',')})
  --batches N            batches after burn-in (default ${FULL_RUN.batches})
  --steps-per-batch N    agent steps per batch (default ${FULL_RUN.stepsPerBatch})
  --burn-in N            burn-in batches of random moves (default ${FULL_RUN.burnInBatches})
  --parallel N           runs at a time, one worker thread each (default: min(2, cores))
  --backend NAME         wasm or cpu (default wasm, else cpu)
  --policies LIST        thompson,epsilon-greedy (default both)
  --proximity MODE       linear (Gal's comparison demo, default) or clipped (Karpathy's demo)
  --quiet                no progress lines
  --help
`;

function intList(v: string, flag: string): number[] {
  const out = v.split(',').map((s) => Number(s.trim()));
  if (out.length === 0 || !out.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw new McuError('E_USAGE', `${flag} expects comma-separated non-negative integers, got '${v}'`);
  }
  return out;
}

function int(v: string, flag: string, min: number): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new McuError('E_USAGE', `${flag} expects an integer ≥ ${min}, got '${v}'`);
  return n;
}

/** Parse the command line (pure; throws E_USAGE naming the flag). Returns null for --help. */
export function parseArgs(argv: readonly string[]): CliOptions | null {
  const o: CliOptions = {
    out: 'results/rl-thompson-vs-egreedy.json',
    seeds: [...FULL_RUN.seeds],
    batches: FULL_RUN.batches,
    stepsPerBatch: FULL_RUN.stepsPerBatch,
    burnInBatches: FULL_RUN.burnInBatches,
    parallel: Math.min(2, availableParallelism()),
    policies: [...POLICIES],
    proximityReward: 'linear',
    quiet: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--help' || flag === '-h') return null;
    if (flag === '--quiet') {
      o.quiet = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) throw new McuError('E_USAGE', `${flag} needs a value`);
    switch (flag) {
      case '--out':
        o.out = value;
        break;
      case '--seeds':
        o.seeds = intList(value, flag);
        break;
      case '--batches':
        o.batches = int(value, flag, 1);
        break;
      case '--steps-per-batch':
        o.stepsPerBatch = int(value, flag, 1);
        break;
      case '--burn-in':
        o.burnInBatches = int(value, flag, 0);
        break;
      case '--parallel':
        o.parallel = int(value, flag, 1);
        break;
      case '--backend':
        if (!RL_BACKENDS.includes(value as RlBackend)) throw new McuError('E_USAGE', `--backend expects one of ${RL_BACKENDS.join(', ')}, got '${value}'`);
        o.backend = value as RlBackend;
        break;
      case '--policies': {
        const list = value.split(',').map((s) => s.trim());
        if (list.length === 0 || !list.every((p) => POLICIES.includes(p as Policy))) {
          throw new McuError('E_USAGE', `--policies expects a comma-separated subset of ${POLICIES.join(', ')}, got '${value}'`);
        }
        o.policies = list as Policy[];
        break;
      }
      case '--proximity':
        if (value !== 'linear' && value !== 'clipped') throw new McuError('E_USAGE', `--proximity expects linear or clipped, got '${value}'`);
        o.proximityReward = value;
        break;
      default:
        throw new McuError('E_USAGE', `unknown option '${flag}'; see --help`);
    }
  }
  return o;
}

/** Run the comparison and write its JSON; returns the result (for a reproduce script). */
export async function reproduceFigure6(o: CliOptions, log: (line: string) => void = () => undefined): Promise<ComparisonResult> {
  const t0 = performance.now();
  const result = await runComparison({
    seeds: o.seeds,
    batches: o.batches,
    stepsPerBatch: o.stepsPerBatch,
    burnInBatches: o.burnInBatches,
    parallel: o.parallel,
    policies: o.policies,
    world: { proximityReward: o.proximityReward },
    ...(o.backend !== undefined ? { backend: o.backend } : {}),
    onRun: (r) =>
      log(
        `  ${r.policy.padEnd(14)} seed ${r.seed}: ${r.seconds.toFixed(1)} s (${r.stepsPerSecond.toFixed(0)} steps/s, ${r.backend}); ` +
          `last batch ${r.averageRewardPerBatch.at(-1)?.toFixed(3)}, first batch > 1: ${r.firstBatchAbove1 ?? 'never'} (moving average: ${r.firstBatchAbove1MovingAverage ?? 'never'}) — ${((performance.now() - t0) / 1000).toFixed(0)} s so far`,
      ),
  });
  const path = resolve(o.out);
  await mkdir(dirname(path), { recursive: true });
  // Six decimals are far below the seed-to-seed spread; they keep the file small.
  await writeFile(path, `${JSON.stringify(result, (_k, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1e6) / 1e6 : v))}\n`);
  for (const p of o.policies) {
    const s = result.policies[p];
    const tail = s.mean.slice(-Math.min(50, s.mean.length));
    log(
      `${p}: mean reward over the last ${tail.length} batches ${(tail.reduce((a, b) => a + b, 0) / tail.length).toFixed(3)}; ` +
        `first batch where the seed-mean exceeds 1: ${s.firstBatchAbove1 ?? 'never'} (moving average: ${s.firstBatchAbove1MovingAverage ?? 'never'}); per seed ${JSON.stringify(s.firstBatchAbove1PerSeed)}`,
    );
  }
  log(
    `wrote ${path} (${result.seconds.toFixed(0)} s wall, ${result.cpuSeconds.toFixed(0)} s CPU, parallel ${result.config.parallel}, ${result.config.backend})`,
  );
  return result;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    const o = parseArgs(argv);
    if (o === null) {
      process.stdout.write(HELP);
      return 0;
    }
    const log = o.quiet ? () => undefined : (line: string) => process.stderr.write(`${line}\n`);
    log(
      `figure 6: ${o.policies.join(' vs ')}, seeds ${o.seeds.join(',')}, ${o.burnInBatches} burn-in + ${o.batches} batches × ${o.stepsPerBatch} steps, parallel ${o.parallel}`,
    );
    await reproduceFigure6(o, log);
    return 0;
  } catch (e) {
    process.stderr.write(`mcu-rl: ${e instanceof Error ? e.message : String(e)}\n`);
    return e instanceof McuError && e.code === 'E_USAGE' ? 2 : 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
