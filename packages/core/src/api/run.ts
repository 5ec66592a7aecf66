/**
 * What predict and evaluate share: their options, the engine they run on, the tasks and τ of
 * a run, and the meta data of a result.
 */
import type { Mcu } from '../di/container.js';
import { McEngine, type ProgressEvent, type RunMeta } from '../engine/engine.js';
import type { SelfCheckReport } from '../engine/self-check.js';
import { McuError } from '../errors.js';
import type { LoadOptions, MaskScope, StochasticModel } from '../model.js';
import type { Sampler } from '../sampling/sampler.js';
import { createSeededSampler } from '../sampling/seeded.js';
import type { NamedTensors } from '../tensor.js';
import { VERSION } from '../version.js';
import { rowCount } from './inputs.js';
import { firstRow, resolveTasks, type OutputTask, type TaskOption, type TaskWording } from './tasks.js';
import { boundaryWarning, fitTauOnData, resolveTau, TAU_SEARCH_RANGE, type FitTauData, type FittedTau, type TauOption, type TauWording } from './tau.js';

/** Progress of a one-call run: the engine's event within one row batch. */
export interface ApiProgressEvent extends ProgressEvent {
  /** The batch of rows this event belongs to (0-based; always 0 without `batchSize`). */
  readonly batch: number;
  /** How many batches the rows are split into. */
  readonly batches: number;
}

/** Options of {@link predict} and {@link evaluate}. */
export interface ApiRunOptions {
  /** The composition root that loads a model given as a path, URL, bytes or ModelSource; its engine runs every model. */
  readonly mcu?: Mcu;
  /** Backend load options (e.g. `{ insertDropout: { rate: 0.1 } }` for onnx), for a model loaded here. */
  readonly load?: LoadOptions;
  /** Monte Carlo samples T (with `tolerance`: the most to draw). Default 100. */
  readonly samples?: number;
  /** Seed of the counter-based masks (default 0): the same seed gives the same masks on every backend. */
  readonly seed?: number;
  /** `sample` (default): one mask per sample shared by every row; `point`: one per row. */
  readonly scope?: MaskScope;
  /** Adaptive T: stop once the largest Monte Carlo standard error is ≤ this. */
  readonly tolerance?: number;
  /** `auto` (default), `regression`, `classification`, or by output name (others: auto). See README "Tasks". */
  readonly task?: TaskOption;
  /** Model precision τ (regression): a number, or eq. 7's `{ weightDecay, lengthScale, nTrain }`. */
  readonly tau?: TauOption;
  /**
   * `tau` is a default for regression models (a configured τ): a model without a regression
   * output runs without it instead of being refused. Default false: τ for a classifier is an E_USAGE.
   */
  readonly tauDefault?: boolean;
  /** Fit τ by validation log-likelihood on these rows and targets (instead of `tau`). */
  readonly fitTau?: FitTauData;
  /** Draw the masks with this sampler instead of the seeded one (e.g. `replayFromRows` to replay given masks); `seed` is then ignored. */
  readonly sampler?: Sampler;
  /** How messages and warnings name the options (default: the library's option names; the CLI names its flags). */
  readonly wording?: RunWording;
  /** Memory for the MC samples of one backend call, in bytes (bounds samples per call, never splits rows). */
  readonly memoryBudgetBytes?: number;
  /** Cancels the run (an E_ABORTED McuError). */
  readonly signal?: AbortSignal;
  /** Called after every backend call. */
  readonly onProgress?: (event: ApiProgressEvent) => void;
  /**
   * Estimators fed from the model's own per-chunk reductions where the backend offers them and
   * every estimator of the run can use them (see McRunOptions.reduceInGraph). Default: for runs
   * of at least REDUCE_IN_GRAPH_MIN_VALUES raw output values (T·N·values per row); true: always
   * where possible; false: the raw samples and the estimators' JavaScript pass.
   */
  readonly reduceInGraph?: boolean;
}

/** How the one-call API's messages name the settings a caller gave (see {@link ApiRunOptions.wording}). */
export interface RunWording {
  /** The task option (default {@link API_TASK_WORDING}). */
  readonly task?: TaskWording;
  /** The τ options (default {@link API_TAU_WORDING}). */
  readonly tau?: TauWording;
  /** The fitTau option, e.g. `--fit-tau val.csv` (default `fitTau`). */
  readonly fitTau?: string;
  /** What the fitTau targets are, for the warning when the fitted τ is at the range's end (default `the targets`). */
  readonly fitTauTargets?: string;
  /** The ways to give τ, for evaluate's warning without one. */
  readonly giveTau?: string;
  /** The samples option (default `samples`). */
  readonly samples?: string;
  /** How a number is printed in a warning. */
  readonly format?: (x: number) => string;
}

/** Everything needed to reproduce a result. */
export interface ResultMeta {
  /** The mcu version that computed it ({@link VERSION}). */
  readonly version: string;
  /** The prepared model's hash, when its backend gives one. */
  readonly modelHash: string | null;
  readonly backend: string;
  readonly executionProvider: string;
  readonly seed: number;
  /** T drawn: with `tolerance` and several batches, the most any batch drew. */
  readonly samples: number;
  /** T asked for. */
  readonly samplesRequested: number;
  /** Samples per backend call (the largest, over batches). */
  readonly chunkSamples: number;
  readonly scope: MaskScope;
  /** Each site: name, kind, drop rate, per-row mask shape, scaling. */
  readonly sites: RunMeta['sites'];
  /** τ used (null: none, τ⁻¹ = 0). */
  readonly tau: number | null;
  /** With `fitTau`: true, or 'boundary' when the best τ is an end of {@link TAU_SEARCH_RANGE}. */
  readonly tauFitted?: true | 'boundary';
  /** With tauFitted 'boundary': the range searched. */
  readonly tauFitRange?: readonly [number, number];
  /** With `tolerance`: it, whether every batch converged, and the largest standard error. */
  readonly tolerance?: number;
  readonly converged?: boolean;
  readonly maxStandardError?: number;
  /** With `batchSize`: rows per batch, the number of batches, and each batch's T. */
  readonly batches?: { readonly size: number; readonly count: number; readonly samples: readonly number[] };
  /** The self-check before the first run (null when it did not run). */
  readonly selfCheck: SelfCheckReport | null;
  /** The task of each output and why. */
  readonly tasks: readonly OutputTask[];
  /** The model's warnings (from preparing it) and the run's. */
  readonly warnings: readonly string[];
}

/** The engine of `mcu`, or a plain one (seeded sampler, default configuration). */
export function engineOf(mcu: Mcu | undefined): McEngine {
  return mcu?.engine ?? new McEngine(createSeededSampler, {});
}

/** Run settings with their defaults, checked. */
export interface Settings {
  readonly samples: number;
  readonly seed: number;
  readonly scope: MaskScope;
  readonly tolerance?: number;
  readonly memoryBudgetBytes?: number;
  readonly signal?: AbortSignal;
}

/** The options' run settings with defaults (T = 100, seed 0, scope sample); bad values are E_CONFIG. */
/** The keys of {@link ApiRunOptions}, for {@link checkOptionKeys}. */
export const API_RUN_OPTION_KEYS: readonly (keyof ApiRunOptions)[] = [
  'mcu',
  'load',
  'samples',
  'seed',
  'scope',
  'tolerance',
  'task',
  'tau',
  'tauDefault',
  'fitTau',
  'sampler',
  'wording',
  'memoryBudgetBytes',
  'signal',
  'onProgress',
  'reduceInGraph',
];

/**
 * Refuse an option the call does not take: a misspelt key (`maskScope` for `scope`, say) would
 * otherwise be ignored and the run made with its default — a silently different answer.
 */
export function checkOptionKeys(options: object, fn: string, own: readonly string[] = []): void {
  const known = [...API_RUN_OPTION_KEYS, ...own];
  for (const key of Object.keys(options)) {
    if ((options as Record<string, unknown>)[key] === undefined || known.includes(key)) continue;
    throw new McuError('E_CONFIG', `${fn}(): unknown option '${key}'; it takes: ${[...known].sort().join(', ')}`);
  }
}

export function settingsOf(o: ApiRunOptions): Settings {
  const samples = o.samples ?? 100;
  if (!Number.isInteger(samples) || samples < 1) throw new McuError('E_CONFIG', `samples (T) must be an integer ≥ 1, got ${samples}`);
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0) throw new McuError('E_CONFIG', `seed must be an integer ≥ 0, got ${seed}`);
  const scope = o.scope ?? 'sample';
  if (scope !== 'sample' && scope !== 'point') throw new McuError('E_CONFIG', `scope must be 'sample' or 'point', got ${String(scope)}`);
  if (o.tolerance !== undefined && !(o.tolerance > 0)) throw new McuError('E_CONFIG', `tolerance must be > 0, got ${o.tolerance}`);
  if (o.memoryBudgetBytes !== undefined && !(o.memoryBudgetBytes > 0))
    throw new McuError('E_CONFIG', `memoryBudgetBytes must be > 0, got ${o.memoryBudgetBytes}`);
  if (o.tau !== undefined && o.fitTau !== undefined) throw new McuError('E_USAGE', 'give tau or fitTau, not both: fitTau chooses τ itself');
  return {
    samples,
    seed,
    scope,
    ...(o.tolerance !== undefined ? { tolerance: o.tolerance } : {}),
    ...(o.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: o.memoryBudgetBytes } : {}),
    ...(o.signal !== undefined ? { signal: o.signal } : {}),
  };
}

/** The tasks of the outputs (all, or `only`), learning symbolic per-row sizes from a deterministic pass on the first row. */
export function tasksOf(
  engine: McEngine,
  model: StochasticModel,
  feeds: NamedTensors,
  task: TaskOption | undefined,
  only?: readonly string[],
  wording?: TaskWording,
): Promise<OutputTask[]> {
  return resolveTasks(
    task ?? 'auto',
    model,
    async () => {
      if (rowCount(feeds) <= 1) return engine.deterministic(model, feeds);
      try {
        return await engine.deterministic(model, firstRow(feeds));
      } catch {
        return engine.deterministic(model, feeds); // e.g. a model with a fixed batch size
      }
    },
    { ...(only !== undefined ? { only } : {}), ...(wording !== undefined ? { wording } : {}) },
  );
}

/** τ of a run: given, by eq. 7, or fitted; with the fit, when there was one. */
export async function tauOf(
  engine: McEngine,
  model: StochasticModel,
  tasks: readonly OutputTask[],
  o: ApiRunOptions,
  s: Settings,
): Promise<{ tau?: number; fitted?: FittedTau }> {
  if (o.fitTau === undefined) {
    const tau = resolveTau(o.tau, model, tasks, {
      ...(o.wording?.tau !== undefined ? { wording: o.wording.tau } : {}),
      dropForClassifiers: o.tauDefault === true,
    });
    return tau !== undefined ? { tau } : {};
  }
  const fitted = await fitTauOnData(engine, model, tasks, o.fitTau, s, o.wording);
  return { tau: fitted.tau, fitted };
}

/** The meta data of a result made of one or more engine runs (one per row batch). */
export function metaOf(
  model: StochasticModel,
  s: Settings,
  metas: readonly RunMeta[],
  tasks: readonly OutputTask[],
  tau: number | undefined,
  fitted: FittedTau | undefined,
  batches: { size: number } | undefined,
  warnings: readonly string[],
  wording?: RunWording,
): ResultMeta {
  const first = metas[0];
  if (first === undefined) throw new McuError('E_INTERNAL', 'a result without an engine run');
  return {
    version: VERSION,
    modelHash: model.hash ?? null,
    backend: first.backend,
    executionProvider: first.executionProvider,
    seed: s.seed,
    samples: Math.max(...metas.map((m) => m.samples)),
    samplesRequested: s.samples,
    chunkSamples: Math.max(...metas.map((m) => m.chunkSamples)),
    scope: first.scope,
    sites: first.sites,
    tau: tau ?? null,
    ...(fitted !== undefined
      ? {
          tauFitted: fitted.atBoundary ? ('boundary' as const) : (true as const),
          ...(fitted.atBoundary ? { tauFitRange: [TAU_SEARCH_RANGE.min, TAU_SEARCH_RANGE.max] as const } : {}),
        }
      : {}),
    ...(s.tolerance !== undefined
      ? {
          tolerance: s.tolerance,
          converged: metas.every((m) => m.converged === true),
          maxStandardError: Math.max(...metas.map((m) => m.maxStandardError ?? Infinity)),
        }
      : {}),
    ...(batches !== undefined ? { batches: { size: batches.size, count: metas.length, samples: metas.map((m) => m.samples) } } : {}),
    selfCheck: metas.find((m) => m.selfCheck !== null)?.selfCheck ?? null,
    tasks,
    warnings: [...model.warnings, ...(fitted?.atBoundary ? [boundaryWarning(fitted, wording)] : []), ...warnings],
  };
}
