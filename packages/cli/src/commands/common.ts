import {
  McuError,
  settingsOf,
  tasksOf,
  tauOf,
  TAU_SEARCH_RANGE,
  type ApiProgressEvent,
  type ApiRunOptions,
  type FittedTau,
  type Mcu,
  type NamedTensors,
  type RunWording,
  type StochasticModel,
  type TensorSpec,
} from '@mcu/core';
import type { CaffeModel } from '@mcu/format-caffe';
import { compose } from '../compose.js';
import { readInputFile } from '../io/input.js';
import { readFileText } from '../io/files.js';
import { readLabeled } from '../io/targets.js';
import type { Settings } from '../config.js';
import { formatNumber } from '../io/format.js';
import { checkSpatial, CLI_TASK_WORDING, makePlan, taskOption, tauFlags, type OutputTask, type Plan } from '../plan.js';

export { modelPath } from '../plan.js';
export { TAU_SEARCH_RANGE, type FittedTau };

export interface Loaded {
  readonly mcu: Mcu;
  readonly model: StochasticModel;
  /** The model's warnings, after those of its translation (a Caffe net's unknown fields, dropped layers). */
  readonly warnings: readonly string[];
  /** A Caffe net: what it was read from (@mcu/format-caffe). */
  readonly caffe?: CaffeModel;
}

/** The load options of each backend, as the plan makes them (kept for callers that hold Settings). */
export function backendOptions(s: Settings): Plan['backend']['options'] {
  return makePlan(s).backend.options;
}

/** Load MODEL on the plan's backend with its options; checks that the flags took effect. (Settings: made into a plan first; `opened`: a Caffe net already read, not read again.) */
export async function loadModel(from: Plan | Settings, opened?: CaffeModel): Promise<Loaded> {
  const plan = 'settings' in from ? from : makePlan(from);
  if (plan.modelPath === undefined) throw new McuError('E_USAGE', `'${plan.command}' needs a MODEL file`);
  const mcu = compose({
    ...(plan.backend.name !== undefined ? { backend: plan.backend.name } : {}),
    backendOptions: plan.backend.options,
    memoryBudgetBytes: plan.backend.memoryBudgetBytes,
  });
  let caffe: CaffeModel | undefined;
  let model: StochasticModel;
  if (plan.caffe !== undefined) {
    const { openCaffeFiles, requireWeights } = await import('./caffe.js');
    caffe = opened ?? openCaffeFiles(plan); // inspect has read the files already
    const onnx = requireWeights(plan, caffe);
    model = await mcu.load({ kind: 'bytes', bytes: onnx.bytes });
  } else {
    model = await mcu.load({ kind: 'path', path: plan.modelPath });
  }
  try {
    checkSpatial(plan, model.sites, model.backend);
  } catch (e) {
    await model.dispose();
    throw e;
  }
  const warnings = [...(caffe?.onnx?.warnings ?? []), ...model.warnings];
  return { mcu, model, warnings, ...(caffe !== undefined ? { caffe } : {}) };
}

/** Read `--input` files onto the model's inputs (one input: `--input FILE`; several: NAME=FILE). */
export function readFeeds(model: StochasticModel, inputs: Plan['input']): NamedTensors {
  if (inputs.length === 0) {
    throw new McuError(
      'E_USAGE',
      `no input given: use --input FILE${model.inputs.length > 1 ? ` once per model input (${model.inputs.map((i) => `--input ${i.name}=FILE`).join(' ')})` : ''}`,
    );
  }
  const feeds: NamedTensors = {};
  for (const arg of inputs) {
    let spec: TensorSpec | undefined;
    if (arg.name === undefined) {
      if (model.inputs.length !== 1) {
        throw new McuError(
          'E_USAGE',
          `the model has ${model.inputs.length} inputs (${model.inputs.map((i) => i.name).join(', ')}): name each one, --input NAME=FILE`,
        );
      }
      spec = model.inputs[0];
    } else {
      spec = model.inputs.find((i) => i.name === arg.name);
      if (spec === undefined) {
        throw new McuError('E_USAGE', `--input ${arg.name}=…: the model has no input '${arg.name}'; its inputs: ${model.inputs.map((i) => i.name).join(', ')}`);
      }
    }
    if (feeds[spec!.name] !== undefined) throw new McuError('E_USAGE', `input '${spec!.name}' was given twice`);
    const data = readInputFile(arg.path, spec);
    if (data.dims[0] === 0 || data.data.length === 0) throw new McuError('E_INPUT', `${arg.path}: no rows`);
    feeds[spec!.name] = { dtype: 'float32', data: data.data, dims: data.dims };
  }
  for (const spec of model.inputs) {
    if (feeds[spec.name] === undefined) {
      throw new McuError('E_USAGE', `model input '${spec.name}' was not given: add --input ${spec.name}=FILE`);
    }
  }
  return feeds;
}

/** How @mcu/core's messages and warnings name the CLI's flags. */
export function cliWording(plan: Plan): RunWording {
  const t = plan.tau;
  return {
    task: CLI_TASK_WORDING,
    tau: { option: tauFlags(t), leaveOut: 'drop it', giveNumber: 'give --tau instead' },
    ...(t.kind === 'fit'
      ? {
          fitTau: `--fit-tau ${t.file}`,
          fitTauTargets: `the target column${t.target !== undefined ? ` (--target ${t.target})` : ' (the last, by default; --target picks another)'}`,
        }
      : { fitTau: '--fit-tau' }),
    giveTau: 'give --tau X, --weight-decay with --length-scale and --n-train (eq. 7), or --fit-tau VALFILE',
    samples: '--samples',
    format: formatNumber,
  };
}

/**
 * τ of a plan for @mcu/core: --tau (a config's "tau" is a default, dropped for classifiers),
 * eq. 7 from --weight-decay or a Caffe --solver, or --fit-tau's validation file.
 */
async function tauOptions(plan: Plan, model: StochasticModel): Promise<Pick<ApiRunOptions, 'tau' | 'tauDefault' | 'fitTau'>> {
  const t = plan.tau;
  switch (t.kind) {
    case 'none':
      return {};
    case 'value':
      return { tau: t.tau, tauDefault: t.source === 'config' };
    case 'prior':
      return { tau: { weightDecay: t.weightDecay ?? (await solverWeightDecay(t.solver!)), lengthScale: t.lengthScale, nTrain: t.nTrain } };
    case 'fit': {
      const val = readLabeledFile(model, t.file, t.target, `--fit-tau ${t.file}`);
      return { fitTau: { data: val.feeds, targets: val.y } };
    }
  }
}

/**
 * The plan as options of @mcu/core's predict/evaluate: samples, seed, mask scope, tolerance,
 * memory budget, tasks, τ, and the CLI's wording of every message.
 */
export async function runOptions(plan: Plan, loaded: Loaded, onProgress?: (e: ApiProgressEvent) => void): Promise<ApiRunOptions> {
  return {
    mcu: loaded.mcu,
    samples: plan.engine.samples,
    seed: plan.engine.seed,
    scope: plan.engine.scope,
    memoryBudgetBytes: plan.engine.memoryBudgetBytes,
    ...(plan.engine.tolerance !== undefined ? { tolerance: plan.engine.tolerance } : {}),
    task: taskOption(plan.tasks, loaded.model),
    ...(await tauOptions(plan, loaded.model)),
    wording: cliWording(plan),
    ...(onProgress !== undefined ? { onProgress } : {}),
  };
}

/** The task of every output, or of those in `only` (README "Tasks"), by @mcu/core's tasksOf. */
export function tasksFor(plan: Plan, loaded: Loaded, feeds: NamedTensors, only?: readonly string[]): Promise<OutputTask[]> {
  return tasksOf(loaded.mcu.engine, loaded.model, feeds, taskOption(plan.tasks, loaded.model), only, CLI_TASK_WORDING);
}

/** τ of a run on these tasks (given, eq. 7, or fitted on --fit-tau's file), by @mcu/core's tauOf. */
export async function tauFor(plan: Plan, loaded: Loaded, tasks: readonly OutputTask[]): Promise<{ tau?: number; fitted?: FittedTau }> {
  const options = await runOptions(plan, loaded);
  return tauOf(loaded.mcu.engine, loaded.model, tasks, options, settingsOf(options));
}

/**
 * λ of eq. 7 from a Caffe solver: its weight_decay under L2 regularisation (Caffe adds λ·w to
 * each gradient, as PyTorch's weight_decay does). No weight_decay, or L1, is an E_USAGE.
 */
export async function solverWeightDecay(file: string): Promise<number> {
  const { readSolver } = await import('@mcu/format-caffe'); // only with --solver
  const s = readSolver(readFileText(file, 'Caffe solver'), file);
  if (s.regularizationType !== 'L2') {
    throw new McuError('E_USAGE', `--solver ${file}: regularization_type "${s.regularizationType}"; eq. 7 holds for L2 weight decay only: give --tau instead`);
  }
  if (s.weightDecay === undefined || !(s.weightDecay > 0)) {
    throw new McuError(
      'E_USAGE',
      `--solver ${file}: ${s.weightDecay === undefined ? 'has no weight_decay' : `weight_decay is ${s.weightDecay}`}, so eq. 7 gives no finite τ: give --weight-decay λ or --tau instead`,
    );
  }
  return s.weightDecay;
}

/** Write the warnings of a load or a run to stderr (none with --quiet). */
export function printWarnings(plan: Plan, stderr: NodeJS.WritableStream, warnings: readonly string[]): void {
  if (plan.quiet) return;
  for (const w of warnings) stderr.write(`mcu: warning: ${w}\n`);
}

/** Features and targets of a labelled file for a one-input model. */
export interface Labeled {
  readonly feeds: NamedTensors;
  readonly y: Float64Array;
  readonly rows: number;
}

/** A labelled file (features and one target column) for a model with one input. */
export function readLabeledFile(model: StochasticModel, path: string, target: string | number | undefined, flag: string): Labeled {
  if (model.inputs.length !== 1) {
    throw new McuError(
      'E_USAGE',
      `${flag} reads features and a target column from one file, for a model with one input; this one has ${model.inputs.length} (${model.inputs.map((i) => i.name).join(', ')})`,
    );
  }
  const input = model.inputs[0]!;
  const d = readLabeled(path, target, input);
  return { feeds: { [input.name]: { dtype: 'float32', data: d.x.data, dims: d.x.dims } }, y: d.y.values, rows: d.x.dims[0]! };
}
