// The queue as a library: acquireOnQueue (the coordinator) and runWorker (a worker) in this
// process, against a real redis-server on 127.0.0.1 (test/helpers/redis.ts; no mock of Redis or
// BullMQ). The queued selection equals acquire()'s in one thread; a worker holding another model
// rejects with E_MODEL and the shard it took is scored by the next worker, not lost; the URL
// parser; an unreachable Redis is E_QUEUE; a failed shard's error keeps its code.
import path from 'node:path';
import { McuError } from '@mcu/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startRedis, type RedisServer } from '../../../test/helpers/redis.js';
import { writeClassifier, writePool } from '../../../test/helpers/redis-pool.js';
import { acquire, acquireOnQueue, checkReachable, formatSelection, parseQueueUrl, runWorker, type ScoreOptions } from '../src/index.js';
import { errorOfReason, failureReason } from '../src/queue/job.js';
import { mcuError, tempDir } from './helpers.js';

let redis: RedisServer;
let dir: { dir: string; remove: () => void };
let model: string;
let other: string;
let pool: string;
const OPTIONS: ScoreOptions = { heuristic: 'bald', k: 6, samples: 4, seed: 9, blockRows: 32 };

beforeAll(async () => {
  redis = await startRedis();
  dir = tempDir();
  model = writeClassifier(path.join(dir.dir, 'a.onnx'), 31);
  other = writeClassifier(path.join(dir.dir, 'b.onnx'), 32);
  pool = writePool(path.join(dir.dir, 'pool.npy'), 200, 9, 33);
}, 60_000);

afterAll(async () => {
  await redis?.stop();
  dir?.remove();
});

describe('parseQueueUrl', () => {
  it('host, port, db, credentials, TLS and the queue name', () => {
    expect(parseQueueUrl('redis://10.0.0.5:6380/2?queue=al')).toEqual({
      shown: 'redis://10.0.0.5:6380/2?queue=al',
      name: 'al',
      redis: { host: '10.0.0.5', port: 6380, db: 2 },
    });
    expect(parseQueueUrl('rediss://u:s3cret@h')).toEqual({
      shown: 'rediss://u:***@h',
      name: 'mcu-acquire',
      redis: { host: 'h', port: 6379, username: 'u', password: 's3cret', tls: {} },
    });
  });
  it('refuses what is not a Redis URL, naming the form', async () => {
    for (const bad of ['http://h:1', 'h:6379', 'redis://h:1/x', 'redis://h:1?db=2', 'redis://h:1?queue=a:b']) {
      const e = await mcuError(() => parseQueueUrl(bad));
      expect(e.code).toBe('E_USAGE');
      expect(e.message).toContain(bad);
    }
  });
});

describe('errors across the queue', () => {
  it("a worker's McuError crosses as its failedReason with its code", () => {
    const e = errorOfReason(failureReason(new McuError('E_INPUT', 'row 17 has a NaN score')), { start: 0, end: 32 });
    expect([e.code, e.message]).toEqual(['E_INPUT', 'row 17 has a NaN score']);
    const foreign = errorOfReason('job stalled more than allowable limit', { start: 32, end: 64 });
    expect(foreign.code).toBe('E_QUEUE');
    expect(foreign.message).toMatch(/^shard \[32, 64\) failed on the queue: job stalled more than allowable limit/);
  });
  it('an unreachable Redis is E_QUEUE naming the URL', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const e = await mcuError(checkReachable(parseQueueUrl(url)));
    expect(e.code).toBe('E_QUEUE');
    expect(e.message).toMatch(new RegExp(`^the job queue's Redis at ${url.replace(/\./g, '\\.')} is not reachable \\(.*ECONNREFUSED`));
  });
});

describe('acquireOnQueue with runWorker (real redis-server)', () => {
  it('gives the bytes acquire() gives in one thread; a worker with another model gives its shard back and rejects with E_MODEL', async () => {
    const single = await acquire({ ...OPTIONS, model: { path: model }, pool: { path: pool }, workers: 1 });
    const queue = `${redis.url}?queue=lib`;
    const coordinating = acquireOnQueue({ ...OPTIONS, model: { path: model }, pool: { path: pool }, queue, shardRows: 64, pollMs: 50 });
    // the wrong worker first: it takes a shard and must not lose it
    const wrong = await mcuError(runWorker({ queue, model: { path: other }, lockMs: 1000 }));
    expect(wrong.code).toBe('E_MODEL');
    expect(wrong.message).toMatch(/^worker: run \w+ scores model sha256:[0-9a-f]{64}, but this worker's MODEL .*b\.onnx is sha256:[0-9a-f]{64}/);
    const stop = new AbortController();
    const lines: string[] = [];
    const working = runWorker({ queue, model: { path: model }, lockMs: 1000, signal: stop.signal, log: (l) => lines.push(l) });
    const selection = await coordinating;
    stop.abort();
    const done = await working;
    // every shard (the one given back included) scored by the right worker
    expect(done).toEqual({ shards: 4, rows: 200 });
    expect(formatSelection(selection, 'json')).toBe(formatSelection(single, 'json'));
    expect(lines.filter((l) => /scoring rows/.test(l))).toHaveLength(4);
  }, 60_000);
});
