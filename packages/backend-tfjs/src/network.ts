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

/** An element-wise Keras activation applied with tfjs ops (Keras 2 / tfjs and Keras 3 semantics where they differ). */
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
