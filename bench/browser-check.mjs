#!/usr/bin/env node
// mcu in a real browser (not run by CI): bundles @mcu/core + @mcu/backend-onnx/web with esbuild,
// serves it on 127.0.0.1 with the bundled example model and onnxruntime-web's .wasm files, runs
// it in headless Chromium (Debian's `chromium`; `apt-get install chromium`), and compares the
// page's predictive mean and std with the same run in Node on onnxruntime-node (cpu): same seed,
// same masks, so they must agree to float32 round-off.
// Run after `pnpm -r build`:  node bench/browser-check.mjs
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { createMcu, RegressionEstimator } from '@mcu/core';
import { onnxModule } from '@mcu/backend-onnx';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));
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
const bundle = await build({
  stdin: { contents: page, resolveDir: root, loader: 'js' },
  bundle: true,
  format: 'esm',
  platform: 'browser',
  write: false,
  logLevel: 'error',
  target: 'es2022',
});
const js = bundle.outputFiles[0].text;
console.log(`bundle: ${(js.length / 1024).toFixed(0)} KiB (esbuild, platform browser)`);

const types = { '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm' };
const server = createServer((req, res) => {
  const url = req.url ?? '/';
  let body;
  let type = 'text/html';
  if (url === '/') body = '<!doctype html><pre id="out">pending</pre><script type="module" src="/page.mjs"></script>';
  else if (url === '/page.mjs') {
    body = js;
    type = 'text/javascript';
  } else if (url === '/model.onnx') {
    body = readFileSync(join(root, 'examples/co2_relu.preserve.onnx'));
    type = 'application/octet-stream';
  } else if (url.startsWith('/ort/') && !url.includes('..')) {
    const f = join(ortDist, url.slice(5).split('?')[0]);
    if (existsSync(f)) {
      body = readFileSync(f);
      type = types[extname(f)] ?? 'application/octet-stream';
    }
  }
  if (body === undefined) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': type }).end(body);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
let dom;
try {
  // async: the page's requests are served by this same process while Chromium runs
  ({ stdout: dom } = await promisify(execFile)(
    chromium,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=/tmp/mcu-chromium-${process.pid}`,
      '--virtual-time-budget=30000',
      '--dump-dom',
      `http://127.0.0.1:${port}/`,
    ],
    { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 24 },
  ));
} finally {
  server.close();
}
const text = /<pre id="out">([^<]*)<\/pre>/.exec(dom)?.[1]?.replace(/&quot;/g, '"') ?? 'no output';
const browser = JSON.parse(text.startsWith('{') ? text : JSON.stringify({ ok: false, error: text }));
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
