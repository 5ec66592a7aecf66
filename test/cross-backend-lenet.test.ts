// Cross-backend: PyTorch's LeNet (test/fixtures, pytorch-1.13/lenet.preserve.onnx) on
// onnxruntime, and the same weights rewritten as a Keras / TensorFlow.js layers model
// (Conv2D → MaxPooling2D → Conv2D → MaxPooling2D → Flatten → Dense → Dropout → Dense,
// channels_last) on the tfjs backend. Same seed, same masks: every MC sample's logits agree.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMcu, createSeededSampler, type StochasticModel, type TensorData } from '@mcu/core';
import { decodeModel, onnxModule } from '@mcu/backend-onnx';
import { tfjsModule } from '@mcu/backend-tfjs';
import { fixtureBytes, fixturePath, lenetRef } from './helpers/fixtures.js';

const LENET = 'pytorch-1.13/lenet.preserve.onnx';

/** ONNX initializers as float32 arrays with dims. */
function initializers(bytes: Uint8Array): Map<string, { dims: number[]; data: Float32Array }> {
  const model = decodeModel(bytes, LENET);
  const out = new Map<string, { dims: number[]; data: Float32Array }>();
  for (const t of model.graph!.initializer ?? []) {
    const raw = t.raw_data!;
    const data = new Float32Array(raw.slice().buffer);
    out.set(t.name!, { dims: (t.dims ?? []).map(Number), data });
  }
  return out;
}

/** OIHW → HWIO (Keras' Conv2D kernel layout). */
function hwio(w: { dims: number[]; data: Float32Array }): Float32Array {
  const [o, i, h, k] = w.dims as [number, number, number, number];
  const out = new Float32Array(w.data.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++)
      for (let y = 0; y < h; y++) for (let x = 0; x < k; x++) out[((y * k + x) * i + b) * o + a] = w.data[((a * i + b) * h + y) * k + x]!;
  return out;
}

/**
 * Gemm weight [out, in] → Keras Dense kernel [in, out]. After a channels_last Flatten the input
 * index is (y·W + x)·C + c where PyTorch's CHW flatten has c·H·W + y·W + x: `chw` gives [C, H, W].
 */
function denseKernel(w: { dims: number[]; data: Float32Array }, chw?: [number, number, number]): Float32Array {
  const [o, n] = w.dims as [number, number];
  const out = new Float32Array(o * n);
  for (let j = 0; j < n; j++) {
    let src = j;
    if (chw) {
      const [C, H, W] = chw;
      const c = j % C;
      const x = Math.floor(j / C) % W;
      const y = Math.floor(j / (C * W));
      src = c * H * W + y * W + x;
    }
    for (let a = 0; a < o; a++) out[j * o + a] = w.data[a * n + src]!;
  }
  return out;
}

function writeKerasLenet(dir: string): string {
  const w = initializers(fixtureBytes(LENET));
  const weights: { name: string; shape: number[]; data: Float32Array }[] = [
    { name: 'conv1/kernel', shape: [5, 5, 1, 20], data: hwio(w.get('c1.weight')!) },
    { name: 'conv1/bias', shape: [20], data: w.get('c1.bias')!.data },
    { name: 'conv2/kernel', shape: [5, 5, 20, 50], data: hwio(w.get('c2.weight')!) },
    { name: 'conv2/bias', shape: [50], data: w.get('c2.bias')!.data },
    { name: 'fc1/kernel', shape: [800, 500], data: denseKernel(w.get('f1.weight')!, [50, 4, 4]) },
    { name: 'fc1/bias', shape: [500], data: w.get('f1.bias')!.data },
    { name: 'fc2/kernel', shape: [500, 10], data: denseKernel(w.get('f2.weight')!) },
    { name: 'fc2/bias', shape: [10], data: w.get('f2.bias')!.data },
  ];
  const layer = (class_name: string, name: string, config: object) => ({ class_name, config: { name, ...config } });
  const topology = {
    class_name: 'Sequential',
    keras_version: '2.15.0',
    config: {
      name: 'lenet',
      layers: [
        layer('InputLayer', 'image', { batch_input_shape: [null, 28, 28, 1], dtype: 'float32' }),
        layer('Conv2D', 'conv1', { filters: 20, kernel_size: [5, 5], strides: [1, 1], padding: 'valid', data_format: 'channels_last', dilation_rate: [1, 1], activation: 'linear', use_bias: true }),
        layer('MaxPooling2D', 'pool1', { pool_size: [2, 2], strides: [2, 2], padding: 'valid', data_format: 'channels_last' }),
        layer('Conv2D', 'conv2', { filters: 50, kernel_size: 5, padding: 'valid', activation: 'linear' }),
        layer('MaxPooling2D', 'pool2', { pool_size: 2, strides: null }),
        layer('Flatten', 'flatten', {}),
        layer('Dense', 'fc1', { units: 500, activation: 'relu' }),
        layer('Dropout', 'dropout', { rate: 0.5 }),
        layer('Dense', 'fc2', { units: 10, activation: 'linear' }),
      ],
    },
  };
  const bin = Buffer.concat(weights.map((x) => Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength)));
  fs.writeFileSync(path.join(dir, 'weights.bin'), bin);
  const manifest = [{ paths: ['weights.bin'], weights: weights.map(({ name, shape }) => ({ name, shape, dtype: 'float32' })) }];
  const file = path.join(dir, 'model.json');
  fs.writeFileSync(file, JSON.stringify({ format: 'layers-model', modelTopology: topology, weightsManifest: manifest }));
  return file;
}

describe('LeNet: onnxruntime (PyTorch export) vs tfjs (the same weights as a Keras conv net)', () => {
  let dir: string;
  let onnx: StochasticModel;
  let tfjs: StochasticModel;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-lenet-keras-'));
    onnx = await createMcu({ backends: ['onnx'], modules: [onnxModule] }).load({ kind: 'path', path: fixturePath(LENET) });
    tfjs = await createMcu({ backends: ['tfjs'], modules: [tfjsModule] }).load({ kind: 'path', path: writeKerasLenet(dir) });
  }, 120_000);
  afterAll(async () => {
    await onnx?.dispose();
    await tfjs?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('has the same single site (Bernoulli p = 0.5 on the 500 fc1 units)', () => {
    for (const m of [onnx, tfjs]) {
      expect(m.sites.map((s) => [s.kind, s.rate, s.maskShape])).toEqual([['bernoulli', 0.5, [500]]]);
    }
  });

  it.each(['sample', 'point'] as const)('every sample of 16 digits × 24 masks (scope %s) agrees to float32 accuracy', async (scope) => {
    const ref = lenetRef('1.13');
    const N = 16;
    const S = 24;
    const pixels = Float32Array.from(ref.test_images_u8.slice(0, N).flat(), (b) => b / 255);
    const masks: Record<string, TensorData> = {};
    const sampler = createSeededSampler({ seed: 5 });
    const mask = sampler.sample({ site: onnx.sites[0]!, siteIndex: 0, firstSample: 0, count: S, rows: N, scope });
    masks[onnx.sites[0]!.name] = mask;
    const a = (await onnx.run({ [onnx.inputs[0]!.name]: { dtype: 'float32', data: pixels, dims: [N, 1, 28, 28] } }, masks, { samples: S, scope }))[onnx.outputs[0]!.name]!;
    const b = (await tfjs.run({ [tfjs.inputs[0]!.name]: { dtype: 'float32', data: pixels, dims: [N, 28, 28, 1] } }, { [tfjs.sites[0]!.name]: mask }, { samples: S, scope }))[tfjs.outputs[0]!.name]!;
    expect(b.dims).toEqual(a.dims);
    expect(a.dims).toEqual([S * N, 10]);
    let worst = 0;
    let scale = 0;
    for (let k = 0; k < a.data.length; k++) {
      worst = Math.max(worst, Math.abs((a.data[k] as number) - (b.data[k] as number)));
      scale = Math.max(scale, Math.abs(a.data[k] as number));
    }
    console.log(`[lenet onnx vs tfjs] scope ${scope}: max |Δ logit| ${worst.toExponential(2)} of max |logit| ${scale.toFixed(2)}`);
    // Two float32 implementations of 5×5 convolutions and 800- and 500-term sums: 1e-5 of the
    // logit scale is ~100 float32 ulps of accumulated reordering.
    expect(worst).toBeLessThan(1e-5 * scale);
    // and the masks matter: a sample with other masks differs by far more
    const other = sampler.sample({ site: onnx.sites[0]!, siteIndex: 0, firstSample: S, count: S, rows: N, scope });
    const c = (await tfjs.run({ [tfjs.inputs[0]!.name]: { dtype: 'float32', data: pixels, dims: [N, 28, 28, 1] } }, { [tfjs.sites[0]!.name]: other }, { samples: S, scope }))[tfjs.outputs[0]!.name]!;
    let moved = 0;
    for (let k = 0; k < a.data.length; k++) moved = Math.max(moved, Math.abs((a.data[k] as number) - (c.data[k] as number)));
    expect(moved).toBeGreaterThan(1000 * worst);
  }, 120_000);
});
