// mcu in a browser page under a strict Content-Security-Policy: no 'unsafe-eval' (only
// 'wasm-unsafe-eval', which onnxruntime-web's WebAssembly needs). The ONNX codec is static
// code (@mcu/onnx-proto), so a prediction must run without a single CSP violation and agree
// with onnxruntime-node in Node (same seed, same masks) to float32 round-off.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMcu, RegressionEstimator } from '@mcu/core';
import { onnxModule } from '@mcu/backend-onnx';
import { REPO_ROOT, requireBuiltCli } from './helpers/cli.js';
import { bundleModule, findChromium, pageOutput, runPage, type Asset } from './helpers/browser.js';

const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'";
const MODEL = path.join(REPO_ROOT, 'examples/co2_relu.preserve.onnx');
const xs = [-1.75, -0.5, 0.5, 1.5, 2.5, 4];
const T = 100;
const SEED = 7;

// Classic script, loaded before the module: collects violations from the very start.
const LISTEN = `window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push({ directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample });
});`;

const PAGE = `
import { createMcu, RegressionEstimator } from '@mcu/core';
import { onnxWebModule } from '@mcu/backend-onnx/web';
const out = document.getElementById('out');
// The positive control runs last, after the run's violations were taken: it is one itself.
const probeEval = () => { try { new Function('return 1'); return false; } catch (e) { return e instanceof EvalError; } };
try {
  const bytes = new Uint8Array(await (await fetch('/model.onnx')).arrayBuffer());
  const mcu = createMcu({ modules: [onnxWebModule({ wasmPaths: '/ort/' })] });
  const model = await mcu.load({ kind: 'bytes', bytes });
  const est = new RegressionEstimator({ output: model.outputs[0].name });
  const xs = ${JSON.stringify(xs)};
  const meta = await mcu.engine.run(model, { x: { dtype: 'float32', data: Float32Array.from(xs), dims: [xs.length, 1] } }, { samples: ${T}, seed: ${SEED}, estimators: [est] });
  const r = est.result();
  await new Promise((res) => setTimeout(res, 0)); // let violation events of the run arrive
  const violations = window.__violations.slice();
  out.textContent = JSON.stringify({ ok: true, evalBlocked: probeEval(), ep: meta.executionProvider, mean: Array.from(r.mean), violations });
} catch (e) {
  const violations = window.__violations.slice();
  out.textContent = JSON.stringify({ ok: false, evalBlocked: probeEval(), error: String((e && e.stack) || e), violations });
}`;

// onnx-web with WebGPU listed first: where it runs, and what happens when it is the only one.
const GPU_PAGE = `
import { createMcu } from '@mcu/core';
import { onnxWebModule } from '@mcu/backend-onnx/web';
const out = document.getElementById('out');
const load = (executionProviders, bytes) =>
  createMcu({ modules: [onnxWebModule({ wasmPaths: '/ort/' })], backendOptions: { 'onnx-web': { executionProviders } } }).load({ kind: 'bytes', bytes });
try {
  const bytes = new Uint8Array(await (await fetch('/model.onnx')).arrayBuffer());
  const listed = await load(['webgpu', 'wasm'], bytes);
  let alone;
  try {
    const m = await load(['webgpu'], bytes);
    alone = { ep: m.executionProvider };
  } catch (e) {
    alone = { code: e.code, message: e.message };
  }
  out.textContent = JSON.stringify({ ok: true, listed: { ep: listed.executionProvider, warnings: listed.warnings }, alone });
} catch (e) {
  out.textContent = JSON.stringify({ ok: false, error: String((e && e.stack) || e) });
}`;

interface PageResult {
  ok: boolean;
  evalBlocked: boolean;
  ep?: string;
  mean?: number[];
  error?: string;
  violations: { directive: string; blocked: string; sample: string }[];
}

const chromium = findChromium();
if (chromium === undefined && process.env.CI) {
  throw new Error("test/web-csp.test.ts: no Chromium in CI (/usr/bin/chromium); .ci/run installs Debian's chromium — check that step");
}

describe.skipIf(chromium === undefined)(
  `a prediction in headless Chromium under "${CSP}"${chromium === undefined ? ' (skipped: no Chromium; apt-get install chromium)' : ''}`,
  () => {
    it('runs with no CSP violation and agrees with onnxruntime-node to 1e-5', async () => {
      requireBuiltCli();
      const js = await bundleModule(PAGE);
      expect(js).not.toMatch(/protobufjs/);
      const ortDir = path.dirname(createRequire(path.join(REPO_ROOT, 'packages/backend-onnx/package.json')).resolve('onnxruntime-web'));
      const assets = (url: string): Asset | undefined => {
        if (url === '/')
          return {
            type: 'text/html',
            body: '<!doctype html><pre id="out">pending</pre><script src="/listen.js"></script><script type="module" src="/page.mjs"></script>',
          };
        if (url === '/listen.js') return { type: 'text/javascript', body: LISTEN };
        if (url === '/page.mjs') return { type: 'text/javascript', body: js };
        if (url === '/model.onnx') return { type: 'application/octet-stream', body: readFileSync(MODEL) };
        if (url.startsWith('/ort/') && !url.includes('..')) {
          const file = path.join(ortDir, url.slice('/ort/'.length));
          try {
            return { type: file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript', body: readFileSync(file) };
          } catch {
            return undefined;
          }
        }
        return undefined;
      };
      const page = pageOutput(await runPage(chromium!, assets, { 'content-security-policy': CSP })) as PageResult;
      // The policy is in force (the positive control), and nothing of mcu's ran into it.
      expect(page.evalBlocked).toBe(true);
      expect(page.violations).toEqual([]);
      expect(page.error).toBeUndefined();
      expect(page.ok).toBe(true);

      const mcu = createMcu({ backends: ['onnx'], modules: [onnxModule] });
      const model = await mcu.load({ kind: 'path', path: MODEL });
      const est = new RegressionEstimator({ output: model.outputs[0]!.name });
      await mcu.engine.run(
        model,
        { x: { dtype: 'float32', data: Float32Array.from(xs), dims: [xs.length, 1] } },
        { samples: T, seed: SEED, estimators: [est] },
      );
      const node = Array.from(est.result().mean);
      await model.dispose();
      expect(page.mean!.length).toBe(node.length);
      page.mean!.forEach((m, i) => expect(Math.abs(m - node[i]!)).toBeLessThan(1e-5));
    }, 180_000);

    it("executionProviders ['webgpu', 'wasm']: webgpu where the page has a GPU adapter, else wasm with a fallback warning; 'webgpu' alone fails naming it", async () => {
      requireBuiltCli();
      const js = await bundleModule(GPU_PAGE);
      const ortDir = path.dirname(createRequire(path.join(REPO_ROOT, 'packages/backend-onnx/package.json')).resolve('onnxruntime-web'));
      const assets = (url: string): Asset | undefined => {
        if (url === '/') return { type: 'text/html', body: '<!doctype html><pre id="out">pending</pre><script type="module" src="/page.mjs"></script>' };
        if (url === '/page.mjs') return { type: 'text/javascript', body: js };
        if (url === '/model.onnx') return { type: 'application/octet-stream', body: readFileSync(MODEL) };
        if (url.startsWith('/ort/') && !url.includes('..')) {
          try {
            const file = path.join(ortDir, url.slice('/ort/'.length));
            return { type: file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript', body: readFileSync(file) };
          } catch {
            return undefined;
          }
        }
        return undefined;
      };
      const page = pageOutput(await runPage(chromium!, assets, { 'content-security-policy': CSP })) as {
        ok: boolean;
        error?: string;
        listed: { ep: string; warnings: string[] };
        alone: { ep?: string; code?: string; message?: string };
      };
      expect(page.error).toBeUndefined();
      console.log(`[web-csp] ['webgpu', 'wasm'] ran on ${page.listed.ep}; 'webgpu' alone: ${page.alone.ep ?? `${page.alone.code}: ${page.alone.message}`}`);
      expect(['webgpu', 'wasm']).toContain(page.listed.ep);
      if (page.listed.ep === 'wasm') {
        // no adapter here (headless, no GPU): the fallback is said, never silent
        expect(page.listed.warnings.join(' ')).toMatch(/execution provider fallback.*webgpu.*running on 'wasm'/);
        expect(page.alone.code).toBe('E_PROVIDER');
        expect(page.alone.message).toMatch(/webgpu/);
      } else {
        expect(page.alone.ep).toBe('webgpu');
      }
    }, 180_000);
  },
);
