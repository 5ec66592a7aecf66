// One model.onnx, two engines: `mcu predict model.onnx --backend onnx` (onnxruntime) and
// `--backend tfjs` (the ONNX graph translated into TensorFlow.js ops), and the same switch as one
// line of mcu.config.json. Same seed → same masks (counter-based per site, row and element), so
// the means and variances must agree to float32 tolerance: ≤ 1e-5 relative to the output scale
// (two float32 engines with different kernels and summation orders; observed ~1e-7).
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir, writeCsv, writeJson } from './helpers/cli.js';
import { mcu, show, type InProcessRun } from './helpers/in-process.js';
import { co2Ref, fixturePath, lenetRef, uciFixture } from './helpers/fixtures.js';

let dir: string;
const F: Record<string, string> = {};

beforeAll(() => {
  dir = tempDir('mcu-swap-');
  const ref = co2Ref('1.13', 'co2_relu');
  F['x'] = writeCsv(
    path.join(dir, 'x.csv'),
    [0, 100, 300, 500, 740].map((i) => [ref.x[i]!]),
  );
  const lenet = lenetRef('1.13');
  F['digits'] = writeCsv(
    path.join(dir, 'digits.csv'),
    lenet.test_images_u8.slice(0, 3).map((img) => img.map((b) => b / 255)),
  );
  const uci = uciFixture('yacht');
  F['uciModel'] = uci.splits[0]!.modelPath;
  F['uciX'] = writeCsv(
    path.join(dir, 'uci.csv'),
    uci.data.slice(0, 4).map((r) => uci.featureIndex.map((k) => r[k]!)),
  );
});

type Result = {
  meta: { backend: string; sites: { rate: number }[] };
  outputs: Record<string, { mean?: number[][]; variance?: number[][]; probs?: number[][]; entropy?: number[]; mutualInformation?: number[] }>;
};
const ok = (r: InProcessRun): Result => {
  expect(r.code, show(r)).toBe(0);
  return JSON.parse(r.stdout) as Result;
};
const flat = (v: unknown): number[] => (Array.isArray(v) ? v.flatMap(flat) : typeof v === 'number' ? [v] : []);
/** max |a − b| / max(|b|, 1e-12) over every number of every output field (outputs paired in order: a Keras model names them after its layers). */
function rel(a: Result, b: Result): number {
  let d = 0;
  let s = 0;
  const mine = Object.values(a.outputs);
  expect(mine.length).toBe(Object.keys(b.outputs).length);
  for (const [k0, [name, out]] of Object.entries(b.outputs).entries()) {
    for (const [k, v] of Object.entries(out)) {
      const x = flat((mine[k0] as Record<string, unknown>)[k]);
      const y = flat(v);
      expect(x.length, `${name}.${k}`).toBe(y.length);
      y.forEach((w, i) => {
        d = Math.max(d, Math.abs(x[i]! - w));
        s = Math.max(s, Math.abs(w));
      });
    }
  }
  return d / Math.max(s, 1e-12);
}

const CASES: [string, () => string, () => string, string[]][] = [
  ['co2 4×512 ReLU (PRESERVE export)', () => fixturePath('pytorch-1.13/co2_relu.preserve.onnx'), () => F['x']!, ['--tau', '50']],
  ['LeNet (PRESERVE export)', () => fixturePath('pytorch-1.13/lenet.preserve.onnx'), () => F['digits']!, ['--task', 'classification']],
  ['UCI yacht, split 0', () => F['uciModel']!, () => F['uciX']!, []],
];

describe('the same model.onnx on onnxruntime and on TensorFlow.js', () => {
  it.each(CASES)(
    '%s: --backend onnx and --backend tfjs agree',
    async (_name, model, input, extra) => {
      const args = (backend: string) => ['predict', model(), '--input', input(), '--samples', '30', '--seed', '11', '--backend', backend, ...extra];
      const a = ok(await mcu(args('onnx'), dir));
      const b = ok(await mcu(args('tfjs'), dir));
      expect([a.meta.backend, b.meta.backend]).toEqual(['onnx', 'tfjs']);
      expect(b.meta.sites).toEqual(a.meta.sites);
      expect(rel(b, a)).toBeLessThanOrEqual(1e-5);
    },
    120_000,
  );

  it('one line of mcu.config.json swaps the backend', async () => {
    const cwd = tempDir('mcu-swap-cfg-');
    writeJson(path.join(cwd, 'mcu.config.json'), { backend: 'tfjs', backendOptions: { tfjs: { backend: 'cpu' } } });
    const model = fixturePath('pytorch-1.13/co2_relu.preserve.onnx');
    const args = ['predict', model, '--input', F['x']!, '--samples', '30', '--seed', '11'];
    const viaConfig = ok(await mcu(args, cwd));
    const onnx = ok(await mcu([...args, '--backend', 'onnx'], cwd));
    expect(viaConfig.meta.backend).toBe('tfjs');
    expect(rel(viaConfig, onnx)).toBeLessThanOrEqual(1e-5);
  }, 120_000);

  it('the example twin: model.json and model.onnx (same weights) agree through the CLI', async () => {
    const twin = path.join(REPO_ROOT, 'examples', 'twin');
    const input = path.join(twin, 'input.csv');
    expect(fs.existsSync(input), 'examples/twin/input.csv').toBe(true);
    const args = (model: string, backend: string) => [
      'predict',
      path.join(twin, model),
      '--input',
      input,
      '--samples',
      '40',
      '--seed',
      '5',
      '--backend',
      backend,
    ];
    const onnx = ok(await mcu(args('model.onnx', 'onnx'), dir));
    const onnxOnTfjs = ok(await mcu(args('model.onnx', 'tfjs'), dir));
    const keras = ok(await mcu(args('model.json', 'tfjs'), dir));
    expect(rel(onnxOnTfjs, onnx)).toBeLessThanOrEqual(1e-5);
    expect(rel(keras, onnx)).toBeLessThanOrEqual(1e-5);
  }, 120_000);
});
