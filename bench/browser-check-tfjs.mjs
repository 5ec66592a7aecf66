#!/usr/bin/env node
// mcu on TensorFlow.js in a real browser (not run by CI): bundles @mcu/core +
// @mcu/backend-tfjs/web with esbuild, serves the example twin (examples/twin: model.json +
// weights.bin, and model.onnx with the same weights) and tfjs-backend-wasm's .wasm files on
// 127.0.0.1, runs the page in headless Chromium (Debian's `chromium`), and compares the page's
// predictive mean and std with the same runs in Node (onnxruntime-node, cpu): same seed, same
// masks, so they must agree to float32 round-off. The page tries webgpu, webgl, wasm, cpu in
// that order (Chromium without a GPU: usually wasm) and reports which ran.
// Run after `pnpm -r build`:  node bench/browser-check-tfjs.mjs
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMcu, RegressionEstimator } from '@mcu/core';
import { onnxModule } from '@mcu/backend-onnx';
import { bundleModule, findChromium, pageOutput, runPage } from '../scripts/headless-page.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const chromium = findChromium();
if (!chromium) {
  console.log('no Chromium found: apt-get install chromium');
  process.exit(0);
}
const wasmDist = dirname(createRequire(join(root, 'packages/backend-tfjs/package.json')).resolve('@tensorflow/tfjs-backend-wasm'));
const twin = join(root, 'examples/twin');
const rows = readFileSync(join(twin, 'input.csv'), 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((l) => l.split(',').map(Number));
const T = 200;
const SEED = 11;

const page = `
import { createMcu, RegressionEstimator } from '@mcu/core';
import { tfjsWebModule } from '@mcu/backend-tfjs/web';
const out = document.getElementById('out');
const rows = ${JSON.stringify(rows)};
async function run(url, backends) {
  const mcu = createMcu({ modules: [tfjsWebModule({ wasmPaths: '/tfjs/', ...(backends ? { backends } : {}) })] });
  const model = await mcu.load({ kind: 'path', path: url });
  const est = new RegressionEstimator({ output: model.outputs[0].name });
  const x = { dtype: 'float32', data: Float32Array.from(rows.flat()), dims: [rows.length, rows[0].length] };
  const meta = await mcu.engine.run(model, { [model.inputs[0].name]: x }, { samples: ${T}, seed: ${SEED}, estimators: [est] });
  const r = est.result();
  await model.dispose();
  return { ep: meta.executionProvider, mean: Array.from(r.mean), std: Array.from(r.std) };
}
try {
  const keras = await run(new URL('/twin/model.json', location.href).href);
  const onnx = await run(new URL('/twin/model.onnx', location.href).href);
  const wasm = await run(new URL('/twin/model.json', location.href).href, ['wasm']);
  out.textContent = JSON.stringify({ ok: true, keras, onnx, wasm });
} catch (e) {
  out.textContent = JSON.stringify({ ok: false, error: String(e && e.stack || e) });
}`;
const js = await bundleModule(page, root, { external: ['@tensorflow/tfjs-backend-webgpu'] });
console.log(`bundle: ${(js.length / 1024).toFixed(0)} KiB (esbuild, platform browser)`);

const types = { '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
const file = (dir, rel) => {
  const f = join(dir, rel);
  return existsSync(f) ? { body: readFileSync(f), type: types[extname(f)] ?? 'application/octet-stream' } : undefined;
};
const assets = (url) => {
  if (url === '/') return { body: '<!doctype html><pre id="out">pending</pre><script type="module" src="/page.mjs"></script>', type: 'text/html' };
  if (url === '/page.mjs') return { body: js, type: 'text/javascript' };
  if (url.includes('..')) return undefined;
  if (url.startsWith('/twin/')) return file(twin, url.slice(6));
  if (url.startsWith('/tfjs/')) return file(wasmDist, url.slice(6));
  return undefined;
};
// the GPU process stays on: webgl runs on Chromium's software rasteriser
const browser = pageOutput(await runPage(chromium, assets, {}, 180_000, { gpu: true, virtualTimeMs: 60_000 }));
if (!browser.ok) {
  console.log('browser run failed:', browser.error);
  process.exit(1);
}

const mcu = createMcu({ backends: ['onnx'], modules: [onnxModule] });
const model = await mcu.load({ kind: 'path', path: join(twin, 'model.onnx') });
const est = new RegressionEstimator({ output: model.outputs[0].name });
await mcu.engine.run(
  model,
  { [model.inputs[0].name]: { dtype: 'float32', data: Float32Array.from(rows.flat()), dims: [rows.length, rows[0].length] } },
  { samples: T, seed: SEED, estimators: [est] },
);
const node = est.result();
await model.dispose();
const maxDiff = (a, b) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
for (const [what, r] of [
  ['model.json', browser.keras],
  ['model.onnx', browser.onnx],
  ['model.json', browser.wasm],
]) {
  console.log(
    `Chromium tfjs (${r.ep}) ${what} vs Node onnxruntime-node (cpu) model.onnx, T = ${T}, seed ${SEED}, ${rows.length} rows: ` +
      `max |Δ mean| = ${maxDiff(r.mean, Array.from(node.mean)).toExponential(2)}, max |Δ std| = ${maxDiff(r.std, Array.from(node.std)).toExponential(2)}`,
  );
}
