/**
 * The ONNX operators on tfjs: one OpFn per operator, keyed 'onnx.<OpType>'. translate.ts
 * normalises every node first, so an op sees one form whatever the opset:
 * - parameters that ONNX moved from attributes to inputs over the opsets (axes, pads, Slice's
 *   starts/ends, Clip's bounds, …) are in `attrs` when they are constants at translation time;
 *   otherwise the input stays and the op reads its values at run time (`dataSync`);
 * - defaults are filled in and negative axes are left for the op to resolve against the
 *   actual rank (the op runs on S·N rows; it never assumes a row count);
 * - layouts follow ONNX (NCHW); tfjs convolutions and pools run NHWC, so those ops transpose
 *   around them.
 */
import type { Tensor } from '@tensorflow/tfjs';
import { McuError } from '@mcu/core';
import type { GraphNode, OpContext, OpFn, OpRegistry } from '../graph.js';
import type { Tf } from '../runtime.js';

type T = Tensor;
type Ins = readonly (T | undefined)[];

const num = (node: GraphNode, k: string, dflt: number): number => {
  const v = node.attrs[k];
  return typeof v === 'number' ? v : dflt;
};
const ints = (node: GraphNode, k: string): number[] | undefined => {
  const v = node.attrs[k];
  return Array.isArray(v) ? (v as number[]) : undefined;
};
const str = (node: GraphNode, k: string, dflt: string): string => {
  const v = node.attrs[k];
  return typeof v === 'string' ? v : dflt;
};

function need(x: T | undefined, node: GraphNode, i: number): T {
  if (x === undefined) throw new McuError('E_RUNTIME', `node '${node.name}' (${node.op}): input ${i} is missing`);
  return x;
}

/** Integer values of a (small) tensor, read at run time. */
function readInts(t: T): number[] {
  return Array.from(t.dataSync() as ArrayLike<number>, (v) => Number(v));
}

/** A parameter: the attribute when translate.ts resolved it, else the values of input i (undefined when absent). */
function param(node: GraphNode, inputs: Ins, k: string, i: number): number[] | undefined {
  return ints(node, k) ?? (inputs[i] !== undefined ? readInts(inputs[i]!) : undefined);
}

const normAxis = (a: number, rank: number): number => (a < 0 ? a + rank : a);
const prod = (d: readonly number[]): number => d.reduce((a, b) => a * b, 1);

function unary(f: (tf: Tf, x: T, node: GraphNode) => T): OpFn {
  return (ctx, inputs, node) => f(ctx.tf, need(inputs[0], node, 0), node);
}

/** Numpy-style broadcasting binary ops (tfjs broadcasts the same way); mismatched int/float inputs are cast to the first's dtype. */
function binary(f: (tf: Tf, a: T, b: T) => T): OpFn {
  return (ctx, inputs, node) => {
    const a = need(inputs[0], node, 0);
    let b = need(inputs[1], node, 1);
    if (b.dtype !== a.dtype) b = ctx.tf.cast(b, a.dtype);
    const axis = node.attrs.legacyAxis;
    if (typeof axis === 'number') {
      // opset < 7 `broadcast=1, axis`: B's dims line up with A's from `axis` on
      const ax = normAxis(axis, a.rank);
      b = ctx.tf.reshape(b, [...b.shape, ...Array(Math.max(0, a.rank - ax - b.rank)).fill(1)]);
    }
    return f(ctx.tf, a, b);
  };
}

/** Max / Min of one or more inputs, broadcast together. */
function variadic(f: (tf: Tf, a: T, b: T) => T): OpFn {
  return (ctx, inputs, node) => {
    const xs = inputs.filter((t): t is T => t !== undefined);
    if (xs.length === 0) throw new McuError('E_RUNTIME', `node '${node.name}' (${node.op}) has no inputs`);
    return xs.slice(1).reduce((acc, x) => f(ctx.tf, acc, x.dtype === acc.dtype ? x : ctx.tf.cast(x, acc.dtype)), ctx.tf.clone(xs[0]!));
  };
}

/** ONNX integer division truncates toward zero; tfjs's int division floors. */
function divide(tf: Tf, a: T, b: T): T {
  if (a.dtype !== 'int32') return tf.div(a, b);
  const q = tf.floorDiv(tf.abs(a), tf.abs(b));
  return tf.mul(q, tf.mul(tf.sign(a), tf.sign(b)).cast('int32'));
}

function erf(tf: Tf, x: T): T {
  return tf.erf(x);
}

function gelu(tf: Tf, x: T, approximate: string): T {
  if (approximate === 'tanh') {
    const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
  }
  return tf.mul(tf.mul(0.5, x), tf.add(1, erf(tf, tf.mul(x, Math.SQRT1_2))));
}

// ------------------------------------------------------------------ dense

const gemm: OpFn = (ctx, inputs, node) => {
  const { tf } = ctx;
  const a = need(inputs[0], node, 0);
  const b = need(inputs[1], node, 1);
  let y = tf.matMul(a, b, num(node, 'transA', 0) !== 0, num(node, 'transB', 0) !== 0);
  const alpha = num(node, 'alpha', 1);
  if (alpha !== 1) y = tf.mul(y, alpha);
  const c = inputs[2];
  if (c !== undefined) {
    const beta = num(node, 'beta', 1);
    y = tf.add(y, beta === 1 ? c : tf.mul(c, beta));
  }
  return y;
};

/** numpy.matmul: 1-D operands promoted and their axis removed again, batch dims broadcast. */
const matMul: OpFn = (ctx, inputs, node) => {
  const { tf } = ctx;
  let a = need(inputs[0], node, 0);
  let b = need(inputs[1], node, 1);
  const aVec = a.rank === 1;
  const bVec = b.rank === 1;
  if (aVec) a = tf.reshape(a, [1, a.shape[0]!]);
  if (bVec) b = tf.reshape(b, [b.shape[0]!, 1]);
  const rank = Math.max(a.rank, b.rank);
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), node);
  if (rank > 2) {
    a = tf.broadcastTo(a, [...batch, ...a.shape.slice(-2)]);
    b = tf.broadcastTo(b, [...batch, ...b.shape.slice(-2)]);
  }
  let y = tf.matMul(a, b);
  if (aVec) y = tf.squeeze(y, [y.rank - 2]);
  if (bVec) y = tf.squeeze(y, [y.rank - 1]);
  return y;
};

/** Numpy broadcasting of two shapes; E_RUNTIME when they do not broadcast. */
export function broadcastShapes(a: readonly number[], b: readonly number[], node?: GraphNode): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const x = a[a.length - n + k] ?? 1;
    const y = b[b.length - n + k] ?? 1;
    if (x !== y && x !== 1 && y !== 1) {
      throw new McuError('E_RUNTIME', `${node ? `node '${node.name}' (${node.op}): ` : ''}shapes [${a.join(', ')}] and [${b.join(', ')}] do not broadcast`);
    }
    out.push(x === 1 ? y : x);
  }
  return out;
}

// ------------------------------------------------------------------ convolutions and pools

/** Spatial pads [begin…, end…] for `auto_pad` SAME_UPPER / SAME_LOWER (else the explicit ones or zeros). */
export function resolvePads(
  autoPad: string,
  pads: readonly number[] | undefined,
  inSize: readonly number[],
  kernel: readonly number[],
  strides: readonly number[],
  dilations: readonly number[],
): number[] {
  const k = inSize.length;
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const begin: number[] = [];
    const end: number[] = [];
    for (let i = 0; i < k; i++) {
      const out = Math.ceil(inSize[i]! / strides[i]!);
      const total = Math.max(0, (out - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - inSize[i]!);
      const small = Math.floor(total / 2);
      begin.push(autoPad === 'SAME_UPPER' ? small : total - small);
      end.push(autoPad === 'SAME_UPPER' ? total - small : small);
    }
    return [...begin, ...end];
  }
  if (autoPad === 'VALID') return Array(2 * k).fill(0);
  return pads ? [...pads] : Array(2 * k).fill(0);
}

interface Spatial {
  kernel: number[];
  strides: number[];
  dilations: number[];
  pads: number[];
}

function spatialAttrs(node: GraphNode, x: T, kernel: number[]): Spatial {
  const k = x.rank - 2;
  const strides = ints(node, 'strides') ?? Array(k).fill(1);
  const dilations = ints(node, 'dilations') ?? Array(k).fill(1);
  const pads = resolvePads(str(node, 'auto_pad', 'NOTSET'), ints(node, 'pads'), x.shape.slice(2), kernel, strides, dilations);
  return { kernel, strides, dilations, pads };
}

/** [N, C, L] → [N, C, 1, L] (1-D as 2-D), spatial params with a leading 1 / 0. */
function as2d(tf: Tf, x: T, s: Spatial): { x: T; s: Spatial } {
  if (x.rank === 4) return { x, s };
  if (x.rank !== 3)
    throw new McuError(
      'E_UNSUPPORTED',
      `convolutions and pools of rank ${x.rank} (${x.rank - 2}-D) are not supported by the tfjs backend (1-D and 2-D only); run the model on the onnx backend`,
    );
  return {
    x: tf.expandDims(x, 2),
    s: {
      kernel: [1, ...s.kernel],
      strides: [1, ...s.strides],
      dilations: [1, ...s.dilations],
      pads: [0, s.pads[0]!, 0, s.pads[1]!],
    },
  };
}

const toNhwc = (tf: Tf, x: T): T => tf.transpose(x, [0, 2, 3, 1]);
const toNchw = (tf: Tf, x: T): T => tf.transpose(x, [0, 3, 1, 2]);

const conv: OpFn = (ctx, inputs, node) => {
  const { tf } = ctx;
  const x0 = need(inputs[0], node, 0);
  let w = need(inputs[1], node, 1);
  const bias = inputs[2];
  const rank = x0.rank;
  const group = num(node, 'group', 1);
  const { x, s } = as2d(tf, x0, spatialAttrs(node, x0, ints(node, 'kernel_shape') ?? w.shape.slice(2)));
  if (w.rank === 3) w = tf.expandDims(w, 2);
  const [m, cg, kh, kw] = w.shape as [number, number, number, number];
  const c = x.shape[1]!;
  const [pt, pl, pb, pr] = s.pads as [number, number, number, number];
  let h = toNhwc(tf, x);
  if (pt || pl || pb || pr)
    h = tf.pad(h, [
      [0, 0],
      [pt, pb],
      [pl, pr],
      [0, 0],
    ]);
  const strides = s.strides as [number, number];
  const dil = s.dilations as [number, number];
  let y: T;
  if (group === 1) {
    y = tf.conv2d(h as never, tf.transpose(w, [2, 3, 1, 0]) as never, strides, 'valid', 'NHWC', dil);
  } else if (group === c && cg === 1) {
    // depthwise: output channel o = ci·mult + j
    const mult = m / c;
    const f = tf.transpose(tf.reshape(w, [c, mult, kh, kw]), [2, 3, 0, 1]);
    y = tf.depthwiseConv2d(h as never, f as never, strides, 'valid', 'NHWC', dil);
  } else {
    const hs = tf.split(h, group, 3);
    const ws = tf.split(w, group, 0);
    y = tf.concat(
      hs.map((hg, g) => tf.conv2d(hg as never, tf.transpose(ws[g]!, [2, 3, 1, 0]) as never, strides, 'valid', 'NHWC', dil)),
      3,
    );
  }
  if (bias !== undefined) y = tf.add(y, bias);
  y = toNchw(tf, y);
  return rank === 3 ? tf.squeeze(y, [2]) : y;
};

/** ConvTranspose, 1-D / 2-D, group 1, dilation 1 (translate.ts refuses the rest). */
const convTranspose: OpFn = (ctx, inputs, node) => {
  const { tf } = ctx;
  const x0 = need(inputs[0], node, 0);
  let w = need(inputs[1], node, 1);
  const bias = inputs[2];
  const rank = x0.rank;
  const k = rank - 2;
  const kernel = ints(node, 'kernel_shape') ?? w.shape.slice(2);
  const strides0 = ints(node, 'strides') ?? Array(k).fill(1);
  let outPad = ints(node, 'output_padding') ?? Array(k).fill(0);
  let pads = ints(node, 'pads') ?? Array(2 * k).fill(0);
  const inSize = x0.shape.slice(2);
  const autoPad = str(node, 'auto_pad', 'NOTSET');
  const outShape = ints(node, 'output_shape');
  if (outShape !== undefined || autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    // total padding from the wanted output size (output_shape, or in·stride for SAME)
    const want = outShape ? outShape.slice(-k) : inSize.map((d, i) => d * strides0[i]!);
    const begin: number[] = [];
    const end: number[] = [];
    for (let i = 0; i < k; i++) {
      const total = strides0[i]! * (inSize[i]! - 1) + outPad[i]! + kernel[i]! - want[i]!;
      const upper = autoPad !== 'SAME_LOWER';
      const small = Math.floor(total / 2);
      begin.push(upper ? small : total - small);
      end.push(upper ? total - small : small);
    }
    pads = [...begin, ...end];
  }
  let x = x0;
  if (rank === 3) {
    x = tf.expandDims(x0, 2);
    w = tf.expandDims(w, 2);
    pads = [0, pads[0]!, 0, pads[1]!];
    outPad = [0, outPad[0]!];
  }
  const strides = (rank === 3 ? [1, strides0[0]!] : strides0) as [number, number];
  const [, cout, kh, kw] = w.shape as [number, number, number, number];
  const [H, W] = [x.shape[2]!, x.shape[3]!];
  const full = [(H - 1) * strides[0] + kh, (W - 1) * strides[1] + kw];
  let y: T = tf.conv2dTranspose(toNhwc(tf, x) as never, tf.transpose(w, [2, 3, 1, 0]) as never, [x.shape[0]!, full[0]!, full[1]!, cout], strides, 'valid');
  // output_padding beyond the full result: zeros (bias only), then crop the pads
  const extra = [Math.max(0, outPad[0]! - pads[2]!), Math.max(0, outPad[1]! - pads[3]!)];
  if (extra[0] || extra[1])
    y = tf.pad(y, [
      [0, 0],
      [0, extra[0]!],
      [0, extra[1]!],
      [0, 0],
    ]);
  const size = [full[0]! + outPad[0]! - pads[0]! - pads[2]!, full[1]! + outPad[1]! - pads[1]! - pads[3]!];
  y = tf.slice(y, [0, pads[0]!, pads[1]!, 0], [-1, size[0]!, size[1]!, -1]);
  if (bias !== undefined) y = tf.add(y, bias);
  y = toNchw(tf, y);
  return rank === 3 ? tf.squeeze(y, [2]) : y;
};

/** Output size of a pooling window along one axis (ONNX / PyTorch: with ceil_mode, a window must start inside the input or its left pad). */
export function poolOutSize(inSize: number, k: number, s: number, d: number, pb: number, pe: number, ceil: boolean): number {
  const span = (k - 1) * d + 1;
  const raw = (inSize + pb + pe - span) / s;
  let out = (ceil ? Math.ceil(raw) : Math.floor(raw)) + 1;
  if (ceil && (out - 1) * s >= inSize + pb) out--;
  return out;
}

function pool(kind: 'max' | 'avg'): OpFn {
  return (ctx, inputs, node) => {
    const { tf } = ctx;
    const x0 = need(inputs[0], node, 0);
    const rank = x0.rank;
    const kernel0 = ints(node, 'kernel_shape')!;
    const { x, s } = as2d(tf, x0, spatialAttrs(node, x0, kernel0));
    const ceil = num(node, 'ceil_mode', 0) !== 0;
    const [H, W] = [x.shape[2]!, x.shape[3]!];
    const [kh, kw] = s.kernel as [number, number];
    const [sh, sw] = s.strides as [number, number];
    const [pt, pl, pb, pr] = s.pads as [number, number, number, number];
    const oh = poolOutSize(H, kh, sh, 1, pt, pb, ceil);
    const ow = poolOutSize(W, kw, sw, 1, pl, pr, ceil);
    // extra end padding so that a 'valid' pool gives exactly oh × ow windows
    const eb = Math.max(0, (oh - 1) * sh + kh - (H + pt + pb));
    const er = Math.max(0, (ow - 1) * sw + kw - (W + pl + pr));
    const padding: [number, number][] = [
      [0, 0],
      [pt, pb + eb],
      [pl, pr + er],
      [0, 0],
    ];
    const h = toNhwc(tf, x);
    const any = pt || pl || pb || pr || eb || er;
    let y: T;
    if (kind === 'max') {
      const hp = any ? tf.pad(h, padding, -Infinity) : h;
      y = tf.maxPool(hp as never, [kh, kw], [sh, sw], 'valid');
    } else {
      const hp = any ? tf.pad(h, padding) : h;
      const sum = tf.mul(tf.avgPool(hp as never, [kh, kw], [sh, sw], 'valid'), kh * kw);
      if (!any) y = tf.div(sum, kh * kw);
      else {
        // divisor: the window's cells inside the input (count_include_pad: inside input + pads)
        const include = num(node, 'count_include_pad', 0) !== 0;
        const ones = tf.ones([1, include ? H + pt + pb : H, include ? W + pl + pr : W, 1]);
        const marks = include
          ? tf.pad(ones, [
              [0, 0],
              [0, eb],
              [0, er],
              [0, 0],
            ])
          : tf.pad(ones, padding);
        const count = tf.mul(tf.avgPool(marks as never, [kh, kw], [sh, sw], 'valid'), kh * kw);
        y = tf.div(sum, count);
      }
    }
    y = toNchw(tf, y);
    return rank === 3 ? tf.squeeze(y, [2]) : y;
  };
}

function globalPool(kind: 'mean' | 'max'): OpFn {
  return (ctx, inputs, node) => {
    const x = need(inputs[0], node, 0);
    const axes = Array.from({ length: x.rank - 2 }, (_, i) => i + 2);
    return kind === 'mean' ? ctx.tf.mean(x, axes, true) : ctx.tf.max(x, axes, true);
  };
}

// ------------------------------------------------------------------ normalisation

/** A per-channel vector [C] shaped to broadcast over axis 1 of a rank-r tensor: [C, 1, …]. */
const channel = (tf: Tf, v: T, rank: number): T => tf.reshape(v, [v.size, ...Array(Math.max(0, rank - 2)).fill(1)]);

const batchNorm: OpFn = (ctx, inputs, node) => {
  const { tf } = ctx;
  const x = need(inputs[0], node, 0);
  const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => channel(tf, need(inputs[i], node, i), x.rank));
  const eps = num(node, 'epsilon', 1e-5);
  const inv = tf.div(scale!, tf.sqrt(tf.add(variance!, eps)));
  return tf.add(tf.mul(tf.sub(x, mean!), inv), bias!);
};

const layerNorm: OpFn = (ctx, inputs, node) => {
  const { tf } = ctx;
  const x = need(inputs[0], node, 0);
  const axis = normAxis(num(node, 'axis', -1), x.rank);
  const axes = Array.from({ length: x.rank - axis }, (_, i) => axis + i);
  const eps = num(node, 'epsilon', 1e-5);
  const mean = tf.mean(x, axes, true);
  const d = tf.sub(x, mean);
  const v = tf.mean(tf.square(d), axes, true);
  let y = tf.div(d, tf.sqrt(tf.add(v, eps)));
  if (inputs[1] !== undefined) y = tf.mul(y, inputs[1]);
  if (inputs[2] !== undefined) y = tf.add(y, inputs[2]);
  return y;
};

const instanceNorm: OpFn = (ctx, inputs, node) => {
  const { tf } = ctx;
  const x = need(inputs[0], node, 0);
  const axes = Array.from({ length: x.rank - 2 }, (_, i) => i + 2);
  const eps = num(node, 'epsilon', 1e-5);
  const mean = tf.mean(x, axes, true);
  const d = tf.sub(x, mean);
  const v = tf.mean(tf.square(d), axes, true);
  const y = tf.div(d, tf.sqrt(tf.add(v, eps)));
  return tf.add(tf.mul(y, channel(tf, need(inputs[1], node, 1), x.rank)), channel(tf, need(inputs[2], node, 2), x.rank));
};

// ------------------------------------------------------------------ softmax

/** Softmax / LogSoftmax: opset < 13 coerces to 2-D at `axis` (default 1); ≥ 13 works on the one axis (default −1). */
function softmax(log: boolean): OpFn {
  return (ctx, inputs, node) => {
    const { tf } = ctx;
    const x = need(inputs[0], node, 0);
    const f = (t: T): T => (log ? tf.logSoftmax(t) : tf.softmax(t));
    const legacy = node.attrs.coerce2d === true;
    const axis = normAxis(num(node, 'axis', legacy ? 1 : -1), x.rank);
    if (legacy) {
      const outer = prod(x.shape.slice(0, axis));
      return tf.reshape(f(tf.reshape(x, [outer, x.size / Math.max(outer, 1)])), x.shape);
    }
    if (axis === x.rank - 1) return f(x);
    const perm = Array.from({ length: x.rank }, (_, i) => i);
    perm[axis] = x.rank - 1;
    perm[x.rank - 1] = axis;
    return tf.transpose(f(tf.transpose(x, perm)), perm);
  };
}

// ------------------------------------------------------------------ reductions

function reduce(kind: 'mean' | 'sum' | 'max' | 'min' | 'prod'): OpFn {
  return (ctx, inputs, node) => {
    const { tf } = ctx;
    const x = need(inputs[0], node, 0);
    const keep = num(node, 'keepdims', 1) !== 0;
    let axes = param(node, inputs, 'axes', 1);
    if (axes === undefined || axes.length === 0) {
      if (num(node, 'noop_with_empty_axes', 0) !== 0) return tf.clone(x);
      axes = Array.from({ length: x.rank }, (_, i) => i);
    }
    const ax = axes.map((a) => normAxis(a, x.rank));
    switch (kind) {
      case 'mean':
        return tf.mean(x, ax, keep);
      case 'sum':
        return tf.sum(x, ax, keep);
      case 'max':
        return tf.max(x, ax, keep);
      case 'min':
        return tf.min(x, ax, keep);
      default:
        return tf.prod(x, ax, keep);
    }
  };
}

// ------------------------------------------------------------------ shapes

/** ONNX Reshape: 0 copies the input dim (unless allowzero), −1 is inferred. */
export function reshapeDims(inShape: readonly number[], shape: readonly number[], allowZero: boolean): number[] {
  const out = shape.map((d, i) => (d === 0 && !allowZero ? inShape[i]! : d));
  const k = out.indexOf(-1);
  if (k >= 0) {
    const rest = prod(out.filter((_, i) => i !== k));
    out[k] = rest === 0 ? 0 : prod(inShape) / rest;
  }
  return out;
}

const reshape: OpFn = (ctx, inputs, node) => {
  const x = need(inputs[0], node, 0);
  const shape = param(node, inputs, 'shape', 1)!;
  return ctx.tf.reshape(x, reshapeDims(x.shape, shape, num(node, 'allowzero', 0) !== 0));
};

const flatten: OpFn = (ctx, inputs, node) => {
  const x = need(inputs[0], node, 0);
  const axis = normAxis(num(node, 'axis', 1), x.rank);
  const outer = prod(x.shape.slice(0, axis));
  return ctx.tf.reshape(x, [outer, prod(x.shape.slice(axis))]);
};

const transpose: OpFn = (ctx, inputs, node) => {
  const x = need(inputs[0], node, 0);
  const perm = ints(node, 'perm') ?? Array.from({ length: x.rank }, (_, i) => x.rank - 1 - i);
  return ctx.tf.transpose(x, perm);
};

const concat: OpFn = (ctx, inputs, node) => {
  const xs = inputs.filter((t): t is T => t !== undefined);
  const axis = normAxis(num(node, 'axis', 0), xs[0]!.rank);
  // empty inputs (a 0-length shape vector) take no part
  const parts = xs.filter((t) => t.size > 0 || xs.every((u) => u.size === 0));
  if (parts.length === 1) return ctx.tf.clone(parts[0]!);
  const dtype = parts[0]!.dtype;
  return ctx.tf.concat(
    parts.map((t) => (t.dtype === dtype ? t : ctx.tf.cast(t, dtype))),
    axis,
  );
};

const split: OpFn = (ctx, inputs, node) => {
  const x = need(inputs[0], node, 0);
  const axis = normAxis(num(node, 'axis', 0), x.rank);
  const n = node.outputs.length;
  let sizes = param(node, inputs, 'split', 1);
  if (sizes === undefined) {
    const d = x.shape[axis]!;
    const part = Math.ceil(d / n);
    sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(part, d - i * part)));
  }
  return ctx.tf.split(x, sizes, axis);
};

/** Per-axis [start, end, step] clamped as ONNX Slice does, for a dim of size d. */
export function sliceRange(start: number, end: number, step: number, d: number): [number, number] {
  const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + d : start;
  let e = end < 0 ? end + d : end;
  if (step > 0) {
    s = clamp(s, 0, d);
    e = clamp(e, 0, d);
  } else {
    s = clamp(s, 0, d - 1);
    e = clamp(e, -1, d - 1);
  }
  return [s, e];
}

const slice: OpFn = (ctx, inputs, node) => {
  const { tf } = ctx;
  const x = need(inputs[0], node, 0);
  const starts = param(node, inputs, 'starts', 1)!;
  const ends = param(node, inputs, 'ends', 2)!;
  const axes = (param(node, inputs, 'axes', 3) ?? starts.map((_, i) => i)).map((a) => normAxis(a, x.rank));
  const steps = param(node, inputs, 'steps', 4) ?? starts.map(() => 1);
  const begin = Array(x.rank).fill(0);
  const end = [...x.shape];
  const stride = Array(x.rank).fill(1);
  let endMask = 0;
  axes.forEach((a, i) => {
    const st = steps[i]!;
    if (st === 0) throw new McuError('E_MODEL', `node '${node.name}' (Slice): a step of 0`);
    const [s, e] = sliceRange(starts[i]!, ends[i]!, st, x.shape[a]!);
    begin[a] = s;
    end[a] = e;
    stride[a] = st;
    // a negative step that runs through index 0 ends "before 0": tfjs reads −1 as the last index
    if (st < 0 && e < 0) endMask |= 1 << a;
  });
  if (stride.every((s) => s === 1)) {
    return tf.slice(
      x,
      begin,
      end.map((e, a) => Math.max(0, e - begin[a]!)),
    );
  }
  return tf.stridedSlice(x, begin, end, stride, 0, endMask);
};

const gather: OpFn = (ctx, inputs, node) => {
  const { tf } = ctx;
  const x = need(inputs[0], node, 0);
  let idx = need(inputs[1], node, 1);
  const axis = normAxis(num(node, 'axis', 0), x.rank);
  if (idx.dtype !== 'int32') idx = tf.cast(idx, 'int32');
  // negative indices count from the end
  idx = tf.where(tf.less(idx, 0), tf.add(idx, tf.scalar(x.shape[axis]!, 'int32')), idx);
  return tf.gather(x, idx, axis);
};

const squeeze: OpFn = (ctx, inputs, node) => {
  const x = need(inputs[0], node, 0);
  const axes = param(node, inputs, 'axes', 1);
  if (axes === undefined) return ctx.tf.squeeze(x);
  return ctx.tf.squeeze(
    x,
    axes.map((a) => normAxis(a, x.rank)),
  );
};

const unsqueeze: OpFn = (ctx, inputs, node) => {
  const x = need(inputs[0], node, 0);
  const axes = param(node, inputs, 'axes', 1)!;
  return ctx.tf.reshape(x, unsqueezeDims(x.shape, axes));
};

/** The dims after ONNX Unsqueeze (axes index the output). */
export function unsqueezeDims(shape: readonly number[], axes: readonly number[]): number[] {
  const r = shape.length + axes.length;
  const at = new Set(axes.map((a) => normAxis(a, r)));
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < r; i++) out.push(at.has(i) ? 1 : shape[k++]!);
  return out;
}

const shapeOp: OpFn = (ctx, inputs, node) => {
  const x = need(inputs[0], node, 0);
  const r = x.rank;
  const clampAxis = (a: number): number => Math.min(Math.max(normAxis(a, r), 0), r);
  const start = clampAxis(num(node, 'start', 0));
  const end = clampAxis(num(node, 'end', r));
  return ctx.tf.tensor1d(x.shape.slice(start, Math.max(start, end)), 'int32');
};

const constantOfShape: OpFn = (ctx, inputs, node) => {
  const shape = param(node, inputs, 'shape', 0)!;
  const dtype = str(node, 'dtype', 'float32') as 'float32' | 'int32' | 'bool';
  return ctx.tf.fill(shape, num(node, 'value', 0), dtype);
};

/** Cast to float32 / int32 / bool (ONNX float → int truncates toward zero). */
const cast: OpFn = (ctx, inputs, node) => {
  const { tf } = ctx;
  const x = need(inputs[0], node, 0);
  const to = str(node, 'to', 'float32') as 'float32' | 'int32' | 'bool';
  if (to === x.dtype) return tf.clone(x);
  if (to === 'int32' && x.dtype === 'float32') return tf.cast(tf.mul(tf.sign(x), tf.floor(tf.abs(x))), 'int32');
  return tf.cast(x, to);
};

const expand: OpFn = (ctx, inputs, node) => {
  const x = need(inputs[0], node, 0);
  const shape = param(node, inputs, 'shape', 1)!;
  const out = broadcastShapes(x.shape, shape, node);
  const xr = ctx.tf.reshape(x, [...Array(out.length - x.rank).fill(1), ...x.shape]);
  return ctx.tf.broadcastTo(xr, out);
};

const tile: OpFn = (ctx, inputs, node) => {
  const x = need(inputs[0], node, 0);
  return ctx.tf.tile(x, param(node, inputs, 'repeats', 1)!);
};

/** Pad: constant / reflect / edge; negative pads crop. `pads` is [begin…, end…] over `axes` (all by default). */
const pad: OpFn = (ctx, inputs, node) => {
  const { tf } = ctx;
  let x = need(inputs[0], node, 0);
  const pads0 = param(node, inputs, 'pads', 1)!;
  const value = typeof node.attrs.value === 'number' ? (node.attrs.value as number) : inputs[2] !== undefined ? Number(inputs[2].dataSync()[0] ?? 0) : 0;
  const axes = (param(node, inputs, 'axes', 3) ?? Array.from({ length: x.rank }, (_, i) => i)).map((a) => normAxis(a, x.rank));
  const before = Array(x.rank).fill(0);
  const after = Array(x.rank).fill(0);
  axes.forEach((a, i) => {
    before[a] = pads0[i]!;
    after[a] = pads0[i + axes.length]!;
  });
  // crop first (negative pads)
  if (before.some((p) => p < 0) || after.some((p) => p < 0)) {
    const b = before.map((p) => Math.max(0, -p));
    const size = x.shape.map((d, a) => d - b[a]! - Math.max(0, -after[a]!));
    x = tf.slice(x, b, size);
  }
  const pb = before.map((p) => Math.max(0, p));
  const pa = after.map((p) => Math.max(0, p));
  if (pb.every((p) => p === 0) && pa.every((p) => p === 0)) return tf.clone(x);
  const mode = str(node, 'mode', 'constant');
  if (mode === 'constant')
    return tf.pad(
      x,
      pb.map((p, a) => [p, pa[a]!] as [number, number]),
      value,
    );
  // reflect / edge: gather the source index of every output position, axis by axis
  let y = x;
  for (let a = 0; a < x.rank; a++) {
    if (pb[a] === 0 && pa[a] === 0) continue;
    const d = y.shape[a]!;
    const idx: number[] = [];
    for (let o = -pb[a]!; o < d + pa[a]!; o++) {
      let i = o;
      if (mode === 'edge') i = Math.min(Math.max(o, 0), d - 1);
      else {
        const period = 2 * (d - 1);
        i = period === 0 ? 0 : ((o % period) + period) % period;
        if (i >= d) i = period - i;
      }
      idx.push(i);
    }
    y = tf.gather(y, tf.tensor1d(idx, 'int32'), a);
  }
  return y;
};

const clip: OpFn = (ctx, inputs, node) => {
  const x = need(inputs[0], node, 0);
  const lo = typeof node.attrs.min === 'number' ? (node.attrs.min as number) : inputs[1] !== undefined ? Number(inputs[1].dataSync()[0]) : -Infinity;
  const hi = typeof node.attrs.max === 'number' ? (node.attrs.max as number) : inputs[2] !== undefined ? Number(inputs[2].dataSync()[0]) : Infinity;
  return ctx.tf.clipByValue(x, lo, hi);
};

const where: OpFn = (ctx, inputs, node) => {
  const { tf } = ctx;
  const c = need(inputs[0], node, 0);
  let a = need(inputs[1], node, 1);
  let b = need(inputs[2], node, 2);
  if (b.dtype !== a.dtype) b = tf.cast(b, a.dtype);
  const out = broadcastShapes(broadcastShapes(c.shape, a.shape, node), b.shape, node);
  const fit = (t: T): T => tf.broadcastTo(tf.reshape(t, [...Array(out.length - t.rank).fill(1), ...t.shape]), out);
  a = fit(a);
  b = fit(b);
  return tf.where(fit(c.dtype === 'bool' ? c : tf.cast(c, 'bool')) as never, a, b);
};

const range: OpFn = (ctx, inputs, node) => {
  const [start, limit, delta] = [0, 1, 2].map((i) => Number(need(inputs[i], node, i).dataSync()[0]));
  const dtype = need(inputs[0], node, 0).dtype as 'float32' | 'int32';
  return ctx.tf.range(start!, limit!, delta!, dtype);
};

const identity: OpFn = (ctx, inputs, node) => ctx.tf.clone(need(inputs[0], node, 0));

/** Dropout with its rows elsewhere than axis 0 (seq-first tensors, attention weights [N·heads, L, L]): the node's site mask, moved into place. */
const siteRows: OpFn = (ctx: OpContext, inputs, node) => {
  const { tf } = ctx;
  const x = need(inputs[0], node, 0);
  const site = node.sites![0]!;
  const axis = num(node, 'rowAxis', 0);
  const factor = num(node, 'rowFactor', 1);
  let m = ctx.siteMask(site); // [S·N, (factor,) ...other dims]
  if (factor > 1) m = tf.reshape(m, [m.shape[0]! * factor, ...m.shape.slice(2)]);
  if (axis > 0) {
    const perm = Array.from({ length: m.rank }, (_, i) => i);
    perm.splice(0, 1);
    perm.splice(axis, 0, 0);
    m = tf.transpose(m, perm);
  }
  return tf.mul(x, m);
};

const cmp = (f: (tf: Tf, a: T, b: T) => T): OpFn => binary(f);

/** Every operator, keyed 'onnx.<OpType>'. */
export const ONNX_OPS: OpRegistry = {
  'onnx.Gemm': gemm,
  'onnx.MatMul': matMul,
  'onnx.Add': binary((tf, a, b) => tf.add(a, b)),
  'onnx.Sub': binary((tf, a, b) => tf.sub(a, b)),
  'onnx.Mul': binary((tf, a, b) => tf.mul(a, b)),
  'onnx.Div': binary(divide),
  'onnx.Pow': binary((tf, a, b) => tf.pow(a, b)),
  'onnx.Max': variadic((tf, a, b) => tf.maximum(a, b)),
  'onnx.Min': variadic((tf, a, b) => tf.minimum(a, b)),
  'onnx.Equal': cmp((tf, a, b) => tf.equal(a, b)),
  'onnx.Less': cmp((tf, a, b) => tf.less(a, b)),
  'onnx.Greater': cmp((tf, a, b) => tf.greater(a, b)),
  'onnx.Not': unary((tf, x) => tf.logicalNot(x.dtype === 'bool' ? x : tf.cast(x, 'bool'))),
  'onnx.Where': where,
  'onnx.Relu': unary((tf, x) => tf.relu(x)),
  'onnx.LeakyRelu': unary((tf, x, n) => tf.leakyRelu(x, num(n, 'alpha', 0.01))),
  'onnx.PRelu': (ctx, inputs, node) => {
    const x = need(inputs[0], node, 0);
    const slope = need(inputs[1], node, 1);
    return ctx.tf.where(ctx.tf.less(x, 0), ctx.tf.mul(x, slope), ctx.tf.broadcastTo(x, broadcastShapes(x.shape, slope.shape, node)));
  },
  'onnx.Elu': unary((tf, x, n) => {
    const alpha = num(n, 'alpha', 1);
    return tf.where(tf.greater(x, 0), x, tf.mul(alpha, tf.sub(tf.exp(x), 1)));
  }),
  'onnx.Selu': unary((tf, x, n) => {
    // ONNX's defaults, exact float32 values (a float64 holds each exactly)
    // biome-ignore lint/correctness/noPrecisionLoss: the literal is the float32 value ONNX specifies, digit for digit
    const alpha = num(n, 'alpha', 1.67326319217681884765625);
    // biome-ignore lint/correctness/noPrecisionLoss: as above
    const gamma = num(n, 'gamma', 1.05070102214813232421875);
    return tf.mul(gamma, tf.where(tf.greater(x, 0), x, tf.mul(alpha, tf.sub(tf.exp(x), 1))));
  }),
  'onnx.Sigmoid': unary((tf, x) => tf.sigmoid(x)),
  'onnx.HardSigmoid': unary((tf, x, n) => tf.clipByValue(tf.add(tf.mul(num(n, 'alpha', 0.2), x), num(n, 'beta', 0.5)), 0, 1)),
  'onnx.HardSwish': unary((tf, x) => tf.mul(x, tf.clipByValue(tf.add(tf.mul(1 / 6, x), 0.5), 0, 1))),
  'onnx.Tanh': unary((tf, x) => tf.tanh(x)),
  'onnx.Softplus': unary((tf, x) => tf.softplus(x)),
  'onnx.Softsign': unary((tf, x) => tf.div(x, tf.add(1, tf.abs(x)))),
  'onnx.Erf': unary(erf),
  'onnx.Gelu': unary((tf, x, n) => gelu(tf, x, str(n, 'approximate', 'none'))),
  'onnx.Exp': unary((tf, x) => tf.exp(x)),
  'onnx.Log': unary((tf, x) => tf.log(x)),
  'onnx.Sqrt': unary((tf, x) => tf.sqrt(x)),
  'onnx.Abs': unary((tf, x) => tf.abs(x)),
  'onnx.Neg': unary((tf, x) => tf.neg(x)),
  'onnx.Floor': unary((tf, x) => tf.floor(x)),
  'onnx.Ceil': unary((tf, x) => tf.ceil(x)),
  'onnx.Reciprocal': unary((tf, x) => tf.reciprocal(x)),
  'onnx.Clip': clip,
  'onnx.Conv': conv,
  'onnx.ConvTranspose': convTranspose,
  'onnx.MaxPool': pool('max'),
  'onnx.AveragePool': pool('avg'),
  'onnx.GlobalAveragePool': globalPool('mean'),
  'onnx.GlobalMaxPool': globalPool('max'),
  'onnx.BatchNormalization': batchNorm,
  'onnx.LayerNormalization': layerNorm,
  'onnx.InstanceNormalization': instanceNorm,
  'onnx.Flatten': flatten,
  'onnx.Reshape': reshape,
  'onnx.Transpose': transpose,
  'onnx.Concat': concat,
  'onnx.Split': split,
  'onnx.Slice': slice,
  'onnx.Gather': gather,
  'onnx.Squeeze': squeeze,
  'onnx.Unsqueeze': unsqueeze,
  'onnx.Shape': shapeOp,
  'onnx.ConstantOfShape': constantOfShape,
  'onnx.Identity': identity,
  'onnx.Cast': cast,
  'onnx.Expand': expand,
  'onnx.Tile': tile,
  'onnx.Pad': pad,
  'onnx.Range': range,
  'onnx.Softmax': softmax(false),
  'onnx.LogSoftmax': softmax(true),
  'onnx.ReduceMean': reduce('mean'),
  'onnx.ReduceSum': reduce('sum'),
  'onnx.ReduceMax': reduce('max'),
  'onnx.ReduceMin': reduce('min'),
  'onnx.ReduceProd': reduce('prod'),
  'onnx.SiteRows': siteRows,
};
