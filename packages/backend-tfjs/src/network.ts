import type { StochasticSite } from '@mcu/core';
import { McuError } from '@mcu/core';
import type { Tensor } from '@tensorflow/tfjs';
import type { Tf } from './runtime.js';

/** Element-wise activations the tfjs backend runs (Keras names). */
export const ACTIVATIONS = [
  'linear',
  'relu',
  'relu6',
  'elu',
  'selu',
  'tanh',
  'sigmoid',
  'hard_sigmoid',
  'hard_sigmoid_v3',
  'softmax',
  'log_softmax',
  'softplus',
  'softsign',
  'swish',
  'exponential',
  'gelu',
  'gelu_tanh',
  'mish',
] as const;
export type Activation = (typeof ACTIVATIONS)[number];

/**
 * A network as a chain of layers over a per-row shape — what both loaders (MlpSpec objects
 * and Keras layers-model JSON) compile to, independent of tfjs until it runs.
 */
export type NetLayer =
  | {
      readonly op: 'dense';
      readonly name: string;
      /** Row-major [in, out]: y = x·W + b (Keras' kernel layout). */
      readonly kernel: Float32Array;
      readonly inUnits: number;
      readonly units: number;
      readonly bias: Float32Array | null;
      readonly activation: Activation;
    }
  | {
      readonly op: 'conv2d';
      readonly name: string;
      /** [kh, kw, in, out] (Keras' HWIO kernel layout); rows are channels_last [H, W, C]. */
      readonly kernel: Float32Array;
      readonly kernelSize: readonly [number, number];
      readonly inChannels: number;
      readonly filters: number;
      readonly strides: readonly [number, number];
      readonly dilations: readonly [number, number];
      readonly padding: 'valid' | 'same';
      readonly bias: Float32Array | null;
      readonly activation: Activation;
    }
  | {
      readonly op: 'pool2d';
      readonly name: string;
      readonly kind: 'max' | 'avg';
      readonly poolSize: readonly [number, number];
      readonly strides: readonly [number, number];
      readonly padding: 'valid' | 'same';
    }
  /** Mean or max over H and W of [H, W, C] rows: [C], or [1, 1, C] with keepDims. */
  | { readonly op: 'globalpool'; readonly name: string; readonly kind: 'max' | 'avg'; readonly keepDims: boolean }
  /** x·scale + shift along the last axis (BatchNormalization in inference). */
  | { readonly op: 'affine'; readonly name: string; readonly scale: Float32Array; readonly shift: Float32Array }
  | { readonly op: 'activation'; readonly name: string; readonly activation: Activation }
  | { readonly op: 'flatten'; readonly name: string }
  /** Multiply by the site's mask (the mask input of the StochasticModel). */
  | { readonly op: 'site'; readonly name: string; readonly site: StochasticSite };

export interface NetworkSpec {
  readonly input: string;
  /** Dims of one input row (without the batch axis). */
  readonly inputDims: readonly number[];
  readonly output: string;
  readonly outputDims: readonly number[];
  readonly layers: readonly NetLayer[];
  readonly sites: readonly StochasticSite[];
  readonly warnings: readonly string[];
}

/** Output length of a 2-d window along one axis (TensorFlow's 'valid' / 'same' rules). */
function windowOut(size: number, window: number, stride: number, dilation: number, padding: 'valid' | 'same'): number {
  if (padding === 'same') return Math.ceil(size / stride);
  return Math.floor((size - (window - 1) * dilation - 1) / stride) + 1;
}

function spatial(layer: NetLayer & { op: 'conv2d' | 'pool2d' }, dims: readonly number[]): number[] {
  if (dims.length !== 3) {
    throw new McuError('E_MODEL', `${layer.op === 'conv2d' ? 'Conv2D' : 'pooling'} layer '${layer.name}' needs rows of dims [H, W, C] (channels_last), got [${dims.join(', ')}]`);
  }
  const [h, w, c] = dims as [number, number, number];
  const [kh, kw] = layer.op === 'conv2d' ? layer.kernelSize : layer.poolSize;
  const [dh, dw] = layer.op === 'conv2d' ? layer.dilations : [1, 1];
  const out = [windowOut(h, kh, layer.strides[0], dh, layer.padding), windowOut(w, kw, layer.strides[1], dw, layer.padding)];
  if (!(out[0]! >= 1 && out[1]! >= 1)) {
    throw new McuError('E_MODEL', `layer '${layer.name}': a ${kh}×${kw} window does not fit rows of dims [${dims.join(', ')}] with padding '${layer.padding}'`);
  }
  if (layer.op === 'conv2d' && c !== layer.inChannels) {
    throw new McuError('E_MODEL', `Conv2D layer '${layer.name}' has a kernel for ${layer.inChannels} input channels but receives ${c}`);
  }
  return [out[0]!, out[1]!, layer.op === 'conv2d' ? layer.filters : c];
}

/** Dims after each layer, checked (dense input widths, conv channels, window fits). */
export function shapeAfter(layer: NetLayer, dims: readonly number[]): number[] {
  switch (layer.op) {
    case 'conv2d':
    case 'pool2d':
      return spatial(layer, dims);
    case 'globalpool':
      if (dims.length !== 3) {
        throw new McuError('E_MODEL', `global pooling layer '${layer.name}' needs rows of dims [H, W, C], got [${dims.join(', ')}]`);
      }
      return layer.keepDims ? [1, 1, dims[2]!] : [dims[2]!];
    case 'affine':
      if (dims.at(-1) !== layer.scale.length) {
        throw new McuError('E_MODEL', `layer '${layer.name}' normalises ${layer.scale.length} channels but receives rows of dims [${dims.join(', ')}]`);
      }
      return [...dims];
    case 'dense': {
      const last = dims.at(-1);
      if (dims.length === 0 || last !== layer.inUnits) {
        throw new McuError('E_MODEL', `dense layer '${layer.name}' has a [${layer.inUnits}, ${layer.units}] kernel but receives rows of dims [${dims.join(', ')}]`);
      }
      return [...dims.slice(0, -1), layer.units];
    }
    case 'flatten':
      return [dims.reduce((a, b) => a * b, 1)];
    default:
      return [...dims];
  }
}

export function applyActivation(tf: Tf, x: Tensor, a: Activation): Tensor {
  switch (a) {
    case 'linear':
      return x;
    case 'relu':
      return tf.relu(x);
    case 'relu6':
      return tf.relu6(x);
    case 'elu':
      return tf.elu(x);
    case 'selu':
      return tf.selu(x);
    case 'tanh':
      return tf.tanh(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'hard_sigmoid':
      // Keras 2 / tfjs: clip(0.2·x + 0.5, 0, 1).
      return tf.clipByValue(tf.add(tf.mul(x, 0.2), 0.5), 0, 1);
    case 'hard_sigmoid_v3':
      // Keras 3: relu6(x + 3) / 6.
      return tf.div(tf.relu6(tf.add(x, 3)), 6);
    case 'softmax':
      return tf.softmax(x, -1);
    case 'log_softmax':
      return tf.logSoftmax(x, -1);
    case 'softplus':
      return tf.softplus(x);
    case 'softsign':
      return tf.div(x, tf.add(tf.abs(x), 1));
    case 'swish':
      return tf.mul(x, tf.sigmoid(x));
    case 'exponential':
      return tf.exp(x);
    case 'gelu':
      // Exact GELU: x·Φ(x) = 0.5·x·(1 + erf(x/√2)).
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
    case 'gelu_tanh': {
      const c = Math.sqrt(2 / Math.PI);
      const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), c);
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
    }
    case 'mish':
      return tf.mul(x, tf.tanh(tf.softplus(x)));
  }
}
