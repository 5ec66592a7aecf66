#!/usr/bin/env node
// What the self-check (packages/core/src/engine/self-check.ts) costs, measured side by side in
// ONE process: the check alone (uncached: 1 joint run of 2 rows × 2 samples + 4 single runs)
// against the run it guards — `mcu predict` on the bundled example (co2 4×128, 13 months,
// T = 1000) — and against the whole `mcu predict` command (a fresh process). Medians of R.
// Run after `pnpm -r build`:  node bench/self-check.mjs [R]
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { createMcu, RegressionEstimator, selfCheck } from '@mcu/core';
import { onnxModule } from '@mcu/backend-onnx';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const R = Number(process.argv[2] ?? 9);
const model = join(root, 'examples/co2_relu.preserve.onnx');
const csv = join(root, 'examples/co2-months.csv');
const rows = readFileSync(csv, 'utf8')
  .trim()
  .split('\n')
  .filter((l) => /^[-\d.]/.test(l))
  .map(Number);
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

const mcu = createMcu({ backends: ['onnx'], modules: [onnxModule] });
const m = await mcu.load({ kind: 'path', path: model });
const feeds = { [m.inputs[0].name]: { dtype: 'float32', data: Float32Array.from(rows), dims: [rows.length, 1] } };
const run = [];
const check = [];
for (let r = 0; r < R; r++) {
  let t0 = performance.now();
  await selfCheck(m, feeds, m.sites, { cache: false });
  check.push(performance.now() - t0);
  t0 = performance.now();
  await mcu.engine.run(m, feeds, { samples: 1000, seed: 1, estimators: [new RegressionEstimator({ output: m.outputs[0].name, tau: 50 })], selfCheck: false });
  run.push(performance.now() - t0);
}
await m.dispose();
const cli = [];
for (let r = 0; r < Math.min(R, 5); r++) {
  const t0 = performance.now();
  execFileSync(process.execPath, [join(root, 'packages/cli/bin/mcu.js'), 'predict', model, '--input', csv, '--tau', '50', '--samples', '1000', '--quiet'], {
    stdio: 'pipe',
  });
  cli.push(performance.now() - t0);
}
const [c, e, p] = [median(check), median(run), median(cli)];
console.log(`bundled example (co2 4×128), ${rows.length} rows, T = 1000, medians of ${R} (CLI: ${cli.length})`);
console.log(`  self-check alone (uncached)     ${c.toFixed(2)} ms`);
console.log(`  engine run without the check    ${e.toFixed(2)} ms   check / run = ${((100 * c) / e).toFixed(2)} %`);
console.log(`  whole \`mcu predict\` process     ${p.toFixed(0)} ms   check / command = ${((100 * c) / p).toFixed(2)} %`);
