// The server's defaults (mcu serve passes a config's samples, seed, maskScope, task and tau):
// a request that leaves an option out gets the default, one that gives it wins, and a default τ
// is dropped for a classification model (as mcu predict drops a config's tau) while a τ the
// request gives there is a 400.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSoftmaxModel } from '../../../test/helpers/flag-models.js';
import { createServer } from '../src/index.js';
import { co2Rows, modelsDir, start, type Running } from './helpers.js';

describe('createServer({ defaults })', () => {
  let s: Running;
  let dir: string;
  beforeAll(async () => {
    dir = modelsDir();
    writeSoftmaxModel('pytorch-1.13/lenet.preserve.onnx', path.join(dir, 'lenet.onnx'));
    s = await start({ models: dir, defaults: { samples: 12, seed: 4, tau: 50 } });
  });
  afterAll(() => s.server.close());

  it('fills in what a request leaves out; what it gives wins', async () => {
    const rows = co2Rows().slice(0, 3);
    const byDefault = await s.post({ inputs: rows });
    const explicit = await s.post({ inputs: rows, options: { samples: 12, seed: 4, tau: 50 } });
    expect(byDefault.status).toBe(200);
    expect(byDefault.body).toEqual(explicit.body);
    expect(byDefault.body.meta).toMatchObject({ samples: 12, seed: 4, tau: 50 });
    const own = await s.post({ inputs: rows, options: { samples: 5, tau: 2 } });
    expect(own.body.meta).toMatchObject({ samples: 5, seed: 4, tau: 2 });
  });

  it('a default τ is dropped for a classification model; a τ the request gives is refused there', async () => {
    const digit = Array.from({ length: 28 * 28 }, (_, i) => (i % 29) / 29);
    const ok = await s.post({ inputs: [digit], options: { task: 'classification' } }, 'lenet');
    expect(ok.status).toBe(200);
    expect(ok.body.meta).toMatchObject({ tau: null, samples: 12 });
    const bad = await s.post({ inputs: [digit], options: { task: 'classification', tau: 3 } }, 'lenet');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/precision τ/);
  });

  it('defaults.samples over maxSamples is refused at start-up', async () => {
    await expect(createServer({ models: dir, maxSamples: 10, defaults: { samples: 11 } })).rejects.toMatchObject({ code: 'E_CONFIG' });
    expect(fs.existsSync(dir)).toBe(true);
  });
});
