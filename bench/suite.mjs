#!/usr/bin/env node
// The benchmark suite in ONE run on this machine (medians of R runs; --tiny: 1 run, tiny sizes):
//   1. mcu vs PyTorch CPU (co2 MLPs at 4×128, 4×512 and the paper's 4×1024, LeNet, a UCI model at
//      T = 10,000, a zoo CNN with dropout only in its head) with the FLOP-based limit next to each time;
//   2. overhead: an mcu MC run against one plain onnxruntime-node session on the same T·N rows;
//   3. fixed cost (T = 1 against bare node, with the prepared-model cache cold and warm), peak RSS
//      at two T, time against T and against N.
// Writes a Markdown report (default bench/RESULTS.md) with the machine it ran on; every number
// in it is measured in this run. The PyTorch side is bench/torch_bench.py under /usr/bin/python3
// (Debian's python3-torch + python3-onnx); without them its columns say "not available".
// Run after `pnpm -r build`:  node bench/suite.mjs [--tiny] [--out bench/RESULTS.md]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countFlops, decodeModel, onnxModule, prepareModel } from '@mcu/backend-onnx';
import { createMcu, predict } from '@mcu/core';
import { fixturePath, uciFixture, zooModelPath } from '@mcu/fixtures';
import { writeWidenedCo2 } from './co2-wide.mjs';
import { writeNpy } from './onnx-json.mjs';
import { withoutDropout } from './plain-model.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'packages/cli/bin/mcu.js');
// MCU_BENCH_SHARED: where the shared fixtures are (default ../shared/fixtures; the CI test points it
// at an empty folder, so that it runs as in a newcomer's clone, which has none)
const shared = process.env.MCU_BENCH_SHARED ?? join(root, '..', 'shared', 'fixtures');
// MCU_BENCH_PYTHON: another interpreter (test/bench-suite.test.ts points it at a missing one)
const python = process.env.MCU_BENCH_PYTHON ?? '/usr/bin/python3';

const argv = process.argv.slice(2);
const tiny = argv.includes('--tiny');
const outAt = argv.indexOf('--out');
const outFile = resolve(outAt >= 0 ? argv[outAt + 1] : join(root, 'bench/RESULTS.md'));
const startedAt = performance.now();
const loadAtStart = os.loadavg()[0];
const startedOn = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const R = tiny ? 1 : 5;
const T = tiny ? 5 : 100;
const rowsCo2 = tiny ? 50 : 741;
const rowsLenet = tiny ? 20 : 1000;
const scalingT = tiny ? [1, 10] : [1, 10, 100, 1000, 10000];
const scalingN = tiny ? [10, 100] : [10, 100, 1000, 10000];
const rowsCo2Wide = tiny ? 50 : 1000;
const uciT = tiny ? 50 : 10000;
const rowsZoo = tiny ? 2 : 10;
const memoryT = tiny ? [10, 100] : [100, 10000];
// plain onnxruntime calls get at most this many rows (x repeated over a chunk of the T samples)
const PLAIN_ROWS_PER_CALL = 16384;
// section 2: at least this many interleaved pairs (plain, mcu) per network; 7 where a pair takes over 4 s
const PAIRS_MIN = tiny ? 1 : 11;
const PAIRS_MIN_LONG = tiny ? 1 : 7;
// section 3: interleaved rounds of the fixed-cost processes
const FIXED_ROUNDS = tiny ? 3 : 11;
// An untimed pause before every timed in-process run: onnxruntime's worker threads of the session
// that ran last spin-wait for more work and, on 2 cores, slow the next session down (measured on
// co2 4×512: mcu 877 ms right after the plain session, 689 ms after a 10 ms pause; mcu alone ≈ 650 ms).
const PAUSE_MS = 20;
const pause = () => new Promise((r) => setTimeout(r, PAUSE_MS));

const tmp = mkdtempSync(join(os.tmpdir(), 'mcu-bench-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const log = (s) => console.log(s);
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmtS = (ms) =>
  ms === undefined ? 'not available' : ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
const ratio = (a, b) => (a === undefined || b === undefined ? 'not available' : `${(a / b).toFixed(2)}×`);

// ------------------------------------------------------------------ inputs and models
/** Deterministic float32 rows: sin(0.01·i), as bench/throughput.mjs. */
function rows(dims) {
  const n = dims.reduce((a, b) => a * b, 1);
  return new Float32Array(n).map((_, i) => Math.sin(i * 0.01));
}

const co2Big = join(shared, 'pytorch-1.13/co2_relu.preserve.onnx');
const lenetShared = join(shared, 'pytorch-1.13/lenet.preserve.onnx');
const notes = [];
const models = [
  {
    key: 'co2-128',
    name: 'co2_relu 4×128 (bundled example)',
    path: join(root, 'examples/co2_relu.preserve.onnx'),
    rowDims: [1],
    N: rowsCo2,
    task: 'regression',
  },
];
if (existsSync(co2Big))
  models.push({ key: 'co2-512', name: 'co2_relu 4×512 (../shared/fixtures, PyTorch 1.13)', path: co2Big, rowDims: [1], N: rowsCo2, task: 'regression' });
else notes.push(`${relative(root, co2Big)} is absent: the co2 4×512 rows are left out.`);
if (existsSync(lenetShared))
  models.push({
    key: 'lenet',
    name: 'LeNet (../shared/fixtures, PyTorch 1.13)',
    path: lenetShared,
    rowDims: [1, 28, 28],
    N: rowsLenet,
    task: 'classification',
  });
else {
  models.push({
    key: 'lenet',
    name: 'LeNet (test/fixtures via @mcu/fixtures, PyTorch 1.13)',
    path: fixturePath('pytorch-1.13/lenet.preserve.onnx'),
    rowDims: [1, 28, 28],
    N: rowsLenet,
    task: 'classification',
  });
  notes.push(`${relative(root, lenetShared)} is absent: LeNet is read from test/fixtures.`);
}
models.push({
  key: 'co2-1024',
  name: "co2_relu 4×1024 (the paper's width: the example widened, synthetic weights)",
  path: writeWidenedCo2(root, tmp, 1024),
  rowDims: [1],
  N: rowsCo2Wide,
  task: 'regression',
  // the whole process with per-row masks adds nothing the 4×512 row does not show, at ~10 s a run
  processScopes: ['sample'],
});
{
  // a UCI model at T = 10,000 (the paper's T for these): bostonHousing split 0 on its test rows
  const uci = uciFixture('bostonHousing');
  const split = uci.splits[0];
  const data = Float32Array.from(split.testIndex.flatMap((i) => uci.featureIndex.map((f) => uci.data[i][f])));
  models.push({
    key: 'uci',
    name: 'UCI bostonHousing split 0, 1×50 (test/fixtures, PyTorch 1.13)',
    path: split.modelPath,
    rowDims: [uci.featureIndex.length],
    N: split.testIndex.length,
    T: uciT,
    data,
    task: 'regression',
  });
}
models.push({
  key: 'mobilenet',
  name: 'mobilenet_v3_small 3×64×64, dropout only in the head (test/fixtures zoo, random weights)',
  path: zooModelPath('mobilenet_v3_small'),
  rowDims: [3, 64, 64],
  N: rowsZoo,
  task: 'classification',
});
for (const m of models) {
  m.T ??= T;
  m.processScopes ??= ['sample', 'point'];
  m.dims = [m.N, ...m.rowDims];
  m.data ??= rows(m.dims);
  m.npy = join(tmp, `${m.key}-${m.N}.npy`);
  writeNpy(m.npy, m.data, m.dims);
  const prepared = prepareModel(decodeModel(new Uint8Array(readFileSync(m.path))));
  m.flops = countFlops(prepared);
  m.inputName = prepared.inputs[0].name;
}

// ------------------------------------------------------------------ machine
const require = createRequire(join(root, 'packages/backend-onnx/package.json'));
const ort = require('onnxruntime-node');
const ortVersion = require('onnxruntime-node/package.json').version;
const osRelease = existsSync('/etc/os-release') ? (/^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '') : '';
const cores = os.availableParallelism?.() ?? os.cpus().length;

// ------------------------------------------------------------------ PyTorch
function runTorch() {
  const probe = spawnSync(python, ['-c', 'import torch, onnx, numpy'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? `${python}: ${probe.error.code}` : (probe.stderr.trim().split('\n').pop() ?? 'import failed');
    return { why };
  }
  const cases = models.map((m) => ({ name: m.key, model: m.path, input: m.npy, samples: m.T, repeats: R }));
  const spec = join(tmp, 'torch-spec.json');
  writeFileSync(spec, JSON.stringify({ threads: cores, cases, sgemm_repeats: tiny ? 5 : 20 }));
  const r = spawnSync(python, [join(root, 'bench/torch_bench.py'), spec], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) return { why: `bench/torch_bench.py failed: ${r.stderr.trim().split('\n').pop()}` };
  return JSON.parse(r.stdout);
}
log(`mcu benchmark suite${tiny ? ' (--tiny)' : ''}: T = ${T} (UCI ${uciT}), medians of ${R}, ${cores} cores`);
log('PyTorch …');
const torch = runTorch();
const sgemm = torch.sgemm_flops_per_s;
const torchCase = (key) => torch.cases?.find((c) => c.name === key);
if (torch.why) log(`  PyTorch not available: ${torch.why}`);
else log(`  torch ${torch.torch}, sgemm ${(sgemm / 1e9).toFixed(1)} GFLOP/s`);
/** Time at the sgemm rate for `flops` (undefined without a measured rate). */
const limitMs = (flops) => (sgemm ? (flops / sgemm) * 1000 : undefined);

// ------------------------------------------------------------------ mcu
let configs = 0;
/** A config file that gives the onnx backend a prepared-model cache in `dir` (backendOptions.onnx.cacheDir). */
const cacheConfig = (dir) => {
  const file = join(tmp, `config-${configs++}.json`);
  writeFileSync(file, JSON.stringify({ backendOptions: { onnx: { cacheDir: dir } } }));
  return file;
};
// section 1's processes: a user's repeated run, the prepared model in the cache (the warm-up run fills it)
const warmCache = cacheConfig(join(tmp, 'cache-section-1'));
function cliArgs(m, samples, scope, input = m.npy, extra = []) {
  return [bin, 'predict', m.path, '--input', input, '--samples', String(samples), '--seed', '1', '--quiet', '--task', m.task, '--mask-scope', scope, ...extra];
}
function timeProcess(args) {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}
const mcu = createMcu({ backends: ['onnx'], modules: [onnxModule] });
const loaded = new Map();
/** Medians (ms) of the engine in-process per mask scope, the scopes interleaved (noise hits each alike). */
async function engineMs(m, samples, scopes) {
  if (!loaded.has(m.key)) loaded.set(m.key, await mcu.load({ kind: 'path', path: m.path }));
  const model = loaded.get(m.key);
  const inputs = { [m.inputName]: { data: m.data, dims: m.dims } };
  const run = (scope) => predict(model, inputs, { mcu, samples, seed: 1, scope, task: m.task });
  for (const scope of scopes) await run(scope); // warm-up: session, kernels, self-check
  const times = scopes.map(() => []);
  for (let k = 0; k < R; k++) {
    for (const [i, scope] of scopes.entries()) {
      await pause();
      const t0 = performance.now();
      await run(scope);
      times[i].push(performance.now() - t0);
    }
  }
  return times.map(median);
}

const md = [];
md.push('# mcu benchmark results', '');
md.push(
  `Generated by \`node bench/suite.mjs${tiny ? ' --tiny' : ''}\` starting ${startedOn}; every number below was measured in that run (medians of ${R} run${R > 1 ? 's' : ''} after one warm-up).`,
  '',
);
md.push('## Machine', '');
md.push(`- CPU: ${os.cpus()[0]?.model ?? 'unknown'}, ${cores} cores`);
md.push(`- Memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`);
md.push(`- OS: ${osRelease || os.type()} (${os.type()} ${os.release()}, ${os.arch()})`);
md.push(`- Node ${process.version}, onnxruntime-node ${ortVersion} (cpu)`);
if (torch.why) md.push(`- PyTorch: not available (${torch.why}); BLAS: not available; sgemm rate: not available`);
else {
  md.push(`- PyTorch ${torch.torch} (onnx ${torch.onnx}, numpy ${torch.numpy}), ${torch.threads} threads`);
  md.push(`- BLAS loaded by PyTorch: ${torch.blas}`);
  md.push(`- sgemm rate of that BLAS (1024×1024 float32 matmul, median): ${(sgemm / 1e9).toFixed(1)} GFLOP/s`);
}
for (const n of notes) md.push(`- Note: ${n}`);
md.push('');

// ------------------------------------------------------------------ 1. mcu vs PyTorch
log('1. mcu vs PyTorch …');
md.push('## 1. mcu vs PyTorch CPU', '');
md.push(
  `T = ${T} (the UCI model: T = ${uciT}). mcu: \`mcu predict … --samples T --seed 1 --quiet\` as a whole process (a repeated run: the prepared model in the cache, \`backendOptions.onnx.cacheDir\`, filled by the warm-up run), and the engine in-process (\`predict\` from @mcu/core on a model loaded once by \`createMcu\`), with one mask per sample ('sample', the default) and per row ('point'). PyTorch (bench/torch_bench.py, compute only, ${torch.threads ?? cores} threads): batched = x repeated T times with dropout in train mode (a mask per row); trunk once = the layers before the first dropout on the N rows, the rest on T·N rows (a mask per row; and one per sample). Limit = countFlops per row × rows ÷ the sgemm rate: the full network on T·N rows, and the trunk once plus the rest on T·N rows.`,
  '',
);
md.push(
  '| network | T | N | FLOPs/row | limit: all T·N | limit: trunk once | PyTorch batched | PyTorch trunk once | PyTorch trunk once, per sample | mcu engine, sample | mcu engine, point | mcu predict process, sample | mcu predict process, point |',
);
md.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
const results = {};
for (const m of models) {
  const full = m.flops.perRow * m.T * m.N;
  const trunk = m.flops.forSamples(m.T) * m.N;
  const tc = torchCase(m.key);
  const [engineSample, enginePoint] = await engineMs(m, m.T, ['sample', 'point']);
  const r = { engineSample, enginePoint };
  const proc = { sample: [], point: [] };
  const warm = ['--config', warmCache];
  timeProcess(cliArgs(m, m.T, 'sample', m.npy, warm)); // warm the file cache and the prepared-model cache
  for (let k = 0; k < R; k++) for (const s of m.processScopes) proc[s].push(timeProcess(cliArgs(m, m.T, s, m.npy, warm)));
  r.procSample = proc.sample.length > 0 ? median(proc.sample) : undefined;
  r.procPoint = proc.point.length > 0 ? median(proc.point) : undefined;
  r.torch = tc;
  r.limitFull = limitMs(full);
  r.limitTrunk = limitMs(trunk);
  results[m.key] = r;
  md.push(
    `| ${m.name} | ${m.T} | ${m.N} | ${(m.flops.perRow / 1e6).toFixed(3)} M${m.flops.complete ? '' : ' (incomplete)'} | ${fmtS(r.limitFull)} | ${fmtS(r.limitTrunk)} | ${fmtS(tc?.batched_ms)} | ${fmtS(tc?.trunk_ms)} | ${fmtS(tc?.trunk_sample_ms)} | ${fmtS(r.engineSample)} | ${fmtS(r.enginePoint)} | ${fmtS(r.procSample)} | ${r.procPoint === undefined ? 'not run' : fmtS(r.procPoint)} |`,
  );
  log(
    `  ${m.name}: engine ${fmtS(r.engineSample)} (sample) ${fmtS(r.enginePoint)} (point), process ${fmtS(r.procSample)}, torch batched ${fmtS(tc?.batched_ms)}`,
  );
}
md.push('', 'Ratios (mcu engine, per-sample masks ÷ …; below 1 means mcu is faster):', '');
md.push(
  '| network | ÷ PyTorch batched | ÷ PyTorch trunk once | ÷ PyTorch trunk once, per sample | ÷ limit: trunk once | mcu engine point ÷ PyTorch trunk once | mcu process ÷ mcu engine |',
);
md.push('|---|---|---|---|---|---|---|');
for (const m of models) {
  const r = results[m.key];
  md.push(
    `| ${m.name} | ${ratio(r.engineSample, r.torch?.batched_ms)} | ${ratio(r.engineSample, r.torch?.trunk_ms)} | ${ratio(r.engineSample, r.torch?.trunk_sample_ms)} | ${ratio(r.engineSample, r.limitTrunk)} | ${ratio(r.enginePoint, r.torch?.trunk_ms)} | ${ratio(r.procSample, r.engineSample)} |`,
  );
}
md.push('');

// ------------------------------------------------------------------ 2. overhead
log('2. overhead …');
md.push('## 2. Overhead of an MC run against plain onnxruntime-node', '');
md.push(
  `The mcu engine (per-sample masks, as in section 1) against one plain onnxruntime-node InferenceSession of the same network with its Dropout nodes replaced by Identity, fed x repeated T times (T·N rows, at most ${PLAIN_ROWS_PER_CALL} rows per call). The two are timed here, interleaved — plain then mcu, mcu then plain, … (the order alternating) after a warm-up, each timed run right after an untimed run of the same kind and an untimed ${PAUSE_MS} ms pause (a run right after the other kind is slower, whichever it is: onnxruntime's worker threads of the session that ran last spin-wait for more work, and the caches hold the other's data) — so that the machine's noise hits both alike: ${PAIRS_MIN} pair${PAIRS_MIN === 1 ? '' : 's'} (${PAIRS_MIN_LONG} where a pair takes over 4 s), or for a short run as many as fill about 6 s (at most 31); the ratio is the median of the pairs' ratios, with their range. The last column checks section 1's PyTorch rebuild: its output on the first 2 rows with dropout off against this session's.`,
  '',
);
md.push(
  '| network | T·N rows | plain onnxruntime-node | mcu engine | mcu ÷ plain (median of pairs) | range of the pairs | PyTorch rebuild vs onnxruntime: max abs. difference (largest output) |',
);
md.push('|---|---|---|---|---|---|---|');
for (const m of models) {
  const session = await ort.InferenceSession.create(withoutDropout(m.path), { intraOpNumThreads: cores, logSeverityLevel: 3 });
  const per = m.data.length / m.N;
  const T = m.T;
  const chunk = Math.max(1, Math.min(T, Math.floor(PLAIN_ROWS_PER_CALL / m.N)));
  const xs = new Float32Array(chunk * m.data.length);
  for (let s = 0; s < chunk; s++) xs.set(m.data, s * m.data.length);
  const run = async () => {
    for (let s0 = 0; s0 < T; s0 += chunk) {
      const s = Math.min(chunk, T - s0);
      const x = new ort.Tensor('float32', xs.subarray(0, s * m.N * per), [s * m.N, ...m.rowDims]);
      await session.run({ [m.inputName]: x });
    }
  };
  const model = loaded.get(m.key);
  const inputs = { [m.inputName]: { data: m.data, dims: m.dims } };
  const runMcu = () => predict(model, inputs, { mcu, samples: T, seed: 1, scope: 'sample', task: m.task });
  await run();
  await runMcu();
  // a short run is at the mercy of the machine's noise over its ~100 ms: more pairs, about 6 s in
  // all (at least PAIRS_MIN, at most 31)
  const t0 = performance.now();
  await run();
  await runMcu();
  const pairMs = performance.now() - t0;
  const pairCount = tiny ? R : Math.min(31, Math.max(pairMs > 4000 ? PAIRS_MIN_LONG : PAIRS_MIN, Math.ceil(6000 / pairMs)));
  const times = [];
  const mcuTimes = [];
  const pairs = [];
  /**
   * One timed run, in ms: right after an untimed run of the same kind, then the pause. A run right
   * after the other kind was slower, whichever it was (the UCI model, 41 pairs: mcu ÷ plain 1.17
   * with mcu second, 0.95 with plain second; with the untimed run first 1.05 and 1.06).
   */
  const timedRun = async (f) => {
    await f();
    await pause();
    const t = performance.now();
    await f();
    return performance.now() - t;
  };
  for (let k = 0; k < pairCount; k++) {
    // the order alternates (plain first in even pairs, mcu first in odd ones): whatever the run
    // before leaves behind (caches, the allocator's state) falls on both alike
    let tPlain;
    let tMcu;
    if (k % 2 === 0) {
      tPlain = await timedRun(run);
      tMcu = await timedRun(runMcu);
    } else {
      tMcu = await timedRun(runMcu);
      tPlain = await timedRun(run);
    }
    times.push(tPlain);
    mcuTimes.push(tMcu);
    pairs.push(tMcu / tPlain);
  }
  const two = Math.min(2, m.N);
  const ref = (await session.run({ [m.inputName]: new ort.Tensor('float32', m.data.slice(0, two * per), [two, ...m.rowDims]) }))[session.outputNames[0]].data;
  await session.release();
  const check = torchCase(m.key)?.check;
  const rebuild =
    check === undefined
      ? 'not available'
      : check.length !== ref.length
        ? `sizes differ (${check.length} vs ${ref.length})`
        : `${Math.max(...check.map((v, i) => Math.abs(v - ref[i]))).toExponential(1)} (${Math.max(...Array.from(ref, Math.abs)).toExponential(1)})`;
  const plain = median(times);
  const r = results[m.key];
  r.plain = plain;
  r.overheadMcu = median(mcuTimes);
  r.overhead = median(pairs);
  md.push(
    `| ${m.name} | ${T * m.N} | ${fmtS(plain)} | ${fmtS(r.overheadMcu)} | ${r.overhead.toFixed(2)}× | ${Math.min(...pairs).toFixed(2)}–${Math.max(...pairs).toFixed(2)}× (${pairs.length} pair${pairs.length === 1 ? '' : 's'}) | ${rebuild} |`,
  );
  log(`  ${m.name}: plain ${fmtS(plain)}, mcu ${fmtS(r.overheadMcu)}, ${r.overhead.toFixed(2)}×`);
}
md.push('');

// ------------------------------------------------------------------ 3. fixed cost, memory, scaling
log('3. fixed cost, memory, scaling …');
md.push('## 3. Fixed cost, memory and scaling', '');
const example = models[0];
const exampleCsv = join(root, 'examples/co2-months.csv');
// cold = an empty cache folder every run (prepare + write), warm = the folder of the previous runs (a hit)
// once the CLI caches by default (--cache-dir, --no-cache), "no cache" must say so
const noCache = spawnSync(process.execPath, [bin, 'predict', '--help'], { encoding: 'utf8' }).stdout.includes('--no-cache') ? ['--no-cache'] : [];
const predict1 = (...extra) => [bin, 'predict', example.path, '--input', exampleCsv, '--samples', '1', '--quiet', ...extra];
const warmConfig = cacheConfig(join(tmp, 'cache-warm'));
timeProcess(predict1('--config', warmConfig)); // fills the warm folder
const fixed = { bare: [], predict: [], cold: [], warm: [] };
for (let k = 0; k < FIXED_ROUNDS; k++) {
  fixed.bare.push(timeProcess(['-e', '0']));
  fixed.predict.push(timeProcess(predict1(...noCache)));
  fixed.cold.push(timeProcess(predict1('--config', cacheConfig(join(tmp, `cache-cold-${k}`)))));
  fixed.warm.push(timeProcess(predict1('--config', warmConfig)));
}
const bare = median(fixed.bare);
md.push('### Fixed cost', '');
md.push(
  `Wall time of a whole process (medians of ${fixed.bare.length}, interleaved as bench/startup.mjs does). The prepared-model cache is given by a config file (\`backendOptions.onnx.cacheDir\`): cold = an empty folder each run (the model is prepared and written), warm = a folder holding the entry (the rewrite is skipped).`,
  '',
);
md.push('| command | time | over bare node |', '|---|---|---|');
md.push(`| \`node -e 0\` | ${fmtS(bare)} | — |`);
for (const [what, key] of [
  ['no cache', 'predict'],
  ['cache cold', 'cold'],
  ['cache warm', 'warm'],
]) {
  const t = median(fixed[key]);
  fixed[`${key}Ms`] = t;
  md.push(`| \`mcu predict\` bundled example, 13 rows, T = 1, ${what} | ${fmtS(t)} | +${fmtS(t - bare)} (${ratio(t, bare)}) |`);
}
md.push('');

// peak RSS of a child: a preload reports process.resourceUsage().maxRSS (KiB) when it exits
const preload = join(tmp, 'maxrss.cjs');
writeFileSync(preload, "process.on('exit', () => require('node:fs').writeSync(2, '\\nmcu-bench-maxrss ' + process.resourceUsage().maxRSS + '\\n'));\n");
const peakKiB = (samples) => {
  // Through sh, which forks node from its own small image: a child forked straight from this
  // process would start with this process's RSS as its high-water mark (kept across exec).
  const r = spawnSync('/bin/sh', ['-c', '"$@"; exit $?', 'sh', process.execPath, '--require', preload, ...cliArgs(example, samples, 'sample')], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  const hit = /mcu-bench-maxrss (\d+)/.exec(r.stderr ?? '');
  if (r.status !== 0 || !hit) throw new Error(`peak RSS of mcu predict --samples ${samples} not measured: ${r.stderr}`);
  return Number(hit[1]);
};
md.push('### Memory', '');
md.push(`Peak RSS of \`mcu predict\` on ${example.name}, N = ${example.N} (one process each, started by /bin/sh; its process.resourceUsage().maxRSS).`, '');
md.push('| T | peak RSS |', '|---|---|');
const peaks = memoryT.map((s) => [s, peakKiB(s)]);
for (const [s, kib] of peaks) md.push(`| ${s} | ${(kib / 1024).toFixed(1)} MiB |`);
md.push('', `Peak RSS at T = ${peaks[1][0]} ÷ at T = ${peaks[0][0]}: ${ratio(peaks[1][1], peaks[0][1])}.`, '');
log(`  peak RSS ${peaks.map(([s, k]) => `T=${s}: ${(k / 1024).toFixed(0)} MiB`).join(', ')}`);

md.push('### Scaling with T', '');
md.push(`The mcu engine in-process on ${example.name}, N = ${example.N}, per-sample masks; limit = countFlops (trunk once) ÷ the sgemm rate.`, '');
md.push('| T | mcu engine | per sample | limit | ÷ limit |', '|---|---|---|---|---|');
for (const s of scalingT) {
  const [ms] = await engineMs(example, s, ['sample']);
  const lim = limitMs(example.flops.forSamples(s) * example.N);
  md.push(`| ${s} | ${fmtS(ms)} | ${fmtS(ms / s)} | ${fmtS(lim)} | ${ratio(ms, lim)} |`);
  log(`  T = ${s}: ${fmtS(ms)}`);
}
md.push('');

md.push('### Scaling with N', '');
md.push(`The mcu engine in-process on ${example.name}, T = ${T}, per-sample masks; limit as above.`, '');
md.push('| N | mcu engine | per row | limit | ÷ limit |', '|---|---|---|---|---|');
for (const n of scalingN) {
  const dims = [n, ...example.rowDims];
  const [ms] = await engineMs({ ...example, N: n, dims, data: rows(dims) }, T, ['sample']);
  const lim = limitMs(example.flops.forSamples(T) * n);
  md.push(`| ${n} | ${fmtS(ms)} | ${fmtS(ms / n)} | ${fmtS(lim)} | ${ratio(ms, lim)} |`);
  log(`  N = ${n}: ${fmtS(ms)}`);
}
md.push('');
await mcu.dispose();

// ------------------------------------------------------------------ 4. targets
md.push('## 4. Targets of issue 14', '');
md.push(
  'Each figure from the sections above: the whole `mcu predict` process against PyTorch compute, as item 3 states; the overhead (acceptance) as section 2 measures it, mcu and plain onnxruntime interleaved.',
  '',
);
md.push('| target | measured | met |', '|---|---|---|');
const target = (what, value, limit, shown) => md.push(`| ${what} | ${shown} | ${value === undefined ? 'not available' : value <= limit ? 'yes' : 'no'} |`);
for (const m of models) {
  const r = results[m.key];
  target(`${m.name}: mcu engine ÷ plain onnxruntime-node ≤ 1.10`, r.overhead, 1.1, r.overhead === undefined ? 'not available' : `${r.overhead.toFixed(2)}×`);
}
for (const [what, key] of [
  ['no cache', 'predictMs'],
  ['cache warm', 'warmMs'],
]) {
  target(`\`mcu predict\` T = 1 on the co2 example ≤ 0.25 s wall (${what})`, fixed[key] / 1000, 0.25, `${fmtS(fixed[key])} (bare node ${fmtS(bare)})`);
}
{
  const r = results.lenet;
  const q = r.torch?.trunk_ms === undefined ? undefined : r.procSample / r.torch.trunk_ms;
  target(
    `LeNet T = ${T}, N = ${models.find((m) => m.key === 'lenet').N}: \`mcu predict\` process ≤ 0.5 × PyTorch trunk once`,
    q,
    0.5,
    ratio(r.procSample, r.torch?.trunk_ms),
  );
}
for (const key of ['co2-512', 'co2-1024']) {
  const r = results[key];
  if (r === undefined) continue;
  const name = models.find((m) => m.key === key).name;
  const q = r.torch?.batched_ms === undefined ? undefined : r.engineSample / r.torch.batched_ms;
  target(`${name}: mcu engine ≤ 0.3 × PyTorch batched`, q, 0.3, ratio(r.engineSample, r.torch?.batched_ms));
  const qp = r.torch?.batched_ms === undefined ? undefined : r.procSample / r.torch.batched_ms;
  target(`${name}: \`mcu predict\` process ≤ 0.3 × PyTorch batched`, qp, 0.3, ratio(r.procSample, r.torch?.batched_ms));
}
md.push('');
md.push(
  `The suite ran for ${((performance.now() - startedAt) / 1000).toFixed(0)} s; 1-minute load average ${loadAtStart.toFixed(2)} at its start and ${os.loadavg()[0].toFixed(2)} at its end (the suite itself keeps up to ${cores} cores busy; a load well above ${cores} means other work shared the machine).`,
  '',
);

writeFileSync(outFile, `${md.join('\n')}\n`);
log(`wrote ${relative(process.cwd(), outFile) || outFile}`);
