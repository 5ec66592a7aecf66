// PyTorch's LeNet (test/fixtures, pytorch-1.13/lenet.preserve.onnx) rewritten as a Keras /
// TensorFlow.js layers model: Conv2D → MaxPooling2D → Conv2D → MaxPooling2D → Flatten →
// Dense(relu) → Dropout(0.5) → Dense, channels_last, with the same weights.
import fs from 'node:fs';
import path from 'node:path';
import { decodeModel } from '@mcu/backend-onnx';
import { fixtureBytes } from './fixtures.js';

export const LENET = 'pytorch-1.13/lenet.preserve.onnx';

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

/** Writes model.json + weights.bin into `dir`; returns the model.json path. */
export function writeKerasLenet(dir: string): string {
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
        layer('Conv2D', 'conv1', {
          filters: 20,
          kernel_size: [5, 5],
          strides: [1, 1],
          padding: 'valid',
          data_format: 'channels_last',
          dilation_rate: [1, 1],
          activation: 'linear',
          use_bias: true,
        }),
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
