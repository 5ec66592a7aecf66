/**
 * bakeModel: a self-contained uncertainty model. onnxruntime (and Triton on it) delete Dropout
 * nodes at load, so a serving stack cannot do MC dropout; a baked model needs no mcu code:
 *
 * - the prepared 'broadcast' graph, whose mask inputs become initializers holding ONE fixed
 *   set of T posterior samples (consistent MC dropout, scope `sample`): exactly the masks
 *   core's seeded sampler draws for seed S, samples 0..T−1, so `mcu predict --samples T
 *   --seed S` on the original model gives the same numbers;
 * - the sample loop is the broadcast layout itself: masks [T, 1, ...] make the graph run the T
 *   samples at once (outputs [T·N, ...], sample-major);
 * - the estimators in the graph: regression `<out>_mean` (eq. 6), `<out>_variance` (biased
 *   sample variance + τ⁻¹), `<out>_std`; classification `<out>_probs` (p̄ = (1/T) Σ_t softmax),
 *   `<out>_entropy` (H[p̄], nats) and `<out>_mutual_information` (H[p̄] − (1/T) Σ_t H[p_t], ≥ 0).
 *
 * Metadata `mcu.baked` records T, seed, τ, tasks and sites, so that mcu recognises the model.
 */
import {
  API_TASK_WORDING,
  decideTask,
  knownPerRow,
  McuError,
  SeededSampler,
  sizeOf,
  VERSION,
  type OutputTask,
  type StochasticSite,
  type TaskOption,
  type TaskWording,
} from '@mcu/core';
import { DataLocation, DataType } from '../proto/enums.js';
import { encodeModel } from '../proto/index.js';
import type { GraphProto, ModelProto, TensorProto } from '../proto/types.js';
import { allTensors } from './all-tensors.js';
import { cloneProto } from './clone.js';
import { Emitter } from './emit.js';
import { BAKED_KEY, LAYOUT_KEY, SITES_KEY } from './metadata.js';
import { prepareModel, type PreparedModel } from './prepare.js';
import { intAttr, Namer, tensorValueInfo, valueInfoElemType } from './proto-util.js';
import { FLT_MIN_NORMAL, reduceOver } from './reduce.js';

export { BAKED_KEY };
export const VERSION_KEY = 'mcu.version';

/** ONNX files are one protobuf message: at most 2 GiB. */
const MAX_MODEL_BYTES = 2 ** 31 - 1;
/** The generator's counter holds the sample index in 32 bits. */
const MAX_SAMPLES = 2 ** 32;

export interface BakeOptions {
  /** T: the MC samples baked in (integer ≥ 1). */
  readonly samples: number;
  /** Seed of core's seeded sampler (default 0). */
  readonly seed?: number;
  /** Model precision τ > 0: 1/τ is added to the regression variances (default: none, + 0). */
  readonly tau?: number;
  /** `tau` is a default (a configured τ): a model without regression outputs ignores it instead of refusing it. */
  readonly tauDefault?: boolean;
  /** The task of each output, as predict's `task` (README "Tasks"; default 'auto'). */
  readonly task?: TaskOption;
  /** How task messages name the fix (the CLI passes its --task wording). */
  readonly wording?: TaskWording;
  /** How messages name T (default 'samples'; the CLI: '--bake'). */
  readonly samplesName?: string;
  /** Names the model in messages. */
  readonly what?: string;
}

/** One output of the original model and the baked outputs computed from it. */
export interface BakedOutput {
  readonly name: string;
  readonly task: 'regression' | 'classification';
  /** Classification: what the original output holds. */
  readonly holds?: 'logits' | 'probabilities';
  /** False when the output depends on no site (every sample is the same). */
  readonly sampled: boolean;
  /** The baked model's outputs, e.g. ['y_mean', 'y_variance', 'y_std']. */
  readonly outputs: readonly string[];
}

/** What `mcu.baked` records. */
export interface BakeDescription {
  readonly version: string;
  readonly samples: number;
  readonly seed: number;
  /** null: no τ was given, the variances add 0. */
  readonly tau: number | null;
  readonly scope: 'sample';
  readonly inputs: readonly string[];
  readonly outputs: readonly BakedOutput[];
  readonly sites: readonly { name: string; kind: string; rate: number; maskShape: readonly number[]; scaling: string }[];
  /** Bytes of the baked masks. */
  readonly maskBytes: number;
}

export interface BakedModel {
  readonly model: ModelProto;
  /** The encoded model, to write or to give to any ONNX runtime. */
  readonly bytes: Uint8Array;
  readonly description: BakeDescription;
  readonly warnings: readonly string[];
}

/** The `mcu.baked` record of a model, or undefined when it is not a baked model. */
export function readBakedMetadata(model: ModelProto, what = 'model'): BakeDescription | undefined {
  const raw = (model.metadata_props ?? []).find((p) => p.key === BAKED_KEY)?.value;
  if (raw === undefined) return undefined;
  try {
    const d = JSON.parse(raw) as BakeDescription;
    if (typeof d === 'object' && d !== null && Number.isInteger(d.samples) && Array.isArray(d.outputs)) return d;
  } catch {
    // reported below
  }
  throw new McuError('E_MODEL', `${what}: metadata '${BAKED_KEY}' is not a valid baked-model record; re-bake the model (mcu convert --bake T)`);
}

function checkSamples(samples: unknown, name: string): number {
  if (typeof samples !== 'number' || !Number.isInteger(samples) || samples < 1 || samples > MAX_SAMPLES) {
    throw new McuError('E_CONFIG', `${name} must be an integer in 1..${MAX_SAMPLES} (the MC samples T to bake in), got ${String(samples)}`);
  }
  return samples;
}

/** Float32 values as a little-endian TensorProto. */
function floatInitializer(name: string, data: Float32Array, dims: readonly number[]): TensorProto {
  const raw = new Uint8Array(data.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  return { name, data_type: DataType.FLOAT, dims: dims.map(BigInt), raw_data: raw };
}

/** Over one axis, keepdims 0 (see reduce.ts). */
function reduce(em: Emitter, op: 'ReduceMean' | 'ReduceSum', x: string, axis: number, outName?: string): string {
  return reduceOver(em, op, x, axis, outName === undefined ? {} : { outName });
}

/** [T·N, ...rest] → [T, N, ...rest]. */
function splitSamples(em: Emitter, out: string, samples: number): string {
  const rest = em.slice1d(em.shape(out), 1n);
  return em.reshape(out, em.concat([em.constInt64([BigInt(samples), -1n], `samples${samples}_rows`), rest]));
}

/** Eq. 6 and the predictive variance: mean_t y_t, mean_t (y_t − ȳ)² + τ⁻¹, and its root. */
function emitRegression(em: Emitter, out: string, samples: number, tau: number | undefined, names: readonly [string, string, string]): void {
  const y = splitSamples(em, out, samples);
  const mean = reduce(em, 'ReduceMean', y, 0, names[0]);
  const d = em.node('Sub', [y, mean]);
  const biased = reduce(em, 'ReduceMean', em.mul(d, d), 0);
  const variance = em.add(biased, em.constFloat(tau === undefined ? 0 : 1 / tau, DataType.FLOAT, 'inverse_tau'), names[1]);
  em.node('Sqrt', [variance], [], names[2]);
}

/**
 * p̄, H[p̄] and the mutual information, as core's ClassificationEstimator computes them:
 * per-sample p_t = softmax(logits) (log p_t = LogSoftmax), or the output's probabilities
 * normalised (p/Σp, the estimator's softmax(log p)); H[p_t] = −Σ p_t log p_t; 0·log 0 = 0;
 * MI clamped at 0 against round-off.
 */
function emitClassification(
  em: Emitter,
  out: string,
  samples: number,
  classes: number,
  holds: 'logits' | 'probabilities',
  names: readonly [string, string, string],
): void {
  // [T·N, 1, …, 1, C] → [T, N, C]
  const x = em.reshape(out, em.constInt64([BigInt(samples), -1n, BigInt(classes)], `samples${samples}_rows_c${classes}`));
  const tiny = em.constFloat(FLT_MIN_NORMAL, DataType.FLOAT, 'flt_min');
  const axisC = [intAttr('axis', -1)];
  let p: string;
  let logP: string;
  if (holds === 'logits') {
    logP = em.node('LogSoftmax', [x], axisC);
    p = em.node('Exp', [logP]);
  } else {
    const sum = reduceOver(em, 'ReduceSum', x, -1, { keepdims: true });
    p = em.node('Div', [x, sum]);
    logP = em.node('Log', [em.node('Max', [p, tiny])]);
  }
  const hSample = em.node('Neg', [reduce(em, 'ReduceSum', em.mul(p, logP), -1)]); // [T, N]
  const probs = reduce(em, 'ReduceMean', p, 0, names[0]); // [N, C]
  const logProbs = em.node('Log', [em.node('Max', [probs, tiny])]);
  const entropy = em.node('Neg', [reduce(em, 'ReduceSum', em.mul(probs, logProbs), -1)], [], names[1]); // [N]
  const expected = reduce(em, 'ReduceMean', hSample, 0);
  em.node('Max', [em.node('Sub', [entropy, expected]), em.constFloat(0, DataType.FLOAT, 'zero')], [], names[2]);
}

function refuse(what: string, why: string): never {
  throw new McuError('E_UNSUPPORTED', `${what} cannot be baked: ${why}`);
}

/**
 * Bake T seeded MC-dropout samples and the estimators into an ONNX model (see the file
 * comment). `source` is a prepared model (e.g. from the onnx backend's `prepare`, which also
 * measures site shapes by running the model) or a decoded one, prepared here statically.
 */
export function bakeModel(source: PreparedModel | ModelProto, options: BakeOptions): BakedModel {
  const what = options.what ?? 'model';
  const samplesName = options.samplesName ?? 'samples';
  const samples = checkSamples(options.samples, samplesName);
  const seed = options.seed ?? 0;
  const tau = options.tau;
  if (tau !== undefined && !(typeof tau === 'number' && Number.isFinite(tau) && tau > 0)) {
    throw new McuError('E_CONFIG', `τ (tau) must be a number > 0, got ${String(tau)}`);
  }
  if ('graph' in source && !('sites' in source)) {
    if (readBakedMetadata(source, what)) refuse(what, 'it is a baked model already (metadata mcu.baked); bake the original model');
  }
  const prepared: PreparedModel = 'sites' in source ? source : prepareModel(source, { what });
  if (readBakedMetadata(prepared.model, what)) refuse(what, 'it is a baked model already (metadata mcu.baked); bake the original model');
  if (prepared.layout !== 'broadcast') {
    refuse(
      what,
      prepared.layout === 'tiled'
        ? "its graph runs in the 'tiled' layout (inputs repeated per sample: see `mcu inspect`), whose sample axis mcu does not bake yet; " +
            'use `mcu predict` (or the server) on the original model'
        : "it is a per-sample masked model ('sample-axis' layout: it takes data [S, N, ...]); export it with masks of dims [N, ...] or with Dropout nodes",
    );
  }
  if (prepared.opset < 8) {
    refuse(what, `its opset ${prepared.opset} lacks the broadcasting Max and Expand the baked estimators use; re-export the model with opset ≥ 8`);
  }
  if (prepared.sites.length === 0) {
    refuse(what, 'it has no dropout site, so every sample would be the same; export with Dropout nodes (TrainingMode.PRESERVE) or give --insert-dropout P');
  }
  const dynamicSite = prepared.sites.find((s) => s.dims !== undefined);
  if (dynamicSite) {
    refuse(
      what,
      `the mask of site '${dynamicSite.name}' takes its size from an input dim (${JSON.stringify(dynamicSite.dims)}), so one fixed mask cannot fit every input; export with fixed sizes`,
    );
  }
  if (allTensors(prepared.model).some((t) => t.data_location === DataLocation.EXTERNAL)) {
    refuse(what, 'its weights stay in an external data file; a baked model is one self-contained file: inline them first (a model under 2 GiB)');
  }
  const maskBytes = samples * prepared.sites.reduce((a, s) => a + sizeOf(s.maskShape), 0) * 4;
  const weightBytes = allTensors(prepared.model).reduce((a, t) => a + (t.raw_data?.length ?? 0) + 4 * (t.float_data?.length ?? 0), 0);
  if (maskBytes + weightBytes > MAX_MODEL_BYTES) {
    const perSample = maskBytes / samples;
    throw new McuError(
      'E_CONFIG',
      `${samplesName} ${samples}: the baked masks take ${maskBytes} bytes (${perSample} per sample) and the weights ${weightBytes}, over the 2 GiB an ONNX file can hold; ` +
        `bake at most ${Math.max(0, Math.floor((MAX_MODEL_BYTES - weightBytes) / perSample))} samples`,
    );
  }

  // Tasks: the predict rule (README "Tasks").
  const wording = options.wording ?? API_TASK_WORDING;
  const byOutput: Readonly<Record<string, string>> = typeof options.task === 'object' && options.task !== null ? options.task : {};
  const fallback = typeof options.task === 'string' ? options.task : 'auto';
  const outputNames = prepared.outputs.map((o) => o.name);
  for (const n of Object.keys(byOutput)) {
    if (!outputNames.includes(n)) {
      throw new McuError(
        'E_USAGE',
        `${wording.one(n, byOutput[n] as 'auto')} (${wording.asked}): the model has no output '${n}'; its outputs: ${outputNames.join(', ')}`,
      );
    }
  }
  const tasks: OutputTask[] = prepared.outputs.map((spec) => {
    const perRow = knownPerRow(spec.dims);
    const requested = (byOutput[spec.name] ?? fallback) as 'auto' | 'regression' | 'classification';
    if (perRow === undefined) {
      if (requested === 'regression') return { name: spec.name, task: 'regression', perRow: [], width: 0, reason: 'asked' };
      refuse(
        what,
        `output '${spec.name}' leaves its size per row symbolic (dims [${spec.dims.join(', ')}]), so its task cannot be checked here; export with fixed sizes, or give ${wording.one(spec.name, 'regression')}`,
      );
    }
    return decideTask(spec.name, requested, spec.activation, perRow, wording);
  });
  if (tau !== undefined && !options.tauDefault && !tasks.some((t) => t.task === 'regression')) {
    throw new McuError('E_USAGE', `τ (tau) ${tau} sets the variance of regression outputs, but every output of ${what} is classification: leave it out`);
  }

  // The graph: masks as initializers, estimators after the outputs.
  const model = cloneProto(prepared.model);
  const graph: GraphProto = model.graph!;
  const maskNames = new Set(prepared.sites.map((s) => s.name));
  graph.input = (graph.input ?? []).filter((v) => !maskNames.has(v.name ?? ''));
  const sampler = new SeededSampler({ seed, wasm: false });
  prepared.sites.forEach((site: StochasticSite, siteIndex) => {
    const m = sampler.sample({ site, siteIndex, firstSample: 0, count: samples, rows: 1, scope: 'sample' });
    graph.initializer = [...(graph.initializer ?? []), floatInitializer(site.name, m.data as Float32Array, m.dims)];
  });

  const namer = new Namer(graph);
  const em = new Emitter(prepared.opset, namer);
  em.prefix = 'mcu_bake';
  const sampled = new Set(prepared.sampledOutputs);
  // the outputs' rows are named as the first input's
  const lead = prepared.inputs[0]?.dims[0];
  const rowsDim = typeof lead === 'string' && lead !== '?' ? lead : 'N';
  const baked: BakedOutput[] = [];
  const newOutputs = [];
  for (const t of tasks) {
    const vi = graph.output!.find((o) => o.name === t.name)!;
    const elem = valueInfoElemType(vi);
    if (elem !== undefined && elem !== DataType.FLOAT) {
      refuse(what, `output '${t.name}' is not float32 (ONNX element type ${elem}); mcu bakes estimators over float32 outputs`);
    }
    const count = sampled.has(t.name) ? samples : 1;
    const suffixes = t.task === 'regression' ? (['mean', 'variance', 'std'] as const) : (['probs', 'entropy', 'mutual_information'] as const);
    const names = suffixes.map((s) => `${t.name}_${s}`) as unknown as [string, string, string];
    for (const n of names) {
      if (namer.has(n)) refuse(what, `the graph already has a tensor '${n}', the name of a baked output; rename it in the model`);
      namer.reserve(n);
    }
    if (t.task === 'regression') {
      emitRegression(em, t.name, count, tau, names);
      // per-row dims unknown (asked regression of a symbolic output): the rank is left open too
      for (const n of names) {
        newOutputs.push(
          t.width > 0 ? tensorValueInfo(n, DataType.FLOAT, [rowsDim, ...t.perRow]) : { name: n, type: { tensor_type: { elem_type: DataType.FLOAT } } },
        );
      }
    } else {
      const classes = t.perRow[t.perRow.length - 1]!;
      emitClassification(em, t.name, count, classes, t.holds ?? 'logits', names);
      newOutputs.push(
        tensorValueInfo(names[0], DataType.FLOAT, [rowsDim, classes]),
        tensorValueInfo(names[1], DataType.FLOAT, [rowsDim]),
        tensorValueInfo(names[2], DataType.FLOAT, [rowsDim]),
      );
    }
    baked.push({
      name: t.name,
      task: t.task,
      ...(t.task === 'classification' ? { holds: t.holds ?? 'logits' } : {}),
      sampled: sampled.has(t.name),
      outputs: names,
    });
  }
  graph.node = [...(graph.node ?? []), ...em.nodes];
  graph.initializer = [...(graph.initializer ?? []), ...em.initializers];
  graph.output = newOutputs;

  const description: BakeDescription = {
    version: VERSION,
    samples,
    seed,
    // τ applies to regression outputs only (a configured default is dropped for a classifier)
    tau: tasks.some((t) => t.task === 'regression') ? (tau ?? null) : null,
    scope: 'sample',
    inputs: prepared.inputs.map((i) => i.name),
    outputs: baked,
    sites: prepared.sites.map((s) => ({ name: s.name, kind: s.kind, rate: s.rate, maskShape: [...s.maskShape], scaling: s.scaling ?? 'inverted' })),
    maskBytes,
  };
  const note =
    tau === undefined && tasks.some((t) => t.task === 'regression')
      ? 'no τ was given: the variances are the biased sample variances over the T samples, + 0 (bake with a τ to add 1/τ)'
      : undefined;
  model.metadata_props = [
    ...(model.metadata_props ?? []).filter((p) => p.key !== SITES_KEY && p.key !== LAYOUT_KEY && p.key !== BAKED_KEY && p.key !== VERSION_KEY),
    { key: BAKED_KEY, value: JSON.stringify({ ...description, ...(note ? { note } : {}) }) },
    { key: VERSION_KEY, value: VERSION },
  ];
  const warnings = [...prepared.warnings];
  if (note) warnings.push(note);
  warnings.push(
    `the baked model runs all ${samples} samples in one call: every request of N rows computes ${samples}·N rows after the first dropout (memory and time grow with T)`,
  );
  return { model, bytes: encodeModel(model), description, warnings };
}
