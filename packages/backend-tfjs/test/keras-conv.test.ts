// Convolutional Keras models on the tfjs backend: Conv2D (same / valid padding, strides,
// dilation), BatchNormalization (inference), MaxPooling2D, AveragePooling2D, SpatialDropout2D
// and Dropout, checked against tfjs-layers' own execution of the same saved model.
// (The PyTorch LeNet, rewritten as Keras, against onnxruntime: test/cross-backend-lenet.test.ts.)
import { readFileSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import type { StochasticModel } from '@mcu/core';
import { TfjsBackend } from '../src/index.js';
import { expectCode, masksFor, maxDiff, saveLayersModel, tempDir } from './helpers.js';

tf.env().set('IS_TEST', true);

/** 12×12×3 → conv/bn/pool → (SpatialDropout2D inserted in JSON) → dilated conv → strided conv → avg pool → Dense. */
function convFixture(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [12, 12, 3], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1' }));
  m.add(tf.layers.batchNormalization({ name: 'bn1' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2, name: 'p1' })); // [6, 6, 8]
  m.add(tf.layers.conv2d({ filters: 6, kernelSize: [3, 2], dilationRate: 2, activation: 'tanh', name: 'c2' })); // [2, 4, 6]
  m.add(tf.layers.conv2d({ filters: 5, kernelSize: 2, strides: 2, padding: 'same', name: 'c3' })); // [1, 2, 5]
  m.add(tf.layers.averagePooling2d({ poolSize: [1, 2], strides: 1, padding: 'same', name: 'p2' })); // [1, 2, 5]
  m.add(tf.layers.flatten({ name: 'flat' }));
  m.add(tf.layers.dropout({ rate: 0.3, name: 'drop' }));
  m.add(tf.layers.dense({ units: 4, name: 'out' }));
  // Moving statistics and affine parameters that are not the identity.
  const bn = m.getLayer('bn1');
  const c = 8;
  const v = (f: (k: number) => number) => tf.tensor1d(Array.from({ length: c }, (_, k) => f(k)));
  bn.setWeights([v((k) => 0.5 + 0.1 * k), v((k) => 0.2 - 0.05 * k), v((k) => 0.3 * Math.sin(k)), v((k) => 0.4 + 0.2 * k)]);
  return m;
}

function images(n: number): Float32Array {
  return Float32Array.from({ length: n * 12 * 12 * 3 }, (_, k) => Math.sin(k * 0.37) + 0.3 * Math.cos(k * 1.3));
}

/** Insert a layer config into a saved model.json after layer `after`. */
function insertLayer(path: string, after: string, layer: object): void {
  const json = JSON.parse(readFileSync(path, 'utf8'));
  const layers = json.modelTopology.config.layers as { config: { name: string } }[];
  layers.splice(layers.findIndex((l) => l.config.name === after) + 1, 0, layer as { config: { name: string } });
  writeFileSync(path, JSON.stringify(json));
}

function editLayer(path: string, name: string, edit: (config: Record<string, unknown>) => void): void {
  const json = JSON.parse(readFileSync(path, 'utf8'));
  const layer = (json.modelTopology.config.layers as { config: Record<string, unknown> }[]).find((l) => l.config['name'] === name)!;
  edit(layer.config);
  writeFileSync(path, JSON.stringify(json));
}

async function saved(): Promise<{ keras: tf.Sequential; path: string }> {
  const keras = convFixture();
  const path = await saveLayersModel(keras, tempDir());
  return { keras, path };
}

describe('Keras conv nets on the tfjs backend', () => {
  it('loads Conv2D / BatchNormalization / pooling layers: the all-ones pass equals tfjs-layers’ predict', async () => {
    const { keras, path } = await saved();
    const model = await new TfjsBackend({ backend: 'cpu' }).load({ kind: 'path', path });
    try {
      expect(model.inputs[0]!.dims.slice(1)).toEqual([12, 12, 3]);
      expect(model.sites.map((s) => [s.name, s.maskShape])).toEqual([['drop', [10]]]);
      const n = 5;
      const x = images(n);
      const ones = { drop: { dtype: 'float32' as const, data: new Float32Array(10).fill(1), dims: [1, 1, 10] } };
      const y = (await model.run({ [model.inputs[0]!.name]: { dtype: 'float32', data: x, dims: [n, 12, 12, 3] } }, ones, { samples: 1, scope: 'sample' }))[
        'out'
      ]!;
      const want = (keras.predict(tf.tensor4d(x, [n, 12, 12, 3])) as tf.Tensor).dataSync();
      expect(y.dims).toEqual([n, 4]);
      // The same float32 kernels in another order: 1e-5 of the output scale.
      const scale = Math.max(...Array.from(want, Math.abs));
      expect(maxDiff(y.data as Float32Array, want)).toBeLessThan(1e-5 * scale);
    } finally {
      await model.dispose();
      keras.dispose();
    }
  });

  it.each(['sample', 'point'] as const)(
    'SpatialDropout2D drops whole feature maps; masked samples equal tfjs-layers run in pieces (scope %s)',
    async (scope) => {
      const { keras, path } = await saved();
      insertLayer(path, 'p1', { class_name: 'SpatialDropout2D', config: { name: 'sd1', rate: 0.25, data_format: 'channels_last', trainable: true } });
      let model: StochasticModel | undefined;
      try {
        model = await new TfjsBackend({ backend: 'cpu' }).load({ kind: 'path', path });
        expect(model.sites.map((s) => [s.name, s.kind, s.rate, s.maskShape])).toEqual([
          ['sd1', 'bernoulli', 0.25, [1, 1, 8]],
          ['drop', 'bernoulli', 0.3, [10]],
        ]);
        const n = 3;
        const S = 4;
        const x = images(n);
        const masks = masksFor(model, S, n, scope);
        const y = (await model.run({ [model.inputs[0]!.name]: { dtype: 'float32', data: x, dims: [n, 12, 12, 3] } }, masks, { samples: S, scope }))['out']!;

        // Reference: tfjs-layers' own layers, split at the two sites, masks applied by hand.
        const want = tf.tidy(() => {
          const front = tf.model({ inputs: keras.inputs, outputs: keras.getLayer('p1').output as tf.SymbolicTensor });
          const h = front.predict(tf.tensor4d(x, [n, 12, 12, 3])) as tf.Tensor4D; // [n, 6, 6, 8]
          const m1 = tf.tensor(masks['sd1']!.data as Float32Array, [S, scope === 'point' ? n : 1, 1, 1, 8]);
          let z: tf.Tensor = tf.reshape(tf.mul(tf.expandDims(h, 0), m1), [S * n, 6, 6, 8]);
          for (const name of ['c2', 'c3', 'p2', 'flat']) z = keras.getLayer(name).apply(z) as tf.Tensor;
          const m2 = tf.tensor(masks['drop']!.data as Float32Array, [S, scope === 'point' ? n : 1, 10]);
          z = tf.reshape(tf.mul(tf.reshape(z, [S, n, 10]), m2), [S * n, 10]);
          return (keras.getLayer('out').apply(z) as tf.Tensor).dataSync();
        });
        expect(y.dims).toEqual([S * n, 4]);
        const scale = Math.max(...Array.from(want, Math.abs));
        expect(maxDiff(y.data as Float32Array, want)).toBeLessThan(1e-5 * scale);
        // The feature-map masks really are per channel: some but not all of the 8 are dropped.
        const m = masks['sd1']!.data as Float32Array;
        expect(m.some((v) => v === 0) && m.some((v) => v > 1)).toBe(true);
      } finally {
        await model?.dispose();
        keras.dispose();
      }
    },
  );

  it.each(['GlobalAveragePooling2D', 'GlobalMaxPooling2D'] as const)('%s (and keepdims) matches tfjs-layers', async (cls) => {
    const keras = tf.sequential();
    keras.add(tf.layers.conv2d({ inputShape: [9, 7, 2], filters: 6, kernelSize: 3, activation: 'relu', name: 'c' }));
    keras.add(cls === 'GlobalAveragePooling2D' ? tf.layers.globalAveragePooling2d({ name: 'g' }) : tf.layers.globalMaxPooling2d({ name: 'g' }));
    keras.add(tf.layers.dropout({ rate: 0.2, name: 'd' }));
    keras.add(tf.layers.dense({ units: 3, name: 'out' }));
    const n = 4;
    const x = Float32Array.from({ length: n * 9 * 7 * 2 }, (_, k) => Math.cos(k * 0.23));
    const want = (keras.predict(tf.tensor4d(x, [n, 9, 7, 2])) as tf.Tensor).dataSync();
    const dir = tempDir();
    const path = await saveLayersModel(keras, dir);
    keras.dispose();
    const run = async (): Promise<Float32Array> => {
      const model = await new TfjsBackend({ backend: 'cpu' }).load({ kind: 'path', path });
      try {
        expect(model.sites.map((site) => site.maskShape)).toEqual([[6]]);
        const ones = { d: { dtype: 'float32' as const, data: new Float32Array(6).fill(1), dims: [1, 1, 6] } };
        return (await model.run({ [model.inputs[0]!.name]: { dtype: 'float32', data: x, dims: [n, 9, 7, 2] } }, ones, { samples: 1, scope: 'sample' }))['out']!
          .data as Float32Array;
      } finally {
        await model.dispose();
      }
    };
    const scale = Math.max(...Array.from(want, Math.abs));
    expect(maxDiff(await run(), want)).toBeLessThan(1e-5 * scale);
    // keepdims: rows [1, 1, 6], flattened before the Dense — the same numbers
    editLayer(path, 'g', (c) => (c['keepdims'] = true));
    insertLayer(path, 'g', { class_name: 'Flatten', config: { name: 'flat' } });
    expect(maxDiff(await run(), want)).toBeLessThan(1e-5 * scale);
  });

  it('refuses what it cannot run, naming the layer: channels_first, groups, other padding, wrong kernel shape', async () => {
    const cases: [string, (c: Record<string, unknown>) => void, string, RegExp][] = [
      ['c1', (c) => (c['data_format'] = 'channels_first'), 'E_UNSUPPORTED', /Conv2D layer 'c1' uses data_format channels_first/],
      ['c2', (c) => (c['groups'] = 2), 'E_UNSUPPORTED', /Conv2D layer 'c2' has groups 2/],
      ['p1', (c) => (c['padding'] = 'causal'), 'E_UNSUPPORTED', /MaxPooling2D layer 'p1' has padding "causal"/],
      ['c3', (c) => (c['filters'] = 7), 'E_MODEL', /Conv2D layer 'c3' needs a \[2, 2, 6, 7\] kernel, but weight '.*c3\/kernel' has shape \[2, 2, 6, 5\]/],
      ['bn1', (c) => (c['axis'] = 1), 'E_MODEL', /BatchNormalization layer 'bn1' needs a \[12\] gamma, but weight '.*bn1\/gamma' has shape \[8\]/],
      ['c2', (c) => (c['kernel_size'] = [0, 2]), 'E_MODEL', /Conv2D layer 'c2' has kernel_size \[0,2\]/],
    ];
    for (const [layer, edit, code, message] of cases) {
      const { keras, path } = await saved();
      keras.dispose();
      editLayer(path, layer, edit);
      await expectCode(new TfjsBackend({ backend: 'cpu' }).load({ kind: 'path', path }), code, message);
    }
  });
});
