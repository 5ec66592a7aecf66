// Build the browser page into examples/web/dist: `node examples/web/build.mjs` (after `pnpm -r build`).
// Bundles the page and its worker with esbuild from the built packages, and copies onnxruntime-web's
// WebAssembly files and the example models (the CO2 regression, and LeNet from test/fixtures).
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, '../..');

/**
 * Build the page; returns the dist folder.
 * @param {string} [out]
 * @returns {Promise<string>}
 */
export async function buildPage(out = path.join(HERE, 'dist')) {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(path.join(out, 'ort'), { recursive: true });
  mkdirSync(path.join(out, 'models'), { recursive: true });
  await build({
    entryPoints: { main: path.join(HERE, 'src/main.js'), worker: path.join(HERE, 'src/worker.js') },
    outdir: out,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    logLevel: 'warning',
    // @mcu/plot rasterises PNGs with resvg (native) on first use only; the page draws SVG.
    external: ['@resvg/resvg-js'],
  });
  for (const f of ['index.html', 'style.css']) copyFileSync(path.join(HERE, 'src', f), path.join(out, f));
  // onnxruntime-web's wasm runtime: the package's default entry (the one bundled) loads the JSEP
  // build even for the wasm provider; the plain build is copied too for pages on 'onnxruntime-web/wasm'.
  const ortDir = path.dirname(createRequire(path.join(ROOT, 'packages/backend-onnx/package.json')).resolve('onnxruntime-web'));
  for (const f of readdirSync(ortDir)) {
    if (/^ort-wasm-simd-threaded(\.jsep)?\.(wasm|mjs)$/.test(f)) copyFileSync(path.join(ortDir, f), path.join(out, 'ort', f));
  }
  copyFileSync(path.join(ROOT, 'examples/co2_relu.preserve.onnx'), path.join(out, 'models/co2_relu.preserve.onnx'));
  // LeNet is stored in test/fixtures in pieces; @mcu/fixtures rebuilds the original bytes (sha256-checked).
  const { fixtureBytes } = await import('@mcu/fixtures');
  writeFileSync(path.join(out, 'models/lenet.preserve.onnx'), fixtureBytes('pytorch-1.13/lenet.preserve.onnx'));
  return out;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildPage();
  console.log(`built ${out}; serve it with: node examples/web/serve.mjs, then open http://127.0.0.1:8080/`);
}
