import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMcu, RegressionEstimator, type Mcu, type StochasticModel } from '@mcu/core';
import { onnxModule } from '@mcu/backend-onnx';
import { co2Ref, fixturePath } from './helpers/fixtures.js';

/**
 * mcu's MC statistics against PyTorch's own (paper fig. 2 setting): co2 MLPs 4×512, p = 0.1,
 * T = 1000 passes of nn.Dropout with per-point masks (x.repeat(T)), for all 741 months.
 *
 * Both sides are Monte Carlo estimates with T = 1000, so the test compares each point's
 * difference with its standard error:
 *   mean: SE = sqrt(σ_mcu²/T + σ_torch²/T);  std: SE ≈ sqrt(σ_mcu²/(2T) + σ_torch²/(2T))
 *   (the standard error of a sample standard deviation of near-Gaussian outputs is σ/√(2T)).
 * Within 3 standard errors at ≥ 99 % of the points (a |z| > 3 happens at 0.27 % of points
 * when the distributions agree).
 */
const T = 1000;

function shareWithin3Se(ours: { mean: Float64Array; std: Float64Array }, torchMean: number[], torchStd: number[]) {
  let okMean = 0;
  let okStd = 0;
  const n = torchMean.length;
  for (let i = 0; i < n; i++) {
    const sm = Math.sqrt((ours.std[i]! ** 2 + torchStd[i]! ** 2) / T);
    const ss = Math.sqrt((ours.std[i]! ** 2 + torchStd[i]! ** 2) / (2 * T));
    if (Math.abs(ours.mean[i]! - torchMean[i]!) <= 3 * sm) okMean++;
    if (Math.abs(ours.std[i]! - torchStd[i]!) <= 3 * ss) okStd++;
  }
  return { mean: okMean / n, std: okStd / n };
}

// Full-size networks (4×512), every month, per-sample masks (mcu's default scope).
describe.each(['co2_relu', 'co2_tanh'] as const)('%s (PyTorch 1.13, 4×512): MC mean and std with T = 1000', (name) => {
  let mcu: Mcu;
  let model: StochasticModel;
  const ref = co2Ref('1.13', name);
  const feeds = { x: { dtype: 'float32' as const, data: Float32Array.from(ref.x), dims: [ref.x.length, 1] } };

  beforeAll(async () => {
    mcu = createMcu({ backends: ['onnx'], modules: [onnxModule] });
    model = await mcu.load({ kind: 'path', path: fixturePath(`pytorch-1.13/${name}.preserve.onnx`) });
  });
  afterAll(async () => model?.dispose());

  it('scope sample: within 3 standard errors of PyTorch at ≥ 99 % of the 741 points', async () => {
    const est = new RegressionEstimator({ output: model.outputs[0]!.name });
    await mcu.engine.run(model, feeds, { samples: T, seed: 20161, scope: 'sample', estimators: [est] });
    const r = est.result();
    // No τ given: std is the sample std, the quantity PyTorch's fixture holds.
    const share = shareWithin3Se({ mean: r.mean, std: r.std }, ref.mc_mean, ref.mc_std);
    console.log(`${name} 4×512 scope sample: mean within 3 SE at ${(share.mean * 100).toFixed(1)} %, std at ${(share.std * 100).toFixed(1)} %`);
    expect(share.mean).toBeGreaterThanOrEqual(0.99);
    expect(share.std).toBeGreaterThanOrEqual(0.99);
  }, 300_000);
});

// Per-point masks draw T·N·width values per site (≈ 20 s of Philox for 4×512 here); on the
// 4×128 networks both scopes are checked against PyTorch and against each other (same marginals).
describe.each(['co2_relu', 'co2_tanh'] as const)('%s (PyTorch 1.13, 4×128): both mask scopes', (name) => {
  let mcu: Mcu;
  let model: StochasticModel;
  const ref = co2Ref('1.13-small', name);
  const idx = ref.x.map((_, i) => i);
  const feeds = { x: { dtype: 'float32' as const, data: Float32Array.from(idx.map((i) => ref.x[i]!)), dims: [idx.length, 1] } };
  const torchMean = idx.map((i) => ref.mc_mean[i]!);
  const torchStd = idx.map((i) => ref.mc_std[i]!);
  const results: Record<string, { mean: Float64Array; std: Float64Array }> = {};

  beforeAll(async () => {
    mcu = createMcu({ backends: ['onnx'], modules: [onnxModule] });
    model = await mcu.load({ kind: 'path', path: fixturePath(`pytorch-1.13-small/${name}.preserve.onnx`) });
  });
  afterAll(async () => model?.dispose());

  for (const scope of ['point', 'sample'] as const) {
    it(`scope ${scope}: within 3 standard errors of PyTorch at ≥ 99 % of the points`, async () => {
      const est = new RegressionEstimator({ output: model.outputs[0]!.name });
      await mcu.engine.run(model, feeds, { samples: T, seed: 7, scope, estimators: [est] });
      const r = est.result();
      results[scope] = { mean: r.mean, std: r.std };
      const share = shareWithin3Se(results[scope], torchMean, torchStd);
      console.log(`${name} 4×128 scope ${scope}: mean within 3 SE at ${(share.mean * 100).toFixed(1)} %, std at ${(share.std * 100).toFixed(1)} %`);
      expect(share.mean).toBeGreaterThanOrEqual(0.99);
      expect(share.std).toBeGreaterThanOrEqual(0.99);
    }, 300_000);
  }

  it('per-sample and per-point masks give the same marginals within MC error', () => {
    const share = shareWithin3Se(results['point']!, Array.from(results['sample']!.mean), Array.from(results['sample']!.std));
    expect(share.mean).toBeGreaterThanOrEqual(0.99);
    expect(share.std).toBeGreaterThanOrEqual(0.99);
  });
});
