#!/usr/bin/env node
// A probe for the next lever on wide MLPs (issue 14, item 3: co2 ≤ 0.3 × PyTorch batched): with one
// Bernoulli mask per sample, a layer between two sites needs only the kept units,
//   (h ⊙ mₜ) W = hₜ[:, Kₜ] · (mₜ[Kₜ] ⊙ W[Kₜ, K′ₜ])   (K′ₜ: the units the next site keeps),
// about (1 − p)² of the FLOPs and no pass over the masked activations. One hidden layer (D → D,
// bias, ReLU) on S samples × N rows, in ONE run (alternating blocks of 50 calls, 3 rounds), as two
// onnxruntime-node graphs:
//   unfolded  what mcu's prepared graph runs now: Mul(h, mask) → Reshape → Gemm → Relu;
//   compact   the kept units only: Gather(W_aug, kept rows) × mask values → GatherND(kept columns,
//             batch_dims 1) → batched MatMul on [S, N, K] → + gathered bias → Relu, with the
//             index lists padded to the chunk's largest K by the index of W_aug's zero row/column.
// It checks that both give the same kept outputs (float32 rounding), then prints the time per call.
// Not wired into mcu: this measures whether the rewrite would pay (see bench/README.md).
// Run after `pnpm -r build`:  node bench/compact-probe.mjs [S] [N] [D]   (default 2 741 512, co2 4×512's chunk)
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeModel } from '@mcu/backend-onnx';
import { mulberry32 } from '@mcu/core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ort = createRequire(join(root, 'packages/backend-onnx/package.json'))('onnxruntime-node');
const f32 = (name, dims, data) => ({ name, data_type: 1, dims: dims.map(BigInt), float_data: Array.from(data) });
const i64c = (name, values) => {
  const raw = new Uint8Array(values.length * 8);
  values.forEach((x, k) => new DataView(raw.buffer).setBigInt64(k * 8, BigInt(x), true));
  return { name, data_type: 7, dims: [BigInt(values.length)], raw_data: raw };
};
const vi = (name, dims, elem = 1) => ({
  name,
  type: { tensor_type: { elem_type: elem, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: BigInt(d) } : { dim_param: d })) } } },
});
const S = Number(process.argv[2] ?? 2);
const N = Number(process.argv[3] ?? 741);
const D = Number(process.argv[4] ?? 512);
const p = 0.1; // co2's rate
const rnd = mulberry32(1);
const W = Float32Array.from({ length: D * D }, () => rnd() - 0.5),
  b = Float32Array.from({ length: D }, () => rnd() - 0.5);
const Waug = new Float32Array((D + 1) * (D + 1));
for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) Waug[i * (D + 1) + j] = W[i * D + j];
const baug = new Float32Array(D + 1);
baug.set(b);
const op = (op_type, input, output, attribute = []) => ({ op_type, input, output, attribute });
const A = {
  ir_version: 8n,
  opset_import: [{ domain: '', version: 13n }],
  graph: {
    name: 'a',
    node: [op('Mul', ['h', 'm'], ['hm']), op('Reshape', ['hm', 'shp'], ['h2']), op('Gemm', ['h2', 'W', 'b'], ['g']), op('Relu', ['g'], ['y'])],
    initializer: [f32('W', [D, D], W), f32('b', [D], b), i64c('shp', [-1, D])],
    input: [vi('h', [S, N, D]), vi('m', [S, 1, D])],
    output: [vi('y', ['r', D])],
  },
};
const B = {
  ir_version: 8n,
  opset_import: [{ domain: '', version: 13n }],
  graph: {
    name: 'b',
    node: [
      op('Gather', ['Waug', 'ii'], ['wr'], [{ name: 'axis', type: 2, i: 0n }]), // [S,K,D+1]
      op('Mul', ['wr', 'mv'], ['wrm']), // × mask values [S,K,1]
      op('Transpose', ['wrm'], ['wt'], [{ name: 'perm', type: 7, ints: [0n, 2n, 1n] }]), // [S,D+1,K]
      op('GatherND', ['wt', 'io3'], ['wc'], [{ name: 'batch_dims', type: 2, i: 1n }]), // [S,K2,K]
      op('Transpose', ['wc'], ['wk'], [{ name: 'perm', type: 7, ints: [0n, 2n, 1n] }]), // [S,K,K2]
      op('Gather', ['baug', 'io'], ['bk'], [{ name: 'axis', type: 2, i: 0n }]), // [S,K2]
      op('Unsqueeze', ['bk', 'ax1'], ['bk3']),
      op('MatMul', ['hc', 'wk'], ['mm']),
      op('Add', ['mm', 'bk3'], ['g']),
      op('Relu', ['g'], ['y']),
    ],
    initializer: [f32('Waug', [D + 1, D + 1], Waug), f32('baug', [D + 1], baug), i64c('ax1', [1])],
    input: [vi('hc', [S, N, 'K']), vi('ii', [S, 'K'], 7), vi('mv', [S, 'K', 1]), vi('io', [S, 'K2'], 7), vi('io3', [S, 'K2', 1], 7)],
    output: [vi('y', [S, N, 'K2'])],
  },
};
const sa = await ort.InferenceSession.create(encodeModel(A), { intraOpNumThreads: 2, logSeverityLevel: 3 });
const sb = await ort.InferenceSession.create(encodeModel(B), { intraOpNumThreads: 2, logSeverityLevel: 3 });
const keep = 1 / (1 - p);
const masks = Array.from({ length: S }, () => Float32Array.from({ length: D }, () => (rnd() < p ? 0 : keep)));
const kept = masks.map((m) => [...m.keys()].filter((j) => m[j] !== 0));
const K = Math.max(...kept.map((k) => k.length));
const masks2 = Array.from({ length: S }, () => Float32Array.from({ length: D }, () => (rnd() < p ? 0 : keep)));
const kept2 = masks2.map((m) => [...m.keys()].filter((j) => m[j] !== 0));
const K2 = Math.max(...kept2.map((k) => k.length));
const pad = (ks, K) => ks.flatMap((k) => [...k, ...Array(K - k.length).fill(D)]);
const h = Float32Array.from({ length: S * N * D }, () => rnd());
const hc = new Float32Array(S * N * K);
for (let s = 0; s < S; s++)
  for (let n = 0; n < N; n++)
    kept[s].forEach((j, c) => {
      hc[(s * N + n) * K + c] = h[(s * N + n) * D + j];
    });
const mvals = new Float32Array(S * K);
for (let s = 0; s < S; s++)
  kept[s].forEach((j, c) => {
    mvals[s * K + c] = masks[s][j];
  });
const feedsA = { h: new ort.Tensor('float32', h, [S, N, D]), m: new ort.Tensor('float32', Float32Array.from(masks.flatMap((m) => [...m])), [S, 1, D]) };
const io = BigInt64Array.from(pad(kept2, K2).map(BigInt));
const feedsB = {
  hc: new ort.Tensor('float32', hc, [S, N, K]),
  ii: new ort.Tensor('int64', BigInt64Array.from(pad(kept, K).map(BigInt)), [S, K]),
  mv: new ort.Tensor('float32', mvals, [S, K, 1]),
  io: new ort.Tensor('int64', io, [S, K2]),
  io3: new ort.Tensor('int64', io, [S, K2, 1]),
};
// check: B's y equals A's y at the kept output columns
const ya = (await sa.run(feedsA)).y.data,
  yb = (await sb.run(feedsB)).y.data;
let worst = 0;
for (let s = 0; s < S; s++)
  for (let n = 0; n < 3; n++)
    kept2[s].forEach((j, c) => {
      worst = Math.max(worst, Math.abs(ya[(s * N + n) * D + j] - yb[(s * N + n) * K2 + c]));
    });
console.log(`S ${S} N ${N} D ${D} K ${K} K2 ${K2}: max |A − B| on kept outputs ${worst.toExponential(2)}`);
const time = async (s, f, n) => {
  for (let k = 0; k < 5; k++) await s.run(f);
  const t = performance.now();
  for (let k = 0; k < n; k++) await s.run(f);
  return (performance.now() - t) / n;
};
for (let r = 0; r < 3; r++) {
  const a = await time(sa, feedsA, 50);
  const bb = await time(sb, feedsB, 50);
  console.log(`per call: unfolded ${a.toFixed(2)} ms, compact ${bb.toFixed(2)} ms, ratio ${(bb / a).toFixed(2)}`);
}
