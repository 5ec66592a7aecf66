/**
 * The run plan: the ONE place that maps Settings (flags > mcu.config.json > defaults) and the
 * command to everything a run uses — the backend and each backend's load options, the engine's
 * run options, where τ comes from, the task of each output. Commands read only the plan.
 *
 * Every setting either reaches the run here or is refused here with an McuError naming the
 * flag: a flag that the chosen backend or command cannot honour is never dropped silently.
 * What the parser can refuse from the flags alone (a flag a command does not take, flags that
 * exclude each other) is refused in args.ts; what needs the model (task detection, whether the
 * backend applied --spatial) is checked by the functions below once it is loaded.
 */
import { existsSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import {
  decideTask as coreDecideTask,
  McuError,
  modelFormatOf,
  resolveTasks as coreResolveTasks,
  type DropoutScaling,
  type MaskScope,
  type ModelFormat,
  type NamedTensors,
  type OutputTask,
  type StochasticModel,
  type StochasticSite,
  type TaskOption,
  type TaskWording,
} from '@mcu/core';
import { TFJS_BACKENDS } from '@mcu/backend-tfjs/options';
import type { CommandName, InputArg, InsertBeforeOp, OutputFormat, Task } from './args.js';
import type { AcquireSettings, ServeSettings, Settings, SettingSource, WorkerSettings } from './config.js';

/** The tfjs backend's execution providers (= TFJS_BACKENDS of @mcu/backend-tfjs; a test keeps them equal). */
/** The tfjs backend's execution providers are its TensorFlow.js backends. */
export const TFJS_PROVIDERS = TFJS_BACKENDS;

/** The backends the CLI configures, by name. */
export type BackendName = 'onnx' | 'onnx-web' | 'tfjs';

/** Which family of backend reads the model: ONNX (onnx, onnx-web) or TensorFlow.js layers (tfjs). */
export type BackendFamily = 'onnx' | 'tfjs' | 'unknown';

export interface BackendPlan {
  /** --backend / config "backend"; undefined: the best available backend that reads the model. */
  readonly name?: string;
  readonly family: BackendFamily;
  /** Load options handed to each backend (only the one that loads the model reads its own). */
  readonly options: Readonly<Record<BackendName, Readonly<Record<string, unknown>>>>;
  /** Memory for the MC samples of one backend call (never splits rows). */
  readonly memoryBudgetBytes: number;
}

/** The engine's run options (McRunOptions without estimators). */
export interface EnginePlan {
  readonly samples: number;
  readonly seed: number;
  readonly scope: MaskScope;
  readonly tolerance?: number;
  readonly memoryBudgetBytes: number;
}

/** Where the model precision τ comes from. */
export type TauPlan =
  | { readonly kind: 'none' }
  | { readonly kind: 'value'; readonly tau: number; readonly source: SettingSource }
  /** Eq. 7: λ from --weight-decay, or from the weight_decay of a Caffe --solver file (read when τ is resolved). */
  | { readonly kind: 'prior'; readonly weightDecay?: number; readonly solver?: string; readonly lengthScale: number; readonly nTrain: number }
  | { readonly kind: 'fit'; readonly file: string; readonly target?: string | number };

/** Tasks as asked for: `default` for every output not in `byOutput`. */
export interface TaskPlan {
  readonly default: Task;
  readonly byOutput: Readonly<Record<string, Task>>;
}

/** The ONNX graph rewrite the flags ask for (onnx / onnx-web only). */
export interface GraphPlan {
  readonly insertDropout?: { readonly rate: number; readonly before: readonly InsertBeforeOp[]; readonly spatial: boolean };
  readonly rates: Readonly<Record<string, number>>;
  readonly maskInputs: Readonly<Record<string, number>>;
  readonly scaling: DropoutScaling;
}

export type TestSet =
  | { readonly kind: 'file'; readonly file: string; readonly target?: string | number }
  | { readonly kind: 'uci'; readonly dir: string; readonly split: number };

/** `mcu plot`: what to draw and where from (the model and engine plans as for predict). */
export interface PlotPlan {
  /** --from: a saved predict result (no model runs). */
  readonly from?: string;
  /** --output: the model output to plot (default: the only one). */
  readonly output?: string;
  readonly trainEnd?: number;
  readonly sigmaScale?: number;
  readonly standard: boolean;
  readonly topK?: number;
  /** --data FILE [--target COL]: data points of a band plot. */
  readonly points?: { readonly file: string; readonly target?: string | number };
  /** svg or png: --format, else the -o extension, else the config's, else svg. */
  readonly format: 'svg' | 'png';
}

/** A Caffe net: MODEL.prototxt (+ --weights NET.caffemodel), or a .caffemodel alone; translated into ONNX at load (@mcu/format-caffe). */
export interface CaffePlan {
  readonly prototxt?: string;
  readonly caffemodel?: string;
  /** --input-shape: per-row shapes by input name ('' = the only input). */
  readonly inputShapes: Readonly<Record<string, readonly number[]>>;
}

export interface Plan {
  readonly command: Exclude<CommandName, 'help'>;
  /** MODEL as given. */
  readonly model?: string;
  /** MODEL, or MODEL/model.json for a folder holding one. */
  readonly modelPath?: string;
  /** The model's format where its name shows it (a Caffe net: 'onnx', which it becomes). */
  readonly modelFormat?: ModelFormat;
  /** Set when MODEL is a Caffe net. */
  readonly caffe?: CaffePlan;
  readonly backend: BackendPlan;
  readonly engine: EnginePlan;
  /** --masks FILE: replay these masks (one sample, point scope) instead of sampling. */
  readonly masks?: string;
  /** --batch-size (predict): rows per engine run. */
  readonly batchSize?: number;
  readonly tau: TauPlan;
  readonly tasks: TaskPlan;
  readonly graph: GraphPlan;
  readonly input: readonly InputArg[];
  /** evaluate: the labelled test set. */
  readonly testSet?: TestSet;
  /** plot: the figure. */
  readonly plot?: PlotPlan;
  readonly format: OutputFormat;
  readonly out?: string;
  readonly quiet: boolean;
  /** backends --probe: start each runtime and provider. */
  readonly probe: boolean;
  /** serve: the models directory, address and limits. */
  readonly serve?: ServeSettings;
  /** acquire: the pool, k, heuristic and how the pool is split (run options in `engine`, τ in `tau`). */
  readonly acquire?: AcquireSettings;
  /** worker: the queue and this worker's limits. */
  readonly worker?: WorkerSettings;
  readonly debug: boolean;
  /** The settings the plan was made from, for inspect/convert's graph preparation (commands/prepare.ts). */
  readonly settings: Settings;
}

const usage = (msg: string): McuError => new McuError('E_USAGE', msg);

/** MODEL as given, or `MODEL/model.json` when MODEL is a folder holding one (a TensorFlow.js layers model). */
export function modelPath(model: string): string {
  const inner = join(model, 'model.json');
  return existsSync(model) && statSync(model).isDirectory() && existsSync(inner) ? inner : model;
}

function familyOf(backend: string | undefined, format: ModelFormat | undefined): BackendFamily {
  if (backend === 'tfjs') return 'tfjs';
  if (backend === 'onnx' || backend === 'onnx-web') return 'onnx';
  if (backend !== undefined) return 'unknown';
  return format === 'tfjs-layers' ? 'tfjs' : format === 'onnx' ? 'onnx' : 'unknown';
}

/** The graph-rewrite flags that were given (for messages). */
function graphFlags(s: Settings): string[] {
  const given: string[] = [];
  if (s.insertDropout !== undefined) given.push('--insert-dropout');
  if (s.spatial) given.push('--spatial');
  if (Object.keys(s.rate).length > 0) given.push('--rate');
  if (Object.keys(s.maskInput).length > 0) given.push('--mask-input');
  if (s.dropoutScaling !== 'inverted') given.push('--dropout-scaling');
  return given;
}

/**
 * Make the plan of a command (not help/version). Throws McuError for settings that cannot
 * all apply, naming the flag: onnx-only flags for a model that goes to tfjs, execution
 * providers the chosen backend does not have.
 */
export function makePlan(s: Settings): Plan {
  if (s.command === 'version' || s.command === 'help') {
    throw new McuError('E_INTERNAL', `'${s.command}' has no run plan`);
  }
  const command = s.command;
  const path = s.model !== undefined ? modelPath(s.model) : undefined;
  const caffe = caffePlan(s, path);
  const modelFormat = caffe !== undefined ? 'onnx' : path !== undefined ? modelFormatOf({ kind: 'path', path }) : undefined;
  const family = familyOf(s.backend, modelFormat);
  if (caffe !== undefined && family === 'tfjs') {
    throw usage(`'${s.model}' is a Caffe net, which mcu translates into an ONNX graph: run it on the onnx or onnx-web backend, not --backend ${s.backend}`);
  }
  const runs = command === 'predict' || command === 'evaluate';

  // ONNX graph rewrites on a model that goes to tfjs (convert refuses these itself).
  const rewrites = graphFlags(s);
  if ((runs || command === 'inspect') && family === 'tfjs' && rewrites.length > 0) {
    throw usage(
      `${rewrites.join(', ')} rewrite${rewrites.length === 1 ? 's' : ''} ONNX graphs, but '${s.model}' goes to the tfjs backend` +
        `${s.backend === 'tfjs' ? ' (--backend tfjs)' : ' (a TensorFlow.js layers model)'}, whose Dropout layers are the sites as they are (always inverted scaling): leave ${rewrites.length === 1 ? 'it' : 'them'} out`,
    );
  }

  const epFromFlag = s.sources.executionProviders === 'flag' ? s.executionProviders : undefined;
  if (epFromFlag !== undefined && family === 'tfjs') {
    const bad = epFromFlag.filter((e) => !(TFJS_PROVIDERS as readonly string[]).includes(e));
    if (bad.length > 0) {
      throw new McuError(
        'E_CONFIG',
        `--ep ${epFromFlag.join(',')}: the tfjs backend (which runs '${s.model}') has no execution provider ${bad.map((b) => `'${b}'`).join(', ')}; it runs on ${TFJS_PROVIDERS.join(', ')} (e.g. --ep wasm)`,
      );
    }
  }

  const memoryBudgetBytes = s.memoryBudgetMB * 1024 * 1024;
  const graph: GraphPlan = {
    ...(s.insertDropout !== undefined ? { insertDropout: { rate: s.insertDropout, before: [...s.before], spatial: s.spatial } } : {}),
    rates: { ...s.rate },
    maskInputs: { ...s.maskInput },
    scaling: s.dropoutScaling,
  };

  // onnx: the config's onnx options, --ep in place of their providers, and the graph rewrite.
  const onnx: Record<string, unknown> = { ...s.backendOptions.onnx };
  if (graph.insertDropout !== undefined) {
    const { rate, before, spatial } = graph.insertDropout;
    onnx['insertDropout'] = spatial ? { rate, before: [...before], spatial: true } : { rate, before: [...before] };
  }
  if (Object.keys(graph.rates).length > 0) onnx['rates'] = { ...graph.rates };
  if (Object.keys(graph.maskInputs).length > 0) onnx['maskInputs'] = { ...graph.maskInputs };
  // --dropout-scaling given (even 'inverted') overrides the config's backendOptions.onnx.scaling
  if (graph.scaling !== 'inverted' || s.sources.dropoutScaling === 'flag') onnx['scaling'] = graph.scaling;
  // onnx-web: the same rewrite; its only provider option is the list (onnxruntime-node's
  // session options do not exist there).
  const web: Record<string, unknown> = { ...onnx };
  delete web['executionProviders'];
  delete web['graphOptimizationLevel'];
  delete web['intraOpNumThreads'];
  if (s.executionProviders !== undefined) web['executionProviders'] = [...s.executionProviders];
  // tfjs: the config's choice, or --ep (a flag overrides the config's "backend").
  const tfjs: Record<string, unknown> = { ...s.backendOptions.tfjs };
  if (epFromFlag !== undefined && family === 'tfjs') {
    delete tfjs['backend'];
    tfjs['executionProviders'] = [...epFromFlag];
  }

  const masks = command === 'predict' ? s.masks : undefined;
  const engine: EnginePlan = {
    samples: masks !== undefined ? 1 : s.samples,
    seed: s.seed,
    scope: masks !== undefined ? 'point' : s.maskScope,
    ...(s.tolerance !== undefined ? { tolerance: s.tolerance } : {}),
    memoryBudgetBytes,
  };

  const tau: TauPlan =
    s.fitTau !== undefined
      ? { kind: 'fit', file: s.fitTau, ...(s.target !== undefined ? { target: s.target } : {}) }
      : s.tauPrior !== undefined
        ? { kind: 'prior', ...s.tauPrior }
        : s.solverPrior !== undefined
          ? { kind: 'prior', ...s.solverPrior }
          : s.tau !== undefined
            ? { kind: 'value', tau: s.tau, source: s.sources.tau ?? 'flag' }
            : { kind: 'none' };

  const testSet: TestSet | undefined =
    command !== 'evaluate'
      ? undefined
      : s.uci !== undefined
        ? { kind: 'uci', dir: s.uci, split: s.split ?? 0 }
        : s.data !== undefined
          ? { kind: 'file', file: s.data, ...(s.target !== undefined ? { target: s.target } : {}) }
          : undefined;

  const plot = command === 'plot' ? plotPlan(s) : undefined;

  return {
    command,
    ...(s.model !== undefined ? { model: s.model } : {}),
    ...(path !== undefined ? { modelPath: path } : {}),
    ...(modelFormat !== undefined ? { modelFormat } : {}),
    ...(caffe !== undefined ? { caffe } : {}),
    backend: {
      ...(s.backend !== undefined ? { name: s.backend } : {}),
      family,
      options: { onnx, 'onnx-web': web, tfjs },
      memoryBudgetBytes,
    },
    engine,
    ...(masks !== undefined ? { masks } : {}),
    // evaluate runs every test row at once (a config "batchSize" is predict's; the flag is refused there)
    ...(command === 'predict' && masks === undefined && s.batchSize !== undefined ? { batchSize: s.batchSize } : {}),
    tau,
    tasks: { default: s.task, byOutput: { ...s.taskByOutput } },
    graph,
    input: s.input,
    ...(testSet !== undefined ? { testSet } : {}),
    ...(plot !== undefined ? { plot } : {}),
    format: plot?.format ?? s.format,
    ...(s.out !== undefined ? { out: s.out } : {}),
    quiet: s.quiet,
    probe: s.probe,
    ...(s.serve !== undefined ? { serve: s.serve } : {}),
    ...(s.acquire !== undefined ? { acquire: s.acquire } : {}),
    ...(s.worker !== undefined ? { worker: s.worker } : {}),
    debug: s.debug,
    settings: s,
  };
}

/** `.prototxt` (a Caffe network definition) or `.caffemodel` (Caffe weights). */
export const CAFFE_MODEL = /\.(prototxt|caffemodel)$/i;

/**
 * The Caffe files of a run, or undefined for other models; --weights / --input-shape on a
 * model that is not a Caffe net, or --weights next to a .caffemodel MODEL, are E_USAGE.
 */
function caffePlan(s: Settings, path: string | undefined): CaffePlan | undefined {
  const isCaffe = path !== undefined && CAFFE_MODEL.test(path);
  if (!isCaffe) {
    if (s.weights !== undefined)
      throw usage(
        `--weights ${s.weights} gives the .caffemodel of a Caffe MODEL.prototxt, but MODEL '${s.model ?? ''}' is not a .prototxt${s.model === undefined ? '' : ' (other formats carry their weights)'}`,
      );
    if (s.inputShapes.length > 0)
      throw usage(
        `--input-shape gives the shape of a Caffe input that its prototxt does not declare, but MODEL '${s.model ?? ''}' is not a Caffe net (.prototxt / .caffemodel); its inputs declare their shapes`,
      );
    return undefined;
  }
  const inputShapes: Record<string, readonly number[]> = {};
  for (const a of s.inputShapes) inputShapes[a.name ?? ''] = a.dims;
  if (/\.caffemodel$/i.test(path)) {
    if (s.weights !== undefined)
      throw usage(
        `MODEL '${s.model}' is already a .caffemodel; give the network definition as MODEL and the weights with --weights: mcu ${s.command} NET.prototxt --weights ${s.model}`,
      );
    return { caffemodel: path, inputShapes };
  }
  return { prototxt: path, ...(s.weights !== undefined ? { caffemodel: s.weights } : {}), inputShapes };
}

/**
 * The plot's settings. Its format: --format, else the -o extension (.svg, .png), else the
 * config's, else svg; a --format that disagrees with the -o extension, another extension, or
 * a PNG without -o (binary on stdout) is an E_USAGE.
 */
function plotPlan(s: Settings): PlotPlan {
  const ext = s.out !== undefined ? extname(s.out).toLowerCase() : '';
  if (ext !== '' && ext !== '.svg' && ext !== '.png') {
    throw usage(`plot writes SVG or PNG, but -o ${s.out} ends in '${ext}': name the file .svg or .png (or give --format with a name without an extension)`);
  }
  const byExt = ext === '.png' ? 'png' : ext === '.svg' ? 'svg' : undefined;
  let format = s.format === 'png' ? 'png' : 'svg';
  if (s.sources.format === 'flag') {
    if (byExt !== undefined && byExt !== format) {
      throw usage(`--format ${format} writes ${format.toUpperCase()}, but -o ${s.out} names a .${byExt} file: drop --format, or name the file .${format}`);
    }
  } else if (byExt !== undefined) {
    format = byExt;
  }
  if (format === 'png' && s.out === undefined) {
    throw usage('plot: a PNG is binary and is not written to stdout: give -o FILE.png (an SVG may go to stdout)');
  }
  return {
    ...(s.from !== undefined ? { from: s.from } : {}),
    ...(s.output !== undefined ? { output: s.output } : {}),
    ...(s.trainEnd !== undefined ? { trainEnd: s.trainEnd } : {}),
    ...(s.sigmaScale !== undefined ? { sigmaScale: s.sigmaScale } : {}),
    standard: s.standard,
    ...(s.topK !== undefined ? { topK: s.topK } : {}),
    // --target picks the column of --data and of the --fit-tau VALFILE, as for evaluate
    ...(s.data !== undefined ? { points: { file: s.data, ...(s.target !== undefined ? { target: s.target } : {}) } } : {}),
    format: format as 'svg' | 'png',
  };
}

/** The flag(s) behind a τ plan, for messages. */
export function tauFlags(tau: TauPlan): string {
  switch (tau.kind) {
    case 'fit':
      return `--fit-tau ${tau.file}`;
    case 'prior':
      return tau.solver !== undefined ? `--solver ${tau.solver}/--length-scale/--n-train` : '--weight-decay/--length-scale/--n-train';
    case 'value':
      return tau.source === 'config' ? 'the config\'s "tau"' : `--tau ${tau.tau}`;
    default:
      return '';
  }
}

/** What --debug prints: the plan without the raw settings. */
export function describePlan(plan: Plan): Record<string, unknown> {
  const { settings, ...rest } = plan;
  return { ...rest, sources: settings.sources };
}

// ---------------------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------------------

export type { OutputTask };

/** How the task rule's messages name the fix in the CLI: --task and the config's "task". */
export const CLI_TASK_WORDING: TaskWording = {
  all: (task) => `--task ${task}`,
  one: (name, task) => `--task ${name}=${task}`,
  asked: '--task or the config\'s "task"',
  unknown: (name, task) => `--task ${name}=${task} (or the config's "task")`,
};

/**
 * Decide one output's task (the rule README's "Tasks" documents; @mcu/core's decideTask,
 * worded for --task / the config's "task").
 */
export function decideTask(name: string, requested: Task, activation: 'softmax' | 'log-softmax' | undefined, perRow: readonly number[]): OutputTask {
  return coreDecideTask(name, requested, activation, perRow, CLI_TASK_WORDING);
}

/** The task option of a plan for @mcu/core: `tasks.default` for each output not named in `tasks.byOutput`. */
export function taskOption(tasks: TaskPlan, model: StochasticModel): TaskOption {
  if (Object.keys(tasks.byOutput).length === 0) return tasks.default;
  const byName: Record<string, Task> = {};
  for (const o of model.outputs) byName[o.name] = tasks.default;
  return { ...byName, ...tasks.byOutput };
}

/**
 * The task of every model output (or of the outputs in `only`: plot decides the one it draws),
 * by @mcu/core's resolveTasks. Outputs whose per-row size the spec leaves symbolic get it from
 * `probe` (the model's deterministic pass on one row), called at most once.
 */
export function resolveTasks(tasks: TaskPlan, model: StochasticModel, probe: () => Promise<NamedTensors>, only?: readonly string[]): Promise<OutputTask[]> {
  return coreResolveTasks(taskOption(tasks, model), model, probe, { wording: CLI_TASK_WORDING, ...(only !== undefined ? { only } : {}) });
}

// ---------------------------------------------------------------------------------------
// Checks once the model is loaded
// ---------------------------------------------------------------------------------------

const INSERTED = /^Dropout \(inserted/;

/**
 * --spatial asks the backend for channel-wise inserted masks ([C, 1, 1] per row before a
 * Conv). A backend that inserted element-wise masks instead, or a model where every inserted
 * site is on a dense layer (channel-wise = element-wise there), is refused: the flag would do
 * nothing.
 */
export function checkSpatial(plan: Plan, sites: readonly StochasticSite[], backend: string): void {
  if (plan.graph.insertDropout?.spatial !== true) return;
  const inserted = sites.filter((s) => INSERTED.test(s.origin?.op ?? ''));
  if (inserted.length === 0) return; // nothing inserted: the backend has warned
  const elementwise = inserted.find((s) => s.maskShape.length >= 2 && s.maskShape.slice(1).some((d) => d !== 1));
  if (elementwise !== undefined) {
    throw new McuError(
      'E_UNSUPPORTED',
      `--spatial: the ${backend} backend inserted site '${elementwise.name}' with an element-wise mask [${elementwise.maskShape.join(', ')}] per row, ` +
        `not one per channel [${elementwise.maskShape[0]}${', 1'.repeat(elementwise.maskShape.length - 1)}]: this backend does not apply channel-wise insertion; drop --spatial or update @mcu/backend-onnx`,
    );
  }
  if (inserted.every((s) => s.maskShape.length < 2)) {
    throw usage(
      `--spatial: every inserted site is on a dense layer (${inserted.map((s) => `${s.name} [${s.maskShape.join(', ')}]`).join(', ')} per row), ` +
        'where a mask per channel is a mask per unit: channel-wise and element-wise dropout are the same there; drop --spatial',
    );
  }
}
