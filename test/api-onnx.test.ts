// The one-call API end to end on the bundled ONNX example: predict(path, x, { mcu }) gives the
// numbers `mcu predict` prints for the same model, rows, τ, T and seed.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createMcu, predict, VERSION, type RegressionPrediction } from '@mcu/core';
import { onnxModule } from '@mcu/backend-onnx';
import { mcu } from './helpers/in-process.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const model = path.join(root, 'examples/co2_relu.preserve.onnx');
const csv = path.join(root, 'examples/co2-months.csv');

describe('predict() on examples/co2_relu.preserve.onnx', () => {
  it('equals `mcu predict --input examples/co2-months.csv --tau 50 --samples 200 --seed 3`', async () => {
    const lines = readFileSync(csv, 'utf8').trim().split(/\r?\n/);
    const x = lines.slice(1).map((l) => [Number(l)]); // header 'x', one value per row
    expect(x.every(([v]) => Number.isFinite(v))).toBe(true);

    const r = await predict(model, x, { mcu: createMcu({ modules: [onnxModule] }), tau: 50, samples: 200, seed: 3 });
    const cli = await mcu(
      ['predict', 'examples/co2_relu.preserve.onnx', '--input', 'examples/co2-months.csv', '--tau', '50', '--samples', '200', '--seed', '3'],
      root,
    );
    expect(cli.code, cli.stderr).toBe(0);
    const printed = JSON.parse(cli.stdout) as {
      outputs: Record<string, { mean: number[][]; variance: number[][]; std: number[][] }>;
      meta: { samples: number; tau: number };
    };

    const names = Object.keys(printed.outputs);
    expect(Object.keys(r.outputs)).toEqual(names);
    for (const name of names) {
      const got = r.outputs[name] as RegressionPrediction;
      expect(got.task).toBe('regression');
      expect(got.dims).toEqual([x.length, 1]);
      expect(Array.from(got.mean)).toEqual(printed.outputs[name]!.mean.flat());
      expect(Array.from(got.variance)).toEqual(printed.outputs[name]!.variance.flat());
      expect(Array.from(got.std)).toEqual(printed.outputs[name]!.std.flat());
    }
    expect(r.meta).toMatchObject({ version: VERSION, backend: 'onnx', samples: printed.meta.samples, tau: 50, seed: 3, scope: 'sample' });
    expect(r.meta.modelHash).toEqual(expect.any(String));
  });
});
