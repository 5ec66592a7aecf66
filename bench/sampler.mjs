#!/usr/bin/env node
// Mask generation: the WebAssembly Bernoulli kernel (its SIMD build, the default, and its scalar
// build) against the JavaScript Philox path (same values, checked here and in
// packages/core/test/sampling.test.ts), side by side in one process,
// on per-point masks the size of the co2 4×512 network: 741 rows × 4 sites × 512 units per sample.
// Run after `pnpm -r build`:  node bench/sampler.mjs [T] [repeats]
import { BernoulliKernelSlot, SeededSampler } from '../packages/core/dist/index.js';

const T = Number(process.argv[2] ?? 50);
const repeats = Number(process.argv[3] ?? 3);
const rows = 741;
const sites = Array.from({ length: 4 }, (_, k) => ({ name: `s${k}`, kind: 'bernoulli', rate: 0.1, maskShape: [512] }));
const draw = (sampler) => sites.map((site, siteIndex) => sampler.sample({ site, siteIndex, firstSample: 0, count: T, rows, scope: 'point' }));
const time = (f) => {
  const t0 = performance.now();
  const r = f();
  return [performance.now() - t0, r];
};
const simd = new SeededSampler({ seed: 1 });
const scalar = new SeededSampler({ seed: 1, kernel: new BernoulliKernelSlot({ simd: false }) });
const slow = new SeededSampler({ seed: 1, wasm: false });
console.log(`per-point Bernoulli masks: T = ${T} × ${rows} rows × 4 sites × 512 = ${((T * rows * 4 * 512) / 1e6).toFixed(0)} M values`);
for (let k = 0; k < repeats; k++) {
  const [tv, v] = time(() => draw(simd));
  const [tw, a] = time(() => draw(scalar));
  const [tj, b] = time(() => draw(slow));
  const equal = (x) => x.every((m, s) => Buffer.compare(Buffer.from(m.data.buffer), Buffer.from(b[s].data.buffer)) === 0);
  console.log(
    `run ${k + 1}: wasm SIMD ${tv.toFixed(0)} ms, wasm scalar ${tw.toFixed(0)} ms, JavaScript ${tj.toFixed(0)} ms: scalar ÷ SIMD ${(tw / tv).toFixed(2)}×, JavaScript ÷ SIMD ${(tj / tv).toFixed(2)}× (identical: ${equal(v) && equal(a)})`,
  );
}
