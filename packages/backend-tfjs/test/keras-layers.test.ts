// Keras layers, one model each, built and saved with tfjs-layers and loaded with mcu's loader:
// the deterministic pass (every site the identity) equals tfjs-layers' own predict — an
// independent implementation of every layer — and the noise layers (GaussianNoise,
// AlphaDropout, SpatialDropout1D/3D, GaussianDropout) apply their masks as Keras does.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadLayersModelFile } from '../src/keras-node.js';
import { KERAS_OPS } from '../src/keras-ops.js';
import { ALPHA_PRIME } from '../src/executor.js';
import { deterministicMasks, graphMasks, predict, relErr, runGraph, saveLayersModel, tempDir, wave } from './helpers.js';

tf.env().set('IS_TEST', true);
beforeAll(async () => {
  await tf.setBackend('cpu');
});

type Build = (m: tf.Sequential) => void;

/** [name, one row's input dims, layers]. Non-trivial weights: tfjs' own initialisers, BN statistics set by hand. */
const CASES: [string, number[], Build][] = [
  [
    'Conv1D valid/same, strides, dilation',
    [12, 3],
    (m) => {
      m.add(tf.layers.conv1d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [12, 3] }));
      m.add(tf.layers.conv1d({ filters: 5, kernelSize: 2, dilationRate: 2 }));
      m.add(tf.layers.conv1d({ filters: 3, kernelSize: 3, strides: 2, activation: 'tanh' }));
    },
  ],
  [
    'Conv2D + DepthwiseConv2D + SeparableConv2D',
    [9, 8, 3],
    (m) => {
      m.add(tf.layers.conv2d({ filters: 4, kernelSize: [3, 2], padding: 'same', inputShape: [9, 8, 3], activation: 'elu' }));
      m.add(tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'valid', activation: 'relu' }));
      m.add(tf.layers.separableConv2d({ filters: 5, kernelSize: 2, depthMultiplier: 2, padding: 'same', strides: 2 }));
    },
  ],
  [
    'Conv2DTranspose valid and same with strides',
    [5, 4, 3],
    (m) => {
      m.add(tf.layers.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', inputShape: [5, 4, 3] }));
      m.add(tf.layers.conv2dTranspose({ filters: 2, kernelSize: [2, 3], strides: [1, 2], padding: 'valid', activation: 'relu' }));
    },
  ],
  [
    'pooling 1D/2D, global pooling',
    [8, 6, 2],
    (m) => {
      m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 1, padding: 'same', inputShape: [8, 6, 2] }));
      m.add(tf.layers.averagePooling2d({ poolSize: [3, 2], padding: 'valid' }));
      m.add(tf.layers.reshape({ targetShape: [-1, 2] }));
      m.add(tf.layers.maxPooling1d({ poolSize: 2, padding: 'same' }));
      m.add(tf.layers.averagePooling1d({ poolSize: 2, strides: 1 }));
      m.add(tf.layers.globalMaxPooling1d({}));
    },
  ],
  [
    'GlobalAveragePooling1D',
    [7, 3],
    (m) => {
      m.add(tf.layers.globalAveragePooling1d({ inputShape: [7, 3] }));
    },
  ],
  [
    'ZeroPadding, Cropping, UpSampling (nearest)',
    [6, 5, 2],
    (m) => {
      m.add(
        tf.layers.zeroPadding2d({
          padding: [
            [1, 2],
            [0, 1],
          ],
          inputShape: [6, 5, 2],
        }),
      );
      m.add(
        tf.layers.cropping2D({
          cropping: [
            [2, 0],
            [1, 1],
          ],
        }),
      );
      m.add(tf.layers.upSampling2d({ size: [2, 3] }));
    },
  ],
  [
    'UpSampling2D bilinear',
    [3, 4, 2],
    (m) => {
      m.add(tf.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear', inputShape: [3, 4, 2] }));
    },
  ],
  [
    'Flatten, Reshape, Permute, RepeatVector, Dense on rank-3 rows',
    [3, 4],
    (m) => {
      m.add(tf.layers.permute({ dims: [2, 1], inputShape: [3, 4] }));
      m.add(tf.layers.dense({ units: 5, activation: 'softplus' }));
      m.add(tf.layers.flatten({}));
      m.add(tf.layers.repeatVector({ n: 3 }));
      m.add(tf.layers.reshape({ targetShape: [4, 15] }));
    },
  ],
  [
    'BatchNormalization, LayerNormalization (last axis and two axes)',
    [4, 6],
    (m) => {
      m.add(tf.layers.batchNormalization({ inputShape: [4, 6], epsilon: 0.01 }));
      m.add(tf.layers.layerNormalization({ epsilon: 1e-4 }));
      m.add(tf.layers.layerNormalization({ axis: [1, 2], center: false }));
    },
  ],
  [
    'activation layers',
    [10],
    (m) => {
      m.add(tf.layers.dense({ units: 10, inputShape: [10] }));
      m.add(tf.layers.leakyReLU({ alpha: 0.2 }));
      m.add(tf.layers.dense({ units: 10 }));
      m.add(tf.layers.elu({}));
      m.add(tf.layers.dense({ units: 10 }));
      m.add(tf.layers.reLU({ maxValue: 0.8 }));
      m.add(tf.layers.dense({ units: 10 }));
      m.add(tf.layers.prelu({ alphaInitializer: tf.initializers.randomUniform({ minval: 0.1, maxval: 0.5 }) }));
      m.add(tf.layers.thresholdedReLU({ theta: 0.1 }));
      m.add(tf.layers.dense({ units: 6 }));
      m.add(tf.layers.softmax({}));
    },
  ],
  [
    'every Activation',
    [5],
    (m) => {
      m.add(tf.layers.dense({ units: 5, inputShape: [5] }));
      for (const a of [
        'relu',
        'relu6',
        'elu',
        'selu',
        'tanh',
        'sigmoid',
        'hardSigmoid',
        'softplus',
        'softsign',
        'swish',
        'mish',
        'gelu',
        'gelu_new',
        'linear',
        'logSoftmax',
        'softmax',
      ]) {
        m.add(tf.layers.activation({ activation: a as never }));
        m.add(tf.layers.dense({ units: 5 }));
      }
    },
  ],
  [
    'Embedding',
    [6],
    (m) => {
      m.add(tf.layers.embedding({ inputDim: 10, outputDim: 3, inputShape: [6] }));
      m.add(tf.layers.flatten({}));
    },
  ],
  [
    'TimeDistributed(Dense), TimeDistributed(Conv2D)',
    [4, 5, 5, 2],
    (m) => {
      m.add(tf.layers.timeDistributed({ layer: tf.layers.conv2d({ filters: 3, kernelSize: 2 }), inputShape: [4, 5, 5, 2] }));
      m.add(tf.layers.timeDistributed({ layer: tf.layers.flatten({}) }));
      m.add(tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 2, activation: 'tanh' }) }));
    },
  ],
];

function input(dims: number[], rows: number, embedding: boolean): Float32Array {
  const n = rows * dims.reduce((a, b) => a * b, 1);
  return embedding ? Float32Array.from({ length: n }, (_, k) => (k * 7) % 10) : wave(n);
}

describe('Keras layers: the deterministic pass equals tfjs-layers’ predict', () => {
  it.each(CASES)('%s', async (_name, dims, build) => {
    const m = tf.sequential();
    build(m);
    for (const layer of m.layers) {
      if (layer.getClassName() === 'BatchNormalization') {
        // Moving statistics and affine parameters that are not the identity.
        layer.setWeights(
          layer.getWeights().map((w, k) => tf.tidy(() => tf.add(tf.mul(tf.randomUniform(w.shape, 0, 1, 'float32', 7 + k), 0.5), k === 3 ? 0.5 : 0.1))),
        );
      }
    }
    const rows = 3;
    const x = { data: input(dims, rows, _name === 'Embedding'), dims: [rows, ...dims] };
    const [want] = predict(m, [x]);
    const path = await saveLayersModel(m, tempDir());
    m.dispose();
    const graph = await loadLayersModelFile(path);
    expect(graph.layout).toBe('lazy');
    expect(graph.inputs.map((i) => [...i.dims])).toEqual([dims]);
    for (const node of graph.nodes) expect(node.op in KERAS_OPS || node.op === 'site' || node.op === 'identity').toBe(true);
    const [got] = runGraph(graph, { [graph.inputs[0]!.name]: x }, deterministicMasks(graph));
    expect(got!.dims.slice(1)).toEqual(graph.outputs[0]!.dims);
    expect(relErr(got!.data, want!)).toBeLessThan(1e-5);
  });
});

describe('noise layers as sites', () => {
  it('GaussianNoise is additive N(0, σ²), AlphaDropout the Keras affine form, GaussianDropout multiplicative, SpatialDropout1D per channel', async () => {
    const m = tf.sequential();
    m.add(tf.layers.dense({ units: 6, inputShape: [4], activation: 'selu', name: 'd0' }));
    m.add(tf.layers.gaussianNoise({ stddev: 0.4, name: 'noise' }));
    m.add(tf.layers.alphaDropout({ rate: 0.2, name: 'alpha' }));
    m.add(tf.layers.gaussianDropout({ rate: 0.3, name: 'gd' }));
    m.add(tf.layers.reshape({ targetShape: [3, 2], name: 'r' }));
    m.add(tf.layers.spatialDropout1d({ rate: 0.5, name: 'sd1' }));
    m.add(tf.layers.reshape({ targetShape: [1, 1, 3, 2], name: 'r3' }));
    m.add(tf.layers.dense({ units: 2, name: 'y' }));
    const path = await saveLayersModel(m, tempDir());
    const graph = await loadLayersModelFile(path);
    expect(graph.sites.map((s) => [s.name, s.kind, s.rate, [...s.maskShape], s.origin])).toEqual([
      ['noise', 'additive', 0, [6], { op: 'GaussianNoise', node: 'noise' }],
      ['alpha', 'alpha', 0.2, [6], { op: 'AlphaDropout', node: 'alpha' }],
      ['gd', 'gaussian', 0.3, [6], { op: 'GaussianDropout', node: 'gd' }],
      ['sd1', 'bernoulli', 0.5, [1, 2], { op: 'SpatialDropout1D', node: 'sd1' }],
    ]);
    expect(graph.sites[0]!.stddev).toBe(0.4);
    expect(graph.warnings).toEqual([]);

    const rows = 4;
    const s = 3;
    const x = { data: wave(rows * 4), dims: [rows, 4] };
    const masks = graphMasks(graph, s, rows, 'point');
    const [got] = runGraph(graph, { d0_input: x }, masks, s);
    // Reference: tfjs-layers for the weighted layers, the noise applied by hand (Keras' formulas).
    const want = tf.tidy(() => {
      const mask = (name: string, dims: number[]) => tf.tensor(masks[name]!.data, [s * rows, ...dims]);
      const p = 0.2;
      const a = ((1 - p) * (1 + p * ALPHA_PRIME ** 2)) ** -0.5;
      const bb = -a * ALPHA_PRIME * p;
      let h = m.getLayer('d0').apply(tf.tile(tf.tensor2d(x.data, [rows, 4]), [s, 1])) as tf.Tensor;
      h = tf.add(h, mask('noise', [6]));
      const keep = mask('alpha', [6]);
      // Keras: x·kept + α′·(1 − kept), then a·x + b.
      h = tf.add(tf.mul(tf.add(tf.mul(h, keep), tf.mul(tf.sub(1, keep), ALPHA_PRIME)), a), bb);
      h = tf.mul(h, mask('gd', [6]));
      h = tf.mul(tf.reshape(h, [-1, 3, 2]), mask('sd1', [1, 2]));
      return (m.getLayer('y').apply(tf.reshape(h, [-1, 1, 1, 3, 2])) as tf.Tensor).dataSync();
    });
    expect(relErr(got!.data, want)).toBeLessThan(1e-5);
    // The masks are really random: additive noise around 0, alpha keep indicators 0/1.
    expect(new Set(masks['noise']!.data).size).toBeGreaterThan(10);
    expect([...new Set(masks['alpha']!.data)].sort()).toEqual([0, 1]);
    // The deterministic pass is predict (GaussianNoise 0, AlphaDropout −1: the identity).
    const [det] = runGraph(graph, { d0_input: x }, deterministicMasks(graph));
    expect(relErr(det!.data, predict(m, [x])[0]!)).toBeLessThan(1e-5);
    m.dispose();
  });

  it('SpatialDropout3D, Dropout with noise_shape and rate 0 (no site), TimeDistributed(Dropout): mask shapes', async () => {
    const { parseLayersModel } = await import('../src/keras.js');
    const layer = (class_name: string, config: object) => ({ class_name, config });
    const graph = await parseLayersModel(
      {
        format: 'layers-model',
        modelTopology: {
          class_name: 'Sequential',
          config: {
            layers: [
              layer('InputLayer', { name: 'x', batch_input_shape: [null, 2, 3, 4, 5] }),
              layer('SpatialDropout3D', { name: 's3', rate: 0.1 }),
              layer('Dropout', { name: 'ns', rate: 0.2, noise_shape: [null, 1, 3, 1, 5] }),
              layer('Dropout', { name: 'zero', rate: 0 }),
              layer('TimeDistributed', { name: 'td', layer: layer('Dropout', { name: 'inner', rate: 0.3 }) }),
              layer('TimeDistributed', { name: 'tds', layer: layer('SpatialDropout2D', { name: 'inner2', rate: 0.3 }) }),
            ],
          },
        },
      },
      { label: 'inline' },
    );
    expect(graph.sites.map((s) => [s.name, [...s.maskShape]])).toEqual([
      ['s3', [1, 1, 1, 5]],
      ['ns', [1, 3, 1, 5]],
      ['td', [2, 3, 4, 5]],
      ['tds', [2, 1, 1, 5]],
    ]);
    expect(graph.nodes.find((n) => n.name === 'zero')!.op).toBe('identity');
  });
});

describe('layers tfjs-layers runs differently or not at all, against JS references', () => {
  it('BatchNormalization on axis 1 (tfjs broadcasts it along the last axis) and causal Conv1D', async () => {
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const dir = tempDir();
    const gamma = [1, 2, 3];
    const beta = [0.5, 0, -0.5];
    const mean = [0.1, -0.2, 0.3];
    const variance = [1, 0.5, 2];
    const kernel = [1, -1, 0.5, 2]; // [k = 2, in = 2, filters = 1]
    writeFileSync(join(dir, 'w.bin'), new Uint8Array(Float32Array.from([...gamma, ...beta, ...mean, ...variance, ...kernel]).buffer));
    const layers = [
      { class_name: 'BatchNormalization', config: { name: 'bn', axis: 1, epsilon: 0.01, batch_input_shape: [null, 3, 2] } },
      { class_name: 'Conv1D', config: { name: 'c', filters: 1, kernel_size: 2, padding: 'causal', dilation_rate: 2, use_bias: false } },
    ];
    const names = [
      ['bn/gamma', [3]],
      ['bn/beta', [3]],
      ['bn/moving_mean', [3]],
      ['bn/moving_variance', [3]],
      ['c/kernel', [2, 2, 1]],
    ];
    writeFileSync(
      join(dir, 'model.json'),
      JSON.stringify({
        format: 'layers-model',
        modelTopology: { keras_version: '2.15.0', class_name: 'Sequential', config: { layers } },
        weightsManifest: [{ paths: ['w.bin'], weights: names.map(([name, shape]) => ({ name, shape, dtype: 'float32' })) }],
      }),
    );
    const graph = await loadLayersModelFile(join(dir, 'model.json'));
    const x = [0.3, -1, 2, 0.5, -0.7, 1.1]; // [T = 3, C = 2]
    const bn = x.map((v, k) => {
      const t = Math.floor(k / 2);
      return ((v - mean[t]!) / Math.sqrt(variance[t]! + 0.01)) * gamma[t]! + beta[t]!;
    });
    // Causal, dilation 2: y_t = Σ_c w[0, c]·x_{t−2, c} + w[1, c]·x_{t, c}, zeros before t = 0.
    const at = (t: number, c: number) => (t < 0 ? 0 : bn[t * 2 + c]!);
    const want = [0, 1, 2].map((t) => kernel[0]! * at(t - 2, 0) + kernel[1]! * at(t - 2, 1) + kernel[2]! * at(t, 0) + kernel[3]! * at(t, 1));
    const [got] = runGraph(graph, { bn_input: { data: Float32Array.from(x), dims: [1, 3, 2] } }, {});
    expect(got!.dims).toEqual([1, 3, 1]);
    expect(relErr(got!.data, want)).toBeLessThan(1e-6);
  });
});
