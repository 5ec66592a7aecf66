// The real server on 127.0.0.1 over HTTP: predictions equal @mcu/core's predict for the same
// seed, and coalesced requests get exactly what they get alone.
import fs from 'node:fs';
import path from 'node:path';
import { createMcu, predict } from '@mcu/core';
import { onnxModule } from '@mcu/backend-onnx/module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tfjsModule } from '@mcu/backend-tfjs/module';
import { createServer, predictResponse } from '../src/index.js';
import { CO2, co2Rows, REPO, start, type Running } from './helpers.js';

const mcu = createMcu({ modules: [onnxModule], memoryBudgetBytes: 512 * 1024 * 1024 });
afterAll(() => mcu.dispose());

/** What core's predict gives for these rows alone, as the server's JSON (chunkSamples aside: it follows the rows of a run). */
async function alone(rows: number[][], options: { samples: number; seed: number; tau?: number; scope?: 'sample' | 'point' }) {
  const model = await mcu.load({ kind: 'path', path: CO2 });
  try {
    const r = await predict(model, rows, { mcu, memoryBudgetBytes: 512 * 1024 * 1024, ...options });
    return JSON.parse(JSON.stringify(predictResponse(model, r, 0, rows.length)));
  } finally {
    await model.dispose();
  }
}

const withoutChunk = (b: { meta: Record<string, unknown>; outputs: unknown }) => ({ ...b, meta: { ...b.meta, chunkSamples: undefined } });

describe('POST /v1/models/:name/predict', () => {
  let s: Running;
  beforeAll(async () => {
    s = await start();
  });
  afterAll(() => s.server.close());

  it("answers core predict's numbers for the same seed (the CO2 example, T = 100, τ = 50)", async () => {
    const rows = co2Rows();
    const r = await s.post({ inputs: rows, options: { samples: 100, seed: 7, tau: 50 } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual(await alone(rows, { samples: 100, seed: 7, tau: 50 }));
    expect(r.body.outputs.y.mean).toHaveLength(rows.length);
    expect(r.body.meta).toMatchObject({ backend: 'onnx', seed: 7, samples: 100, tau: 50, maskScope: 'sample' });
  });

  it('reads rows by input name and a base64 float32 tensor alike', async () => {
    const rows = co2Rows().slice(0, 4);
    const data = Buffer.from(new Float32Array(rows.flat()).buffer).toString('base64');
    const options = { samples: 20, seed: 3 };
    const plain = await s.post({ inputs: rows, options });
    const named = await s.post({ inputs: { x: rows }, options });
    const b64 = await s.post({ inputs: { data, dims: [4, 1] }, options });
    const namedB64 = await s.post({ inputs: { x: { data, dims: [4, 1] } }, options });
    expect(plain.status).toBe(200);
    for (const r of [named, b64, namedB64]) expect(r.body).toEqual(plain.body);
  });

  it('coalesces 64 concurrent requests into fewer runs, each answered exactly as alone', async () => {
    const all = co2Rows();
    const requests = Array.from({ length: 64 }, (_, k) => [all[k % all.length]!, [k / 64 - 0.5], ...(k % 3 === 0 ? [[k / 10]] : [])]);
    const options = { samples: 50, seed: 11, tau: 50 };
    const runsBefore = await s.metric('mcu_predict_runs_total');
    const callsBefore = await s.metric('mcu_backend_calls_total');
    const answers = await Promise.all(requests.map((rows) => s.post({ inputs: rows, options })));
    const runs = (await s.metric('mcu_predict_runs_total')) - runsBefore;
    const calls = (await s.metric('mcu_backend_calls_total')) - callsBefore;
    expect(runs).toBeGreaterThanOrEqual(1);
    expect(runs).toBeLessThan(64);
    expect(calls).toBeLessThan(64);
    for (const [k, rows] of requests.entries()) {
      expect(answers[k]!.status).toBe(200);
      expect(withoutChunk(answers[k]!.body), `request ${k}`).toEqual(withoutChunk(await alone(rows, options)));
    }
  });

  it('runs point-scope requests alone (masks follow global row indices), each as alone', async () => {
    const requests = [[[0.1], [0.2]], [[0.3]], [[0.4], [0.5], [0.6]]];
    const options = { samples: 30, seed: 5, maskScope: 'point' as const };
    const runsBefore = await s.metric('mcu_predict_runs_total');
    const answers = await Promise.all(requests.map((rows) => s.post({ inputs: rows, options })));
    expect((await s.metric('mcu_predict_runs_total')) - runsBefore).toBe(3);
    for (const [k, rows] of requests.entries()) {
      expect(answers[k]!.body.meta.maskScope).toBe('point');
      expect(answers[k]!.body, `request ${k}`).toEqual(await alone(rows, { samples: 30, seed: 5, scope: 'point' }));
    }
  });

  it('counts samples, requests by route and status, and latency in /metrics', async () => {
    const { status, text } = await s.get('/metrics');
    expect(status).toBe(200);
    expect(text).toMatch(/^mcu_http_requests_total\{route="\/v1\/models\/:name\/predict",method="POST",status="200"\} \d+$/m);
    expect(text).toMatch(/^mcu_http_request_duration_seconds_bucket\{le="0\.1",route="\/v1\/models\/:name\/predict"\} \d+$/m);
    expect(await s.metric('mcu_predict_samples_total', 'model="co2"')).toBeGreaterThan(0);
    expect(text).toMatch(/^mcu_queue_depth 0$/m);
  });
});

describe('a TensorFlow.js model.json beside an ONNX file', () => {
  it('serves examples/ as co2_relu.preserve (onnx) and twin (examples/twin/model.json, tfjs), twin as core predicts it', async () => {
    const examples = path.join(REPO, 'examples');
    const server = await createServer({ models: examples });
    try {
      const url = await server.listen();
      const list = (await (await fetch(`${url}/v1/models`)).json()) as { models: { name: string; backend: string }[] };
      expect(list.models.map((m) => [m.name, m.backend])).toEqual([
        ['co2_relu.preserve', 'onnx'],
        ['twin', 'tfjs'],
      ]);
      const rows = fs
        .readFileSync(path.join(examples, 'twin', 'input.csv'), 'utf8')
        .trim()
        .split('\n')
        .filter((l) => /^[-\d.]/.test(l))
        .map((l) => l.split(',').map(Number));
      const r = await fetch(`${url}/v1/models/twin/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: rows, options: { samples: 20, seed: 4 } }),
      });
      expect(r.status).toBe(200);
      const tfjs = createMcu({ modules: [tfjsModule], memoryBudgetBytes: 512 * 1024 * 1024 });
      try {
        const model = await tfjs.load({ kind: 'path', path: path.join(examples, 'twin', 'model.json') });
        const alone = await predict(model, rows, { mcu: tfjs, samples: 20, seed: 4, memoryBudgetBytes: 512 * 1024 * 1024 });
        expect(await r.json()).toEqual(JSON.parse(JSON.stringify(predictResponse(model, alone, 0, rows.length))));
      } finally {
        await tfjs.dispose();
      }
    } finally {
      await server.close();
    }
  });
});
