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
 * Within k standard errors at ≥ 99 % of the points (|z| > 3 happens at 0.27 % of independent
 * points when the distributions agree).
 */
const T = 1000;

function shareWithin(ours: { mean: Float64Array; std: Float64Array }, torchMean: number[], torchStd: number[], k: number) {
  let okMean = 0;
  let okStd = 0;
  const n = torchMean.length;
  for (let i = 0; i < n; i++) {
    const sm = Math.sqrt((ours.std[i]! ** 2 + torchStd[i]! ** 2) / T);
    const ss = Math.sqrt((ours.std[i]! ** 2 + torchStd[i]! ** 2) / (2 * T));
    if (Math.abs(ours.mean[i]! - torchMean[i]!) <= k * sm) okMean++;
    if (Math.abs(ours.std[i]! - torchStd[i]!) <= k * ss) okStd++;
  }
  return { mean: okMean / n, std: okStd / n };
}

// Full-size networks (4×512), every month. Per-point masks are what PyTorch's fixture used
// (x.repeat(T) through nn.Dropout): the like-for-like comparison, where the 741 points' MC errors
// are independent and "3 s.e. at ≥ 99 % of points" is calibrated (≈ 30 s: T·N·512 values per site).
// Per-sample masks (mcu's default) share one mask per sample across all points, so their errors
// are correlated across neighbouring months and the share of points beyond 3 s.e. fluctuates
// far more from seed to seed (98.8 % seen); the marginals are still checked, at 4 s.e.
describe.each(['co2_relu', 'co2_tanh'] as const)('%s (PyTorch 1.13, 4×512): MC mean and std with T = 1000', (name) => {
  let mcu: Mcu;
  let model: StochasticModel;
  const ref = co2Ref('1.13', name);
  const feeds = { x: { dtype: 'float32' as const, data: Float32Array.from(ref.x), dims: [ref.x.length, 1] } };
  const results: Record<string, { mean: Float64Array; std: Float64Array }> = {};

  beforeAll(async () => {
    mcu = createMcu({ backends: ['onnx'], modules: [onnxModule] });
    model = await mcu.load({ kind: 'path', path: fixturePath(`pytorch-1.13/${name}.preserve.onnx`) });
  });
  afterAll(async () => model?.dispose());

  const run = async (scope: 'point' | 'sample') => {
    const est = new RegressionEstimator({ output: model.outputs[0]!.name });
    await mcu.engine.run(model, feeds, { samples: T, seed: 20161, scope, estimators: [est] });
    // No τ given: std is the sample std, the quantity PyTorch's fixture holds.
    const r = est.result();
    results[scope] = { mean: r.mean, std: r.std };
    return results[scope];
  };

  it('scope point: within 3 standard errors of PyTorch at ≥ 99 % of the 741 points', async () => {
    const share = shareWithin(await run('point'), ref.mc_mean, ref.mc_std, 3);
    console.log(`${name} 4×512 scope point: mean within 3 SE at ${(share.mean * 100).toFixed(1)} %, std at ${(share.std * 100).toFixed(1)} %`);
    expect(share.mean).toBeGreaterThanOrEqual(0.99);
    expect(share.std).toBeGreaterThanOrEqual(0.99);
  }, 300_000);

  it('scope sample: the same marginals — within 4 standard errors of PyTorch and of scope point at ≥ 99 %', async () => {
    const sample = await run('sample');
    const vsTorch = shareWithin(sample, ref.mc_mean, ref.mc_std, 4);
    const vsPoint = shareWithin(sample, Array.from(results['point']!.mean), Array.from(results['point']!.std), 4);
    console.log(
      `${name} 4×512 scope sample: vs PyTorch mean ${(vsTorch.mean * 100).toFixed(1)} %, std ${(vsTorch.std * 100).toFixed(1)} %; vs point ${(vsPoint.mean * 100).toFixed(1)} %, ${(vsPoint.std * 100).toFixed(1)} %`,
    );
    for (const v of [vsTorch.mean, vsTorch.std, vsPoint.mean, vsPoint.std]) expect(v).toBeGreaterThanOrEqual(0.99);
  }, 300_000);
});
