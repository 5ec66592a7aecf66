import { availableParallelism } from 'node:os';
import { McuError } from '@mcu/core';
import { DEMO_LEARNER, DqnAgent, POLICIES, type LearnerOptions, type Policy } from './dqn.js';
import { openTf, type RlBackend } from './tfjs.js';
import { DEMO_WORLD, NUM_ACTIONS, World, type WorldOptions } from './world.js';

/*
 * The paper's §5.4 / figure 6 experiment: average reward per batch for Thompson sampling with
 * dropout and for ε-greedy, same world, seeds and network.
 *
 * A "batch" is a fixed number of agent steps, `stepsPerBatch` = 120 by default. The paper counts
 * its burn-in as 25 batches of random moves, and Gal's comparison demo (the paper's code,
 * yaringal/DropoutUncertaintyDemos) burns in 3000 random moves (deepqlearn's
 * learning_steps_burnin): 3000 / 25 = 120 steps per batch. (The demos plot their average reward
 * every 200 (Karpathy) or 500 (Gal) steps; neither is called a batch.) Every step also trains one
 * replay minibatch of 64 once more than 1000 transitions are stored, as the demo does.
 *
 * A batch's average reward is the mean of its steps' rewards; `movingAverageReward` is the demo's
 * own "average reward" (a trailing window of the last 1000 rewards) read at the end of each batch.
 */

export const PAPER_FIGURE_6 = {
  source: 'Gal & Ghahramani 2016, §5.4 and figure 6',
  burnInBatches: 25,
  dropoutRate: 0.1,
  thompsonFirstBatchAbove1: 25,
  epsilonGreedyFirstBatchAbove1: 175,
} as const;

export const DEFAULT_STEPS_PER_BATCH = 120;
export const DEFAULT_BURN_IN_BATCHES = 25;
/** The demo's average_reward_window: cnnutil.Window(1000, 10). */
export const MOVING_AVERAGE_WINDOW = 1000;

export interface ExperimentOptions {
  readonly policy: Policy;
  readonly seed: number;
  /** Batches after burn-in (the x-axis of figure 6). */
  readonly batches: number;
  readonly stepsPerBatch?: number;
  readonly burnInBatches?: number;
  readonly backend?: RlBackend;
  readonly world?: WorldOptions;
  /** The learner's settings (default: the demo's); burn-in comes from burnInBatches. */
  readonly learner?: Omit<LearnerOptions, 'burnInSteps'>;
  /** Called after every batch (burn-in included; `batch` < 0 there). */
  readonly onBatch?: (p: BatchProgress) => void;
}

export interface BatchProgress {
  readonly policy: Policy;
  readonly seed: number;
  /** 1-based batch after burn-in; burn-in batches are −burnInBatches … −1. */
  readonly batch: number;
  readonly averageReward: number;
  readonly movingAverageReward: number;
  readonly seconds: number;
}

export interface ExperimentResult {
  readonly policy: Policy;
  readonly seed: number;
  readonly backend: RlBackend;
  readonly batches: number;
  readonly stepsPerBatch: number;
  readonly burnInBatches: number;
  /** Mean reward of each batch after burn-in; entry k − 1 is batch k. */
  readonly averageRewardPerBatch: number[];
  /** The demo's trailing 1000-step average reward at the end of each batch after burn-in. */
  readonly movingAverageReward: number[];
  readonly burnInAverageRewardPerBatch: number[];
  readonly redEatenPerBatch: number[];
  readonly greenEatenPerBatch: number[];
  /** Fraction of the batch's actions that were random (ε steps; 0 for Thompson sampling). */
  readonly randomActionFraction: number[];
  /** TD loss of each batch's last minibatch (null before learning starts). */
  readonly lossPerBatch: (number | null)[];
  /** First batch after burn-in whose average reward exceeds 1 (1-based), or null. */
  readonly firstBatchAbove1: number | null;
  /** The same on the demo's moving average. */
  readonly firstBatchAbove1MovingAverage: number | null;
  readonly seconds: number;
  readonly stepsPerSecond: number;
}

function positiveInt(v: unknown, name: string, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new McuError('E_CONFIG', `${name} must be an integer ≥ ${min}, got ${String(v)}`);
  return v;
}

/** 1-based index of the first value above `threshold`, or null. */
export function firstAbove(values: readonly number[], threshold = 1): number | null {
  const i = values.findIndex((v) => v > threshold);
  return i < 0 ? null : i + 1;
}

/** Run one agent (one policy, one seed) for burn-in + `batches` batches. */
export async function runExperiment(options: ExperimentOptions): Promise<ExperimentResult> {
  const { policy, seed } = options;
  if (!POLICIES.includes(policy)) throw new McuError('E_CONFIG', `policy must be one of ${POLICIES.join(', ')}, got ${String(policy)}`);
  const batches = positiveInt(options.batches, 'batches', 0);
  const stepsPerBatch = positiveInt(options.stepsPerBatch ?? DEFAULT_STEPS_PER_BATCH, 'stepsPerBatch');
  const burnInBatches = positiveInt(options.burnInBatches ?? DEFAULT_BURN_IN_BATCHES, 'burnInBatches', 0);
  const rt = await openTf(options.backend);
  const world = new World(options.world);
  let observation = world.reset(seed);
  const agent = await rt.run(
    () =>
      new DqnAgent(rt.tf, {
        ...(options.learner ?? {}),
        burnInSteps: burnInBatches * stepsPerBatch,
        policy,
        seed,
        observationSize: world.observationSize,
        numActions: NUM_ACTIONS,
      }),
  );
  const window = new Float64Array(MOVING_AVERAGE_WINDOW);
  let windowSum = 0;
  let windowCount = 0;
  let stepIndex = 0;
  const result = {
    averageRewardPerBatch: [] as number[],
    movingAverageReward: [] as number[],
    burnInAverageRewardPerBatch: [] as number[],
    redEatenPerBatch: [] as number[],
    greenEatenPerBatch: [] as number[],
    randomActionFraction: [] as number[],
    lossPerBatch: [] as (number | null)[],
  };
  const t0 = performance.now();
  try {
    for (let b = 0; b < burnInBatches + batches; b++) {
      const stats = await rt.run(() => {
        let sum = 0;
        let red = 0;
        let green = 0;
        let random = 0;
        let loss: number | null = null;
        for (let k = 0; k < stepsPerBatch; k++) {
          const d = agent.act(observation);
          const s = world.step(d.action);
          const last = k + 1 === stepsPerBatch;
          const rep = agent.learn(s.reward, s.observation, { wantLoss: last });
          if (last && rep.loss !== undefined) loss = rep.loss;
          observation = s.observation;
          sum += s.reward;
          red += s.redEaten;
          green += s.greenEaten;
          if (d.random) random++;
          const slot = stepIndex++ % MOVING_AVERAGE_WINDOW;
          windowSum += s.reward - window[slot]!;
          window[slot] = s.reward;
          windowCount = Math.min(windowCount + 1, MOVING_AVERAGE_WINDOW);
        }
        return { average: sum / stepsPerBatch, red, green, random: random / stepsPerBatch, loss };
      });
      const moving = windowSum / windowCount;
      const batch = b < burnInBatches ? b - burnInBatches : b - burnInBatches + 1;
      if (b < burnInBatches) result.burnInAverageRewardPerBatch.push(stats.average);
      else {
        result.averageRewardPerBatch.push(stats.average);
        result.movingAverageReward.push(moving);
        result.redEatenPerBatch.push(stats.red);
        result.greenEatenPerBatch.push(stats.green);
        result.randomActionFraction.push(stats.random);
        result.lossPerBatch.push(stats.loss);
      }
      options.onBatch?.({ policy, seed, batch, averageReward: stats.average, movingAverageReward: moving, seconds: (performance.now() - t0) / 1000 });
    }
  } finally {
    await rt.run(() => agent.dispose());
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    policy,
    seed,
    backend: rt.backend,
    batches,
    stepsPerBatch,
    burnInBatches,
    ...result,
    firstBatchAbove1: firstAbove(result.averageRewardPerBatch),
    firstBatchAbove1MovingAverage: firstAbove(result.movingAverageReward),
    seconds,
    stepsPerSecond: ((burnInBatches + batches) * stepsPerBatch) / seconds,
  };
}

export interface ComparisonOptions extends Omit<ExperimentOptions, 'policy' | 'seed' | 'onBatch'> {
  readonly seeds: readonly number[];
  readonly policies?: readonly Policy[];
  /**
   * Runs at a time, each in its own worker thread (tfjs-wasm runs on one thread, so a 2-core
   * machine does two runs at once). Needs the compiled package (dist/); from sources runs are
   * sequential. Default 1.
   */
  readonly parallel?: number;
  /** Called when a run finishes. */
  readonly onRun?: (r: ExperimentResult) => void;
}

export interface PolicySummary {
  readonly policy: Policy;
  readonly seeds: number[];
  /** Per batch after burn-in: mean over seeds of the batch's average reward. */
  readonly mean: number[];
  /** mean ∓ one standard error over seeds (0 with one seed). */
  readonly lo: number[];
  readonly hi: number[];
  readonly standardError: number[];
  readonly min: number[];
  readonly max: number[];
  /** The same statistics of the demo's trailing 1000-step average. */
  readonly movingAverage: { readonly mean: number[]; readonly lo: number[]; readonly hi: number[] };
  /** First batch after burn-in where the mean over seeds exceeds 1 (1-based), or null. */
  readonly firstBatchAbove1: number | null;
  readonly firstBatchAbove1MovingAverage: number | null;
  /** Each seed's own first batch above 1. */
  readonly firstBatchAbove1PerSeed: (number | null)[];
  readonly firstBatchAbove1MovingAveragePerSeed: (number | null)[];
}

export interface ComparisonResult {
  readonly experiment: string;
  readonly paper: typeof PAPER_FIGURE_6;
  readonly config: {
    readonly seeds: number[];
    readonly batches: number;
    readonly stepsPerBatch: number;
    readonly burnInBatches: number;
    readonly backend: RlBackend;
    readonly parallel: number;
    readonly world: Record<string, unknown>;
    readonly learner: Record<string, unknown>;
    readonly batchDefinition: string;
  };
  readonly policies: Record<Policy, PolicySummary>;
  readonly runs: ExperimentResult[];
  /** Wall-clock time of the whole comparison. */
  readonly seconds: number;
  /**
   * CPU time of this process, worker threads included (user + system): on an otherwise idle
   * machine the wall-clock time is ≈ cpuSeconds / parallel; on a busy one it is the honest size.
   */
  readonly cpuSeconds: number;
}

/** Mean, standard error, min and max over rows of equal length. */
export function band(rows: readonly (readonly number[])[]): {
  mean: number[];
  standardError: number[];
  lo: number[];
  hi: number[];
  min: number[];
  max: number[];
} {
  const n = rows.length;
  const len = n === 0 ? 0 : Math.min(...rows.map((r) => r.length));
  const mean: number[] = [];
  const standardError: number[] = [];
  const min: number[] = [];
  const max: number[] = [];
  for (let j = 0; j < len; j++) {
    let s = 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (const r of rows) {
      s += r[j]!;
      lo = Math.min(lo, r[j]!);
      hi = Math.max(hi, r[j]!);
    }
    const m = s / n;
    let v = 0;
    for (const r of rows) v += (r[j]! - m) ** 2;
    const se = n > 1 ? Math.sqrt(v / (n - 1) / n) : 0;
    mean.push(m);
    standardError.push(se);
    min.push(lo);
    max.push(hi);
  }
  return { mean, standardError, lo: mean.map((m, j) => m - standardError[j]!), hi: mean.map((m, j) => m + standardError[j]!), min, max };
}

export function summarise(policy: Policy, runs: readonly ExperimentResult[]): PolicySummary {
  const mine = runs.filter((r) => r.policy === policy).sort((a, b) => a.seed - b.seed);
  const avg = band(mine.map((r) => r.averageRewardPerBatch));
  const mov = band(mine.map((r) => r.movingAverageReward));
  return {
    policy,
    seeds: mine.map((r) => r.seed),
    mean: avg.mean,
    lo: avg.lo,
    hi: avg.hi,
    standardError: avg.standardError,
    min: avg.min,
    max: avg.max,
    movingAverage: { mean: mov.mean, lo: mov.lo, hi: mov.hi },
    firstBatchAbove1: firstAbove(avg.mean),
    firstBatchAbove1MovingAverage: firstAbove(mov.mean),
    firstBatchAbove1PerSeed: mine.map((r) => r.firstBatchAbove1),
    firstBatchAbove1MovingAveragePerSeed: mine.map((r) => r.firstBatchAbove1MovingAverage),
  };
}

/** Run every (policy, seed) and summarise per policy and batch. */
export async function runComparison(options: ComparisonOptions): Promise<ComparisonResult> {
  const { seeds, onRun, parallel: askedParallel, policies: askedPolicies, ...common } = options;
  if (!Array.isArray(seeds) || seeds.length === 0) throw new McuError('E_CONFIG', 'runComparison needs at least one seed');
  const policies = askedPolicies ?? POLICIES;
  const jobs: ExperimentOptions[] = [];
  for (const seed of seeds) for (const policy of policies) jobs.push({ ...common, policy, seed });
  const fromSources = !import.meta.url.endsWith('.js');
  const parallel = fromSources ? 1 : Math.max(1, Math.min(askedParallel ?? 1, jobs.length, availableParallelism()));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const runs = parallel > 1 ? await runInWorkers(jobs, parallel, onRun) : await runInProcess(jobs, onRun);
  const first = runs[0]!;
  const summaries = Object.fromEntries(policies.map((p) => [p, summarise(p, runs)])) as Record<Policy, PolicySummary>;
  return {
    experiment: 'Thompson sampling with dropout vs epsilon-greedy on the ConvNetJS deep-Q-learning world',
    paper: PAPER_FIGURE_6,
    config: {
      seeds: [...seeds],
      batches: first.batches,
      stepsPerBatch: first.stepsPerBatch,
      burnInBatches: first.burnInBatches,
      backend: first.backend,
      parallel,
      world: { ...DEMO_WORLD, ...(options.world ?? {}) },
      learner: { ...DEMO_LEARNER, ...(options.learner ?? {}), burnInSteps: first.burnInBatches * first.stepsPerBatch },
      batchDefinition: `${first.stepsPerBatch} agent steps (each step also trains one replay minibatch of ${options.learner?.batchSize ?? DEMO_LEARNER.batchSize}); the paper's 25 burn-in batches = the demo's 3000 random moves`,
    },
    policies: summaries,
    runs,
    seconds: (performance.now() - t0) / 1000,
    cpuSeconds: (() => {
      const c = process.cpuUsage(cpu0);
      return (c.user + c.system) / 1e6;
    })(),
  };
}

async function runInProcess(jobs: readonly ExperimentOptions[], onRun?: (r: ExperimentResult) => void): Promise<ExperimentResult[]> {
  const out: ExperimentResult[] = [];
  for (const job of jobs) {
    const r = await runExperiment(job);
    onRun?.(r);
    out.push(r);
  }
  return out;
}

async function runInWorkers(jobs: readonly ExperimentOptions[], parallel: number, onRun?: (r: ExperimentResult) => void): Promise<ExperimentResult[]> {
  const { Worker } = await import('node:worker_threads');
  const results: ExperimentResult[] = new Array(jobs.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      const job = jobs[i]!;
      results[i] = await new Promise<ExperimentResult>((resolve, reject) => {
        const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: job });
        let done = false;
        worker.once('message', (m: { ok: true; result: ExperimentResult } | { ok: false; error: string; code?: string }) => {
          done = true;
          if (m.ok) resolve(m.result);
          else reject(new McuError((m.code as 'E_INTERNAL') ?? 'E_INTERNAL', `run ${job.policy} seed ${job.seed}: ${m.error}`));
        });
        worker.once('error', reject);
        worker.once('exit', (code) => {
          if (!done) reject(new McuError('E_INTERNAL', `run ${job.policy} seed ${job.seed}: worker exited with code ${code} before reporting`));
        });
      });
      onRun?.(results[i]!);
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
  return results;
}
