/**
 * `mcu.config.json` and the final settings of a run.
 *
 * Precedence: command-line flags > config file > defaults. Defaults:
 *
 *   samples 100, seed 0, maskScope 'sample', task 'auto', format 'json',
 *   memoryBudgetMB 512, backend: none (the best available one that reads the model),
 *   dropoutScaling 'inverted', before Gemm,MatMul,Conv, split 0 (with --uci),
 *   quiet false, debug false; plot: format 'svg', standard false.
 *
 * The config file is looked up as `mcu.config.json` in the working directory (optional),
 * or given with `--config FILE` (then it must exist). Unknown keys at any level and bad
 * values are McuError('E_CONFIG') naming the key path. `"$schema"` is accepted and ignored:
 * editors read the JSON Schema that config-schema.ts derives from ConfigSchema.
 *
 * Example:
 *   {
 *     "backend": "onnx",
 *     "backendOptions": { "onnx": { "executionProviders": ["cuda", "cpu"], "intraOpNumThreads": 4 } },
 *     "samples": 200,
 *     "seed": 42
 *   }
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import * as v from 'valibot';
import { McuError } from '@mcu/core/errors';
import { oneOf, parseOptions, RUN_OPTIONS_ENTRIES, type DropoutScaling, type MaskScope, type Task } from '@mcu/core';
import { defaultCacheDir, OnnxOptionsSchema, type GraphOptimizationLevel, type OnnxOptionsInput } from '@mcu/backend-onnx';
import { TfjsOptionsSchema, type TfjsBackendName, type TfjsOptions } from '@mcu/backend-tfjs';
import { FORMATS_BY_COMMAND, OUTPUT_FORMATS, closest } from './args.js';
import type { CliOptions, CommandName, HeuristicArg, InputArg, InputShapeArg, InsertBeforeOp, OutputFormat, ParsedArgs } from './args.js';
import { readFileText } from './io/files.js';
import { parseJsonText } from './io/json.js';

export const CONFIG_FILE = 'mcu.config.json';

// Defined once, by the backends; re-exported for the CLI's other modules.
export type { GraphOptimizationLevel, TfjsBackendName };

/** backendOptions.onnx: the onnx backend's own option schema. */
export type OnnxBackendConfig = OnnxOptionsInput;
/** backendOptions.tfjs: the tfjs backend's own option schema. */
export type TfjsBackendConfig = TfjsOptions;

const BACKEND = 'a backend name (a non-empty string)';

/**
 * The schema of `mcu.config.json`: core's run options, each backend's option schema under
 * backendOptions.<backend>, the backend, the output format, and `$schema` (for editors).
 */
export const ConfigSchema = v.strictObject(
  {
    backend: v.optional(
      v.pipe(
        v.string(BACKEND),
        v.regex(/\S/, BACKEND),
        v.description('The backend to run on (onnx, onnx-web, tfjs); default: the best available one that reads the model.'),
      ),
    ),
    backendOptions: v.optional(
      v.pipe(
        v.strictObject({ onnx: v.optional(OnnxOptionsSchema), tfjs: v.optional(TfjsOptionsSchema) }, 'an object'),
        v.description("Each backend's options, by backend name."),
      ),
    ),
    ...RUN_OPTIONS_ENTRIES,
    format: v.optional(v.pipe(oneOf(OUTPUT_FORMATS), v.description('Output format (default json; plot: svg).'))),
    $schema: v.optional(v.pipe(v.string('a string'), v.description('The JSON Schema of this file, for editors (ignored by mcu).'))),
  },
  'a JSON object at the top',
);

/** The contents of `mcu.config.json` (without `$schema`). Every key is optional. */
export type ConfigFile = Omit<v.InferInput<typeof ConfigSchema>, '$schema'>;
export type BackendOptionsConfig = NonNullable<ConfigFile['backendOptions']>;

/**
 * Check a parsed config value against the schema. `source` (the file name) prefixes every
 * message: "mcu.config.json: unknown key 'backendOptions.onnx.ep'; known keys: …".
 * The result is the value as written (backend option defaults are the backends' to fill).
 */
export function validateConfig(value: unknown, source: string): ConfigFile {
  parseOptions(ConfigSchema, value, { lead: `${source}: `, suggest: closest });
  const { $schema: _, ...config } = value as Record<string, unknown>;
  return config as ConfigFile;
}

/** Parse config text (JSON); invalid JSON is E_CONFIG with line, column and position. */
export function parseConfigText(text: string, source: string): ConfigFile {
  return validateConfig(parseJsonText(text, source, 'E_CONFIG'), source);
}

/**
 * The config file to read: `explicitPath` (resolved against cwd) or `cwd/mcu.config.json`
 * when it exists; undefined when there is none.
 */
export function configPath(cwd: string, explicitPath?: string): string | undefined {
  if (explicitPath !== undefined) return isAbsolute(explicitPath) ? explicitPath : resolve(cwd, explicitPath);
  const p = join(cwd, CONFIG_FILE);
  return existsSync(p) ? p : undefined;
}

/**
 * Read the configuration: `explicitPath` (from --config; must exist, else E_FILE) or
 * `mcu.config.json` in `cwd` when present. No file: `{}`.
 */
export function loadConfig(cwd: string, explicitPath?: string): ConfigFile {
  const path = configPath(cwd, explicitPath);
  if (path === undefined) return {};
  const label = explicitPath ?? CONFIG_FILE;
  if (explicitPath !== undefined && !existsSync(path)) {
    throw new McuError('E_FILE', `--config '${explicitPath}': no such file`);
  }
  if (statSync(path).isDirectory()) {
    throw new McuError('E_FILE', `config '${label}' is a directory, not a file`);
  }
  return parseConfigText(readFileText(path, 'config file'), label);
}

// ---------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------

export const DEFAULTS = {
  samples: 100,
  seed: 0,
  maskScope: 'sample' as MaskScope,
  task: 'auto' as Task,
  format: 'json' as OutputFormat,
  memoryBudgetMB: 512,
  dropoutScaling: 'inverted' as DropoutScaling,
  before: ['Gemm', 'MatMul', 'Conv'] as readonly InsertBeforeOp[],
  split: 0,
} as const;

export type SettingSource = 'flag' | 'config' | 'default';

/** Everything a command needs, after flags > config > defaults. */
/** `mcu serve`'s settings: where the models are, where to listen, the limits given. */
export interface ServeSettings {
  readonly models: string;
  readonly port: number;
  readonly host: string;
  readonly maxRows?: number;
  readonly maxSamples?: number;
  readonly queue?: number;
  readonly batchWaitMs?: number;
}

/** `mcu acquire`'s settings (flags only; the run options samples, seed, mask scope, τ are the common ones). */
export interface AcquireSettings {
  readonly pool: string;
  readonly k: number;
  /** --heuristic, else bald. */
  readonly heuristic: HeuristicArg;
  readonly candidates?: number;
  readonly workers?: number;
  readonly shardRows?: number;
  readonly blockRows?: number;
  /** --queue redis://…: the shards go to `mcu worker` processes. */
  readonly queue?: string;
}

/** `mcu worker`'s settings. */
export interface WorkerSettings {
  readonly queue: string;
  /** --pool: this machine's path of the pool (default: the coordinator's). */
  readonly pool?: string;
  readonly concurrency?: number;
  readonly lockMs?: number;
}

export interface Settings {
  readonly command: CommandName | 'version';
  readonly model?: string;
  readonly samples: number;
  readonly seed: number;
  /** The task of every output not named in `taskByOutput` (--task TASK, config "task": "…", else auto). */
  readonly task: Task;
  /** Per-output tasks (--task NAME=TASK over config "task": { NAME: TASK }). */
  readonly taskByOutput: Readonly<Record<string, Task>>;
  readonly maskScope: MaskScope;
  /** For a command that cannot write the config's format, the default. */
  readonly format: OutputFormat;
  readonly memoryBudgetMB: number;
  readonly batchSize?: number;
  /** Undefined: pick the first available backend by priority. */
  readonly backend?: string;
  /** --ep, else backendOptions.onnx.executionProviders from the config. */
  readonly executionProviders?: readonly string[];
  /** The config's backendOptions, with --ep in place of onnx.executionProviders. */
  readonly backendOptions: BackendOptionsConfig;
  /** --tau, else config tau (unless τ comes from flags another way). */
  readonly tau?: number;
  /** --weight-decay, --length-scale, --n-train. */
  readonly tauPrior?: { readonly weightDecay: number; readonly lengthScale: number; readonly nTrain: number };
  readonly fitTau?: string;
  readonly tolerance?: number;
  readonly masks?: string;
  readonly input: readonly InputArg[];
  readonly out?: string;
  /** convert --bake T: the MC samples baked into the written model. */
  readonly bake?: number;
  readonly insertDropout?: number;
  /** --spatial: inserted masks channel-wise. */
  readonly spatial: boolean;
  readonly before: readonly InsertBeforeOp[];
  readonly rate: Readonly<Record<string, number>>;
  readonly maskInput: Readonly<Record<string, number>>;
  readonly dropoutScaling: DropoutScaling;
  readonly quiet: boolean;
  readonly probe: boolean;
  /** serve: --models and the HTTP limits (flags only; defaults are @mcu/server's). */
  readonly serve?: ServeSettings;
  /** acquire: the pool, k, heuristic and how the pool is split. */
  readonly acquire?: AcquireSettings;
  /** worker: the queue and this worker's limits. */
  readonly worker?: WorkerSettings;
  readonly debug: boolean;
  readonly data?: string;
  readonly target?: string | number;
  readonly uci?: string;
  /** With --uci: --split, else 0. */
  readonly split?: number;
  /** plot --from: a saved predict result. */
  readonly from?: string;
  /** plot --output: the model output to plot. */
  readonly output?: string;
  /** plot --train-end, --sigma-scale, --standard, --top-k. */
  readonly trainEnd?: number;
  readonly sigmaScale?: number;
  readonly standard: boolean;
  readonly topK?: number;
  /** Caffe: --weights (the .caffemodel of MODEL.prototxt), --input-shape, and --solver with --length-scale/--n-train (τ by eq. 7 from its weight_decay). */
  readonly weights?: string;
  readonly inputShapes: readonly InputShapeArg[];
  readonly solverPrior?: { readonly solver: string; readonly lengthScale: number; readonly nTrain: number };
  /** Where each defaulted/configurable value came from (for --debug). */
  readonly sources: Readonly<
    Partial<
      Record<
        | 'samples'
        | 'seed'
        | 'task'
        | 'maskScope'
        | 'format'
        | 'memoryBudgetMB'
        | 'batchSize'
        | 'backend'
        | 'executionProviders'
        | 'tau'
        | 'dropoutScaling'
        | 'cacheDir',
        SettingSource
      >
    >
  >;
}

/** Merge: flags (parsed.options) override the config, which overrides DEFAULTS. */
export function mergeSettings(config: ConfigFile, parsed: ParsedArgs): Settings {
  const o: CliOptions = parsed.options;
  const sources: Record<string, SettingSource> = {};
  const pick = <T>(key: string, flag: T | undefined, conf: T | undefined, def: T): T => {
    if (flag !== undefined) {
      sources[key] = 'flag';
      return flag;
    }
    if (conf !== undefined) {
      sources[key] = 'config';
      return conf;
    }
    sources[key] = 'default';
    return def;
  };
  const pickOpt = <T>(key: string, flag: T | undefined, conf: T | undefined): T | undefined => {
    if (flag !== undefined) sources[key] = 'flag';
    else if (conf !== undefined) sources[key] = 'config';
    return flag ?? conf;
  };

  const command = parsed.command;
  const allowed: readonly OutputFormat[] = command === 'version' || FORMATS_BY_COMMAND[command].length === 0 ? ['json'] : FORMATS_BY_COMMAND[command];
  const confFormat = config.format !== undefined && allowed.includes(config.format) ? config.format : undefined;

  const tauFromFlags = o.weightDecay !== undefined || o.solver !== undefined || o.fitTau !== undefined;
  const tau = pickOpt('tau', o.tau, tauFromFlags ? undefined : config.tau);

  const executionProviders = pickOpt('executionProviders', o.ep, config.backendOptions?.onnx?.executionProviders);
  const backendOptions: BackendOptionsConfig = { ...config.backendOptions };
  if (o.ep !== undefined) backendOptions.onnx = { ...backendOptions.onnx, executionProviders: [...o.ep] };
  // The prepared-model cache (onnx backends): --no-cache, else --cache-dir, else the config's, else the user's cache folder.
  const { cacheDir: configCacheDir, ...onnxRest } = backendOptions.onnx ?? {};
  const cacheDir = o.noCache === true ? undefined : (o.cacheDir ?? configCacheDir ?? defaultCacheDir());
  sources['cacheDir'] = o.noCache === true || o.cacheDir !== undefined ? 'flag' : configCacheDir !== undefined ? 'config' : 'default';
  backendOptions.onnx = { ...onnxRest, ...(cacheDir !== undefined ? { cacheDir } : {}) };

  const settings: Settings = {
    command,
    ...(parsed.model !== undefined ? { model: parsed.model } : {}),
    samples: pick('samples', o.samples, config.samples, DEFAULTS.samples),
    seed: pick('seed', o.seed, config.seed, DEFAULTS.seed),
    task: pick('task', o.task?.all, typeof config.task === 'string' ? config.task : undefined, DEFAULTS.task),
    taskByOutput: { ...(typeof config.task === 'object' ? config.task : {}), ...(o.task?.outputs ?? {}) },
    maskScope: pick('maskScope', o.maskScope, config.maskScope, DEFAULTS.maskScope),
    format: pick('format', o.format, confFormat, command === 'plot' ? 'svg' : DEFAULTS.format),
    memoryBudgetMB: pick('memoryBudgetMB', o.memoryBudgetMB, config.memoryBudgetMB, DEFAULTS.memoryBudgetMB),
    batchSize: pickOpt('batchSize', o.batchSize, config.batchSize),
    backend: pickOpt('backend', o.backend, config.backend),
    executionProviders,
    backendOptions,
    tau,
    tauPrior:
      o.weightDecay !== undefined && o.lengthScale !== undefined && o.nTrain !== undefined
        ? { weightDecay: o.weightDecay, lengthScale: o.lengthScale, nTrain: o.nTrain }
        : undefined,
    fitTau: o.fitTau,
    tolerance: o.tolerance,
    masks: o.masks,
    input: o.input ?? [],
    out: o.out,
    bake: o.bake,
    insertDropout: o.insertDropout,
    spatial: o.spatial ?? false,
    before: o.before ?? DEFAULTS.before,
    rate: o.rate ?? {},
    maskInput: o.maskInput ?? {},
    dropoutScaling: pick('dropoutScaling', o.dropoutScaling, undefined, DEFAULTS.dropoutScaling),
    quiet: o.quiet ?? false,
    probe: o.probe ?? false,
    ...(o.models !== undefined
      ? {
          serve: {
            models: o.models,
            port: o.port ?? 8080,
            host: o.host ?? '127.0.0.1',
            ...(o.maxRows !== undefined ? { maxRows: o.maxRows } : {}),
            ...(o.maxSamples !== undefined ? { maxSamples: o.maxSamples } : {}),
            ...(o.queue !== undefined ? { queue: o.queue } : {}),
            ...(o.batchWaitMs !== undefined ? { batchWaitMs: o.batchWaitMs } : {}),
          },
        }
      : {}),
    ...(command === 'acquire' && o.pool !== undefined && o.k !== undefined
      ? {
          acquire: {
            pool: o.pool,
            k: o.k,
            heuristic: o.heuristic ?? 'bald',
            ...(o.candidates !== undefined ? { candidates: o.candidates } : {}),
            ...(o.workers !== undefined ? { workers: o.workers } : {}),
            ...(o.shardRows !== undefined ? { shardRows: o.shardRows } : {}),
            ...(o.blockRows !== undefined ? { blockRows: o.blockRows } : {}),
            ...(o.queueUrl !== undefined ? { queue: o.queueUrl } : {}),
          },
        }
      : {}),
    ...(command === 'worker' && o.queueUrl !== undefined
      ? {
          worker: {
            queue: o.queueUrl,
            ...(o.pool !== undefined ? { pool: o.pool } : {}),
            ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
            ...(o.lockMs !== undefined ? { lockMs: o.lockMs } : {}),
          },
        }
      : {}),
    debug: o.debug ?? false,
    data: o.data,
    target: o.target,
    uci: o.uci,
    split: o.uci !== undefined ? (o.split ?? DEFAULTS.split) : undefined,
    from: o.from,
    output: o.output,
    trainEnd: o.trainEnd,
    sigmaScale: o.sigmaScale,
    standard: o.standard ?? false,
    topK: o.topK,
    weights: o.weights,
    inputShapes: o.inputShape ?? [],
    solverPrior:
      o.solver !== undefined && o.lengthScale !== undefined && o.nTrain !== undefined
        ? { solver: o.solver, lengthScale: o.lengthScale, nTrain: o.nTrain }
        : undefined,
    sources,
  };
  return settings;
}

/** A `did you mean` for a misspelt backend name, for the lead's E_BACKEND_UNKNOWN messages. */
export function suggestName(name: string, known: readonly string[]): string | undefined {
  return closest(name, known);
}
