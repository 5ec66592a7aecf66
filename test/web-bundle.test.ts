import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, requireBuiltCli } from './helpers/cli.js';

/** Bundle `code` (an ES module importing mcu's packages) for the browser platform; its metafile's inputs. */
async function bundleForBrowser(code: string, external: string[] = []): Promise<string[]> {
  requireBuiltCli();
  const dir = mkdtempSync(path.join(tmpdir(), 'mcu-web-'));
  const entry = path.join(dir, 'page.mjs');
  writeFileSync(entry, code);
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    metafile: true,
    logLevel: 'silent',
    nodePaths: [path.join(REPO_ROOT, 'node_modules')],
    absWorkingDir: REPO_ROOT,
    external,
  });
  expect(result.errors).toEqual([]);
  return Object.keys(result.metafile!.inputs);
}

// mcu in a browser page: @mcu/core + @mcu/backend-onnx/web must bundle for the browser platform
// (no Node built-ins, no onnxruntime-node, no tfjs). Bundled from the built packages (dist/), as a
// published user would. bench/browser-check.mjs runs such a bundle in headless Chromium.
describe('browser bundle of @mcu/core + @mcu/backend-onnx/web', () => {
  it('builds for platform browser and pulls in onnxruntime-web only', async () => {
    const inputs = await bundleForBrowser(
      `import { createMcu, RegressionEstimator } from '@mcu/core';
       import { onnxWebModule } from '@mcu/backend-onnx/web';
       export async function run(bytes) {
         const mcu = createMcu({ modules: [onnxWebModule({ wasmPaths: '/ort/' })] });
         const model = await mcu.load({ kind: 'bytes', bytes });
         const est = new RegressionEstimator({ output: model.outputs[0].name });
         await mcu.engine.run(model, { x: { dtype: 'float32', data: new Float32Array([0, 1]), dims: [2, 1] } }, { samples: 10, estimators: [est] });
         return est.result();
       }`,
    );
    expect(inputs.some((p) => p.includes('onnxruntime-web'))).toBe(true);
    expect(inputs.filter((p) => /onnxruntime-node|@tensorflow|node:/.test(p))).toEqual([]);
    expect(inputs.some((p) => p.includes('backend-onnx/dist/web.js'))).toBe(true);
  }, 120_000);
});

// The same for TensorFlow.js: @mcu/backend-tfjs/web bundles without Node built-ins, onnxruntime,
// the Node-only file readers (keras-node, onnx-file, runtime-node) or tfjs-node.
describe('browser bundle of @mcu/core + @mcu/backend-tfjs/web', () => {
  it('builds for platform browser with tfjs (webgl, wasm, cpu) and no Node code', async () => {
    // the optional WebGPU backend is imported by name only when asked for
    const inputs = await bundleForBrowser(
      `import { createMcu, RegressionEstimator } from '@mcu/core';
       import { tfjsWebModule } from '@mcu/backend-tfjs/web';
       export async function run(url) {
         const mcu = createMcu({ modules: [tfjsWebModule({ wasmPaths: '/tfjs/' })] });
         const model = await mcu.load({ kind: 'path', path: url });
         const est = new RegressionEstimator({ output: model.outputs[0].name });
         await mcu.engine.run(model, { [model.inputs[0].name]: { dtype: 'float32', data: new Float32Array(8), dims: [2, 4] } }, { samples: 10, estimators: [est] });
         return est.result();
       }`,
      ['@tensorflow/tfjs-backend-webgpu'],
    );
    expect(inputs.some((p) => p.includes('tfjs-backend-webgl'))).toBe(true);
    expect(inputs.some((p) => p.includes('tfjs-backend-wasm'))).toBe(true);
    expect(inputs.filter((p) => /onnxruntime|tfjs-node|node:|keras-node|onnx-file|runtime-node/.test(p))).toEqual([]);
    expect(inputs.some((p) => p.includes('backend-tfjs/dist/web.js'))).toBe(true);
  }, 120_000);
});
