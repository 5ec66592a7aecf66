#!/usr/bin/env node
// mcu acquire at scale: a 2,000,000-row × 9-feature float32 NPY pool (the UCI protein data's
// width) scored with heuristic std at T = 100 by a UCI-shaped MLP — the yacht fixture's network
// (standardise → dropout → 50 ReLU → dropout → 1, test/fixtures/files/uci/yacht/split00.onnx)
// with a 9-wide input and seeded random weights — in one thread and on all cores' worker
// threads, side by side in one run. Each configuration runs in its own process (started by
// /bin/sh, so its peak RSS is its own: worker threads share their process's memory, so the
// process's maxRSS covers every thread); the report gives rows/s, the ratio and peak RSS, and
// checks that both selections are the same bytes.
//
//   node bench/acquire.mjs [--rows N] [--samples T] [--block B]
//
// Pool and model are written to os.tmpdir() and removed afterwards. Needs a built repo
// (npx -y pnpm@12.4.2 -r build).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FEATURES, writeModel, writePool } from './acquire-data.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};

if (argv.includes('--child')) {
  // one configuration, in this process: prints its figures as one JSON line on stdout
  const { acquire, formatSelection } = await import('@mcu/acquire');
  const workers = Number(arg('workers'));
  let last = 0;
  const started = performance.now();
  const sel = await acquire({
    model: { path: arg('model') },
    pool: { path: arg('pool') },
    heuristic: 'std',
    k: 100,
    samples: Number(arg('samples')),
    seed: 1,
    blockRows: Number(arg('block')),
    workers,
    onProgress: ({ rowsDone, rowsTotal }) => {
      const now = performance.now();
      if (now - last > 10_000) {
        last = now;
        process.stderr.write(`  workers ${workers}: ${rowsDone}/${rowsTotal} rows, ${((rowsDone / (now - started)) * 1000).toFixed(0)} rows/s\n`);
      }
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const bytes = formatSelection(sel, 'json');
  process.stdout.write(
    `${JSON.stringify({ workers, rows: sel.poolRows, seconds, maxRssKiB: process.resourceUsage().maxRSS, sha256: createHash('sha256').update(bytes).digest('hex'), top: sel.selected[0] })}\n`,
  );
  process.exit(0);
}

const rows = Number(arg('rows', '2000000'));
const samples = Number(arg('samples', '100'));
const block = Number(arg('block', '1024'));
for (const [name, v] of [
  ['rows', rows],
  ['samples', samples],
  ['block', block],
]) {
  if (!(Number.isSafeInteger(v) && v >= 1)) throw new Error(`--${name} must be an integer ≥ 1, got ${v}`);
}
const cores = os.availableParallelism();
const tmp = mkdtempSync(join(os.tmpdir(), 'mcu-bench-acquire-'));
const log = (s) => process.stderr.write(`${s}\n`);

function run(workers, pool, model) {
  // through sh, which forks node from its own small image: a child forked straight from this
  // process would start with this process's RSS as its high-water mark (kept across exec)
  const self = fileURLToPath(import.meta.url);
  const args = [self, '--child', '--workers', String(workers), '--pool', pool, '--model', model, '--samples', String(samples), '--block', String(block)];
  const r = spawnSync('/bin/sh', ['-c', '"$@"; exit $?', 'sh', process.execPath, ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  const line = (r.stdout ?? '').trim().split('\n').pop();
  if (r.status !== 0 || !line) throw new Error(`workers ${workers}: exit ${r.status}`);
  return JSON.parse(line);
}

try {
  const pool = join(tmp, 'pool.npy');
  const model = join(tmp, 'protein-mlp.onnx');
  log(`writing ${rows} × ${FEATURES} pool (${((rows * FEATURES * 4) / 2 ** 20).toFixed(0)} MiB) and the model to ${tmp}`);
  writePool(pool, rows);
  await writeModel(model);
  const configs = [...new Set([1, cores])];
  const results = [];
  for (const w of configs) {
    log(`scoring: workers = ${w}`);
    results.push(run(w, pool, model));
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const out = [];
  out.push(`mcu acquire bench: ${rows} rows × ${FEATURES} features, heuristic std, T = ${samples}, B = ${block}, k = 100, scope sample`);
  out.push(
    `machine: ${cores} cores (${cpu}), Node ${process.version}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  out.push('');
  out.push('| workers | seconds | rows/s | peak RSS |');
  out.push('|---|---|---|---|');
  for (const r of results) out.push(`| ${r.workers} | ${r.seconds.toFixed(1)} | ${(r.rows / r.seconds).toFixed(0)} | ${(r.maxRssKiB / 1024).toFixed(0)} MiB |`);
  if (results.length === 2) out.push('', `rows/s, ${results[1].workers} workers ÷ 1 worker: ${(results[0].seconds / results[1].seconds).toFixed(2)}×`);
  const same = results.every((r) => r.sha256 === results[0].sha256);
  out.push(
    `selections byte-identical across configurations: ${same ? 'yes' : 'NO'} (sha256 ${results[0].sha256.slice(0, 16)}…; top row ${results[0].top.index}, std ${results[0].top.score})`,
  );
  const over = results.filter((r) => r.maxRssKiB * 1024 >= 500e6);
  out.push(`peak RSS under 500 MB in every configuration: ${over.length === 0 ? 'yes' : `NO (${over.map((r) => r.workers).join(', ')})`}`);
  console.log(out.join('\n'));
  if (!same) process.exitCode = 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
