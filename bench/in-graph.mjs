#!/usr/bin/env node
// Estimators inside the ONNX graph (issue 14, item 2), in ONE run, interleaved, medians of R:
// for co2 4×128 (the bundled example), co2 4×512 and LeNet, T = 100 samples (the UCI model: T = 10,000),
//   plain     one onnxruntime-node session of the network with its Dropout nodes replaced by
//             Identity, fed x repeated T times (T·N rows, ≤ 16384 rows per call; as
//             bench/suite.mjs section 2 measures it),
//   mcu JS    predict() with reduceInGraph: false (raw S·N·D outputs, the estimators' JS pass),
//   mcu graph predict() with the reductions appended to the graph (the default),
// and their ratios to plain (the overhead ratio). Then a profile of the mcu run: samples per
// call, the time inside the backend calls against the whole run, and both paths at other
// chunk sizes, next to plain onnxruntime on the same rows per call.
// co2 4×512 and LeNet are read from ../shared/fixtures when it is there, else from test/fixtures
// (the same PyTorch 1.13 exports, via @mcu/fixtures).
// Run after `pnpm -r build`:  node bench/in-graph.mjs [--tiny] [--only co2-512,lenet] [--runs R] [--no-profile]
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeModel, onnxModule } from '@mcu/backend-onnx';
import { ClassificationEstimator, createMcu, predict, RegressionEstimator } from '@mcu/core';
import { fixturePath, uciFixture } from '@mcu/fixtures';
import { withoutDropout } from './plain-model.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const shared = join(root, '..', 'shared', 'fixtures');
const argv = process.argv.slice(2);
const tiny = argv.includes('--tiny');
const onlyAt = argv.indexOf('--only');
const only = onlyAt >= 0 ? new Set(argv[onlyAt + 1].split(',')) : null;
const runsAt = argv.indexOf('--runs');
const R = runsAt >= 0 ? Math.max(1, Number(argv[runsAt + 1])) : tiny ? 1 : 5;
const profile = !argv.includes('--no-profile');
const T = tiny ? 5 : 100;
const PLAIN_ROWS_PER_CALL = 16384;
const cores = os.availableParallelism?.() ?? os.cpus().length;
const require = createRequire(join(root, 'packages/backend-onnx/package.json'));
const ort = require('onnxruntime-node');

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (v) => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(1)} ms`);
const x = (a, b) => `${(a / b).toFixed(2)}×`;

function from(sharedName, fixtureName) {
  const p = join(shared, sharedName);
  return existsSync(p) ? { path: p, where: '../shared/fixtures' } : { path: fixturePath(fixtureName), where: 'test/fixtures (../shared/fixtures is absent)' };
}
const co2Big = from('pytorch-1.13/co2_relu.preserve.onnx', 'pytorch-1.13/co2_relu.preserve.onnx');
const lenet = from('pytorch-1.13/lenet.preserve.onnx', 'pytorch-1.13/lenet.preserve.onnx');
/** bostonHousing split 0 on its 51 test rows at the paper's T = 10,000 for the UCI models (bench/suite.mjs's UCI row). */
function uciCase() {
  const uci = uciFixture('bostonHousing');
  const split = uci.splits[0];
  const data = Float32Array.from(split.testIndex.flatMap((i) => uci.featureIndex.map((f) => uci.data[i][f])));
  const n = split.testIndex.length;
  return {
    key: 'uci',
    name: 'UCI bostonHousing split 0, 1×50 (test/fixtures)',
    path: split.modelPath,
    rowDims: [uci.featureIndex.length],
    N: n,
    T: tiny ? 50 : 10000,
    data,
    task: 'regression',
    profileChunks: [100, 1000],
  };
}
const models = [
  {
    key: 'co2-128',
    name: 'co2_relu 4×128 (examples/)',
    path: join(root, 'examples/co2_relu.preserve.onnx'),
    rowDims: [1],
    N: tiny ? 50 : 741,
    task: 'regression',
  },
  { key: 'co2-512', name: `co2_relu 4×512 (${co2Big.where})`, path: co2Big.path, rowDims: [1], N: tiny ? 50 : 741, task: 'regression' },
  { key: 'lenet', name: `LeNet (${lenet.where})`, path: lenet.path, rowDims: [1, 28, 28], N: tiny ? 20 : 1000, task: 'classification' },
  uciCase(),
].filter((m) => only === null || only.has(m.key));

/** Plain onnxruntime on T·N rows, `perCall` samples' rows per call. */
function plainRunner(session, m, perCall) {
  const per = m.data.length / m.N;
  const xs = new Float32Array(perCall * m.data.length);
  for (let s = 0; s < perCall; s++) xs.set(m.data, s * m.data.length);
  const input = session.inputNames[0];
  return async () => {
    for (let s0 = 0; s0 < m.T; s0 += perCall) {
      const s = Math.min(perCall, m.T - s0);
      await session.run({ [input]: new ort.Tensor('float32', xs.subarray(0, s * m.N * per), [s * m.N, ...m.rowDims]) });
    }
  };
}

/** The prepared graph alone on onnxruntime (what mcu's backend runs), masks fixed at 1, `perCall` samples per call. */
function preparedRunner(session, prepared, m, perCall) {
  const input = prepared.inputs[0].name;
  const x = new ort.Tensor('float32', m.data, m.dims);
  const masks = (s) =>
    Object.fromEntries(
      prepared.sites.map((site) => {
        const dims = [s, 1, ...site.maskShape];
        return [site.name, new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(1), dims)];
      }),
    );
  const full = masks(perCall);
  const last = masks(m.T % perCall || perCall);
  return async () => {
    for (let s0 = 0; s0 < m.T; s0 += perCall) await session.run({ [input]: x, ...(m.T - s0 >= perCall ? full : last) });
  };
}

// an untimed pause before each timed run: the worker threads of the session that ran last spin-wait
// for more work and slow the next session down (as bench/suite.mjs section 2 says)
const pause = () => new Promise((r) => setTimeout(r, 20));

/**
 * Times fn()s interleaved: R rounds after one warm-up, each timed run right after an untimed run of
 * the same fn and a pause (a run right after another kind is slower: bench/suite.mjs section 2);
 * medians (and, with `after`, medians of what it reads after each run).
 */
async function interleaved(fns, after = []) {
  for (const f of fns) await f();
  const times = fns.map(() => []);
  const read = fns.map(() => []);
  for (let k = 0; k < R; k++) {
    for (const [i, f] of fns.entries()) {
      await f();
      await pause();
      const t0 = performance.now();
      await f();
      times[i].push(performance.now() - t0);
      if (after[i]) read[i].push(after[i]());
    }
  }
  return { times: times.map(median), read: read.map((r) => (r.length ? median(r) : undefined)) };
}

/** The model with its backend calls timed (run and runReduced). */
function timed(model) {
  const clock = { ms: 0, calls: 0 };
  const wrap =
    (name) =>
    async (...args) => {
      const t0 = performance.now();
      try {
        return await model[name](...args);
      } finally {
        clock.ms += performance.now() - t0;
        clock.calls++;
      }
    };
  const proxy = new Proxy(model, {
    get(target, prop) {
      if (prop === 'run' || prop === 'runReduced') return wrap(prop);
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { proxy, clock };
}

const mcu = createMcu({ backends: ['onnx'], modules: [onnxModule] });
const lines = [];
const log = (s = '') => {
  lines.push(s);
  console.log(s);
};
log(`# in-graph estimators: overhead against plain onnxruntime-node (T = ${T}, the UCI model ${tiny ? 50 : 10000}; medians of ${R}, interleaved)`);
log('');
log(
  `Machine: ${os.cpus()[0]?.model ?? 'unknown'}, ${cores} cores; Node ${process.version}; onnxruntime-node ${require('onnxruntime-node/package.json').version}; 1-min load ${os.loadavg()[0].toFixed(2)} at start.`,
);
log('');
log('| network | N | T·N rows | plain onnxruntime | mcu JS path | mcu in-graph | JS ÷ plain | in-graph ÷ plain | samples per call |');
log('|---|---|---|---|---|---|---|---|---|');
const profiles = [];
for (const m of models) m.T ??= T;
for (const m of models) {
  const T = m.T;
  m.dims = [m.N, ...m.rowDims];
  m.data ??= new Float32Array(m.dims.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i * 0.01));
  const model = await mcu.load({ kind: 'path', path: m.path });
  const inputName = model.inputs[0].name;
  const inputs = { [inputName]: { data: m.data, dims: m.dims } };
  const plain = await ort.InferenceSession.create(withoutDropout(m.path), { intraOpNumThreads: cores, logSeverityLevel: 3 });
  const plainRun = plainRunner(plain, m, Math.max(1, Math.min(T, Math.floor(PLAIN_ROWS_PER_CALL / m.N))));

  const run = (reduceInGraph) => () => predict(model, inputs, { mcu, samples: T, seed: 1, task: m.task, reduceInGraph });
  const plainChunk = Math.max(1, Math.min(T, Math.floor(PLAIN_ROWS_PER_CALL / m.N)));
  const [tPlain, tJs, tGraph] = (await interleaved([plainRun, run(false), run(true)])).times;
  const meta = (await run(true)()).meta;
  log(`| ${m.name} | ${m.N} | ${T * m.N} | ${ms(tPlain)} | ${ms(tJs)} | ${ms(tGraph)} | ${x(tJs, tPlain)} | ${x(tGraph, tPlain)} | ${meta.chunkSamples} |`);

  // Profile: the engine with the estimators of predict, timed backend calls, chunk sizes.
  const output = model.outputs[0].name;
  const est = () => (m.task === 'regression' ? new RegressionEstimator({ output }) : new ClassificationEstimator({ output }));
  const feeds = { [inputName]: { dtype: 'float32', data: m.data, dims: m.dims } };
  const chunks = profile ? [...new Set([meta.chunkSamples, plainChunk, ...(m.profileChunks ?? [10, 50])].filter((c) => c <= T))] : [];
  const rowsPer = [];
  const preparedSession = await ort.InferenceSession.create(encodeModel(model.prepared.model), { logSeverityLevel: 3 });
  for (const chunk of chunks) {
    const jsT = timed(model);
    const grT = timed(model);
    const engineRun = (t, reduceInGraph) => () => {
      t.clock.ms = 0;
      t.clock.calls = 0;
      return mcu.engine.run(t.proxy, feeds, { samples: T, seed: 1, chunkSamples: chunk, estimators: [est()], reduceInGraph });
    };
    const r = await interleaved(
      [plainRunner(plain, m, chunk), preparedRunner(preparedSession, model.prepared, m, chunk), engineRun(jsT, false), engineRun(grT, true)],
      [null, null, () => jsT.clock.ms, () => grT.clock.ms],
    );
    const [pl, pr, js, gr] = r.times;
    rowsPer.push({ chunk, pl, pr, js, gr, jsBackend: r.read[2], grBackend: r.read[3] });
  }
  profiles.push({ m, rowsPer, default: meta.chunkSamples, plain: tPlain });
  await preparedSession.release();
  await plain.release();
  await model.dispose();
}
if (profile) {
  log('');
  log('## Profile: the engine (estimators of predict) at fixed samples per call');
  log('');
  log(
    "Backend = time inside the model's run / runReduced calls (median over the timed runs); the rest of an mcu run is masks, the estimators and the engine. Plain = onnxruntime on the same rows per call; prepared graph = mcu's rewritten graph on onnxruntime with masks fixed at 1 (its mask inputs, reshapes and products, no sampling, no estimators).",
  );
  log('');
  log(
    '| network | samples per call | plain, same rows per call | prepared graph | mcu JS (backend) | mcu in-graph (backend) | prepared ÷ plain | JS ÷ plain | in-graph ÷ plain | in-graph ÷ plain of the first table |',
  );
  log('|---|---|---|---|---|---|---|---|---|---|');
  for (const p of profiles) {
    const base = p.plain;
    for (const r of p.rowsPer) {
      log(
        `| ${p.m.key}${r.chunk === p.default ? ' (default)' : ''} | ${r.chunk} | ${ms(r.pl)} | ${ms(r.pr)} | ${ms(r.js)} (${ms(r.jsBackend)}) | ${ms(r.gr)} (${ms(r.grBackend)}) | ${x(r.pr, r.pl)} | ${x(r.js, r.pl)} | ${x(r.gr, r.pl)} | ${x(r.gr, base)} |`,
      );
    }
  }
}
log('');
log(`1-min load ${os.loadavg()[0].toFixed(2)} at the end (the bench keeps up to ${cores} cores busy; more means other work shared the machine).`);
mcu.dispose();
