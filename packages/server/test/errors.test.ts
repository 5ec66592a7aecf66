// Bad requests over real HTTP: each gets its 4xx and a JSON { code, message } (no stack), and
// the server keeps answering.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, type Answer, type Running } from './helpers.js';

describe('bad requests', () => {
  let s: Running;
  beforeAll(async () => {
    s = await start({ maxRows: 20, maxSamples: 500, bodyLimitBytes: 4096 });
  });
  afterAll(() => s.server.close());

  const cases: [string, () => Promise<{ status: number; body: Answer }>, number, string, RegExp][] = [
    ['malformed JSON', () => s.post('{"inputs": [[0.1]'), 400, 'E_INPUT', /not valid JSON/],
    ['an unknown model', () => s.post({ inputs: [[0.1]] }, 'nope'), 404, 'E_NOT_FOUND', /no model 'nope'; this server has co2/],
    [
      'a path as model name',
      () => s.post({ inputs: [[0.1]] }, '..%2F..%2Fetc%2Fpasswd'),
      400,
      'E_USAGE',
      /'\.\.\/\.\.\/etc\/passwd' is not a model name.*never a path/,
    ],
    ['a wrong input width', () => s.post({ inputs: [[0.1, 0.2]] }), 400, 'E_INPUT', /input 'x' expects dims \[N, 1\], got \[1, 2\]/],
    [
      'NaN in base64 rows',
      () => s.post({ inputs: { data: Buffer.from(new Float32Array([0.1, Number.NaN]).buffer).toString('base64'), dims: [2, 1] } }),
      400,
      'E_INPUT',
      /input 'x' row 1 value 0 is NaN: inputs must be finite/,
    ],
    ['NaN as a string', () => s.post({ inputs: [['NaN']] }), 400, 'E_INPUT', /expected a number, got string/],
    ['samples 0', () => s.post({ inputs: [[0.1]], options: { samples: 0 } }), 400, 'E_USAGE', /body\.options\.samples must be >= 1, got 0/],
    [
      'samples over the limit',
      () => s.post({ inputs: [[0.1]], options: { samples: 501 } }),
      400,
      'E_CONFIG',
      /options\.samples is 501, over this server's limit of 500 \(--max-samples\)/,
    ],
    ['an unknown option', () => s.post({ inputs: [[0.1]], options: { sample: 10 } }), 400, 'E_USAGE', /body\.options has no property 'sample'/],
    [
      'a bad mask scope',
      () => s.post({ inputs: [[0.1]], options: { maskScope: 'row' } }),
      400,
      'E_USAGE',
      /maskScope must be equal to one of the allowed values \("sample", "point"\), got "row"/,
    ],
    ['no inputs', () => s.post({ options: { samples: 10 } }), 400, 'E_USAGE', /must have required property 'inputs'/],
    [
      'rows over the limit',
      () => s.post({ inputs: Array.from({ length: 21 }, () => [0.1]) }),
      413,
      'E_TOO_LARGE',
      /21 rows, over this server's limit of 20 \(--max-rows\)/,
    ],
    ['a body over the limit', () => s.post({ inputs: Array.from({ length: 800 }, () => [0.123456]) }), 413, 'E_TOO_LARGE', /body/i],
  ];

  it.each(cases)('%s: the right 4xx JSON, and /healthz still answers', async (_what, send, status, code, message) => {
    const r = await send();
    expect(r.status).toBe(status);
    expect(Object.keys(r.body).sort()).toEqual(['code', 'message']);
    expect(r.body.code).toBe(code);
    expect(r.body.message).toMatch(message);
    expect(r.body.message).not.toMatch(/\n\s+at /);
    const h = await s.get('/healthz');
    expect(h).toEqual({ status: 200, text: '{"status":"ok"}' });
  });

  it('answers an unknown route with a 404 JSON naming where the routes are', async () => {
    const r = await s.get('/v2/nothing');
    expect(r.status).toBe(404);
    expect(JSON.parse(r.text)).toEqual({ code: 'E_NOT_FOUND', message: 'no route GET /v2/nothing: the routes are listed at GET /openapi.json' });
  });

  it('counts the 4xx answers in /metrics by status', async () => {
    expect(await s.metric('mcu_http_requests_total', 'status="400"')).toBeGreaterThanOrEqual(8);
    expect(await s.metric('mcu_http_requests_total', 'status="413"')).toBeGreaterThanOrEqual(2);
  });
});

describe('limits of the queue and the deadline', () => {
  it('answers 429 while the queue is full, and 503 when the deadline passes while queued', async () => {
    const s = await start({ queue: 1, batchWaitMs: 300, timeoutMs: 100 });
    try {
      const first = s.post({ inputs: [[0.1]], options: { samples: 5 } });
      await new Promise((r) => setTimeout(r, 30));
      expect(await s.metric('mcu_queue_depth')).toBe(1);
      const second = await s.post({ inputs: [[0.2]], options: { samples: 5 } });
      expect(second.status).toBe(429);
      expect(second.body).toMatchObject({ code: 'E_BUSY', message: expect.stringMatching(/queue is full \(1 requests waiting\)/) });
      const r = await first;
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ code: 'E_TIMEOUT', message: expect.stringMatching(/waited 100 ms in the queue/) });
      expect(await s.metric('mcu_queue_depth')).toBe(0);
    } finally {
      await s.server.close();
    }
  });
});

describe('the deadline of a running prediction', () => {
  it('answers 504 when the run takes longer than timeoutMs, and keeps serving', async () => {
    const s = await start({ timeoutMs: 40, batchWaitMs: 0 });
    try {
      const r = await s.post({ inputs: [[0.1], [0.2], [0.3]], options: { samples: 10_000 } });
      expect(r.status).toBe(504);
      expect(r.body).toEqual({ code: 'E_TIMEOUT', message: 'the prediction took longer than 40 ms: send fewer rows or samples' });
      expect((await s.get('/healthz')).status).toBe(200);
    } finally {
      await s.server.close();
    }
  });
});
