#!/usr/bin/env node
// Bundles the command (dist/main.js and what it imports, @mcu/* and their pure-JS dependencies)
// into dist/bundle/ with esbuild, for start-up time: Node resolves and links a few chunks instead
// of several hundred ES modules (inversify alone is ~300 of them, ≈ 0.3 s). Commands stay lazy
// (one chunk each, loaded by main's dynamic imports). Runtimes with native or wasm parts, and
// vega, stay external: bin/mcu.js resolves them from this package's own dependencies.
// The library entry (dist/index.js) is not bundled. Run by the package's build after tsc.
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const pkg = fileURLToPath(new URL('..', import.meta.url));
const outdir = fileURLToPath(new URL('../dist/bundle', import.meta.url));
rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: pkg,
  entryPoints: ['dist/main.js'],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // minified: less for V8 to parse and compile at every start; error messages are mcu's own, and
  // the linked source map gives stack traces (--debug) under `node --enable-source-maps`
  minify: true,
  sourcemap: 'linked',
  logLevel: 'warning',
  // @mcu/server stays external too: fastify, pino and prom-client are CommonJS that require()s
  // Node built-ins, which an ESM bundle cannot; `mcu serve` imports it (lazily) from dist.
  // @mcu/acquire likewise (bullmq and ioredis are CommonJS, and piscina starts worker threads
  // from a file of the package: `mcu acquire` and `mcu worker` import it lazily from its dist)
  external: [
    'onnxruntime-node',
    'onnxruntime-web',
    'onnxruntime-common',
    '@tensorflow/*',
    '@resvg/resvg-js',
    'vega',
    'vega-lite',
    '@mcu/server',
    '@mcu/acquire',
  ],
});
console.log(`bundled ${outdir}`);
