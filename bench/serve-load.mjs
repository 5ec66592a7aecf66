#!/usr/bin/env node
// Load on `mcu serve` (not run by CI): the real CLI serving the bundled CO2 example on loopback,
// autocannon POSTing its 13 months at T = 100 (τ = 50) with 1, 16 and 64 connections for a
// bounded time each; req/s and latency p50/p99, next to one `mcu predict` process per request;
// the server's RSS before and after 10,000 requests.
// Run after `pnpm -r build`:  node bench/serve-load.mjs [SECONDS]   (default 5)
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'packages/cli/bin/mcu.js');
const model = join(root, 'examples/co2_relu.preserve.onnx');
const csv = join(root, 'examples/co2-months.csv');
const seconds = Number(process.argv[2] ?? 5);
const rows = readFileSync(csv, 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((l) => [Number(l)]);
const body = JSON.stringify({ inputs: rows, options: { samples: 100, seed: 1, tau: 50 } });

const dir = mkdtempSync(join(tmpdir(), 'mcu-serve-bench-'));
copyFileSync(model, join(dir, 'co2.onnx'));
const server = spawn(process.execPath, [bin, 'serve', '--models', dir, '--port', '0', '--queue', '1024'], { stdio: ['ignore', 'ignore', 'pipe'] });
const url = await new Promise((resolve, reject) => {
  let err = '';
  server.stderr.on('data', (d) => {
    err += d;
    const m = /at (http:\/\/\S+) \(/.exec(err);
    if (m) resolve(m[1]);
  });
  server.on('exit', (code) => reject(new Error(`mcu serve exited (${code}): ${err}`)));
});
const rssMiB = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]) / 1024;
const predictUrl = `${url}/v1/models/co2/predict`;
const load = (o) => autocannon({ url: predictUrl, method: 'POST', headers: { 'content-type': 'application/json' }, body, ...o });

console.log(`mcu serve on ${url}: CO2 example, ${rows.length} rows per request, T = 100`);
await load({ connections: 4, amount: 200 }); // warm-up: sessions, self-check, JIT
const rssBefore = rssMiB();
console.log('connections  req/s    p50 ms  p99 ms  non-2xx');
for (const connections of [1, 16, 64]) {
  const r = await load({ connections, duration: seconds });
  console.log(
    `${String(connections).padStart(11)}  ${r.requests.average.toFixed(0).padStart(6)}  ${r.latency.p50.toFixed(1).padStart(6)}  ${r.latency.p99.toFixed(1).padStart(6)}  ${r.non2xx + r.errors}`,
  );
}
const metrics = await (await fetch(`${url}/metrics`)).text();
const sum = (name) => [...metrics.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);
console.log(
  `coalescing: ${sum('mcu_http_requests_total')} requests, ${sum('mcu_predict_runs_total')} core predict runs, ${sum('mcu_backend_calls_total')} backend calls`,
);

const rssStart = rssMiB();
const many = await load({ connections: 16, amount: 10_000 });
console.log(
  `RSS: ${rssBefore.toFixed(0)} MiB after warm-up, ${rssStart.toFixed(0)} MiB before 10,000 requests, ${rssMiB().toFixed(0)} MiB after (${many.non2xx + many.errors} non-2xx)`,
);
server.kill('SIGTERM');

// one process per request: what a caller without the server pays
const n = 5;
const t = process.hrtime.bigint();
for (let k = 0; k < n; k++)
  execFileSync(process.execPath, [bin, 'predict', model, '--input', csv, '--samples', '100', '--seed', '1', '--tau', '50', '--quiet'], { stdio: 'ignore' });
const each = Number(process.hrtime.bigint() - t) / 1e9 / n;
console.log(`mcu predict, one process per request: ${(1 / each).toFixed(1)} req/s (${(each * 1000).toFixed(0)} ms each, mean of ${n})`);
