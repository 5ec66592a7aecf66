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

/** Dims after each layer, checked (dense input widths). */
export function shapeAfter(layer: NetLayer, dims: readonly number[]): number[] {
  switch (layer.op) {
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
