// `mcu serve` end to end: the BUILT CLI as a subprocess on 127.0.0.1 (any free port), talked to
// with fetch. Its predict answer is the JSON `mcu predict --format json` prints for the same
// seed; its flags take effect; SIGTERM finishes a request in flight, then the process exits 0.
// Needs `pnpm -r build` first.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MCU_BIN, REPO_ROOT, requireBuiltCli, runOk, tempDir } from './helpers/cli.js';

const MODEL = path.join(REPO_ROOT, 'examples', 'co2_relu.preserve.onnx');
const CSV = path.join(REPO_ROOT, 'examples', 'co2-months.csv');
const rows = () =>
  fs
    .readFileSync(CSV, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => [Number(l)]);

interface Serving {
  readonly child: ChildProcess;
  readonly url: string;
  readonly exited: Promise<number | null>;
  stdout(): string;
}

/** Start `mcu serve --models DIR --port 0 ARGS…` and wait for its `serving … at URL` line. */
async function serve(args: readonly string[]): Promise<Serving> {
  const dir = tempDir('mcu-serve-models-');
  fs.copyFileSync(MODEL, path.join(dir, 'co2.onnx'));
  const child = spawn(process.execPath, [MCU_BIN, 'serve', '--models', dir, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      err += d;
      const m = /^mcu: serving co2 at (http:\/\/127\.0\.0\.1:\d+) \(/m.exec(err);
      if (m !== null) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`mcu serve exited with ${code} before listening: ${err}`)));
  });
  return { child, url, exited, stdout: () => out };
}

const post = async (url: string, body: unknown) => {
  const r = await fetch(`${url}/v1/models/co2/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

describe('mcu serve (the built CLI)', () => {
  let s: Serving;
  beforeAll(async () => {
    requireBuiltCli();
    s = await serve(['--max-rows', '20', '--max-samples', '2000', '--batch-wait-ms', '5']);
  });
  afterAll(() => {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
  });

  it('answers what mcu predict --format json prints for the same seed (the CO2 example, T = 200, τ = 50)', async () => {
    const cli = await runOk(['predict', MODEL, '--input', CSV, '--samples', '200', '--seed', '3', '--tau', '50', '--format', 'json', '--quiet']);
    const r = await post(s.url, { inputs: rows(), options: { samples: 200, seed: 3, tau: 50 } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual(JSON.parse(cli.stdout));
  });

  it('holds the limits its flags give', async () => {
    expect((await post(s.url, { inputs: Array.from({ length: 21 }, () => [0.1]) })).status).toBe(413);
    const over = await post(s.url, { inputs: [[0.1]], options: { samples: 2001 } });
    expect(over).toEqual({ status: 400, body: { code: 'E_CONFIG', message: expect.stringMatching(/over this server's limit of 2000 \(--max-samples\)/) } });
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
  });

  it('logs each request as a pino JSON line on stdout', async () => {
    await fetch(`${s.url}/healthz`);
    const lines = s
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string; res?: { statusCode: number } });
    expect(lines.some((l) => l.msg === 'request completed' && l.res?.statusCode === 200)).toBe(true);
  });

  it("loads and runs the models on the configuration's backend, as predict does", async () => {
    const config = path.join(tempDir('mcu-serve-config-'), 'mcu.config.json');
    fs.writeFileSync(config, JSON.stringify({ backend: 'onnx-web' }));
    const web = await serve(['--config', config]);
    try {
      const list = (await (await fetch(`${web.url}/v1/models`)).json()) as { models: { name: string; backend: string }[] };
      expect(list.models.map((m) => [m.name, m.backend])).toEqual([['co2', 'onnx-web']]);
      const r = await post(web.url, { inputs: [[0.1]], options: { samples: 10 } });
      expect([r.status, (r.body['meta'] as { backend: string }).backend]).toEqual([200, 'onnx-web']);
    } finally {
      web.child.kill('SIGTERM');
      await web.exited;
    }
  });

  it("takes the configuration's samples, seed and tau as every request's defaults; a request's own options win", async () => {
    const config = path.join(tempDir('mcu-serve-defaults-'), 'mcu.config.json');
    fs.writeFileSync(config, JSON.stringify({ samples: 9, seed: 3, tau: 20 }));
    const d = await serve(['--config', config]);
    try {
      const meta = async (options?: unknown) => (await post(d.url, { inputs: [[0.1]], ...(options ? { options } : {}) })).body['meta'];
      expect(await meta()).toMatchObject({ samples: 9, seed: 3, tau: 20 });
      expect(await meta({ samples: 4, tau: 1 })).toMatchObject({ samples: 4, seed: 3, tau: 1 });
    } finally {
      d.child.kill('SIGTERM');
      await d.exited;
    }
  });

  it('on SIGTERM finishes the request in flight, then exits 0', async () => {
    const slow = await serve(['--batch-wait-ms', '300']);
    const inFlight = post(slow.url, { inputs: rows(), options: { samples: 100, seed: 1 } });
    await new Promise((r) => setTimeout(r, 100)); // waiting in the batcher now
    slow.child.kill('SIGTERM');
    const r = await inFlight;
    expect(r.status).toBe(200);
    expect((r.body['outputs'] as { y: { mean: unknown[] } }).y.mean).toHaveLength(13);
    expect(await slow.exited).toBe(0);
  });
});
