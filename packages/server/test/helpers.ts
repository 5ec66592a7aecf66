import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, type McuServer, type ServerOptions } from '../src/index.js';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const CO2 = path.join(REPO, 'examples', 'co2_relu.preserve.onnx');

/** The CO2 months of examples/co2-months.csv (one value per row). */
export function co2Rows(): number[][] {
  const lines = fs
    .readFileSync(path.join(REPO, 'examples', 'co2-months.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1);
  return lines.map((l) => [Number(l)]);
}

/** A models directory holding the CO2 example as `co2`. */
export function modelsDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-serve-'));
  fs.copyFileSync(CO2, path.join(dir, 'co2.onnx'));
  return dir;
}

/** A predict answer as the tests read it: the result, or an error's code and message. */
export interface Answer {
  readonly code?: string;
  readonly message?: string;
  readonly meta: { readonly [k: string]: unknown; readonly maskScope?: string };
  readonly outputs: Readonly<Record<string, { readonly mean: number[][] }>>;
}

export interface Running {
  readonly server: McuServer;
  readonly url: string;
  post(body: unknown, model?: string): Promise<{ status: number; body: Answer }>;
  get(route: string): Promise<{ status: number; text: string }>;
  /** A counter or gauge value from GET /metrics (summed over label sets that contain `labels`). */
  metric(name: string, labels?: string): Promise<number>;
}

/** A real server on 127.0.0.1, any free port. */
export async function start(options: Partial<ServerOptions> = {}): Promise<Running> {
  const server = await createServer({ models: modelsDir(), ...options });
  const url = await server.listen({ port: 0, host: '127.0.0.1' });
  const post = async (body: unknown, model = 'co2') => {
    const r = await fetch(`${url}/v1/models/${model}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: r.status, body: (await r.json()) as Answer };
  };
  const get = async (route: string) => {
    const r = await fetch(`${url}${route}`);
    return { status: r.status, text: await r.text() };
  };
  const metric = async (name: string, labels = '') => {
    const { text } = await get('/metrics');
    let sum = 0;
    for (const line of text.split('\n')) {
      const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
      if (m !== null && m[1] === name && (m[2] ?? '').includes(labels)) sum += Number(m[3]);
    }
    return sum;
  };
  return { server, url, post, get, metric };
}
