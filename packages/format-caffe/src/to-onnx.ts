/**
 * Translation of a Caffe net into an ONNX graph (opset 13), computing what Caffe computes at
 * TEST time; the shapes and weight checks come from shapes.ts ({@link analyzeNet}).
 *
 * Naming: each write of a Caffe blob gets its own ONNX value (SSA: in-place layers and reused
 * top names are common in Caffe); the FINAL version of a blob keeps the Caffe name, so graph
 * outputs are named like the Caffe tops ('prob'); earlier versions are `<blob>@<k>` (the k-th
 * write). Graph inputs keep their names. Weights are float initializers `<layer>.w`, `<layer>.b`,
 * …; helper values are `<layer>/<step>`. Each Dropout layer becomes one ONNX Dropout node named
 * after the layer, with its ratio as a float scalar initializer `<layer>.ratio`.
 */
import { McuError } from '@mcu/core';
import { encodeOnnxModel, type OnnxAttribute, type OnnxNode, type OnnxTensor, type OnnxValueInfo } from './onnx-writer.js';
import { analyzeNet, boolField, caffeSites, enumField, hasField, layerLabel, numberField, numberList, paramOf, showRow, type LayerShapes } from './shapes.js';
import type { CaffeLayer, CaffeNet, CaffeOnnx, CaffeToOnnxOptions } from './types.js';

export { SUPPORTED_LAYER_TYPES } from './shapes.js';

const f32 = Math.fround;

/** Attribute constructors. */
const attr = {
  int: (name: string, value: number): OnnxAttribute => ({ name, type: 'int', value }),
  ints: (name: string, value: readonly number[]): OnnxAttribute => ({ name, type: 'ints', value }),
  float: (name: string, value: number): OnnxAttribute => ({ name, type: 'float', value }),
};

/** Collects nodes and initializers, handing out unique value and node names. */
class Emitter {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private readonly values = new Set<string>();
  private readonly nodeNames = new Set<string>();

  /** `reserved`: names only their owners use (Caffe blob names); `reservedNodes`: node names kept for Dropout layers. */
  constructor(reserved: Iterable<string>, reservedNodes: Iterable<string>) {
    for (const v of reserved) this.values.add(v);
    for (const n of reservedNodes) this.nodeNames.add(n);
  }

  /** A fresh value name from `base` (suffixed `_1`, `_2`, … when taken). */
  value(base: string): string {
    let name = base;
    for (let i = 1; this.values.has(name); i++) name = `${base}_${i}`;
    this.values.add(name);
    return name;
  }

  private nodeName(base: string, exact: boolean): string {
    if (exact) return base;
    let name = base;
    for (let i = 1; this.nodeNames.has(name); i++) name = `${base}_${i}`;
    this.nodeNames.add(name);
    return name;
  }

  /** Adds a node; `exact` keeps `name` as is (a reserved Dropout name). */
  node(opType: string, name: string, inputs: readonly string[], outputs: readonly string[], attributes: readonly OnnxAttribute[] = [], exact = false): void {
    this.nodes.push({ opType, name: this.nodeName(name, exact), inputs, outputs, attributes });
  }

  /** A float initializer; returns its name. */
  floats(base: string, dims: readonly number[], data: Float32Array): string {
    const name = this.value(base);
    this.initializers.push({ name, dataType: 'float', dims, data });
    return name;
  }

  /** A float scalar initializer (dims []). */
  scalar(base: string, v: number): string {
    return this.floats(base, [], Float32Array.of(v));
  }

  /** A 1-D int64 initializer. */
  ints(base: string, values: readonly number[]): string {
    const name = this.value(base);
    this.initializers.push({ name, dataType: 'int64', dims: [values.length], data: values });
    return name;
  }
}

/** One step of a chain: op, the inputs after the running value, attributes. */
interface Step {
  readonly op: string;
  readonly suffix: string;
  readonly extra?: readonly string[];
  readonly attributes?: readonly OnnxAttribute[];
  /** The node is named after the layer exactly (a Dropout). */
  readonly exact?: boolean;
}

/**
 * Emits `steps` one after the other from `x`, the last writing `y`; no step is an Identity.
 * The node of a lone step is named after the layer, those of several `<layer>/<suffix>`.
 */
function chain(em: Emitter, layer: CaffeLayer, x: string, y: string, steps: readonly Step[]): void {
  if (steps.length === 0) {
    em.node('Identity', layer.name, [x], [y]);
    return;
  }
  let cur = x;
  steps.forEach((s, i) => {
    const last = i === steps.length - 1;
    const out = last ? y : em.value(`${layer.name}/${s.suffix}`);
    const name = s.exact || steps.length === 1 ? layer.name : `${layer.name}/${s.suffix}`;
    em.node(s.op, name, [cur, ...(s.extra ?? [])], [out], s.attributes ?? [], s.exact === true);
    cur = out;
  });
}

function known(dims: readonly (number | undefined)[] | undefined, layer: CaffeLayer): number[] {
  if (dims === undefined || dims.some((d) => d === undefined)) {
    throw new McuError('E_INTERNAL', `${layerLabel(layer)}: a shape is unknown after resolving every input`);
  }
  return dims as number[];
}

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function ones(n: number): number[] {
  return Array.from({ length: Math.max(0, n) }, () => 1);
}

/** Emits the ONNX nodes of one Caffe layer: `x` the ONNX names of its bottoms, `y` of its tops. */
function emitLayer(em: Emitter, ls: LayerShapes, x: readonly string[], y: readonly string[]): void {
  const layer = ls.layer;
  const name = layer.name;
  const d = known(ls.bottoms[0], layer);
  const rank = d.length + 1;
  const blob = (i: number): Float32Array => layer.blobs[i]!.data;
  const g = ls.geometry;
  switch (layer.type) {
    case 'ReLU': {
      const slope = numberField(paramOf(layer, 'relu_param'), 'negative_slope', 0);
      chain(em, layer, x[0]!, y[0]!, [
        slope === 0 ? { op: 'Relu', suffix: 'relu' } : { op: 'LeakyRelu', suffix: 'relu', attributes: [attr.float('alpha', slope)] },
      ]);
      return;
    }
    case 'TanH':
      chain(em, layer, x[0]!, y[0]!, [{ op: 'Tanh', suffix: 'tanh' }]);
      return;
    case 'Sigmoid':
      chain(em, layer, x[0]!, y[0]!, [{ op: 'Sigmoid', suffix: 'sigmoid' }]);
      return;
    case 'AbsVal':
      chain(em, layer, x[0]!, y[0]!, [{ op: 'Abs', suffix: 'abs' }]);
      return;
    case 'ELU': {
      const alpha = numberField(paramOf(layer, 'elu_param'), 'alpha', 1);
      chain(em, layer, x[0]!, y[0]!, [{ op: 'Elu', suffix: 'elu', attributes: [attr.float('alpha', alpha)] }]);
      return;
    }
    case 'PReLU': {
      const shared = boolField(paramOf(layer, 'prelu_param'), 'channel_shared', false);
      const slope = em.floats(`${name}.slope`, shared ? [1] : [d[0]!, ...ones(rank - 2)], blob(0));
      chain(em, layer, x[0]!, y[0]!, [{ op: 'PRelu', suffix: 'prelu', extra: [slope] }]);
      return;
    }
    case 'Power':
      emitPower(em, layer, x[0]!, y[0]!);
      return;
    case 'Exp': {
      const p = paramOf(layer, 'exp_param');
      const base = f32(numberField(p, 'base', -1));
      const scale = f32(numberField(p, 'scale', 1));
      const shift = f32(numberField(p, 'shift', 0));
      // ExpLayer: y = outer_scale · exp(inner_scale · x), inner = ln(base)·scale, outer = base^shift.
      const inner = f32((base === -1 ? 1 : f32(Math.log(base))) * scale);
      const outer = shift === 0 ? 1 : f32(base === -1 ? Math.exp(shift) : base ** shift);
      const steps: Step[] = [];
      if (inner !== 1) steps.push({ op: 'Mul', suffix: 'scale', extra: [em.scalar(`${name}.inner_scale`, inner)] });
      steps.push({ op: 'Exp', suffix: 'exp' });
      if (outer !== 1) steps.push({ op: 'Mul', suffix: 'outer', extra: [em.scalar(`${name}.outer_scale`, outer)] });
      chain(em, layer, x[0]!, y[0]!, steps);
      return;
    }
    case 'Log': {
      const p = paramOf(layer, 'log_param');
      const base = f32(numberField(p, 'base', -1));
      const scale = f32(numberField(p, 'scale', 1));
      const shift = f32(numberField(p, 'shift', 0));
      // LogLayer: y = log(shift + scale·x) · base_scale, base_scale = 1 / ln(base).
      const baseScale = base === -1 ? 1 : f32(1 / f32(Math.log(base)));
      const steps: Step[] = [];
      if (scale !== 1) steps.push({ op: 'Mul', suffix: 'scale', extra: [em.scalar(`${name}.scale`, scale)] });
      if (shift !== 0) steps.push({ op: 'Add', suffix: 'shift', extra: [em.scalar(`${name}.shift`, shift)] });
      steps.push({ op: 'Log', suffix: 'log' });
      if (baseScale !== 1) steps.push({ op: 'Mul', suffix: 'base', extra: [em.scalar(`${name}.base_scale`, baseScale)] });
      chain(em, layer, x[0]!, y[0]!, steps);
      return;
    }
    case 'Softmax':
      chain(em, layer, x[0]!, y[0]!, [{ op: 'Softmax', suffix: 'softmax', attributes: [attr.int('axis', g.axis!)] }]);
      return;
    case 'LRN':
      emitLrn(em, layer, x[0]!, y[0]!);
      return;
    case 'Convolution': {
      const c = g.conv!;
      const w = em.floats(`${name}.w`, [c.numOutput, d[0]! / c.group, c.kernel[0], c.kernel[1]], blob(0));
      const inputs = [x[0]!, w];
      if (c.biasTerm) inputs.push(em.floats(`${name}.b`, [c.numOutput], blob(1)));
      em.node(
        'Conv',
        name,
        inputs,
        [y[0]!],
        [
          attr.ints('kernel_shape', c.kernel),
          attr.ints('pads', [c.pad[0], c.pad[1], c.pad[0], c.pad[1]]),
          attr.ints('strides', c.stride),
          attr.ints('dilations', c.dilation),
          attr.int('group', c.group),
        ],
      );
      return;
    }
    case 'InnerProduct':
      emitInnerProduct(em, ls, d, x[0]!, y[0]!);
      return;
    case 'Pooling':
      emitPooling(em, ls, d, x[0]!, y[0]!);
      return;
    case 'Concat':
      if (x.length === 1) em.node('Identity', name, x, y);
      else em.node('Concat', name, x, y, [attr.int('axis', g.axis!)]);
      return;
    case 'Slice':
      if (y.length === 1) em.node('Identity', name, x, y);
      else em.node('Split', name, [x[0]!, em.ints(`${name}.split`, g.sizes as number[])], y, [attr.int('axis', g.axis!)]);
      return;
    case 'Split':
      y.forEach((t) => em.node('Identity', name, [x[0]!], [t]));
      return;
    case 'Eltwise':
      emitEltwise(em, layer, x, y[0]!);
      return;
    case 'Flatten':
    case 'Reshape': {
      const top = known(ls.tops[0], layer);
      em.node('Reshape', name, [x[0]!, em.ints(`${name}.shape`, [0, ...top])], [y[0]!]);
      return;
    }
    case 'BatchNorm': {
      if (rank < 2) {
        throw new McuError(
          'E_UNSUPPORTED',
          `${layerLabel(layer)}: its bottom ${showRow(d)} has one axis (the rows); mcu translates BatchNorm over [N, C, …] only; fix: reshape the bottom to [N, 1]`,
        );
      }
      const p = paramOf(layer, 'batch_norm_param');
      const eps = numberField(p, 'eps', 1e-5);
      const factor = blob(2)[0]!;
      const f = factor === 0 ? 0 : f32(1 / factor);
      const c = d[0]!;
      const mean = blob(0).map((v) => v * f);
      const variance = blob(1).map((v) => v * f);
      em.node(
        'BatchNormalization',
        name,
        [
          x[0]!,
          em.floats(`${name}.gamma`, [c], new Float32Array(c).fill(1)),
          em.floats(`${name}.beta`, [c], new Float32Array(c)),
          em.floats(`${name}.mean`, [c], mean),
          em.floats(`${name}.var`, [c], variance),
        ],
        [y[0]!],
        [attr.float('epsilon', eps)],
      );
      return;
    }
    case 'Scale':
    case 'Bias':
      emitScaleBias(em, ls, d, x, y[0]!);
      return;
    case 'Dropout': {
      const p = paramOf(layer, 'dropout_param');
      const rate = f32(numberField(p, 'dropout_ratio', 0.5));
      const ratio = em.scalar(`${name}.ratio`, rate);
      const steps: Step[] = [{ op: 'Dropout', suffix: 'dropout', extra: [ratio], exact: true }];
      // A fork's scale_train: false trains without rescaling and multiplies by 1 − p at test.
      if (hasField(p, 'scale_train') && !boolField(p, 'scale_train', true)) {
        steps.push({ op: 'Mul', suffix: 'keep', extra: [em.scalar(`${name}.keep`, f32(1 - rate))] });
      }
      chain(em, layer, x[0]!, y[0]!, steps);
      return;
    }
    default:
      throw new McuError('E_INTERNAL', `${layerLabel(layer)}: no translation for a supported type`);
  }
}

/** PowerLayer: y = (shift + scale·x)^power; a constant when power·scale = 0. */
function emitPower(em: Emitter, layer: CaffeLayer, x: string, y: string): void {
  const p = paramOf(layer, 'power_param');
  const power = f32(numberField(p, 'power', 1));
  const scale = f32(numberField(p, 'scale', 1));
  const shift = f32(numberField(p, 'shift', 0));
  const name = layer.name;
  if (f32(power * scale) === 0) {
    const value = power === 0 ? 1 : f32(shift ** power);
    const shape = em.value(`${name}/shape`);
    em.node('Shape', `${name}/shape`, [x], [shape]);
    em.node('Expand', name, [em.scalar(`${name}.value`, value), shape], [y]);
    return;
  }
  const steps: Step[] = [];
  if (scale !== 1) steps.push({ op: 'Mul', suffix: 'scale', extra: [em.scalar(`${name}.scale`, scale)] });
  if (shift !== 0) steps.push({ op: 'Add', suffix: 'shift', extra: [em.scalar(`${name}.shift`, shift)] });
  if (power !== 1) steps.push({ op: 'Pow', suffix: 'pow', extra: [em.scalar(`${name}.power`, power)] });
  chain(em, layer, x, y, steps);
}

/**
 * LRN. ACROSS_CHANNELS: ONNX LRN has Caffe's formula (bias = k). WITHIN_CHANNEL (Caffe builds it
 * from square, AVE pooling with pad (size − 1)/2 and stride 1, power and product):
 * y = x · (1 + alpha · avgpool(x²))^(−beta), k unused, the padding counted in the average.
 */
function emitLrn(em: Emitter, layer: CaffeLayer, x: string, y: string): void {
  const p = paramOf(layer, 'lrn_param');
  const size = numberField(p, 'local_size', 5);
  const alpha = f32(numberField(p, 'alpha', 1));
  const beta = f32(numberField(p, 'beta', 0.75));
  const k = f32(numberField(p, 'k', 1));
  const region = enumField(p, 'norm_region', ['ACROSS_CHANNELS', 'WITHIN_CHANNEL'], 'ACROSS_CHANNELS');
  const name = layer.name;
  if (region === 'ACROSS_CHANNELS') {
    em.node('LRN', name, [x], [y], [attr.int('size', size), attr.float('alpha', alpha), attr.float('beta', beta), attr.float('bias', k)]);
    return;
  }
  const pad = (size - 1) / 2;
  const sq = em.value(`${name}/square`);
  em.node('Mul', `${name}/square`, [x, x], [sq]);
  const steps: Step[] = [
    {
      op: 'AveragePool',
      suffix: 'pool',
      attributes: [
        attr.ints('kernel_shape', [size, size]),
        attr.ints('pads', [pad, pad, pad, pad]),
        attr.ints('strides', [1, 1]),
        attr.int('count_include_pad', 1),
      ],
    },
  ];
  if (alpha !== 1) steps.push({ op: 'Mul', suffix: 'alpha', extra: [em.scalar(`${name}.alpha`, alpha)] });
  steps.push({ op: 'Add', suffix: 'shift', extra: [em.scalar(`${name}.one`, 1)] });
  steps.push({ op: 'Pow', suffix: 'pow', extra: [em.scalar(`${name}.power`, -beta)] });
  const scale = em.value(`${name}/scale`);
  chain(em, layer, sq, scale, steps);
  em.node('Mul', name, [x, scale], [y]);
}

/**
 * InnerProduct: axis 1 → Flatten (when the bottom has more than 2 axes) + Gemm; axis a > 1 →
 * Reshape to [N, d1, …, d(a−1), K] + MatMul with the weights as [K, num_output] + Add.
 */
function emitInnerProduct(em: Emitter, ls: LayerShapes, d: readonly number[], x: string, y: string): void {
  const layer = ls.layer;
  const name = layer.name;
  const p = paramOf(layer, 'inner_product_param');
  const numOutput = numberField(p, 'num_output', 0);
  const biasTerm = boolField(p, 'bias_term', true);
  const transpose = boolField(p, 'transpose', false);
  const a = ls.geometry.axis!;
  const k = product(d.slice(a - 1));
  const weights = layer.blobs[0]!.data;
  if (a === 1) {
    let flat = x;
    if (d.length > 1) {
      flat = em.value(`${name}/flatten`);
      em.node('Flatten', `${name}/flatten`, [x], [flat], [attr.int('axis', 1)]);
    }
    const inputs = [flat, em.floats(`${name}.w`, transpose ? [k, numOutput] : [numOutput, k], weights)];
    if (biasTerm) inputs.push(em.floats(`${name}.b`, [numOutput], layer.blobs[1]!.data));
    em.node('Gemm', name, inputs, [y], [attr.int('transB', transpose ? 0 : 1)]);
    return;
  }
  let kByOut = weights;
  if (!transpose) {
    kByOut = new Float32Array(k * numOutput);
    for (let o = 0; o < numOutput; o++) for (let i = 0; i < k; i++) kByOut[i * numOutput + o] = weights[o * k + i]!;
  }
  const flat = em.value(`${name}/reshape`);
  em.node('Reshape', `${name}/reshape`, [x, em.ints(`${name}.shape`, [...Array<number>(a).fill(0), -1])], [flat]);
  const w = em.floats(`${name}.w`, [k, numOutput], kByOut);
  if (!biasTerm) {
    em.node('MatMul', name, [flat, w], [y]);
    return;
  }
  const mm = em.value(`${name}/matmul`);
  em.node('MatMul', `${name}/matmul`, [flat, w], [mm]);
  em.node('Add', `${name}/bias`, [mm, em.floats(`${name}.b`, [numOutput], layer.blobs[1]!.data)], [y]);
}

/** ONNX's floor-mode output size of a pooling with pads `begin`, `end`. */
function onnxPoolOut(n: number, k: number, begin: number, end: number, s: number): number {
  return Math.floor((n + begin + end - k) / s) + 1;
}

/**
 * Pooling with Caffe's output size expressed exactly. MAX: MaxPool with begin pads p and end pads
 * chosen so that ONNX's floor output equals Caffe's (the extra end padding is ignored by max).
 * AVE: Caffe divides by the window clipped to [−p, in + p) — the padding counts, the ceil
 * overhang does not — so: Pad with zeros (p on both sides), then AveragePool with
 * count_include_pad 0 and only the overhang as end pads. Global: GlobalMaxPool / GlobalAveragePool.
 */
function emitPooling(em: Emitter, ls: LayerShapes, d: readonly number[], x: string, y: string): void {
  const layer = ls.layer;
  const name = layer.name;
  const g = ls.geometry.pool!;
  if (g.global) {
    em.node(g.method === 'MAX' ? 'GlobalMaxPool' : 'GlobalAveragePool', name, [x], [y]);
    return;
  }
  const n = [d[1]!, d[2]!];
  const k = [g.kernel[0]!, g.kernel[1]!];
  const out = [g.out[0]!, g.out[1]!];
  const s = g.stride;
  const p = g.pad;
  const check = (begin: readonly number[], end: readonly number[]): void => {
    for (let i = 0; i < 2; i++) {
      if (onnxPoolOut(n[i]!, k[i]!, begin[i]!, end[i]!, s[i]!) !== out[i] || end[i]! >= k[i]! || begin[i]! >= k[i]!) {
        throw new McuError(
          'E_INTERNAL',
          `${layerLabel(layer)}: the ONNX pooling pads [${begin.join(', ')}, ${end.join(', ')}] do not give Caffe's size [${out.join(', ')}]`,
        );
      }
    }
  };
  if (g.method === 'MAX') {
    const end = [0, 1].map((i) => Math.max(0, (out[i]! - 1) * s[i]! + k[i]! - n[i]! - p[i]!));
    check(p, end);
    em.node('MaxPool', name, [x], [y], [attr.ints('kernel_shape', k), attr.ints('strides', s), attr.ints('pads', [p[0], p[1], end[0]!, end[1]!])]);
    return;
  }
  let padded = x;
  if (p[0] !== 0 || p[1] !== 0) {
    padded = em.value(`${name}/pad`);
    em.node('Pad', `${name}/pad`, [x, em.ints(`${name}.pads`, [0, 0, p[0], p[1], 0, 0, p[0], p[1]])], [padded]);
  }
  const m = [n[0]! + 2 * p[0], n[1]! + 2 * p[1]];
  const end = [0, 1].map((i) => Math.max(0, (out[i]! - 1) * s[i]! + k[i]! - m[i]!));
  for (let i = 0; i < 2; i++) {
    if (onnxPoolOut(m[i]!, k[i]!, 0, end[i]!, s[i]!) !== out[i] || end[i]! >= k[i]!) {
      throw new McuError('E_INTERNAL', `${layerLabel(layer)}: the ONNX pooling end pads [${end.join(', ')}] do not give Caffe's size [${out.join(', ')}]`);
    }
  }
  em.node(
    'AveragePool',
    name,
    [padded],
    [y],
    [attr.ints('kernel_shape', k), attr.ints('strides', s), attr.ints('pads', [0, 0, end[0]!, end[1]!]), attr.int('count_include_pad', 0)],
  );
}

/** Eltwise: SUM (Σ coeff_i · x_i), PROD (a chain of Mul), MAX. */
function emitEltwise(em: Emitter, layer: CaffeLayer, x: readonly string[], y: string): void {
  const name = layer.name;
  const p = paramOf(layer, 'eltwise_param');
  const op = enumField(p, 'operation', ['PROD', 'SUM', 'MAX'], 'SUM');
  if (op === 'MAX') {
    em.node('Max', name, x, [y]);
    return;
  }
  if (op === 'PROD') {
    let cur = x[0]!;
    for (let i = 1; i < x.length; i++) {
      const out = i === x.length - 1 ? y : em.value(`${name}/prod${i}`);
      em.node('Mul', i === x.length - 1 ? name : `${name}/prod${i}`, [cur, x[i]!], [out]);
      cur = out;
    }
    return;
  }
  const coeff = numberList(p, 'coeff').map(f32);
  const terms = x.map((b, i) => {
    const c = coeff.length > 0 ? coeff[i]! : 1;
    if (c === 1) return b;
    const t = em.value(`${name}/term${i}`);
    em.node('Mul', `${name}/term${i}`, [b, em.scalar(`${name}.coeff${i}`, c)], [t]);
    return t;
  });
  em.node('Sum', name, terms, [y]);
}

/**
 * Scale / Bias. One bottom: the blob, reshaped to its dims followed by 1s, so that numpy
 * broadcasting puts it at `axis` (Scale with bias_term: then Add blob 1). Two bottoms (axis 0):
 * bottom 1 reshaped to [N, its dims, 1, …] (or as is when of the same rank).
 */
function emitScaleBias(em: Emitter, ls: LayerShapes, d: readonly number[], x: readonly string[], y: string): void {
  const layer = ls.layer;
  const name = layer.name;
  const s = ls.geometry.scale!;
  const op = layer.type === 'Scale' ? 'Mul' : 'Add';
  if (s.twoBottoms) {
    const od = s.operandShape as number[];
    let operand = x[1]!;
    if (od.length < d.length) {
      operand = em.value(`${name}/operand`);
      em.node('Reshape', `${name}/operand`, [x[1]!, em.ints(`${name}.shape`, [0, ...od, ...ones(d.length - od.length)])], [operand]);
    }
    em.node(op, name, [x[0]!, operand], [y]);
    return;
  }
  const dims = s.operandShape.length === 0 ? [] : [...(s.operandShape as number[]), ...ones(d.length + 1 - s.axis - s.operandShape.length)];
  const first = em.floats(layer.type === 'Scale' ? `${name}.w` : `${name}.b`, dims, layer.blobs[0]!.data);
  if (!s.bias) {
    em.node(op, name, [x[0]!, first], [y]);
    return;
  }
  const scaled = em.value(`${name}/scale`);
  em.node('Mul', `${name}/scale`, [x[0]!, first], [scaled]);
  em.node('Add', `${name}/bias`, [scaled, em.floats(`${name}.b`, dims, layer.blobs[1]!.data)], [y]);
}

/**
 * Translates a Caffe net (with weights) into an ONNX model (opset 13) that computes Caffe's
 * TEST-phase output, the batch axis symbolic (`options.batchDim`, default 'N').
 *
 * Throws McuError E_USAGE for a net without weights, E_INPUT for unknown or ill-fitting input
 * shapes, E_MODEL for inconsistent nets (blob shapes and counts), E_UNSUPPORTED for layers and
 * options mcu cannot run (the message names the layer, its type and the supported types).
 */
export function caffeToOnnx(net: CaffeNet, options: CaffeToOnnxOptions = {}): CaffeOnnx {
  if (net.weights === 'missing') {
    const what = net.files.prototxt ?? `net '${net.name}'`;
    throw new McuError('E_USAGE', `${what} has no weights (structure only): give its .caffemodel to run it (mcu inspect shows the structure without it)`);
  }
  const batchDim = options.batchDim ?? 'N';
  if (typeof batchDim !== 'string' || batchDim.trim() === '') {
    throw new McuError('E_USAGE', `batchDim '${String(batchDim)}' must be a non-empty name for the batch axis (default 'N')`);
  }
  const shapes = analyzeNet(net, options, 'strict');
  const inputNames = new Set(net.inputs.map((i) => i.name));
  const blobNames = new Set<string>(inputNames);
  const writesLeft = new Map<string, number>();
  for (const l of net.layers) {
    for (const t of l.top) {
      blobNames.add(t);
      writesLeft.set(t, (writesLeft.get(t) ?? 0) + 1);
    }
  }
  const em = new Emitter(
    blobNames,
    net.layers.filter((l) => l.type === 'Dropout').map((l) => l.name),
  );
  const current = new Map<string, string>([...inputNames].map((n) => [n, n]));
  const writes = new Map<string, number>();
  const valueInfo: OnnxValueInfo[] = [];
  const row = (dims: readonly (number | undefined)[] | undefined): (number | string)[] => [batchDim, ...(dims as number[])];

  for (const ls of shapes.layers) {
    const x = ls.layer.bottom.map((b) => current.get(b)!);
    const y = ls.layer.top.map((t, i) => {
      const k = (writes.get(t) ?? 0) + 1;
      writes.set(t, k);
      const left = writesLeft.get(t)! - 1;
      writesLeft.set(t, left);
      const onnx = left === 0 && !inputNames.has(t) ? t : em.value(`${t}@${k}`);
      current.set(t, onnx);
      valueInfo.push({ name: onnx, dims: row(ls.tops[i]) });
      return onnx;
    });
    emitLayer(em, ls, x, y);
  }

  // An input no layer reads would be a feed ORT insists on: it is left out (shapes.ts warns).
  const inputs = shapes.inputs.filter((i) => net.layers.some((l) => l.bottom.includes(i.name)));
  const outputs = shapes.outputs.map((o) => ({ name: current.get(o.name)!, dims: o.dims as number[] }));
  const outputNames = new Set(outputs.map((o) => o.name));
  const files = [net.files.prototxt, net.files.caffemodel].filter((f): f is string => f !== undefined);
  const metadata: Record<string, string> = { 'mcu.source': 'caffe', 'caffe.net': net.name };
  if (files.length > 0) metadata['caffe.files'] = files.join(', ');
  const bytes = encodeOnnxModel({
    graph: {
      name: net.name || 'caffe',
      nodes: em.nodes,
      initializers: em.initializers,
      inputs: inputs.map((i) => ({ name: i.name, dims: row(i.dims) })),
      outputs: outputs.map((o) => ({ name: o.name, dims: row(o.dims) })),
      valueInfo: valueInfo.filter((v) => !outputNames.has(v.name)),
    },
    metadata,
  });
  const warnings = [...net.warnings, ...shapes.warnings];
  for (const o of shapes.outputs) {
    const onnx = current.get(o.name)!;
    if (onnx !== o.name)
      warnings.push(`output '${o.name}' is named '${onnx}' in the ONNX graph: its final value is written in place over the input of that name`);
  }
  return {
    bytes,
    inputs: inputs.map((i) => ({ name: i.name, dims: i.dims as number[] })),
    outputs,
    sites: caffeSites(net),
    warnings,
  };
}
