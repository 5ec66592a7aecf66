#!/usr/bin/env node
// mcu in a real browser (not run by CI): bundles @mcu/core + @mcu/backend-onnx/web with esbuild,
// serves it on 127.0.0.1 with the bundled example model and onnxruntime-web's .wasm files, runs
// it in headless Chromium (Debian's `chromium`; `apt-get install chromium`), and compares the
// page's predictive mean and std with the same run in Node on onnxruntime-node (cpu): same seed,
// same masks, so they must agree to float32 round-off.
// Run after `pnpm -r build`:  node bench/browser-check.mjs
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
const ortDist = join(dirname(createRequire(join(root, 'packages/backend-onnx/package.json')).resolve('onnxruntime-web')), '.');
const xs = [-1.75, -0.5, 0.5, 1.5, 2.5, 4];
const T = 200;
const SEED = 11;

const page = `
import { createMcu, RegressionEstimator } from '@mcu/core';
import { onnxWebModule } from '@mcu/backend-onnx/web';
const out = document.getElementById('out');
try {
  const bytes = new Uint8Array(await (await fetch('/model.onnx')).arrayBuffer());
  const mcu = createMcu({ modules: [onnxWebModule({ wasmPaths: '/ort/' })] });
  const model = await mcu.load({ kind: 'bytes', bytes });
  const est = new RegressionEstimator({ output: model.outputs[0].name });
  const xs = ${JSON.stringify(xs)};
  const meta = await mcu.engine.run(model, { x: { dtype: 'float32', data: Float32Array.from(xs), dims: [xs.length, 1] } }, { samples: ${T}, seed: ${SEED}, estimators: [est] });
  const r = est.result();
  out.textContent = JSON.stringify({ ok: true, ep: meta.executionProvider, mean: Array.from(r.mean), std: Array.from(r.std) });
} catch (e) {
  out.textContent = JSON.stringify({ ok: false, error: String(e && e.stack || e) });
}`;
const js = await bundleModule(page, root);
console.log(`bundle: ${(js.length / 1024).toFixed(0)} KiB (esbuild, platform browser)`);

const types = { '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm' };
const assets = (url) => {
  if (url === '/') return { body: '<!doctype html><pre id="out">pending</pre><script type="module" src="/page.mjs"></script>', type: 'text/html' };
  if (url === '/page.mjs') return { body: js, type: 'text/javascript' };
  if (url === '/model.onnx') return { body: readFileSync(join(root, 'examples/co2_relu.preserve.onnx')), type: 'application/octet-stream' };
  if (url.startsWith('/ort/') && !url.includes('..')) {
    const f = join(ortDist, url.slice(5));
    if (existsSync(f)) return { body: readFileSync(f), type: types[extname(f)] ?? 'application/octet-stream' };
  }
  return undefined;
};
const browser = pageOutput(await runPage(chromium, assets));
if (!browser.ok) {
  console.log('browser run failed:', browser.error);
  process.exit(1);
}

const mcu = createMcu({ backends: ['onnx'], modules: [onnxModule] });
const model = await mcu.load({ kind: 'path', path: join(root, 'examples/co2_relu.preserve.onnx') });
const est = new RegressionEstimator({ output: model.outputs[0].name });
await mcu.engine.run(model, { x: { dtype: 'float32', data: Float32Array.from(xs), dims: [xs.length, 1] } }, { samples: T, seed: SEED, estimators: [est] });
const node = est.result();
const maxDiff = (a, b) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
console.log(`Chromium (${browser.ep}) vs Node onnxruntime-node (cpu), T = ${T}, seed ${SEED}, ${xs.length} points:`);
console.log(
  `  max |Δ mean| = ${maxDiff(browser.mean, Array.from(node.mean)).toExponential(2)}, max |Δ std| = ${maxDiff(browser.std, Array.from(node.std)).toExponential(2)}`,
);
console.log(`  browser std: ${browser.std.map((v) => v.toFixed(4)).join(' ')}`);
await model.dispose();
