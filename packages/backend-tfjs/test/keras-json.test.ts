import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { NamedTensors } from '@mcu/core';
import { TfjsBackend } from '../src/index.js';

// Hand-written model.json files in the layouts tfjs-layers cannot produce itself:
// tensorflowjs_converter output for Keras 2 (model_config wrapper, InputLayer, prefixed or
// renamed weights) and Keras 3 (Functional, dict inbound_nodes, flat output_layers).

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface W {
  name: string;
  shape: number[];
  data: number[];
}

function writeModel(topology: unknown, weights: W[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcu-tfjs-json-'));
  dirs.push(dir);
  const bin = Float32Array.from(weights.flatMap((w) => w.data));
  writeFileSync(join(dir, 'group1-shard1of1.bin'), new Uint8Array(bin.buffer));
  writeFileSync(
    join(dir, 'model.json'),
    JSON.stringify({
      format: 'layers-model',
      generatedBy: 'keras',
      convertedBy: 'TensorFlow.js Converter',
      modelTopology: topology,
      weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: weights.map(({ name, shape }) => ({ name, shape, dtype: 'float32' })) }],
    }),
  );
  return join(dir, 'model.json');
}

// y = act(W2ᵀ · (mask ⊙ relu(W1ᵀ x + b1)) + b2), written out by hand.
const W1 = [
  [0.5, -1, 2],
  [1.5, 0.25, -0.5],
]; // [2, 3]
const B1 = [0.1, 0.2, -0.3];
const W2 = [[1], [-2], [0.5]]; // [3, 1]
const B2 = [0.25];

function forward(x: number[], mask: number[], act: (v: number) => number): number {
  const h = [0, 1, 2].map((j) => Math.max(0, x[0]! * W1[0]![j]! + x[1]! * W1[1]![j]! + B1[j]!) * mask[j]!);
  return act(h.reduce((a, v, j) => a + v * W2[j]![0]!, B2[0]!));
}

const weights = (names: [string, string, string, string]): W[] => [
  { name: names[0], shape: [2, 3], data: W1.flat() },
  { name: names[1], shape: [3], data: B1 },
  { name: names[2], shape: [3, 1], data: W2.flat() },
  { name: names[3], shape: [1], data: B2 },
];

async function check(path: string, input: string, output: string, act: (v: number) => number): Promise<void> {
  const model = await new TfjsBackend({ backend: 'cpu' }).load({ kind: 'path', path });
  expect(model.inputs.map((i) => [i.name, [...i.dims]])).toEqual([[input, ['N', 2]]]);
  expect(model.outputs.map((o) => [o.name, [...o.dims]])).toEqual([[output, ['N', 1]]]);
  expect(model.sites.map((s) => [s.name, s.kind, s.rate, [...s.maskShape]])).toEqual([['dropout', 'bernoulli', 0.1, [3]]]);
  const xs = [
    [1, -0.5],
    [-2, 3],
  ];
  const masks = [
    [1 / 0.9, 0, 1 / 0.9],
    [0, 1 / 0.9, 1 / 0.9],
  ];
  const feeds: NamedTensors = { [input]: { dtype: 'float32', data: Float32Array.from(xs.flat()), dims: [2, 2] } };
  const y = (
    await model.run(feeds, { dropout: { dtype: 'float32', data: Float32Array.from(masks.flat()), dims: [2, 1, 3] } }, { samples: 2, scope: 'sample' })
  )[output]!;
  const want = masks.flatMap((m) => xs.map((x) => forward(x, m, act)));
  expect(y.dims).toEqual([4, 1]);
  [...y.data].forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
  await model.dispose();
}

describe('converter-style model.json layouts', () => {
  it('Keras 2 Sequential with model_config, InputLayer and prefixed weight names; hard_sigmoid = clip(0.2x + 0.5)', async () => {
    const path = writeModel(
      {
        keras_version: '2.15.0',
        backend: 'tensorflow',
        model_config: {
          class_name: 'Sequential',
          config: {
            name: 'sequential',
            layers: [
              { class_name: 'InputLayer', config: { batch_input_shape: [null, 2], dtype: 'float32', sparse: false, ragged: false, name: 'dense_input' } },
              { class_name: 'Dense', config: { name: 'dense', trainable: true, dtype: 'float32', units: 3, activation: 'relu', use_bias: true } },
              { class_name: 'Dropout', config: { name: 'dropout', trainable: true, dtype: 'float32', rate: 0.1, noise_shape: null, seed: null } },
              { class_name: 'Dense', config: { name: 'dense_1', trainable: true, dtype: 'float32', units: 1, activation: 'linear', use_bias: true } },
              { class_name: 'Activation', config: { name: 'act', activation: 'hard_sigmoid' } },
            ],
          },
        },
        training_config: { loss: 'mse' },
      },
      weights(['sequential/dense/kernel', 'sequential/dense/bias', 'sequential/dense_1/kernel', 'sequential/dense_1/bias']),
    );
    await check(path, 'dense_input', 'act', (v) => Math.min(1, Math.max(0, 0.2 * v + 0.5)));
  });

  it('Keras 3 Functional with dict inbound_nodes and flat output_layers; hard_sigmoid = relu6(x + 3) / 6', async () => {
    const tensor = (from: string) => ({ class_name: '__keras_tensor__', config: { shape: [null, 3], dtype: 'float32', keras_history: [from, 0, 0] } });
    const path = writeModel(
      {
        keras_version: '3.5.0',
        backend: 'tensorflow',
        model_config: {
          module: 'keras',
          class_name: 'Functional',
          config: {
            name: 'functional',
            layers: [
              {
                module: 'keras.layers',
                class_name: 'InputLayer',
                config: { batch_shape: [null, 2], dtype: 'float32', sparse: false, name: 'input_layer' },
                name: 'input_layer',
                inbound_nodes: [],
              },
              {
                module: 'keras.layers',
                class_name: 'Dense',
                config: { name: 'dense', units: 3, activation: 'relu', use_bias: true },
                name: 'dense',
                inbound_nodes: [{ args: [tensor('input_layer')], kwargs: {} }],
              },
              {
                module: 'keras.layers',
                class_name: 'Dropout',
                config: { name: 'dropout', rate: 0.1, seed: null, noise_shape: null },
                name: 'dropout',
                inbound_nodes: [{ args: [tensor('dense')], kwargs: { training: false } }],
              },
              {
                module: 'keras.layers',
                class_name: 'Dense',
                config: { name: 'dense_1', units: 1, activation: 'hard_sigmoid', use_bias: true },
                name: 'dense_1',
                inbound_nodes: [{ args: [tensor('dropout')], kwargs: {} }],
              },
            ],
            input_layers: [['input_layer', 0, 0]],
            output_layers: ['dense_1', 0, 0],
          },
        },
      },
      weights(['dense/kernel', 'dense/bias', 'dense_1/kernel', 'dense_1/bias']),
    );
    await check(path, 'input_layer', 'dense_1', (v) => Math.min(6, Math.max(0, v + 3)) / 6);
  });

  it('weights whose names do not follow the layers are assigned in manifest order (shapes checked)', async () => {
    const topology = {
      class_name: 'Sequential',
      config: {
        name: 's',
        layers: [
          { class_name: 'Dense', config: { name: 'dense', units: 3, activation: 'relu', batch_input_shape: [null, 2] } },
          { class_name: 'Dropout', config: { name: 'dropout', rate: 0.1 } },
          { class_name: 'Dense', config: { name: 'dense_1', units: 1 } },
        ],
      },
      keras_version: '2.4.0',
    };
    await check(writeModel(topology, weights(['v0', 'v1', 'v2', 'v3'])), 'dense_input', 'dense_1', (v) => v);
    // Too few weights: the error names the layer.
    const broken = writeModel(topology, weights(['v0', 'v1', 'v2', 'v3']).slice(0, 3));
    await expect(new TfjsBackend({ backend: 'cpu' }).load({ kind: 'path', path: broken })).rejects.toMatchObject({
      code: 'E_MODEL',
      message: expect.stringMatching(/dense_1/),
    });
  });

  it('an output that ends in softmax (or log-softmax) is marked, so it is not taken for logits', async () => {
    const layers = (act: string) => ({
      class_name: 'Sequential',
      config: {
        name: 's',
        layers: [
          { class_name: 'Dense', config: { name: 'dense', units: 3, activation: 'relu', batch_input_shape: [null, 2] } },
          { class_name: 'Dropout', config: { name: 'dropout', rate: 0.1 } },
          { class_name: 'Dense', config: { name: 'dense_1', units: 1, activation: act } },
        ],
      },
      keras_version: '2.4.0',
    });
    const backend = new TfjsBackend({ backend: 'cpu' });
    const activationOf = async (act: string) => {
      const m = await backend.load({ kind: 'path', path: writeModel(layers(act), weights(['dense/kernel', 'dense/bias', 'dense_1/kernel', 'dense_1/bias'])) });
      const a = m.outputs[0]!.activation;
      await m.dispose();
      return a;
    };
    expect(await activationOf('softmax')).toBe('softmax');
    expect(await activationOf('log_softmax')).toBe('log-softmax');
    expect(await activationOf('linear')).toBeUndefined();
  });

  it('a graph input its input_layers do not list is E_MODEL; unknown activations are E_UNSUPPORTED', async () => {
    const path = writeModel(
      {
        class_name: 'Model',
        config: {
          name: 'm',
          layers: [
            { name: 'a', class_name: 'InputLayer', config: { batch_input_shape: [null, 2], name: 'a' }, inbound_nodes: [] },
            { name: 'b', class_name: 'InputLayer', config: { batch_input_shape: [null, 2], name: 'b' }, inbound_nodes: [] },
            {
              name: 'sum',
              class_name: 'Add',
              config: { name: 'sum' },
              inbound_nodes: [
                [
                  ['a', 0, 0, {}],
                  ['b', 0, 0, {}],
                ],
              ],
            },
          ],
          input_layers: [['a', 0, 0]],
          output_layers: [['sum', 0, 0]],
        },
      },
      [],
    );
    await expect(new TfjsBackend({ backend: 'cpu' }).load({ kind: 'path', path })).rejects.toMatchObject({
      code: 'E_MODEL',
      message: expect.stringMatching(/InputLayer 'b', which its input_layers do not list/),
    });
    const act = writeModel(
      {
        class_name: 'Sequential',
        config: { layers: [{ class_name: 'Activation', config: { name: 'weird', activation: 'leaky_relu', batch_input_shape: [null, 2] } }] },
      },
      [],
    );
    await expect(new TfjsBackend({ backend: 'cpu' }).load({ kind: 'path', path: act })).rejects.toMatchObject({
      code: 'E_UNSUPPORTED',
      message: expect.stringMatching(/leaky_relu.*weird/),
    });
    const rate = writeModel(
      { class_name: 'Sequential', config: { layers: [{ class_name: 'Dropout', config: { name: 'd', rate: 1, batch_input_shape: [null, 2] } }] } },
      [],
    );
    await expect(new TfjsBackend({ backend: 'cpu' }).load({ kind: 'path', path: rate })).rejects.toMatchObject({ code: 'E_SITE' });
  });
});
