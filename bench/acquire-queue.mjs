#!/usr/bin/env node
// mcu acquire on a Redis job queue against the same run in one process, side by side in one run
// on this machine: the pool and model of bench/acquire.mjs (a 9-feature float32 NPY pool of the
// UCI protein width, the yacht UCI network with a 9-wide input and seeded weights — written the
// same way, same seeds), heuristic std, scored
//   1. by `mcu acquire --workers 1` (one thread),
//   2. by `mcu acquire --workers <cores>` (worker threads),
//   3. by `mcu acquire --queue` with 2 and with 3 `mcu worker` processes on one private
//      redis-server (127.0.0.1, a free port, nothing persisted).
// Each configuration is the built CLI as a user runs it; the report gives wall time, rows/s, the
// ratio to one thread, the peak RSS of the coordinator and of the largest worker (GNU time), and
// checks that every selection file is the same bytes. On one machine the queue workers share its
// cores: the queue's figures show its overhead, not a speed-up over threads (that needs machines).
// A worker's peak RSS is its VmHWM (/proc) read when the run is done, the others' GNU time's.
//
//   nice -n 10 node bench/acquire-queue.mjs [--rows N] [--samples T] [--block B] [--shard-rows R]
//
// Needs a built repo (npx -y pnpm@12.4.2 -r build), redis-server (apt-get install redis-server)
// and /usr/bin/time. Pool, model and Redis live in os.tmpdir() and are removed afterwards.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FEATURES, writeModel, writePool } from './acquire-data.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const MCU = join(root, 'packages', 'cli', 'bin', 'mcu.js');
const argv = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const rows = Number(arg('rows', '200000'));
const samples = Number(arg('samples', '100'));
const block = Number(arg('block', '1024'));
const shardRows = Number(arg('shard-rows', String(16 * block)));
for (const [name, v] of [
  ['rows', rows],
  ['samples', samples],
  ['block', block],
  ['shard-rows', shardRows],
]) {
  if (!(Number.isSafeInteger(v) && v >= 1)) throw new Error(`--${name} must be an integer ≥ 1, got ${v}`);
}
if (shardRows % block !== 0) throw new Error(`--shard-rows ${shardRows} must be a multiple of --block ${block}`);
for (const [what, path] of [
  ['the built CLI (npx -y pnpm@12.4.2 -r build)', join(root, 'packages', 'cli', 'dist', 'bundle', 'main.js')],
  ['GNU time', '/usr/bin/time'],
]) {
  if (!existsSync(path)) throw new Error(`bench/acquire-queue.mjs needs ${what}: ${path} is missing`);
}
let redisBin;
try {
  redisBin = execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim();
} catch {
  throw new Error('bench/acquire-queue.mjs needs redis-server: apt-get install redis-server');
}
const cores = os.availableParallelism();
const tmp = mkdtempSync(join(os.tmpdir(), 'mcu-bench-acquire-queue-'));
const log = (s) => process.stderr.write(`${s}\n`);

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** A long-running `mcu worker`, started straight (SIGTERM reaches it); its peak RSS read from /proc before it is stopped. */
function worker(args, onStderr) {
  const child = spawn(process.execPath, [MCU, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
    onStderr(err);
  });
  const exited = new Promise((resolve) => child.on('exit', (status) => resolve(status)));
  return {
    child,
    async stop() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
      child.kill('SIGTERM');
      return { status: await exited, maxRssKiB: hwm, stderr: err };
    },
  };
}

/** A command under GNU time: resolves with its exit status, wall seconds, peak RSS (KiB) and stderr. */
function timed(args, { onStderr } = {}) {
  const rssFile = join(tmp, `rss-${Math.random().toString(36).slice(2)}`);
  const child = spawn('/usr/bin/time', ['-f', '%M', '-o', rssFile, process.execPath, MCU, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
    onStderr?.(err);
  });
  const started = performance.now();
  const done = new Promise((resolve) =>
    child.on('exit', (status) => {
      const seconds = (performance.now() - started) / 1000;
      const rss = existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop()) : Number.NaN;
      resolve({ status, seconds, maxRssKiB: rss, stderr: err });
    }),
  );
  return { child, done };
}

const flags = (pool, out) => [
  '--pool',
  pool,
  '--k',
  '100',
  '--heuristic',
  'std',
  '--samples',
  String(samples),
  '--seed',
  '1',
  '--block-rows',
  String(block),
  '--shard-rows',
  String(shardRows),
  '-o',
  out,
  '--quiet',
];

let redis;
try {
  const pool = join(tmp, 'pool.npy');
  const model = join(tmp, 'protein-mlp.onnx');
  log(`writing ${rows} × ${FEATURES} pool (${((rows * FEATURES * 4) / 2 ** 20).toFixed(0)} MiB) and the model to ${tmp}`);
  writePool(pool, rows);
  await writeModel(model);
  const port = await freePort();
  redis = spawn(redisBin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmp], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      execFileSync('redis-cli', ['-p', String(port), 'PING'], { stdio: 'pipe' });
      break;
    } catch {
      if (i > 100) throw new Error('redis-server did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const results = [];
  for (const workers of [...new Set([1, cores])]) {
    log(`scoring: mcu acquire --workers ${workers}`);
    const out = join(tmp, `threads-${workers}.json`);
    const r = await timed(['acquire', model, ...flags(pool, out), '--workers', String(workers)]).done;
    if (r.status !== 0) throw new Error(`--workers ${workers}: exit ${r.status}\n${r.stderr}`);
    results.push({ name: `--workers ${workers}`, seconds: r.seconds, rss: r.maxRssKiB, workerRss: undefined, bytes: readFileSync(out) });
  }
  for (const n of [2, 3]) {
    log(`scoring: mcu acquire --queue with ${n} mcu worker processes`);
    const ws = Array.from({ length: n }, () => {
      let ready;
      const up = new Promise((r) => {
        ready = r;
      });
      const w = worker(['worker', model, '--queue', url], (e) => e.includes('waiting for shards') && ready());
      return { ...w, up };
    });
    await Promise.all(ws.map((w) => w.up));
    const out = join(tmp, `queue-${n}.json`);
    const r = await timed(['acquire', model, ...flags(pool, out), '--queue', url]).done;
    const stopped = await Promise.all(ws.map((w) => w.stop()));
    if (r.status !== 0) throw new Error(`--queue with ${n} workers: exit ${r.status}\n${r.stderr}`);
    const shards = stopped.map((s) => (s.stderr.match(/done rows/g) ?? []).length);
    results.push({
      name: `--queue, ${n} mcu worker (shards ${shards.join('/')})`,
      seconds: r.seconds,
      rss: r.maxRssKiB,
      workerRss: Math.max(...stopped.map((s) => s.maxRssKiB)),
      bytes: readFileSync(out),
    });
  }

  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const lines = [];
  lines.push(`mcu acquire --queue bench: ${rows} rows × ${FEATURES} features, heuristic std, T = ${samples}, B = ${block}, shard ${shardRows} rows, k = 100`);
  lines.push(
    `machine: ${cores} cores (${cpu}), Node ${process.version}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  lines.push('');
  lines.push('| run | seconds | rows/s | ÷ one thread | peak RSS (coordinator) | peak RSS (largest worker) |');
  lines.push('|---|---|---|---|---|---|');
  const base = results[0].seconds;
  for (const r of results) {
    const w = r.workerRss === undefined ? '—' : `${(r.workerRss / 1024).toFixed(0)} MiB`;
    lines.push(
      `| ${r.name} | ${r.seconds.toFixed(1)} | ${(rows / r.seconds).toFixed(0)} | ${(base / r.seconds).toFixed(2)}× | ${(r.rss / 1024).toFixed(0)} MiB | ${w} |`,
    );
  }
  const same = results.every((r) => r.bytes.equals(results[0].bytes));
  lines.push('');
  lines.push(`selection files byte-identical across all runs: ${same ? 'yes' : 'NO'}`);
  lines.push("(wall time of the whole command, start-up and model load included; the queue workers share this machine's cores)");
  console.log(lines.join('\n'));
  if (!same) process.exitCode = 1;
} finally {
  redis?.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
}
