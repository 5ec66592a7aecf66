#!/usr/bin/env node
// Thin launcher: the CLI as one esbuild bundle in ../dist/bundle (built by `pnpm -r build`;
// scripts/bundle.mjs says why). Node ≥ 22.1 keeps V8's compiled code between runs (a no-op on 20).
import module from 'node:module';
module.enableCompileCache?.();
const { main } = await import('../dist/bundle/main.js');
process.exitCode = await main(process.argv.slice(2));
