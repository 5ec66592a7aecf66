// Health, readiness, model listing, the OpenAPI document and graceful shutdown, over real HTTP.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../src/index.js';
import { start, type Running } from './helpers.js';

describe('routes besides predict', () => {
  let s: Running;
  beforeAll(async () => {
    s = await start();
  });
  afterAll(() => s.server.close());

  it('is live and ready once the models are loaded', async () => {
    expect(await s.get('/healthz')).toEqual({ status: 200, text: '{"status":"ok"}' });
    expect(await s.get('/readyz')).toEqual({ status: 200, text: '{"status":"ready"}' });
  });

  it('lists the models by name and inspects one', async () => {
    const list = JSON.parse((await s.get('/v1/models')).text);
    expect(list.models.map((m: { name: string }) => m.name)).toEqual(['co2']);
    expect(list.models[0]).toMatchObject({ backend: 'onnx', inputs: [{ name: 'x', dtype: 'float32' }] });
    const one = JSON.parse((await s.get('/v1/models/co2')).text);
    expect(one).toMatchObject({ name: 'co2', backend: 'onnx', selfCheck: { passed: true } });
    expect(one.sites).toHaveLength(4);
  });

  it('serves the OpenAPI document that is checked in as packages/server/openapi.json', async () => {
    const served = JSON.parse((await s.get('/openapi.json')).text);
    const checkedIn = JSON.parse(fs.readFileSync(new URL('../openapi.json', import.meta.url), 'utf8'));
    // regenerate with: pnpm -r build && node packages/server/scripts/openapi.mjs
    expect(served).toEqual(checkedIn);
    expect(Object.keys(served.paths).sort()).toEqual([
      '/healthz',
      '/metrics',
      '/openapi.json',
      '/readyz',
      '/v1/models',
      '/v1/models/{name}',
      '/v1/models/{name}/predict',
    ]);
    expect(served.paths['/v1/models/{name}/predict'].post.requestBody.content['application/json'].schema.required).toEqual(['inputs']);
  });
});

describe('graceful shutdown', () => {
  it('finishes a request in flight, then refuses connections and frees the models', async () => {
    const s = await start({ batchWaitMs: 200 });
    const inFlight = s.post({ inputs: [[0.1], [0.2]], options: { samples: 40, seed: 2 } });
    await new Promise((r) => setTimeout(r, 50)); // it waits in the batcher now
    const closed = s.server.close();
    const r = await inFlight;
    expect(r.status).toBe(200);
    expect(r.body.outputs.y.mean).toHaveLength(2);
    await closed;
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
    await s.server.close(); // safe twice
  });

  it('refuses a model directory without models, naming the directory', async () => {
    const dir = fs.mkdtempSync('/tmp/mcu-empty-');
    await expect(createServer({ models: dir })).rejects.toThrow(`models directory '${dir}' holds no *.onnx or model.json file`);
  });
});
