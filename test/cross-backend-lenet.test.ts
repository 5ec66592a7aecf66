// Cross-backend: PyTorch's LeNet (test/fixtures, pytorch-1.13/lenet.preserve.onnx) on
// onnxruntime, and the same weights rewritten as a Keras / TensorFlow.js layers model
// (Conv2D → MaxPooling2D → Conv2D → MaxPooling2D → Flatten → Dense → Dropout → Dense,
// channels_last) on the tfjs backend. Same seed, same masks: every MC sample's logits agree.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMcu, createSeededSampler, type StochasticModel, type TensorData } from '@mcu/core';
import { onnxModule } from '@mcu/backend-onnx';
import { tfjsModule } from '@mcu/backend-tfjs';
import { fixturePath, lenetRef } from './helpers/fixtures.js';
import { LENET, writeKerasLenet } from './helpers/keras-lenet.js';
import { requireBuiltCli, runMcu, runOk, tempDir, writeCsv } from './helpers/cli.js';

describe('LeNet: onnxruntime (PyTorch export) vs tfjs (the same weights as a Keras conv net)', () => {
  let dir: string;
  let onnx: StochasticModel;
  let tfjs: StochasticModel;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-lenet-keras-'));
    onnx = await createMcu({ backends: ['onnx'], modules: [onnxModule] }).load({ kind: 'path', path: fixturePath(LENET) });
    tfjs = await createMcu({ backends: ['tfjs'], modules: [tfjsModule] }).load({ kind: 'path', path: writeKerasLenet(dir) });
  }, 120_000);
  afterAll(async () => {
    await onnx?.dispose();
    await tfjs?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('has the same single site (Bernoulli p = 0.5 on the 500 fc1 units)', () => {
    for (const m of [onnx, tfjs]) {
      expect(m.sites.map((s) => [s.kind, s.rate, s.maskShape])).toEqual([['bernoulli', 0.5, [500]]]);
    }
  });

  it.each(['sample', 'point'] as const)(
    'every sample of 16 digits × 24 masks (scope %s) agrees to float32 accuracy',
    async (scope) => {
      const ref = lenetRef('1.13');
      const N = 16;
      const S = 24;
      const pixels = Float32Array.from(ref.test_images_u8.slice(0, N).flat(), (b) => b / 255);
      const masks: Record<string, TensorData> = {};
      const sampler = createSeededSampler({ seed: 5 });
      const mask = sampler.sample({ site: onnx.sites[0]!, siteIndex: 0, firstSample: 0, count: S, rows: N, scope });
      masks[onnx.sites[0]!.name] = mask;
      const a = (await onnx.run({ [onnx.inputs[0]!.name]: { dtype: 'float32', data: pixels, dims: [N, 1, 28, 28] } }, masks, { samples: S, scope }))[
        onnx.outputs[0]!.name
      ]!;
      const b = (
        await tfjs.run(
          { [tfjs.inputs[0]!.name]: { dtype: 'float32', data: pixels, dims: [N, 28, 28, 1] } },
          { [tfjs.sites[0]!.name]: mask },
          { samples: S, scope },
        )
      )[tfjs.outputs[0]!.name]!;
      expect(b.dims).toEqual(a.dims);
      expect(a.dims).toEqual([S * N, 10]);
      let worst = 0;
      let scale = 0;
      for (let k = 0; k < a.data.length; k++) {
        worst = Math.max(worst, Math.abs((a.data[k] as number) - (b.data[k] as number)));
        scale = Math.max(scale, Math.abs(a.data[k] as number));
      }
      console.log(`[lenet onnx vs tfjs] scope ${scope}: max |Δ logit| ${worst.toExponential(2)} of max |logit| ${scale.toFixed(2)}`);
      // Two float32 implementations of 5×5 convolutions and 800- and 500-term sums: 1e-5 of the
      // logit scale is ~100 float32 ulps of accumulated reordering.
      expect(worst).toBeLessThan(1e-5 * scale);
      // and the masks matter: a sample with other masks differs by far more
      const other = sampler.sample({ site: onnx.sites[0]!, siteIndex: 0, firstSample: S, count: S, rows: N, scope });
      const c = (
        await tfjs.run(
          { [tfjs.inputs[0]!.name]: { dtype: 'float32', data: pixels, dims: [N, 28, 28, 1] } },
          { [tfjs.sites[0]!.name]: other },
          { samples: S, scope },
        )
      )[tfjs.outputs[0]!.name]!;
      let moved = 0;
      for (let k = 0; k < a.data.length; k++) moved = Math.max(moved, Math.abs((a.data[k] as number) - (c.data[k] as number)));
      expect(moved).toBeGreaterThan(1000 * worst);
    },
    120_000,
  );
});

describe('mcu CLI on the Keras LeNet: model.json goes to the tfjs backend without --backend', () => {
  beforeAll(() => requireBuiltCli());

  it('predict picks tfjs and agrees with the ONNX export on the same seed; inspect lists the site; convert refuses', async () => {
    const dir = tempDir();
    const model = writeKerasLenet(dir);
    const ref = lenetRef('1.13');
    const images = writeCsv(
      path.join(dir, 'digits.csv'),
      ref.test_images_u8.slice(0, 8).map((img) => img.map((b) => b / 255)),
    );
    const opts = ['--input', images, '--samples', '50', '--seed', '9', '--mask-scope', 'point', '--task', 'classification', '--format', 'json'];
    type Out = { meta: { backend: string; sites: { name: string; rate: number }[] }; outputs: Record<string, { probs: number[][]; predicted: number[] }> };
    const k = JSON.parse((await runOk(['predict', model, ...opts], { timeoutMs: 120_000 })).stdout) as Out;
    const o = JSON.parse((await runOk(['predict', fixturePath(LENET), ...opts], { timeoutMs: 120_000 })).stdout) as Out;
    expect(k.meta.backend).toBe('tfjs');
    // the model's folder works too (it holds model.json)
    const viaDir = JSON.parse((await runOk(['predict', dir, ...opts], { timeoutMs: 120_000 })).stdout) as Out;
    expect(viaDir.outputs).toEqual(k.outputs);
    expect(o.meta.backend).toBe('onnx');
    expect(k.meta.sites.map((s) => s.rate)).toEqual([0.5]);
    const kp = Object.values(k.outputs)[0]!;
    const op = Object.values(o.outputs)[0]!;
    expect(kp.predicted).toEqual(op.predicted);
    expect(kp.predicted).toEqual(ref.test_labels.slice(0, 8));
    // the same masks through two runtimes: probabilities to float32 accuracy
    for (let i = 0; i < 8; i++) for (let c = 0; c < 10; c++) expect(Math.abs(kp.probs[i]![c]! - op.probs[i]![c]!)).toBeLessThan(1e-5);

    const ins = JSON.parse((await runOk(['inspect', model, '--format', 'json'])).stdout) as {
      sites: { name: string; op: string; shape: number[] }[];
      flops: { note: string };
    };
    expect(ins.sites).toEqual([
      {
        name: 'dropout',
        op: 'Dropout',
        opset: null,
        node: 'dropout',
        rate: 0.5,
        kind: 'bernoulli',
        scaling: 'inverted',
        shape: [500],
        dims: null,
        rows: { axis: 0, factor: 1 },
      },
    ]);
    expect(ins.flops.note).toMatch(/ONNX models only/);

    const out = path.join(dir, 'x.onnx');
    const conv = await runMcu(['convert', model, '-o', out]);
    expect([conv.status, conv.stdout]).toEqual([2, '']);
    expect(conv.stderr).toMatch(/^mcu: 'convert' rewrites ONNX graphs; '.*model\.json' is a TensorFlow\.js layers model.*mcu predict/);
    expect(fs.existsSync(out)).toBe(false);
    const ins2 = await runMcu(['inspect', model, '--insert-dropout', '0.1']);
    expect(ins2.status).toBe(2);
    expect(ins2.stderr).toMatch(/^mcu: --insert-dropout rewrites ONNX graphs, but '.*model\.json' goes to the tfjs backend/);
  }, 240_000);
});
