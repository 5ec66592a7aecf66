// Functional Keras graphs: several inputs and outputs, branches and every merge layer, a shared
// layer (one set of weights, one node per call), a nested Sequential model called twice (its
// dropout a separate site per call); the deterministic pass equals tfjs-layers' predict, random
// masks equal tfjs-layers' own layers applied piece by piece with the masks multiplied in by hand.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadLayersModelFile } from '../src/keras-node.js';
import { deterministicMasks, expectCode, graphMasks, predict, relErr, runGraph, saveLayersModel, tempDir, wave, type Rows } from './helpers.js';

tf.env().set('IS_TEST', true);
beforeAll(async () => {
  await tf.setBackend('cpu');
});

function fixture(): tf.LayersModel {
  const a = tf.input({ shape: [6], name: 'a' });
  const b = tf.input({ shape: [6], name: 'b' });
  const shared = tf.layers.dense({ units: 8, activation: 'relu', name: 'shared' });
  const sa = shared.apply(a) as tf.SymbolicTensor;
  const sb = shared.apply(b) as tf.SymbolicTensor;
  const d1 = tf.layers.dropout({ rate: 0.3, name: 'd1' }).apply(sa) as tf.SymbolicTensor;
  const merged = [
    tf.layers.add({ name: 'add' }).apply([d1, sb]),
    tf.layers.add({ name: 'add2' }).apply([sb, sa]),
    tf.layers.multiply({ name: 'mul' }).apply([sa, sb]),
    tf.layers.average({ name: 'avg' }).apply([sa, sb]),
    tf.layers.maximum({ name: 'max' }).apply([sa, sb]),
    tf.layers.minimum({ name: 'min' }).apply([sa, sb]),
  ] as tf.SymbolicTensor[];
  const cat = tf.layers.concatenate({ name: 'cat' }).apply(merged) as tf.SymbolicTensor; // [48]
  const cat2 = tf.layers.concatenate({ name: 'cat2' }).apply([...merged].reverse()) as tf.SymbolicTensor;
  const inner = tf.sequential({ name: 'inner' });
  inner.add(tf.layers.dense({ units: 5, activation: 'tanh', inputShape: [48], name: 'idense' }));
  inner.add(tf.layers.dropout({ rate: 0.2, name: 'idrop' }));
  inner.add(tf.layers.dense({ units: 4, name: 'iout' }));
  const y1 = inner.apply(cat) as tf.SymbolicTensor;
  const y3 = inner.apply(cat2) as tf.SymbolicTensor;
  const dot = tf.layers.dot({ axes: 1, name: 'dot' }).apply([sa, sb]) as tf.SymbolicTensor;
  const cos = tf.layers.dot({ axes: -1, normalize: true, name: 'cos' }).apply([sa, sb]) as tf.SymbolicTensor;
  const y2 = tf.layers
    .dense({ units: 3, activation: 'softmax', name: 'head2' })
    .apply(tf.layers.concatenate({ axis: 1, name: 'cat3' }).apply([dot, cos, y1]) as tf.SymbolicTensor) as tf.SymbolicTensor;
  return tf.model({ inputs: [a, b], outputs: [y1, y2, y3], name: 'outer' });
}

/** A mask [S, 1|N, k] as S·N rows (sample-major). */
function maskRows(m: Rows, s: number, n: number): tf.Tensor {
  const k = m.data.length / (m.dims[0]! * m.dims[1]!);
  return tf.reshape(tf.broadcastTo(tf.tensor3d(m.data, [s, m.dims[1]!, k]), [s, n, k]), [s * n, k]);
}

describe('Functional DAGs', () => {
  it('two inputs, three outputs, merges, a shared layer and a nested model called twice', async () => {
    const keras = fixture();
    const n = 3;
    const xa = { data: wave(n * 6), dims: [n, 6] };
    const xb = { data: wave(n * 6, 0.9, 0.2), dims: [n, 6] };
    const want = predict(keras, [xa, xb]);
    const dir = tempDir();
    const path = await saveLayersModel(keras, dir, 3);
    const graph = await loadLayersModelFile(path);

    expect(graph.inputs.map((i) => [i.name, [...i.dims]])).toEqual([
      ['a', [6]],
      ['b', [6]],
    ]);
    expect(graph.outputs.map((o) => [o.name, [...o.dims!], o.activation])).toEqual([
      ['inner/iout', [4], undefined],
      ['head2', [3], 'softmax'],
      ['inner@1/iout', [4], undefined],
    ]);
    expect(graph.sites.map((s) => [s.name, [...s.maskShape], s.origin])).toEqual([
      ['d1', [8], { op: 'Dropout', node: 'd1' }],
      ['inner/idrop', [5], { op: 'Dropout', node: 'inner/idrop' }],
      ['inner@1/idrop', [5], { op: 'Dropout', node: 'inner@1/idrop' }],
    ]);
    // The shared layer: two nodes, one kernel; the nested model's weights once, by its layers' names.
    const sharedNodes = graph.nodes.filter((nd) => nd.op === 'keras.dense' && nd.inputs[1] === 'shared/kernel');
    expect(sharedNodes.map((nd) => nd.name)).toEqual(['shared', 'shared@1']);
    expect([...graph.constants.keys()].filter((k) => k.includes('kernel')).sort()).toEqual([
      'head2/kernel',
      'inner/idense/kernel',
      'inner/iout/kernel',
      'shared/kernel',
    ]);
    // Topological: every input of a node is produced before it.
    const known = new Set([...graph.inputs.map((i) => i.name), ...graph.constants.keys(), '']);
    for (const nd of graph.nodes) {
      for (const i of nd.inputs) expect(known.has(i), `${nd.name} reads ${i}`).toBe(true);
      nd.outputs.forEach((o) => known.add(o));
    }

    const det = runGraph(graph, { a: xa, b: xb }, deterministicMasks(graph));
    det.forEach((out, k) => expect(relErr(out.data, want[k]!)).toBeLessThan(1e-5));

    for (const scope of ['sample', 'point'] as const) {
      const s = 4;
      const masks = graphMasks(graph, s, n, scope, 11);
      const got = runGraph(graph, { a: xa, b: xb }, masks, s);
      const ref = tf.tidy(() => {
        const L = (name: string) => keras.getLayer(name);
        const innerModel = L('inner') as tf.Sequential;
        const A = tf.tile(tf.tensor2d(xa.data, [n, 6]), [s, 1]);
        const B = tf.tile(tf.tensor2d(xb.data, [n, 6]), [s, 1]);
        const sa = L('shared').apply(A) as tf.Tensor;
        const sb = L('shared').apply(B) as tf.Tensor;
        const d1 = tf.mul(sa, maskRows(masks['d1']!, s, n));
        const merged = [tf.add(d1, sb), tf.add(sb, sa), tf.mul(sa, sb), tf.div(tf.add(sa, sb), 2), tf.maximum(sa, sb), tf.minimum(sa, sb)];
        const runInner = (x: tf.Tensor, site: string) => {
          const h = tf.mul(innerModel.getLayer('idense').apply(x) as tf.Tensor, maskRows(masks[site]!, s, n));
          return innerModel.getLayer('iout').apply(h) as tf.Tensor;
        };
        const y1 = runInner(tf.concat(merged, 1), 'inner/idrop');
        const y3 = runInner(tf.concat([...merged].reverse(), 1), 'inner@1/idrop');
        const dot = tf.sum(tf.mul(sa, sb), 1, true);
        // Keras' l2_normalize: x·rsqrt(max(Σx², 1e-12)) (an all-zero relu row gives 0, not NaN).
        const unit = (t: tf.Tensor) => tf.mul(t, tf.rsqrt(tf.maximum(tf.sum(tf.square(t), 1, true), 1e-12)));
        const cos = tf.sum(tf.mul(unit(sa), unit(sb)), 1, true);
        const y2 = L('head2').apply(tf.concat([dot, cos, y1], 1)) as tf.Tensor;
        return [y1, y2, y3].map((t) => t.dataSync() as Float32Array);
      });
      got.forEach((out, k) => {
        expect(out.dims[0]).toBe(s * n);
        expect(relErr(out.data, ref[k]!)).toBeLessThan(1e-5);
      });
    }
    keras.dispose();
  });

  it('Keras 3 functional JSON: a shared layer called twice, a nested functional model (weights prefixed by its name), Subtract', async () => {
    const tensor = (from: string, node = 0) => ({
      class_name: '__keras_tensor__',
      config: { shape: [null, 2], dtype: 'float32', keras_history: [from, node, 0] },
    });
    const innerModel = {
      module: 'keras',
      class_name: 'Functional',
      name: 'sub',
      config: {
        name: 'sub',
        layers: [
          { class_name: 'InputLayer', name: 'sub_in', config: { name: 'sub_in', batch_shape: [null, 2] }, inbound_nodes: [] },
          { class_name: 'Dense', name: 'sd', config: { name: 'sd', units: 2, activation: 'relu' }, inbound_nodes: [{ args: [tensor('sub_in')], kwargs: {} }] },
        ],
        input_layers: [['sub_in', 0, 0]],
        output_layers: [['sd', 0, 0]],
      },
      inbound_nodes: [{ args: [tensor('sh', 1)], kwargs: {} }],
    };
    const topology = {
      keras_version: '3.5.0',
      model_config: {
        class_name: 'Functional',
        config: {
          name: 'top',
          layers: [
            { class_name: 'InputLayer', name: 'x', config: { name: 'x', batch_shape: [null, 2] }, inbound_nodes: [] },
            {
              class_name: 'Dense',
              name: 'sh',
              config: { name: 'sh', units: 2 },
              inbound_nodes: [
                { args: [tensor('x')], kwargs: {} },
                { args: [tensor('sh')], kwargs: {} },
              ],
            },
            innerModel,
            { class_name: 'Subtract', name: 'plus', config: { name: 'plus' }, inbound_nodes: [{ args: [[tensor('sub', 1), tensor('x')]], kwargs: {} }] },
          ],
          input_layers: [['x', 0, 0]],
          output_layers: ['plus', 0, 0],
        },
      },
    };
    const W = [
      [0.5, -1],
      [1.5, 0.25],
    ];
    const B = [0.1, -0.2];
    const S = [
      [1, -0.5],
      [0.25, 2],
    ];
    const SB = [0.3, 0];
    const dir = tempDir();
    writeFileSync(join(dir, 'w.bin'), new Uint8Array(Float32Array.from([...W.flat(), ...B, ...S.flat(), ...SB]).buffer));
    writeFileSync(
      join(dir, 'model.json'),
      JSON.stringify({
        format: 'layers-model',
        modelTopology: topology,
        weightsManifest: [
          {
            paths: ['w.bin'],
            weights: [
              ['sh/kernel', [2, 2]],
              ['sh/bias', [2]],
              ['sub/sd/kernel', [2, 2]],
              ['sub/sd/bias', [2]],
            ].map(([name, shape]) => ({ name, shape, dtype: 'float32' })),
          },
        ],
      }),
    );
    const graph = await loadLayersModelFile(join(dir, 'model.json'));
    expect(graph.outputs.map((o) => o.name)).toEqual(['plus']);
    const x = [1, -2];
    const lin = (v: number[], w: number[][], b: number[]) => b.map((bb, o) => v.reduce((a, vi, i) => a + vi * w[i]![o]!, bb));
    const h = lin(lin(x, W, B), W, B);
    const want = lin(h, S, SB).map((v, k) => Math.max(0, v) - x[k]!);
    const [got] = runGraph(graph, { x: { data: Float32Array.from(x), dims: [1, 2] } }, {});
    expect(relErr(got!.data, want)).toBeLessThan(1e-6);
    expect(graph.warnings.some((w) => /no dropout layer/.test(w))).toBe(true);
  });
});

describe('errors name what is wrong', () => {
  it('unknown layer class: E_UNSUPPORTED with the layer, its class, the supported list and the ONNX route', async () => {
    const m = tf.sequential();
    m.add(tf.layers.dense({ units: 3, inputShape: [2], name: 'd1' }));
    m.add(tf.layers.masking({ name: 'mask' }));
    const path = await saveLayersModel(m, tempDir());
    m.dispose();
    await expectCode(
      loadLayersModelFile(path),
      'E_UNSUPPORTED',
      /layer 'mask' of class Masking is not supported.*supported: InputLayer, Dense,.*LSTM.*export the model to ONNX.*onnx backend/,
    );
  });

  it('a weight of the wrong shape, a missing shard, a short shard, channels_first', async () => {
    const m = tf.sequential();
    m.add(tf.layers.conv2d({ filters: 2, kernelSize: 2, inputShape: [4, 4, 1], name: 'conv' }));
    m.add(tf.layers.flatten({ name: 'f' }));
    m.add(tf.layers.dense({ units: 3, name: 'd1' }));
    const dir = tempDir();
    const path = await saveLayersModel(m, dir, 2);
    m.dispose();
    const original = readFileSync(path, 'utf8');
    const edit = (
      f: (json: {
        modelTopology: { config: { layers: { config: Record<string, unknown> }[] } };
        weightsManifest: { weights: { shape: number[] }[] }[];
      }) => void,
    ) => {
      const json = JSON.parse(original);
      f(json);
      writeFileSync(path, JSON.stringify(json));
    };
    edit((j) => (j.modelTopology.config.layers[2]!.config['units'] = 4));
    await expectCode(loadLayersModelFile(path), 'E_MODEL', /Dense layer 'd1' needs a \[18, 4\] kernel, but weight 'd1\/kernel' has shape \[18, 3\]/);
    edit((j) => (j.modelTopology.config.layers[0]!.config['data_format'] = 'channels_first'));
    await expectCode(loadLayersModelFile(path), 'E_UNSUPPORTED', /Conv2D layer 'conv' uses data_format channels_first.*ONNX/);
    edit(() => undefined);
    const shard2 = join(dir, 'group1-shard2of2.bin');
    const bytes = readFileSync(shard2);
    writeFileSync(shard2, bytes.subarray(0, bytes.length - 8));
    await expectCode(
      loadLayersModelFile(path),
      'E_MODEL',
      new RegExp(
        `'group1-shard1of2.bin', 'group1-shard2of2.bin' of .* are short: the manifest's 4 weights need ${(8 + 2 + 54 + 3) * 4} bytes, the shards hold ${(8 + 2 + 54 + 3) * 4 - 8}`,
      ),
    );
    rmSync(shard2);
    await expectCode(loadLayersModelFile(path), 'E_FILE', /weight shard 'group1-shard2of2.bin' .* cannot be read \(ENOENT\)/);
  });
});
