import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { StochasticSite } from '@mcu/core';
import { McuError } from '@mcu/core';
import { ACTIVATIONS, shapeAfter, type Activation, type NetLayer, type NetworkSpec } from './network.js';

/*
 * Keras → TensorFlow.js layers models (`tensorflowjs_converter --input_format keras`, or
 * `model.save()` in tfjs): model.json holds the Keras topology and a weights manifest; the
 * weights live in binary shards next to it. mcu parses both itself (no tf.loadLayersModel:
 * that needs fetch/tfjs-node for files, and its predict() never applies dropout) and rebuilds
 * the chain with every Dropout / GaussianDropout as an explicit mask input.
 */

export const SUPPORTED_LAYERS = [
  'InputLayer',
  'Dense',
  'Conv2D',
  'MaxPooling2D',
  'AveragePooling2D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
  'BatchNormalization',
  'Activation',
  'Dropout',
  'SpatialDropout2D',
  'GaussianDropout',
  'Flatten',
] as const;

/** A parameter every weighted layer has, used to tell whether weights are named after layers. */
const WEIGHT_PROBE: Record<string, string> = { Dense: 'kernel', Conv2D: 'kernel', BatchNormalization: 'moving_mean' };

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface WeightEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Where model.json came from, to resolve its weight shards. */
export interface LayersModelOrigin {
  /** Folder that holds the shards (model.json's folder); undefined = no files may be read. */
  readonly baseDir?: string;
  /** For messages: the model.json path or a description. */
  readonly label: string;
}

/** Read a layers model from a model.json path (or a folder that holds model.json). */
export async function loadLayersModelFile(path: string): Promise<NetworkSpec> {
  let file = path;
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new McuError('E_FILE', `model file '${path}' does not exist`);
  }
  if (info.isDirectory()) file = join(path, 'model.json');
  if (/\.(h5|hdf5|keras)$/i.test(file)) {
    throw new McuError(
      'E_UNSUPPORTED',
      `'${path}' is a Keras ${/\.keras$/i.test(file) ? '.keras archive' : 'HDF5 file'}; the tfjs backend reads TensorFlow.js layers models — convert it: tensorflowjs_converter --input_format keras ${path} out_dir/ (then give out_dir/model.json)`,
    );
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new McuError('E_FILE', `cannot read '${file}' (${(e as { code?: string }).code ?? String(e)})${info.isDirectory() ? ': the folder has no model.json' : ''}`, { cause: e });
  }
  return parseLayersModelJson(text, { baseDir: dirname(resolve(file)), label: file });
}

/** Parse model.json text (or bytes) and load its shards from `origin.baseDir`. */
export async function parseLayersModelJson(text: string | Uint8Array, origin: LayersModelOrigin): Promise<NetworkSpec> {
  let json: unknown;
  try {
    json = JSON.parse(typeof text === 'string' ? text : new TextDecoder().decode(text));
  } catch (e) {
    throw new McuError('E_MODEL', `'${origin.label}' is not valid JSON (${e instanceof Error ? e.message : String(e)}); expected a TensorFlow.js model.json`, { cause: e });
  }
  return parseLayersModel(json, origin);
}

export async function parseLayersModel(json: unknown, origin: LayersModelOrigin): Promise<NetworkSpec> {
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
  const model = isRecord(topology['model_config']) ? topology['model_config'] : topology;
  const kerasVersion = String(topology['keras_version'] ?? model['keras_version'] ?? '');
  const keras3 = /^3\./.test(kerasVersion);
  const chain = layerChain(model, origin.label);
  const weights = await loadWeights(json['weightsManifest'], origin);
  return compile(chain, weights, { keras3, label: origin.label });
}

interface KerasLayer {
  readonly className: string;
  readonly name: string;
  readonly config: Json;
  readonly raw: Json;
}

function toLayer(raw: unknown, k: number, label: string): KerasLayer {
  if (!isRecord(raw) || typeof raw['class_name'] !== 'string') {
    throw new McuError('E_MODEL', `layer ${k} of '${label}' has no class_name`);
  }
  const config = isRecord(raw['config']) ? raw['config'] : {};
  const name = typeof config['name'] === 'string' ? config['name'] : typeof raw['name'] === 'string' ? raw['name'] : `layer${k}`;
  return { className: raw['class_name'], name, config, raw };
}

/** Layer names feeding each call ("node") of a Functional layer: Keras 2 / tfjs and Keras 3 forms. */
function inboundNodes(layer: KerasLayer): string[][] {
  const nodes = layer.raw['inbound_nodes'];
  if (!Array.isArray(nodes)) return [];
  return nodes.map((node) => {
    if (Array.isArray(node)) {
      // Keras 2 / tfjs: [[layerName, nodeIndex, tensorIndex, kwargs], ...]
      return node.filter((t) => Array.isArray(t) && typeof t[0] === 'string').map((t) => (t as string[])[0]!);
    }
    // Keras 3: {args: [{class_name: '__keras_tensor__', config: {keras_history: [name, 0, 0]}}], kwargs}
    const names: string[] = [];
    const visit = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(visit);
      else if (isRecord(v)) {
        const history = isRecord(v['config']) ? v['config']['keras_history'] : undefined;
        if (v['class_name'] === '__keras_tensor__' && Array.isArray(history) && typeof history[0] === 'string') names.push(history[0]);
        else Object.values(v).forEach(visit);
      }
    };
    visit(isRecord(node) ? node['args'] : node);
    return names;
  });
}

function endpoints(v: unknown, what: string, label: string): string {
  // [[name, 0, 0], ...] or, for one endpoint in Keras 3, [name, 0, 0].
  const list = Array.isArray(v) && typeof v[0] === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0) throw new McuError('E_MODEL', `'${label}' lists no ${what}`);
  if (list.length !== 1) {
    throw new McuError('E_UNSUPPORTED', `'${label}' has ${list.length} ${what}; the tfjs backend runs models with one input and one output`);
  }
  const e = list[0];
  if (!Array.isArray(e) || typeof e[0] !== 'string') throw new McuError('E_MODEL', `'${label}' has a malformed ${what} entry ${JSON.stringify(e)}`);
  return e[0];
}

/** The layers of a Sequential or a chain-shaped Functional model, input first. */
function layerChain(model: Json, label: string): KerasLayer[] {
  const cls = model['class_name'];
  const config = model['config'];
  if (cls === 'Sequential') {
    const raw = Array.isArray(config) ? config : isRecord(config) ? config['layers'] : undefined;
    if (!Array.isArray(raw)) throw new McuError('E_MODEL', `the Sequential model in '${label}' has no layers list`);
    return raw.map((l, k) => toLayer(l, k, label));
  }
  if (cls === 'Model' || cls === 'Functional') {
    if (!isRecord(config) || !Array.isArray(config['layers'])) throw new McuError('E_MODEL', `the ${cls} model in '${label}' has no layers list`);
    const layers = config['layers'].map((l, k) => toLayer(l, k, label));
    const byName = new Map(layers.map((l) => [l.name, l]));
    const input = endpoints(config['input_layers'], 'inputs', label);
    const output = endpoints(config['output_layers'], 'outputs', label);
    const chain: KerasLayer[] = [];
    const seen = new Set<string>();
    let cur = output;
    for (;;) {
      const layer = byName.get(cur);
      if (layer === undefined) throw new McuError('E_MODEL', `'${label}' refers to layer '${cur}', which it does not define`);
      if (seen.has(cur)) throw new McuError('E_MODEL', `'${label}' has a cycle through layer '${cur}'`);
      seen.add(cur);
      chain.unshift(layer);
      if (cur === input) break;
      const nodes = inboundNodes(layer);
      if (nodes.length !== 1 || nodes[0]!.length !== 1) {
        throw new McuError(
          'E_UNSUPPORTED',
          `layer '${layer.name}' (${layer.className}) ${nodes.length > 1 ? `is called ${nodes.length} times (a shared layer)` : `takes ${nodes[0]?.length ?? 0} inputs`}; the tfjs backend runs chains of single-input layers (Sequential-like models) — export to ONNX for general graphs`,
        );
      }
      cur = nodes[0]![0]!;
    }
    return chain;
  }
  throw new McuError(
    'E_UNSUPPORTED',
    `'${label}' holds a model of class ${JSON.stringify(cls)}; the tfjs backend reads Sequential and Functional (Model) layers models`,
  );
}

function activationOf(v: unknown, layer: KerasLayer, keras3: boolean): Activation {
  let name: unknown = v;
  if (isRecord(v)) name = typeof v['config'] === 'string' ? v['config'] : isRecord(v['config']) ? v['config']['name'] : v['class_name'];
  if (name === undefined || name === null) return 'linear';
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
      `activation ${JSON.stringify(name)} of layer '${layer.name}' (${layer.className}) is not supported by the tfjs backend; supported: ${Object.keys(aliases).join(', ')}`,
    );
  }
  return a;
}

function rowDimsFrom(config: Json): (number | null)[] | undefined {
  const batch = config['batch_input_shape'] ?? config['batch_shape'];
  if (Array.isArray(batch)) return batch.slice(1) as (number | null)[];
  const shape = config['input_shape'];
  if (Array.isArray(shape)) return shape as (number | null)[];
  if (typeof config['input_dim'] === 'number') return [config['input_dim']];
  return undefined;
}

function checkDims(dims: readonly (number | null)[], layer: KerasLayer): number[] {
  if (!dims.every((d) => Number.isInteger(d) && (d as number) > 0)) {
    throw new McuError(
      'E_UNSUPPORTED',
      `the input of layer '${layer.name}' has dims [N, ${dims.map((d) => d ?? 'None').join(', ')}]; the tfjs backend needs fixed per-row dims (only the batch axis may be free)`,
    );
  }
  return dims as number[];
}

function rateOf(layer: KerasLayer): number {
  const rate = layer.config['rate'] ?? layer.config['p'];
  if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) {
    throw new McuError('E_SITE', `${layer.className} layer '${layer.name}' needs a rate p in [0, 1), got ${JSON.stringify(rate)}`);
  }
  return rate;
}

class WeightIndex {
  readonly #byName = new Map<string, WeightEntry[]>();
  readonly #used = new Set<WeightEntry>();
  constructor(readonly list: readonly WeightEntry[]) {
    for (const w of list) {
      const key = w.name.replace(/:\d+$/, '');
      const arr = this.#byName.get(key) ?? [];
      arr.push(w);
      this.#byName.set(key, arr);
    }
  }

  /** `layer/kernel`, or a prefixed `outer/layer/kernel` when that is unique. */
  find(layer: string, param: string): WeightEntry | undefined {
    const exact = this.#byName.get(`${layer}/${param}`);
    if (exact?.length === 1) return exact[0];
    const suffix = `/${layer}/${param}`;
    const hits = [...this.#byName.entries()].filter(([k]) => k.endsWith(suffix)).flatMap(([, v]) => v);
    return hits.length === 1 ? hits[0] : undefined;
  }
}

/** Rows must be [H, W, C] with data_format channels_last. */
function channelsLast(layer: KerasLayer, dims: readonly number[]): void {
  if (layer.config['data_format'] === 'channels_first') {
    throw new McuError('E_UNSUPPORTED', `${layer.className} layer '${layer.name}' uses data_format channels_first; the tfjs backend runs channels_last (the Keras default) — export the model to ONNX`);
  }
  if (dims.length !== 3) {
    throw new McuError('E_MODEL', `${layer.className} layer '${layer.name}' needs rows of dims [H, W, C], got [${dims.join(', ')}]`);
  }
}

/** A Keras (h, w) setting given as one integer or a pair. */
function pair(layer: KerasLayer, key: string, dflt?: number): [number, number] {
  const v = layer.config[key] ?? dflt;
  const xs = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(xs) || xs.length !== 2 || !xs.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new McuError('E_MODEL', `${layer.className} layer '${layer.name}' has ${key} ${JSON.stringify(v)}; expected a positive integer or a pair of them`);
  }
  return [xs[0] as number, xs[1] as number];
}

function paddingOf(layer: KerasLayer): 'valid' | 'same' {
  const p = layer.config['padding'] ?? 'valid';
  if (p !== 'valid' && p !== 'same') {
    throw new McuError('E_UNSUPPORTED', `${layer.className} layer '${layer.name}' has padding ${JSON.stringify(p)}; the tfjs backend runs 'valid' and 'same'`);
  }
  return p;
}

/** A layer's [n] parameter vector (`param`: bias, gamma, moving_mean, …), shape-checked. */
function vector(w: WeightEntry, n: number, layer: KerasLayer, param: string): Float32Array {
  if (w.shape.length !== 1 || w.shape[0] !== n) {
    throw new McuError('E_MODEL', `${layer.className} layer '${layer.name}' needs a [${n}] ${param}, but weight '${w.name}' has shape [${w.shape.join(', ')}]`);
  }
  return w.data;
}

function compile(chain: readonly KerasLayer[], weights: readonly WeightEntry[], ctx: { keras3: boolean; label: string }): NetworkSpec {
  if (chain.length === 0) throw new McuError('E_MODEL', `'${ctx.label}' has no layers`);
  const index = new WeightIndex(weights);
  // Weights by name (`dense_1/kernel`); models whose names do not follow that (renamed
  // variables) fall back to manifest order — kernel, bias per Dense / Conv2D layer; gamma,
  // beta, moving_mean, moving_variance per BatchNormalization — checked by shape.
  const byName = chain.every((l) => WEIGHT_PROBE[l.className] === undefined || index.find(l.name, WEIGHT_PROBE[l.className]!) !== undefined);
  let position = 0;
  const nextWeight = (layer: KerasLayer, param: string): WeightEntry => {
    const w = byName ? index.find(layer.name, param) : weights[position++];
    if (w === undefined) {
      throw new McuError(
        'E_MODEL',
        `no weight '${layer.name}/${param}' for ${layer.className} layer '${layer.name}' in the weights manifest of '${ctx.label}' (it has: ${weights.map((x) => x.name).join(', ') || 'no weights'})`,
      );
    }
    return w;
  };

  let first = chain[0]!;
  let rest = chain;
  let dims: number[] | undefined;
  let input: string;
  if (first.className === 'InputLayer') {
    const d = rowDimsFrom(first.config);
    if (d === undefined) throw new McuError('E_MODEL', `InputLayer '${first.name}' in '${ctx.label}' has no batch_input_shape`);
    dims = checkDims(d, first);
    input = first.name;
    const dtype = first.config['dtype'];
    if (typeof dtype === 'string' && !dtype.startsWith('float')) {
      throw new McuError('E_UNSUPPORTED', `InputLayer '${first.name}' has dtype ${dtype}; the tfjs backend runs float inputs (computed in float32)`);
    }
    rest = chain.slice(1);
  } else {
    // Keras names a Sequential model's implicit input `<first layer>_input`.
    input = `${first.name}_input`;
    const d = rowDimsFrom(first.config);
    if (d !== undefined) dims = checkDims(d, first);
  }
  if (rest.length === 0) throw new McuError('E_MODEL', `'${ctx.label}' has an input but no layers`);
  first = rest[0]!;
  if (dims === undefined) {
    // No declared input shape: a leading Dense layer's kernel tells the width.
    if (first.className !== 'Dense') {
      throw new McuError('E_MODEL', `'${ctx.label}' declares no input shape (batch_input_shape) and its first layer '${first.name}' is not Dense`);
    }
    const probe = byName ? index.find(first.name, 'kernel') : weights[0];
    if (probe === undefined || probe.shape.length !== 2) {
      throw new McuError('E_MODEL', `'${ctx.label}' declares no input shape and Dense layer '${first.name}' has no 2-d kernel to infer it from`);
    }
    dims = [probe.shape[0]!];
  }
  const inputDims = [...dims];

  const layers: NetLayer[] = [];
  const sites: StochasticSite[] = [];
  const names = new Set<string>([input]);
  for (const layer of rest) {
    let net: NetLayer;
    switch (layer.className) {
      case 'Dense': {
        const units = layer.config['units'];
        const inUnits = dims.at(-1)!;
        const kernel = nextWeight(layer, 'kernel');
        if (!(Number.isInteger(units) && (units as number) > 0)) {
          throw new McuError('E_MODEL', `Dense layer '${layer.name}' has units ${JSON.stringify(units)}; expected a positive integer`);
        }
        if (kernel.shape.length !== 2 || kernel.shape[0] !== inUnits || kernel.shape[1] !== units) {
          throw new McuError(
            'E_MODEL',
            `Dense layer '${layer.name}' needs a [${inUnits}, ${units}] kernel, but weight '${kernel.name}' has shape [${kernel.shape.join(', ')}]`,
          );
        }
        let bias: Float32Array | null = null;
        if (layer.config['use_bias'] !== false) {
          bias = vector(nextWeight(layer, 'bias'), units as number, layer, 'bias');
        }
        net = {
          op: 'dense',
          name: layer.name,
          kernel: kernel.data,
          inUnits,
          units: units as number,
          bias,
          activation: activationOf(layer.config['activation'], layer, ctx.keras3),
        };
        break;
      }
      case 'Conv2D': {
        channelsLast(layer, dims);
        const filters = layer.config['filters'];
        if (!(Number.isInteger(filters) && (filters as number) > 0)) {
          throw new McuError('E_MODEL', `Conv2D layer '${layer.name}' has filters ${JSON.stringify(filters)}; expected a positive integer`);
        }
        const groups = layer.config['groups'];
        if (groups !== undefined && groups !== null && groups !== 1) {
          throw new McuError('E_UNSUPPORTED', `Conv2D layer '${layer.name}' has groups ${JSON.stringify(groups)}; the tfjs backend runs groups = 1 — export the model to ONNX`);
        }
        const kernelSize = pair(layer, 'kernel_size');
        const inChannels = dims.at(-1)!;
        const kernel = nextWeight(layer, 'kernel');
        const want = [...kernelSize, inChannels, filters as number];
        if (kernel.shape.length !== 4 || want.some((d, k) => kernel.shape[k] !== d)) {
          throw new McuError('E_MODEL', `Conv2D layer '${layer.name}' needs a [${want.join(', ')}] kernel, but weight '${kernel.name}' has shape [${kernel.shape.join(', ')}]`);
        }
        let bias: Float32Array | null = null;
        if (layer.config['use_bias'] !== false) bias = vector(nextWeight(layer, 'bias'), filters as number, layer, 'bias');
        net = {
          op: 'conv2d',
          name: layer.name,
          kernel: kernel.data,
          kernelSize,
          inChannels,
          filters: filters as number,
          strides: pair(layer, 'strides', 1),
          dilations: pair(layer, 'dilation_rate', 1),
          padding: paddingOf(layer),
          bias,
          activation: activationOf(layer.config['activation'], layer, ctx.keras3),
        };
        const [sh, sw] = net.strides;
        if ((sh > 1 || sw > 1) && (net.dilations[0] > 1 || net.dilations[1] > 1)) {
          throw new McuError('E_UNSUPPORTED', `Conv2D layer '${layer.name}' combines strides ${sh}×${sw} with dilation ${net.dilations.join('×')}, which TensorFlow does not run`);
        }
        break;
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        channelsLast(layer, dims);
        const poolSize = pair(layer, 'pool_size', 2);
        const strides = layer.config['strides'] === null || layer.config['strides'] === undefined ? poolSize : pair(layer, 'strides');
        net = { op: 'pool2d', name: layer.name, kind: layer.className === 'MaxPooling2D' ? 'max' : 'avg', poolSize, strides, padding: paddingOf(layer) };
        break;
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        channelsLast(layer, dims);
        net = { op: 'globalpool', name: layer.name, kind: layer.className === 'GlobalMaxPooling2D' ? 'max' : 'avg', keepDims: layer.config['keepdims'] === true };
        break;
      }
      case 'BatchNormalization': {
        const axis = layer.config['axis'];
        const ax = Array.isArray(axis) && axis.length === 1 ? axis[0] : axis;
        if (!(ax === undefined || ax === -1 || ax === dims.length)) {
          throw new McuError('E_UNSUPPORTED', `BatchNormalization layer '${layer.name}' normalises axis ${JSON.stringify(axis)}; the tfjs backend normalises the last (channel) axis only`);
        }
        const c = dims.at(-1)!;
        const eps = layer.config['epsilon'] ?? 1e-3;
        if (typeof eps !== 'number' || !(eps >= 0)) {
          throw new McuError('E_MODEL', `BatchNormalization layer '${layer.name}' has epsilon ${JSON.stringify(eps)}; expected a number ≥ 0`);
        }
        // Keras' order: gamma (if scale), beta (if center), moving_mean, moving_variance.
        const gamma = layer.config['scale'] === false ? null : vector(nextWeight(layer, 'gamma'), c, layer, 'gamma');
        const beta = layer.config['center'] === false ? null : vector(nextWeight(layer, 'beta'), c, layer, 'beta');
        const mean = vector(nextWeight(layer, 'moving_mean'), c, layer, 'moving_mean');
        const variance = vector(nextWeight(layer, 'moving_variance'), c, layer, 'moving_variance');
        const scale = new Float32Array(c);
        const shift = new Float32Array(c);
        for (let k = 0; k < c; k++) {
          const g = (gamma?.[k] ?? 1) / Math.sqrt(variance[k]! + eps);
          scale[k] = g;
          shift[k] = (beta?.[k] ?? 0) - mean[k]! * g;
        }
        net = { op: 'affine', name: layer.name, scale, shift };
        break;
      }
      case 'Activation':
        net = { op: 'activation', name: layer.name, activation: activationOf(layer.config['activation'], layer, ctx.keras3) };
        break;
      case 'Flatten': {
        const format = layer.config['data_format'];
        if (format === 'channels_first' && dims.length > 1) {
          throw new McuError('E_UNSUPPORTED', `Flatten layer '${layer.name}' uses data_format channels_first on a rank-${dims.length + 1} input; the tfjs backend flattens channels_last only`);
        }
        net = { op: 'flatten', name: layer.name };
        break;
      }
      case 'Dropout':
      case 'SpatialDropout2D':
      case 'GaussianDropout': {
        const rate = rateOf(layer);
        let maskShape = [...dims];
        if (layer.className === 'SpatialDropout2D') {
          // One mask value per feature map: [1, 1, C] for channels_last rows [H, W, C].
          channelsLast(layer, dims);
          maskShape = [1, 1, dims[2]!];
        }
        const noise = layer.config['noise_shape'];
        if (layer.className === 'Dropout' && Array.isArray(noise)) {
          // Keras noise_shape [batch, ...]: a 1 shares one mask value along that axis.
          const per = noise.slice(1);
          if (per.length !== dims.length || per.some((d, k) => !(d === null || d === 1 || d === dims![k]))) {
            throw new McuError('E_UNSUPPORTED', `Dropout layer '${layer.name}' has noise_shape ${JSON.stringify(noise)}, which does not broadcast over its input [N, ${dims.join(', ')}]`);
          }
          maskShape = per.map((d, k) => (d === null ? dims![k]! : (d as number)));
        }
        if (names.has(layer.name)) throw new McuError('E_MODEL', `two layers in '${ctx.label}' are named '${layer.name}'`);
        names.add(layer.name);
        const site: StochasticSite =
          layer.className !== 'GaussianDropout'
            ? { name: layer.name, kind: 'bernoulli', rate, maskShape, scaling: 'inverted', origin: { op: layer.className, node: layer.name } }
            : { name: layer.name, kind: 'gaussian', rate, maskShape, origin: { op: 'GaussianDropout', node: layer.name } };
        sites.push(site);
        net = { op: 'site', name: layer.name, site };
        break;
      }
      case 'InputLayer':
        throw new McuError('E_MODEL', `InputLayer '${layer.name}' in '${ctx.label}' is not the first layer`);
      default:
        throw new McuError(
          'E_UNSUPPORTED',
          `layer '${layer.name}' of class ${layer.className} is not supported by the tfjs backend; supported: ${SUPPORTED_LAYERS.join(', ')} — export the model to ONNX for other layers`,
        );
    }
    dims = shapeAfter(net, dims);
    layers.push(net);
  }
  if (!byName && position !== weights.length) {
    throw new McuError('E_MODEL', `'${ctx.label}' has ${weights.length} weights but its layers use ${position}; weight names do not match the layer names, so they cannot be assigned`);
  }
  const warnings: string[] = [];
  if (sites.length === 0) {
    warnings.push(`'${ctx.label}' has no Dropout or GaussianDropout layer: every MC sample is the same (zero predictive variance)`);
  }
  return { input, inputDims, output: rest.at(-1)!.name, outputDims: dims, layers, sites, warnings };
}

// ---------------------------------------------------------------------------------------
// Weights

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

function float16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return sign * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : sign * Infinity;
  return sign * 2 ** (e - 15) * (1 + f / 1024);
}

function decode(bytes: Uint8Array, entry: Json, label: string): { data: Float32Array; size: number } {
  const name = String(entry['name']);
  const shape = entry['shape'] as number[];
  const n = shape.reduce((a, b) => a * b, 1);
  const q = isRecord(entry['quantization']) ? entry['quantization'] : undefined;
  const stored = q ? String(q['dtype']) : String(entry['dtype'] ?? 'float32');
  const width = BYTES[stored];
  if (width === undefined || (!q && !['float32', 'int32', 'bool'].includes(stored))) {
    throw new McuError('E_UNSUPPORTED', `weight '${name}' in '${label}' is stored as ${stored}; the tfjs backend reads float32, int32, bool and uint8/uint16/float16-quantised weights`);
  }
  const size = n * width;
  if (bytes.length < size) {
    throw new McuError('E_MODEL', `weight '${name}' in '${label}' needs ${size} bytes but its shard data ends after ${bytes.length}`);
  }
  if (!q && stored === 'float32') {
    // tfjs writes little-endian, like every platform Node runs on; slice() aligns the copy.
    return { data: new Float32Array(bytes.slice(0, size).buffer), size };
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
  return { data: out, size };
}

/** A shard path must stay inside the model's folder (no absolute paths, URLs or `..`). */
async function shardPath(baseDir: string, p: string, label: string): Promise<string> {
  if (isAbsolute(p) || /^[a-z][a-z0-9+.-]*:/i.test(p) || p.startsWith('\\')) {
    throw new McuError('E_MODEL', `weight shard path '${p}' in '${label}' is absolute or a URL; shards must be files next to model.json`);
  }
  const inside = (dir: string, file: string) => {
    const rel = relative(dir, file);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  };
  const full = resolve(baseDir, p);
  if (!inside(resolve(baseDir), full)) {
    throw new McuError('E_MODEL', `weight shard path '${p}' in '${label}' escapes the model's folder; shards must be files next to model.json`);
  }
  let real: string;
  let realDir: string;
  try {
    [real, realDir] = await Promise.all([realpath(full), realpath(baseDir)]);
  } catch (e) {
    throw new McuError('E_FILE', `weight shard '${p}' of '${label}' cannot be read (${(e as { code?: string }).code ?? String(e)}): it must lie next to model.json`, { cause: e });
  }
  if (!inside(realDir, real)) {
    throw new McuError('E_MODEL', `weight shard '${p}' in '${label}' links outside the model's folder; shards must be files next to model.json`);
  }
  return real;
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
    if (origin.baseDir === undefined) {
      throw new McuError('E_MODEL', `'${origin.label}' has weight shards but no folder to read them from; load it by path (or give bytes with baseDir)`);
    }
    const parts: Uint8Array[] = [];
    for (const p of group['paths'] as unknown[]) {
      if (typeof p !== 'string') throw new McuError('E_MODEL', `weightsManifest group ${g} of '${origin.label}' has a non-string path`);
      const file = await shardPath(origin.baseDir, p, origin.label);
      parts.push(new Uint8Array(await readFile(file)));
    }
    const total = parts.reduce((a, b) => a + b.length, 0);
    const bytes = parts.length === 1 ? parts[0]! : new Uint8Array(total);
    if (parts.length > 1) {
      let o = 0;
      for (const part of parts) {
        bytes.set(part, o);
        o += part.length;
      }
    }
    let offset = 0;
    for (const e of entries) {
      if (!isRecord(e) || typeof e['name'] !== 'string' || !Array.isArray(e['shape']) || !e['shape'].every((d) => Number.isInteger(d) && d >= 0)) {
        throw new McuError('E_MODEL', `weightsManifest group ${g} of '${origin.label}' has a malformed weight entry ${JSON.stringify(e)}`);
      }
      const { data, size } = decode(bytes.subarray(offset), e, origin.label);
      out.push({ name: e['name'], shape: e['shape'] as number[], data });
      offset += size;
    }
    if (offset !== total) {
      throw new McuError('E_MODEL', `weight shards of group ${g} in '${origin.label}' hold ${total} bytes, but its manifest describes ${offset}`);
    }
  }
  return out;
}
