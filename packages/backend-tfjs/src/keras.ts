import type { StochasticSite } from '@mcu/core';
import { McuError } from '@mcu/core';
import type { ExecGraph, GraphConstant, GraphInput, GraphNode, GraphOutput } from './graph.js';
import { KERAS_OPS } from './keras-ops.js';
import { ACTIVATIONS, type Activation } from './network.js';

/*
 * Keras → TensorFlow.js layers models (`tensorflowjs_converter --input_format keras`, or
 * `model.save()` in tfjs): model.json holds the Keras topology and a weights manifest; the
 * weights live in binary shards next to it. mcu parses both itself (no tf.loadLayersModel:
 * that needs fetch/tfjs-node for files, and its predict() never applies dropout) and compiles
 * the layer graph — Sequential or Functional, branches, merges, shared layers, nested models —
 * into an ExecGraph (graph.ts, layout 'lazy') whose ops are keras-ops.ts, with every dropout
 * layer as a stochastic site: an explicit mask input.
 */

export const SUPPORTED_LAYERS = [
  'InputLayer',
  'Dense',
  'Conv1D',
  'Conv2D',
  'Conv3D',
  'DepthwiseConv2D',
  'SeparableConv1D',
  'SeparableConv2D',
  'Conv2DTranspose',
  'MaxPooling1D',
  'MaxPooling2D',
  'AveragePooling1D',
  'AveragePooling2D',
  'GlobalMaxPooling1D',
  'GlobalMaxPooling2D',
  'GlobalMaxPooling3D',
  'GlobalAveragePooling1D',
  'GlobalAveragePooling2D',
  'GlobalAveragePooling3D',
  'ZeroPadding1D',
  'ZeroPadding2D',
  'ZeroPadding3D',
  'Cropping1D',
  'Cropping2D',
  'Cropping3D',
  'UpSampling1D',
  'UpSampling2D',
  'UpSampling3D',
  'Flatten',
  'Reshape',
  'Permute',
  'RepeatVector',
  'Embedding',
  'BatchNormalization',
  'LayerNormalization',
  'Rescaling',
  'Activation',
  'ReLU',
  'LeakyReLU',
  'ELU',
  'PReLU',
  'ThresholdedReLU',
  'Softmax',
  'Add',
  'Subtract',
  'Multiply',
  'Average',
  'Maximum',
  'Minimum',
  'Concatenate',
  'Dot',
  'TimeDistributed',
  'Bidirectional',
  'LSTM',
  'GRU',
  'SimpleRNN',
  'Dropout',
  'SpatialDropout1D',
  'SpatialDropout2D',
  'SpatialDropout3D',
  'GaussianDropout',
  'GaussianNoise',
  'AlphaDropout',
  'ActivityRegularization',
  'Identity',
  'Sequential',
  'Functional',
  'Model',
] as const;

const MODEL_CLASSES = new Set(['Sequential', 'Functional', 'Model']);

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Where model.json came from, to read its weight shards (no file system here: see keras-node.ts). */
export interface LayersModelOrigin {
  /** Reads one shard by its manifest path (Node: a file next to model.json; a page: fetched next to its URL); undefined = none can be read. */
  readonly readShard?: (path: string) => Promise<Uint8Array>;
  /** For messages: the model.json path or a description. */
  readonly label: string;
}

/** Parse model.json text (or bytes) and read its shards through `origin.readShard`. */
export async function parseLayersModelJson(text: string | Uint8Array, origin: LayersModelOrigin): Promise<ExecGraph> {
  let json: unknown;
  try {
    json = JSON.parse(typeof text === 'string' ? text : new TextDecoder().decode(text));
  } catch (e) {
    throw new McuError('E_MODEL', `'${origin.label}' is not valid JSON (${e instanceof Error ? e.message : String(e)}); expected a TensorFlow.js model.json`, {
      cause: e,
    });
  }
  return parseLayersModel(json, origin);
}

/** Compile a parsed model.json (its shards read through `origin.readShard`) into an ExecGraph. */
export async function parseLayersModel(json: unknown, origin: LayersModelOrigin): Promise<ExecGraph> {
  if (!isRecord(json)) throw new McuError('E_MODEL', `'${origin.label}' is not a TensorFlow.js model.json (expected an object)`);
  const format = json['format'];
  if (format === 'graph-model') {
    throw new McuError(
      'E_UNSUPPORTED',
      `'${origin.label}' is a tfjs graph model (a converted SavedModel / frozen graph): its dropout was removed at export — convert the Keras model instead (tensorflowjs_converter --input_format keras), or export it to ONNX with dropout kept`,
    );
  }
  if (format !== undefined && format !== 'layers-model') {
    throw new McuError('E_UNSUPPORTED', `'${origin.label}' has format ${JSON.stringify(format)}; the tfjs backend reads 'layers-model' model.json files`);
  }
  const topology = json['modelTopology'];
  if (!isRecord(topology)) {
    throw new McuError('E_MODEL', `'${origin.label}' has no modelTopology; expected a TensorFlow.js layers model.json`);
  }
  const modelJson = isRecord(topology['model_config']) ? topology['model_config'] : topology;
  const kerasVersion = String(topology['keras_version'] ?? modelJson['keras_version'] ?? '');
  const keras3 = /^3\./.test(kerasVersion);
  const cls = modelJson['class_name'];
  if (typeof cls !== 'string' || !MODEL_CLASSES.has(cls)) {
    throw new McuError(
      'E_UNSUPPORTED',
      `'${origin.label}' holds a model of class ${JSON.stringify(cls)}; the tfjs backend reads Sequential and Functional (Model) layers models`,
    );
  }
  const root = toDef(modelJson, 0, origin.label, '', [], true);
  const weights = await loadWeights(json['weightsManifest'], origin);
  return compileModel(root, weights, { keras3, tfjs: /^tfjs/.test(kerasVersion), label: origin.label });
}

// ---------------------------------------------------------------------------------------
// Topology: every layer config becomes a LayerDef, nested models and wrapped layers included.

interface LayerDef {
  readonly className: string;
  readonly name: string;
  readonly config: Json;
  readonly raw: Json;
  /** Definition path: the enclosing models' and wrappers' names, then this layer's ('inner/dense'). */
  readonly path: string;
  /** Components a weight's name must contain, in order, to belong to this layer (e.g. ['bi', /^forward_/]). */
  readonly match: readonly (string | RegExp)[];
  /** A nested model's layers. */
  readonly layers?: readonly LayerDef[];
  /** TimeDistributed: the wrapped layer; Bidirectional: the forward layer. */
  readonly inner?: LayerDef;
  /** Bidirectional: the backward layer. */
  readonly backward?: LayerDef;
}

/**
 * A layer config as a LayerDef. `parent` is the definition path of the enclosing model or wrapper
 * ('' at the top level), `parentMatch` what a wrapped layer's weights are named under; the root
 * model's own name is no part of its layers' paths.
 */
function toDef(raw: unknown, k: number, label: string, parent: string, parentMatch: readonly (string | RegExp)[], root = false): LayerDef {
  if (!isRecord(raw) || typeof raw['class_name'] !== 'string') {
    throw new McuError('E_MODEL', `layer ${k} of '${label}'${parent ? ` (in '${parent}')` : ''} has no class_name`);
  }
  const className = raw['class_name'];
  // Keras 2 Sequential configs may be the bare list of layers.
  const config = isRecord(raw['config']) ? raw['config'] : Array.isArray(raw['config']) ? { layers: raw['config'] } : {};
  const name = typeof config['name'] === 'string' ? config['name'] : typeof raw['name'] === 'string' ? raw['name'] : `layer${k}`;
  const path = parent ? `${parent}/${name}` : name;
  const base = { className, name, config, raw, path };
  if (MODEL_CLASSES.has(className)) {
    const list = config['layers'];
    if (!Array.isArray(list)) throw new McuError('E_MODEL', `the ${className} model '${name}' in '${label}' has no layers list`);
    // Weights of nested models are named by their own layers ('dense/kernel'), sometimes under
    // the model's name ('inner/dense/kernel'): a layer's weight must name the layer itself.
    return { ...base, match: [], layers: list.map((l, j) => toDef(l, j, label, root ? '' : path, [])) };
  }
  if (className === 'TimeDistributed' || className === 'Bidirectional') {
    const innerRaw = config['layer'];
    if (!isRecord(innerRaw)) throw new McuError('E_MODEL', `${className} layer '${name}' in '${label}' has no wrapped layer config`);
    // The wrapper names the weights: tfjs 'td/kernel', Keras 'bidirectional/forward_lstm/lstm_cell/kernel'.
    const own = [...parentMatch, name];
    if (className === 'TimeDistributed') return { ...base, match: own, inner: toDef(innerRaw, 0, label, path, own) };
    const forward = toDef(innerRaw, 0, label, `${path}/forward`, [...own, /^forward_/]);
    let backwardRaw: Json;
    if (isRecord(config['backward_layer'])) backwardRaw = config['backward_layer'];
    else {
      const c = isRecord(innerRaw['config']) ? innerRaw['config'] : {};
      backwardRaw = { ...innerRaw, config: { ...c, go_backwards: c['go_backwards'] !== true } };
    }
    return { ...base, match: own, inner: forward, backward: toDef(backwardRaw, 0, label, `${path}/backward`, [...own, /^backward_/]) };
  }
  return { ...base, match: parentMatch.length > 0 ? parentMatch : [name] };
}

interface NodeRef {
  readonly layer: string;
  readonly node: number;
  readonly tensor: number;
}

function layerLabel(def: LayerDef): string {
  return `layer '${def.name}' (${def.className})`;
}

/** The calls ("inbound nodes") of a layer in a Functional config: Keras 2 / tfjs and Keras 3 forms. */
function inboundCalls(def: LayerDef): NodeRef[][] {
  const nodes = def.raw['inbound_nodes'];
  if (!Array.isArray(nodes)) return [];
  return nodes.map((node) => {
    if (Array.isArray(node)) {
      // Keras 2 / tfjs: [[layerName, nodeIndex, tensorIndex, kwargs], ...]
      return node.map((t) => {
        if (!Array.isArray(t) || typeof t[0] !== 'string')
          throw new McuError('E_MODEL', `${layerLabel(def)} has a malformed inbound node entry ${JSON.stringify(t)}`);
        if (isRecord(t[3]) && Object.keys(t[3]).some((k) => k !== 'training' && k !== 'mask' && t[3][k] !== null)) {
          throw new McuError(
            'E_UNSUPPORTED',
            `${layerLabel(def)} is called with keyword arguments ${JSON.stringify(t[3])}; the tfjs backend passes positional inputs only — export the model to ONNX and run it on the onnx backend`,
          );
        }
        return { layer: t[0], node: Number(t[1] ?? 0), tensor: Number(t[2] ?? 0) };
      });
    }
    // Keras 3: {args: [{class_name: '__keras_tensor__', config: {keras_history: [name, node, tensor]}}], kwargs}
    const refs: NodeRef[] = [];
    const visit = (v: unknown, into: NodeRef[]): void => {
      if (Array.isArray(v)) v.forEach((x) => visit(x, into));
      else if (isRecord(v)) {
        const history = isRecord(v['config']) ? v['config']['keras_history'] : undefined;
        if (v['class_name'] === '__keras_tensor__' && Array.isArray(history) && typeof history[0] === 'string') {
          into.push({ layer: history[0], node: Number(history[1] ?? 0), tensor: Number(history[2] ?? 0) });
        } else Object.values(v).forEach((x) => visit(x, into));
      }
    };
    visit(isRecord(node) ? node['args'] : node, refs);
    const viaKwargs: NodeRef[] = [];
    if (isRecord(node)) visit(node['kwargs'], viaKwargs);
    if (viaKwargs.length > 0) {
      throw new McuError(
        'E_UNSUPPORTED',
        `${layerLabel(def)} takes tensors through keyword arguments (${Object.keys(node['kwargs'] as Json).join(', ')}); the tfjs backend passes positional inputs only — export the model to ONNX and run it on the onnx backend`,
      );
    }
    return refs;
  });
}

/** [[name, node, tensor], ...] or, for one endpoint in Keras 3, [name, node, tensor]. */
function endpoints(v: unknown, what: string, where: string): NodeRef[] {
  const list = Array.isArray(v) && typeof v[0] === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0) throw new McuError('E_MODEL', `${where} lists no ${what}`);
  return list.map((e) => {
    if (!Array.isArray(e) || typeof e[0] !== 'string') throw new McuError('E_MODEL', `${where} has a malformed ${what} entry ${JSON.stringify(e)}`);
    return { layer: e[0], node: Number(e[1] ?? 0), tensor: Number(e[2] ?? 0) };
  });
}

// ---------------------------------------------------------------------------------------
// Weights: by name (`dense_1/kernel`, `outer/dense_1/kernel`, `lstm/lstm_cell/kernel`,
// `bi/forward_lstm/kernel`), or — for models whose variables were renamed — in manifest order,
// which is the layers' order (kernel, bias per Dense; gamma, beta, mean, variance per BN; …).

interface WeightEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** The parameters a layer owns, in Keras' order. */
function paramsOf(def: LayerDef): string[] {
  const c = def.config;
  const bias = c['use_bias'] !== false ? ['bias'] : [];
  switch (def.className) {
    case 'Dense':
    case 'Conv1D':
    case 'Conv2D':
    case 'Conv3D':
    case 'Conv2DTranspose':
      return ['kernel', ...bias];
    case 'DepthwiseConv2D':
      return ['depthwise_kernel', ...bias];
    case 'SeparableConv1D':
    case 'SeparableConv2D':
      return ['depthwise_kernel', 'pointwise_kernel', ...bias];
    case 'BatchNormalization':
      return [...(c['scale'] !== false ? ['gamma'] : []), ...(c['center'] !== false ? ['beta'] : []), 'moving_mean', 'moving_variance'];
    case 'LayerNormalization':
      return [...(c['scale'] !== false ? ['gamma'] : []), ...(c['center'] !== false ? ['beta'] : [])];
    case 'Embedding':
      return ['embeddings'];
    case 'PReLU':
      return ['alpha'];
    case 'LSTM':
    case 'GRU':
    case 'SimpleRNN':
      return ['kernel', 'recurrent_kernel', ...bias];
    default:
      return [];
  }
}

/** Every (layer, parameter) of the model in definition order — the order of the manifest. */
function weightSlots(def: LayerDef, out: [LayerDef, string][] = []): [LayerDef, string][] {
  if (def.layers) def.layers.forEach((l) => weightSlots(l, out));
  else if (def.inner) {
    weightSlots(def.inner, out);
    if (def.backward) weightSlots(def.backward, out);
  } else for (const p of paramsOf(def)) out.push([def, p]);
  return out;
}

function components(name: string): string[] {
  return name.replace(/:\d+$/, '').split('/');
}

/** Does `parts` (without the last) contain every matcher, in order? */
function contains(parts: readonly string[], match: readonly (string | RegExp)[]): boolean {
  let k = 0;
  for (const part of parts) {
    const m = match[k];
    if (m !== undefined && (typeof m === 'string' ? part === m : m.test(part))) k++;
  }
  return k === match.length;
}

class WeightTable {
  readonly #assigned = new Map<string, WeightEntry>();
  /** Why weights were assigned in manifest order, when they were. */
  readonly positional: string | undefined;

  constructor(
    root: LayerDef,
    readonly list: readonly WeightEntry[],
    readonly label: string,
    warnings: string[],
  ) {
    const slots = weightSlots(root);
    const used = new Set<number>();
    const parts = list.map((w) => components(w.name));
    let missing: string | undefined;
    for (const [def, param] of slots) {
      const pathParts = def.path.split('/');
      let best = -1;
      let bestScore = -1;
      parts.forEach((p, i) => {
        if (used.has(i) || p.at(-1) !== param || !contains(p.slice(0, -1), def.match)) return;
        const score = pathParts.filter((c) => p.includes(c)).length;
        if (score > bestScore) {
          best = i;
          bestScore = score;
        }
      });
      if (best < 0) {
        missing = `${def.path}/${param}`;
        break;
      }
      used.add(best);
      this.#assigned.set(`${def.path}/${param}`, list[best]!);
    }
    if (missing === undefined) {
      this.positional = undefined;
      const unused = list.filter((_, i) => !used.has(i)).map((w) => w.name);
      if (unused.length > 0)
        warnings.push(
          `'${label}': ${unused.length} weight(s) of the manifest belong to no layer and are ignored: ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', …' : ''}`,
        );
      return;
    }
    // Not every parameter is found by name: take them in manifest order.
    this.#assigned.clear();
    this.positional = `no weight is named like '${missing}', so weights are assigned in manifest order`;
    slots.forEach(([def, param], i) => {
      const w = list[i];
      if (w === undefined) {
        throw new McuError(
          'E_MODEL',
          `${layerLabel(def)} in '${label}' needs a weight '${param}', but the manifest has only ${list.length} weights (${this.positional})`,
        );
      }
      this.#assigned.set(`${def.path}/${param}`, w);
    });
    if (slots.length !== list.length) {
      throw new McuError(
        'E_MODEL',
        `'${label}' has ${list.length} weights but its layers use ${slots.length}; ${this.positional}, and they cannot be assigned`,
      );
    }
  }

  get(def: LayerDef, param: string): WeightEntry {
    const w = this.#assigned.get(`${def.path}/${param}`);
    if (w === undefined) throw new McuError('E_MODEL', `${layerLabel(def)} in '${this.label}' has no weight '${param}' in the manifest`);
    return w;
  }
}

// ---------------------------------------------------------------------------------------
// The graph being built.

/** A value of the graph being built: its name, per-row dims, and whether it is a distribution. */
interface Value {
  readonly name: string;
  readonly dims: readonly number[];
  readonly dist?: 'softmax' | 'log-softmax';
}

interface Ctx {
  readonly keras3: boolean;
  /** Saved by tfjs-layers itself (keras_version 'tfjs-layers …'), whose few layers differ from Keras. */
  readonly tfjs: boolean;
  readonly label: string;
}

class Builder {
  readonly nodes: GraphNode[] = [];
  readonly constants = new Map<string, GraphConstant>();
  readonly sites: StochasticSite[] = [];
  readonly warnings: string[] = [];
  readonly inputs: GraphInput[] = [];
  readonly #taken = new Set<string>();
  readonly #weightConst = new Map<string, string>();
  weights!: WeightTable;

  constructor(readonly ctx: Ctx) {}

  /** Give back names taken by nodes that were dropped again (TimeDistributed's inner layer). */
  release(names: Iterable<string>): void {
    for (const n of names) this.#taken.delete(n);
  }

  /** A name no value or constant has yet: `base`, else `base_1`, `base_2`, … */
  fresh(base: string): string {
    let name = base;
    for (let k = 1; this.#taken.has(name); k++) name = `${base}_${k}`;
    this.#taken.add(name);
    return name;
  }

  node(op: string, name: string, inputs: readonly string[], outputs: readonly string[], attrs: Record<string, unknown>, sites?: readonly string[]): void {
    this.nodes.push({ op, name, inputs, outputs, attrs, ...(sites && sites.length > 0 ? { sites } : {}) });
  }

  /** One output value from one op. */
  op(op: string, name: string, inputs: readonly string[], dims: readonly number[], attrs: Record<string, unknown>, dist?: Value['dist']): Value {
    const out = this.fresh(name);
    this.node(op, name, inputs, [out], attrs);
    return { name: out, dims, ...(dist ? { dist } : {}) };
  }

  constant(base: string, dims: readonly number[], data: Float32Array): string {
    const name = this.fresh(base);
    this.constants.set(name, { dims, dtype: 'float32', data });
    return name;
  }

  /**
   * A layer's weight as a constant (once per layer: shared layers and nested models called
   * twice use the same one), its shape checked against `want`.
   */
  weight(def: LayerDef, param: string, want: readonly number[], as?: readonly number[]): string {
    const key = `${def.path}/${param}`;
    const have = this.#weightConst.get(key);
    if (have !== undefined) {
      if (!sameDims(this.constants.get(have)!.dims, as ?? want)) this.#shapeError(def, param, want, this.weights.get(def, param));
      return have;
    }
    const w = this.weights.get(def, param);
    if (!sameDims(w.shape, want)) this.#shapeError(def, param, want, w);
    const name = this.constant(key, as ?? want, w.data);
    this.#weightConst.set(key, name);
    return name;
  }

  /** A constant derived from a layer's weights (BatchNormalization's folded scale), made once. */
  derived(key: string, make: () => { dims: readonly number[]; data: Float32Array }): string {
    const have = this.#weightConst.get(key);
    if (have !== undefined) return have;
    const { dims, data } = make();
    const name = this.constant(key, dims, data);
    this.#weightConst.set(key, name);
    return name;
  }

  #shapeError(def: LayerDef, param: string, want: readonly number[], w: WeightEntry): never {
    const hint = this.weights.positional ? ` (${this.weights.positional})` : '';
    throw new McuError(
      'E_MODEL',
      `${def.className} layer '${def.name}' needs a [${want.join(', ')}] ${param}, but weight '${w.name}' has shape [${w.shape.join(', ')}]${hint}`,
    );
  }

  addSite(site: StochasticSite): void {
    if (this.sites.some((s) => s.name === site.name)) throw new McuError('E_MODEL', `two stochastic sites of '${this.ctx.label}' are named '${site.name}'`);
    this.sites.push(site);
  }

  /** A site node: x → the site op of the executor (mask input `site.name`). */
  site(site: StochasticSite, x: Value, call: string): Value {
    this.addSite(site);
    return this.op('site', call, [x.name], x.dims, { site: site.name });
  }
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, k) => d === b[k]);
}

const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

// ---------------------------------------------------------------------------------------
// Layer settings.

function activationOf(v: unknown, def: LayerDef, keras3: boolean, dflt: Activation = 'linear'): Activation {
  let name: unknown = v;
  if (isRecord(v)) name = typeof v['config'] === 'string' ? v['config'] : isRecord(v['config']) ? v['config']['name'] : v['class_name'];
  if (name === undefined || name === null) return dflt;
  const aliases: Record<string, Activation> = {
    linear: 'linear',
    relu: 'relu',
    relu6: 'relu6',
    elu: 'elu',
    selu: 'selu',
    tanh: 'tanh',
    sigmoid: 'sigmoid',
    hard_sigmoid: keras3 ? 'hard_sigmoid_v3' : 'hard_sigmoid',
    hardsigmoid: keras3 ? 'hard_sigmoid_v3' : 'hard_sigmoid',
    softmax: 'softmax',
    log_softmax: 'log_softmax',
    logsoftmax: 'log_softmax',
    softplus: 'softplus',
    softsign: 'softsign',
    swish: 'swish',
    silu: 'swish',
    exponential: 'exponential',
    gelu: 'gelu',
    gelu_new: 'gelu_tanh',
    mish: 'mish',
  };
  const a = typeof name === 'string' ? (aliases[name] ?? aliases[name.toLowerCase()]) : undefined;
  if (a === undefined || !(ACTIVATIONS as readonly string[]).includes(a)) {
    throw new McuError(
      'E_UNSUPPORTED',
      `activation ${JSON.stringify(name)} of layer '${def.name}' (${def.className}) is not supported by the tfjs backend; supported: ${Object.keys(aliases).join(', ')}`,
    );
  }
  return a;
}

const distOf = (a: Activation): Value['dist'] => (a === 'softmax' ? 'softmax' : a === 'log_softmax' ? 'log-softmax' : undefined);

/** Dims of one row from an InputLayer (or a first layer's) config; undefined when it names none. */
function rowDimsFrom(config: Json): (number | null)[] | undefined {
  const batch = config['batch_input_shape'] ?? config['batch_shape'];
  if (Array.isArray(batch)) return batch.slice(1) as (number | null)[];
  const shape = config['input_shape'];
  if (Array.isArray(shape)) return shape as (number | null)[];
  if (typeof config['input_dim'] === 'number') return [config['input_dim']];
  return undefined;
}

function fixedDims(dims: readonly (number | null)[], def: LayerDef): number[] {
  if (!dims.every((d) => Number.isInteger(d) && (d as number) > 0)) {
    throw new McuError(
      'E_UNSUPPORTED',
      `the input of layer '${def.name}' has dims [N, ${dims.map((d) => d ?? 'None').join(', ')}]; the tfjs backend needs fixed per-row dims (only the batch axis may be free)`,
    );
  }
  return dims as number[];
}

function rateOf(def: LayerDef, key = 'rate'): number {
  const rate = def.config[key] ?? (key === 'rate' ? def.config['p'] : 0) ?? 0;
  if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) {
    throw new McuError('E_SITE', `${def.className} layer '${def.name}' needs ${key === 'rate' ? 'a rate p' : key} in [0, 1), got ${JSON.stringify(rate)}`);
  }
  return rate;
}

/** Keras' default data_format is channels_last; channels_first is refused, naming the layer. */
function channelsLast(def: LayerDef): void {
  if (def.config['data_format'] === 'channels_first') {
    throw new McuError(
      'E_UNSUPPORTED',
      `${def.className} layer '${def.name}' uses data_format channels_first; the tfjs backend runs channels_last (the Keras default) — export the model to ONNX and run it on the onnx backend`,
    );
  }
}

function needRank(def: LayerDef, x: Value, rank: number, shape: string): void {
  if (x.dims.length !== rank) {
    throw new McuError('E_MODEL', `${def.className} layer '${def.name}' needs rows of dims [${shape}], got [${x.dims.join(', ')}]`);
  }
}

/** A Keras setting of n positive integers, given as one integer or a list of n. */
function ints(def: LayerDef, key: string, n: number, dflt?: number): number[] {
  const v = def.config[key] ?? dflt;
  const xs = typeof v === 'number' ? Array<number>(n).fill(v) : v;
  if (!Array.isArray(xs) || xs.length !== n || !xs.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new McuError(
      'E_MODEL',
      `${def.className} layer '${def.name}' has ${key} ${JSON.stringify(v)}; expected a positive integer${n > 1 ? ` or ${n} of them` : ''}`,
    );
  }
  return xs as number[];
}

function positiveInt(def: LayerDef, key: string): number {
  const v = def.config[key];
  if (!(Number.isInteger(v) && (v as number) > 0)) {
    throw new McuError('E_MODEL', `${def.className} layer '${def.name}' has ${key} ${JSON.stringify(v)}; expected a positive integer`);
  }
  return v as number;
}

function paddingOf(def: LayerDef, causal = false): 'valid' | 'same' | 'causal' {
  const p = def.config['padding'] ?? 'valid';
  if (p !== 'valid' && p !== 'same' && !(causal && p === 'causal')) {
    throw new McuError(
      'E_UNSUPPORTED',
      `${def.className} layer '${def.name}' has padding ${JSON.stringify(p)}; the tfjs backend runs 'valid' and 'same'${causal ? " (and 'causal')" : ''}`,
    );
  }
  return p;
}

/** Output length of a window along one axis (TensorFlow's 'valid' / 'same' rules). */
function windowOut(size: number, window: number, stride: number, dilation: number, padding: string): number {
  if (padding === 'same' || padding === 'causal') return Math.ceil(size / stride);
  return Math.floor((size - (window - 1) * dilation - 1) / stride) + 1;
}

function spatialOut(
  def: LayerDef,
  dims: readonly number[],
  window: readonly number[],
  strides: readonly number[],
  dilations: readonly number[],
  padding: string,
): number[] {
  const out = window.map((w, k) => windowOut(dims[k]!, w, strides[k]!, dilations[k]!, padding));
  if (!out.every((d) => d >= 1)) {
    throw new McuError('E_MODEL', `${layerLabel(def)}: a ${window.join('×')} window does not fit rows of dims [${dims.join(', ')}] with padding '${padding}'`);
  }
  return out;
}

/** ZeroPadding / Cropping amounts: an integer, one per axis, or [before, after] per axis. */
function padPairs(def: LayerDef, key: string, rank: number, dflt: number): [number, number][] {
  const v = def.config[key] ?? dflt;
  const bad = (): never => {
    throw new McuError(
      'E_MODEL',
      `${def.className} layer '${def.name}' has ${key} ${JSON.stringify(v)}; expected an integer, ${rank} integers, or ${rank} [before, after] pairs`,
    );
  };
  const ok = (d: unknown): d is number => Number.isInteger(d) && (d as number) >= 0;
  if (ok(v)) return Array.from({ length: rank }, () => [v, v]);
  if (!Array.isArray(v)) return bad();
  if (rank === 1 && v.length === 2 && v.every(ok)) return [[v[0], v[1]]];
  if (v.length !== rank) return bad();
  return v.map((e) => (ok(e) ? [e, e] : Array.isArray(e) && e.length === 2 && e.every(ok) ? [e[0] as number, e[1] as number] : bad()));
}

/** A full-tensor axis (1 … rank−1, rank counting the rows) from a Keras axis (may be negative). */
function axisOf(def: LayerDef, v: unknown, rank: number, key = 'axis'): number {
  const a = typeof v === 'number' && v < 0 ? rank + v : v;
  if (!(Number.isInteger(a) && (a as number) >= 1 && (a as number) < rank)) {
    throw new McuError(
      'E_MODEL',
      `${def.className} layer '${def.name}' has ${key} ${JSON.stringify(v)}, which is no axis of its rows (rank ${rank} with the batch axis)`,
    );
  }
  return a as number;
}

// ---------------------------------------------------------------------------------------
// Layers. `call` is the unique name of this call of the layer ('dense', 'dense@1', 'inner/dense').

function one(def: LayerDef, inputs: readonly Value[]): Value {
  if (inputs.length !== 1) throw new McuError('E_MODEL', `${layerLabel(def)} takes one input, but is called with ${inputs.length}`);
  return inputs[0]!;
}

/** The layer's bias constant name, or '' without one. */
function biasOf(b: Builder, def: LayerDef, n: number): string {
  return def.config['use_bias'] !== false ? b.weight(def, 'bias', [n]) : '';
}

function dense(b: Builder, def: LayerDef, call: string, x: Value): Value {
  const units = positiveInt(def, 'units');
  if (x.dims.length === 0) throw new McuError('E_MODEL', `Dense layer '${def.name}' needs rows with a last axis, got scalars`);
  const inUnits = x.dims.at(-1)!;
  const kernel = b.weight(def, 'kernel', [inUnits, units]);
  const bias = biasOf(b, def, units);
  const activation = activationOf(def.config['activation'], def, b.ctx.keras3);
  const outDims = [...x.dims.slice(0, -1), units];
  return b.op('keras.dense', call, [x.name, kernel, bias], outDims, { inUnits, units, outDims, activation }, distOf(activation));
}

function conv(b: Builder, def: LayerDef, call: string, x: Value, rank: number): Value {
  channelsLast(def);
  needRank(def, x, rank + 1, rank === 1 ? 'W, C' : rank === 2 ? 'H, W, C' : 'D, H, W, C');
  const filters = positiveInt(def, 'filters');
  const groups = def.config['groups'];
  if (groups !== undefined && groups !== null && groups !== 1) {
    throw new McuError(
      'E_UNSUPPORTED',
      `${def.className} layer '${def.name}' has groups ${JSON.stringify(groups)}; the tfjs backend runs groups = 1 — export the model to ONNX and run it on the onnx backend`,
    );
  }
  const kernelSize = ints(def, 'kernel_size', rank);
  const strides = ints(def, 'strides', rank, 1);
  const dilations = ints(def, 'dilation_rate', rank, 1);
  const padding = paddingOf(def, rank === 1);
  if (strides.some((s) => s > 1) && dilations.some((d) => d > 1)) {
    throw new McuError(
      'E_UNSUPPORTED',
      `${def.className} layer '${def.name}' combines strides ${strides.join('×')} with dilation ${dilations.join('×')}, which TensorFlow does not run`,
    );
  }
  const inC = x.dims.at(-1)!;
  const kernel = b.weight(def, 'kernel', [...kernelSize, inC, filters]);
  const bias = biasOf(b, def, filters);
  const activation = activationOf(def.config['activation'], def, b.ctx.keras3);
  const out = [...spatialOut(def, x.dims, kernelSize, strides, dilations, padding), filters];
  return b.op('keras.conv', call, [x.name, kernel, bias], out, { rank, strides, dilations, padding, kernelSize, activation }, distOf(activation));
}

/** depth_multiplier; tfjs leaves it out of its configs, so then the depthwise kernel's last dim. */
function depthMultiplier(b: Builder, def: LayerDef): number {
  const v = def.config['depth_multiplier'];
  if (v === undefined || v === null) return b.weights.get(def, 'depthwise_kernel').shape.at(-1) ?? 1;
  if (!(Number.isInteger(v) && (v as number) > 0))
    throw new McuError('E_MODEL', `${def.className} layer '${def.name}' has depth_multiplier ${JSON.stringify(v)}; expected a positive integer`);
  return v as number;
}

function depthwise(b: Builder, def: LayerDef, call: string, x: Value): Value {
  channelsLast(def);
  needRank(def, x, 3, 'H, W, C');
  const kernelSize = ints(def, 'kernel_size', 2);
  const strides = ints(def, 'strides', 2, 1);
  const dilations = ints(def, 'dilation_rate', 2, 1);
  const padding = paddingOf(def);
  const inC = x.dims[2]!;
  const mult = depthMultiplier(b, def);
  const kernel = b.weight(def, 'depthwise_kernel', [...kernelSize, inC, mult]);
  const bias = biasOf(b, def, inC * mult);
  const activation = activationOf(def.config['activation'], def, b.ctx.keras3);
  const out = [...spatialOut(def, x.dims, kernelSize, strides, dilations, padding), inC * mult];
  return b.op('keras.depthwise_conv2d', call, [x.name, kernel, bias], out, { strides, dilations, padding, activation }, distOf(activation));
}

function separable(b: Builder, def: LayerDef, call: string, x: Value, rank: number): Value {
  channelsLast(def);
  needRank(def, x, rank + 1, rank === 1 ? 'W, C' : 'H, W, C');
  const filters = positiveInt(def, 'filters');
  const kernelSize = ints(def, 'kernel_size', rank);
  const strides = ints(def, 'strides', rank, 1);
  const dilations = ints(def, 'dilation_rate', rank, 1);
  const padding = paddingOf(def);
  const inC = x.dims.at(-1)!;
  const mult = depthMultiplier(b, def);
  // 1-d kernels run as 2-d ones of height 1.
  const lift = (d: number[]) => (rank === 1 ? [1, ...d] : d);
  const dw = b.weight(def, 'depthwise_kernel', [...kernelSize, inC, mult], lift([...kernelSize, inC, mult]));
  const pw = b.weight(def, 'pointwise_kernel', [...kernelSize.map(() => 1), inC * mult, filters], lift([...kernelSize.map(() => 1), inC * mult, filters]));
  const bias = biasOf(b, def, filters);
  const activation = activationOf(def.config['activation'], def, b.ctx.keras3);
  const out = [...spatialOut(def, x.dims, kernelSize, strides, dilations, padding), filters];
  return b.op('keras.separable_conv', call, [x.name, dw, pw, bias], out, { rank, strides, dilations, padding, activation }, distOf(activation));
}

function convTranspose(b: Builder, def: LayerDef, call: string, x: Value): Value {
  channelsLast(def);
  needRank(def, x, 3, 'H, W, C');
  const filters = positiveInt(def, 'filters');
  const kernelSize = ints(def, 'kernel_size', 2);
  const strides = ints(def, 'strides', 2, 1);
  const dilations = ints(def, 'dilation_rate', 2, 1);
  if (dilations.some((d) => d !== 1)) {
    throw new McuError(
      'E_UNSUPPORTED',
      `Conv2DTranspose layer '${def.name}' has dilation_rate ${dilations.join('×')}; the tfjs backend runs transposed convolutions without dilation — export the model to ONNX and run it on the onnx backend`,
    );
  }
  const padding = paddingOf(def) as 'valid' | 'same';
  const op = def.config['output_padding'];
  const outPad = op === undefined || op === null ? null : typeof op === 'number' ? [op, op] : (op as number[]);
  // Keras' deconv_output_length.
  const spatial = x.dims.slice(0, 2).map((n, k) => {
    const kk = kernelSize[k]!;
    const s = strides[k]!;
    if (outPad === null) return padding === 'valid' ? n * s + Math.max(kk - s, 0) : n * s;
    const p = padding === 'same' ? Math.floor(kk / 2) : 0;
    return (n - 1) * s + kk - 2 * p + outPad[k]!;
  });
  const kernel = b.weight(def, 'kernel', [...kernelSize, filters, x.dims[2]!]);
  const bias = biasOf(b, def, filters);
  const activation = activationOf(def.config['activation'], def, b.ctx.keras3);
  const outDims = [...spatial, filters];
  return b.op('keras.conv2d_transpose', call, [x.name, kernel, bias], outDims, { strides, padding, outDims, activation }, distOf(activation));
}

function pooling(b: Builder, def: LayerDef, call: string, x: Value, rank: number, kind: 'max' | 'avg'): Value {
  channelsLast(def);
  needRank(def, x, rank + 1, rank === 1 ? 'W, C' : 'H, W, C');
  const poolSize = ints(def, 'pool_size', rank, 2);
  const strides = def.config['strides'] === null || def.config['strides'] === undefined ? poolSize : ints(def, 'strides', rank);
  const padding = paddingOf(def);
  const out = [
    ...spatialOut(
      def,
      x.dims,
      poolSize,
      strides,
      poolSize.map(() => 1),
      padding,
    ),
    x.dims.at(-1)!,
  ];
  return b.op('keras.pool', call, [x.name], out, { kind, rank, poolSize, strides, padding });
}

function globalPooling(b: Builder, def: LayerDef, call: string, x: Value, rank: number, kind: 'max' | 'avg'): Value {
  channelsLast(def);
  needRank(def, x, rank + 1, rank === 1 ? 'W, C' : rank === 2 ? 'H, W, C' : 'D, H, W, C');
  const keepDims = def.config['keepdims'] === true;
  const axes = Array.from({ length: rank }, (_, k) => k + 1);
  const c = x.dims.at(-1)!;
  return b.op('keras.reduce', call, [x.name], keepDims ? [...axes.map(() => 1), c] : [c], { kind, axes, keepDims });
}

function zeroPadding(b: Builder, def: LayerDef, call: string, x: Value, rank: number): Value {
  channelsLast(def);
  needRank(def, x, rank + 1, rank === 1 ? 'W, C' : rank === 2 ? 'H, W, C' : 'D, H, W, C');
  const pairs = padPairs(def, 'padding', rank, 1);
  const paddings = [...pairs, [0, 0] as [number, number]];
  return b.op(
    'keras.pad',
    call,
    [x.name],
    x.dims.map((d, k) => d + paddings[k]![0] + paddings[k]![1]),
    { paddings },
  );
}

function cropping(b: Builder, def: LayerDef, call: string, x: Value, rank: number): Value {
  channelsLast(def);
  needRank(def, x, rank + 1, rank === 1 ? 'W, C' : rank === 2 ? 'H, W, C' : 'D, H, W, C');
  const pairs = padPairs(def, 'cropping', rank, rank === 1 ? 1 : 0);
  const size = x.dims.map((d, k) => (k < rank ? d - pairs[k]![0] - pairs[k]![1] : d));
  if (!size.every((d) => d >= 1)) throw new McuError('E_MODEL', `${def.className} layer '${def.name}' crops rows of dims [${x.dims.join(', ')}] to nothing`);
  return b.op('keras.slice', call, [x.name], size, { begin: x.dims.map((_, k) => (k < rank ? pairs[k]![0] : 0)), size });
}

function upSampling(b: Builder, def: LayerDef, call: string, x: Value, rank: number): Value {
  channelsLast(def);
  needRank(def, x, rank + 1, rank === 1 ? 'W, C' : rank === 2 ? 'H, W, C' : 'D, H, W, C');
  const factors = ints(def, 'size', rank, 2);
  const interpolation = def.config['interpolation'] ?? 'nearest';
  if (interpolation !== 'nearest' && !(rank === 2 && interpolation === 'bilinear')) {
    throw new McuError(
      'E_UNSUPPORTED',
      `${def.className} layer '${def.name}' has interpolation ${JSON.stringify(interpolation)}; the tfjs backend runs 'nearest'${rank === 2 ? " and 'bilinear'" : ''}`,
    );
  }
  const out = x.dims.map((d, k) => (k < rank ? d * factors[k]! : d));
  // Keras (TF 2's tf.image.resize) samples at half-pixel centres; tfjs-layers' UpSampling2D does not.
  return b.op('keras.upsample', call, [x.name], out, { factors, inDims: x.dims, interpolation, halfPixelCenters: !b.ctx.tfjs });
}

function reshapeLayer(b: Builder, def: LayerDef, call: string, x: Value): Value {
  // tfjs writes the free dim as null, Keras as -1.
  const raw = def.config['target_shape'];
  const target = Array.isArray(raw) ? raw.map((d) => (d === null ? -1 : d)) : raw;
  if (!Array.isArray(target) || !target.every((d) => Number.isInteger(d) && (d > 0 || d === -1)) || target.filter((d) => d === -1).length > 1) {
    throw new McuError('E_MODEL', `Reshape layer '${def.name}' has target_shape ${JSON.stringify(target)}; expected positive integers with at most one -1`);
  }
  const n = prod(x.dims);
  const known = prod((target as number[]).filter((d) => d !== -1));
  const dims = (target as number[]).map((d) => (d === -1 ? n / known : d));
  if (prod(dims) !== n || !dims.every((d) => Number.isInteger(d))) {
    throw new McuError(
      'E_MODEL',
      `Reshape layer '${def.name}' cannot reshape rows of dims [${x.dims.join(', ')}] (${n} values) to [${(target as number[]).join(', ')}]`,
    );
  }
  return b.op('keras.reshape', call, [x.name], dims, { dims });
}

function permute(b: Builder, def: LayerDef, call: string, x: Value): Value {
  const dims = def.config['dims'];
  const r = x.dims.length;
  if (!Array.isArray(dims) || dims.length !== r || [...dims].sort((p, q) => p - q).some((d, k) => d !== k + 1)) {
    throw new McuError(
      'E_MODEL',
      `Permute layer '${def.name}' has dims ${JSON.stringify(dims)}; expected a permutation of 1…${r} for rows of dims [${x.dims.join(', ')}]`,
    );
  }
  const perm = dims as number[];
  return b.op(
    'keras.transpose',
    call,
    [x.name],
    perm.map((d) => x.dims[d - 1]!),
    { perm },
  );
}

function batchNorm(b: Builder, def: LayerDef, call: string, x: Value): Value {
  const c = def.config;
  for (const k of ['renorm', 'virtual_batch_size', 'adjustment']) {
    if (c[k] !== undefined && c[k] !== null && c[k] !== false) {
      throw new McuError(
        'E_UNSUPPORTED',
        `BatchNormalization layer '${def.name}' uses ${k}; the tfjs backend runs plain BatchNormalization — export the model to ONNX and run it on the onnx backend`,
      );
    }
  }
  const rank = x.dims.length + 1;
  const raw = c['axis'] ?? -1;
  if (Array.isArray(raw) && raw.length !== 1) {
    throw new McuError('E_UNSUPPORTED', `BatchNormalization layer '${def.name}' normalises axes ${JSON.stringify(raw)}; the tfjs backend normalises one axis`);
  }
  const axis = axisOf(def, Array.isArray(raw) ? raw[0] : raw, rank);
  const n = x.dims[axis - 1]!;
  const eps = c['epsilon'] ?? 1e-3;
  if (typeof eps !== 'number' || !(eps >= 0))
    throw new McuError('E_MODEL', `BatchNormalization layer '${def.name}' has epsilon ${JSON.stringify(eps)}; expected a number ≥ 0`);
  // Check every parameter's shape first (messages name the weight), then fold them.
  const get = (param: string): Float32Array | null => {
    if (!paramsOf(def).includes(param)) return null;
    const w = b.weights.get(def, param);
    if (!sameDims(w.shape, [n]))
      throw new McuError(
        'E_MODEL',
        `BatchNormalization layer '${def.name}' needs a [${n}] ${param}, but weight '${w.name}' has shape [${w.shape.join(', ')}]${b.weights.positional ? ` (${b.weights.positional})` : ''}`,
      );
    return w.data;
  };
  const gamma = get('gamma');
  const beta = get('beta');
  const mean = get('moving_mean')!;
  const variance = get('moving_variance')!;
  // [n] on the last axis, else [n, 1, …] so that it broadcasts along `axis`.
  const dims = [n, ...Array<number>(rank - 1 - axis).fill(1)];
  const scale = b.derived(`${def.path}/bn_scale`, () => ({
    dims,
    data: Float32Array.from({ length: n }, (_, k) => (gamma?.[k] ?? 1) / Math.sqrt(variance[k]! + eps)),
  }));
  const shift = b.derived(`${def.path}/bn_shift`, () => ({
    dims,
    data: Float32Array.from({ length: n }, (_, k) => (beta?.[k] ?? 0) - (mean[k]! * (gamma?.[k] ?? 1)) / Math.sqrt(variance[k]! + eps)),
  }));
  return b.op('keras.affine', call, [x.name, scale, shift], x.dims, {});
}

function layerNorm(b: Builder, def: LayerDef, call: string, x: Value): Value {
  const c = def.config;
  if (c['rms_scaling'] === true) {
    throw new McuError(
      'E_UNSUPPORTED',
      `LayerNormalization layer '${def.name}' uses rms_scaling; the tfjs backend runs the mean/variance form — export the model to ONNX and run it on the onnx backend`,
    );
  }
  const rank = x.dims.length + 1;
  const raw = c['axis'] ?? -1;
  const axes = [...new Set((Array.isArray(raw) ? raw : [raw]).map((a) => axisOf(def, a, rank)))].sort((p, q) => p - q);
  const eps = (c['epsilon'] as number | undefined) ?? 1e-3;
  const want = axes.map((a) => x.dims[a - 1]!);
  // gamma / beta over the normalised axes, reshaped to broadcast over the rows' other axes.
  const first = axes[0]!;
  const bshape = x.dims.slice(first - 1).map((d, k) => (axes.includes(k + first) ? d : 1));
  const gamma = c['scale'] !== false ? b.weight(def, 'gamma', want, bshape) : '';
  const beta = c['center'] !== false ? b.weight(def, 'beta', want, bshape) : '';
  return b.op('keras.layer_norm', call, [x.name, gamma, beta], x.dims, { axes, epsilon: eps });
}

function siteLayer(b: Builder, def: LayerDef, call: string, x: Value): Value {
  const cls = def.className;
  const origin = { op: cls, node: call };
  if (cls === 'GaussianNoise') {
    const stddev = def.config['stddev'];
    if (typeof stddev !== 'number' || !(stddev >= 0) || !Number.isFinite(stddev)) {
      throw new McuError('E_SITE', `GaussianNoise layer '${def.name}' needs a stddev σ ≥ 0, got ${JSON.stringify(stddev)}`);
    }
    if (stddev === 0) return b.op('identity', call, [x.name], x.dims, {});
    return b.site({ name: call, kind: 'additive', rate: 0, stddev, maskShape: [...x.dims], origin }, x, call);
  }
  const rate = rateOf(def);
  if (rate === 0) return b.op('identity', call, [x.name], x.dims, {});
  let maskShape = [...x.dims];
  if (cls.startsWith('SpatialDropout')) {
    // One mask value per feature map: [1, C], [1, 1, C], [1, 1, 1, C] for channels_last rows.
    channelsLast(def);
    const r = Number(cls.slice('SpatialDropout'.length, -1));
    needRank(def, x, r + 1, r === 1 ? 'W, C' : r === 2 ? 'H, W, C' : 'D, H, W, C');
    maskShape = [...Array<number>(r).fill(1), x.dims[r]!];
  }
  const noise = def.config['noise_shape'];
  if ((cls === 'Dropout' || cls === 'AlphaDropout') && Array.isArray(noise)) {
    // Keras noise_shape [batch, ...]: a 1 shares one mask value along that axis.
    const per = noise.slice(1);
    if (per.length !== x.dims.length || per.some((d, k) => !(d === null || d === 1 || d === x.dims[k]))) {
      throw new McuError(
        'E_UNSUPPORTED',
        `${cls} layer '${def.name}' has noise_shape ${JSON.stringify(noise)}, which does not broadcast over its input [N, ${x.dims.join(', ')}]`,
      );
    }
    maskShape = per.map((d, k) => (d === null ? x.dims[k]! : (d as number)));
  }
  const site: StochasticSite =
    cls === 'GaussianDropout'
      ? { name: call, kind: 'gaussian', rate, maskShape, origin }
      : cls === 'AlphaDropout'
        ? { name: call, kind: 'alpha', rate, maskShape, origin }
        : { name: call, kind: 'bernoulli', rate, maskShape, scaling: 'inverted', origin };
  return b.site(site, x, call);
}

/** Merge layers: every input's dims equal, or 1 where they broadcast. */
function mergeLayer(b: Builder, def: LayerDef, call: string, xs: readonly Value[], mode: string): Value {
  if (xs.length < 2 || (mode === 'subtract' && xs.length !== 2)) {
    throw new McuError(
      'E_MODEL',
      `${def.className} layer '${def.name}' takes ${mode === 'subtract' ? 'exactly 2' : 'at least 2'} inputs, but is called with ${xs.length}`,
    );
  }
  const rank = xs[0]!.dims.length;
  if (xs.some((x) => x.dims.length !== rank)) {
    throw new McuError(
      'E_UNSUPPORTED',
      `${def.className} layer '${def.name}' merges rows of dims ${xs.map((x) => `[${x.dims.join(', ')}]`).join(', ')}; the tfjs backend merges rows of one rank`,
    );
  }
  const dims = xs[0]!.dims.map((_, k) => Math.max(...xs.map((x) => x.dims[k]!)));
  if (xs.some((x) => x.dims.some((d, k) => d !== dims[k] && d !== 1))) {
    throw new McuError(
      'E_MODEL',
      `${def.className} layer '${def.name}' merges rows of dims ${xs.map((x) => `[${x.dims.join(', ')}]`).join(', ')}, which do not broadcast`,
    );
  }
  return b.op(
    'keras.merge',
    call,
    xs.map((x) => x.name),
    dims,
    { mode },
  );
}

function concatenate(b: Builder, def: LayerDef, call: string, xs: readonly Value[]): Value {
  const rank = xs[0]!.dims.length + 1;
  const axis = axisOf(def, def.config['axis'] ?? -1, rank);
  const ok = xs.every((x) => x.dims.length === rank - 1 && x.dims.every((d, k) => k === axis - 1 || d === xs[0]!.dims[k]));
  if (!ok)
    throw new McuError(
      'E_MODEL',
      `Concatenate layer '${def.name}' joins rows of dims ${xs.map((x) => `[${x.dims.join(', ')}]`).join(', ')} along axis ${axis}, which differ elsewhere`,
    );
  const dims = xs[0]!.dims.map((d, k) => (k === axis - 1 ? xs.reduce((a, x) => a + x.dims[k]!, 0) : d));
  return b.op(
    'keras.concat',
    call,
    xs.map((x) => x.name),
    dims,
    { axis },
  );
}

function dotLayer(b: Builder, def: LayerDef, call: string, xs: readonly Value[]): Value {
  if (xs.length !== 2) throw new McuError('E_MODEL', `Dot layer '${def.name}' takes 2 inputs, but is called with ${xs.length}`);
  const [x, y] = xs as [Value, Value];
  const rank = x.dims.length + 1;
  if (y.dims.length + 1 !== rank || (rank !== 2 && rank !== 3)) {
    throw new McuError(
      'E_UNSUPPORTED',
      `Dot layer '${def.name}' multiplies rows of dims [${x.dims.join(', ')}] and [${y.dims.join(', ')}]; the tfjs backend runs Dot on rank-1 or rank-2 rows of one rank`,
    );
  }
  const raw = def.config['axes'];
  const pairRaw = Array.isArray(raw) ? raw : [raw, raw];
  const axes = pairRaw.map((a) => axisOf(def, a, rank, 'axes')) as [number, number];
  if (x.dims[axes[0] - 1] !== y.dims[axes[1] - 1]) {
    throw new McuError(
      'E_MODEL',
      `Dot layer '${def.name}' contracts axis ${axes[0]} of [${x.dims.join(', ')}] with axis ${axes[1]} of [${y.dims.join(', ')}], which differ in size`,
    );
  }
  const dims = rank === 2 ? [1] : [x.dims[2 - axes[0]]!, y.dims[2 - axes[1]]!];
  return b.op('keras.dot', call, [x.name, y.name], dims, { axes, normalize: def.config['normalize'] === true });
}

/** LSTM / GRU / SimpleRNN; sites for `dropout` (the inputs) and `recurrent_dropout` (the state). */
function recurrentLayer(b: Builder, def: LayerDef, call: string, x: Value): Value[] {
  const c = def.config;
  const cls = def.className;
  if (c['stateful'] === true) {
    throw new McuError(
      'E_UNSUPPORTED',
      `${cls} layer '${def.name}' is stateful; the tfjs backend runs every sequence from a zero state — export the model to ONNX and run it on the onnx backend`,
    );
  }
  if (c['time_major'] === true) throw new McuError('E_UNSUPPORTED', `${cls} layer '${def.name}' is time_major; the tfjs backend runs batch-major sequences`);
  needRank(def, x, 2, 'T, features');
  const [steps, inDim] = x.dims as [number, number];
  const units = positiveInt(def, 'units');
  const cell = cls === 'LSTM' ? 'lstm' : cls === 'GRU' ? 'gru' : 'simple_rnn';
  const g = (cell === 'lstm' ? 4 : cell === 'gru' ? 3 : 1) * units;
  const activation = activationOf(c['activation'], def, b.ctx.keras3, 'tanh');
  const recurrentActivation = cell === 'simple_rnn' ? 'linear' : activationOf(c['recurrent_activation'], def, b.ctx.keras3, 'sigmoid');
  const kernel = b.weight(def, 'kernel', [inDim, g]);
  const recKernel = b.weight(def, 'recurrent_kernel', [units, g]);
  let resetAfter = false;
  let bias = '';
  if (c['use_bias'] !== false) {
    if (cell === 'gru') {
      // reset_after (the Keras 2/3 default, Keras' CuDNN form) keeps two biases: [2, 3·units].
      const declared = c['reset_after'];
      resetAfter = declared === undefined || declared === null ? b.weights.get(def, 'bias').shape.length === 2 : declared === true;
    }
    bias = b.weight(def, 'bias', resetAfter ? [2, g] : [g]);
  } else if (cell === 'gru') resetAfter = c['reset_after'] !== false;
  const dropout = rateOf(def, 'dropout');
  const recurrentDropout = rateOf(def, 'recurrent_dropout');
  const sites: string[] = [];
  const attrs: Record<string, unknown> = {
    units,
    steps,
    inDim,
    activation,
    recurrentActivation,
    resetAfter,
    returnSequences: c['return_sequences'] === true,
    returnState: c['return_state'] === true,
    goBackwards: c['go_backwards'] === true,
  };
  const origin = { op: cls, node: call };
  if (dropout > 0) {
    const site: StochasticSite = { name: `${call}/dropout`, kind: 'bernoulli', rate: dropout, maskShape: [inDim], scaling: 'inverted', origin };
    b.addSite(site);
    sites.push(site.name);
    attrs['inputSite'] = site.name;
  }
  if (recurrentDropout > 0) {
    const site: StochasticSite = {
      name: `${call}/recurrent_dropout`,
      kind: 'bernoulli',
      rate: recurrentDropout,
      maskShape: [units],
      scaling: 'inverted',
      origin,
    };
    b.addSite(site);
    sites.push(site.name);
    attrs['stateSite'] = site.name;
  }
  if (sites.length > 0 && c['implementation'] === 1) {
    b.warnings.push(
      `${cls} layer '${def.name}' was trained with implementation 1, where Keras draws one dropout mask per gate; mcu applies one mask per input and per state (implementation 2, as tfjs-layers does)`,
    );
  }
  const y = b.fresh(call);
  const outputs = [y];
  const dims: number[][] = [attrs['returnSequences'] ? [steps, units] : [units]];
  if (attrs['returnState']) {
    const states = cell === 'lstm' ? 2 : 1;
    for (let k = 1; k <= states; k++) {
      outputs.push(b.fresh(`${call}:${k}`));
      dims.push([units]);
    }
  }
  b.node(`keras.${cell}`, call, [x.name, kernel, recKernel, bias], outputs, attrs, sites);
  return outputs.map((name, k) => ({ name, dims: dims[k]! }));
}

function bidirectional(b: Builder, def: LayerDef, call: string, x: Value): Value[] {
  const fwd = def.inner!;
  const bwd = def.backward!;
  for (const d of [fwd, bwd]) {
    if (!['LSTM', 'GRU', 'SimpleRNN'].includes(d.className)) {
      throw new McuError(
        'E_UNSUPPORTED',
        `Bidirectional layer '${def.name}' wraps a ${d.className}; the tfjs backend runs Bidirectional LSTM, GRU and SimpleRNN`,
      );
    }
    if (d.config['return_state'] === true)
      throw new McuError(
        'E_UNSUPPORTED',
        `Bidirectional layer '${def.name}' returns its states; the tfjs backend runs Bidirectional layers without return_state`,
      );
  }
  const f = recurrentLayer(b, fwd, `${call}/forward`, x)[0]!;
  let r = recurrentLayer(b, bwd, `${call}/backward`, x)[0]!;
  // Keras turns the backward sequence back into forward time order before merging.
  if (bwd.config['return_sequences'] === true) r = b.op('keras.reverse', `${call}/backward_reversed`, [r.name], r.dims, {});
  const mode = def.config['merge_mode'] === undefined ? 'concat' : def.config['merge_mode'];
  if (mode === null) return [f, r];
  if (!sameDims(f.dims, r.dims))
    throw new McuError(
      'E_MODEL',
      `Bidirectional layer '${def.name}': its forward and backward layers give rows of dims [${f.dims.join(', ')}] and [${r.dims.join(', ')}]`,
    );
  switch (mode) {
    case 'concat':
      return [b.op('keras.concat', call, [f.name, r.name], [...f.dims.slice(0, -1), 2 * f.dims.at(-1)!], { axis: f.dims.length })];
    case 'sum':
      return [b.op('keras.merge', call, [f.name, r.name], f.dims, { mode: 'add' })];
    case 'mul':
      return [b.op('keras.merge', call, [f.name, r.name], f.dims, { mode: 'multiply' })];
    case 'ave':
      return [b.op('keras.merge', call, [f.name, r.name], f.dims, { mode: 'average' })];
    default:
      throw new McuError(
        'E_UNSUPPORTED',
        `Bidirectional layer '${def.name}' has merge_mode ${JSON.stringify(mode)}; the tfjs backend runs concat, sum, mul, ave and None`,
      );
  }
}

/** TimeDistributed: the wrapped layer's one op applied to every time step (rows [T, ...]). */
function timeDistributed(b: Builder, def: LayerDef, call: string, x: Value): Value {
  const inner = def.inner!;
  if (x.dims.length < 2) throw new McuError('E_MODEL', `TimeDistributed layer '${def.name}' needs rows of dims [T, ...], got [${x.dims.join(', ')}]`);
  const [steps, ...step] = x.dims as [number, ...number[]];
  const mark = { nodes: b.nodes.length, sites: b.sites.length };
  const placeholder: Value = { name: b.fresh(`${call}/step`), dims: step };
  const out = callLayer(b, inner, call, [placeholder]);
  if (out.length !== 1)
    throw new McuError('E_UNSUPPORTED', `TimeDistributed layer '${def.name}' wraps ${layerLabel(inner)}, which gives ${out.length} outputs`);
  const added = b.nodes.splice(mark.nodes);
  const sites = b.sites.splice(mark.sites);
  b.release([placeholder.name, ...added.flatMap((n) => n.outputs)]);
  const y = out[0]!;
  if (added.length === 0 && y.name === placeholder.name) return x;
  const node = added[0]!;
  if (added.length !== 1 || node.inputs[0] !== placeholder.name || (node.sites?.length ?? 0) > 0) {
    throw new McuError(
      'E_UNSUPPORTED',
      `TimeDistributed layer '${def.name}' wraps ${layerLabel(inner)}, which the tfjs backend does not run per time step (it wraps layers of one op without recurrent dropout) — export the model to ONNX and run it on the onnx backend`,
    );
  }
  if (node.op === 'site') {
    // A mask per time step: the wrapped layer's one-step mask with the steps in front.
    const site = sites[0]!;
    return b.site({ ...site, maskShape: [steps, ...site.maskShape] }, x, call);
  }
  if (node.op === 'identity') return x;
  return b.op(
    'keras.time_distributed',
    call,
    [x.name, ...node.inputs.slice(1)],
    [steps, ...y.dims],
    { op: node.op, attrs: node.attrs, steps, inDims: step, outDims: y.dims },
    y.dist,
  );
}

/** Compile one call of a layer on its input values; returns its output values. */
function callLayer(b: Builder, def: LayerDef, call: string, inputs: readonly Value[]): Value[] {
  const cls = def.className;
  const c = def.config;
  const k3 = b.ctx.keras3;
  if (MODEL_CLASSES.has(cls)) return runModel(b, def, `${call}/`, inputs);
  switch (cls) {
    case 'Add':
    case 'Subtract':
    case 'Multiply':
    case 'Average':
    case 'Maximum':
    case 'Minimum':
      return [mergeLayer(b, def, call, inputs, cls.toLowerCase())];
    case 'Concatenate':
      return [concatenate(b, def, call, inputs)];
    case 'Dot':
      return [dotLayer(b, def, call, inputs)];
    case 'InputLayer':
      throw new McuError('E_MODEL', `InputLayer '${def.name}' in '${b.ctx.label}' is not the first layer`);
  }
  const x = one(def, inputs);
  switch (cls) {
    case 'Dense':
      return [dense(b, def, call, x)];
    case 'Conv1D':
    case 'Conv2D':
    case 'Conv3D':
      return [conv(b, def, call, x, Number(cls[4]))];
    case 'DepthwiseConv2D':
      return [depthwise(b, def, call, x)];
    case 'SeparableConv1D':
    case 'SeparableConv2D':
      return [separable(b, def, call, x, Number(cls[13]))];
    case 'Conv2DTranspose':
      return [convTranspose(b, def, call, x)];
    case 'MaxPooling1D':
    case 'MaxPooling2D':
    case 'AveragePooling1D':
    case 'AveragePooling2D':
      return [pooling(b, def, call, x, Number(cls.at(-2)), cls.startsWith('Max') ? 'max' : 'avg')];
    case 'GlobalMaxPooling1D':
    case 'GlobalMaxPooling2D':
    case 'GlobalMaxPooling3D':
    case 'GlobalAveragePooling1D':
    case 'GlobalAveragePooling2D':
    case 'GlobalAveragePooling3D':
      return [globalPooling(b, def, call, x, Number(cls.at(-2)), cls.startsWith('GlobalMax') ? 'max' : 'avg')];
    case 'ZeroPadding1D':
    case 'ZeroPadding2D':
    case 'ZeroPadding3D':
      return [zeroPadding(b, def, call, x, Number(cls.at(-2)))];
    case 'Cropping1D':
    case 'Cropping2D':
    case 'Cropping3D':
      return [cropping(b, def, call, x, Number(cls.at(-2)))];
    case 'UpSampling1D':
    case 'UpSampling2D':
    case 'UpSampling3D':
      return [upSampling(b, def, call, x, Number(cls.at(-2)))];
    case 'Flatten':
      if (c['data_format'] === 'channels_first' && x.dims.length > 1) {
        throw new McuError(
          'E_UNSUPPORTED',
          `Flatten layer '${def.name}' uses data_format channels_first on a rank-${x.dims.length + 1} input; the tfjs backend flattens channels_last only — export the model to ONNX and run it on the onnx backend`,
        );
      }
      return [b.op('keras.reshape', call, [x.name], [prod(x.dims)], { dims: [prod(x.dims)] })];
    case 'Reshape':
      return [reshapeLayer(b, def, call, x)];
    case 'Permute':
      return [permute(b, def, call, x)];
    case 'RepeatVector': {
      needRank(def, x, 1, 'features');
      const n = positiveInt(def, 'n');
      return [b.op('keras.repeat_vector', call, [x.name], [n, x.dims[0]!], { n })];
    }
    case 'Embedding': {
      if (c['mask_zero'] === true) {
        throw new McuError(
          'E_UNSUPPORTED',
          `Embedding layer '${def.name}' has mask_zero: the tfjs backend does not propagate Keras masks — export the model to ONNX and run it on the onnx backend`,
        );
      }
      const inputDim = positiveInt(def, 'input_dim');
      const outputDim = positiveInt(def, 'output_dim');
      const table = b.weight(def, 'embeddings', [inputDim, outputDim]);
      return [b.op('keras.embedding', call, [x.name, table], [...x.dims, outputDim], {})];
    }
    case 'BatchNormalization':
      return [batchNorm(b, def, call, x)];
    case 'LayerNormalization':
      return [layerNorm(b, def, call, x)];
    case 'Rescaling': {
      const scale = c['scale'] ?? 1;
      const offset = c['offset'] ?? 0;
      if (typeof scale !== 'number' || typeof offset !== 'number') {
        throw new McuError('E_UNSUPPORTED', `Rescaling layer '${def.name}' has per-channel scale/offset; the tfjs backend runs scalar ones`);
      }
      const s = b.constant(`${call}/scale`, [], Float32Array.of(scale));
      const o = b.constant(`${call}/offset`, [], Float32Array.of(offset));
      return [b.op('keras.affine', call, [x.name, s, o], x.dims, {})];
    }
    case 'Activation': {
      const activation = activationOf(c['activation'], def, k3);
      return [b.op('keras.activation', call, [x.name], x.dims, { activation }, distOf(activation))];
    }
    case 'ReLU': {
      const maxValue = c['max_value'] ?? null;
      return [b.op('keras.relu', call, [x.name], x.dims, { maxValue, negativeSlope: c['negative_slope'] ?? 0, threshold: c['threshold'] ?? 0 })];
    }
    case 'LeakyReLU':
      return [b.op('keras.leaky_relu', call, [x.name], x.dims, { alpha: c['alpha'] ?? c['negative_slope'] ?? 0.3 })];
    case 'ELU':
      return [b.op('keras.elu', call, [x.name], x.dims, { alpha: c['alpha'] ?? 1 })];
    case 'ThresholdedReLU':
      return [b.op('keras.thresholded_relu', call, [x.name], x.dims, { theta: c['theta'] ?? 1 })];
    case 'PReLU': {
      const shared = Array.isArray(c['shared_axes']) ? (c['shared_axes'] as number[]) : typeof c['shared_axes'] === 'number' ? [c['shared_axes']] : [];
      const shape = x.dims.map((d, k) => (shared.includes(k + 1) ? 1 : d));
      return [b.op('keras.prelu', call, [x.name, b.weight(def, 'alpha', shape)], x.dims, {})];
    }
    case 'Softmax': {
      const rank = x.dims.length + 1;
      const raw = c['axis'] ?? -1;
      const axes = (Array.isArray(raw) ? raw : [raw]).map((a) => axisOf(def, a, rank));
      return [b.op('keras.softmax', call, [x.name], x.dims, { axes }, axes.length === 1 && axes[0] === rank - 1 ? 'softmax' : undefined)];
    }
    case 'Dropout':
    case 'SpatialDropout1D':
    case 'SpatialDropout2D':
    case 'SpatialDropout3D':
    case 'GaussianDropout':
    case 'GaussianNoise':
    case 'AlphaDropout':
      return [siteLayer(b, def, call, x)];
    case 'ActivityRegularization':
    case 'Identity':
      return [b.op('identity', call, [x.name], x.dims, {}, x.dist)];
    case 'LSTM':
    case 'GRU':
    case 'SimpleRNN':
      return recurrentLayer(b, def, call, x);
    case 'Bidirectional':
      return bidirectional(b, def, call, x);
    case 'TimeDistributed':
      return [timeDistributed(b, def, call, x)];
    default:
      throw new McuError(
        'E_UNSUPPORTED',
        `layer '${def.name}' of class ${cls} is not supported by the tfjs backend; supported: ${SUPPORTED_LAYERS.join(', ')} — export the model to ONNX (e.g. tf2onnx) and run it on the onnx backend`,
      );
  }
}

// ---------------------------------------------------------------------------------------
// Models: Sequential chains and Functional graphs, top level (their inputs become the graph's
// inputs) or nested (inlined on the values they are called with; `prefix` names the call).

function runModel(b: Builder, model: LayerDef, prefix: string, given: readonly Value[] | undefined): Value[] {
  return model.className === 'Sequential' ? runSequential(b, model, prefix, given) : runFunctional(b, model, prefix, given);
}

function checkGiven(b: Builder, model: LayerDef, input: LayerDef, declared: (number | null)[] | undefined, x: Value): void {
  if (declared !== undefined && (declared.length !== x.dims.length || declared.some((d, k) => d !== null && d !== x.dims[k]))) {
    throw new McuError(
      'E_MODEL',
      `model '${model.name}' in '${b.ctx.label}' expects rows of dims [${declared.map((d) => d ?? 'None').join(', ')}] at '${input.name}', but is called on [${x.dims.join(', ')}]`,
    );
  }
}

function runSequential(b: Builder, model: LayerDef, prefix: string, given: readonly Value[] | undefined): Value[] {
  const layers = model.layers!;
  if (layers.length === 0) throw new McuError('E_MODEL', `'${b.ctx.label}' has no layers`);
  const first = layers[0]!;
  const hasInput = first.className === 'InputLayer';
  const declared = rowDimsFrom(first.config);
  let x: Value;
  if (given !== undefined) {
    if (given.length !== 1) throw new McuError('E_MODEL', `Sequential model '${model.name}' takes one input, but is called with ${given.length}`);
    x = given[0]!;
    checkGiven(b, model, first, declared, x);
  } else {
    if (declared === undefined)
      throw new McuError('E_MODEL', `the first layer '${first.name}' of '${b.ctx.label}' declares no input shape (batch_input_shape)`);
    x = addInput(b, hasInput ? first.name : `${first.name}_input`, fixedDims(declared, first));
  }
  for (const layer of hasInput ? layers.slice(1) : layers) {
    const out = callLayer(b, layer, prefix + layer.name, [x]);
    if (out.length !== 1) throw new McuError('E_MODEL', `${layerLabel(layer)} in Sequential model '${model.name}' gives ${out.length} outputs`);
    x = out[0]!;
  }
  return [x];
}

function addInput(b: Builder, name: string, dims: number[]): Value {
  const got = b.fresh(name);
  if (got !== name) throw new McuError('E_MODEL', `two inputs of '${b.ctx.label}' are named '${name}'`);
  // Embedding indices come as numbers too (the op truncates them to int32, like Keras' cast).
  b.inputs.push({ name, dims, dtype: 'float32' });
  return { name, dims };
}

function runFunctional(b: Builder, model: LayerDef, prefix: string, given: readonly Value[] | undefined): Value[] {
  const where = `the ${model.className} model '${model.name}' in '${b.ctx.label}'`;
  const defs = new Map<string, LayerDef>();
  for (const d of model.layers!) {
    if (defs.has(d.name)) throw new McuError('E_MODEL', `${where} has two layers named '${d.name}'`);
    defs.set(d.name, d);
  }
  const calls = new Map<LayerDef, NodeRef[][]>();
  for (const d of model.layers!) calls.set(d, inboundCalls(d));
  const inputRefs = endpoints(model.config['input_layers'], 'inputs', where);
  const outputRefs = endpoints(model.config['output_layers'], 'outputs', where);
  // Nested models count their own construction as node 0 in tfjs and Keras: their first
  // serialized call is then node 1. Find the offset from the references themselves.
  const minRef = new Map<string, number>();
  for (const refs of [...[...calls.values()].flat(2), ...outputRefs]) minRef.set(refs.layer, Math.min(minRef.get(refs.layer) ?? Infinity, refs.node));
  const offset = (d: LayerDef): number => (MODEL_CLASSES.has(d.className) && (minRef.get(d.name) ?? 0) >= 1 ? 1 : 0);

  const inputValues = new Map<string, Value>();
  if (given !== undefined && given.length !== inputRefs.length) {
    throw new McuError('E_MODEL', `${where} takes ${inputRefs.length} inputs, but is called with ${given.length}`);
  }
  inputRefs.forEach((ref, k) => {
    const d = defs.get(ref.layer);
    if (d === undefined || d.className !== 'InputLayer')
      throw new McuError('E_MODEL', `${where} lists '${ref.layer}' as an input, which is no InputLayer of it`);
    const declared = rowDimsFrom(d.config);
    if (given !== undefined) {
      checkGiven(b, model, d, declared, given[k]!);
      inputValues.set(d.name, given[k]!);
    } else {
      if (declared === undefined) throw new McuError('E_MODEL', `InputLayer '${d.name}' of '${b.ctx.label}' declares no shape`);
      inputValues.set(d.name, addInput(b, d.name, fixedDims(declared, d)));
    }
  });

  const done = new Map<string, Value[]>();
  const active = new Set<string>();
  const resolveRef = (ref: NodeRef): Value => {
    const d = defs.get(ref.layer);
    if (d === undefined) throw new McuError('E_MODEL', `${where} refers to layer '${ref.layer}', which it does not define`);
    if (d.className === 'InputLayer') {
      const v = inputValues.get(d.name);
      if (v === undefined) throw new McuError('E_MODEL', `${where} uses InputLayer '${d.name}', which its input_layers do not list`);
      return v;
    }
    const index = ref.node - offset(d);
    const key = `${d.name}#${index}`;
    let out = done.get(key);
    if (out === undefined) {
      const nodes = calls.get(d)!;
      const refs = nodes[index];
      if (refs === undefined) throw new McuError('E_MODEL', `${where} refers to call ${ref.node} of ${layerLabel(d)}, which has ${nodes.length}`);
      if (active.has(key)) throw new McuError('E_MODEL', `${where} has a cycle through layer '${d.name}'`);
      active.add(key);
      const args = refs.map(resolveRef);
      out = callLayer(b, d, prefix + (index === 0 ? d.name : `${d.name}@${index}`), args);
      active.delete(key);
      done.set(key, out);
    }
    const v = out[ref.tensor];
    if (v === undefined) throw new McuError('E_MODEL', `${where} uses output ${ref.tensor} of ${layerLabel(d)}, which gives ${out.length}`);
    return v;
  };
  return outputRefs.map(resolveRef);
}

function compileModel(root: LayerDef, weights: readonly WeightEntry[], ctx: Ctx): ExecGraph {
  const b = new Builder(ctx);
  b.weights = new WeightTable(root, weights, ctx.label, b.warnings);
  const outs = runModel(b, root, '', undefined);
  const inputs = b.inputs;
  const inputNames = new Set(inputs.map((i) => i.name));
  for (const s of b.sites) {
    if (inputNames.has(s.name)) throw new McuError('E_SITE', `site '${s.name}' of '${ctx.label}' has the name of an input; each mask input needs its own name`);
  }
  // Every output its own value (an input, or one value listed twice, gets an identity node).
  const seen = new Set<string>();
  const outputs: GraphOutput[] = outs.map((v) => {
    let name = v.name;
    if (seen.has(name) || inputNames.has(name)) {
      name = b.fresh(`${v.name}_output`);
      b.node('identity', name, [v.name], [name], {});
    }
    seen.add(name);
    return { name, dims: [...v.dims], ...(v.dist ? { activation: v.dist } : {}) };
  });
  if (b.sites.length === 0) {
    b.warnings.push(
      `'${ctx.label}' has no dropout layer (Dropout, SpatialDropout, GaussianDropout, GaussianNoise, AlphaDropout, or recurrent dropout): every MC sample is the same (zero predictive variance)`,
    );
  }
  return {
    inputs,
    outputs,
    nodes: b.nodes,
    constants: b.constants,
    sites: b.sites,
    layout: 'lazy',
    warnings: b.warnings,
    ops: KERAS_OPS,
  };
}

// ---------------------------------------------------------------------------------------
// Weights on disk: the manifest's groups, each a list of shard files read in order and
// concatenated, its entries packed one after the other.

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

function float16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return sign * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : sign * Infinity;
  return sign * 2 ** (e - 15) * (1 + f / 1024);
}

/** The stored dtype and byte size of a manifest entry (E_UNSUPPORTED for dtypes mcu cannot read). */
function storage(entry: Json, label: string): { stored: string; size: number; quantized: Json | undefined } {
  const name = String(entry['name']);
  const n = (entry['shape'] as number[]).reduce((a, b) => a * b, 1);
  const q = isRecord(entry['quantization']) ? entry['quantization'] : undefined;
  const stored = q ? String(q['dtype']) : String(entry['dtype'] ?? 'float32');
  const width = BYTES[stored];
  if (width === undefined || (!q && !['float32', 'int32', 'bool'].includes(stored))) {
    throw new McuError(
      'E_UNSUPPORTED',
      `weight '${name}' in '${label}' is stored as ${stored}; the tfjs backend reads float32, int32, bool and uint8/uint16/float16-quantised weights`,
    );
  }
  return { stored, size: n * width, quantized: q };
}

function decode(bytes: Uint8Array, entry: Json, label: string): Float32Array {
  const { stored, size, quantized: q } = storage(entry, label);
  const n = (entry['shape'] as number[]).reduce((a, b) => a * b, 1);
  if (!q && stored === 'float32') {
    // tfjs writes little-endian, like every platform Node runs on; slice() aligns the copy.
    return new Float32Array(bytes.slice(0, size).buffer);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, size);
  const out = new Float32Array(n);
  if (q && stored !== 'float16') {
    const scale = Number(q['scale'] ?? 1);
    const min = Number(q['min'] ?? 0);
    for (let i = 0; i < n; i++) out[i] = (stored === 'uint8' ? view.getUint8(i) : view.getUint16(i * 2, true)) * scale + min;
  } else if (stored === 'float16') {
    for (let i = 0; i < n; i++) out[i] = float16(view.getUint16(i * 2, true));
  } else if (stored === 'int32') {
    for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, true);
  } else {
    for (let i = 0; i < n; i++) out[i] = view.getUint8(i);
  }
  return out;
}

async function loadWeights(manifest: unknown, origin: LayersModelOrigin): Promise<WeightEntry[]> {
  if (manifest === undefined || manifest === null) return [];
  if (!Array.isArray(manifest)) throw new McuError('E_MODEL', `weightsManifest of '${origin.label}' must be a list of groups`);
  const out: WeightEntry[] = [];
  for (const [g, group] of manifest.entries()) {
    if (!isRecord(group) || !Array.isArray(group['paths']) || !Array.isArray(group['weights'])) {
      throw new McuError('E_MODEL', `weightsManifest group ${g} of '${origin.label}' needs 'paths' and 'weights' lists`);
    }
    const entries = group['weights'] as unknown[];
    if (entries.length === 0) continue;
    const readShard = origin.readShard;
    if (readShard === undefined) {
      throw new McuError('E_MODEL', `'${origin.label}' has weight shards but no folder to read them from; load it by path (or give bytes with baseDir)`);
    }
    for (const e of entries) {
      if (!isRecord(e) || typeof e['name'] !== 'string' || !Array.isArray(e['shape']) || !e['shape'].every((d) => Number.isInteger(d) && d >= 0)) {
        throw new McuError('E_MODEL', `weightsManifest group ${g} of '${origin.label}' has a malformed weight entry ${JSON.stringify(e)}`);
      }
    }
    const expected = (entries as Json[]).reduce((a, e) => a + storage(e, origin.label).size, 0);
    const paths = group['paths'] as unknown[];
    const parts: Uint8Array[] = [];
    for (const p of paths) {
      if (typeof p !== 'string') throw new McuError('E_MODEL', `weightsManifest group ${g} of '${origin.label}' has a non-string path`);
      parts.push(await readShard(p));
    }
    const total = parts.reduce((a, b) => a + b.length, 0);
    if (total !== expected) {
      const sizes = paths.map((p, k) => `'${String(p)}' ${parts[k]!.length}`).join(', ');
      throw new McuError(
        'E_MODEL',
        `weight shard${paths.length > 1 ? 's' : ''} ${paths.map((p) => `'${String(p)}'`).join(', ')} of '${origin.label}' ${total < expected ? 'are short' : 'are too long'}: the manifest's ${entries.length} weights need ${expected} bytes, the shards hold ${total} (${sizes} bytes)`,
      );
    }
    const bytes = parts.length === 1 ? parts[0]! : new Uint8Array(total);
    if (parts.length > 1) {
      let o = 0;
      for (const part of parts) {
        bytes.set(part, o);
        o += part.length;
      }
    }
    let offset = 0;
    for (const e of entries as Json[]) {
      out.push({ name: e['name'] as string, shape: e['shape'] as number[], data: decode(bytes.subarray(offset), e, origin.label) });
      offset += storage(e, origin.label).size;
    }
  }
  return out;
}
