#!/usr/bin/env node
// Start-up cost of the CLI, side by side with bare Node in ONE run (medians of N runs each,
// interleaved so that machine noise hits every command alike): `node -e 0`, `mcu --help`,
// `mcu --version`, `mcu backends`, and `mcu predict` on the bundled example with T = 1 —
// without the prepared-model cache, with it cold (an empty folder each run: prepare + write)
// and warm (the entry there: the rewrite skipped). The cache is given as the CLI reads it, by a
// config file (`--config`, backendOptions.onnx.cacheDir).
// Run after `pnpm -r build`:  node bench/startup.mjs [N]   (default 7)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'packages/cli/bin/mcu.js');
const n = Number(process.argv[2] ?? 7);
const tmp = mkdtempSync(join(tmpdir(), 'mcu-startup-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let configs = 0;
/** A config file whose onnx backend caches prepared models in `dir`. */
const cacheConfig = (dir) => {
  const file = join(tmp, `config-${configs++}.json`);
  writeFileSync(file, JSON.stringify({ backendOptions: { onnx: { cacheDir: dir } } }));
  return file;
};
const predict = [bin, 'predict', join(root, 'examples/co2_relu.preserve.onnx'), '--input', join(root, 'examples/co2-months.csv'), '--samples', '1', '--quiet'];
const warm = cacheConfig(join(tmp, 'warm'));
// once the CLI caches by default (--cache-dir, --no-cache), the plain row must say so
const noCache = execFileSync(process.execPath, [bin, 'predict', '--help'], { encoding: 'utf8' }).includes('--no-cache') ? ['--no-cache'] : [];
const cases = [
  ['node -e 0', () => ['-e', '0']],
  ['mcu --help', () => [bin, '--help']],
  ['mcu --version', () => [bin, '--version']],
  ['mcu backends', () => [bin, 'backends', '--format', 'json']],
  ['mcu predict (example, T = 1)', () => [...predict, ...noCache]],
  ['  … cache cold', () => [...predict, '--config', cacheConfig(join(tmp, `cold-${configs}`))]],
  ['  … cache warm', () => [...predict, '--config', warm]],
];
execFileSync(process.execPath, [...predict, '--config', warm], { stdio: 'ignore', cwd: root }); // fills the warm folder
const times = cases.map(() => []);
for (let k = 0; k < n; k++) {
  cases.forEach(([, args], i) => {
    const a = args();
    const t = process.hrtime.bigint();
    execFileSync(process.execPath, a, { stdio: 'ignore', cwd: root });
    times[i].push(Number(process.hrtime.bigint() - t) / 1e9);
  });
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const base = median(times[0]);
console.log(`node ${process.version}, ${n} runs each, medians (wall):`);
cases.forEach(([name], i) => {
  const m = median(times[i]);
  console.log(`  ${name.padEnd(30)} ${m.toFixed(3)} s   (+${(m - base).toFixed(3)} s over bare node)`);
});
