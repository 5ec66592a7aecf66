import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { createSeededSampler, McEngine, ReferenceBackend, type MlpLayer, type MlpSpec, type NamedTensors, type TensorData } from '@mcu/core';
import { TfjsBackend } from '../src/index.js';
import { expectCode, masksFor, maxDiff, saveLayersModel, tempDir } from './helpers.js';

// ---------------------------------------------------------------------------------------
// Fixture generator: build a model in tfjs-layers, save it as model.json + weights.bin the
// way tfjs / tensorflowjs_converter lay it out, and describe the same network as an MlpSpec.

// Fixtures are built with tfjs-layers itself: keep its "install tfjs-node" banner out of the log.
tf.env().set('IS_TEST', true);

type Act = 'relu' | 'tanh' | 'sigmoid' | 'linear';

/** The MlpSpec with the same weights as a tfjs Sequential of Dense / Dropout / GaussianDropout. */
function mlpOf(model: tf.LayersModel, input: string): MlpSpec {
  const layers: MlpLayer[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const config = layer.getConfig();
    if (cls === 'Dense') {
      const [w, b] = layer.getWeights();
      const [rows, cols] = w!.shape as [number, number];
      const wv = w!.dataSync();
      layers.push({
        type: 'dense',
        weights: Array.from({ length: rows }, (_, i) => Array.from(wv.subarray(i * cols, (i + 1) * cols))),
        bias: Array.from(b!.dataSync()),
      });
      const act = config['activation'] as Act;
      if (act !== 'linear') layers.push({ type: act });
    } else if (cls === 'Dropout' || cls === 'GaussianDropout') {
      layers.push({ type: 'dropout', name: layer.name, rate: config['rate'] as number, kind: cls === 'Dropout' ? 'bernoulli' : 'gaussian' });
    } else if (cls !== 'InputLayer') {
      throw new Error(`mlpOf: ${cls}`);
    }
  }
  const inputSize = (model.inputs[0]!.shape as number[])[1]!;
  return { input, output: model.layers.at(-1)!.name, inputSize, layers };
}

function feeds(name: string, rows: number, width: number): NamedTensors {
  const data = new Float32Array(rows * width);
  for (let i = 0; i < data.length; i++) data[i] = Math.cos(i * 0.61) * 1.3;
  return { [name]: { dtype: 'float32', data, dims: [rows, width] } };
}

function sequentialFixture(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.dense({ units: 12, inputShape: [4], activation: 'relu', name: 'hidden1' }));
  m.add(tf.layers.dropout({ rate: 0.25, name: 'drop1' }));
  m.add(tf.layers.dense({ units: 8, activation: 'tanh', name: 'hidden2' }));
  m.add(tf.layers.gaussianDropout({ rate: 0.4, name: 'gauss2' }));
  m.add(tf.layers.dense({ units: 3, name: 'out' }));
  return m;
}

const backends = ['cpu', 'wasm'] as const;

describe('Keras → tfjs layers model.json', () => {
  for (const ep of backends) {
    it(`Sequential round trip matches the reference MLP with the same weights (${ep})`, async () => {
      const keras = sequentialFixture();
      const dir = tempDir();
      const path = await saveLayersModel(keras, dir, 2);
      const spec = mlpOf(keras, 'hidden1_input');
      const rows = 6;
      const x = feeds('hidden1_input', rows, 4);
      const predicted = tf.tidy(() => (keras.predict(tf.tensor2d(x['hidden1_input']!.data as Float32Array, [rows, 4])) as tf.Tensor).dataSync());
      keras.dispose();

      const backend = new TfjsBackend({ backend: ep });
      await backend.init();
      const model = await backend.load({ kind: 'path', path });
      const reference = await new ReferenceBackend().load({ kind: 'object', value: spec });
      expect(model.executionProvider).toBe(ep);
      expect(model.inputs).toEqual([{ name: 'hidden1_input', dtype: 'float32', dims: ['N', 4] }]);
      expect(model.outputs).toEqual([{ name: 'out', dtype: 'float32', dims: ['N', 3] }]);
      expect(model.sites.map((s) => [s.name, s.kind, s.rate, [...s.maskShape]])).toEqual([
        ['drop1', 'bernoulli', 0.25, [12]],
        ['gauss2', 'gaussian', 0.4, [8]],
      ]);
      expect(model.sites[0]!.scaling).toBe('inverted');
      expect(model.warnings).toEqual([]);

      for (const scope of ['sample', 'point'] as const) {
        const s = 5;
        const masks = masksFor(model, s, rows, scope);
        const got = (await model.run(x, masks, { samples: s, scope }))['out']!;
        const want = (await reference.run(x, masks, { samples: s, scope }))['out']!;
        expect(got.dtype).toBe('float32');
        expect(got.dims).toEqual([s * rows, 3]);
        expect(maxDiff(got.data as Float32Array, want.data as Float32Array)).toBeLessThan(1e-5);
      }
      // The deterministic pass equals keras.predict (which never applies dropout).
      const det = (await new McEngine(createSeededSampler, {}).deterministic(model, x))['out']!;
      expect(maxDiff(det.data as Float32Array, predicted)).toBeLessThan(1e-5);
      await model.dispose();
      await model.dispose();
    });
  }

  it('Functional chain (InputLayer → Dense → Dropout → Dense), loaded from its folder', async () => {
    const input = tf.input({ shape: [3], name: 'features' });
    const h = tf.layers.dense({ units: 10, activation: 'sigmoid', name: 'fc1' }).apply(input) as tf.SymbolicTensor;
    const d = tf.layers.dropout({ rate: 0.5, name: 'mc' }).apply(h) as tf.SymbolicTensor;
    const y = tf.layers.dense({ units: 2, name: 'head' }).apply(d) as tf.SymbolicTensor;
    const keras = tf.model({ inputs: input, outputs: y });
    const dir = tempDir();
    await saveLayersModel(keras, dir);
    const spec = mlpOf(keras, 'features');
    keras.dispose();

    const model = await new TfjsBackend({ backend: 'cpu' }).load({ kind: 'path', path: dir });
    const reference = await new ReferenceBackend().load({ kind: 'object', value: spec });
    expect(model.inputs.map((i) => i.name)).toEqual(['features']);
    expect(model.sites.map((s) => s.name)).toEqual(['mc']);
    const x = feeds('features', 4, 3);
    const masks = masksFor(model, 3, 4, 'sample');
    const got = (await model.run(x, masks, { samples: 3, scope: 'sample' }))['head']!;
    const want = (await reference.run(x, masks, { samples: 3, scope: 'sample' }))['head']!;
    expect(maxDiff(got.data as Float32Array, want.data as Float32Array)).toBeLessThan(1e-5);
    await model.dispose();
  });

  it('model.json bytes with baseDir load the same model', async () => {
    const keras = sequentialFixture();
    const dir = tempDir();
    const path = await saveLayersModel(keras, dir);
    keras.dispose();
    const backend = new TfjsBackend({ backend: 'cpu' });
    const a = await backend.load({ kind: 'path', path });
    const b = await backend.load({ kind: 'bytes', bytes: readFileSync(path), baseDir: dir });
    const x = feeds(a.inputs[0]!.name, 3, 4);
    const masks = masksFor(a, 2, 3, 'sample');
    const ya = (await a.run(x, masks, { samples: 2, scope: 'sample' }))['out']!;
    const yb = (await b.run(x, masks, { samples: 2, scope: 'sample' }))['out']!;
    expect(maxDiff(ya.data as Float32Array, yb.data as Float32Array)).toBe(0);
    await a.dispose();
    await b.dispose();
  });

  it('multi-dim rows: Dropout with noise_shape before Flatten', async () => {
    const m = tf.sequential();
    m.add(tf.layers.dropout({ rate: 0.3, noiseShape: [null as unknown as number, 1, 3], inputShape: [2, 3], name: 'chan' }));
    m.add(tf.layers.flatten({ name: 'flat' }));
    m.add(tf.layers.dense({ units: 2, name: 'y' }));
    const dir = tempDir();
    const path = await saveLayersModel(m, dir);
    const [w, b] = m.layers[2]!.getWeights();
    const wv = w!.dataSync();
    const spec: MlpSpec = {
      input: 'x',
      output: 'y',
      inputSize: 6,
      layers: [
        { type: 'dropout', name: 'chan', rate: 0.3 },
        { type: 'dense', weights: Array.from({ length: 6 }, (_, i) => [wv[i * 2]!, wv[i * 2 + 1]!]), bias: Array.from(b!.dataSync()) },
      ],
    };
    m.dispose();
    const model = await new TfjsBackend({ backend: 'wasm' }).load({ kind: 'path', path });
    expect(model.inputs[0]!.dims).toEqual(['N', 2, 3]);
    expect(model.sites.map((s) => [...s.maskShape])).toEqual([[1, 3]]);
    const rows = 3;
    const s = 4;
    const masks = masksFor(model, s, rows, 'point');
    const mk = masks['chan']!.data as Float32Array;
    // The reference sees 6 units: the [1, 3] mask repeated over the 2 rows of each input.
    const refMask = new Float32Array(s * rows * 6);
    for (let r = 0; r < s * rows; r++) for (let a = 0; a < 2; a++) for (let c = 0; c < 3; c++) refMask[r * 6 + a * 3 + c] = mk[r * 3 + c]!;
    const x = feeds('x', rows, 6);
    const x3: NamedTensors = { [model.inputs[0]!.name]: { ...x['x']!, dims: [rows, 2, 3] } };
    const got = (await model.run(x3, masks, { samples: s, scope: 'point' }))['y']!;
    const reference = await new ReferenceBackend().load({ kind: 'object', value: spec });
    const want = (await reference.run(x, { chan: { dtype: 'float32', data: refMask, dims: [s, rows, 6] } }, { samples: s, scope: 'point' }))['y']!;
    expect(got.dims).toEqual([s * rows, 2]);
    expect(maxDiff(got.data as Float32Array, want.data as Float32Array)).toBeLessThan(1e-5);
    await model.dispose();
  });

  it('Dense on rank-3 rows acts on the last axis (like Keras), deterministic pass = predict', async () => {
    const m = tf.sequential();
    m.add(tf.layers.dense({ units: 4, inputShape: [2, 3], activation: 'elu', name: 'd1' }));
    m.add(tf.layers.dropout({ rate: 0.2, name: 'p' }));
    m.add(tf.layers.flatten({ name: 'f' }));
    m.add(tf.layers.dense({ units: 2, activation: 'softmax', name: 'd2' }));
    const path = await saveLayersModel(m, tempDir());
    const data = Float32Array.from({ length: 5 * 6 }, (_, i) => Math.sin(i));
    const predicted = tf.tidy(() => (m.predict(tf.tensor3d(data, [5, 2, 3])) as tf.Tensor).dataSync());
    m.dispose();
    const model = await new TfjsBackend({ backend: 'wasm' }).load({ kind: 'path', path });
    expect(model.sites.map((s) => [...s.maskShape])).toEqual([[2, 4]]);
    const det = (await new McEngine(createSeededSampler, {}).deterministic(model, { d1_input: { dtype: 'float32', data, dims: [5, 2, 3] } }))['d2']!;
    expect(det.dims).toEqual([5, 2]);
    expect(maxDiff(det.data as Float32Array, predicted)).toBeLessThan(1e-5);
    await model.dispose();
  });

  it('unsupported layer classes are E_UNSUPPORTED naming the class and the layer', async () => {
    const m = tf.sequential();
    m.add(tf.layers.dense({ units: 4, inputShape: [3], name: 'd1' }));
    m.add(tf.layers.masking({ name: 'ln1' }));
    m.add(tf.layers.dense({ units: 1, name: 'd2' }));
    const dir = tempDir();
    const path = await saveLayersModel(m, dir);
    m.dispose();
    await expectCode(new TfjsBackend({ backend: 'cpu' }).load({ kind: 'path', path }), 'E_UNSUPPORTED', /Masking.*ln1|ln1.*Masking/);
  });

  it('refuses weight shard paths that escape the model folder', async () => {
    const keras = sequentialFixture();
    const root = tempDir();
    const dir = join(root, 'model');
    mkdirSync(dir);
    const path = await saveLayersModel(keras, dir);
    keras.dispose();
    const json = JSON.parse(readFileSync(path, 'utf8'));
    writeFileSync(join(root, 'evil.bin'), readFileSync(join(dir, 'weights.bin')));
    for (const bad of ['../evil.bin', join(root, 'evil.bin'), 'https://example.com/w.bin']) {
      json.weightsManifest[0].paths = [bad];
      writeFileSync(path, JSON.stringify(json));
      await expectCode(new TfjsBackend({ backend: 'cpu' }).load({ kind: 'path', path }), 'E_MODEL', /shard/);
    }
  });

  it('graph models, missing files and bad JSON fail with clear codes', async () => {
    const dir = tempDir();
    const backend = new TfjsBackend({ backend: 'cpu' });
    writeFileSync(join(dir, 'graph.json'), JSON.stringify({ format: 'graph-model', modelTopology: {} }));
    await expectCode(backend.load({ kind: 'path', path: join(dir, 'graph.json') }), 'E_UNSUPPORTED', /graph model/);
    await expectCode(backend.load({ kind: 'path', path: join(dir, 'nope.json') }), 'E_FILE');
    writeFileSync(join(dir, 'bad.json'), '{');
    await expectCode(backend.load({ kind: 'path', path: join(dir, 'bad.json') }), 'E_MODEL', /JSON/);
    writeFileSync(join(dir, 'm.h5'), 'x');
    await expectCode(backend.load({ kind: 'path', path: join(dir, 'm.h5') }), 'E_UNSUPPORTED', /tensorflowjs_converter/);
  });
});

describe('tfjs backend: sites, memory, options', () => {
  it('GaussianDropout sites (MlpSpec kind gaussian) match the reference', async () => {
    const spec: MlpSpec = {
      input: 'x',
      output: 'y',
      inputSize: 3,
      layers: [
        {
          type: 'dense',
          weights: [
            [0.5, -1, 0.25, 2],
            [1, 0.5, -0.5, 0],
            [-0.25, 1.5, 1, -1],
          ],
          bias: [0.1, 0, -0.2, 0.3],
        },
        { type: 'tanh' },
        { type: 'dropout', name: 'g', rate: 0.3, kind: 'gaussian' },
        { type: 'dense', weights: [[1], [-1], [0.5], [2]], bias: [0.05] },
      ],
    };
    const model = await new TfjsBackend({ backend: 'cpu' }).load({ kind: 'object', value: spec });
    const reference = await new ReferenceBackend().load({ kind: 'object', value: spec });
    expect(model.sites).toHaveLength(1);
    expect(model.sites[0]).toMatchObject({ name: 'g', kind: 'gaussian', rate: 0.3, maskShape: [4] });
    const masks = masksFor(model, 7, 4, 'sample');
    // Gaussian masks are continuous, not {0, 1/(1−p)}.
    expect(new Set(masks['g']!.data as Float32Array).size).toBeGreaterThan(2);
    const x = feeds('x', 4, 3);
    const got = (await model.run(x, masks, { samples: 7, scope: 'sample' }))['y']!;
    const want = (await reference.run(x, masks, { samples: 7, scope: 'sample' }))['y']!;
    expect(maxDiff(got.data as Float32Array, want.data as Float32Array)).toBeLessThan(1e-5);
    await model.dispose();
  });

  it('a model without sites tiles its output S times', async () => {
    const spec: MlpSpec = { input: 'x', output: 'y', inputSize: 2, layers: [{ type: 'dense', weights: [[1], [2]], bias: [0.5] }] };
    const model = await new TfjsBackend({ backend: 'cpu' }).load({ kind: 'object', value: spec });
    const x: NamedTensors = { x: { dtype: 'float32', data: Float32Array.from([1, 1, 2, 0]), dims: [2, 2] } };
    const y = (await model.run(x, {}, { samples: 3, scope: 'sample' }))['y']!;
    expect(y.dims).toEqual([6, 1]);
    expect([...y.data]).toEqual([3.5, 2.5, 3.5, 2.5, 3.5, 2.5]);
    await model.dispose();
  });

  for (const ep of backends) {
    it(`no tensors leak across runs; dispose frees the weights (${ep})`, async () => {
      const keras = sequentialFixture();
      const path = await saveLayersModel(keras, tempDir());
      keras.dispose();
      const start = tf.memory().numTensors;
      const model = await new TfjsBackend({ backend: ep }).load({ kind: 'path', path });
      const loaded = tf.memory().numTensors;
      expect(loaded - start).toBe(6); // 3 kernels + 3 biases
      const x = feeds(model.inputs[0]!.name, 5, 4);
      for (let k = 0; k < 5; k++) {
        for (const scope of ['sample', 'point'] as const) {
          await model.run(x, masksFor(model, 4, 5, scope, k), { samples: 4, scope });
        }
      }
      expect(tf.getBackend()).toBe(ep); // it really ran on the requested backend
      await expect(model.run(x, {}, { samples: 4, scope: 'sample' })).rejects.toMatchObject({ code: 'E_MASK' });
      expect(tf.memory().numTensors).toBe(loaded);
      await model.dispose();
      expect(tf.memory().numTensors).toBe(start);
      await expect(model.dispose()).resolves.toBeUndefined();
      await expect(model.run(x, masksFor(model, 1, 5, 'sample'), { samples: 1, scope: 'sample' })).rejects.toMatchObject({ code: 'E_RUNTIME' });
    });
  }

  it('validates inputs and masks', async () => {
    const spec: MlpSpec = {
      input: 'x',
      output: 'y',
      inputSize: 2,
      layers: [
        { type: 'dropout', name: 'm', rate: 0.5 },
        { type: 'dense', weights: [[1], [2]], bias: [0] },
      ],
    };
    const model = await new TfjsBackend({ backend: 'cpu' }).load({ kind: 'object', value: spec });
    const x = feeds('x', 3, 2);
    const ones = (dims: number[]): TensorData => ({ dtype: 'float32', data: new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(1), dims });
    await expectCode(model.run({}, { m: ones([2, 1, 2]) }, { samples: 2, scope: 'sample' }), 'E_INPUT', /'x'/);
    await expectCode(model.run(feeds('x', 3, 3), { m: ones([2, 1, 2]) }, { samples: 2, scope: 'sample' }), 'E_INPUT', /\[N, 2\]/);
    await expectCode(model.run(x, { m: ones([2, 3, 2]) }, { samples: 2, scope: 'sample' }), 'E_MASK', /\[2, 1, 2\]/);
    await expectCode(model.run(x, { m: ones([2, 1, 2]) }, { samples: 2, scope: 'point' }), 'E_MASK', /\[2, 3, 2\]/);
    const ac = new AbortController();
    ac.abort();
    await expectCode(model.run(x, { m: ones([2, 1, 2]) }, { samples: 2, scope: 'sample', signal: ac.signal }), 'E_ABORTED');
    // float64 feeds are accepted (computed in float32).
    const x64: NamedTensors = { x: { dtype: 'float64', data: Float64Array.from([1, 2, 3, 4, 5, 6]), dims: [3, 2] } };
    const y = (await model.run(x64, { m: ones([1, 1, 2]) }, { samples: 1, scope: 'sample' }))['y']!;
    expect([...y.data]).toEqual([5, 11, 17]);
    await model.dispose();
  });

  it('option validation: unknown keys and values are E_CONFIG naming them', async () => {
    await expectCode(() => new TfjsBackend({ bogus: 1 } as never), 'E_CONFIG', /'bogus'/);
    await expectCode(() => new TfjsBackend({ backend: 'webgl' } as never), 'E_CONFIG', /'backend'.*webgl/);
    await expectCode(() => new TfjsBackend({ executionProviders: ['cpu', 'cuda'] } as never), 'E_CONFIG', /cuda/);
    await expectCode(() => new TfjsBackend({ executionProviders: [] } as never), 'E_CONFIG', /executionProviders/);
    await expectCode(() => new TfjsBackend({ backend: 'cpu', executionProviders: ['cpu'] }), 'E_CONFIG', /both/);
    const backend = new TfjsBackend({ backend: 'cpu' });
    const spec: MlpSpec = { input: 'x', output: 'y', inputSize: 1, layers: [] };
    await expectCode(backend.load({ kind: 'object', value: spec }, { threads: 4 }), 'E_CONFIG', /'threads'/);
    await expectCode(backend.load({ kind: 'object', value: { hello: 1 } }), 'E_UNSUPPORTED');
  });

  it("'tensorflow' without tfjs-node is E_PROVIDER with the fix; a list falls back", async () => {
    let installed = true;
    try {
      await import('@tensorflow/tfjs-node' as string);
    } catch {
      installed = false;
    }
    if (installed) return; // nothing to check where tfjs-node exists
    await expectCode(new TfjsBackend({ backend: 'tensorflow' }).init(), 'E_PROVIDER', /tfjs-node is not installed.*--ep wasm or cpu/);
    const spec: MlpSpec = { input: 'x', output: 'y', inputSize: 1, layers: [] };
    await expectCode(new TfjsBackend({ backend: 'cpu' }).load({ kind: 'object', value: spec }, { backend: 'tensorflow' }), 'E_PROVIDER', /tensorflow/);
    const fallback = new TfjsBackend({ executionProviders: ['tensorflow', 'wasm'] });
    await fallback.init();
    expect(fallback.executionProvider).toBe('wasm');
    // Per-load choice overrides the backend's default.
    const m = await fallback.load({ kind: 'object', value: spec }, { backend: 'cpu' });
    expect(m.executionProvider).toBe('cpu');
    await m.dispose();
  });

  it('default choice: wasm here (tfjs-node absent), reported by describe()', async () => {
    const backend = new TfjsBackend();
    await backend.init();
    const info = await backend.describe();
    const byName = Object.fromEntries(info.executionProviders.map((p) => [p.name, p]));
    expect(info.available).toBe(true);
    expect(byName['cpu']!.available).toBe(true);
    expect(byName['wasm']!.available).toBe(true);
    expect(backend.executionProvider).toBe(byName['tensorflow']!.available ? 'tensorflow' : 'wasm');
    if (!byName['tensorflow']!.available) expect(byName['tensorflow']!.reason).toMatch(/tfjs-node/);
  });
});
