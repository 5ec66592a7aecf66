// Caffe → ONNX: every supported layer type and option, run in onnxruntime-node and compared with
// an independently written reference of Caffe's TEST-phase computation (the loops of Caffe's
// *_layer.cpp, in float64), plus the translation's errors.
import { afterAll, describe, expect, test } from 'vitest';
import * as ort from 'onnxruntime-node';
import { McuError } from '@mcu/core';
import { caffeToOnnx, SUPPORTED_LAYER_TYPES } from '../src/to-onnx.js';
import type { CaffeBlob, CaffeLayer, CaffeNet, CaffeToOnnxOptions } from '../src/types.js';
import { errorText, mulberry32, L } from './helpers.js';

// ---------------------------------------------------------------------------------------------
// Building nets.

const rand = mulberry32(20160601);

/** Uniform values in [lo, hi) as float32. */
function values(n: number, lo = -1, hi = 1): Float32Array {
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());
}

function blob(shape: number[], opts: { lo?: number; hi?: number; legacy?: boolean; data?: number[] } = {}): CaffeBlob {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = opts.data !== undefined ? Float32Array.from(opts.data) : values(n, opts.lo, opts.hi);
  return { shape, legacy: opts.legacy ?? false, data };
}

type Params = Record<string, unknown>;

/** A net with weights; `inputs` with their declared full shapes (batch axis included). */
function net(inputs: Record<string, (number | undefined)[] | undefined>, layers: CaffeLayer[], extra: Partial<CaffeNet> = {}): CaffeNet {
  return {
    name: 'test',
    inputs: Object.entries(inputs).map(([name, shape]) => ({ name, shape, from: 'input_shape' })),
    layers,
    dropped: [],
    weights: 'present',
    warnings: [],
    files: { prototxt: 'test.prototxt', caffemodel: 'test.caffemodel' },
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------
// The reference: Caffe's forward pass at TEST, written from Caffe's layer sources.

interface T {
  shape: number[];
  data: Float64Array;
}

const count = (s: readonly number[], from = 0, to = s.length): number => s.slice(from, to).reduce((a, b) => a * b, 1);
const canon = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);
/** The reference reads LayerParameter fields untyped. */
// biome-ignore lint/suspicious/noExplicitAny: the reference reads Caffe's parameter records as Caffe does, untyped
type Any = any;
const P = (l: CaffeLayer, key: string): Any => (l.param as Any)[key] ?? {};
const unary = (x: T, f: (v: number) => number): T => ({ shape: x.shape, data: x.data.map(f) });

function refConv(l: CaffeLayer, x: T): T {
  const p = P(l, 'convolution_param');
  const pair = (rep: number[] | undefined, h: number | undefined, w: number | undefined, def: number): [number, number] => {
    if (h !== undefined || w !== undefined) return [h ?? def, w ?? def];
    if (rep === undefined || rep.length === 0) return [def, def];
    return rep.length === 1 ? [rep[0]!, rep[0]!] : [rep[0]!, rep[1]!];
  };
  const [kh, kw] = pair(p.kernel_size, p.kernel_h, p.kernel_w, 0);
  const [ph, pw] = pair(p.pad, p.pad_h, p.pad_w, 0);
  const [sh, sw] = pair(p.stride, p.stride_h, p.stride_w, 1);
  const [dh, dw] = pair(p.dilation, undefined, undefined, 1);
  const group: number = p.group ?? 1;
  const O: number = p.num_output;
  const bias = p.bias_term ?? true;
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const OH = Math.floor((H + 2 * ph - (dh * (kh - 1) + 1)) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - (dw * (kw - 1) + 1)) / sw) + 1;
  const w = l.blobs[0]!.data;
  const b = bias ? l.blobs[1]!.data : undefined;
  const cg = C / group;
  const og = O / group;
  const out = new Float64Array(N * O * OH * OW);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++) {
      const g = Math.floor(o / og);
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++) {
          let s = b ? b[o]! : 0;
          for (let c = 0; c < cg; c++)
            for (let ky = 0; ky < kh; ky++)
              for (let kx = 0; kx < kw; kx++) {
                const iy = oy * sh - ph + ky * dh;
                const ix = ox * sw - pw + kx * dw;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                s += w[((o * cg + c) * kh + ky) * kw + kx]! * x.data[((n * C + g * cg + c) * H + iy) * W + ix]!;
              }
          out[((n * O + o) * OH + oy) * OW + ox] = s;
        }
    }
  return { shape: [N, O, OH, OW], data: out };
}

/** PoolingLayer::Reshape and Forward_cpu (MAX, AVE), with its hstart/hend clipping and pool_size. */
function refPool(l: CaffeLayer, x: T): T {
  const p = P(l, 'pooling_param');
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const global = p.global_pooling === true;
  let kh: number, kw: number;
  if (global) [kh, kw] = [H, W];
  else if (p.kernel_size !== undefined) kh = kw = p.kernel_size;
  else [kh, kw] = [p.kernel_h, p.kernel_w];
  const [ph, pw] = p.pad_h !== undefined ? [p.pad_h, p.pad_w] : [p.pad ?? 0, p.pad ?? 0];
  const [sh, sw] = p.stride_h !== undefined ? [p.stride_h, p.stride_w] : [p.stride ?? 1, p.stride ?? 1];
  const round = p.round_mode === 'FLOOR' ? Math.floor : Math.ceil;
  let OH = round((H + 2 * ph - kh) / sh) + 1;
  let OW = round((W + 2 * pw - kw) / sw) + 1;
  if (ph || pw) {
    if ((OH - 1) * sh >= H + ph) --OH;
    if ((OW - 1) * sw >= W + pw) --OW;
  }
  const out = new Float64Array(N * C * OH * OW);
  const ave = p.pool === 'AVE';
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++) {
          let hstart = oy * sh - ph;
          let wstart = ox * sw - pw;
          let hend: number,
            wend: number,
            poolSize = 0;
          if (ave) {
            hend = Math.min(hstart + kh, H + ph);
            wend = Math.min(wstart + kw, W + pw);
            poolSize = (hend - hstart) * (wend - wstart);
            hend = Math.min(hend, H);
            wend = Math.min(wend, W);
          } else {
            hend = Math.min(hstart + kh, H);
            wend = Math.min(wstart + kw, W);
          }
          hstart = Math.max(hstart, 0);
          wstart = Math.max(wstart, 0);
          let acc = ave ? 0 : -3.4028234663852886e38;
          for (let h = hstart; h < hend; h++)
            for (let w = wstart; w < wend; w++) {
              const v = x.data[((n * C + c) * H + h) * W + w]!;
              acc = ave ? acc + v : Math.max(acc, v);
            }
          out[((n * C + c) * OH + oy) * OW + ox] = ave ? acc / poolSize : acc;
        }
  return { shape: [N, C, OH, OW], data: out };
}

function refInnerProduct(l: CaffeLayer, x: T): T {
  const p = P(l, 'inner_product_param');
  const axis = canon(p.axis ?? 1, x.shape.length);
  const O: number = p.num_output;
  const M = count(x.shape, 0, axis);
  const K = count(x.shape, axis);
  const w = l.blobs[0]!.data;
  const b = (p.bias_term ?? true) ? l.blobs[1]!.data : undefined;
  const out = new Float64Array(M * O);
  for (let m = 0; m < M; m++)
    for (let o = 0; o < O; o++) {
      let s = b ? b[o]! : 0;
      for (let k = 0; k < K; k++) s += x.data[m * K + k]! * (p.transpose ? w[k * O + o]! : w[o * K + k]!);
      out[m * O + o] = s;
    }
  return { shape: [...x.shape.slice(0, axis), O], data: out };
}

function refSoftmax(l: CaffeLayer, x: T): T {
  const axis = canon(P(l, 'softmax_param').axis ?? 1, x.shape.length);
  const outer = count(x.shape, 0, axis);
  const C = x.shape[axis]!;
  const inner = count(x.shape, axis + 1);
  const out = new Float64Array(x.data.length);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let m = -Infinity;
      for (let c = 0; c < C; c++) m = Math.max(m, x.data[(o * C + c) * inner + i]!);
      let z = 0;
      for (let c = 0; c < C; c++) z += Math.exp(x.data[(o * C + c) * inner + i]! - m);
      for (let c = 0; c < C; c++) out[(o * C + c) * inner + i] = Math.exp(x.data[(o * C + c) * inner + i]! - m) / z;
    }
  return { shape: x.shape, data: out };
}

/** LRNLayer: ACROSS_CHANNELS (k + alpha/size · Σ x² over channels) and WITHIN_CHANNEL (1 + alpha · mean of x² over a size × size window, padding counted). */
function refLrn(l: CaffeLayer, x: T): T {
  const p = P(l, 'lrn_param');
  const size: number = p.local_size ?? 5;
  const alpha: number = p.alpha ?? 1;
  const beta: number = p.beta ?? 0.75;
  const k: number = p.k ?? 1;
  const pre = (size - 1) / 2;
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const at = (n: number, c: number, h: number, w: number): number => x.data[((n * C + c) * H + h) * W + w]!;
  const out = new Float64Array(x.data.length);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) {
          let scale: number;
          if (p.norm_region === 'WITHIN_CHANNEL') {
            let s = 0;
            for (let y = h - pre; y <= h + pre; y++) for (let z = w - pre; z <= w + pre; z++) if (y >= 0 && y < H && z >= 0 && z < W) s += at(n, c, y, z) ** 2;
            scale = 1 + (alpha * s) / (size * size);
          } else {
            let s = 0;
            for (let d = c - pre; d <= c + pre; d++) if (d >= 0 && d < C) s += at(n, d, h, w) ** 2;
            scale = k + (alpha / size) * s;
          }
          out[((n * C + c) * H + h) * W + w] = at(n, c, h, w) * scale ** -beta;
        }
  return { shape: x.shape, data: out };
}

function refConcat(l: CaffeLayer, xs: T[]): T {
  const p = P(l, 'concat_param');
  const axis = p.concat_dim !== undefined ? p.concat_dim : canon(p.axis ?? 1, xs[0]!.shape.length);
  const outer = count(xs[0]!.shape, 0, axis);
  const inner = count(xs[0]!.shape, axis + 1);
  const total = xs.reduce((s, x) => s + x.shape[axis]!, 0);
  const out = new Float64Array(outer * total * inner);
  let offset = 0;
  for (const x of xs) {
    const c = x.shape[axis]!;
    for (let o = 0; o < outer; o++) for (let j = 0; j < c * inner; j++) out[(o * total + offset) * inner + j] = x.data[o * c * inner + j]!;
    offset += c;
  }
  const shape = [...xs[0]!.shape];
  shape[axis] = total;
  return { shape, data: out };
}

function refSlice(l: CaffeLayer, x: T): T[] {
  const p = P(l, 'slice_param');
  const axis = p.slice_dim !== undefined ? p.slice_dim : canon(p.axis ?? 1, x.shape.length);
  const dim = x.shape[axis]!;
  const points: number[] = p.slice_point ?? [];
  const n = l.top.length;
  const bounds = points.length > 0 ? [0, ...points, dim] : Array.from({ length: n + 1 }, (_, i) => (i * dim) / n);
  const outer = count(x.shape, 0, axis);
  const inner = count(x.shape, axis + 1);
  return l.top.map((_, t) => {
    const lo = bounds[t]!;
    const c = bounds[t + 1]! - lo;
    const data = new Float64Array(outer * c * inner);
    for (let o = 0; o < outer; o++) for (let j = 0; j < c * inner; j++) data[o * c * inner + j] = x.data[(o * dim + lo) * inner + j]!;
    const shape = [...x.shape];
    shape[axis] = c;
    return { shape, data };
  });
}

function refEltwise(l: CaffeLayer, xs: T[]): T {
  const p = P(l, 'eltwise_param');
  const op = p.operation ?? 'SUM';
  const coeff: number[] = p.coeff ?? xs.map(() => 1);
  const data = new Float64Array(xs[0]!.data.length);
  for (let i = 0; i < data.length; i++) {
    if (op === 'SUM') data[i] = xs.reduce((s, x, j) => s + coeff[j]! * x.data[i]!, 0);
    else if (op === 'PROD') data[i] = xs.reduce((s, x) => s * x.data[i]!, 1);
    else data[i] = Math.max(...xs.map((x) => x.data[i]!));
  }
  return { shape: xs[0]!.shape, data };
}

/** ReshapeLayer::Reshape on the real shape. */
function refReshape(l: CaffeLayer, x: T): T {
  const p = P(l, 'reshape_param');
  const dims: number[] = p.shape?.dim ?? [];
  const r = x.shape.length;
  const start = (p.axis ?? 0) >= 0 ? (p.axis ?? 0) : r + p.axis + 1;
  const numAxes = p.num_axes ?? -1;
  const end = numAxes === -1 ? r : start + numAxes;
  const top = [...x.shape.slice(0, start), ...dims, ...x.shape.slice(end)];
  let inferred = -1;
  dims.forEach((d, i) => {
    if (d === 0) top[start + i] = x.shape[start + i]!;
    if (d === -1) inferred = start + i;
  });
  if (inferred >= 0) {
    top[inferred] = 1;
    top[inferred] = x.data.length / count(top);
  }
  return { shape: top, data: x.data };
}

function refFlatten(l: CaffeLayer, x: T): T {
  const p = P(l, 'flatten_param');
  const a = canon(p.axis ?? 1, x.shape.length);
  const e = canon(p.end_axis ?? -1, x.shape.length);
  return { shape: [...x.shape.slice(0, a), count(x.shape, a, e + 1), ...x.shape.slice(e + 1)], data: x.data };
}

function refBatchNorm(l: CaffeLayer, x: T): T {
  const eps: number = P(l, 'batch_norm_param').eps ?? 1e-5;
  const f = l.blobs[2]!.data[0] === 0 ? 0 : 1 / l.blobs[2]!.data[0]!;
  const C = x.shape.length > 1 ? x.shape[1]! : 1;
  const inner = count(x.shape, 2);
  return {
    shape: x.shape,
    data: x.data.map((v, i) => {
      const c = Math.floor(i / inner) % C;
      return (v - l.blobs[0]!.data[c]! * f) / Math.sqrt(l.blobs[1]!.data[c]! * f + eps);
    }),
  };
}

/** ScaleLayer / BiasLayer: operand over axes [axis, axis + num_axes) (or bottom 1). */
function refScaleBias(l: CaffeLayer, xs: T[]): T {
  const scale = l.type === 'Scale';
  const p = P(l, scale ? 'scale_param' : 'bias_param');
  const x = xs[0]!;
  const axis = canon(p.axis ?? 1, x.shape.length);
  let operand: Float32Array | Float64Array;
  let span: number;
  if (xs.length === 2) {
    operand = xs[1]!.data;
    span = xs[1]!.shape.length;
  } else {
    operand = l.blobs[0]!.data;
    const numAxes = p.num_axes ?? 1;
    span = numAxes === -1 ? x.shape.length - axis : numAxes;
  }
  const dim = count(x.shape, axis, axis + span);
  const inner = count(x.shape, axis + span);
  const bias = scale && p.bias_term === true ? l.blobs[1]!.data : undefined;
  return {
    shape: x.shape,
    data: x.data.map((v, i) => {
      const s = span === 0 ? 0 : Math.floor(i / inner) % dim;
      return scale ? v * operand[s]! + (bias ? bias[s]! : 0) : v + operand[s]!;
    }),
  };
}

function refLayer(l: CaffeLayer, xs: T[]): T[] {
  const x = xs[0]!;
  switch (l.type) {
    case 'Convolution':
      return [refConv(l, x)];
    case 'Pooling':
      return [refPool(l, x)];
    case 'InnerProduct':
      return [refInnerProduct(l, x)];
    case 'ReLU': {
      const s: number = P(l, 'relu_param').negative_slope ?? 0;
      return [unary(x, (v) => Math.max(v, 0) + s * Math.min(v, 0))];
    }
    case 'TanH':
      return [unary(x, Math.tanh)];
    case 'Sigmoid':
      return [unary(x, (v) => 1 / (1 + Math.exp(-v)))];
    case 'AbsVal':
      return [unary(x, Math.abs)];
    case 'ELU': {
      const a: number = P(l, 'elu_param').alpha ?? 1;
      return [unary(x, (v) => (v > 0 ? v : a * (Math.exp(v) - 1)))];
    }
    case 'PReLU': {
      const shared = P(l, 'prelu_param').channel_shared === true;
      const C = x.shape[1]!;
      const inner = count(x.shape, 2);
      const a = l.blobs[0]!.data;
      return [{ shape: x.shape, data: x.data.map((v, i) => Math.max(v, 0) + a[shared ? 0 : Math.floor(i / inner) % C]! * Math.min(v, 0)) }];
    }
    case 'Power': {
      const p = P(l, 'power_param');
      return [unary(x, (v) => ((p.shift ?? 0) + (p.scale ?? 1) * v) ** (p.power ?? 1))];
    }
    case 'Exp': {
      const p = P(l, 'exp_param');
      const base: number = p.base ?? -1;
      return [unary(x, (v) => (base === -1 ? Math.exp : (e: number) => base ** e)((p.shift ?? 0) + (p.scale ?? 1) * v))];
    }
    case 'Log': {
      const p = P(l, 'log_param');
      const base: number = p.base ?? -1;
      return [unary(x, (v) => Math.log((p.shift ?? 0) + (p.scale ?? 1) * v) / (base === -1 ? 1 : Math.log(base)))];
    }
    case 'Softmax':
      return [refSoftmax(l, x)];
    case 'LRN':
      return [refLrn(l, x)];
    case 'Concat':
      return [refConcat(l, xs)];
    case 'Slice':
      return refSlice(l, x);
    case 'Split':
      return l.top.map(() => x);
    case 'Eltwise':
      return [refEltwise(l, xs)];
    case 'Flatten':
      return [refFlatten(l, x)];
    case 'Reshape':
      return [refReshape(l, x)];
    case 'BatchNorm':
      return [refBatchNorm(l, x)];
    case 'Scale':
    case 'Bias':
      return [refScaleBias(l, xs)];
    case 'Dropout': {
      const p = P(l, 'dropout_param');
      const keep = p.scale_train === false ? 1 - (p.dropout_ratio ?? 0.5) : 1;
      return [unary(x, (v) => v * keep)];
    }
    default:
      throw new Error(`reference: no ${l.type}`);
  }
}

/** Runs the net layer by layer; returns every blob's last value. */
function refRun(n: CaffeNet, feeds: Record<string, T>): Map<string, T> {
  const blobs = new Map<string, T>(Object.entries(feeds));
  for (const l of n.layers) {
    const outs = refLayer(
      l,
      l.bottom.map((b) => blobs.get(b)!),
    );
    l.top.forEach((t, i) => blobs.set(t, outs[i]!));
  }
  return blobs;
}

// ---------------------------------------------------------------------------------------------
// Running and comparing.

const errors: [string, number][] = [];

/** max |a − b| / max |b| (b the reference). */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return m === 0 ? d : d / m;
}

interface RunOptions extends CaffeToOnnxOptions {
  batch?: number;
  lo?: number;
  hi?: number;
  /** Full input shapes to feed (default: the declared shape with the batch replaced). */
  feedShapes?: Record<string, number[]>;
}

/** Translates, runs in ORT and compares every graph output with the reference; returns the max relative error. */
async function check(
  title: string,
  n: CaffeNet,
  opts: RunOptions = {},
): Promise<{ err: number; onnx: ReturnType<typeof caffeToOnnx>; outputs: Record<string, ort.Tensor> }> {
  const onnx = caffeToOnnx(n, opts);
  const batch = opts.batch ?? 2;
  const feeds: Record<string, T> = {};
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const i of onnx.inputs) {
    const shape = opts.feedShapes?.[i.name] ?? [batch, ...i.dims];
    const data = values(count(shape), opts.lo, opts.hi);
    feeds[i.name] = { shape, data: Float64Array.from(data) };
    ortFeeds[i.name] = new ort.Tensor('float32', data, shape);
  }
  const ref = refRun(n, feeds);
  let err = 0;
  let outputs: Record<string, ort.Tensor> = {};
  // As written (no graph optimisation), and as ORT optimises it (Dropout removed, fusions).
  for (const graphOptimizationLevel of ['disabled', 'all'] as const) {
    const session = await ort.InferenceSession.create(onnx.bytes, { logSeverityLevel: 3, graphOptimizationLevel });
    outputs = (await session.run(ortFeeds)) as Record<string, ort.Tensor>;
    await session.release();
    expect(Object.keys(outputs).sort()).toEqual(onnx.outputs.map((o) => o.name).sort());
    for (const o of onnx.outputs) {
      const want = ref.get(o.name)!;
      const got = outputs[o.name]!;
      expect(got.dims, `${title}: ${o.name} dims`).toEqual(want.shape);
      expect(want.shape.slice(1), `${title}: ${o.name} declared dims`).toEqual(o.dims);
      err = Math.max(err, relError(got.data as Float32Array, want.data));
    }
  }
  errors.push([title, err]);
  expect(err, title).toBeLessThanOrEqual(1e-5);
  return { err, onnx, outputs };
}

afterAll(() => {
  const worst = errors.reduce((m, [, e]) => Math.max(m, e), 0);
  console.log(
    `caffe→onnx vs reference: ${errors.length} runs, max relative error ${worst.toExponential(2)}\n` +
      errors.map(([t, e]) => `  ${e.toExponential(2)}  ${t}`).join('\n'),
  );
});

// ---------------------------------------------------------------------------------------------
// Every layer type and option.

type Case = [title: string, build: () => CaffeNet, opts?: RunOptions];

const single = (inShape: number[], type: string, param: Params = {}, blobs: CaffeBlob[] = []): CaffeNet =>
  net({ data: inShape }, [L('l', type, 'data', 'out', param, blobs)]);

const conv = (o: number, cin: number, kh: number, kw: number, param: Params, bias = true): CaffeLayer =>
  L(
    'c',
    'Convolution',
    'data',
    'out',
    { convolution_param: { num_output: o, ...param } },
    bias ? [blob([o, cin, kh, kw]), blob([o])] : [blob([o, cin, kh, kw])],
  );

const pool = (shape: number[], param: Params): CaffeNet => net({ data: shape }, [L('p', 'Pooling', 'data', 'out', { pooling_param: param })]);

const cases: Case[] = [
  ['Convolution: pad 1, kernel 3, bias', () => net({ data: [1, 3, 5, 6] }, [conv(4, 3, 3, 3, { kernel_size: [3], pad: [1] })])],
  [
    'Convolution: group 2, dilation 2, kernel_h/_w, pad_h/_w, stride_h/_w, bias_term false',
    () =>
      net({ data: [1, 4, 9, 8] }, [
        conv(6, 2, 3, 2, { group: 2, dilation: [2], kernel_h: 3, kernel_w: 2, pad_h: 2, pad_w: 1, stride_h: 2, stride_w: 1, bias_term: false }, false),
      ]),
  ],
  [
    'Convolution: kernel_size/stride/pad/dilation as [h, w] pairs',
    () => net({ data: [1, 2, 7, 9] }, [conv(3, 2, 3, 2, { kernel_size: [3, 2], stride: [2, 1], pad: [1, 0], dilation: [1, 2] })]),
  ],
  [
    'InnerProduct: axis 1 on a 4-D bottom (Flatten + Gemm)',
    () => single([1, 2, 3, 3], 'InnerProduct', { inner_product_param: { num_output: 5 } }, [blob([5, 18]), blob([5])]),
  ],
  [
    'InnerProduct: transpose, bias_term false',
    () => single([1, 7], 'InnerProduct', { inner_product_param: { num_output: 4, transpose: true, bias_term: false } }, [blob([7, 4])]),
  ],
  [
    'InnerProduct: axis 2 (Reshape + MatMul + Add)',
    () => single([1, 3, 4, 2], 'InnerProduct', { inner_product_param: { num_output: 5, axis: 2 } }, [blob([5, 8]), blob([5])]),
  ],
  [
    'InnerProduct: axis -1, transpose',
    () => single([1, 3, 4], 'InnerProduct', { inner_product_param: { num_output: 2, axis: -1, transpose: true } }, [blob([4, 2]), blob([2])]),
  ],
  [
    'InnerProduct: legacy blob shapes (1, 1, out, K) and (1, 1, 1, out)',
    () =>
      single([1, 6], 'InnerProduct', { inner_product_param: { num_output: 3 } }, [blob([1, 1, 3, 6], { legacy: true }), blob([1, 1, 1, 3], { legacy: true })]),
  ],
  ['Pooling MAX: ceil ≠ floor (6×8, kernel 3, stride 2 → 3×4)', () => pool([1, 2, 6, 8], { pool: 'MAX', kernel_size: 3, stride: 2 })],
  ["Pooling MAX: pad with Caffe's clipping (H 5, pad 1, kernel 2, stride 2 → 3)", () => pool([1, 2, 5, 6], { pool: 'MAX', kernel_size: 2, stride: 2, pad: 1 })],
  ['Pooling MAX: default pool, kernel 3 stride 3 pad 1', () => pool([1, 2, 7, 8], { kernel_size: 3, stride: 3, pad: 1 })],
  ['Pooling AVE: pad 1 (padding counted, ceil overhang not)', () => pool([1, 2, 6, 7], { pool: 'AVE', kernel_size: 3, stride: 2, pad: 1 })],
  ['Pooling AVE: ceil overhang without pad', () => pool([1, 2, 6, 8], { pool: 'AVE', kernel_size: 3, stride: 2 })],
  ["Pooling AVE: pad with Caffe's clipping (H 5, pad 1, kernel 2, stride 2)", () => pool([1, 3, 5, 5], { pool: 'AVE', kernel_size: 2, stride: 2, pad: 1 })],
  ['Pooling AVE: kernel 3, stride 1, pad 2', () => pool([1, 1, 4, 5], { pool: 'AVE', kernel_size: 3, stride: 1, pad: 2 })],
  [
    'Pooling MAX: kernel_h/_w, stride_h/_w, pad_h/_w',
    () => pool([1, 2, 7, 6], { pool: 'MAX', kernel_h: 3, kernel_w: 2, stride_h: 2, stride_w: 3, pad_h: 1, pad_w: 0 }),
  ],
  [
    'Pooling AVE: kernel_h/_w, stride_h/_w, pad_h/_w',
    () => pool([1, 2, 7, 6], { pool: 'AVE', kernel_h: 3, kernel_w: 2, stride_h: 2, stride_w: 3, pad_h: 1, pad_w: 1 }),
  ],
  ['Pooling MAX: round_mode FLOOR with pad', () => pool([1, 2, 6, 7], { pool: 'MAX', kernel_size: 3, stride: 2, pad: 1, round_mode: 'FLOOR' })],
  ['Pooling AVE: round_mode FLOOR with pad', () => pool([1, 2, 6, 7], { pool: 'AVE', kernel_size: 3, stride: 2, pad: 1, round_mode: 'FLOOR' })],
  ['Pooling MAX: global_pooling', () => pool([1, 3, 4, 5], { pool: 'MAX', global_pooling: true })],
  ['Pooling AVE: global_pooling', () => pool([1, 3, 4, 5], { pool: 'AVE', global_pooling: true })],
  ['ReLU', () => single([1, 3, 4], 'ReLU')],
  ['ReLU: negative_slope 0.1 (LeakyRelu)', () => single([1, 3, 4], 'ReLU', { relu_param: { negative_slope: 0.1 } })],
  ['TanH', () => single([1, 3, 4], 'TanH'), { lo: -3, hi: 3 }],
  ['Sigmoid', () => single([1, 3, 4], 'Sigmoid'), { lo: -4, hi: 4 }],
  ['AbsVal', () => single([1, 3, 4], 'AbsVal')],
  ['ELU: alpha 0.7', () => single([1, 3, 4], 'ELU', { elu_param: { alpha: 0.7 } }), { lo: -3, hi: 3 }],
  ['ELU: default alpha', () => single([1, 5], 'ELU')],
  ['PReLU: per channel, 4-D', () => single([1, 3, 2, 2], 'PReLU', {}, [blob([3])])],
  ['PReLU: channel_shared', () => single([1, 3, 2, 2], 'PReLU', { prelu_param: { channel_shared: true } }, [blob([1])])],
  ['PReLU: per channel, 2-D', () => single([1, 4], 'PReLU', {}, [blob([4])])],
  ['Power: (0.5 + 2x)^2', () => single([1, 3, 4], 'Power', { power_param: { power: 2, scale: 2, shift: 0.5 } })],
  ['Power: 3x (power 1)', () => single([1, 3, 4], 'Power', { power_param: { scale: 3 } })],
  ['Power: x^0.5 on positive inputs', () => single([1, 6], 'Power', { power_param: { power: 0.5 } }), { lo: 0.1, hi: 4 }],
  ['Power: power 0 → 1', () => single([1, 2, 3], 'Power', { power_param: { power: 0, shift: 2 } })],
  ['Power: scale 0 → shift^power', () => single([1, 2, 3], 'Power', { power_param: { power: 2, scale: 0, shift: 3 } })],
  ['Power: defaults (identity)', () => single([1, 4], 'Power')],
  ['Exp: base e', () => single([1, 3, 4], 'Exp')],
  ['Exp: base 2, scale 0.5, shift 1', () => single([1, 3, 4], 'Exp', { exp_param: { base: 2, scale: 0.5, shift: 1 } }), { lo: -3, hi: 3 }],
  ['Log: base e', () => single([1, 3, 4], 'Log'), { lo: 0.05, hi: 5 }],
  ['Log: base 10, scale 2, shift 0.5', () => single([1, 3, 4], 'Log', { log_param: { base: 10, scale: 2, shift: 0.5 } }), { lo: 0.05, hi: 5 }],
  ['Softmax: axis 1 (channels of a 4-D blob)', () => single([1, 3, 2, 2], 'Softmax'), { lo: -3, hi: 3 }],
  ['Softmax: axis -1', () => single([1, 3, 4], 'Softmax', { softmax_param: { axis: -1 } }), { lo: -3, hi: 3 }],
  ['Softmax: axis 2', () => single([1, 2, 3, 4], 'Softmax', { softmax_param: { axis: 2 } })],
  [
    'LRN ACROSS_CHANNELS: local_size 3, alpha 0.5, beta 0.6, k 2',
    () => single([1, 5, 3, 3], 'LRN', { lrn_param: { local_size: 3, alpha: 0.5, beta: 0.6, k: 2 } }),
    { lo: -2, hi: 2 },
  ],
  ['LRN ACROSS_CHANNELS: defaults (5, 1, 0.75, 1)', () => single([1, 7, 2, 3], 'LRN'), { lo: -2, hi: 2 }],
  [
    'LRN WITHIN_CHANNEL: local_size 3, alpha 2, beta 0.6 (k unused)',
    () => single([1, 2, 4, 5], 'LRN', { lrn_param: { norm_region: 'WITHIN_CHANNEL', local_size: 3, alpha: 2, beta: 0.6, k: 7 } }),
    { lo: -2, hi: 2 },
  ],
  ['LRN WITHIN_CHANNEL: local_size 5, defaults', () => single([1, 1, 6, 5], 'LRN', { lrn_param: { norm_region: 'WITHIN_CHANNEL' } }), { lo: -2, hi: 2 }],
  ['Concat: axis 1', () => net({ a: [1, 2, 3, 3], b: [1, 3, 3, 3] }, [L('cat', 'Concat', ['a', 'b'], 'out')])],
  [
    'Concat: legacy concat_dim 2, three bottoms',
    () => net({ a: [1, 2, 1, 3], b: [1, 2, 2, 3], c: [1, 2, 3, 3] }, [L('cat', 'Concat', ['a', 'b', 'c'], 'out', { concat_param: { concat_dim: 2 } })]),
  ],
  ['Concat: axis -1', () => net({ a: [1, 2, 3], b: [1, 2, 1] }, [L('cat', 'Concat', ['a', 'b'], 'out', { concat_param: { axis: -1 } })])],
  ['Concat: one bottom', () => net({ a: [1, 2, 3] }, [L('cat', 'Concat', ['a'], 'out')])],
  [
    'Slice: 3 tops at slice_point 1, 3 (axis 1)',
    () => net({ data: [1, 6, 2] }, [L('s', 'Slice', 'data', ['s1', 's2', 's3'], { slice_param: { slice_point: [1, 3] } })]),
  ],
  [
    'Slice: 3 equal tops, legacy slice_dim 2',
    () => net({ data: [1, 2, 6, 2] }, [L('s', 'Slice', 'data', ['s1', 's2', 's3'], { slice_param: { slice_dim: 2 } })]),
  ],
  ['Slice: axis -1, 2 tops', () => net({ data: [1, 2, 5] }, [L('s', 'Slice', 'data', ['s1', 's2'], { slice_param: { axis: -1, slice_point: [2] } })])],
  ['Slice: one top', () => net({ data: [1, 2, 5] }, [L('s', 'Slice', 'data', ['s1'])])],
  [
    'Split: two consumers, then Eltwise SUM',
    () =>
      net({ data: [1, 3, 4] }, [
        L('split', 'Split', 'data', ['d1', 'd2']),
        L('r', 'ReLU', 'd1', 'r'),
        L('t', 'TanH', 'd2', 't'),
        L('sum', 'Eltwise', ['r', 't'], 'out'),
      ]),
  ],
  ['Split: unconsumed tops are outputs', () => net({ data: [1, 4] }, [L('split', 'Split', 'data', ['d1', 'd2'])])],
  [
    'Eltwise SUM: coeff 0.5, -2, 1.5',
    () =>
      net({ a: [1, 2, 3], b: [1, 2, 3], c: [1, 2, 3] }, [
        L('e', 'Eltwise', ['a', 'b', 'c'], 'out', { eltwise_param: { operation: 'SUM', coeff: [0.5, -2, 1.5] } }),
      ]),
  ],
  [
    'Eltwise SUM: coeff as Float32Array (binary decoding)',
    () => net({ a: [1, 4], b: [1, 4] }, [L('e', 'Eltwise', ['a', 'b'], 'out', { eltwise_param: { coeff: Float32Array.of(1, -1) } })]),
  ],
  [
    'Eltwise PROD: 3 bottoms',
    () => net({ a: [1, 2, 3], b: [1, 2, 3], c: [1, 2, 3] }, [L('e', 'Eltwise', ['a', 'b', 'c'], 'out', { eltwise_param: { operation: 'PROD' } })]),
  ],
  ['Eltwise MAX', () => net({ a: [1, 2, 3], b: [1, 2, 3] }, [L('e', 'Eltwise', ['a', 'b'], 'out', { eltwise_param: { operation: 'MAX' } })])],
  ['Flatten: defaults', () => single([1, 2, 3, 4], 'Flatten')],
  ['Flatten: axis 2, end_axis 3', () => single([1, 2, 3, 4, 2], 'Flatten', { flatten_param: { axis: 2, end_axis: 3 } })],
  ['Flatten: axis -2', () => single([1, 2, 3, 4], 'Flatten', { flatten_param: { axis: -2 } })],
  ['Reshape: {0, -1}', () => single([1, 2, 3, 4], 'Reshape', { reshape_param: { shape: { dim: [0, -1] } } })],
  ['Reshape: {0, 2, -1, 3}', () => single([1, 4, 9], 'Reshape', { reshape_param: { shape: { dim: [0, 2, -1, 3] } } })],
  ['Reshape: axis 1, num_axes 1, {2, 3}', () => single([1, 6, 4], 'Reshape', { reshape_param: { axis: 1, num_axes: 1, shape: { dim: [2, 3] } } })],
  ['Reshape: {-1, 12} (the -1 is the batch)', () => single([1, 3, 4], 'Reshape', { reshape_param: { shape: { dim: [-1, 12] } } })],
  [
    'Reshape: axis -1, num_axes 0 inserts trailing 1s',
    () => single([1, 3, 4], 'Reshape', { reshape_param: { axis: -1, num_axes: 0, shape: { dim: [1, 1] } } }),
  ],
  [
    'BatchNorm (factor 0.5, eps 1e-3) + Scale with bias_term',
    () =>
      net({ data: [1, 3, 2, 2] }, [
        L('bn', 'BatchNorm', 'data', 'bn', { batch_norm_param: { eps: 1e-3 } }, [blob([3]), blob([3], { lo: 0.2, hi: 2 }), blob([1], { data: [2] })]),
        L('sc', 'Scale', 'bn', 'out', { scale_param: { bias_term: true } }, [blob([3]), blob([3])]),
      ]),
  ],
  [
    'BatchNorm: 2-D bottom, use_global_stats true, factor 0 (zero statistics)',
    () => single([1, 4], 'BatchNorm', { batch_norm_param: { use_global_stats: true } }, [blob([4]), blob([4], { lo: 0.2, hi: 2 }), blob([1], { data: [0] })]),
  ],
  [
    'BatchNorm: legacy blob shapes (1, 1, 1, C)',
    () =>
      single([1, 3, 2, 2], 'BatchNorm', {}, [
        blob([1, 1, 1, 3], { legacy: true }),
        blob([1, 1, 1, 3], { legacy: true, lo: 0.2, hi: 2 }),
        blob([1, 1, 1, 1], { legacy: true, data: [0.999] }),
      ]),
  ],
  ['Scale: axis 1, num_axes 2', () => single([1, 2, 3, 4], 'Scale', { scale_param: { num_axes: 2 } }, [blob([2, 3])])],
  ['Scale: num_axes 0 (a scalar)', () => single([1, 2, 3], 'Scale', { scale_param: { num_axes: 0 } }, [blob([])])],
  ['Scale: axis 2, num_axes -1', () => single([1, 2, 3, 4], 'Scale', { scale_param: { axis: 2, num_axes: -1 } }, [blob([3, 4])])],
  [
    'Scale: two bottoms, axis 0 (bottom 1 [N, C])',
    () => net({ a: [1, 3, 2, 2], s: [1, 3] }, [L('sc', 'Scale', ['a', 's'], 'out', { scale_param: { axis: 0 } })]),
  ],
  ['Bias: one bottom', () => single([1, 3, 2, 2], 'Bias', {}, [blob([3])])],
  ['Bias: two bottoms, axis 0 (same shape)', () => net({ a: [1, 3, 2], b: [1, 3, 2] }, [L('bi', 'Bias', ['a', 'b'], 'out', { bias_param: { axis: 0 } })])],
  [
    'Dropout: in place, TEST = identity',
    () =>
      net({ data: [1, 5] }, [
        L('ip', 'InnerProduct', 'data', 'ip', { inner_product_param: { num_output: 3 } }, [blob([3, 5]), blob([3])]),
        L('drop', 'Dropout', 'ip', 'ip', { dropout_param: { dropout_ratio: 0.3 } }),
      ]),
  ],
  ['Dropout: scale_train false → x·(1 − p)', () => single([1, 2, 3], 'Dropout', { dropout_param: { dropout_ratio: 0.25, scale_train: false } })],
];

describe('every supported layer type against the reference', () => {
  test.each(cases)('%s', async (title, build, opts) => {
    await check(title, build(), opts);
  });

  test('the cases cover every supported type', () => {
    const covered = new Set(cases.flatMap(([, build]) => build().layers.map((l) => l.type)));
    expect([...covered].sort()).toEqual([...SUPPORTED_LAYER_TYPES]);
  });
});

describe('naming, blob reuse, outputs, metadata', () => {
  test('in-place ReLU and Dropout: SSA versions, the final one keeps the Caffe name', async () => {
    const n = net({ data: [1, 4] }, [
      L('ip1', 'InnerProduct', 'data', 'ip1', { inner_product_param: { num_output: 3 } }, [blob([3, 4]), blob([3])]),
      L('relu1', 'ReLU', 'ip1', 'ip1'),
      L('drop1', 'Dropout', 'ip1', 'ip1'),
    ]);
    const { onnx } = await check('in-place ReLU + Dropout', n);
    expect(onnx.outputs).toEqual([{ name: 'ip1', dims: [3] }]);
    const g = decodeGraph(onnx.bytes);
    expect(g.nodes.map((x) => [x.op, x.name, x.inputs[0], x.outputs[0]])).toEqual([
      ['Gemm', 'ip1', 'data', 'ip1@1'],
      ['Relu', 'relu1', 'ip1@1', 'ip1@2'],
      ['Dropout', 'drop1', 'ip1@2', 'ip1'],
    ]);
    expect(g.nodes[2]!.inputs).toEqual(['ip1@2', 'drop1.ratio']);
    expect(g.initializers).toEqual(['ip1.w', 'ip1.b', 'drop1.ratio']);
    expect(onnx.sites).toEqual([{ name: 'drop1', rate: 0.5, scaling: 'inverted' }]);
  });

  test('implicit blob reuse: a top name written again by a later (not in-place) layer', async () => {
    const n = net({ data: [1, 3] }, [
      L('a1', 'TanH', 'data', 'a'),
      L('b1', 'Power', 'a', 'b', { power_param: { scale: 2 } }),
      L('a2', 'Sigmoid', 'b', 'a'),
      L('sum', 'Eltwise', ['a', 'b'], 'out'),
    ]);
    const { onnx } = await check('implicit blob reuse', n);
    expect(onnx.outputs.map((o) => o.name)).toEqual(['out']);
    const g = decodeGraph(onnx.bytes);
    expect(g.nodes.find((x) => x.name === 'sum')!.inputs).toEqual(['a', 'b']);
    expect(g.nodes.find((x) => x.name === 'a1')!.outputs).toEqual(['a@1']);
  });

  test('outputs: every blob no later layer consumes, in the order of its last write; metadata', async () => {
    const n = net({ data: [1, 6] }, [
      L('s', 'Slice', 'data', ['x', 'y', 'z'], { slice_param: { slice_point: [2, 3] } }),
      L('r', 'ReLU', 'y', 'ry'),
      L('sm', 'Softmax', 'z', 'prob'),
    ]);
    const { onnx } = await check('outputs', n);
    expect(onnx.outputs).toEqual([
      { name: 'x', dims: [2] },
      { name: 'ry', dims: [1] },
      { name: 'prob', dims: [3] },
    ]);
    expect(decodeGraph(onnx.bytes).metadata).toEqual({ 'mcu.source': 'caffe', 'caffe.net': 'test', 'caffe.files': 'test.prototxt, test.caffemodel' });
  });

  test('symbolic batch: one model runs 1 and 3 rows; batchDim names the axis', async () => {
    const n = net({ data: [64, 2, 5, 5] }, [
      L('c', 'Convolution', 'data', 'c', { convolution_param: { num_output: 3, kernel_size: [3] } }, [blob([3, 2, 3, 3]), blob([3])]),
      L('p', 'Pooling', 'c', 'p', { pooling_param: { pool: 'MAX', kernel_size: 2, stride: 2 } }),
      L('ip', 'InnerProduct', 'p', 'ip', { inner_product_param: { num_output: 2 } }, [blob([2, 12]), blob([2])]),
    ]);
    await check('batch 1', n, { batch: 1 });
    await check('batch 3', n, { batch: 3 });
    const onnx = caffeToOnnx(n, { batchDim: 'rows' });
    const s = await ort.InferenceSession.create(onnx.bytes, { logSeverityLevel: 3 });
    const meta = s.inputMetadata[0]!;
    expect(meta.isTensor && meta.shape).toEqual(['rows', 2, 5, 5]);
    await s.release();
  });

  test("a LeNet with dropout after every layer (the shape of Gal's cifar10 lenet_all_dropout)", async () => {
    const n = net({ data: [100, 3, 12, 12] }, [
      L('conv1', 'Convolution', 'data', 'conv1', { convolution_param: { num_output: 6, kernel_size: [5], stride: [1] } }, [
        blob([6, 3, 5, 5], { lo: -0.3, hi: 0.3 }),
        blob([6]),
      ]),
      L('dropC1', 'Dropout', 'conv1', 'dropC1', { dropout_param: { dropout_ratio: 0.5, sample_weights_test: true } }),
      L('pool1', 'Pooling', 'dropC1', 'pool1', { pooling_param: { pool: 'MAX', kernel_size: 2, stride: 2 } }),
      L('conv2', 'Convolution', 'pool1', 'conv2', { convolution_param: { num_output: 5, pad: [2], kernel_size: [5] } }, [
        blob([5, 6, 5, 5], { lo: -0.2, hi: 0.2 }),
        blob([5]),
      ]),
      L('dropC2', 'Dropout', 'conv2', 'dropC2', { dropout_param: { dropout_ratio: 0.5 } }),
      L('pool2', 'Pooling', 'dropC2', 'pool2', { pooling_param: { pool: 'MAX', kernel_size: 2, stride: 2 } }),
      L('ip1', 'InnerProduct', 'pool2', 'ip1', { inner_product_param: { num_output: 8 } }, [blob([8, 20], { lo: -0.3, hi: 0.3 }), blob([8])]),
      L('relu1', 'ReLU', 'ip1', 'relu1'),
      L('drop1', 'Dropout', 'relu1', 'drop1', { dropout_param: { dropout_ratio: 0.5 } }),
      L('ip2', 'InnerProduct', 'drop1', 'ip2', { inner_product_param: { num_output: 10 } }, [blob([10, 8]), blob([10])]),
      L('softmax', 'Softmax', 'ip2', 'softmax'),
    ]);
    const { onnx } = await check('LeNet all-dropout', n, { batch: 4 });
    expect(onnx.inputs).toEqual([{ name: 'data', dims: [3, 12, 12] }]);
    expect(onnx.outputs).toEqual([{ name: 'softmax', dims: [10] }]);
    expect(onnx.sites.map((s) => s.name)).toEqual(['dropC1', 'dropC2', 'drop1']);
    const g = decodeGraph(onnx.bytes);
    expect(g.nodes.filter((x) => x.op === 'Dropout').map((x) => x.name)).toEqual(['dropC1', 'dropC2', 'drop1']);
    expect(g.nodes.filter((x) => x.op === 'Dropout').map((x) => x.inputs[1])).toEqual(['dropC1.ratio', 'dropC2.ratio', 'drop1.ratio']);
  });

  test('in place over a graph input: the input keeps its name, the output gets a fresh one (with a warning)', async () => {
    const onnx = caffeToOnnx(net({ data: [1, 3] }, [L('r', 'ReLU', 'data', 'data')]));
    const s = await ort.InferenceSession.create(onnx.bytes, { logSeverityLevel: 3 });
    const r = await s.run({ data: new ort.Tensor('float32', Float32Array.of(-1, 2, -3, 4, 0, -0.5), [2, 3]) });
    await s.release();
    expect(Array.from(r['data@1']!.data as Float32Array)).toEqual([0, 2, 0, 4, 0, 0]);
    expect(onnx.inputs.map((i) => i.name)).toEqual(['data']);
    expect(onnx.outputs.map((o) => o.name)).toEqual(['data@1']);
    expect(onnx.warnings).toEqual(["output 'data' is named 'data@1' in the ONNX graph: its final value is written in place over the input of that name"]);
  });

  test('names never collide: a blob named like an initializer, a layer named like a Dropout', async () => {
    const n = net({ data: [1, 4] }, [
      L('ip', 'InnerProduct', 'data', 'x', { inner_product_param: { num_output: 2 } }, [blob([2, 4]), blob([2])]),
      L('d', 'TanH', 'x', 'ip.w'),
      L('d', 'Dropout', 'ip.w', 'out'),
    ]);
    const { onnx } = await check('name collisions', n);
    const g = decodeGraph(onnx.bytes);
    expect(g.initializers).toEqual(['ip.w_1', 'ip.b', 'd.ratio']);
    expect(g.nodes.map((x) => [x.op, x.name])).toEqual([
      ['Gemm', 'ip'],
      ['Tanh', 'd_1'],
      ['Dropout', 'd'],
    ]);
  });

  test('an input no layer reads is left out of the graph (a feed ORT would insist on)', async () => {
    const { onnx } = await check('unused input', net({ data: [1, 3], label: [1, 1] }, [L('t', 'TanH', 'data', 'out')]));
    expect(onnx.inputs.map((i) => i.name)).toEqual(['data']);
    expect(onnx.warnings).toEqual(["input 'label' (input_shape) is not used by any layer; the ONNX graph leaves it out"]);
  });

  test('scale_train false: Dropout named after the layer, then Mul by 1 − p', () => {
    const onnx = caffeToOnnx(single([1, 4], 'Dropout', { dropout_param: { dropout_ratio: 0.2, scale_train: false } }));
    expect(onnx.sites).toEqual([{ name: 'l', rate: 0.2, scaling: 'none' }]);
    const g = decodeGraph(onnx.bytes);
    expect(g.nodes.map((x) => [x.op, x.name])).toEqual([
      ['Dropout', 'l'],
      ['Mul', 'l/keep'],
    ]);
  });

  test('inputShapes override a declared shape (with a warning)', async () => {
    const n = single([1, 3, 8, 8], 'Pooling', { pooling_param: { pool: 'AVE', kernel_size: 2, stride: 2 } });
    const { onnx } = await check('inputShapes override', n, { inputShapes: { data: [3, 6, 4] } });
    expect(onnx.inputs).toEqual([{ name: 'data', dims: [3, 6, 4] }]);
    expect(onnx.outputs).toEqual([{ name: 'out', dims: [3, 3, 2] }]);
    expect(onnx.warnings.join('\n')).toMatch(/input 'data': the given shape \[N, 3, 6, 4\] replaces the declared \[N, 3, 8, 8\]/);
  });
});

describe('unknown input shapes', () => {
  const hdf5 = (layers: CaffeLayer[]): CaffeNet => ({
    ...net({}, layers),
    inputs: [{ name: 'data', shape: [undefined, undefined], from: "HDF5Data layer 'data'" }],
  });
  const ip = (k: number): CaffeLayer => L('ip1', 'InnerProduct', 'data', 'ip1', { inner_product_param: { num_output: 3 } }, [blob([3, k]), blob([3])]);

  test('the only consumer is an InnerProduct (axis 1): the input is [N, K], K from its weights', async () => {
    const n = hdf5([ip(5), L('t', 'TanH', 'ip1', 'out')]);
    const { onnx } = await check('IP-inferred input', n);
    expect(onnx.inputs).toEqual([{ name: 'data', dims: [5] }]);
  });

  test('inputShapes give it; one that contradicts the weights is E_INPUT', async () => {
    const n = hdf5([ip(12)]);
    await check('IP input given', n, { inputShapes: { data: [3, 2, 2] } });
    expect(() => caffeToOnnx(n, { inputShapes: { data: [3, 2, 3] } })).toThrow(
      expect.objectContaining({
        code: 'E_INPUT',
        message: expect.stringMatching(
          /layer 'ip1' \(InnerProduct\): blob 0 \(weights\) has shape \[3, 12\].*needs \[3, 18\].*given input shape data=\[3, 2, 3\]/,
        ),
      }),
    );
  });

  test('otherwise E_INPUT naming inputShapes and --input-shape', () => {
    const n = hdf5([L('c', 'Convolution', 'data', 'c', { convolution_param: { num_output: 2, kernel_size: [1] } }, [blob([2, 3, 1, 1]), blob([2])])]);
    const run = (): unknown => caffeToOnnx({ ...n, inputs: [{ name: 'data', shape: undefined, from: "HDF5Data layer 'data'" }] });
    expect(run).toThrow(McuError);
    expect(run).toThrow(
      expect.objectContaining({
        code: 'E_INPUT',
        message:
          "input 'data' (HDF5Data layer 'data'): its shape is not in the prototxt; give it (inputShapes { data: [C, H, W] }, command line --input-shape data=C,H,W)",
      }),
    );
  });

  test('inputShapes naming no input, or not positive integers: E_INPUT', () => {
    const n = single([1, 4], 'ReLU');
    expect(() => caffeToOnnx(n, { inputShapes: { image: [4] } })).toThrow(
      expect.objectContaining({ code: 'E_INPUT', message: expect.stringMatching(/'image', which is not an input.*inputs: data/) }),
    );
    expect(() => caffeToOnnx(n, { inputShapes: { data: [0] } })).toThrow(expect.objectContaining({ code: 'E_INPUT' }));
  });
});

describe('errors', () => {
  const code = errorText;

  test('an unsupported layer type: E_UNSUPPORTED naming the layer, its type and every supported type', () => {
    const m = code(() => caffeToOnnx(single([1, 2, 4, 4], 'Deconvolution', { convolution_param: { num_output: 2, kernel_size: [2] } })));
    expect(m).toMatch(/^E_UNSUPPORTED: layer 'l' \(Deconvolution\): mcu cannot translate layers of type 'Deconvolution'; supported types: /);
    for (const t of SUPPORTED_LAYER_TYPES) expect(m).toContain(t);
    expect(m).toContain(SUPPORTED_LAYER_TYPES.join(', '));
  });

  test('a blob of the wrong shape: E_MODEL naming the layer, the blob, both shapes', () => {
    const m = code(() => caffeToOnnx(net({ data: [1, 3, 5, 5] }, [conv(4, 2, 3, 3, { kernel_size: [3] })])));
    expect(m).toBe(
      "E_MODEL: layer 'c' (Convolution): blob 0 (weights) has shape [4, 2, 3, 3] in test.caffemodel, but the prototxt needs [4, 3, 3, 3]; fix: use the caffemodel trained with this prototxt",
    );
  });

  test('a legacy blob must match the target padded to 4 axes with leading 1s', () => {
    const ok = single([1, 6], 'InnerProduct', { inner_product_param: { num_output: 3, bias_term: false } }, [blob([1, 1, 3, 6], { legacy: true })]);
    expect(() => caffeToOnnx(ok)).not.toThrow();
    const bad = single([1, 6], 'InnerProduct', { inner_product_param: { num_output: 3, bias_term: false } }, [blob([1, 3, 1, 6], { legacy: true })]);
    expect(code(() => caffeToOnnx(bad))).toMatch(
      /^E_MODEL: .*blob 0 \(weights\) has shape \[1, 3, 1, 6\] \(legacy num, channels, height, width\).*needs \[3, 6\]/,
    );
  });

  test('a wrong blob count: E_MODEL', () => {
    expect(code(() => caffeToOnnx(single([1, 4], 'InnerProduct', { inner_product_param: { num_output: 2 } }, [blob([2, 4])])))).toBe(
      "E_MODEL: layer 'l' (InnerProduct) has 1 blob in test.caffemodel; expected 2 (weights, bias: bias_term is true); fix: use the caffemodel trained with this prototxt",
    );
    expect(code(() => caffeToOnnx(single([1, 4], 'InnerProduct', { inner_product_param: { num_output: 2 } })))).toMatch(
      /^E_MODEL: layer 'l' \(InnerProduct\) has no weights in test.caffemodel/,
    );
    expect(code(() => caffeToOnnx(single([1, 4], 'ReLU', {}, [blob([4])])))).toMatch(
      /^E_MODEL: layer 'l' \(ReLU\) has 1 blob in test.caffemodel; a ReLU layer has none/,
    );
    expect(code(() => caffeToOnnx(single([1, 3, 2, 2], 'BatchNorm', {}, [blob([3]), blob([3])])))).toMatch(
      /^E_MODEL: .*expected 3 \(mean, variance, moving-average factor/,
    );
  });

  test('layers that mix rows: E_UNSUPPORTED', () => {
    const cases: [CaffeNet, RegExp][] = [
      [single([1, 3], 'Softmax', { softmax_param: { axis: 0 } }), /softmax_param axis 0 normalises over the rows/],
      [single([1, 3, 4], 'Softmax', { softmax_param: { axis: -3 } }), /axis -3 is axis 0/],
      [net({ a: [1, 3], b: [1, 3] }, [L('cat', 'Concat', ['a', 'b'], 'out', { concat_param: { axis: 0 } })]), /concat_param axis 0 concatenates rows/],
      [net({ a: [1, 3], b: [1, 3] }, [L('cat', 'Concat', ['a', 'b'], 'out', { concat_param: { concat_dim: 0 } })]), /concat_param concat_dim 0/],
      [net({ a: [2, 3] }, [L('s', 'Slice', 'a', ['x', 'y'], { slice_param: { axis: 0 } })]), /slice_param axis 0 slices the rows/],
      [
        single([1, 4], 'InnerProduct', { inner_product_param: { num_output: 2, axis: 0 } }, [blob([2, 8]), blob([2])]),
        /inner_product_param axis 0 mixes the rows/,
      ],
      [single([1, 4, 2], 'Flatten', { flatten_param: { axis: 0 } }), /flatten_param axis 0 merges the rows/],
      [single([1, 4, 2], 'Reshape', { reshape_param: { shape: { dim: [1, -1] } } }), /changes axis 0, the rows/],
      [single([1, 4, 2], 'Reshape', { reshape_param: { shape: { dim: [-1, 4] } } }), /changes axis 0, the rows/],
      [single([1, 3, 2, 2], 'BatchNorm', { batch_norm_param: { use_global_stats: false } }, [blob([3]), blob([3]), blob([1])]), /use_global_stats: false/],
      [single([1, 3, 2], 'Scale', { scale_param: { axis: 0 } }, [blob([1, 3])]), /axis 0 with one bottom/],
      [net({ a: [1, 3, 2], s: [1, 3] }, [L('sc', 'Scale', ['a', 's'], 'out')]), /two bottoms with axis 1/],
    ];
    for (const [n, re] of cases) {
      const m = code(() => caffeToOnnx(n));
      expect(m).toMatch(/^E_UNSUPPORTED: layer '/);
      expect(m).toMatch(re);
    }
  });

  test('other unsupported options: STOCHASTIC pooling, a pooling window outside the input, 1-D and axis-2 convolution, the MAX mask top', () => {
    expect(code(() => caffeToOnnx(pool([1, 1, 4, 4], { pool: 'STOCHASTIC', kernel_size: 2, stride: 2 })))).toMatch(
      /^E_UNSUPPORTED: layer 'p' \(Pooling\): pool: STOCHASTIC/,
    );
    expect(code(() => caffeToOnnx(pool([1, 1, 5, 5], { pool: 'MAX', kernel_size: 1, stride: 3 })))).toMatch(
      /^E_UNSUPPORTED: .*last window along the height starts at 6/,
    );
    expect(code(() => caffeToOnnx(net({ data: [1, 2, 5] }, [conv(2, 2, 3, 1, { kernel_size: [3] })])))).toMatch(/^E_UNSUPPORTED: .*2-D convolutions only/);
    expect(code(() => caffeToOnnx(net({ data: [1, 2, 5, 5] }, [conv(2, 2, 3, 3, { kernel_size: [3], axis: 2 })])))).toMatch(
      /^E_UNSUPPORTED: .*convolution_param axis 2/,
    );
    expect(
      code(() => caffeToOnnx(net({ data: [1, 1, 4, 4] }, [L('p', 'Pooling', 'data', ['out', 'mask'], { pooling_param: { kernel_size: 2, stride: 2 } })]))),
    ).toMatch(/^E_UNSUPPORTED: .*argmax mask/);
  });

  test('nets Caffe itself refuses: E_MODEL', () => {
    expect(code(() => caffeToOnnx(pool([1, 1, 4, 4], { pool: 'MAX', kernel_size: 2, pad: 2 })))).toMatch(/^E_MODEL: .*pad 2 must be smaller than the kernel 2/);
    expect(code(() => caffeToOnnx(single([1, 3, 4, 4], 'LRN', { lrn_param: { local_size: 4 } })))).toMatch(
      /^E_MODEL: .*local_size 4: LRN only supports odd values/,
    );
    expect(code(() => caffeToOnnx(net({ a: [1, 3, 2], b: [1, 3, 3] }, [L('cat', 'Concat', ['a', 'b'], 'out')])))).toMatch(
      /^E_MODEL: .*differs from bottom 0 'a' \[N, 3, 2\] at axis 2/,
    );
    expect(code(() => caffeToOnnx(net({ a: [1, 3], b: [1, 4] }, [L('e', 'Eltwise', ['a', 'b'], 'out')])))).toMatch(
      /^E_MODEL: .*all bottoms must have the same shape/,
    );
    expect(code(() => caffeToOnnx(net({ data: [1, 3, 2, 2] }, [conv(4, 3, 3, 3, { kernel_size: [3] })])))).toMatch(
      /^E_MODEL: .*kernel \[3, 3\] is larger than the padded bottom/,
    );
    expect(code(() => caffeToOnnx(net({ data: [1, 3] }, [L('r', 'ReLU', 'nope', 'out')])))).toMatch(
      /^E_MODEL: .*bottom 'nope' is neither an input nor the top of an earlier layer/,
    );
    expect(code(() => caffeToOnnx(single([1, 3], 'Dropout', { dropout_param: { dropout_ratio: 1 } })))).toMatch(
      /^E_MODEL: .*dropout_ratio 1 is outside \[0, 1\)/,
    );
    expect(code(() => caffeToOnnx(net({ data: [1, 5] }, [L('s', 'Slice', 'data', ['x', 'y'], { slice_param: { slice_point: [1, 2] } })])))).toMatch(
      /^E_MODEL: .*2 slice_point for 2 tops/,
    );
  });

  test('a net without weights: E_USAGE', () => {
    expect(code(() => caffeToOnnx({ ...single([1, 4], 'ReLU'), weights: 'missing' }))).toBe(
      'E_USAGE: test.prototxt has no weights (structure only): give its .caffemodel to run it (mcu inspect shows the structure without it)',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// A small ONNX reader for the structure checks (nodes, initializer names, metadata).

interface DecodedGraph {
  nodes: { op: string; name: string; inputs: string[]; outputs: string[] }[];
  initializers: string[];
  metadata: Record<string, string>;
}

function decodeGraph(bytes: Uint8Array): DecodedGraph {
  const text = new TextDecoder();
  const fields = (b: Uint8Array): [number, Uint8Array | number][] => {
    const out: [number, Uint8Array | number][] = [];
    let at = 0;
    const varint = (): number => {
      let v = 0;
      let mul = 1;
      for (;;) {
        const byte = b[at++]!;
        v += (byte & 0x7f) * mul;
        if ((byte & 0x80) === 0) return v;
        mul *= 128;
      }
    };
    while (at < b.length) {
      const tag = varint();
      const wire = tag & 7;
      if (wire === 0) out.push([tag >> 3, varint()]);
      else if (wire === 2) {
        const n = varint();
        out.push([tag >> 3, b.subarray(at, at + n)]);
        at += n;
      } else if (wire === 5) {
        out.push([tag >> 3, b.subarray(at, at + 4)]);
        at += 4;
      } else throw new Error(`wire ${wire}`);
    }
    return out;
  };
  const sub = (fs: [number, Uint8Array | number][], no: number): Uint8Array[] => fs.filter(([n]) => n === no).map(([, v]) => v as Uint8Array);
  const strs = (fs: [number, Uint8Array | number][], no: number): string[] => sub(fs, no).map((v) => text.decode(v));
  const model = fields(bytes);
  const graph = fields(sub(model, 7)[0]!);
  return {
    nodes: sub(graph, 1).map((n) => {
      const f = fields(n);
      return { op: strs(f, 4)[0]!, name: strs(f, 3)[0]!, inputs: strs(f, 1), outputs: strs(f, 2) };
    }),
    initializers: sub(graph, 5).map((t) => strs(fields(t), 8)[0]!),
    metadata: Object.fromEntries(sub(model, 14).map((e) => strs(fields(e), 1).concat(strs(fields(e), 2)) as [string, string])),
  };
}
