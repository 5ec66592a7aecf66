/**
 * Caffe shape inference over a {@link CaffeNet}, as Caffe's own `Reshape()` of each layer
 * computes it, and the check of every layer's weight blobs against the shapes Caffe would
 * allocate for them (Caffe's `CopyTrainedLayersFrom` with `Blob::ShapeEquals`).
 *
 * Shapes are PER ROW: axis 0 of every Caffe blob is the batch, which mcu leaves symbolic (it
 * runs any number of rows; the declared batch size is ignored), so a blob [N, C, H, W] is held
 * as [C, H, W]. Caffe's axis `a` (a ≥ 1) is per-row index a − 1; a layer that would mix rows
 * (an axis-0 Softmax, Concat, Slice, InnerProduct, Flatten, a Reshape that changes axis 0, a
 * parameter shaped like the batch) is E_UNSUPPORTED.
 *
 * Errors: E_MODEL for nets Caffe itself refuses (a blob of the wrong shape or count, a kernel
 * larger than its padded input, mismatched Concat/Eltwise bottoms); E_INPUT when such a
 * mismatch follows from an input shape the user gave (`inputShapes`); E_INPUT for an input whose
 * shape is unknown and not given; E_UNSUPPORTED for valid nets mcu cannot run.
 */
import { McuError, type McuErrorCode } from '@mcu/core';
import type { CaffeBlob, CaffeInput, CaffeLayer, CaffeNet, CaffeToOnnxOptions, Message, Scalar } from './types.js';

/** The layer types mcu translates (sorted). */
export const SUPPORTED_LAYER_TYPES: readonly string[] = [
  'AbsVal',
  'BatchNorm',
  'Bias',
  'Concat',
  'Convolution',
  'Dropout',
  'ELU',
  'Eltwise',
  'Exp',
  'Flatten',
  'InnerProduct',
  'LRN',
  'Log',
  'PReLU',
  'Pooling',
  'Power',
  'ReLU',
  'Reshape',
  'Scale',
  'Sigmoid',
  'Slice',
  'Softmax',
  'Split',
  'TanH',
].sort();

/** A blob's per-row dims (axis 0, the rows, left out); an undefined entry is an unknown dim. */
export type RowDims = readonly (number | undefined)[];

/** A blob's per-row shape, or undefined when not even its rank is known (describe mode only). */
export type RowShape = RowDims | undefined;

/** The shapes of one layer's bottoms and tops, in the order of `layer.bottom` / `layer.top`. */
export interface LayerShapes {
  readonly layer: CaffeLayer;
  readonly bottoms: readonly RowShape[];
  readonly tops: readonly RowShape[];
  /** The layer's parameters as resolved against its bottoms (what the translation needs). */
  readonly geometry: LayerGeometry;
  /** Describe mode: why mcu cannot translate the layer (the E_UNSUPPORTED message); its tops are then unknown. */
  readonly unsupported?: string;
}

/** The parameters of a layer resolved against its bottoms' shapes ({} for layers without any). */
export interface LayerGeometry {
  /** The full (batch axis = 0) canonical axis: Softmax, Concat, Slice, InnerProduct, Flatten start. */
  readonly axis?: number;
  readonly conv?: ConvGeometry;
  readonly pool?: PoolGeometry;
  /** Slice: the size of each top along `axis`. */
  readonly sizes?: readonly (number | undefined)[];
  readonly scale?: ScaleBiasResult;
}

/** A graph input after resolution: its per-row dims and where they came from. */
export interface ResolvedInput {
  readonly name: string;
  /** CaffeInput.from, for messages. */
  readonly from: string;
  readonly dims: RowShape;
  /** 'prototxt': declared; 'inputShapes': given by the user; 'weights': K of the InnerProduct that is its only consumer; 'unknown' (describe mode). */
  readonly source: 'prototxt' | 'inputShapes' | 'weights' | 'unknown';
}

/** A graph output: a blob that no later layer consumes (its final version), in the order of that final write. */
export interface OutputShape {
  readonly name: string;
  readonly dims: RowShape;
}

/** The result of {@link analyzeNet}. */
export interface NetShapes {
  readonly inputs: readonly ResolvedInput[];
  readonly layers: readonly LayerShapes[];
  readonly outputs: readonly OutputShape[];
  /** One line each: inputs no layer uses, overridden declared shapes. */
  readonly warnings: readonly string[];
}

/** A Dropout layer as a stochastic site. */
export interface CaffeSite {
  readonly name: string;
  /** dropout_ratio (default 0.5). */
  readonly rate: number;
  /** 'inverted' (BVLC: train scales by 1/(1−p), test is the identity); 'none' for a fork's `scale_train: false` (test multiplies by 1−p). */
  readonly scaling: 'inverted' | 'none';
}

/** The structure of a Caffe net, from {@link describeCaffe}. Dims are per row (without the batch axis). */
export interface CaffeDescription {
  readonly name: string;
  readonly inputs: readonly { readonly name: string; readonly from: string; readonly dims: RowShape }[];
  readonly outputs: readonly OutputShape[];
  readonly sites: readonly CaffeSite[];
  readonly layers: readonly {
    readonly name: string;
    readonly type: string;
    readonly bottom: readonly string[];
    readonly top: readonly string[];
    /** Per top, its per-row shape (undefined entries or undefined: unknown). */
    readonly shapes: readonly RowShape[];
    /** Set when mcu cannot translate the layer: the reason. */
    readonly unsupported?: string;
  }[];
  readonly warnings: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Reading LayerParameter fields (absent fields read as caffe.proto's default).

type FieldValue = Message[string];

function isMessage(v: unknown): v is Message {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/** The last value of a field (protobuf: a repeated occurrence of a singular field overrides). */
function lastValue(v: FieldValue): Scalar | Message | undefined {
  if (v instanceof Float32Array || v instanceof Float64Array) return v.length > 0 ? v[v.length - 1] : undefined;
  if (Array.isArray(v)) return v.length > 0 ? (v[v.length - 1] as Scalar | Message) : undefined;
  return v as Scalar | Message | undefined;
}

/** A layer's sub-message `name` (e.g. 'convolution_param'), {} when absent. */
export function paramOf(layer: CaffeLayer, name: string): Message {
  const v = lastValue(layer.param[name]);
  return isMessage(v) ? v : {};
}

/** The sub-message `field` of a message, {} when absent. */
export function subMessage(msg: Message, field: string): Message {
  const v = lastValue(msg[field]);
  return isMessage(v) ? v : {};
}

/** Whether a field is present (a repeated field: non-empty). */
export function hasField(msg: Message, field: string): boolean {
  const v = msg[field];
  if (v === undefined) return false;
  if (Array.isArray(v) || v instanceof Float32Array || v instanceof Float64Array) return v.length > 0;
  return true;
}

function toNumber(v: Scalar | Message, field: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  throw new McuError('E_MODEL', `field '${field}': expected a number, got ${describeValue(v)}; fix: correct the prototxt`);
}

function describeValue(v: Scalar | Message): string {
  if (typeof v === 'string') return `'${v}'`;
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (isMessage(v)) return 'a message';
  return String(v);
}

/** A singular numeric field, `def` when absent. */
export function numberField(msg: Message, field: string, def: number): number {
  const v = lastValue(msg[field]);
  return v === undefined ? def : toNumber(v, field);
}

/** A singular numeric field, undefined when absent. */
export function optionalNumber(msg: Message, field: string): number | undefined {
  const v = lastValue(msg[field]);
  return v === undefined ? undefined : toNumber(v, field);
}

/** A repeated numeric field ([] when absent; a lone value reads as one element). */
export function numberList(msg: Message, field: string): number[] {
  const v = msg[field];
  if (v === undefined) return [];
  if (v instanceof Float32Array || v instanceof Float64Array) return Array.from(v);
  if (Array.isArray(v)) return v.map((x) => toNumber(x as Scalar | Message, field));
  return [toNumber(v as Scalar | Message, field)];
}

/** A singular bool field, `def` when absent. */
export function boolField(msg: Message, field: string, def: boolean): boolean {
  const v = lastValue(msg[field]);
  if (v === undefined) return def;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new McuError('E_MODEL', `field '${field}': expected true or false, got ${describeValue(v)}; fix: correct the prototxt`);
}

/** A singular enum field as its value name (`names[i]` is the name of value i), `def` when absent. */
export function enumField(msg: Message, field: string, names: readonly string[], def: string): string {
  const v = lastValue(msg[field]);
  if (v === undefined) return def;
  if (typeof v === 'string' && names.includes(v)) return v;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < names.length) return names[v]!;
  throw new McuError('E_MODEL', `field '${field}': ${describeValue(v)} is not one of ${names.join(', ')}; fix: correct the prototxt`);
}

// ---------------------------------------------------------------------------------------------
// Messages.

/** "layer 'conv1' (Convolution, prototxt line 12)". */
export function layerLabel(layer: CaffeLayer): string {
  return `layer '${layer.name}' (${layer.type}${layer.line !== undefined ? `, prototxt line ${layer.line}` : ''})`;
}

/** A per-row shape with the batch axis written as N: "[N, 3, 32, 32]". */
export function showRow(dims: RowShape): string {
  if (dims === undefined) return '[N, ?]';
  return `[${['N', ...dims.map((d) => (d === undefined ? '?' : String(d)))].join(', ')}]`;
}

/** A plain shape: "[10, 784]". */
export function showShape(dims: readonly (number | undefined)[]): string {
  return `[${dims.map((d) => (d === undefined ? '?' : String(d))).join(', ')}]`;
}

function unsupported(layer: CaffeLayer, what: string, fix: string): McuError {
  return new McuError('E_UNSUPPORTED', `${layerLabel(layer)}: ${what}; mcu cannot translate this; fix: ${fix}`);
}

function invalid(layer: CaffeLayer, what: string): McuError {
  return new McuError('E_MODEL', `${layerLabel(layer)}: ${what}; Caffe refuses this net too; fix: correct the prototxt`);
}

// ---------------------------------------------------------------------------------------------
// Geometry shared with the translation.

/** Caffe's CanonicalAxisIndex over a blob of `rank` axes (including the batch axis); E_MODEL out of range. */
function canonicalAxis(layer: CaffeLayer, axis: number, rank: number, field: string): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw invalid(layer, `${field} ${axis} is out of range for a bottom of ${rank} axes (valid: ${-rank} to ${rank - 1})`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** The resolved parameters of a 2-D Convolution layer. */
export interface ConvGeometry {
  readonly numOutput: number;
  readonly group: number;
  readonly biasTerm: boolean;
  /** [h, w] each. */
  readonly kernel: readonly [number, number];
  readonly pad: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly dilation: readonly [number, number];
}

/** Two spatial values from a repeated field (0, 1 or 2 values) with the `_h`/`_w` override, as BaseConvolutionLayer::LayerSetUp reads them. */
function spatialPair(layer: CaffeLayer, p: Message, repeated: string, h: string | undefined, w: string | undefined, def: number | undefined): [number, number] {
  const list = numberList(p, repeated);
  if (h !== undefined && w !== undefined && (hasField(p, h) || hasField(p, w))) {
    if (list.length > 0) throw invalid(layer, `either ${repeated} or ${h}/${w} should be specified, not both`);
    return [numberField(p, h, def ?? 0), numberField(p, w, def ?? 0)];
  }
  if (list.length === 0) {
    if (def === undefined) throw invalid(layer, `convolution_param needs ${repeated} (or ${h}/${w})`);
    return [def, def];
  }
  if (list.length === 1) return [list[0]!, list[0]!];
  if (list.length === 2) return [list[0]!, list[1]!];
  throw unsupported(layer, `${repeated} has ${list.length} values (a ${list.length}-D convolution)`, 'mcu translates 2-D convolutions only');
}

function checkNonNegativeInt(layer: CaffeLayer, what: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw invalid(layer, `${what} is ${v}; it must be an integer ≥ ${min}`);
}

/** The parameters of a Convolution layer (its `axis` is checked by the shape inference, which knows the rank). */
export function convGeometry(layer: CaffeLayer): ConvGeometry {
  const p = paramOf(layer, 'convolution_param');
  const numOutput = optionalNumber(p, 'num_output');
  if (numOutput === undefined) throw invalid(layer, 'convolution_param has no num_output');
  checkNonNegativeInt(layer, 'num_output', numOutput, 1);
  const group = numberField(p, 'group', 1);
  checkNonNegativeInt(layer, 'group', group, 1);
  if (numOutput % group !== 0) throw invalid(layer, `num_output ${numOutput} is not a multiple of group ${group}`);
  const kernel = spatialPair(layer, p, 'kernel_size', 'kernel_h', 'kernel_w', undefined);
  const pad = spatialPair(layer, p, 'pad', 'pad_h', 'pad_w', 0);
  const stride = spatialPair(layer, p, 'stride', 'stride_h', 'stride_w', 1);
  const dilation = spatialPair(layer, p, 'dilation', undefined, undefined, 1);
  kernel.forEach((v) => checkNonNegativeInt(layer, 'the kernel size', v, 1));
  pad.forEach((v) => checkNonNegativeInt(layer, 'the pad', v, 0));
  stride.forEach((v) => checkNonNegativeInt(layer, 'the stride', v, 1));
  dilation.forEach((v) => checkNonNegativeInt(layer, 'the dilation', v, 1));
  return { numOutput, group, biasTerm: boolField(p, 'bias_term', true), kernel, pad, stride, dilation };
}

/** Caffe's convolution output size (floor), undefined when the input size is unknown. */
function convOut(n: number | undefined, k: number, p: number, s: number, d: number): number | undefined {
  if (n === undefined) return undefined;
  return Math.floor((n + 2 * p - (d * (k - 1) + 1)) / s) + 1;
}

/**
 * The resolved parameters of a Pooling layer over an input of H × W. `kernel` (global: H × W)
 * and `out` are undefined only where the input size is unknown (describe mode).
 */
export interface PoolGeometry {
  readonly method: 'MAX' | 'AVE';
  readonly global: boolean;
  readonly kernel: readonly [number | undefined, number | undefined];
  readonly pad: readonly [number, number];
  readonly stride: readonly [number, number];
  /** Caffe's output size [pooled_height, pooled_width]. */
  readonly out: readonly [number | undefined, number | undefined];
}

const POOL_METHODS = ['MAX', 'AVE', 'STOCHASTIC'] as const;
const ROUND_MODES = ['CEIL', 'FLOOR'] as const;

/**
 * A Pooling layer's parameters as PoolingLayer::LayerSetUp checks them, and its output size as
 * PoolingLayer::Reshape computes it (CEIL by default: ceil((in + 2p − k)/s) + 1, then, when any
 * pad is non-zero, one less where the last window would start at or after in + p). Sizes
 * undefined (unknown input) give undefined outputs.
 */
export function poolGeometry(layer: CaffeLayer, h: number | undefined, w: number | undefined): PoolGeometry {
  const p = paramOf(layer, 'pooling_param');
  const method = enumField(p, 'pool', POOL_METHODS, 'MAX');
  if (method === 'STOCHASTIC') {
    throw unsupported(layer, 'pool: STOCHASTIC (random at training, a weighted average at test)', 'use MAX or AVE pooling');
  }
  const global = boolField(p, 'global_pooling', false);
  const hasK = hasField(p, 'kernel_size');
  const hasKhw = hasField(p, 'kernel_h') && hasField(p, 'kernel_w');
  if (global) {
    if (hasK || hasField(p, 'kernel_h') || hasField(p, 'kernel_w')) throw invalid(layer, 'with global_pooling: true the kernel size cannot be specified');
  } else if (hasK === hasKhw) {
    throw invalid(
      layer,
      hasK ? 'the kernel is kernel_size OR kernel_h and kernel_w, not both' : 'pooling_param needs kernel_size (or both kernel_h and kernel_w)',
    );
  }
  const pair = (single: string, fh: string, fw: string, def: number): [number, number] => {
    const hasHW = hasField(p, fh) || hasField(p, fw);
    if (hasHW && (hasField(p, single) || !hasField(p, fh) || !hasField(p, fw))) {
      throw invalid(layer, `${single.replace('_size', '')} is ${single} OR ${fh} and ${fw}`);
    }
    return hasHW ? [numberField(p, fh, def), numberField(p, fw, def)] : [numberField(p, single, def), numberField(p, single, def)];
  };
  const pad = pair('pad', 'pad_h', 'pad_w', 0);
  const stride = pair('stride', 'stride_h', 'stride_w', 1);
  const kernel: [number | undefined, number | undefined] = global
    ? [h, w]
    : hasK
      ? [numberField(p, 'kernel_size', 0), numberField(p, 'kernel_size', 0)]
      : [numberField(p, 'kernel_h', 0), numberField(p, 'kernel_w', 0)];
  kernel.forEach((k) => k !== undefined && checkNonNegativeInt(layer, 'the kernel size', k, 1));
  pad.forEach((v) => checkNonNegativeInt(layer, 'the pad', v, 0));
  stride.forEach((v) => checkNonNegativeInt(layer, 'the stride', v, 1));
  if (global && (pad[0] !== 0 || pad[1] !== 0 || stride[0] !== 1 || stride[1] !== 1)) {
    throw invalid(layer, 'with global_pooling: true only pad = 0 and stride = 1 are allowed');
  }
  for (let i = 0; i < 2; i++) {
    const k = kernel[i];
    if (k !== undefined && pad[i]! >= k) throw invalid(layer, `the pad ${pad[i]} must be smaller than the kernel ${k}`);
  }
  const ceil = enumField(p, 'round_mode', ROUND_MODES, 'CEIL') === 'CEIL';
  const anyPad = pad[0] !== 0 || pad[1] !== 0;
  const size = (n: number | undefined, k: number | undefined, pd: number, s: number): number | undefined => {
    if (n === undefined || k === undefined) return undefined;
    if (global) return 1;
    const q = (n + 2 * pd - k) / s;
    let out = (ceil ? Math.ceil(q) : Math.floor(q)) + 1;
    if (anyPad && (out - 1) * s >= n + pd) out--;
    return out;
  };
  const out: [number | undefined, number | undefined] = [size(h, kernel[0], pad[0], stride[0]), size(w, kernel[1], pad[1], stride[1])];
  return { method: method as 'MAX' | 'AVE', global, kernel, pad, stride, out };
}

// ---------------------------------------------------------------------------------------------
// The analysis.

/** Context of one layer's inference: how to report a shape problem, whether to check blobs. */
interface LayerContext {
  readonly layer: CaffeLayer;
  readonly net: CaffeNet;
  /** The user-given input shapes the layer's bottoms depend on ("data=[1, 28, 28]"). */
  readonly given: readonly string[];
  /** Check blobs (weights present). */
  readonly checkBlobs: boolean;
  /** The batch sizes the inputs declare (Caffe's own; mcu runs any). */
  readonly batches: readonly number[];
}

/**
 * A shape problem of a layer: E_INPUT when it follows from a user-given input shape, else
 * `code` (E_MODEL: Caffe refuses the net; E_UNSUPPORTED: mcu cannot run it).
 */
function shapeProblem(ctx: LayerContext, what: string, code: McuErrorCode = 'E_MODEL', fix?: string): McuError {
  if (ctx.given.length > 0) {
    return new McuError(
      'E_INPUT',
      `${layerLabel(ctx.layer)}: ${what}; this follows from the given input shape ${ctx.given.join(', ')} (inputShapes, --input-shape); ` +
        'fix: give the shape the net was trained with, or omit it to use the prototxt',
    );
  }
  if (code === 'E_UNSUPPORTED') return unsupported(ctx.layer, what, fix ?? 'change the net');
  return invalid(ctx.layer, what);
}

/** An expected weight blob: what it is, and its shape (unknown entries are not compared). */
interface ExpectedBlob {
  readonly what: string;
  readonly shape: readonly (number | undefined)[];
}

/** Caffe's Blob::ShapeEquals: a legacy blob compares with the target padded to 4 axes with leading 1s. */
function blobMatches(blob: CaffeBlob, target: readonly (number | undefined)[]): boolean {
  const eq = (a: number | undefined, b: number | undefined): boolean => a === undefined || b === undefined || a === b;
  if (blob.legacy) {
    if (target.length > 4 || blob.shape.length > 4) return false;
    const t = [...Array<number>(4 - target.length).fill(1), ...target];
    const s = [...Array<number>(4 - blob.shape.length).fill(1), ...blob.shape];
    return t.every((d, i) => eq(d, s[i]));
  }
  return blob.shape.length === target.length && target.every((d, i) => eq(d, blob.shape[i]));
}

/** The check of a layer's blobs: their count, each one's shape and its data length. */
function checkLayerBlobs(ctx: LayerContext, expected: readonly ExpectedBlob[], why: string): void {
  if (!ctx.checkBlobs) return;
  const { layer } = ctx;
  const file = ctx.net.files.caffemodel ?? 'the caffemodel';
  const blobs = layer.blobs;
  if (blobs.length !== expected.length) {
    const names = expected.map((e) => e.what).join(', ');
    const needs = expected.length === 0 ? `a ${layer.type} layer has none` : `expected ${expected.length} (${names}${why ? `: ${why}` : ''})`;
    const has = blobs.length === 0 ? 'has no weights' : `has ${blobs.length} blob${blobs.length === 1 ? '' : 's'}`;
    throw new McuError('E_MODEL', `${layerLabel(layer)} ${has} in ${file}; ${needs}; fix: use the caffemodel trained with this prototxt`);
  }
  expected.forEach((e, i) => {
    const blob = blobs[i]!;
    const count = blob.shape.reduce((a, b) => a * b, 1);
    if (blob.data.length !== count) {
      throw new McuError(
        'E_MODEL',
        `${layerLabel(layer)}: blob ${i} (${e.what}) in ${file} has ${blob.data.length} values for its shape ${showShape(blob.shape)} (${count}); the file is damaged`,
      );
    }
    if (!blobMatches(blob, e.shape)) {
      const legacy = blob.legacy ? ' (legacy num, channels, height, width)' : '';
      const has = `blob ${i} (${e.what}) has shape ${showShape(blob.shape)}${legacy} in ${file}`;
      if (ctx.given.length > 0) throw shapeProblem(ctx, `${has}, but the layer then needs ${showShape(e.shape)}`);
      const what = `${has}, but the prototxt needs ${showShape(e.shape)}`;
      throw new McuError('E_MODEL', `${layerLabel(layer)}: ${what}; fix: use the caffemodel trained with this prototxt`);
    }
  });
}

function known(d: RowShape): d is readonly number[] {
  return d?.every((x) => x !== undefined) === true;
}

function productOf(dims: readonly (number | undefined)[]): number | undefined {
  let p = 1;
  for (const d of dims) {
    if (d === undefined) return undefined;
    p *= d;
  }
  return p;
}

function exactCounts(layer: CaffeLayer, bottoms: [number, number], tops: [number, number]): void {
  const b = layer.bottom.length;
  const t = layer.top.length;
  const range = ([lo, hi]: [number, number]): string => (lo === hi ? String(lo) : hi === Infinity ? `at least ${lo}` : `${lo} to ${hi}`);
  if (b < bottoms[0] || b > bottoms[1]) throw invalid(layer, `it has ${b} bottom${b === 1 ? '' : 's'}; a ${layer.type} layer takes ${range(bottoms)}`);
  if (t < tops[0] || t > tops[1]) throw invalid(layer, `it has ${t} top${t === 1 ? '' : 's'}; a ${layer.type} layer makes ${range(tops)}`);
}

const NONE: readonly ExpectedBlob[] = [];

/** One layer's inference: its tops' shapes and its resolved parameters. */
interface Inferred {
  readonly tops: RowShape[];
  readonly geometry: LayerGeometry;
}

/** The tops' shapes of one layer from its bottoms' (Caffe's Reshape), with its blob check. */
function inferLayer(ctx: LayerContext, bottoms: readonly RowShape[]): Inferred {
  const { layer } = ctx;
  const x = bottoms[0];
  const rank = x === undefined ? undefined : x.length + 1;
  const same = (): Inferred => {
    exactCounts(layer, [1, 1], [1, 1]);
    checkLayerBlobs(ctx, NONE, '');
    return { tops: [x], geometry: {} };
  };
  switch (layer.type) {
    case 'ReLU':
    case 'TanH':
    case 'Sigmoid':
    case 'AbsVal':
    case 'ELU':
    case 'Power':
      return same();
    case 'Exp':
    case 'Log': {
      const base = numberField(paramOf(layer, layer.type === 'Exp' ? 'exp_param' : 'log_param'), 'base', -1);
      if (base !== -1 && !(base > 0)) throw invalid(layer, `base ${base} must be strictly positive (or -1 for e)`);
      return same();
    }
    case 'Dropout': {
      const rate = numberField(paramOf(layer, 'dropout_param'), 'dropout_ratio', 0.5);
      if (!(rate >= 0 && rate < 1)) throw invalid(layer, `dropout_ratio ${rate} is outside [0, 1)`);
      return same();
    }
    case 'Softmax': {
      exactCounts(layer, [1, 1], [1, 1]);
      checkLayerBlobs(ctx, NONE, '');
      const axis = numberField(paramOf(layer, 'softmax_param'), 'axis', 1);
      if (axis === 0) throw unsupported(layer, 'softmax_param axis 0 normalises over the rows (the batch)', 'use axis 1 (the default)');
      if (rank === undefined) return { tops: [x], geometry: {} };
      const a = canonicalAxis(layer, axis, rank, 'softmax_param axis');
      if (a === 0) {
        throw shapeProblem(ctx, `softmax_param axis ${axis} is axis 0 of the bottom ${showRow(x)}: it normalises over the rows`, 'E_UNSUPPORTED', 'use axis 1');
      }
      return { tops: [x], geometry: { axis: a } };
    }
    case 'PReLU': {
      exactCounts(layer, [1, 1], [1, 1]);
      const shared = boolField(paramOf(layer, 'prelu_param'), 'channel_shared', false);
      if (x !== undefined && x.length < 1) throw shapeProblem(ctx, `its bottom ${showRow(x)} has fewer than 2 axes`);
      checkLayerBlobs(ctx, [{ what: 'slopes', shape: shared ? [1] : [x === undefined ? undefined : x[0]] }], shared ? 'channel_shared' : 'one per channel');
      return { tops: [x], geometry: {} };
    }
    case 'LRN': {
      exactCounts(layer, [1, 1], [1, 1]);
      checkLayerBlobs(ctx, NONE, '');
      const p = paramOf(layer, 'lrn_param');
      const size = numberField(p, 'local_size', 5);
      if (!Number.isInteger(size) || size < 1 || size % 2 !== 1) throw invalid(layer, `local_size ${size}: LRN only supports odd values`);
      enumField(p, 'norm_region', LRN_REGIONS, 'ACROSS_CHANNELS');
      if (x !== undefined && x.length !== 3) throw shapeProblem(ctx, `its bottom ${showRow(x)} must have 4 axes (num, channels, height, width)`);
      return { tops: [x], geometry: {} };
    }
    case 'Convolution':
      return inferConvolution(ctx, x, rank);
    case 'InnerProduct':
      return inferInnerProduct(ctx, x);
    case 'Pooling':
      return inferPooling(ctx, x);
    case 'Concat': {
      exactCounts(layer, [1, Infinity], [1, 1]);
      checkLayerBlobs(ctx, NONE, '');
      const p = paramOf(layer, 'concat_param');
      const legacy = hasField(p, 'concat_dim');
      const axis = legacy ? numberField(p, 'concat_dim', 1) : numberField(p, 'axis', 1);
      const field = legacy ? 'concat_param concat_dim' : 'concat_param axis';
      if (axis === 0) throw unsupported(layer, `${field} 0 concatenates rows (the batch)`, 'concatenate along axis 1 or later');
      return joinAlong(ctx, bottoms, axis, field);
    }
    case 'Slice': {
      exactCounts(layer, [1, 1], [1, Infinity]);
      checkLayerBlobs(ctx, NONE, '');
      return inferSlice(ctx, x);
    }
    case 'Split': {
      exactCounts(layer, [1, 1], [1, Infinity]);
      checkLayerBlobs(ctx, NONE, '');
      return { tops: layer.top.map(() => x), geometry: {} };
    }
    case 'Eltwise': {
      exactCounts(layer, [2, Infinity], [1, 1]);
      checkLayerBlobs(ctx, NONE, '');
      const p = paramOf(layer, 'eltwise_param');
      const op = enumField(p, 'operation', ELTWISE_OPS, 'SUM');
      const coeff = numberList(p, 'coeff');
      if (coeff.length > 0 && op !== 'SUM') throw invalid(layer, 'eltwise_param coeff is only for operation SUM');
      if (coeff.length > 0 && coeff.length !== layer.bottom.length) {
        throw invalid(layer, `eltwise_param has ${coeff.length} coeff for ${layer.bottom.length} bottoms; give one per bottom`);
      }
      return { tops: [mergeSame(ctx, bottoms)], geometry: {} };
    }
    case 'Flatten':
      return inferFlatten(ctx, x);
    case 'Reshape': {
      exactCounts(layer, [1, 1], [1, 1]);
      checkLayerBlobs(ctx, NONE, '');
      return { tops: [reshapeTop(ctx, x)], geometry: {} };
    }
    case 'BatchNorm': {
      exactCounts(layer, [1, 1], [1, 1]);
      const p = paramOf(layer, 'batch_norm_param');
      if (hasField(p, 'use_global_stats') && !boolField(p, 'use_global_stats', true)) {
        throw unsupported(
          layer,
          'use_global_stats: false normalises with the statistics of the batch (it mixes the rows)',
          'remove use_global_stats (at TEST Caffe uses the stored statistics)',
        );
      }
      const eps = numberField(p, 'eps', 1e-5);
      if (!(eps >= 0)) throw invalid(layer, `eps ${eps} is negative`);
      const ch = x === undefined ? undefined : x.length >= 1 ? x[0] : 1;
      checkLayerBlobs(
        ctx,
        [
          { what: 'mean', shape: [ch] },
          { what: 'variance', shape: [ch] },
          { what: 'moving-average factor', shape: [1] },
        ],
        'mean, variance and factor',
      );
      return { tops: [x], geometry: {} };
    }
    case 'Scale':
    case 'Bias':
      return inferScaleBias(ctx, bottoms);
    default:
      throw new McuError(
        'E_UNSUPPORTED',
        `${layerLabel(layer)}: mcu cannot translate layers of type '${layer.type}'; supported types: ${SUPPORTED_LAYER_TYPES.join(', ')}; ` +
          'fix: replace the layer, or convert the net to ONNX with another tool',
      );
  }
}

const LRN_REGIONS = ['ACROSS_CHANNELS', 'WITHIN_CHANNEL'] as const;
const ELTWISE_OPS = ['PROD', 'SUM', 'MAX'] as const;

/** Convolution (BaseConvolutionLayer / ConvolutionLayer::compute_output_shape). */
function inferConvolution(ctx: LayerContext, x: RowShape, rank: number | undefined): Inferred {
  const { layer } = ctx;
  if (layer.bottom.length !== layer.top.length || layer.bottom.length === 0) {
    throw invalid(layer, `it has ${layer.bottom.length} bottoms and ${layer.top.length} tops; they must pair up`);
  }
  if (layer.bottom.length !== 1) {
    throw unsupported(layer, `${layer.bottom.length} bottom/top pairs sharing one set of weights`, 'give each bottom its own Convolution layer');
  }
  const g = convGeometry(layer);
  const axis = numberField(paramOf(layer, 'convolution_param'), 'axis', 1);
  if (axis !== 1 && (rank === undefined || canonicalAxis(layer, axis, rank, 'convolution_param axis') !== 1)) {
    throw unsupported(layer, `convolution_param axis ${axis} (mcu needs the channels at axis 1)`, 'use axis 1 (the default)');
  }
  if (x !== undefined && x.length !== 3) {
    throw shapeProblem(ctx, `its bottom ${showRow(x)} is not 4-D: mcu translates 2-D convolutions only`, 'E_UNSUPPORTED', 'use 2-D convolutions');
  }
  const [c, h, w] = x ?? [undefined, undefined, undefined];
  if (c !== undefined && c % g.group !== 0) throw shapeProblem(ctx, `its bottom ${showRow(x)} has ${c} channels, not a multiple of group ${g.group}`);
  const oh = convOut(h, g.kernel[0], g.pad[0], g.stride[0], g.dilation[0]);
  const ow = convOut(w, g.kernel[1], g.pad[1], g.stride[1], g.dilation[1]);
  if ((oh !== undefined && oh < 1) || (ow !== undefined && ow < 1)) {
    const extent = g.kernel.map((k, i) => g.dilation[i]! * (k - 1) + 1);
    throw shapeProblem(ctx, `its (dilated) kernel [${extent.join(', ')}] is larger than the padded bottom ${showRow(x)}`);
  }
  const expected: ExpectedBlob[] = [{ what: 'weights', shape: [g.numOutput, c === undefined ? undefined : c / g.group, g.kernel[0], g.kernel[1]] }];
  if (g.biasTerm) expected.push({ what: 'bias', shape: [g.numOutput] });
  checkLayerBlobs(ctx, expected, `bias_term is ${g.biasTerm}`);
  return { tops: [x === undefined ? undefined : [g.numOutput, oh, ow]], geometry: { conv: g } };
}

/** InnerProduct (InnerProductLayer::Reshape): K = product of the bottom's axes from `axis`. */
function inferInnerProduct(ctx: LayerContext, x: RowShape): Inferred {
  const { layer } = ctx;
  exactCounts(layer, [1, 1], [1, 1]);
  const p = paramOf(layer, 'inner_product_param');
  const numOutput = optionalNumber(p, 'num_output');
  if (numOutput === undefined) throw invalid(layer, 'inner_product_param has no num_output');
  checkNonNegativeInt(layer, 'num_output', numOutput, 1);
  const biasTerm = boolField(p, 'bias_term', true);
  const transpose = boolField(p, 'transpose', false);
  const axis = numberField(p, 'axis', 1);
  if (axis === 0) throw unsupported(layer, 'inner_product_param axis 0 mixes the rows (the batch)', 'use axis 1 (the default)');
  let k: number | undefined;
  let top: RowShape;
  let a: number | undefined;
  if (x === undefined) {
    top = axis === 1 ? [numOutput] : undefined;
    a = axis === 1 ? 1 : undefined;
  } else {
    a = canonicalAxis(layer, axis, x.length + 1, 'inner_product_param axis');
    if (a === 0)
      throw shapeProblem(ctx, `inner_product_param axis ${axis} is axis 0 of the bottom ${showRow(x)}: it mixes the rows`, 'E_UNSUPPORTED', 'use axis 1');
    k = productOf(x.slice(a - 1));
    top = [...x.slice(0, a - 1), numOutput];
  }
  const expected: ExpectedBlob[] = [{ what: 'weights', shape: transpose ? [k, numOutput] : [numOutput, k] }];
  if (biasTerm) expected.push({ what: 'bias', shape: [numOutput] });
  checkLayerBlobs(ctx, expected, `bias_term is ${biasTerm}`);
  return { tops: [top], geometry: a === undefined ? {} : { axis: a } };
}

/** Pooling (PoolingLayer::Reshape), refusing windows that lie wholly outside the input. */
function inferPooling(ctx: LayerContext, x: RowShape): Inferred {
  const { layer } = ctx;
  exactCounts(layer, [1, 1], [1, 2]);
  if (layer.top.length === 2) throw unsupported(layer, 'a second top (the argmax mask of MAX pooling)', 'remove the second top');
  checkLayerBlobs(ctx, NONE, '');
  if (x !== undefined && x.length !== 3) throw shapeProblem(ctx, `its bottom ${showRow(x)} must have 4 axes (num, channels, height, width)`);
  const [c, h, w] = x ?? [undefined, undefined, undefined];
  const g = poolGeometry(layer, h, w);
  for (let i = 0; i < 2; i++) {
    const n = i === 0 ? h : w;
    const out = g.out[i];
    if (n === undefined || out === undefined) continue;
    if (out < 1) throw shapeProblem(ctx, `its kernel ${showShape(g.kernel)} is larger than the padded bottom ${showRow(x)}`);
    const start = (out - 1) * g.stride[i]! - g.pad[i]!;
    if (start >= n) {
      throw shapeProblem(
        ctx,
        `its last window along the ${i === 0 ? 'height' : 'width'} starts at ${start}, outside the bottom ${showRow(x)} (a stride larger than the kernel without padding): Caffe's output there is undefined`,
        'E_UNSUPPORTED',
        'use a stride no larger than the kernel',
      );
    }
  }
  return { tops: [x === undefined ? undefined : [c, g.out[0], g.out[1]]], geometry: { pool: g } };
}

/** Flatten (FlattenLayer::Reshape): axes [axis, end_axis] become one. */
function inferFlatten(ctx: LayerContext, x: RowShape): Inferred {
  const { layer } = ctx;
  exactCounts(layer, [1, 1], [1, 1]);
  checkLayerBlobs(ctx, NONE, '');
  const p = paramOf(layer, 'flatten_param');
  const axis = numberField(p, 'axis', 1);
  const endAxis = numberField(p, 'end_axis', -1);
  if (axis === 0 && endAxis !== 0) throw unsupported(layer, 'flatten_param axis 0 merges the rows (the batch) into other axes', 'use axis 1 (the default)');
  if (x === undefined) return { tops: [undefined], geometry: {} };
  const r = x.length + 1;
  const a = canonicalAxis(layer, axis, r, 'flatten_param axis');
  const e = canonicalAxis(layer, endAxis, r, 'flatten_param end_axis');
  if (e < a) throw shapeProblem(ctx, `flatten_param end_axis ${endAxis} comes before axis ${axis} for the bottom ${showRow(x)}`);
  if (a === 0 && e > 0) {
    throw shapeProblem(ctx, `flatten_param axis ${axis} is axis 0 of the bottom ${showRow(x)}: it merges the rows`, 'E_UNSUPPORTED', 'use axis 1');
  }
  if (a === 0) return { tops: [x], geometry: { axis: 0 } };
  return { tops: [[...x.slice(0, a - 1), productOf(x.slice(a - 1, e)), ...x.slice(e)]], geometry: { axis: a } };
}

/** Concat (ConcatLayer::Reshape): every bottom of the same rank, equal except along `axis`, which is summed. */
function joinAlong(ctx: LayerContext, bottoms: readonly RowShape[], axis: number, field: string): Inferred {
  if (bottoms.some((b) => b === undefined)) return { tops: [undefined], geometry: {} };
  const bs = bottoms as readonly RowDims[];
  const first = bs[0]!;
  const r = first.length + 1;
  const a = canonicalAxis(ctx.layer, axis, r, field);
  if (a === 0)
    throw shapeProblem(ctx, `${field} ${axis} is axis 0 of the bottom ${showRow(first)}: it concatenates rows`, 'E_UNSUPPORTED', 'use axis 1 or later');
  const out: (number | undefined)[] = [...first];
  for (let i = 1; i < bs.length; i++) {
    const b = bs[i]!;
    if (b.length !== first.length) {
      throw shapeProblem(
        ctx,
        `bottom ${i} '${ctx.layer.bottom[i]}' ${showRow(b)} has ${b.length + 1} axes, bottom 0 '${ctx.layer.bottom[0]}' ${showRow(first)} ${r}`,
      );
    }
    for (let j = 0; j < b.length; j++) {
      if (j === a - 1) {
        out[j] = out[j] === undefined || b[j] === undefined ? undefined : out[j]! + b[j]!;
      } else if (out[j] === undefined) {
        out[j] = b[j];
      } else if (b[j] !== undefined && b[j] !== out[j]) {
        throw shapeProblem(
          ctx,
          `bottom ${i} '${ctx.layer.bottom[i]}' ${showRow(b)} differs from bottom 0 '${ctx.layer.bottom[0]}' ${showRow(first)} at axis ${j + 1}, not only at the ${field} ${a}`,
        );
      }
    }
  }
  return { tops: [out], geometry: { axis: a } };
}

/** Eltwise: all bottoms the same shape; the known dims merged. */
function mergeSame(ctx: LayerContext, bottoms: readonly RowShape[]): RowShape {
  let out: (number | undefined)[] | undefined;
  bottoms.forEach((b, i) => {
    if (b === undefined) return;
    if (out === undefined) {
      out = [...b];
      return;
    }
    const o = out;
    if (b.length !== o.length || b.some((d, j) => d !== undefined && o[j] !== undefined && d !== o[j])) {
      throw shapeProblem(ctx, `bottom ${i} '${ctx.layer.bottom[i]}' ${showRow(b)} differs from ${showRow(o)}; all bottoms must have the same shape`);
    }
    b.forEach((d, j) => {
      if (o[j] === undefined) o[j] = d;
    });
  });
  return out;
}

/** Slice (SliceLayer::Reshape): `slice_point` (one fewer than the tops, increasing) or equal parts. */
function inferSlice(ctx: LayerContext, x: RowShape): Inferred {
  const { layer } = ctx;
  const p = paramOf(layer, 'slice_param');
  const legacy = hasField(p, 'slice_dim');
  const axis = legacy ? numberField(p, 'slice_dim', 1) : numberField(p, 'axis', 1);
  const field = legacy ? 'slice_param slice_dim' : 'slice_param axis';
  if (axis === 0) throw unsupported(layer, `${field} 0 slices the rows (the batch)`, 'slice along axis 1 or later');
  const points = numberList(p, 'slice_point');
  const n = layer.top.length;
  if (points.length > 0 && points.length !== n - 1) {
    throw invalid(layer, `slice_param has ${points.length} slice_point for ${n} tops; give one fewer than the tops`);
  }
  let prev = 0;
  for (const pt of points) {
    if (!Number.isInteger(pt) || pt <= prev) throw invalid(layer, `slice_point ${points.join(', ')} must be increasing positive integers`);
    prev = pt;
  }
  if (x === undefined) return { tops: layer.top.map(() => undefined), geometry: {} };
  const a = canonicalAxis(layer, axis, x.length + 1, field);
  if (a === 0) throw shapeProblem(ctx, `${field} ${axis} is axis 0 of the bottom ${showRow(x)}: it slices the rows`, 'E_UNSUPPORTED', 'use axis 1 or later');
  const dim = x[a - 1];
  let sizes: (number | undefined)[];
  if (points.length > 0) {
    if (dim !== undefined && dim - prev < 1) {
      throw shapeProblem(ctx, `slice_point ${points.join(', ')} does not fit the bottom ${showRow(x)} (axis ${a} has ${dim})`);
    }
    sizes = [...points.map((pt, i) => pt - (i === 0 ? 0 : points[i - 1]!)), dim === undefined ? undefined : dim - prev];
  } else {
    if (dim !== undefined && dim % n !== 0) throw shapeProblem(ctx, `axis ${a} of the bottom ${showRow(x)} (${dim}) does not split into ${n} equal parts`);
    sizes = layer.top.map(() => (dim === undefined ? undefined : dim / n));
  }
  return { tops: sizes.map((s) => x.map((d, j) => (j === a - 1 ? s : d))), geometry: { axis: a, sizes } };
}

/**
 * Reshape (ReshapeLayer): `shape` with 0 = copy the bottom's dim, -1 = infer, replacing the
 * bottom's axes [axis, axis + num_axes). Computed on the full shape for two batch sizes: the
 * top's axis 0 must be the batch for both, and the rest the same.
 */
function reshapeTop(ctx: LayerContext, x: RowShape): RowShape {
  const { layer } = ctx;
  const p = paramOf(layer, 'reshape_param');
  const dims = numberList(subMessage(p, 'shape'), 'dim');
  const axis = numberField(p, 'axis', 0);
  const numAxes = numberField(p, 'num_axes', -1);
  const shown = `{${dims.map((d) => `dim: ${d}`).join(' ')}}`;
  if (dims.filter((d) => d === -1).length > 1) throw invalid(layer, `reshape_param shape ${shown} has more than one -1`);
  if (dims.some((d) => !Number.isInteger(d) || d < -1)) throw invalid(layer, `reshape_param shape ${shown} has a dim below -1`);
  if (numAxes < -1) throw invalid(layer, `reshape_param num_axes ${numAxes} is below -1`);
  if (x === undefined) return undefined;
  const run = (batch: number): (number | undefined)[] => {
    const bottom = [batch, ...x];
    const r = bottom.length;
    const start = axis >= 0 ? axis : r + axis + 1;
    if (start < 0 || start > r) throw shapeProblem(ctx, `reshape_param axis ${axis} is out of range for the bottom ${showRow(x)}`);
    const end = numAxes === -1 ? r : start + numAxes;
    if (end > r) throw shapeProblem(ctx, `reshape_param axis ${axis} + num_axes ${numAxes} exceeds the ${r} axes of the bottom ${showRow(x)}`);
    const top: (number | undefined)[] = [...bottom.slice(0, start), ...dims, ...bottom.slice(end)];
    let inferred = -1;
    let constant = 1;
    dims.forEach((d, i) => {
      if (d === 0) {
        if (start + i >= r) throw shapeProblem(ctx, `reshape_param shape ${shown}: dim ${i} is 0 (copy) but the bottom ${showRow(x)} has no axis ${start + i}`);
        top[start + i] = bottom[start + i];
      } else if (d === -1) inferred = i;
      else constant *= d;
    });
    const total = productOf(bottom);
    if (inferred >= 0) {
      const copied = dims.map((d, i) => (d === 0 ? top[start + i] : 1));
      const explicit = productOf([constant, ...bottom.slice(0, start), ...bottom.slice(end), ...copied]);
      if (total === undefined || explicit === undefined) top[start + inferred] = undefined;
      else {
        if (explicit === 0 || total % explicit !== 0) throw shapeProblem(ctx, `reshape_param shape ${shown} does not fit the bottom ${showRow(x)}`);
        top[start + inferred] = total / explicit;
      }
    }
    const count = productOf(top);
    if (total !== undefined && count !== undefined && count !== total) {
      throw shapeProblem(ctx, `reshape_param shape ${shown} gives ${count / batch} values per row, the bottom ${showRow(x)} has ${total / batch}`);
    }
    return top;
  };
  const attempt = (batch: number): (number | undefined)[] | McuError => {
    try {
      return run(batch);
    } catch (e) {
      if (e instanceof McuError) return e;
      throw e;
    }
  };
  const two = attempt(2);
  const three = attempt(3);
  if (!(two instanceof McuError) && !(three instanceof McuError)) {
    if (two.length === three.length && two[0] === 2 && three[0] === 3 && two.slice(1).every((d, i) => d === three[i + 1])) return two.slice(1);
  }
  // Valid for Caffe at some batch size (its declared one, 1, 2 or 3) but not for every number of rows.
  const validSomewhere = !(two instanceof McuError) || !(three instanceof McuError) || [...ctx.batches, 1].some((b) => !(attempt(b) instanceof McuError));
  if (!validSomewhere) throw two;
  throw unsupported(
    layer,
    `reshape_param shape ${shown} (axis ${axis}, num_axes ${numAxes}) changes axis 0, the rows (mcu runs any number of rows)`,
    'keep axis 0 (dim: 0) or reshape from axis: 1',
  );
}

/** The resolved Scale / Bias: its operand (blob 0 or bottom 1) and how it broadcasts. */
export interface ScaleBiasResult {
  /** Full axis where the operand's dims start in the bottom (0 for two bottoms). */
  readonly axis: number;
  /** The operand's shape: a blob's shape, or bottom 1's per-row dims (two bottoms). */
  readonly operandShape: readonly (number | undefined)[];
  /** True when the operand is bottom 1. */
  readonly twoBottoms: boolean;
  /** Scale with bias_term (blob 1, shaped like blob 0). */
  readonly bias: boolean;
}

/**
 * Scale and Bias (ScaleLayer / BiasLayer): one bottom (the operand is blob 0, shaped like the
 * bottom's axes [axis, axis + num_axes), num_axes -1 = to the end, 0 = a scalar) or two bottoms
 * (the operand is bottom 1, shaped like the bottom's axes from `axis`: mcu needs axis 0 there,
 * so that the operand's rows are the bottom's rows).
 */
function inferScaleBias(ctx: LayerContext, bottoms: readonly RowShape[]): Inferred {
  const { layer } = ctx;
  exactCounts(layer, [1, 2], [1, 1]);
  const isScale = layer.type === 'Scale';
  const p = paramOf(layer, isScale ? 'scale_param' : 'bias_param');
  const axis = numberField(p, 'axis', 1);
  const numAxes = numberField(p, 'num_axes', 1);
  const bias = isScale && boolField(p, 'bias_term', false);
  const x = bottoms[0];
  const operand = isScale ? 'scale' : 'bias';
  if (numAxes < -1) throw invalid(layer, `num_axes ${numAxes} is below -1`);
  if (layer.bottom.length === 2) {
    if (bias) {
      throw unsupported(
        layer,
        'two bottoms with bias_term: its bias blob is shaped like bottom 1, batch axis included',
        'add the bias with a separate Bias layer of two bottoms',
      );
    }
    if (axis !== 0 && (x === undefined || canonicalAxis(layer, axis, x.length + 1, 'axis') !== 0)) {
      throw unsupported(
        layer,
        `two bottoms with axis ${axis}: the rows of bottom 1 would meet axis ${axis} of bottom 0`,
        'use axis: 0 with bottom 1 shaped [N, ...]',
      );
    }
    checkLayerBlobs(ctx, NONE, '');
    const y = bottoms[1];
    if (x === undefined || y === undefined) return { tops: [x], geometry: {} };
    if (y.length > x.length || y.some((d, i) => d !== undefined && x[i] !== undefined && d !== x[i])) {
      throw shapeProblem(ctx, `bottom 1 '${layer.bottom[1]}' ${showRow(y)} does not match the leading axes of bottom 0 '${layer.bottom[0]}' ${showRow(x)}`);
    }
    return { tops: [x], geometry: { scale: { axis: 0, operandShape: y, twoBottoms: true, bias: false } } };
  }
  const why = isScale ? `bias_term is ${bias}` : '';
  if (numAxes === 0) {
    const blobs: ExpectedBlob[] = [{ what: operand, shape: [] }];
    if (bias) blobs.push({ what: 'bias', shape: [] });
    checkLayerBlobs(ctx, blobs, why);
    return { tops: [x], geometry: { scale: { axis: 1, operandShape: [], twoBottoms: false, bias } } };
  }
  if (axis === 0) throw unsupported(layer, 'axis 0 with one bottom: the parameter would be shaped like the batch', 'use axis 1 (the default)');
  if (x === undefined) return { tops: [x], geometry: {} };
  const r = x.length + 1;
  const a = canonicalAxis(layer, axis, r, 'axis');
  if (a === 0)
    throw shapeProblem(ctx, `axis ${axis} is axis 0 of the bottom ${showRow(x)}: the parameter would be shaped like the batch`, 'E_UNSUPPORTED', 'use axis 1');
  const end = numAxes === -1 ? r : a + numAxes;
  if (end > r) throw shapeProblem(ctx, `axis ${axis} + num_axes ${numAxes} exceeds the ${r} axes of the bottom ${showRow(x)}`);
  const shape = x.slice(a - 1, end - 1);
  const blobs: ExpectedBlob[] = [{ what: operand, shape }];
  if (bias) blobs.push({ what: 'bias', shape });
  checkLayerBlobs(ctx, blobs, why);
  return { tops: [x], geometry: { scale: { axis: a, operandShape: shape, twoBottoms: false, bias } } };
}

/** Placeholders for the per-row dims of an input in messages: C,H,W for 4-D, K for 2-D. */
function placeholders(shape: CaffeInput['shape']): string[] {
  const r = shape === undefined || shape.length === 0 ? 4 : shape.length;
  if (r === 4) return ['C', 'H', 'W'];
  if (r === 2) return ['K'];
  return Array.from({ length: r - 1 }, (_, i) => `D${i + 1}`);
}

function checkGivenDims(name: string, dims: readonly number[]): void {
  if (!Array.isArray(dims) || dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new McuError(
      'E_INPUT',
      `inputShapes ${name}: [${String(dims)}] is not a list of positive integers (per-row dims, without the batch axis); fix: e.g. --input-shape ${name}=3,32,32`,
    );
  }
}

/** K of the InnerProduct (axis 1) that is the only consumer of `input`, from its weight blob. */
function kFromWeights(net: CaffeNet, input: string): number | undefined {
  const consumers = net.layers.filter((l) => l.bottom.includes(input));
  if (consumers.length !== 1) return undefined;
  const ip = consumers[0]!;
  if (ip.type !== 'InnerProduct' || ip.bottom.filter((b) => b === input).length !== 1) return undefined;
  const p = paramOf(ip, 'inner_product_param');
  if (numberField(p, 'axis', 1) !== 1 || ip.blobs.length === 0) return undefined;
  const shape = ip.blobs[0]!.shape;
  if (shape.length < 2 || (!ip.blobs[0]!.legacy && shape.length !== 2)) return undefined;
  const k = boolField(p, 'transpose', false) ? shape[shape.length - 2]! : shape[shape.length - 1]!;
  return k >= 1 ? k : undefined;
}

/**
 * Resolves the inputs and infers every blob's shape, layer by layer, checking the weight blobs
 * when the net has weights.
 *
 * `mode` 'strict' (for the translation): every dim must be known (E_INPUT otherwise) and every
 * layer supported. 'describe': unknown dims stay undefined and a layer mcu cannot translate is
 * recorded in `unsupported` (its tops unknown) instead of thrown.
 */
export function analyzeNet(net: CaffeNet, options: CaffeToOnnxOptions = {}, mode: 'strict' | 'describe' = 'strict'): NetShapes {
  const lenient = mode === 'describe';
  const checkBlobs = net.weights === 'present';
  const warnings: string[] = [];
  const givenShapes = options.inputShapes ?? {};
  const inputNames = net.inputs.map((i) => i.name);
  for (const name of Object.keys(givenShapes)) {
    if (!inputNames.includes(name)) {
      throw new McuError(
        'E_INPUT',
        `inputShapes names '${name}', which is not an input of net '${net.name}' (inputs: ${inputNames.join(', ') || 'none'}); fix: use one of those names`,
      );
    }
  }

  const inputs: ResolvedInput[] = net.inputs.map((input) => {
    const given = givenShapes[input.name];
    const declared = input.shape !== undefined && input.shape.length > 0 ? input.shape.slice(1) : undefined;
    if (given !== undefined) {
      checkGivenDims(input.name, given);
      if (known(declared) && (declared.length !== given.length || declared.some((d, i) => d !== given[i]))) {
        warnings.push(`input '${input.name}': the given shape ${showRow(given)} replaces the declared ${showRow(declared)} (${input.from})`);
      }
      return { name: input.name, from: input.from, dims: [...given], source: 'inputShapes' };
    }
    if (known(declared)) return { name: input.name, from: input.from, dims: declared, source: 'prototxt' };
    const k = checkBlobs ? kFromWeights(net, input.name) : undefined;
    if (k !== undefined) return { name: input.name, from: input.from, dims: [k], source: 'weights' };
    if (!lenient) {
      const ph = placeholders(input.shape);
      throw new McuError(
        'E_INPUT',
        `input '${input.name}' (${input.from}): its shape is not in the prototxt; give it (inputShapes { ${input.name}: [${ph.join(', ')}] }, command line --input-shape ${input.name}=${ph.join(',')})`,
      );
    }
    return { name: input.name, from: input.from, dims: declared, source: 'unknown' };
  });

  const batches = [...new Set(net.inputs.map((i) => i.shape?.[0]).filter((b): b is number => typeof b === 'number' && b >= 1))];
  const current = new Map<string, { dims: RowShape; given: ReadonlySet<string> }>();
  for (const i of inputs) {
    current.set(i.name, { dims: i.dims, given: new Set(i.source === 'inputShapes' ? [`${i.name}=${showShape(i.dims ?? [])}`] : []) });
  }
  // Caffe's available_blobs: the last event of each name (a write: an output; a read: consumed).
  const lastWrite = new Map<string, { order: number; consumed: boolean }>();
  const inputUsed = new Set<string>();
  let order = 0;

  const layers: LayerShapes[] = net.layers.map((layer) => {
    const bottoms: RowShape[] = [];
    const given = new Set<string>();
    for (const b of layer.bottom) {
      const c = current.get(b);
      if (c === undefined) {
        throw new McuError(
          'E_MODEL',
          `${layerLabel(layer)}: its bottom '${b}' is neither an input nor the top of an earlier layer; fix: correct the prototxt (inputs: ${inputNames.join(', ') || 'none'})`,
        );
      }
      bottoms.push(c.dims);
      c.given.forEach((g) => given.add(g));
      const w = lastWrite.get(b);
      if (w !== undefined) w.consumed = true;
      else inputUsed.add(b);
    }
    const ctx: LayerContext = { layer, net, given: [...given], checkBlobs, batches };
    let tops: RowShape[];
    let geometry: LayerGeometry = {};
    let why: string | undefined;
    try {
      ({ tops, geometry } = inferLayer(ctx, bottoms));
    } catch (e) {
      if (!(lenient && e instanceof McuError && e.code === 'E_UNSUPPORTED')) throw e;
      why = e.message;
      tops = layer.top.map(() => undefined);
    }
    if (!lenient) {
      tops.forEach((t, i) => {
        if (!known(t)) throw new McuError('E_INTERNAL', `${layerLabel(layer)}: the shape of top '${layer.top[i]}' is unknown after resolving every input`);
      });
    }
    layer.top.forEach((t, i) => {
      current.set(t, { dims: tops[i], given });
      lastWrite.set(t, { order: order++, consumed: false });
    });
    return why === undefined ? { layer, bottoms, tops, geometry } : { layer, bottoms, tops, geometry, unsupported: why };
  });

  for (const i of inputs) {
    if (!inputUsed.has(i.name) && !lastWrite.has(i.name)) warnings.push(`input '${i.name}' (${i.from}) is not used by any layer; the ONNX graph leaves it out`);
  }
  const outputs = [...lastWrite.entries()]
    .filter(([, w]) => !w.consumed)
    .sort((a, b) => a[1].order - b[1].order)
    .map(([name]) => ({ name, dims: current.get(name)!.dims }));
  return { inputs, layers, outputs, warnings };
}

/** The Dropout layers of a net as stochastic sites. */
export function caffeSites(net: CaffeNet): CaffeSite[] {
  return net.layers
    .filter((l) => l.type === 'Dropout')
    .map((l) => {
      const p = paramOf(l, 'dropout_param');
      return {
        name: l.name,
        rate: numberField(p, 'dropout_ratio', 0.5),
        scaling: hasField(p, 'scale_train') && !boolField(p, 'scale_train', true) ? 'none' : 'inverted',
      };
    });
}

/**
 * The structure of a Caffe net — inputs, outputs, Dropout sites, layers with the shapes of their
 * tops — with or without weights. Without weights (structure only) the blob checks are skipped;
 * dims that cannot be known stay undefined (no E_INPUT); a layer mcu cannot translate is listed
 * with `unsupported`. Inconsistent nets are still E_MODEL, a given `inputShapes` that does not
 * fit still E_INPUT.
 */
export function describeCaffe(net: CaffeNet, options: CaffeToOnnxOptions = {}): CaffeDescription {
  const shapes = analyzeNet(net, options, 'describe');
  return {
    name: net.name,
    inputs: shapes.inputs.map((i) => ({ name: i.name, from: i.from, dims: i.dims })),
    outputs: shapes.outputs,
    sites: caffeSites(net),
    layers: shapes.layers.map((l) => ({
      name: l.layer.name,
      type: l.layer.type,
      bottom: l.layer.bottom,
      top: l.layer.top,
      shapes: l.tops,
      ...(l.unsupported !== undefined ? { unsupported: l.unsupported } : {}),
    })),
    warnings: [...net.warnings, ...shapes.warnings],
  };
}
