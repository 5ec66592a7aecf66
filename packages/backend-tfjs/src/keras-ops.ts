/**
 * The ops of Keras graphs (keras.ts, and mlp.ts for MlpSpec objects): one `keras.*` OpFn per kind
 * of layer computation, registered in every graph those loaders build (`ExecGraph.ops`).
 *
 * Every op follows graph.ts: row-valued inputs carry the rows on axis 0 (N or S·N of them, never
 * written literally: reshapes use −1 there), constants (weights) have no row axis, and the static
 * per-row dims an op needs are in its attrs, computed by the loader.
 */
import type { Tensor, Tensor2D, Tensor3D, Tensor4D, Tensor5D } from '@tensorflow/tfjs';
import type { GraphNode, OpContext, OpFn, OpRegistry } from './graph.js';
import { applyActivation, type Activation } from './network.js';
import type { Tf } from './runtime.js';

type Attrs = Readonly<Record<string, unknown>>;

const num = (a: Attrs, k: string): number => a[k] as number;
const nums = (a: Attrs, k: string): number[] => [...(a[k] as readonly number[])];
const act = (a: Attrs, k = 'activation'): Activation => (a[k] as Activation | undefined) ?? 'linear';

/** x·W (+ b) over the last axis of rows of any rank; attrs: inUnits, units, outDims, activation. */
const dense: OpFn = ({ tf }, [x, kernel, bias], node) => {
  const a = node.attrs;
  const outDims = nums(a, 'outDims');
  const flat = outDims.length === 1 ? x! : tf.reshape(x!, [-1, num(a, 'inUnits')]);
  let y: Tensor = tf.matMul(flat as Tensor2D, kernel as Tensor2D);
  if (bias !== undefined) y = tf.add(y, bias);
  if (outDims.length !== 1) y = tf.reshape(y, [-1, ...outDims]);
  return applyActivation(tf, y, act(a));
};

/** Causal padding of Conv1D: (kernel − 1)·dilation zeros before the first step. */
function causalPad(tf: Tf, x: Tensor, a: Attrs): Tensor {
  const left = (nums(a, 'kernelSize')[0]! - 1) * nums(a, 'dilations')[0]!;
  return tf.pad(x, [
    [0, 0],
    [left, 0],
    [0, 0],
  ]);
}

/** Conv1D / Conv2D / Conv3D (channels_last); attrs: rank, strides, dilations, padding, kernelSize, activation. */
const conv: OpFn = ({ tf }, [x, kernel, bias], node) => {
  const a = node.attrs;
  const strides = nums(a, 'strides');
  const dilations = nums(a, 'dilations');
  const padding = a['padding'] as 'valid' | 'same' | 'causal';
  let y: Tensor;
  switch (num(a, 'rank')) {
    case 1: {
      const input = padding === 'causal' ? causalPad(tf, x!, a) : x!;
      y = tf.conv1d(input as Tensor3D, kernel as Tensor3D, strides[0]!, padding === 'causal' ? 'valid' : padding, 'NWC', dilations[0]!);
      break;
    }
    case 2:
      y = tf.conv2d(x as Tensor4D, kernel as Tensor4D, strides as [number, number], padding as 'valid' | 'same', 'NHWC', dilations as [number, number]);
      break;
    default:
      y = tf.conv3d(
        x as Tensor5D,
        kernel as Tensor5D,
        strides as [number, number, number],
        padding as 'valid' | 'same',
        'NDHWC',
        dilations as [number, number, number],
      );
  }
  if (bias !== undefined) y = tf.add(y, bias);
  return applyActivation(tf, y, act(a));
};

/** Run a 2-d op on 1-d rows [W, C] as [1, W, C], then drop the added axis. */
function as2d(tf: Tf, x: Tensor, rank: number, f: (x4: Tensor4D) => Tensor): Tensor {
  if (rank === 2) return f(x as Tensor4D);
  return tf.squeeze(f(tf.expandDims(x, 1) as Tensor4D), [1]);
}

/** DepthwiseConv2D; attrs: strides, dilations, padding, activation. */
const depthwiseConv2d: OpFn = ({ tf }, [x, kernel, bias], node) => {
  const a = node.attrs;
  let y: Tensor = tf.depthwiseConv2d(
    x as Tensor4D,
    kernel as Tensor4D,
    nums(a, 'strides') as [number, number],
    a['padding'] as 'valid' | 'same',
    'NHWC',
    nums(a, 'dilations') as [number, number],
  );
  if (bias !== undefined) y = tf.add(y, bias);
  return applyActivation(tf, y, act(a));
};

/** SeparableConv1D / 2D (1-d as a 1×k 2-d one; the loader stores 1-d kernels as [1, k, …]); attrs: rank, strides, dilations, padding, activation. */
const separableConv: OpFn = ({ tf }, [x, depthwise, pointwise, bias], node) => {
  const a = node.attrs;
  const rank = num(a, 'rank');
  const s = nums(a, 'strides');
  const d = nums(a, 'dilations');
  const strides: [number, number] = rank === 2 ? [s[0]!, s[1]!] : [1, s[0]!];
  const dilations: [number, number] = rank === 2 ? [d[0]!, d[1]!] : [1, d[0]!];
  let y = as2d(tf, x!, rank, (x4) =>
    tf.separableConv2d(x4, depthwise as Tensor4D, pointwise as Tensor4D, strides, a['padding'] as 'valid' | 'same', dilations, 'NHWC'),
  );
  if (bias !== undefined) y = tf.add(y, bias);
  return applyActivation(tf, y, act(a));
};

/** Conv2DTranspose (kernel [kh, kw, filters, in]); attrs: strides, padding, outDims, activation. */
const conv2dTranspose: OpFn = ({ tf }, [x, kernel, bias], node) => {
  const a = node.attrs;
  const out = nums(a, 'outDims') as [number, number, number];
  let y: Tensor = tf.conv2dTranspose(
    x as Tensor4D,
    kernel as Tensor4D,
    [x!.shape[0]!, ...out],
    nums(a, 'strides') as [number, number],
    a['padding'] as 'valid' | 'same',
  );
  if (bias !== undefined) y = tf.add(y, bias);
  return applyActivation(tf, y, act(a));
};

/** Max / average pooling over 1-d or 2-d rows; attrs: kind, rank, poolSize, strides, padding. */
const pool: OpFn = ({ tf }, [x], node) => {
  const a = node.attrs;
  const rank = num(a, 'rank');
  const k = nums(a, 'poolSize');
  const s = nums(a, 'strides');
  const size: [number, number] = rank === 2 ? [k[0]!, k[1]!] : [1, k[0]!];
  const strides: [number, number] = rank === 2 ? [s[0]!, s[1]!] : [1, s[0]!];
  const padding = a['padding'] as 'valid' | 'same';
  return as2d(tf, x!, rank, (x4) => (a['kind'] === 'max' ? tf.maxPool(x4, size, strides, padding) : tf.avgPool(x4, size, strides, padding)));
};

/** Global pooling: mean or max over `axes` (full-tensor axes ≥ 1); attrs: kind, axes, keepDims. */
const reduce: OpFn = ({ tf }, [x], node) => {
  const a = node.attrs;
  const axes = nums(a, 'axes');
  const keep = a['keepDims'] === true;
  return a['kind'] === 'max' ? tf.max(x!, axes, keep) : tf.mean(x!, axes, keep);
};

/** Zero padding; attrs: paddings (per row axis, [before, after]). */
const pad: OpFn = ({ tf }, [x], node) => {
  const p = node.attrs['paddings'] as readonly (readonly [number, number])[];
  return tf.pad(x!, [[0, 0], ...p.map(([b, e]) => [b, e] as [number, number])]);
};

/** Cropping: a slice of every row; attrs: begin, size (per row axis). */
const slice: OpFn = ({ tf }, [x], node) => tf.slice(x!, [0, ...nums(node.attrs, 'begin')], [-1, ...nums(node.attrs, 'size')]);

/** UpSampling1D / 2D / 3D; attrs: factors (per spatial axis), inDims, interpolation ('nearest' | 'bilinear'), halfPixelCenters. */
const upsample: OpFn = ({ tf }, [x], node) => {
  const a = node.attrs;
  const f = nums(a, 'factors');
  const dims = nums(a, 'inDims');
  if (a['interpolation'] === 'bilinear') {
    return tf.image.resizeBilinear(x as Tensor4D, [dims[0]! * f[0]!, dims[1]! * f[1]!], false, a['halfPixelCenters'] === true);
  }
  // Nearest with integer factors: every entry repeated f times along its axis.
  const spread = [-1];
  const reps = [1];
  dims.slice(0, -1).forEach((d, k) => {
    spread.push(d, 1);
    reps.push(1, f[k]!);
  });
  spread.push(dims.at(-1)!);
  reps.push(1);
  const tiled = tf.tile(tf.reshape(x!, spread), reps);
  return tf.reshape(tiled, [-1, ...dims.slice(0, -1).map((d, k) => d * f[k]!), dims.at(-1)!]);
};

/** Flatten / Reshape: rows to `dims`. */
const reshape: OpFn = ({ tf }, [x], node) => tf.reshape(x!, [-1, ...nums(node.attrs, 'dims')]);

/** Permute: attrs.perm over the row axes (1-based, like Keras' dims). */
const transpose: OpFn = ({ tf }, [x], node) => tf.transpose(x!, [0, ...nums(node.attrs, 'perm')]);

/** RepeatVector: [F] → [n, F]. */
const repeatVector: OpFn = ({ tf }, [x], node) => tf.tile(tf.expandDims(x!, 1), [1, num(node.attrs, 'n'), 1]);

/** Reverse the time axis (axis 1). */
const reverse: OpFn = ({ tf }, [x]) => tf.reverse(x!, [1]);

/** Embedding: indices (given as numbers, truncated to int32 like Keras' cast) → rows of the table. */
const embedding: OpFn = ({ tf }, [x, table]) => tf.gather(table!, tf.cast(x!, 'int32'));

/** x·scale + shift, broadcast (BatchNormalization in inference, folded by the loader; Rescaling). */
const affine: OpFn = ({ tf }, [x, scale, shift]) => {
  const y = scale === undefined ? x! : tf.mul(x!, scale);
  return shift === undefined ? y : tf.add(y, shift);
};

/** LayerNormalization over attrs.axes (full-tensor axes); gamma / beta already in broadcast shape. */
const layerNorm: OpFn = ({ tf }, [x, gamma, beta], node) => {
  const axes = nums(node.attrs, 'axes');
  const { mean, variance } = tf.moments(x!, axes, true);
  let y = tf.mul(tf.sub(x!, mean), tf.rsqrt(tf.add(variance, num(node.attrs, 'epsilon'))));
  if (gamma !== undefined) y = tf.mul(y, gamma);
  if (beta !== undefined) y = tf.add(y, beta);
  return y;
};

const activation: OpFn = ({ tf }, [x], node) => applyActivation(tf, x!, act(node.attrs));

/** Keras' ReLU layer: max_value, negative_slope, threshold (any may be the default). */
const relu: OpFn = ({ tf }, [x], node) => {
  const a = node.attrs;
  const threshold = num(a, 'threshold');
  const slope = num(a, 'negativeSlope');
  const max = a['maxValue'] as number | null;
  let y: Tensor = threshold === 0 && slope === 0 ? tf.relu(x!) : tf.where(tf.greaterEqual(x!, threshold), x!, tf.mul(tf.sub(x!, threshold), slope));
  if (max !== null) y = tf.minimum(y, max);
  return y;
};

const leakyRelu: OpFn = ({ tf }, [x], node) => tf.leakyRelu(x!, num(node.attrs, 'alpha'));

/** ELU layer with its alpha: x for x > 0, alpha·(eˣ − 1) otherwise. */
const elu: OpFn = ({ tf }, [x], node) => {
  const alpha = num(node.attrs, 'alpha');
  return alpha === 1 ? tf.elu(x!) : tf.where(tf.greater(x!, 0), x!, tf.mul(tf.sub(tf.exp(x!), 1), alpha));
};

/** PReLU: max(x, 0) + alpha·min(x, 0), alpha broadcast (shared axes have dim 1). */
const prelu: OpFn = ({ tf }, [x, alpha]) => tf.add(tf.relu(x!), tf.mul(alpha!, tf.minimum(x!, 0)));

const thresholdedRelu: OpFn = ({ tf }, [x], node) => tf.mul(x!, tf.cast(tf.greater(x!, num(node.attrs, 'theta')), 'float32'));

/** Softmax over attrs.axes (full-tensor axes), stable: exp(x − logsumexp(x)). */
const softmax: OpFn = ({ tf }, [x], node) => {
  const axes = nums(node.attrs, 'axes');
  if (axes.length === 1 && axes[0] === x!.rank - 1) return tf.softmax(x!, -1);
  return tf.exp(tf.sub(x!, tf.logSumExp(x!, axes, true)));
};

/** Add / Subtract / Multiply / Average / Maximum / Minimum of the inputs (broadcast). */
const merge: OpFn = ({ tf }, xs, node) => {
  const list = xs as Tensor[];
  switch (node.attrs['mode']) {
    case 'subtract':
      return tf.sub(list[0]!, list[1]!);
    case 'multiply':
      return list.slice(1).reduce((a, b) => tf.mul(a, b), list[0]!);
    case 'maximum':
      return list.slice(1).reduce((a, b) => tf.maximum(a, b), list[0]!);
    case 'minimum':
      return list.slice(1).reduce((a, b) => tf.minimum(a, b), list[0]!);
    case 'average':
      return tf.div(
        list.slice(1).reduce((a, b) => tf.add(a, b), list[0]!),
        list.length,
      );
    default:
      return list.slice(1).reduce((a, b) => tf.add(a, b), list[0]!);
  }
};

const concat: OpFn = ({ tf }, xs, node) => tf.concat(xs as Tensor[], num(node.attrs, 'axis'));

/** x / ‖x‖₂ along `axis`, as tf.math.l2_normalize (ε = 1e-12 on the squared norm). */
function l2Normalize(tf: Tf, x: Tensor, axis: number): Tensor {
  return tf.mul(x, tf.rsqrt(tf.maximum(tf.sum(tf.square(x), axis, true), 1e-12)));
}

/** Dot of two rank-2 or rank-3 inputs along attrs.axes (full-tensor axes), optionally cosine. */
const dot: OpFn = ({ tf }, [x0, y0], node) => {
  const [ax, ay] = nums(node.attrs, 'axes') as [number, number];
  let x = x0!;
  let y = y0!;
  if (node.attrs['normalize'] === true) {
    x = l2Normalize(tf, x, ax);
    y = l2Normalize(tf, y, ay);
  }
  if (x.rank === 2) return tf.sum(tf.mul(x, y), 1, true);
  // [R, a, b]·[R, c, d]: contract x's axis ax with y's axis ay → [R, other of x, other of y].
  return tf.matMul(x as Tensor3D, y as Tensor3D, ax === 1, ay === 2);
};

/**
 * TimeDistributed: the wrapped layer's op on every time step — rows [T, ...inDims] become T·rows
 * of [...inDims] for the inner op, then back. attrs: op, attrs (the inner op's), steps, inDims, outDims.
 */
const timeDistributed: OpFn = (ctx, [x, ...rest], node) => {
  const { tf } = ctx;
  const a = node.attrs;
  const innerOp = a['op'] as string;
  const inner = KERAS_OPS[innerOp]!;
  const flat = tf.reshape(x!, [-1, ...nums(a, 'inDims')]);
  const innerNode: GraphNode = { ...node, op: innerOp, attrs: a['attrs'] as Attrs };
  const y = inner(ctx, [flat, ...rest], innerNode) as Tensor;
  return tf.reshape(y, [-1, num(a, 'steps'), ...nums(a, 'outDims')]);
};

// ---------------------------------------------------------------------------------------
// Recurrent layers. Inputs [x, kernel, recurrent_kernel, bias | ''], x: [R, T, D]. The input
// dropout mask (attrs.inputSite, [R, D]) and the state dropout mask (attrs.stateSite, [R, units])
// are drawn once per sequence and applied at every step the way tfjs-layers and Keras'
// implementation 2 do: x_t·m before the kernel, h_{t−1}·m_h before the recurrent kernel (and,
// for GRU, the masked h_{t−1} also in the update h = z·h_{t−1} + (1 − z)·ĥ). The carry c of an
// LSTM is never masked.

type Cell = 'lstm' | 'gru' | 'simple_rnn';
const GATES: Record<Cell, number> = { lstm: 4, gru: 3, simple_rnn: 1 };

function recurrent(cell: Cell): OpFn {
  return (ctx: OpContext, [x, kernel, recKernel, bias], node) => {
    const { tf } = ctx;
    const a = node.attrs;
    const units = num(a, 'units');
    const steps = num(a, 'steps');
    const inDim = num(a, 'inDim');
    const g = GATES[cell] * units;
    const f = act(a);
    const rf = act(a, 'recurrentActivation');
    const resetAfter = a['resetAfter'] === true;
    const inputSite = a['inputSite'] as string | undefined;
    const stateSite = a['stateSite'] as string | undefined;

    let xs = x!;
    if (inputSite !== undefined) xs = tf.mul(xs, tf.expandDims(ctx.siteMask(inputSite), 1));
    // Every step's input projection at once: [R·T, D]·[D, g·u].
    let xw: Tensor = tf.matMul(tf.reshape(xs, [-1, inDim]) as Tensor2D, kernel as Tensor2D);
    let recBias: Tensor | undefined;
    if (bias !== undefined) {
      if (cell === 'gru' && resetAfter) {
        // [2, 3u]: the input bias, then the recurrent bias (inside r ⊙ (h·U_h + b_h)).
        const [bi, br] = tf.unstack(bias, 0);
        xw = tf.add(xw, bi!);
        recBias = br;
      } else {
        xw = tf.add(xw, bias);
      }
    }
    const perStep = tf.unstack(tf.reshape(xw, [-1, steps, g]), 1);
    const rows = x!.shape[0]!;
    const stateMask = stateSite !== undefined ? ctx.siteMask(stateSite) : undefined;
    // GRU without reset_after: U = [U_z U_r | U_h], the candidate's part applied to r ⊙ h.
    const [uZR, uH] = cell === 'gru' && !resetAfter ? tf.split(recKernel!, [2 * units, units], 1) : [recKernel!, undefined];

    let h: Tensor = tf.zeros([rows, units]);
    let c: Tensor = tf.zeros([rows, units]);
    const outputs: Tensor[] = [];
    for (let k = 0; k < steps; k++) {
      const xt = perStep[a['goBackwards'] === true ? steps - 1 - k : k]!;
      const hm = stateMask !== undefined ? tf.mul(h, stateMask) : h;
      if (cell === 'lstm') {
        const z = tf.add(xt, tf.matMul(hm as Tensor2D, recKernel as Tensor2D));
        const [zi, zf, zc, zo] = tf.split(z, 4, 1);
        c = tf.add(tf.mul(applyActivation(tf, zf!, rf), c), tf.mul(applyActivation(tf, zi!, rf), applyActivation(tf, zc!, f)));
        h = tf.mul(applyActivation(tf, zo!, rf), applyActivation(tf, c, f));
      } else if (cell === 'gru') {
        const [xz, xr, xh] = tf.split(xt, 3, 1);
        let inner: Tensor = tf.matMul(hm as Tensor2D, uZR as Tensor2D);
        if (recBias !== undefined) inner = tf.add(inner, recBias);
        const parts = tf.split(inner, resetAfter ? 3 : 2, 1);
        const z = applyActivation(tf, tf.add(xz!, parts[0]!), rf);
        const r = applyActivation(tf, tf.add(xr!, parts[1]!), rf);
        const recH = resetAfter ? tf.mul(r, parts[2]!) : tf.matMul(tf.mul(r, hm) as Tensor2D, uH as Tensor2D);
        const hh = applyActivation(tf, tf.add(xh!, recH), f);
        h = tf.add(tf.mul(z, hm), tf.mul(tf.sub(1, z), hh));
      } else {
        h = applyActivation(tf, tf.add(xt, tf.matMul(hm as Tensor2D, recKernel as Tensor2D)), f);
      }
      outputs.push(h);
    }
    const y = a['returnSequences'] === true ? tf.stack(outputs, 1) : h;
    if (a['returnState'] !== true) return y;
    return cell === 'lstm' ? [y, h, c] : [y, h];
  };
}

/** Every op of Keras graphs (and MlpSpec graphs), by key. */
export const KERAS_OPS: OpRegistry = {
  'keras.dense': dense,
  'keras.conv': conv,
  'keras.depthwise_conv2d': depthwiseConv2d,
  'keras.separable_conv': separableConv,
  'keras.conv2d_transpose': conv2dTranspose,
  'keras.pool': pool,
  'keras.reduce': reduce,
  'keras.pad': pad,
  'keras.slice': slice,
  'keras.upsample': upsample,
  'keras.reshape': reshape,
  'keras.transpose': transpose,
  'keras.repeat_vector': repeatVector,
  'keras.reverse': reverse,
  'keras.embedding': embedding,
  'keras.affine': affine,
  'keras.layer_norm': layerNorm,
  'keras.activation': activation,
  'keras.relu': relu,
  'keras.leaky_relu': leakyRelu,
  'keras.elu': elu,
  'keras.prelu': prelu,
  'keras.thresholded_relu': thresholdedRelu,
  'keras.softmax': softmax,
  'keras.merge': merge,
  'keras.concat': concat,
  'keras.dot': dot,
  'keras.time_distributed': timeDistributed,
  'keras.lstm': recurrent('lstm'),
  'keras.gru': recurrent('gru'),
  'keras.simple_rnn': recurrent('simple_rnn'),
};
