#!/usr/bin/env node
// mcu on a GPU (issue 14 item 4): the engine on onnxruntime-node's WebGPU execution provider
// against PyTorch CUDA's batched MC dropout, in ONE run on the machine it reports.
//   node gpu.mjs --data DIR [--ep webgpu|cpu] [--runs R] [--tiny] [--out FILE.json] [--md FILE.md]
// DIR is what bench/gpu-prepare.mjs wrote (manifest.json, the models, their JSON graphs, inputs,
// torch_bench.py and this file bundled; co2 4×1024 is rebuilt into DIR/generated/ first, its
// bytes checked against gpu-prepare's hash); see bench/README.md "GPU". Per network:
//   1. the mcu engine (`predict`, T samples, seed 1, masks per sample) on the EP: in-graph
//      reductions by default, forced on, forced off, and a 1 GiB memory budget; medians of R runs
//      after a warm-up; each mode also once on the cpu EP, and the largest difference of the
//      means / variances (same seed: the same masks) against it;
//   2. a plain onnxruntime-node session of the network without dropout on the T·N rows, on the
//      same EP (the overhead baseline; its output on 2 rows checks PyTorch's rebuild);
//   3. webgpu only: that plain session with WebGPU EP options (buffer cache modes, validation).
// Each runs in a process of its own (this file with --worker): onnxruntime keeps one WebGPU
// context per process, created with the options of the first session that asks for it, so
// options compared in one process would all be the first one's; and a crash of one costs one row.
// Then bench/torch_bench.py (the interpreter in MCU_GPU_PYTHON, default python3; torch and numpy
// only: it reads the JSON graphs) on cuda when torch.cuda.is_available(), else on the cpu.
// Order: the engine, the plain sessions, PyTorch, then the WebGPU options; past --deadline (480 s)
// the rest is skipped, inside the device tool's 600 s for one command. Writes everything to --out
// (JSON) and a readable table to --md, both rewritten after every step (a run cut short leaves what
// it measured). Every figure is measured in this run.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onnxModule, optOutOfOrtTelemetry } from '@mcu/backend-onnx';
import { createMcu, predict } from '@mcu/core';
import { writeWidenedCo2 } from './co2-wide.mjs';
import { readNpy, writeGraphJson, writeNpy } from './onnx-json.mjs';
import { withoutDropout } from './plain-model.mjs';

const self = fileURLToPath(import.meta.url);
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const option = (name, fallback) => {
  const at = argv.indexOf(name);
  return at >= 0 && at + 1 < argv.length ? argv[at + 1] : fallback;
};
const log = (s) => process.stderr.write(`${s}\n`);
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length === 0 ? undefined : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const describe = (e) => (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 500);

const USAGE = `node gpu.mjs --data DIR [--ep webgpu|cpu] [--runs R] [--tiny] [--out FILE.json] [--md FILE.md]
  [--torch-device auto|cuda|cpu] [--worker-timeout S] [--deadline S]
DIR: written by bench/gpu-prepare.mjs. --tiny: T ≤ 5, N ≤ 20, 1 run (a smoke test).
MCU_GPU_PYTHON: the interpreter for torch_bench.py (default python3).`;

// the in-graph reduction modes of section 1 (run options of predict)
const MODES = [
  { key: 'auto', label: 'default (in-graph reductions by run size)', options: {} },
  { key: 'on', label: 'in-graph reductions on', options: { reduceInGraph: true } },
  { key: 'off', label: 'in-graph reductions off (raw samples)', options: { reduceInGraph: false } },
  // a GPU takes far larger calls than the CPU-sized default budget (256 MiB)
  { key: 'budget-1g', label: 'default, memoryBudgetBytes 1 GiB', options: { memoryBudgetBytes: 2 ** 30 } },
];
// section 3: WebGPU EP options tried on the plain session (onnxruntime-node passes these names
// through; a refused one is recorded as its error), and under `session` two session options:
// outputs left on the GPU (read back only for the 2-row check, disposed after every run) and
// graph capture (which wants its inputs on the GPU too: Node has no GPUBuffer to give it, so
// its error is the finding)
const VARIANTS = [
  ...['disabled', 'lazyRelease', 'simple', 'bucket'].map((mode) => ({ storageBufferCacheMode: mode })),
  ...['disabled', 'basic'].map((mode) => ({ validationMode: mode })),
  { preferredLayout: 'NCHW' },
  { session: { preferredOutputLocation: 'gpu-buffer' } },
  { session: { enableGraphCapture: true } },
];
// plain sessions get at most this many rows per call (as bench/suite.mjs), fewer if that fails
const PLAIN_ROWS_PER_CALL = [16384, 2048];

// ------------------------------------------------------------------ data
/**
 * The networks gpu-prepare did not ship (co2 4×1024: too large for the device tool's carry),
 * rebuilt into DIR/generated/ by the same code that wrote them there, and checked byte for byte.
 */
function generate(dir, manifest) {
  const out = join(dir, 'generated');
  mkdirSync(out, { recursive: true });
  for (const m of manifest.models) {
    if (m.generate === undefined) continue;
    const path = writeWidenedCo2(dir, out, m.generate.width);
    const hash = createHash('sha256').update(readFileSync(path)).digest('hex');
    if (hash !== m.generate.sha256) throw new Error(`${path}: rebuilt with sha256 ${hash}, gpu-prepare's was ${m.generate.sha256}`);
    writeGraphJson(path, out);
  }
}

function readManifest() {
  const dir = resolve(option('--data', '.'));
  return { dir, manifest: JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) };
}

function loadData() {
  const { dir, manifest } = readManifest();
  const tiny = flag('--tiny');
  const models = manifest.models.map((m) => {
    const at = m.generate !== undefined ? join(dir, 'generated') : dir;
    const T = tiny ? Math.min(m.T, 5) : m.T;
    const N = tiny ? Math.min(m.N, 20) : m.N;
    const x = readNpy(join(dir, m.input));
    const per = m.rowDims.reduce((a, b) => a * b, 1);
    if (x.data.length < N * per) throw new Error(`${m.input}: ${x.data.length} values, ${N} rows of ${per} needed`);
    return {
      ...m,
      T,
      N,
      dims: [N, ...m.rowDims],
      per,
      data: x.data.subarray(0, N * per),
      path: join(at, m.onnx),
      graphPath: join(at, m.graph),
      inputPath: join(dir, m.input),
    };
  });
  return { dir, manifest, models, tiny };
}

function loadOrt() {
  optOutOfOrtTelemetry(); // as @mcu/backend-onnx does before onnxruntime starts
  return createRequire(self)('onnxruntime-node');
}

/** Element-wise: the largest |a − b| over the largest |b| (b: the cpu reference). */
function relDiff(a, b) {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return m > 0 ? d / m : d;
}
/** The arrays compared against the cpu EP: the means and their spread. */
function moments(result) {
  const out = {};
  for (const [name, o] of Object.entries(result.outputs)) {
    if (o.task === 'regression') Object.assign(out, { [`${name}.mean`]: o.mean, [`${name}.variance`]: o.variance });
    else Object.assign(out, { [`${name}.probs`]: o.probs, [`${name}.probsStandardError`]: o.probsStandardError });
  }
  return out;
}

// ------------------------------------------------------------------ workers (one process each)
/** Section 1 for one network: the engine per mode on the EP, then each mode once on the cpu EP. */
async function mcuWorker(m, ep, R) {
  const out = { ep, modes: [] };
  const mcu = createMcu({ backends: ['onnx'], modules: [onnxModule] });
  const source = { kind: 'path', path: m.path };
  const inputs = { [m.inputName]: { data: m.data, dims: m.dims } };
  const t0 = performance.now();
  const model = await mcu.load(source, { executionProviders: [ep] });
  out.loadMs = performance.now() - t0;
  // which path each call took: runReduced (in-graph reductions) or run (raw samples)
  const calls = { reduced: 0, raw: 0 };
  const run = model.run.bind(model);
  model.run = (...a) => {
    calls.raw++;
    return run(...a);
  };
  if (typeof model.runReduced === 'function') {
    const runReduced = model.runReduced.bind(model);
    model.runReduced = async (...a) => {
      const r = await runReduced(...a);
      if (r !== null) calls.reduced++;
      return r;
    };
  }
  const go = (mcuOf, mode) => predict(mcuOf.model, inputs, { mcu: mcuOf.mcu, samples: m.T, seed: 1, scope: 'sample', task: m.task, ...mode.options });
  const states = [];
  for (const mode of MODES) {
    const s = { key: mode.key, label: mode.label, options: mode.options, timesMs: [] };
    states.push(s);
    try {
      const w0 = performance.now();
      const r = await go({ mcu, model }, mode);
      s.warmupMs = performance.now() - w0;
      s.executionProvider = r.meta.executionProvider;
      s.chunkSamples = r.meta.chunkSamples;
      s.last = r;
    } catch (e) {
      s.error = describe(e);
      log(`    ${m.key} ${mode.key}: ${s.error}`);
    }
  }
  // interleaved rounds: the machine's noise hits every mode alike
  for (let k = 0; k < R; k++) {
    for (const [i, mode] of MODES.entries()) {
      const s = states[i];
      if (s.error) continue;
      try {
        calls.reduced = 0;
        calls.raw = 0;
        const a = performance.now();
        s.last = await go({ mcu, model }, mode);
        s.timesMs.push(performance.now() - a);
        s.calls = { ...calls }; // of a timed run: the warm-up's include the self-check's
      } catch (e) {
        s.error = describe(e);
      }
    }
  }
  // the reference: the same runs on the cpu EP, once each
  let cpu;
  try {
    cpu = { mcu, model: await mcu.load(source, { executionProviders: ['cpu'] }) };
  } catch (e) {
    out.referenceError = describe(e);
  }
  for (const [i, mode] of MODES.entries()) {
    const s = states[i];
    const entry = { key: s.key, label: s.label, options: s.options, timesMs: s.timesMs, medianMs: median(s.timesMs) };
    for (const f of ['warmupMs', 'calls', 'executionProvider', 'chunkSamples', 'error']) if (s[f] !== undefined) entry[f] = s[f];
    if (cpu !== undefined && s.last !== undefined) {
      try {
        const a = performance.now();
        const ref = await go(cpu, mode);
        const ours = moments(s.last);
        const theirs = moments(ref);
        const diffs = Object.fromEntries(Object.keys(theirs).map((k) => [k, relDiff(ours[k] ?? [], theirs[k])]));
        entry.reference = { ep: 'cpu', ms: performance.now() - a, relDiff: diffs, maxRelDiff: Math.max(...Object.values(diffs)) };
      } catch (e) {
        entry.reference = { ep: 'cpu', error: describe(e) };
      }
    }
    out.modes.push(entry);
    log(
      `    ${m.key} ${s.key}: ${entry.error ?? `${entry.medianMs?.toFixed(1)} ms on ${entry.executionProvider}, calls ${JSON.stringify(entry.calls)}, vs cpu ${entry.reference?.maxRelDiff?.toExponential(1) ?? entry.reference?.error}`}`,
    );
  }
  await mcu.dispose();
  return out;
}

/** An output's values, read back from the GPU where it was left there (preferredOutputLocation). */
async function valuesOf(t) {
  return t.location === undefined || t.location === 'cpu' ? t.data : await t.getData(true);
}

/** Free what a run returned (GPU buffers with preferredOutputLocation 'gpu-buffer'; a no-op cost on the CPU). */
function release(results) {
  for (const t of Object.values(results)) t.dispose?.();
}

/** Sections 2 and 3: a plain session of the network without dropout on T·N rows (with `sessionOptions`, section 3's session rows). */
async function plainWorker(m, epOption, R, sessionOptions = {}) {
  const ort = loadOrt();
  const out = { option: epOption, session: sessionOptions, errors: [] };
  const bytes = withoutDropout(m.path);
  for (const cap of PLAIN_ROWS_PER_CALL) {
    let session;
    try {
      const t0 = performance.now();
      session = await ort.InferenceSession.create(bytes, {
        executionProviders: [epOption],
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
        ...sessionOptions,
      });
      out.createMs = performance.now() - t0;
    } catch (e) {
      // refused options and a provider that does not start: fewer rows would not help
      out.error = `creating the session: ${describe(e)}`;
      return out;
    }
    try {
      const chunk = Math.max(1, Math.min(m.T, Math.floor(cap / m.N)));
      const xs = new Float32Array(chunk * m.data.length);
      for (let s = 0; s < chunk; s++) xs.set(m.data, s * m.data.length);
      const run = async () => {
        for (let s0 = 0; s0 < m.T; s0 += chunk) {
          const s = Math.min(chunk, m.T - s0);
          release(await session.run({ [m.inputName]: new ort.Tensor('float32', xs.subarray(0, s * m.N * m.per), [s * m.N, ...m.rowDims]) }));
        }
      };
      const w0 = performance.now();
      await run();
      out.warmupMs = performance.now() - w0;
      const times = [];
      for (let k = 0; k < R; k++) {
        const a = performance.now();
        await run();
        times.push(performance.now() - a);
      }
      const two = Math.min(2, m.N);
      const ref = await session.run({ [m.inputName]: new ort.Tensor('float32', m.data.slice(0, two * m.per), [two, ...m.rowDims]) });
      Object.assign(out, {
        rowsPerCall: chunk * m.N,
        calls: Math.ceil(m.T / chunk),
        timesMs: times,
        medianMs: median(times),
        check: Array.from(await valuesOf(ref[session.outputNames[0]])),
        // where onnxruntime left the output: an ignored preferredOutputLocation shows as 'cpu'
        outputLocation: ref[session.outputNames[0]].location ?? 'cpu',
      });
      release(ref);
      await session.release();
      return out;
    } catch (e) {
      out.errors.push(`${cap} rows per call: ${describe(e)}`);
      await session?.release().catch(() => {});
    }
  }
  out.error = out.errors.at(-1);
  return out;
}

async function workerMain() {
  const { models } = loadData();
  const m = models.find((x) => x.key === option('--model'));
  if (m === undefined) throw new Error(`--model ${option('--model')}: not in the manifest`);
  const R = Number(option('--runs'));
  let result;
  try {
    result =
      option('--worker') === 'mcu'
        ? await mcuWorker(m, option('--ep'), R)
        : await plainWorker(m, JSON.parse(option('--ep-option')), R, JSON.parse(option('--session-option') ?? '{}'));
  } catch (e) {
    // e.g. the provider does not start: the row says why, the run goes on
    result = { error: describe(e) };
  }
  writeFileSync(option('--result'), JSON.stringify(result));
}

// ------------------------------------------------------------------ the run
async function main() {
  const started = performance.now();
  const startedOn = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const { dir, manifest } = readManifest();
  generate(dir, manifest);
  const { models, tiny } = loadData();
  const ep = option('--ep', 'webgpu');
  const R = Number(option('--runs', tiny ? 1 : 5));
  if (!(Number.isInteger(R) && R >= 1)) throw new Error(`--runs ${option('--runs')}: an integer ≥ 1`);
  const outFile = resolve(option('--out', 'gpu-results.json'));
  const mdFile = resolve(option('--md', outFile.replace(/\.json$/i, '').concat('.md')));
  const workerTimeoutS = Number(option('--worker-timeout', tiny ? 120 : 180));
  const deadlineS = Number(option('--deadline', tiny ? 600 : 480));
  const python = process.env.MCU_GPU_PYTHON || 'python3';
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  const tmp = mkdtempSync(join(os.tmpdir(), 'mcu-gpu-'));
  process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
  const command = `node ${process.argv.slice(1).join(' ')}`;

  // ---- machine
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores,
    memoryGiB: os.totalmem() / 2 ** 30,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    env: Object.fromEntries(['VK_DRIVER_FILES', 'NODE_PATH'].filter((k) => process.env[k]).map((k) => [k, process.env[k]])),
  };
  try {
    const req = createRequire(self);
    machine.onnxruntimeNode = req('onnxruntime-node/package.json').version;
  } catch (e) {
    machine.onnxruntimeNode = `not found (${describe(e)})`;
  }
  const smi = spawnSync('nvidia-smi', ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader'], { encoding: 'utf8', timeout: 30_000 });
  if (smi.status === 0) {
    machine.gpus = smi.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [name, memory, driver] = line.split(',').map((s) => s.trim());
        return { name, memory, driver };
      });
  } else machine.gpuError = `nvidia-smi: ${smi.error ? smi.error.code : (smi.stderr || smi.stdout).trim().split('\n').pop() || `exit ${smi.status}`}`;
  log(`mcu GPU benchmark${tiny ? ' (--tiny)' : ''}: ep ${ep}, medians of ${R}, ${machine.gpus?.[0]?.name ?? machine.gpuError}`);

  const report = {
    generatedBy: command,
    startedAt: startedOn,
    config: { data: dir, ep, runs: R, tiny, manifestTiny: manifest.tiny === true, modes: MODES, variants: ep === 'webgpu' ? VARIANTS : [] },
    machine,
    models: {},
    torch: null,
    targets: [],
  };
  for (const f of [outFile, mdFile]) mkdirSync(dirname(f), { recursive: true });
  const save = () => {
    report.elapsedS = (performance.now() - started) / 1000;
    summarise(report, models);
    writeFileSync(outFile, `${JSON.stringify(report, null, 1)}\n`);
    writeFileSync(mdFile, markdown(report, models));
  };

  let workers = 0;
  // past the deadline the remaining steps are skipped, so that the report is written inside the
  // device tool's limit for one command (600 s); each worker also has a limit of its own
  const left = () => deadlineS - (performance.now() - started) / 1000;
  const worker = (args, label) => {
    if (left() < 5) return { error: `${label}: skipped, past the --deadline of ${deadlineS} s` };
    const limitS = Math.min(workerTimeoutS, left());
    const result = join(tmp, `worker-${workers++}.json`);
    const r = spawnSync(process.execPath, [self, '--worker', ...args, '--data', dir, '--runs', String(R), '--result', result, ...(tiny ? ['--tiny'] : [])], {
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: Math.ceil(limitS * 1000),
    });
    if (r.error)
      return { error: `${label}: ${r.error.code === 'ETIMEDOUT' ? `stopped after ${limitS.toFixed(0)} s (--worker-timeout, --deadline)` : r.error.message}` };
    if (r.status !== 0) return { error: `${label}: the worker exited with ${r.status ?? r.signal}` };
    try {
      return JSON.parse(readFileSync(result, 'utf8'));
    } catch (e) {
      return { error: `${label}: no result (${describe(e)})` };
    }
  };

  // the figures the targets need first (mcu, then PyTorch), the WebGPU options last
  for (const m of models) {
    const entry = { name: m.name, T: m.T, N: m.N, task: m.task, source: m.source, variants: [] };
    report.models[m.key] = entry;
    log(`  ${m.name}, T = ${m.T}, N = ${m.N}: mcu engine on ${ep} …`);
    entry.mcu = worker(['mcu', '--model', m.key, '--ep', ep], `${m.key} mcu`);
    if (entry.mcu.error) log(`    ${entry.mcu.error}`);
    save();
  }
  for (const m of models) {
    const entry = report.models[m.key];
    log(`  ${m.key}: plain onnxruntime-node on ${ep} …`);
    entry.plain = worker(['plain', '--model', m.key, '--ep-option', JSON.stringify(ep)], `${m.key} plain`);
    log(`    ${entry.plain.error ?? `${entry.plain.medianMs.toFixed(1)} ms, ${entry.plain.rowsPerCall} rows per call`}`);
    save();
  }

  // ---- PyTorch
  log('  PyTorch …');
  const torchDevice = option('--torch-device', 'auto');
  const probe = spawnSync(python, ['-c', 'import torch, numpy; print(int(torch.cuda.is_available()))'], { encoding: 'utf8', timeout: 120_000 });
  if (probe.error || probe.status !== 0) {
    report.torch = { why: probe.error ? `${python}: ${probe.error.code}` : `${python}: ${probe.stderr.trim().split('\n').pop() ?? 'import failed'}` };
  } else if (left() < 5) {
    report.torch = { why: `skipped, past the --deadline of ${deadlineS} s` };
  } else {
    const device = torchDevice === 'auto' ? (probe.stdout.trim() === '1' ? 'cuda' : 'cpu') : torchDevice;
    const cases = models.map((m) => {
      // --tiny reads the first N rows: PyTorch gets the same rows in a file of their own
      let input = m.inputPath;
      if (m.data.length !== readNpy(m.inputPath).data.length) {
        input = join(tmp, `${m.key}-${m.N}.npy`);
        writeNpy(input, m.data, m.dims);
      }
      return { name: m.key, model: m.graphPath, input, samples: m.T, repeats: R };
    });
    // a GPU wants far larger calls than the CPU's cache-sized ones
    const spec = { threads: cores, device, ...(device === 'cuda' ? { row_budget_bytes: 2 ** 30 } : {}), sgemm_repeats: tiny ? 5 : 20, cases };
    const specFile = join(tmp, 'torch-spec.json');
    writeFileSync(specFile, JSON.stringify(spec));
    const r = spawnSync(python, [join(dir, manifest.torchBench ?? 'torch_bench.py'), specFile], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
      timeout: Math.ceil(Math.min(2 * workerTimeoutS, left()) * 1000),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (r.error || r.status !== 0) report.torch = { spec, why: `torch_bench.py failed: ${r.error ? r.error.message : r.stderr.trim().split('\n').pop()}` };
    else report.torch = { spec, ...JSON.parse(r.stdout) };
  }
  if (report.torch.why) log(`    PyTorch not available: ${report.torch.why}`);
  else log(`    torch ${report.torch.torch} on ${report.torch.device} (${report.torch.device_name})`);
  save();

  if (ep === 'webgpu') {
    for (const m of models) {
      log(`  ${m.key}: WebGPU EP options on the plain session …`);
      for (const v of [{}, ...VARIANTS]) {
        const { session: sessionOptions = {}, ...epOptions } = v;
        const epOption = { name: 'webgpu', ...epOptions };
        const r = worker(
          ['plain', '--model', m.key, '--ep-option', JSON.stringify(epOption), '--session-option', JSON.stringify(sessionOptions)],
          `${m.key} ${JSON.stringify(v)}`,
        );
        delete r.check;
        report.models[m.key].variants.push({ ...r, option: epOption, session: sessionOptions });
        log(`    ${JSON.stringify(v)}: ${r.error ?? `${r.medianMs.toFixed(1)} ms`}`);
        save();
      }
    }
  }
  report.finishedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  save();
  log(`  wrote ${outFile} and ${mdFile} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
}

/** Ratios, PyTorch's check and the targets from what the report holds so far. */
function summarise(report, models) {
  const ep = report.config.ep;
  for (const m of models) {
    const entry = report.models[m.key];
    if (entry === undefined) continue;
    const tc = report.torch?.cases?.find((c) => c.name === m.key);
    entry.torch = tc ?? null;
    const mcuMs = Object.fromEntries((entry.mcu?.modes ?? []).filter((x) => x.medianMs !== undefined).map((x) => [x.key, x.medianMs]));
    const ratio = (a, b) => (a === undefined || b === undefined ? null : a / b);
    entry.ratios = {
      mcuOverPlain: ratio(mcuMs.auto, entry.plain?.medianMs),
      mcuOverTorchBatched: ratio(mcuMs.auto, tc?.batched_ms),
      mcuOverTorchTrunk: ratio(mcuMs.auto, tc?.trunk_ms),
      mcuOverTorchTrunkSample: ratio(mcuMs.auto, tc?.trunk_sample_ms),
      bestMode: Object.entries(mcuMs).sort((a, b) => a[1] - b[1])[0]?.[0] ?? null,
    };
    entry.ratios.bestOverTorchBatched = ratio(mcuMs[entry.ratios.bestMode], tc?.batched_ms);
    // PyTorch's rebuild against this onnxruntime session (2 rows, dropout off), as bench/suite.mjs
    const ref = entry.plain?.check;
    if (tc?.check !== undefined && ref !== undefined) {
      const diff = tc.check.length === ref.length ? Math.max(...tc.check.map((v, i) => Math.abs(v - ref[i]))) : Number.POSITIVE_INFINITY;
      const largest = Math.max(...ref.map(Math.abs));
      entry.check = { maxAbsDiff: diff, largest, relative: diff / Math.max(largest, Number.MIN_VALUE) };
    }
  }
  const target = (key, what, limit, strict) => {
    const entry = report.models[key];
    const value = entry?.ratios?.mcuOverTorchBatched ?? null;
    return {
      model: key,
      target: `${entry?.name ?? key}: mcu engine (${ep}) ÷ PyTorch batched (${report.torch?.device ?? 'not available'}) ${strict ? '<' : '≤'} ${limit.toFixed(1)}`,
      what,
      limit,
      value,
      met: value === null ? null : strict ? value < limit : value <= limit,
    };
  };
  report.targets = [target('co2-1024', 'co2 4×1024 within 1.5× of PyTorch', 1.5, false), target('lenet', 'LeNet faster than PyTorch', 1.0, true)];
}

// ------------------------------------------------------------------ the report
function markdown(report, models) {
  const fmt = (ms) => (ms === undefined || ms === null ? 'not available' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
  const x = (r) => (r === undefined || r === null ? 'not available' : `${r.toFixed(2)}×`);
  const e = (v) => (v === undefined || v === null ? 'not available' : v.toExponential(1));
  const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const { machine, config, torch } = report;
  const md = ['# mcu on a GPU: the WebGPU execution provider against PyTorch', ''];
  md.push(
    `Generated by \`${report.generatedBy}\` starting ${report.startedAt}${report.finishedAt ? `, finished ${report.finishedAt}` : ' (not finished: what it measured so far)'}; every number below was measured in that run (medians of ${config.runs} run${config.runs > 1 ? 's' : ''} after one warm-up; each configuration in a process of its own).`,
    '',
  );
  md.push('## Machine', '');
  if (machine.gpus?.length) for (const g of machine.gpus) md.push(`- GPU: ${g.name}, ${g.memory}, driver ${g.driver} (nvidia-smi)`);
  else md.push(`- GPU: not available (${machine.gpuError})`);
  md.push(`- CPU: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB.toFixed(1)} GiB; ${machine.os}`);
  md.push(`- Node ${machine.node}, onnxruntime-node ${machine.onnxruntimeNode}; mcu's execution provider: ${config.ep}`);
  if (torch === null) md.push('- PyTorch: not run yet');
  else if (torch.why) md.push(`- PyTorch: not available (${torch.why})`);
  else {
    md.push(
      `- PyTorch ${torch.torch} (numpy ${torch.numpy}, onnx ${torch.onnx}) on ${torch.device}: ${torch.device_name}${torch.cuda ? `, CUDA ${torch.cuda}` : ''}${torch.tf32 ? `, TF32 matmul ${torch.tf32.matmul} / cuDNN ${torch.tf32.cudnn}` : ''}`,
    );
    md.push(`- sgemm rate on that device (1024×1024 float32 matmul, median): ${(torch.sgemm_flops_per_s / 1e9).toFixed(1)} GFLOP/s`);
  }
  if (config.tiny || config.manifestTiny)
    md.push(`- Note: a tiny configuration (${config.tiny ? '--tiny' : 'gpu-prepare --tiny'}): a smoke test, not the benchmark.`);
  md.push('');

  md.push('## Targets (issue 14 item 4)', '');
  md.push('| target | measured | met |', '|---|---|---|');
  for (const t of report.targets) md.push(`| ${cell(t.target)} | ${x(t.value)} | ${t.met === null ? 'not available' : t.met ? 'yes' : 'no'} |`);
  md.push('', 'The mcu figure is the engine with its defaults (the first mode below).', '');

  md.push(`## 1. mcu engine on ${config.ep}`, '');
  md.push(
    `\`predict\` from @mcu/core on a model loaded once, T samples, seed 1, one mask per sample ('sample'). Calls: backend calls by in-graph reductions / raw samples. The cpu EP column: the same run once on onnxruntime's cpu EP (same seed, the same masks) and the largest difference of the means and variances (regression) or class probabilities and their standard errors (classification), as max |Δ| ÷ max |cpu value|.`,
    '',
  );
  md.push(
    '| network | T | N | mode | median | range | samples per call | calls (reduced / raw) | cpu EP, 1 run | difference vs cpu EP |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const m of models) {
    const entry = report.models[m.key];
    if (entry?.mcu === undefined) continue;
    if (entry.mcu.error) {
      md.push(`| ${m.name} | ${m.T} | ${m.N} | all | failed: ${cell(entry.mcu.error)} | | | | | |`);
      continue;
    }
    for (const r of entry.mcu.modes) {
      const range = r.timesMs.length ? `${fmt(Math.min(...r.timesMs))}–${fmt(Math.max(...r.timesMs))}` : '';
      md.push(
        `| ${m.name} | ${m.T} | ${m.N} | ${r.label} | ${r.error ? `failed: ${cell(r.error)}` : fmt(r.medianMs)} | ${range} | ${r.chunkSamples ?? ''} | ${r.calls ? `${r.calls.reduced} / ${r.calls.raw}` : ''} | ${fmt(r.reference?.ms)} | ${r.reference?.error ? cell(r.reference.error) : e(r.reference?.maxRelDiff)} |`,
      );
    }
  }
  md.push('');

  md.push(`## 2. Plain onnxruntime-node on ${config.ep} (the overhead baseline)`, '');
  md.push('One InferenceSession of the network with its Dropout nodes as Identity, fed x repeated T times (T·N rows).', '');
  md.push('| network | T·N rows | rows per call | session create | plain | mcu engine ÷ plain |', '|---|---|---|---|---|---|');
  for (const m of models) {
    const entry = report.models[m.key];
    if (entry?.plain === undefined) continue;
    const p = entry.plain;
    md.push(
      `| ${m.name} | ${m.T * m.N} | ${p.rowsPerCall ?? ''} | ${fmt(p.createMs)} | ${p.error ? `failed: ${cell(p.error)}` : fmt(p.medianMs)} | ${x(entry.ratios?.mcuOverPlain)} |`,
    );
  }
  md.push('');

  if (config.variants.length) {
    md.push('## 3. WebGPU execution provider options (plain session)', '');
    md.push(
      "Each option alone on the plain session of section 2, each in a fresh process; ÷ default: against the session without options (first row). 'session …' rows are session options: outputs left on the GPU (disposed after every run) and graph capture.",
      '',
    );
    md.push('| network | option | plain | ÷ default | note |', '|---|---|---|---|---|');
    for (const m of models) {
      const vs = report.models[m.key]?.variants ?? [];
      const base = vs[0]?.medianMs;
      for (const v of vs) {
        const { name: _name, ...rest } = v.option;
        const pairs = [...Object.entries(rest), ...Object.entries(v.session ?? {}).map(([k, val]) => [`session ${k}`, val])];
        const shown = pairs.length ? pairs.map(([k, val]) => `${k}: ${val}`).join(', ') : 'default (no options)';
        const where = v.session?.preferredOutputLocation !== undefined && !v.error ? `outputs returned on: ${v.outputLocation ?? 'unknown'}` : undefined;
        const note = [...(v.errors ?? []).slice(0, v.error ? -1 : undefined), v.error, where].filter(Boolean).join('; ');
        md.push(
          `| ${m.name} | ${shown} | ${v.error ? 'refused or failed' : fmt(v.medianMs)} | ${v.error || base === undefined ? '' : x(v.medianMs / base)} | ${cell(note)} |`,
        );
      }
    }
    md.push('');
  }

  md.push('## 4. PyTorch (bench/torch_bench.py on the JSON graphs)', '');
  md.push(
    "batched = x repeated T times, dropout in train mode (a mask per row); trunk once = the layers before the first dropout on the N rows, the rest on T·N rows (a mask per row; and one per sample, as mcu's). Compute only; on cuda every clock read waits for the GPU. Check: its output on 2 rows with dropout off against section 2's session, max |Δ| (largest output).",
    '',
  );
  md.push(
    '| network | PyTorch batched | trunk once | trunk once, per sample | mcu ÷ batched | mcu ÷ trunk once | mcu ÷ trunk once, per sample | fastest mcu mode ÷ batched | check vs onnxruntime |',
    '|---|---|---|---|---|---|---|---|---|',
  );
  for (const m of models) {
    const entry = report.models[m.key];
    if (entry === undefined) continue;
    const tc = entry.torch;
    const r = entry.ratios ?? {};
    const best = r.bestMode ? `${x(r.bestOverTorchBatched)} (${r.bestMode})` : 'not available';
    md.push(
      `| ${m.name} | ${fmt(tc?.batched_ms)} | ${fmt(tc?.trunk_ms)} | ${fmt(tc?.trunk_sample_ms)} | ${x(r.mcuOverTorchBatched)} | ${x(r.mcuOverTorchTrunk)} | ${x(r.mcuOverTorchTrunkSample)} | ${best} | ${entry.check ? `${e(entry.check.maxAbsDiff)} (${e(entry.check.largest)})` : 'not available'} |`,
    );
  }
  md.push('');
  md.push(`Elapsed: ${report.elapsedS?.toFixed(0) ?? '?'} s.`, '');
  return md.join('\n');
}

if (flag('--help')) console.log(USAGE);
else if (flag('--probe')) {
  // gpu-prepare's check of the bundle: it starts, and onnxruntime-node resolves from it
  const ort = loadOrt();
  console.log(
    JSON.stringify({ node: process.version, onnxruntimeNode: createRequire(self)('onnxruntime-node/package.json').version, tensor: typeof ort.Tensor }),
  );
} else if (flag('--worker')) await workerMain();
else if (!flag('--data')) {
  console.error(USAGE);
  process.exit(2);
} else await main();
