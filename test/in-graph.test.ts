// Estimators inside the ONNX graph (issue 14, item 2): the onnx backend reduces each chunk's
// S samples in the graph (runReduced) and the estimators fold the reductions in; the numbers
// must be those of the JavaScript pass over the raw samples (reduceInGraph: false), with the
// same masks, on the repo's real models: the co2 example (regression, with and without τ) and
// LeNet (classification: its logits, and LeNet with a Softmax appended, whose output already
// holds probabilities), both mask scopes, chunks of 1, 7 and T samples.
//
// Tolerances. The graph sums float32 values over ≤ S samples (ReduceMean / ReduceSum), the JS
// pass accumulates the same float32 outputs in float64 one sample at a time: a float32 sum of
// S terms is within S·2⁻²⁴ of exact relative to the sum of magnitudes (S = 60: 3.6e-6, typically
// √S·2⁻²⁴ ≈ 5e-7), so means and variances are compared at relative 1e-5 (plus 1e-6 of the
// largest value, for values near 0). Classification: the graph computes softmax in float32,
// the JS pass in float64 from the same float32 logits, so each p_t differs by a few 2⁻²⁴
// (≈ 1e-7) absolute; probabilities, their standard errors and entropies (≤ log 10) are compared
// at absolute 1e-6 / 1e-5. Vote counts (argmax of the same float32 values, lowest class on
// ties in both) and everything derived from them must be equal.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ClassificationEstimator,
  createMcu,
  predict,
  RegressionEstimator,
  SampleCollector,
  type ClassificationResult,
  type Mcu,
  type MaskScope,
  type NamedTensors,
  type RegressionResult,
  type StochasticModel,
} from '@mcu/core';
import { decodeModel, encodeModel, onnxModule } from '@mcu/backend-onnx';
import { fixtureBytes, fixturePath, lenetRef } from './helpers/fixtures.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const co2Path = path.join(root, 'examples/co2_relu.preserve.onnx');
const co2Rows = readFileSync(path.join(root, 'examples/co2-months.csv'), 'utf8').trim().split(/\r?\n/).slice(1).map(Number);

const T = 60;
const CHUNKS = [1, 7, T];
const SCOPES: readonly MaskScope[] = ['sample', 'point'];

function expectClose(label: string, got: ArrayLike<number>, want: ArrayLike<number>, rel: number, absOfMax: number): void {
  expect(got.length, label).toBe(want.length);
  let scale = 0;
  for (let k = 0; k < want.length; k++) scale = Math.max(scale, Math.abs(want[k]!));
  let worst = 0;
  let at = -1;
  for (let k = 0; k < want.length; k++) {
    const excess = Math.abs(got[k]! - want[k]!) - (rel * Math.abs(want[k]!) + absOfMax * scale);
    if (excess > worst) {
      worst = excess;
      at = k;
    }
  }
  expect(at, `${label}: entry ${at} is ${got[at]} vs ${want[at]}`).toBe(-1);
}

function expectAbs(label: string, got: ArrayLike<number>, want: ArrayLike<number>, abs: number): void {
  expect(got.length, label).toBe(want.length);
  let at = -1;
  for (let k = 0; k < want.length && at < 0; k++) if (!(Math.abs(got[k]! - want[k]!) <= abs)) at = k;
  expect(at, `${label}: entry ${at} is ${got[at]} vs ${want[at]}`).toBe(-1);
}

function sameRegression(a: RegressionResult, b: RegressionResult): void {
  expect(a.samples).toBe(b.samples);
  expect(a.dims).toEqual(b.dims);
  expectClose('mean', a.mean, b.mean, 1e-5, 1e-6);
  expectClose('sampleVariance', a.sampleVariance, b.sampleVariance, 1e-5, 1e-6);
  expectClose('variance', a.variance, b.variance, 1e-5, 1e-6);
  expectClose('std', a.std, b.std, 1e-5, 1e-6);
  expectClose('standardError', a.standardError, b.standardError, 1e-5, 1e-6);
}

function sameClassification(a: ClassificationResult, b: ClassificationResult): void {
  expect(a.samples).toBe(b.samples);
  expect(a.dims).toEqual(b.dims);
  expectAbs('probs', a.probs, b.probs, 1e-6);
  expectAbs('probsStandardError', a.probsStandardError, b.probsStandardError, 1e-6);
  expectAbs('confidence', a.confidence, b.confidence, 1e-6);
  expectAbs('entropy', a.entropy, b.entropy, 1e-5);
  expectAbs('expectedEntropy', a.expectedEntropy, b.expectedEntropy, 1e-5);
  expectAbs('mutualInformation', a.mutualInformation, b.mutualInformation, 1e-5);
  expect(Array.from(a.votes)).toEqual(Array.from(b.votes));
  expect(Array.from(a.variationRatio)).toEqual(Array.from(b.variationRatio));
  expect(Array.from(a.predicted)).toEqual(Array.from(b.predicted));
}

/** LeNet with a Softmax appended to its logits (as test/cli-softmax.test.ts builds it). */
function lenetSoftmaxBytes(): Uint8Array {
  const m = decodeModel(fixtureBytes('pytorch-1.13/lenet.preserve.onnx'));
  const g = m.graph!;
  const out = g.output![0]!;
  const raw = `${out.name}_logits`;
  for (const n of g.node ?? []) n.output = (n.output ?? []).map((o) => (o === out.name ? raw : o));
  g.node!.push({ op_type: 'Softmax', input: [raw], output: [out.name!], name: 'appended_softmax', attribute: [{ name: 'axis', type: 2, i: 1n }] });
  return encodeModel(m);
}

describe('estimators in the ONNX graph equal the JavaScript estimators', () => {
  let mcu: Mcu;
  let co2: StochasticModel;
  let lenet: StochasticModel;
  let lenetSoftmax: StochasticModel;
  let co2Feeds: NamedTensors;
  let lenetFeeds: NamedTensors;

  beforeAll(async () => {
    mcu = createMcu({ modules: [onnxModule] });
    co2 = await mcu.load({ kind: 'path', path: co2Path });
    lenet = await mcu.load({ kind: 'path', path: fixturePath('pytorch-1.13/lenet.preserve.onnx') });
    lenetSoftmax = await mcu.load({ kind: 'bytes', bytes: lenetSoftmaxBytes() });
    co2Feeds = { [co2.inputs[0]!.name]: { dtype: 'float32', data: Float32Array.from(co2Rows), dims: [co2Rows.length, 1] } };
    const images = lenetRef('1.13').rotated.images;
    lenetFeeds = { [lenet.inputs[0]!.name]: { dtype: 'float32', data: Float32Array.from(images.flat()), dims: [images.length, 1, 28, 28] } };
  });
  afterAll(async () => {
    await co2?.dispose();
    await lenet?.dispose();
    await lenetSoftmax?.dispose();
    mcu?.dispose();
  });

  for (const tau of [undefined, 50]) {
    for (const scope of SCOPES) {
      it.each(CHUNKS)(`co2 regression, τ ${tau ?? 'none'}, scope ${scope}, chunks of %i samples`, async (chunkSamples) => {
        const output = co2.outputs[0]!.name;
        const inGraph = new RegressionEstimator({ output, ...(tau === undefined ? {} : { tau }) });
        const js = new RegressionEstimator({ output, ...(tau === undefined ? {} : { tau }) });
        const common = { samples: T, seed: 11, scope, chunkSamples, reduceInGraph: true };
        const a = await mcu.engine.run(co2, co2Feeds, { ...common, estimators: [inGraph] });
        const b = await mcu.engine.run(co2, co2Feeds, { ...common, estimators: [js], reduceInGraph: false });
        expect(a.reducedChunks).toBe(Math.ceil(T / chunkSamples));
        expect(b.reducedChunks).toBe(0);
        sameRegression(inGraph.result(), js.result());
      });
    }
  }

  for (const [label, pick, holds] of [
    ['LeNet logits', () => lenet, 'logits'],
    ['LeNet ending in Softmax', () => lenetSoftmax, 'probabilities'],
  ] as const) {
    for (const scope of SCOPES) {
      it.each(CHUNKS)(`${label} classification, scope ${scope}, chunks of %i samples`, async (chunkSamples) => {
        const model = pick();
        const output = model.outputs[0]!.name;
        const inGraph = new ClassificationEstimator({ output, outputs: holds });
        const js = new ClassificationEstimator({ output, outputs: holds });
        const common = { samples: T, seed: 5, scope, chunkSamples, reduceInGraph: true };
        const a = await mcu.engine.run(model, lenetFeeds, { ...common, estimators: [inGraph] });
        const b = await mcu.engine.run(model, lenetFeeds, { ...common, estimators: [js], reduceInGraph: false });
        expect(a.reducedChunks).toBe(Math.ceil(T / chunkSamples));
        expect(b.reducedChunks).toBe(0);
        sameClassification(inGraph.result(), js.result());
        // the rotated "1" has uncertain images: the comparison is not over degenerate votes
        expect(Math.max(...js.result().variationRatio)).toBeGreaterThan(0.1);
      });
    }
  }

  it('takes the in-graph path without calling run(); reduceInGraph: false calls run() for every chunk', async () => {
    const output = co2.outputs[0]!.name;
    const options = { samples: 20, seed: 2, chunkSamples: 5, selfCheck: false, reduceInGraph: true } as const;
    const run = vi.spyOn(co2, 'run');
    const runReduced = vi.spyOn(co2, 'runReduced' as never) as unknown as { mock: { calls: unknown[] } };
    try {
      await mcu.engine.run(co2, co2Feeds, { ...options, estimators: [new RegressionEstimator({ output })] });
      expect(run).not.toHaveBeenCalled();
      expect(runReduced.mock.calls.length).toBe(4);
      await mcu.engine.run(co2, co2Feeds, { ...options, estimators: [new RegressionEstimator({ output })], reduceInGraph: false });
      expect(run).toHaveBeenCalledTimes(4);
      expect(runReduced.mock.calls.length).toBe(4);
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('an estimator that needs the raw samples (SampleCollector, targets) puts the whole run on the raw path', async () => {
    const output = co2.outputs[0]!.name;
    const options = { samples: 12, seed: 2, chunkSamples: 4, reduceInGraph: true } as const;
    const collected = await mcu.engine.run(co2, co2Feeds, { ...options, estimators: [new RegressionEstimator({ output }), new SampleCollector({ output })] });
    expect(collected.reducedChunks).toBe(0);
    const targets = Float64Array.from(co2Rows, () => 0);
    const evaluated = await mcu.engine.run(co2, co2Feeds, { ...options, estimators: [new RegressionEstimator({ output, targets, tau: 10 })] });
    expect(evaluated.reducedChunks).toBe(0);
  });

  it('adaptive T: the same stop and the same numbers on both paths', async () => {
    const output = co2.outputs[0]!.name;
    const inGraph = new RegressionEstimator({ output, tau: 50 });
    const js = new RegressionEstimator({ output, tau: 50 });
    // a tolerance between the largest standard errors after 40 and after 200 samples, so the run stops in between
    const seAfter = async (samples: number): Promise<number> => {
      const est = new RegressionEstimator({ output, tau: 50 });
      await mcu.engine.run(co2, co2Feeds, { samples, seed: 4, estimators: [est], reduceInGraph: false });
      return est.maxStandardError();
    };
    const tolerance = Math.sqrt((await seAfter(40)) * (await seAfter(200)));
    const common = { samples: 200, seed: 4, tolerance, chunkSamples: 10, reduceInGraph: true };
    const a = await mcu.engine.run(co2, co2Feeds, { ...common, estimators: [inGraph] });
    const b = await mcu.engine.run(co2, co2Feeds, { ...common, estimators: [js], reduceInGraph: false });
    expect(a.samples).toBe(b.samples);
    expect(a.converged).toBe(b.converged);
    expect(a.samples).toBeLessThan(200);
    expect(a.samples).toBeGreaterThan(40);
    expect(a.maxStandardError!).toBeCloseTo(b.maxStandardError!, 6);
    sameRegression(inGraph.result(), js.result());
  });

  it('onnx-web (onnxruntime-web, wasm, in Node) reduces in the graph too, with the same numbers', async () => {
    const web = createMcu({ modules: [onnxModule], backends: ['onnx-web'] });
    const model = await web.load({ kind: 'path', path: co2Path });
    try {
      expect(model.backend).toBe('onnx-web');
      const output = model.outputs[0]!.name;
      const inGraph = new RegressionEstimator({ output, tau: 50 });
      const js = new RegressionEstimator({ output, tau: 50 });
      const common = { samples: 21, seed: 6, chunkSamples: 7, reduceInGraph: true };
      const a = await web.engine.run(model, co2Feeds, { ...common, estimators: [inGraph] });
      await web.engine.run(model, co2Feeds, { ...common, estimators: [js], reduceInGraph: false });
      expect(a.reducedChunks).toBe(3);
      sameRegression(inGraph.result(), js.result());
    } finally {
      await model.dispose();
      web.dispose();
    }
  });

  it('LeNet, one mask per sample: the site folded into the 500 → 10 layer sizes the in-graph calls, so that they are fewer (the convolutions run once per call)', async () => {
    // 100 rows (the rotated images repeated). Per sample, a raw call: mask 500 + activations
    // 2·100·500 + logits 100·10 = 101,500 floats; a reduced call, the site folded (its input,
    // after the 800 → 500 layer, has N rows only): mask 500 + masked weights 500·10 + the
    // layer's output 100·10 + the logits' reductions 6·1,000 = 12,500. A budget of 2 raw
    // samples: 2 per call raw, 16 in the graph.
    expect((lenet as StochasticModel & { foldedSampleSites(): unknown }).foldedSampleSites()).toEqual([
      { site: lenet.sites[0]!.name, outputs: 10, sharedInput: true },
    ]);
    const one = lenetFeeds[lenet.inputs[0]!.name]!;
    const n = one.dims[0]!;
    const reps = Math.ceil(100 / n);
    const data = new Float32Array(reps * one.data.length);
    for (let k = 0; k < reps; k++) data.set(one.data as Float32Array, k * one.data.length);
    const feeds = { [lenet.inputs[0]!.name]: { dtype: 'float32' as const, data: data.subarray(0, 100 * 784), dims: [100, 1, 28, 28] } };
    const output = lenet.outputs[0]!.name;
    const inGraph = new ClassificationEstimator({ output });
    const js = new ClassificationEstimator({ output });
    const common = { samples: 30, seed: 8, memoryBudgetBytes: 2 * 101_500 * 4, reduceInGraph: true };
    const a = await mcu.engine.run(lenet, feeds, { ...common, estimators: [inGraph] });
    const b = await mcu.engine.run(lenet, feeds, { ...common, estimators: [js], reduceInGraph: false });
    expect([a.chunkSamples, a.reducedChunks]).toEqual([16, 2]);
    expect([b.chunkSamples, b.reducedChunks]).toEqual([2, 0]);
    // point scope: no fold, the unfolded size (per sample the masks add 100·500)
    const c = await mcu.engine.run(lenet, feeds, { ...common, scope: 'point', estimators: [new ClassificationEstimator({ output })] });
    expect(c.chunkSamples).toBe(1);
    sameClassification(inGraph.result(), js.result());
  });

  it('predict() passes reduceInGraph through and gives the same prediction either way', async () => {
    const x = co2Rows.map((v) => [v]);
    const a = await predict(co2, x, { mcu, samples: 40, seed: 9, tau: 50, reduceInGraph: true });
    const b = await predict(co2, x, { mcu, samples: 40, seed: 9, tau: 50, reduceInGraph: false });
    const ra = a.outputs[co2.outputs[0]!.name]!;
    const rb = b.outputs[co2.outputs[0]!.name]!;
    expect(ra.task).toBe('regression');
    if (ra.task !== 'regression' || rb.task !== 'regression') return;
    expectClose('mean', ra.mean, rb.mean, 1e-5, 1e-6);
    expectClose('variance', ra.variance, rb.variance, 1e-5, 1e-6);
  });
});
