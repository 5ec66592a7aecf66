#!/usr/bin/env node
// The folder that bench/gpu.mjs runs from on a GPU machine (no Node.js, no network there; see
// ../shared/gpu/README.md): the networks (co2 4×1024 as the recipe that rebuilds it there), their
// JSON graphs for a python without onnx, the inputs, manifest.json, torch_bench.py and gpu.mjs
// bundled with esbuild (onnxruntime-node stays outside: .gpu/node_modules).
// Run after `pnpm -r build`:  node bench/gpu-prepare.mjs [--out DIR] [--tiny]   (default DIR: gpu-bench/)
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import os from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixturePath } from '@mcu/fixtures';
import { writeWidenedCo2 } from './co2-wide.mjs';
import { writeGraphJson, writeNpy } from './onnx-json.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const tiny = argv.includes('--tiny');
const outAt = argv.indexOf('--out');
const dir = resolve(outAt >= 0 ? argv[outAt + 1] : join(root, 'gpu-bench'));
// the sizes of issue 14 item 4 (--tiny: bench/suite.mjs's tiny ones)
const T = tiny ? 5 : 100;

// a folder this script wrote before is replaced; anything else is left alone
if (existsSync(dir) && readdirSync(dir).length > 0) {
  if (!existsSync(join(dir, 'manifest.json'))) {
    console.error(`${dir} is not empty and has no manifest.json (not a folder of gpu-prepare's): give another --out`);
    process.exit(2);
  }
  rmSync(dir, { recursive: true, force: true });
}
mkdirSync(dir, { recursive: true });

/** Deterministic float32 rows: sin(0.01·i), as bench/suite.mjs and bench/throughput.mjs. */
const rows = (n) => new Float32Array(n).map((_, i) => Math.sin(i * 0.01));

// MCU_BENCH_SHARED: where the shared fixtures are, as bench/suite.mjs reads it (the test points it at an empty folder)
const lenetShared = join(process.env.MCU_BENCH_SHARED ?? join(root, '..', 'shared', 'fixtures'), 'pytorch-1.13', 'lenet.preserve.onnx');
const lenetFrom = existsSync(lenetShared) ? lenetShared : fixturePath('pytorch-1.13/lenet.preserve.onnx');
copyFileSync(lenetFrom, join(dir, 'lenet.preserve.onnx'));
// co2 4×1024 is not shipped (its weights, 12 MiB as .onnx and again as .npy, would take the folder
// and .gpu/'s 38 MiB past the device tool's 64 MiB carry): gpu.mjs rebuilds it there from the
// bundled example with the same code, and checks the bytes against this hash
const base = 'examples/co2_relu.preserve.onnx';
mkdirSync(join(dir, 'examples'));
copyFileSync(join(root, base), join(dir, base));
const scratch = mkdtempSync(join(os.tmpdir(), 'mcu-gpu-prepare-'));
const co2 = writeWidenedCo2(root, scratch, 1024);
const co2Hash = createHash('sha256').update(readFileSync(co2)).digest('hex');
const co2Graph = JSON.parse(readFileSync(writeGraphJson(co2, scratch), 'utf8'));
rmSync(scratch, { recursive: true, force: true });
const networks = [
  {
    key: 'co2-1024',
    name: 'co2_relu 4×1024',
    onnx: basename(co2),
    graph: basename(co2).replace(/\.onnx$/, '.json'),
    inputName: co2Graph.input,
    generate: { base, width: 1024, sha256: co2Hash },
    source: `${base} widened to the paper's 4×1024 (synthetic weights, bench/co2-wide.mjs)`,
    rowDims: [1],
    N: tiny ? 50 : 1000,
    task: 'regression',
  },
  (() => {
    const graph = writeGraphJson(join(dir, 'lenet.preserve.onnx'), dir);
    return {
      key: 'lenet',
      name: 'LeNet',
      onnx: 'lenet.preserve.onnx',
      graph: relative(dir, graph),
      inputName: JSON.parse(readFileSync(graph, 'utf8')).input,
      source: `${existsSync(lenetShared) ? '../shared/fixtures' : 'test/fixtures (@mcu/fixtures)'}/pytorch-1.13/lenet.preserve.onnx`,
      rowDims: [1, 28, 28],
      N: tiny ? 20 : 1000,
      task: 'classification',
    };
  })(),
];
const models = networks.map((m) => {
  const input = `${m.key}-${m.N}.npy`;
  const dims = [m.N, ...m.rowDims];
  writeNpy(join(dir, input), rows(dims.reduce((a, b) => a * b, 1)), dims);
  return { ...m, T, input };
});
copyFileSync(join(root, 'bench/torch_bench.py'), join(dir, 'torch_bench.py'));
writeFileSync(
  join(dir, 'manifest.json'),
  `${JSON.stringify({ format: 'mcu-gpu-bench/1', createdAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), tiny, torchBench: 'torch_bench.py', models }, null, 1)}\n`,
);

// gpu.mjs as one file: @mcu/* and their pure-JS dependencies inside, native and wasm runtimes outside
const esbuildFrom = [join(root, 'package.json'), join(root, 'packages/cli/package.json')];
let esbuild;
for (const from of esbuildFrom) {
  try {
    esbuild = createRequire(from)('esbuild');
    break;
  } catch {}
}
if (esbuild === undefined) {
  console.error('esbuild is not installed (a devDependency of the root and of packages/cli): run pnpm install');
  process.exit(1);
}
await esbuild.build({
  absWorkingDir: root,
  entryPoints: ['bench/gpu.mjs'],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['onnxruntime-node', 'onnxruntime-web', 'onnxruntime-common', '@tensorflow/*'],
  outfile: join(dir, 'gpu.mjs'),
  logLevel: 'warning',
});

// the bundle starts and finds onnxruntime-node through NODE_PATH, as .gpu/enter.sh sets it
const ortDir = dirname(dirname(createRequire(join(root, 'packages/backend-onnx/package.json')).resolve('onnxruntime-node/package.json')));
const probe = spawnSync(process.execPath, [join(dir, 'gpu.mjs'), '--probe'], { encoding: 'utf8', env: { ...process.env, NODE_PATH: ortDir } });
if (probe.status !== 0) {
  console.error(`the bundle ${join(dir, 'gpu.mjs')} does not start: ${probe.stderr.trim()}`);
  process.exit(1);
}
const size = readdirSync(dir, { recursive: true }).reduce((a, f) => a + (statSync(join(dir, f)).isFile() ? statSync(join(dir, f)).size : 0), 0);
const shown = relative(root, dir) || '.';
console.log(
  `wrote ${shown}/ (${(size / 2 ** 20).toFixed(1)} MiB${tiny ? ', --tiny' : ''}): ${models.map((m) => `${m.name} T = ${m.T}, N = ${m.N}`).join('; ')}`,
);
console.log(`bundle check: ${probe.stdout.trim()}`);
console.log('Next, from the repository root:');
console.log(`  ../shared/gpu/prepare.sh ${shown}`);
console.log('then on the device tool, with carry [".gpu"], ONE command:');
// prepare.sh copies the folder into .gpu/ under its own name
console.log(`  source .gpu/enter.sh && node .gpu/${basename(dir)}/gpu.mjs --data .gpu/${basename(dir)} --ep webgpu --out $OUT/gpu.json --md $OUT/gpu.md`);
