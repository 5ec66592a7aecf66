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
 * values are McuError('E_CONFIG') naming the key path.
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
import { McuError } from '@mcu/core/errors';
import type { DropoutScaling, MaskScope } from '@mcu/core';
import { FORMATS_BY_COMMAND, MASK_SCOPES, OUTPUT_FORMATS, TASKS, closest } from './args.js';
import type { CliOptions, CommandName, InputArg, InputShapeArg, InsertBeforeOp, OutputFormat, ParsedArgs, Task } from './args.js';
import { readFileText } from './io/files.js';
import { parseJsonText } from './io/json.js';

export const CONFIG_FILE = 'mcu.config.json';

export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';
export type TfjsBackendName = 'cpu' | 'wasm' | 'tensorflow';

export interface OnnxBackendConfig {
  /** Execution providers in order of preference (fallbacks), e.g. ["cuda", "cpu"]. */
  executionProviders?: string[];
  graphOptimizationLevel?: GraphOptimizationLevel;
  /** 0 = onnxruntime's default. */
  intraOpNumThreads?: number;
}

export interface TfjsBackendConfig {
  backend?: TfjsBackendName;
}

export interface BackendOptionsConfig {
  onnx?: OnnxBackendConfig;
  tfjs?: TfjsBackendConfig;
}

/** The contents of `mcu.config.json`. Every key is optional. */
export interface ConfigFile {
  backend?: string;
  backendOptions?: BackendOptionsConfig;
  samples?: number;
  seed?: number;
  maskScope?: MaskScope;
  memoryBudgetMB?: number;
  batchSize?: number;
  tau?: number;
  /** One task for every output, or one per output: { "logits": "classification" }. */
  task?: Task | Readonly<Record<string, Task>>;
  format?: OutputFormat;
}

// ---------------------------------------------------------------------------------------
// Schema: a table typed against ConfigFile, so a key added there must be described here.
// ---------------------------------------------------------------------------------------

interface Leaf {
  readonly expects: string;
  readonly check: (v: unknown) => boolean;
}
interface Branch<T> {
  readonly fields: SchemaFor<T>;
}
type SchemaFor<T> = {
  readonly [K in keyof T]-?: NonNullable<T[K]> extends readonly unknown[]
    ? Leaf
    : NonNullable<T[K]> extends object
      ? Branch<NonNullable<T[K]>>
      : Leaf;
};
type SchemaNode = Leaf | Branch<unknown>;

const isInt = (v: unknown, min: number): boolean =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
const isPositive = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0;
const enumLeaf = (values: readonly string[]): Leaf => ({
  expects: `one of ${values.map((v) => `"${v}"`).join(', ')}`,
  check: (v) => typeof v === 'string' && values.includes(v),
});

const SCHEMA: SchemaFor<ConfigFile> = {
  backend: { expects: 'a backend name (a non-empty string)', check: (v) => typeof v === 'string' && v.trim() !== '' },
  backendOptions: {
    fields: {
      onnx: {
        fields: {
          executionProviders: {
            expects: 'an array of execution provider names, e.g. ["cuda", "cpu"]',
            check: (v) => Array.isArray(v) && v.every((x) => typeof x === 'string' && x.trim() !== ''),
          },
          graphOptimizationLevel: enumLeaf(['disabled', 'basic', 'extended', 'all']),
          intraOpNumThreads: { expects: 'an integer ≥ 0', check: (v) => isInt(v, 0) },
        },
      },
      tfjs: { fields: { backend: enumLeaf(['cpu', 'wasm', 'tensorflow']) } },
    },
  },
  samples: { expects: 'an integer ≥ 1', check: (v) => isInt(v, 1) },
  seed: { expects: `an integer in 0..${Number.MAX_SAFE_INTEGER}`, check: (v) => isInt(v, 0) },
  maskScope: enumLeaf(MASK_SCOPES),
  memoryBudgetMB: { expects: 'a number > 0', check: isPositive },
  batchSize: { expects: 'an integer ≥ 1', check: (v) => isInt(v, 1) },
  tau: { expects: 'a number > 0', check: isPositive },
  task: {
    expects: `one of ${TASKS.map((v) => `"${v}"`).join(', ')}, or an object mapping output names to one of them`,
    check: (v) =>
      (typeof v === 'string' && (TASKS as readonly string[]).includes(v)) ||
      (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0 &&
        Object.values(v).every((t) => typeof t === 'string' && (TASKS as readonly string[]).includes(t))),
  },
  format: enumLeaf(OUTPUT_FORMATS),
};

function show(v: unknown): string {
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function kindOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : show(v);
}

/** Keys accepted at the top level but ignored (editor support). */
const IGNORED_TOP_KEYS = new Set(['$schema']);

/**
 * Check a parsed config value against the schema. `source` (the file name) prefixes every
 * message: "mcu.config.json: unknown key 'backendOptions.onnx.ep'; known keys: …".
 */
export function validateConfig(value: unknown, source: string): ConfigFile {
  const fail = (msg: string): McuError => new McuError('E_CONFIG', `${source}: ${msg}`);
  const walk = (v: unknown, fields: Readonly<Record<string, SchemaNode>>, path: string): void => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      throw fail(path === '' ? `expected a JSON object at the top, got ${kindOf(v)}` : `'${path}' expects an object, got ${kindOf(v)}`);
    }
    for (const [key, child] of Object.entries(v)) {
      const full = path === '' ? key : `${path}.${key}`;
      if (path === '' && IGNORED_TOP_KEYS.has(key)) continue;
      const node = Object.prototype.hasOwnProperty.call(fields, key) ? fields[key] : undefined;
      if (node === undefined) {
        const known = Object.keys(fields);
        const hint = closest(key, known);
        throw fail(
          `unknown key '${full}'${hint ? ` (did you mean '${hint}'?)` : ''}; known keys: ${known.join(', ')}`,
        );
      }
      if ('fields' in node) walk(child, node.fields as Record<string, SchemaNode>, full);
      else if (!node.check(child)) throw fail(`'${full}' expects ${node.expects}, got ${show(child)}`);
    }
  };
  walk(value, SCHEMA as unknown as Record<string, SchemaNode>, '');
  const out = { ...(value as Record<string, unknown>) };
  for (const k of IGNORED_TOP_KEYS) delete out[k];
  return out as ConfigFile;
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
  readonly insertDropout?: number;
  /** --spatial: inserted masks channel-wise. */
  readonly spatial: boolean;
  readonly before: readonly InsertBeforeOp[];
  readonly rate: Readonly<Record<string, number>>;
  readonly maskInput: Readonly<Record<string, number>>;
  readonly dropoutScaling: DropoutScaling;
  readonly quiet: boolean;
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
  readonly sources: Readonly<Partial<Record<'samples' | 'seed' | 'task' | 'maskScope' | 'format' | 'memoryBudgetMB' | 'batchSize' | 'backend' | 'executionProviders' | 'tau', SettingSource>>>;
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
  const allowed: readonly OutputFormat[] =
    command === 'version' || FORMATS_BY_COMMAND[command].length === 0 ? ['json'] : FORMATS_BY_COMMAND[command];
  const confFormat = config.format !== undefined && allowed.includes(config.format) ? config.format : undefined;

  const tauFromFlags = o.weightDecay !== undefined || o.solver !== undefined || o.fitTau !== undefined;
  const tau = pickOpt('tau', o.tau, tauFromFlags ? undefined : config.tau);

  const executionProviders = pickOpt('executionProviders', o.ep, config.backendOptions?.onnx?.executionProviders);
  const backendOptions: BackendOptionsConfig = { ...config.backendOptions };
  if (o.ep !== undefined) backendOptions.onnx = { ...backendOptions.onnx, executionProviders: [...o.ep] };

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
    insertDropout: o.insertDropout,
    spatial: o.spatial ?? false,
    before: o.before ?? DEFAULTS.before,
    rate: o.rate ?? {},
    maskInput: o.maskInput ?? {},
    dropoutScaling: o.dropoutScaling ?? DEFAULTS.dropoutScaling,
    quiet: o.quiet ?? false,
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
