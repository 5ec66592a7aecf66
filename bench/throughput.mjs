#!/usr/bin/env node
// Throughput of one MC run, measured side by side in ONE process (these machines are noisy):
//   chunked  — mcu's default: T samples in as few backend calls as the memory budget allows,
//              the part before the first dropout computed once per row;
//   loop     — one backend call per sample (what a naive MC loop does).
// Reads the full-size fixtures from ../shared/fixtures when present, else the bundled example.
// Run after `pnpm -r build`:  node bench/throughput.mjs [T] [repeats]
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMcu, RegressionEstimator, ClassificationEstimator } from '@mcu/core';
import { onnxModule } from '@mcu/backend-onnx';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const shared = join(root, '..', 'shared', 'fixtures');
const T = Number(process.argv[2] ?? 100);
const repeats = Number(process.argv[3] ?? 3);

const cases = [];
if (existsSync(shared)) {
  cases.push({ name: 'co2_relu 4×512 (PyTorch 1.13)', path: join(shared, 'pytorch-1.13/co2_relu.preserve.onnx'), dims: [741, 1], task: 'regression' });
  cases.push({ name: 'LeNet (PyTorch 1.13)', path: join(shared, 'pytorch-1.13/lenet.preserve.onnx'), dims: [200, 1, 28, 28], task: 'classification' });
} else {
  console.log(`note: ${shared} is absent; using the bundled example only`);
}
cases.push({ name: 'co2_relu 4×128 (bundled example)', path: join(root, 'examples/co2_relu.preserve.onnx'), dims: [741, 1], task: 'regression' });

const mcu = createMcu({ backends: ['onnx'], modules: [onnxModule] });
console.log(`T = ${T}, best of ${repeats}, onnxruntime-node cpu`);
for (const c of cases) {
  const model = await mcu.load({ kind: 'path', path: c.path });
  const n = c.dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n).map((_, i) => Math.sin(i * 0.01));
  const feeds = { [model.inputs[0].name]: { dtype: 'float32', data, dims: c.dims } };
  const out = model.outputs[0].name;
  const est = () => (c.task === 'regression' ? new RegressionEstimator({ output: out }) : new ClassificationEstimator({ output: out }));
  const time = async (chunkSamples) => {
    let best = Infinity;
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      await mcu.engine.run(model, feeds, { samples: T, seed: 1, ...(chunkSamples ? { chunkSamples } : {}), estimators: [est()] });
      best = Math.min(best, performance.now() - t0);
    }
    return best;
  };
  const chunked = await time(undefined);
  const loop = await time(1);
  console.log(`${c.name}: N = ${c.dims[0]}  chunked ${chunked.toFixed(0)} ms  loop ${loop.toFixed(0)} ms  loop/chunked = ${(loop / chunked).toFixed(2)}×`);
  await model.dispose();
}
