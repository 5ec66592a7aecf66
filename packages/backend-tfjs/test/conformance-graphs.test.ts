// The backend conformance suite on tfjs for models that are not chains: the suite's MLP
// (3 → 16 → 16 → 2, tanh, dropout 0.2 and 0.5 before the 2nd and 3rd weight layers) rebuilt as
//  - a Keras Functional DAG: every dense layer split into two Dense branches joined by
//    Concatenate, plus a residual Add of a zero-weight Dense of the same input;
//  - a recurrent Keras model: a length-1 sequence through SimpleRNN layers (h₀ = 0, so each step
//    is act(x·W + b)), whose `dropout` is the dropout before the weight layer — the RNN's input
//    mask per sequence, the same mask shape [16] as a Dropout site.
// Each must match the reference backend for the same masks (scope sample and point), repeat for a
// seed, differ across seeds, and dispose twice — on the cpu and wasm tfjs backends.
import * as tf from '@tensorflow/tfjs';
import { describeBackendConformance, type MlpSpec } from '@mcu/core/testing';
import type { Backend } from '@mcu/core';
import { TfjsBackend } from '../src/index.js';
import { saveLayersModel, tempDir } from './helpers.js';

type Dense = { weights: number[][]; bias: number[] };
/** The dense layers of the spec, each with the activation after it and the dropout rate before it. */
function parts(spec: MlpSpec): { dense: Dense; act: string; rateBefore: number }[] {
  const out: { dense: Dense; act: string; rateBefore: number }[] = [];
  let rate = 0;
  for (const l of spec.layers) {
    if (l.type === 'dropout') rate = l.rate;
    else if (l.type === 'dense') {
      out.push({ dense: { weights: l.weights.map((r) => [...r]), bias: [...l.bias] }, act: 'linear', rateBefore: rate });
      rate = 0;
    } else out[out.length - 1]!.act = l.type === 'identity' ? 'linear' : l.type;
  }
  return out;
}

const kernel = (w: number[][], cols?: [number, number]) => {
  const [a, b] = cols ?? [0, w[0]!.length];
  return tf.tensor2d(w.map((r) => r.slice(a, b)));
};

/** The MLP as a Functional DAG (branches, Concatenate, a residual Add). */
function dagModel(spec: MlpSpec): tf.LayersModel {
  const x = tf.input({ shape: [spec.inputSize], name: spec.input });
  let h: tf.SymbolicTensor = x;
  const ps = parts(spec);
  ps.forEach((p, k) => {
    if (p.rateBefore > 0) h = tf.layers.dropout({ rate: p.rateBefore, name: `drop${k}` }).apply(h) as tf.SymbolicTensor;
    const units = p.dense.bias.length;
    const half = Math.floor(units / 2);
    const a = tf.layers.dense({ units: half, name: `d${k}a` });
    const b = tf.layers.dense({ units: units - half, name: `d${k}b` });
    const zero = tf.layers.dense({ units, name: `d${k}zero` });
    const ya = a.apply(h) as tf.SymbolicTensor;
    const yb = b.apply(h) as tf.SymbolicTensor;
    const yz = zero.apply(h) as tf.SymbolicTensor;
    a.setWeights([kernel(p.dense.weights, [0, half]), tf.tensor1d(p.dense.bias.slice(0, half))]);
    b.setWeights([kernel(p.dense.weights, [half, units]), tf.tensor1d(p.dense.bias.slice(half))]);
    zero.setWeights([tf.zeros([p.dense.weights.length, units]), tf.zeros([units])]);
    const joined = tf.layers.concatenate({ axis: -1, name: `cat${k}` }).apply([ya, yb]) as tf.SymbolicTensor;
    const last = k === ps.length - 1;
    const summed = tf.layers.add({ name: last && p.act === 'linear' ? spec.output : `add${k}` }).apply([joined, yz]) as tf.SymbolicTensor;
    h =
      p.act === 'linear'
        ? summed
        : (tf.layers.activation({ activation: p.act as 'tanh', name: last ? spec.output : `act${k}` }).apply(summed) as tf.SymbolicTensor);
  });
  return tf.model({ inputs: x, outputs: h });
}

/** The MLP as SimpleRNN layers over a length-1 sequence (the dropout before a weight layer = that RNN's input dropout). */
function recurrentModel(spec: MlpSpec): tf.LayersModel {
  const x = tf.input({ shape: [spec.inputSize], name: spec.input });
  let h = tf.layers.reshape({ targetShape: [1, spec.inputSize], name: 'seq' }).apply(x) as tf.SymbolicTensor;
  const ps = parts(spec);
  ps.forEach((p, k) => {
    const units = p.dense.bias.length;
    const last = k === ps.length - 1;
    const rnn = tf.layers.simpleRNN({
      units,
      activation: p.act as 'tanh' | 'linear',
      dropout: p.rateBefore,
      returnSequences: !last,
      name: last ? spec.output : `rnn${k}`,
    });
    h = rnn.apply(h) as tf.SymbolicTensor;
    // the recurrent kernel is irrelevant for one step from h₀ = 0; give it values anyway
    rnn.setWeights([kernel(p.dense.weights), tf.randomUniform([units, units], -0.5, 0.5, 'float32', 3), tf.tensor1d(p.dense.bias)]);
  });
  return tf.model({ inputs: x, outputs: h });
}

for (const [kind, build] of [
  ['DAG', dagModel],
  ['recurrent', recurrentModel],
] as const) {
  for (const backend of ['cpu', 'wasm'] as const) {
    describeBackendConformance({
      name: `tfjs (${backend}), ${kind} Keras model`,
      createBackend: async () => new TfjsBackend({ backend }),
      loadMlp: async (b: Backend, spec: MlpSpec) => b.load({ kind: 'path', path: await saveLayersModel(build(spec), tempDir()) }),
    });
  }
}
