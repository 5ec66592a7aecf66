import {
  ClassificationEstimator,
  McuError,
  RegressionEstimator,
  tauFromWeightDecay,
  sizeOf,
  type NamedTensors,
  type StochasticModel,
  type TensorSpec,
  type Mcu,
} from '@mcu/core';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Settings } from '../config.js';
import { compose } from '../compose.js';
import { readInputFile } from '../io/input.js';
import type { SiteMeta } from '../io/result.js';

export interface Loaded {
  readonly mcu: Mcu;
  readonly model: StochasticModel;
}

/** The backend options the CLI hands to whichever backend runs the model. */
export function backendOptions(s: Settings): Record<string, Record<string, unknown>> {
  const onnx: Record<string, unknown> = { ...s.backendOptions.onnx };
  if (s.insertDropout !== undefined) onnx['insertDropout'] = { rate: s.insertDropout, before: [...s.before] };
  if (Object.keys(s.rate).length > 0) onnx['rates'] = { ...s.rate };
  if (Object.keys(s.maskInput).length > 0) onnx['maskInputs'] = { ...s.maskInput };
  if (s.dropoutScaling !== 'inverted') onnx['scaling'] = s.dropoutScaling;
  const web = { ...onnx };
  delete web['executionProviders'];
  delete web['graphOptimizationLevel'];
  delete web['intraOpNumThreads'];
  if (s.executionProviders) web['executionProviders'] = [...s.executionProviders];
  return { onnx, 'onnx-web': web, tfjs: { ...s.backendOptions.tfjs } };
}

export async function loadModel(s: Settings): Promise<Loaded> {
  if (s.model === undefined) throw new McuError('E_USAGE', `'${s.command}' needs a MODEL file`);
  const mcu = compose({
    ...(s.backend ? { backend: s.backend } : {}),
    backendOptions: backendOptions(s),
    memoryBudgetBytes: s.memoryBudgetMB * 1024 * 1024,
  });
  const model = await mcu.load({ kind: 'path', path: modelPath(s.model) });
  return { mcu, model };
}

/** MODEL as given, or `MODEL/model.json` when MODEL is a folder holding one (a TensorFlow.js layers model). */
export function modelPath(model: string): string {
  const inner = join(model, 'model.json');
  return existsSync(model) && statSync(model).isDirectory() && existsSync(inner) ? inner : model;
}

/** Read `--input` files onto the model's inputs (one input: `--input FILE`; several: NAME=FILE). */
export function readFeeds(model: StochasticModel, inputs: Settings['input']): NamedTensors {
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

/** τ from --tau, or eq. 7 from --weight-decay/--length-scale/--n-train with the sites' rate. */
export function resolveTau(s: Settings, model: StochasticModel): number | undefined {
  if (s.tau !== undefined) return s.tau;
  if (s.tauPrior === undefined) return undefined;
  const rates = [...new Set(model.sites.map((x) => x.rate))];
  if (rates.length !== 1) {
    throw new McuError(
      'E_USAGE',
      `τ from weight decay (eq. 7) needs one dropout rate, but the model's sites have ${rates.length === 0 ? 'none' : `several (${rates.join(', ')})`}; give --tau instead`,
    );
  }
  return tauFromWeightDecay({ dropoutRate: rates[0]!, lengthScale: s.tauPrior.lengthScale, nTrain: s.tauPrior.nTrain, weightDecay: s.tauPrior.weightDecay });
}

export type Task = 'regression' | 'classification';

/** auto: classification when an output has ≥ 2 values per row (logits), else regression. */
export function taskFor(s: Settings, spec: TensorSpec, perRow?: number): Task {
  if (s.task !== 'auto') return s.task;
  const rest = spec.dims.slice(1);
  const d = perRow ?? (rest.every((x) => typeof x === 'number' && x > 0) ? sizeOf(rest as number[]) : 1);
  return d >= 2 ? 'classification' : 'regression';
}

export function estimatorsFor(
  s: Settings,
  model: StochasticModel,
  tau: number | undefined,
  extra: { targets?: Float64Array; labels?: Int32Array } = {},
): { regression: Map<string, RegressionEstimator>; classification: Map<string, ClassificationEstimator> } {
  const regression = new Map<string, RegressionEstimator>();
  const classification = new Map<string, ClassificationEstimator>();
  for (const out of model.outputs) {
    if (taskFor(s, out) === 'classification') {
      classification.set(
        out.name,
        new ClassificationEstimator({
          output: out.name,
          // a network that ends in softmax hands out probabilities, not logits
          outputs: out.activation === 'softmax' ? 'probabilities' : 'logits',
          ...(extra.labels ? { labels: extra.labels } : {}),
        }),
      );
    } else {
      regression.set(out.name, new RegressionEstimator({ output: out.name, ...(tau !== undefined ? { tau } : {}), ...(extra.targets ? { targets: extra.targets } : {}) }));
    }
  }
  return { regression, classification };
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
