import {
  assertTauApplies,
  ClassificationEstimator,
  firstRow,
  fitTau,
  McuError,
  RegressionEstimator,
  resolveTau as coreResolveTau,
  SquaredErrorCollector,
  TAU_SEARCH_RANGE,
  type FittedTau,
  type Mcu,
  type NamedTensors,
  type StochasticModel,
  type TauWording,
  type TensorSpec,
} from '@mcu/core';
import type { CaffeModel } from '@mcu/format-caffe';
import { compose } from '../compose.js';
import { readInputFile } from '../io/input.js';
import { readFileText } from '../io/files.js';
import { readSolver } from '@mcu/format-caffe';
import type { SiteMeta } from '../io/result.js';
import { readLabeled } from '../io/targets.js';
import type { Settings } from '../config.js';
import { checkSpatial, makePlan, resolveTasks, tauFlags, type OutputTask, type Plan, type TauPlan } from '../plan.js';

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
    throw new McuError('E_USAGE', `no input given: use --input FILE${model.inputs.length > 1 ? ` once per model input (${model.inputs.map((i) => `--input ${i.name}=FILE`).join(' ')})` : ''}`);
  }
  const feeds: NamedTensors = {};
  for (const arg of inputs) {
    let spec: TensorSpec | undefined;
    if (arg.name === undefined) {
      if (model.inputs.length !== 1) {
        throw new McuError('E_USAGE', `the model has ${model.inputs.length} inputs (${model.inputs.map((i) => i.name).join(', ')}): name each one, --input NAME=FILE`);
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

/** The task of every output, or of those in `only` (README "Tasks"); a symbolic per-row size is learnt from a deterministic pass on one row. */
export function tasksFor(plan: Plan, mcu: Mcu, model: StochasticModel, feeds: NamedTensors, only?: readonly string[]): Promise<OutputTask[]> {
  return resolveTasks(plan.tasks, model, async () => {
    const rows = Object.values(feeds)[0]?.dims[0] ?? 0;
    if (rows <= 1) return mcu.engine.deterministic(model, feeds);
    try {
      return await mcu.engine.deterministic(model, firstRow(feeds));
    } catch {
      return mcu.engine.deterministic(model, feeds); // e.g. a model with a fixed batch size
    }
  }, only);
}

/** How @mcu/core's τ messages name the CLI's τ flags. */
function tauWording(t: TauPlan): TauWording {
  return { option: tauFlags(t), leaveOut: 'drop it', giveNumber: 'give --tau instead' };
}

/**
 * τ given as a number or by eq. 7 (--weight-decay/--length-scale/--n-train with the sites'
 * one rate), by @mcu/core's resolveTau; undefined without τ or when it is to be fitted (see
 * {@link fitTauOnFile}). A τ flag for a model without a regression output is refused: τ would
 * change nothing (the config's "tau", a default for regression models, is dropped silently).
 */
export function resolveTau(plan: Plan, model: StochasticModel, tasks: readonly OutputTask[]): number | undefined {
  const t = plan.tau;
  if (t.kind === 'none') return undefined;
  const wording = tauWording(t);
  if (t.kind === 'value') return coreResolveTau(t.tau, model, tasks, { wording, dropForClassifiers: t.source === 'config' });
  assertTauApplies(tasks, wording);
  if (t.kind !== 'prior') return undefined;
  const weightDecay = t.weightDecay ?? solverWeightDecay(t.solver!);
  return coreResolveTau({ weightDecay, lengthScale: t.lengthScale, nTrain: t.nTrain }, model, tasks, { wording });
}

/**
 * λ of eq. 7 from a Caffe solver: its weight_decay under L2 regularisation (Caffe adds λ·w to
 * each gradient, as PyTorch's weight_decay does). No weight_decay, or L1, is an E_USAGE.
 */
export function solverWeightDecay(file: string): number {
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

export function estimatorsFor(
  tasks: readonly OutputTask[],
  tau: number | undefined,
  extra: { targets?: Float64Array; labels?: Int32Array } = {},
): { regression: Map<string, RegressionEstimator>; classification: Map<string, ClassificationEstimator> } {
  const regression = new Map<string, RegressionEstimator>();
  const classification = new Map<string, ClassificationEstimator>();
  for (const out of tasks) {
    if (out.task === 'classification') {
      classification.set(
        out.name,
        new ClassificationEstimator({
          output: out.name,
          // a network that ends in softmax hands out probabilities, not logits
          outputs: out.holds ?? 'logits',
          ...(extra.labels ? { labels: extra.labels } : {}),
        }),
      );
    } else {
      regression.set(out.name, new RegressionEstimator({ output: out.name, ...(tau !== undefined ? { tau } : {}), ...(extra.targets ? { targets: extra.targets } : {}) }));
    }
  }
  return { regression, classification };
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
    throw new McuError('E_USAGE', `${flag} reads features and a target column from one file, for a model with one input; this one has ${model.inputs.length} (${model.inputs.map((i) => i.name).join(', ')})`);
  }
  const input = model.inputs[0]!;
  const d = readLabeled(path, target, input);
  return { feeds: { [input.name]: { dtype: 'float32', data: d.x.data, dims: d.x.dims } }, y: d.y.values, rows: d.x.dims[0]! };
}

/**
 * --fit-tau VALFILE: τ maximising the validation log-likelihood (eq. 8) of the one regression
 * output, under the plan's samples, seed and scope (no tolerance: the collector has no
 * standard error). Warns (unless quiet) when the optimum is at an end of the range.
 */
export async function fitTauOnFile(plan: Plan, mcu: Mcu, model: StochasticModel, tasks: readonly OutputTask[], warn: NodeJS.WritableStream | null): Promise<FittedTau> {
  if (plan.tau.kind !== 'fit') throw new McuError('E_INTERNAL', 'fitTauOnFile without --fit-tau');
  const { file, target } = plan.tau;
  const regression = tasks.filter((o) => o.task === 'regression');
  if (regression.length !== 1) {
    throw new McuError('E_USAGE', `--fit-tau fits one τ from one target column, for one regression output; this model has ${regression.length === 0 ? 'none' : `${regression.length} (${regression.map((o) => o.name).join(', ')})`}: give --tau instead`);
  }
  const out = regression[0]!;
  if (out.width !== 1) {
    throw new McuError('E_USAGE', `--fit-tau ${file}: output '${out.name}' has ${out.width} values per row, but a validation file gives one target column; give --tau instead`);
  }
  const val = readLabeledFile(model, file, target, `--fit-tau ${file}`);
  const collector = new SquaredErrorCollector({ output: out.name, targets: val.y });
  await mcu.engine.run(model, val.feeds, {
    samples: plan.engine.samples,
    seed: plan.engine.seed,
    scope: plan.engine.scope,
    memoryBudgetBytes: plan.engine.memoryBudgetBytes,
    estimators: [collector],
  });
  const r = fitTau(collector, TAU_SEARCH_RANGE);
  if (r.atBoundary && warn !== null) {
    const end = r.tau <= TAU_SEARCH_RANGE.min * (1 + 1e-6) ? 'lower' : 'upper';
    warn.write(
      `mcu: warning: --fit-tau ${file}: the validation log-likelihood is highest at the ${end} end of the searched range ` +
        `[${TAU_SEARCH_RANGE.min}, ${TAU_SEARCH_RANGE.max}] (τ = ${r.tau}), so the best τ lies outside it: this τ is a bound, not a fitted optimum ` +
        `(reported as tauFitted "boundary"); check that the target column${target !== undefined ? ` (--target ${target})` : ' (the last, by default; --target picks another)'} is what the model predicts, or give --tau\n`,
    );
  }
  return { tau: r.tau, atBoundary: r.atBoundary, logLikelihood: r.logLikelihood };
}

export function sitesMeta(model: StochasticModel): SiteMeta[] {
  return model.sites.map((x) => ({ name: x.name, kind: x.kind, rate: x.rate }));
}

/** Flat row-major [N, D] → N rows of D. */
export function rowsOf(a: ArrayLike<number>, n: number): number[][] {
  const d = n === 0 ? 0 : a.length / n;
  const out: number[][] = [];
  for (let i = 0; i < n; i++) out.push(Array.from({ length: d }, (_, j) => a[i * d + j]!));
  return out;
}
