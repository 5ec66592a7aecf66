// `mcu acquire … --queue` and `mcu worker` end to end, on a real redis-server (test/helpers/redis.ts
// starts a private one on 127.0.0.1; nothing is mocked) with the BUILT CLI as subprocesses:
// - three workers, one SIGKILLed while it holds a shard (its stderr said "scoring rows A–B"): the
//   run completes (BullMQ's stalled-job recovery gives the shard to another worker), and the
//   selection file equals the single-process `mcu acquire` file byte for byte;
// - a worker with another model file (same architecture, other weights) refuses the shard it
//   took with exit 2 and one line naming both hashes; the shard goes back and the run completes
//   with the right workers, again byte for byte;
// - a pool of the wrong width fails the run with exit 2 and no output; a Redis that is not there
//   is exit 1 within seconds for the coordinator and the worker; SIGTERM stops an idle worker;
// - the run's jobs are gone from Redis afterwards.
// Needs `pnpm -r build` first, and redis-server (Debian's package; .ci/run installs it).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, MCU_BIN, requireBuiltCli, runMcu, runOk, tempDir } from './helpers/cli.js';
import { freePort, requireRedisServer, startRedis, type RedisServer } from './helpers/redis.js';
import { writeClassifier, writePool } from './helpers/redis-pool.js';

requireRedisServer();

let redis: RedisServer;
let dir: string;
const F: Record<string, string> = {};
/** The run's flags (small: 2,048 rows, T = 8, 8 shards of 256 rows in blocks of 64). */
const RUN = () => ['--pool', F['pool']!, '--k', '20', '--heuristic', 'bald', '--samples', '8', '--seed', '5', '--block-rows', '64', '--shard-rows', '256'];
let reference: Buffer;

interface WorkerProc {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stderr(): string;
  /** Resolves with the first stderr line matching `re`. */
  line(re: RegExp): Promise<string>;
}

const workers: WorkerProc[] = [];

function startWorker(model: string, ...extra: string[]): WorkerProc {
  const child = spawn(process.execPath, [MCU_BIN, 'worker', model, '--queue', redis.url, '--lock-ms', '2000', ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  child.stderr!.on('data', (d) => {
    err += d;
    for (const w of [...waiters]) {
      const hit = err.split('\n').find((l) => w.re.test(l));
      if (hit !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(hit);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const proc: WorkerProc = {
    child,
    exited,
    stderr: () => err,
    line: (re) =>
      new Promise((resolve) => {
        const hit = err.split('\n').find((l) => re.test(l));
        if (hit !== undefined) resolve(hit);
        else waiters.push({ re, resolve });
      }),
  };
  workers.push(proc);
  return proc;
}

/** The coordinator as a subprocess (its result when it exits). */
function coordinator(model: string, out: string, ...extra: string[]) {
  return runMcu(['acquire', model, ...RUN(), '--queue', redis.url, '-o', out, ...extra], { timeoutMs: 120_000 });
}

async function stopWorkers(): Promise<void> {
  for (const w of workers.splice(0)) {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
    await w.exited;
  }
}

/** Keys of shard jobs (`bull:mcu-acquire:<run>-<start>…`) still in Redis. */
function jobKeys(): string[] {
  const out = execFileSync('redis-cli', ['-p', String(redis.port), '--raw', 'KEYS', 'bull:mcu-acquire:????????-[0-9]*'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l !== '');
}

beforeAll(async () => {
  requireBuiltCli();
  redis = await startRedis();
  dir = tempDir('mcu-acquire-queue-');
  // two hidden layers of 512: a 256-row shard (T = 8, ≈ 1 GFLOP) takes long enough that the
  // kill lands while it is held
  const shape = { features: 9, hidden: 512, classes: 4, p: 0.3 };
  F['model'] = writeClassifier(path.join(dir, 'model.onnx'), 1, shape);
  F['other'] = writeClassifier(path.join(dir, 'other.onnx'), 2, shape);
  F['pool'] = writePool(path.join(dir, 'pool.npy'), 2048, 9, 11);
  F['wide'] = writePool(path.join(dir, 'wide.npy'), 512, 10, 11);
  F['ref'] = path.join(dir, 'ref.json');
  await runOk(['acquire', F['model']!, ...RUN(), '--workers', '1', '-o', F['ref']!], { timeoutMs: 120_000 });
  reference = fs.readFileSync(F['ref']!);
}, 180_000);

afterAll(async () => {
  await stopWorkers();
  await redis?.stop();
});

describe('mcu acquire --queue with mcu worker processes (real redis-server)', () => {
  it('three workers, one SIGKILLed while it holds a shard: the output equals the single-process output byte for byte', async () => {
    const pool = [startWorker(F['model']!), startWorker(F['model']!), startWorker(F['model']!)];
    await Promise.all(pool.map((w) => w.line(/waiting for shards/)));
    const out = path.join(dir, 'queue.json');
    const run = coordinator(F['model']!, out);
    // the first worker to say it is scoring a shard dies at once, holding it
    const held = await Promise.race(pool.map((w, i) => w.line(/scoring rows \d+–\d+/).then((l) => ({ i, l }))));
    const victim = pool[held.i]!;
    victim.child.kill('SIGKILL');
    const rows = /scoring rows (\d+–\d+)/.exec(held.l)![1]!;
    const r = await run;
    expect(r.status, describeRun(r)).toBe(0);
    expect(await victim.exited).toBeNull();
    expect(victim.stderr(), 'the killed worker must not have finished its shard').not.toMatch(new RegExp(`done rows ${rows}`));
    // its shard was scored again by a surviving worker
    const survivors = pool.filter((w) => w !== victim);
    expect(
      survivors.some((w) => w.stderr().includes(`done rows ${rows}`)),
      survivors.map((w) => w.stderr()).join('\n---\n'),
    ).toBe(true);
    expect(fs.readFileSync(out).equals(reference), `${out} differs from the single-process ${F['ref']}`).toBe(true);
    expect(jobKeys()).toEqual([]);
  }, 120_000);

  it('a worker with another model file refuses with exit 2, naming both hashes; the run completes with the right workers', async () => {
    await stopWorkers();
    const wrong = startWorker(F['other']!);
    await wrong.line(/waiting for shards/);
    const out = path.join(dir, 'refused.json');
    const run = coordinator(F['model']!, out);
    // the wrong worker takes a shard, gives it back and stops, before any right worker runs
    expect(await wrong.exited, wrong.stderr()).toBe(2);
    const errLines = wrong
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('mcu: ') && !l.startsWith('mcu: worker: waiting'));
    expect(errLines, wrong.stderr()).toHaveLength(1);
    expect(errLines[0]).toMatch(
      /^mcu: worker: run \w+ scores model sha256:[0-9a-f]{64}, but this worker's MODEL .*other\.onnx is sha256:[0-9a-f]{64}: start the worker with the same model file/,
    );
    expect(wrong.stderr()).not.toMatch(/scoring rows/);
    startWorker(F['model']!);
    startWorker(F['model']!);
    const r = await run;
    expect(r.status, describeRun(r)).toBe(0);
    expect(fs.readFileSync(out).equals(reference)).toBe(true);
  }, 120_000);

  it('a pool of the wrong width: exit 2, one line, no output file; the workers go on', async () => {
    await stopWorkers();
    const w = startWorker(F['model']!);
    await w.line(/waiting for shards/);
    const out = path.join(dir, 'wide.json');
    const r = await runMcu(
      ['acquire', F['model']!, '--pool', F['wide']!, '--k', '5', '--samples', '4', '--block-rows', '64', '--queue', redis.url, '-o', out],
      {
        timeoutMs: 60_000,
      },
    );
    expect(r.status, describeRun(r)).toBe(2);
    expect(r.stderr.trim().split('\n'), describeRun(r)).toHaveLength(1);
    expect(r.stderr).toMatch(/^mcu: .*\b(10|width|features?|columns?)\b/);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f.includes('wide.json'))).toEqual([]);
    expect(w.child.exitCode).toBeNull();
    expect(jobKeys()).toEqual([]);
  }, 90_000);

  it('one worker with --concurrency 2 holds two shards at once and gives the same bytes', async () => {
    await stopWorkers(); // the earlier tests' workers would take shards too
    const w = startWorker(F['model']!, '--concurrency', '2');
    await w.line(/waiting for shards.*concurrency 2/);
    const out = path.join(dir, 'concurrency.json');
    const r = await coordinator(F['model']!, out);
    expect(r.status, describeRun(r)).toBe(0);
    expect(fs.readFileSync(out).equals(reference), `${out} differs from the single-process ${F['ref']}`).toBe(true);
    // two shards in flight: a second 'scoring rows' line before the first 'done rows' line
    const lines = w.stderr().split('\n');
    const scoring = lines.flatMap((l, i) => (/scoring rows \d+–\d+/.test(l) ? [i] : []));
    const firstDone = lines.findIndex((l) => /done rows \d+–\d+/.test(l));
    expect(scoring.length, w.stderr()).toBe(2048 / 256);
    expect(firstDone, w.stderr()).toBeGreaterThan(scoring[1]!);
    await stopWorkers();
    expect(jobKeys()).toEqual([]);
  }, 120_000);

  it('the same bytes with --workers 2 (threads) and with another --shard-rows', async () => {
    const threads = path.join(dir, 'threads.json');
    await runOk(['acquire', F['model']!, ...RUN(), '--workers', '2', '-o', threads], { timeoutMs: 120_000 });
    expect(fs.readFileSync(threads).equals(reference)).toBe(true);
    const shards = path.join(dir, 'shards.json');
    const argv = RUN();
    argv[argv.indexOf('--shard-rows') + 1] = '128';
    await runOk(['acquire', F['model']!, ...argv, '--workers', '1', '-o', shards], { timeoutMs: 120_000 });
    expect(fs.readFileSync(shards).equals(reference)).toBe(true);
  }, 180_000);

  it('k larger than the pool: exit 2 before anything is queued', async () => {
    const out = path.join(dir, 'big-k.json');
    const r = await runMcu(['acquire', F['model']!, '--pool', F['pool']!, '--k', '5000', '--queue', redis.url, '-o', out]);
    expect(r.status, describeRun(r)).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/5000/);
    expect(r.stderr).toMatch(/2048/);
    expect(fs.existsSync(out)).toBe(false);
    expect(jobKeys()).toEqual([]);
  });

  it('SIGTERM stops a worker whose Redis has gone away (no endless reconnecting): exit 0', async () => {
    const gone = await startRedis();
    const child = spawn(process.execPath, [MCU_BIN, 'worker', F['model']!, '--queue', gone.url], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const up = new Promise<void>((resolve) =>
      child.stderr!.on('data', (d) => {
        err += d;
        if (err.includes('waiting for shards')) resolve();
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await up;
    await gone.stop();
    child.kill('SIGTERM');
    expect(await exited, err).toBe(0);
    expect(err).toMatch(/mcu: worker: stopped after 0 shards \(0 rows\)/);
  }, 60_000);

  it('SIGTERM stops an idle worker: exit 0', async () => {
    await stopWorkers();
    const w = startWorker(F['model']!);
    await w.line(/waiting for shards/);
    w.child.kill('SIGTERM');
    expect(await w.exited, w.stderr()).toBe(0);
    expect(w.stderr()).toMatch(/mcu: worker: stopped after \d+ shards? \(\d+ rows\)/);
  }, 60_000);
});

describe('a Redis that is not reachable', () => {
  it('the coordinator: exit 1 within a few seconds, one line naming the URL, no output file', async () => {
    const port = await freePort();
    const out = path.join(dir, 'unreachable.json');
    // no hang: the coordinator gives up after its 3 s PING deadline (ioredis alone retries forever);
    // a run still going after 15 s is killed and fails the status check
    const r = await runMcu(['acquire', F['model']!, ...RUN(), '--queue', `redis://127.0.0.1:${port}`, '-o', out], { timeoutMs: 15_000 });
    expect(r.status, describeRun(r)).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines, describeRun(r)).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^mcu: the job queue's Redis at redis://127\\.0\\.0\\.1:${port} is not reachable \\(.*ECONNREFUSED.*\\): start redis-server there`),
    );
    expect(fs.existsSync(out)).toBe(false);
  });

  it('a worker: exit 1, one line', async () => {
    const port = await freePort();
    const r = await runMcu(['worker', F['model']!, '--queue', `redis://127.0.0.1:${port}`], { timeoutMs: 15_000 });
    expect(r.status, describeRun(r)).toBe(1);
    expect(r.stderr.trim().split('\n'), describeRun(r)).toHaveLength(1);
    expect(r.stderr).toMatch(/is not reachable/);
  });
});
