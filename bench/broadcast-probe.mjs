#!/usr/bin/env node
// onnxruntime-node's CPU Add / Mul on X [M, …, 1] with a one-element constant, by the constant's rank
// (issue 14: found by profiling the UCI model, where the folded regression head's bias Add took as long
// as the hidden layer). onnxruntime broadcasts a lower-rank operand one trailing span at a time, so a
// trailing dim of 1 costs a call per value; with the ranks equal it is one pass. Prints ns per value,
// medians of 200 calls, the cases side by side; the factor is what graph/fold.ts's rank-3 bias buys.
// Run after `pnpm -r build`:  node bench/broadcast-probe.mjs [M]   (default 20961: the UCI chunk, 411 × 51)
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeModel } from '@mcu/backend-onnx';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ort = createRequire(join(root, 'packages/backend-onnx/package.json'))('onnxruntime-node');
const M = Number(process.argv[2] ?? 20961);
const CALLS = 200;
const f32 = (name, dims, value) => ({ name, data_type: 1, dims: dims.map(BigInt), float_data: new Array(dims.reduce((a, b) => a * b, 1)).fill(value) });
const vi = (name, dims) => ({ name, type: { tensor_type: { elem_type: 1, shape: { dim: dims.map((d) => ({ dim_value: BigInt(d) })) } } } });
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];

/** One node `op`(x, c) with c a constant of dims `cDims` filled with 1.5. */
function session(op, xDims, cDims) {
  const model = {
    ir_version: 8n,
    opset_import: [{ domain: '', version: 17n }],
    graph: {
      name: 'g',
      node: [{ op_type: op, input: ['x', 'c'], output: ['y'] }],
      initializer: [f32('c', cDims, 1.5)],
      input: [vi('x', xDims)],
      output: [{ name: 'y', type: { tensor_type: { elem_type: 1 } } }],
    },
  };
  return ort.InferenceSession.create(encodeModel(model), { intraOpNumThreads: 2, logSeverityLevel: 3 });
}

const S = 411;
const N = Math.max(1, Math.round(M / S));
const cases = [
  ['[M, 1] with [1]', [M, 1], [1]],
  ['[M, 1] with [] (a scalar)', [M, 1], []],
  ['[M, 1] with [1, 1]', [M, 1], [1, 1]],
  ['[M] with [1]', [M], [1]],
  [`[S, N, 1] with [1] (S = ${S}, N = ${N})`, [S, N, 1], [1]],
  ['[S, N, 1] with [1, 1, 1]', [S, N, 1], [1, 1, 1]],
  ['[M, 50] with [50]', [M, 50], [50]],
  ['[M, 50] with [1, 50]', [M, 50], [1, 50]],
];
console.log(`| op | x with c | ns per value (median of ${CALLS} calls) |`);
console.log('|---|---|---|');
for (const op of ['Add', 'Mul']) {
  for (const [label, xDims, cDims] of cases) {
    const s = await session(op, xDims, cDims);
    const n = xDims.reduce((a, b) => a * b, 1);
    const x = new ort.Tensor('float32', new Float32Array(n).fill(0.7), xDims);
    await s.run({ x });
    const t = [];
    for (let k = 0; k < CALLS; k++) {
      const t0 = performance.now();
      await s.run({ x });
      t.push(performance.now() - t0);
    }
    console.log(`| ${op} | ${label} | ${((median(t) * 1e6) / n).toFixed(2)} |`);
    await s.release();
  }
}
