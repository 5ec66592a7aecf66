// The TensorFlow.js recurrent ground truth (test/fixtures/tfjs/rnn/, written by
// scripts/tfjs/make_tfjs_fixtures.py) and the example twin (examples/twin/): the loader works,
// the files are the layers-model format with the weight names, shapes and order tfjs writes,
// every shape agrees, the masks decode to 0 / float32(1/(1−p)), and, where tfjs-layers can run a
// model, tfjs-layers itself reproduces PyTorch's answers with the recorded masks. What
// @mcu/backend-tfjs does with these files is tested elsewhere.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TFJS_RNN_FIXTURES, TFJS_RNN_FIXTURES_DIR, tfjsRnnFixture, type TfjsRnnFixture } from '../packages/fixtures/src/index.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const prod = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);

// biome-ignore lint/suspicious/noExplicitAny: fixture JSON read as written by the Python script
type Json = Record<string, any>;
interface TfTensor {
  shape: number[];
  dataSync(): Float32Array;
  clone(): TfTensor;
}
function modelJson(fx: TfjsRnnFixture): Json {
  return JSON.parse(fs.readFileSync(fx.modelJsonPath, 'utf8')) as Json;
}
function layersOf(mj: Json): Json[] {
  const topo = mj['modelTopology'];
  return (topo['model_config'] ?? topo)['config']['layers'] as Json[];
}

/** kernel / recurrent_kernel / bias shapes as tfjs-layers and Keras build them */
function expectedShapes(cls: string, F: number, U: number, resetAfter: boolean | null): Record<string, number[]> {
  const g = cls === 'LSTM' ? 4 : cls === 'GRU' ? 3 : 1;
  return { kernel: [F, g * U], recurrent_kernel: [U, g * U], bias: cls === 'GRU' && resetAfter ? [2, g * U] : [g * U] };
}

describe('tfjs RNN fixtures', () => {
  it('lists every stored folder, and each has exactly model.json, weights.bin, ref.json', () => {
    expect([...fs.readdirSync(TFJS_RNN_FIXTURES_DIR)].sort()).toEqual([...TFJS_RNN_FIXTURES].sort());
    for (const name of TFJS_RNN_FIXTURES) {
      expect(fs.readdirSync(path.join(TFJS_RNN_FIXTURES_DIR, name)).sort()).toEqual(['model.json', 'ref.json', 'weights.bin']);
    }
  });

  it.each(TFJS_RNN_FIXTURES)('%s: layers-model format, weight names / shapes / order as tfjs writes them', (name) => {
    const fx = tfjsRnnFixture(name);
    const mj = modelJson(fx);
    expect(mj['format']).toBe('layers-model');
    const topo = mj['modelTopology'];
    const model = topo['model_config'] ?? topo;
    expect(['Sequential', 'Model']).toContain(model['class_name']);
    expect(typeof topo['keras_version']).toBe('string');
    expect(typeof topo['backend']).toBe('string');
    const manifest = mj['weightsManifest'] as Json[];
    expect(manifest).toHaveLength(1);
    expect(manifest[0]!['paths']).toEqual(['weights.bin']);
    const specs = manifest[0]!['weights'] as { name: string; shape: number[]; dtype: string }[];
    expect(specs.map((s) => s.name)).toEqual(fx.ref.weights_order);
    expect(specs.every((s) => s.dtype === 'float32')).toBe(true);
    const bytes = specs.reduce((a, s) => a + 4 * prod(s.shape), 0);
    expect(fs.statSync(path.join(fx.dir, 'weights.bin')).size).toBe(bytes);

    for (const L of fx.ref.layers) {
      const raw = layersOf(mj).find((l) => l['config']['name'] === L.name)!;
      expect(raw['class_name']).toBe(L.class_name);
      const cfg = raw['config'];
      expect(cfg['units']).toBe(L.units);
      expect(Boolean(cfg['go_backwards'])).toBe(L.go_backwards);
      expect(Boolean(cfg['return_sequences'])).toBe(L.return_sequences);
      if (L.class_name === 'GRU') expect(Boolean(cfg['reset_after'])).toBe(L.reset_after);
      const want = expectedShapes(L.class_name, L.input_features, L.units, L.reset_after);
      for (const [w, full] of Object.entries(L.weights)) {
        // tfjs model.save: 'lstm/kernel'; tensorflowjs_converter (TF >= 2.2): 'gru/gru_cell/kernel'
        expect(full === `${L.name}/${w}` || full === `${L.name}/${L.class_name.toLowerCase()}_cell/${w}`).toBe(true);
        expect(specs.find((s) => s.name === full)!.shape).toEqual(want[w]);
      }
      // the recurrent weights come first, in kernel, recurrent_kernel, bias order
      expect(Object.values(L.weights)).toEqual(fx.ref.weights_order.slice(0, 3));
      // dropout rates in the config = the recorded sites
      const [sIn, sRec] = fx.ref.sites.filter((s) => s.layer === L.name);
      expect(Math.fround(cfg['dropout'])).toBe(sIn!.p);
      expect(Math.fround(cfg['recurrent_dropout'])).toBe(sRec!.p);
    }
  });

  it.each(TFJS_RNN_FIXTURES)('%s: shapes agree, masks are 0 / float32(1/(1−p)), fixed per sequence', (name) => {
    const { ref } = tfjsRnnFixture(name);
    const N = 4;
    const L = ref.layers[0]!;
    expect(ref.layers).toHaveLength(1);
    expect(ref.input.dims).toEqual([N, L.timesteps, L.input_features]);
    expect(ref.input.data.length).toBe(prod(ref.input.dims));
    // one input-dropout site and one recurrent-dropout site per recurrent layer, in that order
    expect(ref.sites.map((s) => [s.name, s.layer, s.kind, s.perRow])).toEqual([
      [`${L.name}/dropout`, L.name, 'input', L.input_features],
      [`${L.name}/recurrent_dropout`, L.name, 'recurrent', L.units],
    ]);
    expect(ref.recorded).toEqual([ref.output, L.name]);
    const outDims = (layer: string, dims: number[]) => {
      if (layer === L.name) expect(dims).toEqual(L.return_sequences ? [N, L.timesteps, L.units] : [N, L.units]);
      else expect(dims.slice(0, L.return_sequences ? 2 : 1)).toEqual(L.return_sequences ? [N, L.timesteps] : [N]);
    };
    for (const k of ref.recorded) {
      outDims(k, ref.standard.outputs[k]!.dims);
      expect(ref.standard.outputs[k]!.data.every(Number.isFinite)).toBe(true);
    }
    expect(ref.exact).toHaveLength(2);
    let zeros = 0;
    for (const e of ref.exact) {
      expect(e.masks.map((m) => m.site)).toEqual(ref.sites.map((s) => s.name));
      e.masks.forEach((m, k) => {
        const s = ref.sites[k]!;
        expect(m.shape).toEqual([N, s.perRow]);
        expect(m.p).toBe(s.p);
        expect(m.scale).toBe(Math.fround(1 / (1 - s.p)));
        expect(m.scale).toBe(s.scale);
        for (const v of m.data) expect(v === 0 || v === m.scale).toBe(true);
        zeros += m.data.filter((v) => v === 0).length;
        expect(m.data.some((v) => v !== 0)).toBe(true);
      });
      for (const k of ref.recorded) {
        expect(e.outputs[k]!.dims).toEqual(ref.standard.outputs[k]!.dims);
        expect(e.outputs[k]!.data.every(Number.isFinite)).toBe(true);
      }
      // the masks matter
      const d = e.outputs[ref.output]!.data.reduce((a, v, i) => Math.max(a, Math.abs(v - ref.standard.outputs[ref.output]!.data[i]!)), 0);
      expect(d).toBeGreaterThan(1e-3);
    }
    expect(zeros).toBeGreaterThan(0);
  });

  it('returns a fresh object on every call, and refuses unknown names', () => {
    const a = tfjsRnnFixture('lstm');
    a.ref.input.data[0] = 1234;
    expect(tfjsRnnFixture('lstm').ref.input.data[0]).not.toBe(1234);
    expect(() => tfjsRnnFixture('nope' as never)).toThrow(/no tfjs RNN fixture/);
  });

  // tfjs-layers itself, where it can build the model (not GRU reset_after: true), with the
  // recorded masks handed to its cells' dropoutFunc: the answers are PyTorch's, so this checks
  // the mask semantics against tfjs-layers' recurrent.js, not mcu.
  it.each(TFJS_RNN_FIXTURES.filter((n) => n !== 'gru_reset_after'))('%s: tfjs-layers reproduces the answers', async (name) => {
    const require = createRequire(path.join(REPO, 'packages', 'backend-tfjs', 'package.json'));
    // @tensorflow/tfjs is a dependency of packages/backend-tfjs only (pnpm does not hoist it)
    const tf = require('@tensorflow/tfjs') as Json;
    await tf.setBackend('cpu');
    const fx = tfjsRnnFixture(name);
    const mj = modelJson(fx);
    const wb = fs.readFileSync(path.join(fx.dir, 'weights.bin'));
    const model: Json = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: mj['modelTopology'],
        weightSpecs: mj['weightsManifest'][0]['weights'],
        weightData: wb.buffer.slice(wb.byteOffset, wb.byteOffset + wb.length),
      }),
    );
    const x = tf.tensor(fx.ref.input.data, fx.ref.input.dims);
    const diff = (a: ArrayLike<number>, b: Float32Array) => {
      expect(a.length).toBe(b.length);
      let d = 0;
      for (let i = 0; i < b.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
      return d;
    };
    const y = (model.predict(x) as TfTensor).dataSync();
    expect(diff(y, fx.ref.standard.outputs[fx.ref.output]!.data)).toBeLessThan(1e-5);
    for (const e of fx.ref.exact) {
      const L = fx.ref.layers[0]!;
      const [mIn, mRec] = e.masks.map((m) => tf.tensor(m.data, m.shape) as TfTensor);
      const cell = model.getLayer(L.name).cell as { dropoutFunc?: unknown };
      // called once per gate mask tfjs makes (only the first is used): [N, F] input, [N, U] state
      cell.dropoutFunc = (ones: TfTensor) => (ones.shape[1] === L.input_features ? mIn! : mRec!).clone();
      const ym = (model.apply(x, { training: true }) as TfTensor).dataSync();
      expect(diff(ym, e.outputs[fx.ref.output]!.data)).toBeLessThan(1e-5);
    }
    model.dispose();
  });

  it('stays small', () => {
    let total = 0;
    for (const name of TFJS_RNN_FIXTURES) {
      for (const f of fs.readdirSync(path.join(TFJS_RNN_FIXTURES_DIR, name))) total += fs.statSync(path.join(TFJS_RNN_FIXTURES_DIR, name, f)).size;
    }
    expect(total).toBeLessThan(300 * 1024);
  });
});

describe('examples/twin', () => {
  const dir = path.join(REPO, 'examples', 'twin');
  it('ships model.json + weights.bin and model.onnx with the same weights, input.csv, README', () => {
    const files = fs.readdirSync(dir).sort();
    expect(files).toEqual(['README.md', 'input.csv', 'model.json', 'model.onnx', 'weights.bin']);
    expect(files.reduce((a, f) => a + fs.statSync(path.join(dir, f)).size, 0)).toBeLessThan(200 * 1024);
    const mj = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as Json;
    expect(mj['format']).toBe('layers-model');
    const layers = layersOf(mj);
    expect(layers.map((l) => l['class_name'])).toEqual(['Dense', 'Dropout', 'Dense', 'Dropout', 'Dense']);
    expect(layers.filter((l) => l['class_name'] === 'Dropout').map((l) => l['config']['rate'])).toEqual([0.1, 0.1]);
    const specs = mj['weightsManifest'][0]['weights'] as { name: string; shape: number[] }[];
    const wb = fs.readFileSync(path.join(dir, 'weights.bin'));
    const onnx = fs.readFileSync(path.join(dir, 'model.onnx'));
    let off = 0;
    for (const s of specs) {
      const n = prod(s.shape);
      const v = new Float32Array(wb.buffer.slice(wb.byteOffset + off, wb.byteOffset + off + 4 * n));
      off += 4 * n;
      // Keras kernel [in, out] = the ONNX Gemm weight [out, in] transposed (raw_data bytes)
      let t = v;
      if (s.shape.length === 2) {
        const [r, c] = s.shape as [number, number];
        t = new Float32Array(n);
        for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = v[i * c + j]!;
      }
      expect(onnx.includes(Buffer.from(t.buffer)), s.name).toBe(true);
    }
    expect(off).toBe(wb.length);
    expect(onnx.includes(Buffer.from('Dropout'))).toBe(true);
    const csv = fs.readFileSync(path.join(dir, 'input.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('x0,x1,x2,x3');
    expect(csv.length).toBeGreaterThan(1);
    for (const line of csv.slice(1)) expect(line.split(',').map(Number).every(Number.isFinite)).toBe(true);
  });
});
