// The one-call API (src/api) against the engine and estimators called directly: the same
// numbers, the README "Tasks" rule, τ, batching, input shapes and McuError codes.
import { ContainerModule } from 'inversify';
import { describe, expect, it } from 'vitest';
import {
  bindBackend,
  ClassificationEstimator,
  createMcu,
  deterministicRegression,
  evaluate,
  fitTau,
  inspect,
  isMcuError,
  McEngine,
  predict,
  predictionMeta,
  randomMlp,
  ReferenceBackend,
  RegressionEstimator,
  SquaredErrorCollector,
  tauFromWeightDecay,
  VERSION,
  createSeededSampler,
  replayFromRows,
  type ClassificationPrediction,
  type MaskScope,
  type MlpSpec,
  type NamedTensors,
  type RegressionPrediction,
  type StochasticModel,
} from '../src/index.js';

const referenceModule = new ContainerModule((options) => bindBackend(options, { name: 'reference', priority: 0, create: () => new ReferenceBackend() }));
const mcu = () => createMcu({ modules: [referenceModule] });
const engine = () => new McEngine(createSeededSampler, {});
const load = (spec: MlpSpec) => new ReferenceBackend().load({ kind: 'object', value: spec });

const regSpec = randomMlp({ sizes: [3, 16, 16, 1], rates: [0.2], seed: 5 });
const clsSpec = randomMlp({ sizes: [3, 12, 3], rates: [0.3], seed: 9 });

/** N rows of D values, deterministic. */
function rows(n: number, d: number): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from({ length: d }, (_, j) => Math.sin(1.3 * i + 0.7 * j) * 1.5));
}
const feedsOf = (r: number[][], name = 'x'): NamedTensors => ({
  [name]: { dtype: 'float32', data: Float32Array.from(r.flat()), dims: [r.length, r[0]!.length] },
});

/** The model with some fields replaced. */
function wrap(m: StochasticModel, o: Partial<StochasticModel>): StochasticModel {
  return {
    inputs: m.inputs,
    outputs: m.outputs,
    sites: m.sites,
    backend: m.backend,
    executionProvider: m.executionProvider,
    warnings: m.warnings,
    run: (f, k, r) => m.run(f, k, r),
    dispose: () => m.dispose(),
    ...o,
  };
}

/** A network that ends in a softmax: the reference MLP's logits through softmax, declared as such. */
function withSoftmax(m: StochasticModel): StochasticModel {
  const out = m.outputs[0]!;
  return wrap(m, {
    outputs: [{ ...out, activation: 'softmax' }],
    async run(f, k, r) {
      const o = await m.run(f, k, r);
      const t = o[out.name]!;
      const c = t.dims[1]!;
      const p = new Float32Array(t.data.length);
      for (let i = 0; i < t.dims[0]!; i++) {
        let mx = -Infinity;
        for (let j = 0; j < c; j++) mx = Math.max(mx, t.data[i * c + j] as number);
        let s = 0;
        for (let j = 0; j < c; j++) s += Math.exp((t.data[i * c + j] as number) - mx);
        for (let j = 0; j < c; j++) p[i * c + j] = Math.exp((t.data[i * c + j] as number) - mx) / s;
      }
      return { [out.name]: { dtype: 'float32', data: p, dims: t.dims } };
    },
  });
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect((e as Error).name).toBe('McuError');
    return (e as { code: string }).code;
  }
  throw new Error('expected an McuError');
}

describe('predict: regression', () => {
  for (const scope of ['sample', 'point'] as MaskScope[]) {
    it(`equals engine.run + RegressionEstimator exactly (scope ${scope})`, async () => {
      const model = await load(regSpec);
      const x = rows(7, 3);
      const r = await predict(model, x, { samples: 40, seed: 3, tau: 50, scope });
      const est = new RegressionEstimator({ output: 'y', tau: 50 });
      const meta = await engine().run(model, feedsOf(x), { samples: 40, seed: 3, scope, estimators: [est] });
      const want = est.result();
      const got = r.outputs['y'] as RegressionPrediction;
      expect(got.task).toBe('regression');
      expect(got.dims).toEqual([7, 1]);
      expect(got.mean).toEqual(want.mean);
      expect(got.variance).toEqual(want.variance);
      expect(got.std).toEqual(want.std);
      expect(got.standardError).toEqual(want.standardError);
      expect(r.meta).toMatchObject({
        version: VERSION,
        modelHash: null,
        backend: 'reference',
        executionProvider: 'typescript',
        seed: 3,
        samples: 40,
        scope,
        tau: 50,
      });
      expect(r.meta.sites).toEqual(meta.sites);
      expect(r.meta.tasks[0]).toMatchObject({ name: 'y', task: 'regression', reason: 'one value' });
    });
  }

  it('loads a ModelSource through options.mcu, and reports model.hash', async () => {
    const x = rows(4, 3);
    const r = await predict({ kind: 'object', value: regSpec }, x, { mcu: mcu(), samples: 20 });
    const direct = await predict(await load(regSpec), x, { samples: 20 });
    expect(r.outputs).toEqual(direct.outputs);
    const hashed = wrap(await load(regSpec), { hash: 'sha256:abc' });
    expect((await predict(hashed, x, { samples: 2 })).meta.modelHash).toBe('sha256:abc');
  });

  for (const scope of ['sample', 'point'] as MaskScope[]) {
    it(`batchSize gives the one-run numbers (scope ${scope})`, async () => {
      const model = await load(regSpec);
      const x = rows(10, 3);
      const whole = await predict(model, x, { samples: 30, seed: 7, tau: 10, scope });
      const events: number[] = [];
      const batched = await predict(model, x, { samples: 30, seed: 7, tau: 10, scope, batchSize: 3, onProgress: (e) => events.push(e.batch) });
      expect(batched.outputs).toEqual(whole.outputs);
      expect(batched.meta.batches).toEqual({ size: 3, count: 4, samples: [30, 30, 30, 30] });
      expect(new Set(events)).toEqual(new Set([0, 1, 2, 3]));
    });
  }

  it("predictionMeta: the JSON meta of the CLI and the server, the run's optional fields only where the run had them", async () => {
    const model = await load(regSpec);
    const x = rows(10, 3);
    const plain = await predict(model, x, { samples: 8, seed: 4, tau: 10 });
    const meta = predictionMeta(model, plain);
    expect(meta).toEqual({
      backend: plain.meta.backend,
      executionProvider: plain.meta.executionProvider,
      seed: 4,
      samples: 8,
      chunkSamples: plain.meta.chunkSamples,
      sites: model.sites.map((s) => ({ name: s.name, kind: s.kind, rate: s.rate })),
      tau: 10,
      maskScope: 'sample',
      warnings: plain.meta.warnings,
    });
    // no key for what the run did not have (JSON has no undefined)
    expect(Object.keys(meta)).not.toContain('batches');
    expect(Object.keys(meta)).not.toContain('tolerance');
    expect(predictionMeta(model, plain, ['from the load']).warnings).toEqual(['from the load']);
    const batched = predictionMeta(model, await predict(model, x, { samples: 8, seed: 4, batchSize: 4 }));
    expect(batched.batches).toEqual({ size: 4, count: 3, samples: [8, 8, 8] });
    const adaptive = await predict(model, x, { samples: 200, seed: 4, tolerance: 0.5 });
    expect(predictionMeta(model, adaptive)).toMatchObject({
      tolerance: 0.5,
      converged: adaptive.meta.converged,
      maxStandardError: adaptive.meta.maxStandardError,
      samples: adaptive.meta.samples,
    });
  });

  it("τ from weight decay is eq. 7 with the sites' one rate (tauFromWeightDecay)", async () => {
    const model = await load(regSpec);
    const prior = { weightDecay: 1e-4, lengthScale: 0.01, nTrain: 100 };
    const tau = tauFromWeightDecay({ dropoutRate: 0.2, ...prior });
    const r = await predict(model, rows(3, 3), { samples: 10, tau: prior });
    const byNumber = await predict(model, rows(3, 3), { samples: 10, tau });
    expect(r.meta.tau).toBe(tau);
    expect(r.outputs).toEqual(byNumber.outputs);
    const twoRates = await load(randomMlp({ sizes: [3, 8, 8, 1], rates: [0.1, 0.3] }));
    await expect(predict(twoRates, rows(2, 3), { tau: prior })).rejects.toThrow(/one dropout rate.*several \(0\.1, 0\.3\)/);
  });
});

describe('predict: classification and the task rule', () => {
  it('a softmax output is classification from probabilities, equal to ClassificationEstimator', async () => {
    const model = withSoftmax(await load(clsSpec));
    const x = rows(6, 3);
    const r = await predict(model, x, { samples: 25, seed: 1 });
    const est = new ClassificationEstimator({ output: 'y', outputs: 'probabilities' });
    await engine().run(model, feedsOf(x), { samples: 25, seed: 1, estimators: [est] });
    const want = est.result();
    const got = r.outputs['y'] as ClassificationPrediction;
    expect(got.task).toBe('classification');
    expect(got.dims).toEqual([6, 3]);
    for (const k of ['probs', 'probsStandardError', 'predicted', 'entropy', 'mutualInformation', 'variationRatio'] as const) expect(got[k]).toEqual(want[k]);
    expect(r.meta.tasks[0]).toMatchObject({ task: 'classification', holds: 'probabilities', reason: 'softmax' });
  });

  it('several values per row without softmax is an E_USAGE naming the output, its size and the fix', async () => {
    const model = await load(clsSpec);
    const err = (await predict(model, rows(2, 3)).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error & { code: string };
    expect(err.name).toBe('McuError');
    expect(err.code).toBe('E_USAGE');
    expect(err.message).toMatch(/output 'y' has 3 values per row \(dims \[N, 3\]\).*task: 'classification'.*task: 'regression'/);
  });

  it('task classification reads logits; task regression and per-output records apply', async () => {
    const model = await load(clsSpec);
    const x = rows(5, 3);
    const c = await predict(model, x, { samples: 12, task: 'classification' });
    const est = new ClassificationEstimator({ output: 'y' });
    await engine().run(model, feedsOf(x), { samples: 12, estimators: [est] });
    expect((c.outputs['y'] as ClassificationPrediction).probs).toEqual(est.result().probs);
    const r = await predict(model, x, { samples: 12, task: { y: 'regression' } });
    const reg = new RegressionEstimator({ output: 'y' });
    await engine().run(model, feedsOf(x), { samples: 12, estimators: [reg] });
    expect(r.outputs['y']).toMatchObject({ task: 'regression', dims: [5, 3], outputDims: [3] });
    expect((r.outputs['y'] as RegressionPrediction).mean).toEqual(reg.result().mean);
    expect(await code(predict(model, x, { task: { z: 'regression' } }))).toBe('E_USAGE');
    expect(await code(predict(await load(regSpec), x, { task: 'classification' }))).toBe('E_USAGE');
    expect(await code(predict(model, x, { task: 'classification', tau: 5 }))).toBe('E_USAGE');
  });
});

describe('predict: inputs', () => {
  it("nested [N][D] rows are laid out in the input's per-row dims ([N, 4] → [N, 1, 2, 2]); typed arrays too", async () => {
    const base = await load(randomMlp({ sizes: [4, 8, 1], rates: [0.25], seed: 2 }));
    // a model whose input is [N, 1, 2, 2] (an image), running the MLP on the flattened pixels
    const image = wrap(base, {
      inputs: [{ name: 'x', dtype: 'float32', dims: ['N', 1, 2, 2] }],
      run(f, k, r) {
        const t = f['x']!;
        if (t.dims.length !== 4) throw new Error(`expected [N, 1, 2, 2], got [${t.dims.join(', ')}]`);
        return base.run({ x: { ...t, dims: [t.dims[0]!, 4] } }, k, r);
      },
    });
    const x = rows(5, 4);
    const tensor = { x: { dtype: 'float32' as const, data: Float32Array.from(x.flat()), dims: [5, 1, 2, 2] } };
    const want = await predict(image, tensor, { samples: 15, seed: 4 });
    expect((await predict(image, x, { samples: 15, seed: 4 })).outputs).toEqual(want.outputs);
    const deep = x.map((r) => [[r.slice(0, 2), r.slice(2, 4)]]);
    expect((await predict(image, deep, { samples: 15, seed: 4 })).outputs).toEqual(want.outputs);
    expect((await predict(image, Float32Array.from(x.flat()), { samples: 15, seed: 4 })).outputs).toEqual(want.outputs);
    expect((await predict(image, { data: x.flat(), dims: [5, 4] }, { samples: 15, seed: 4 })).outputs).toEqual(want.outputs);
    expect(await code(predict(image, rows(2, 3)))).toBe('E_INPUT');
    await expect(predict(image, rows(2, 3))).rejects.toThrow(/input 'x' expects 4 values per row \(\[N, 1, 2, 2\]\), got 3/);
    expect(
      await code(
        predict(image, [
          [1, 2, 3, 4],
          [1, 2],
        ]),
      ),
    ).toBe('E_INPUT');
  });

  it('a one-feature model takes [N] numbers as N rows', async () => {
    const model = await load(randomMlp({ sizes: [1, 8, 1], rates: [0.1] }));
    const a = await predict(model, [0.5, 1, 1.5], { samples: 8 });
    const b = await predict(model, [[0.5], [1], [1.5]], { samples: 8 });
    expect(a.outputs).toEqual(b.outputs);
    expect(a.outputs['y']!.dims).toEqual([3, 1]);
  });

  it('errors are McuErrors with codes', async () => {
    const model = await load(regSpec);
    expect(await code(predict({ kind: 'object', value: regSpec }, rows(2, 3)))).toBe('E_USAGE'); // no options.mcu
    expect(await code(predict('model.onnx', rows(2, 3)))).toBe('E_USAGE');
    expect(await code(predict(model, { z: rows(2, 3) }))).toBe('E_USAGE');
    expect(await code(predict(model, rows(2, 3), { samples: 0 }))).toBe('E_CONFIG');
    expect(await code(predict(model, rows(2, 3), { batchSize: 0 }))).toBe('E_CONFIG');
    expect(await code(predict(model, rows(2, 3), { tau: -1 }))).toBe('E_CONFIG');
    expect(await code(predict(model, rows(2, 3), { tau: 1, fitTau: { data: rows(2, 3), targets: [1, 2] } }))).toBe('E_USAGE');
    const ac = new AbortController();
    ac.abort();
    expect(await code(predict(model, rows(2, 3), { signal: ac.signal }))).toBe('E_ABORTED');
  });

  it('refuses an option it does not take instead of running with the default', async () => {
    const model = await load(regSpec);
    const err = await predict(model, rows(2, 3), { maskScope: 'point' } as never).catch((e: unknown) => e);
    expect(isMcuError(err) && err.code).toBe('E_CONFIG');
    expect(String((err as Error).message)).toMatch(/predict\(\): unknown option 'maskScope'; it takes: .*scope/);
    expect(await code(evaluate(model, rows(2, 3), [1, 2], { batchSize: 2 } as never))).toBe('E_CONFIG');
    // an option given as undefined is as good as absent
    await expect(predict(model, rows(2, 3), { samples: 3, scope: undefined, batchSize: undefined })).resolves.toBeDefined();
  });
});

describe('evaluate', () => {
  const x = rows(20, 3);
  const y = Array.from({ length: 20 }, (_, i) => Math.cos(i) * 0.3);

  it('regression: RMSE and log-likelihood with their MC errors equal RegressionEstimator; standard dropout equals deterministicRegression', async () => {
    const model = await load(regSpec);
    const r = await evaluate(model, x, y, { samples: 64, seed: 2, tau: 20 });
    const est = new RegressionEstimator({ output: 'y', tau: 20, targets: y });
    await engine().run(model, feedsOf(x), { samples: 64, seed: 2, estimators: [est] });
    const want = est.result();
    if (r.task !== 'regression') throw new Error('expected regression');
    expect(r.rmse).toBe(want.rmse);
    expect(r.rmseMcError).toBe(want.rmseStandardError);
    expect(r.logLikelihood).toBe(want.meanLogLikelihood);
    expect(r.logLikelihoodMcError).toBe(want.logLikelihoodStandardError);
    expect(r.logLikelihoodMinEffectiveSamples).toBe(Math.min(...want.logLikelihoodEffectiveSamples!));
    const det = deterministicRegression((await engine().deterministic(model, feedsOf(x)))['y']!, y, { tau: 20 });
    expect(r.standardDropout).toEqual({ rmse: det.rmse, logLikelihood: det.meanLogLikelihood });
    expect(r.n).toBe(20);
    const noTau = await evaluate(model, x, y, { samples: 8 });
    expect(noTau).toMatchObject({ logLikelihood: null });
    expect(noTau.meta.warnings.join(' ')).toMatch(/no model precision τ/);
  });

  it('fitTau equals SquaredErrorCollector + fitTau on the validation rows', async () => {
    const model = await load(regSpec);
    const xv = rows(15, 3).map((r) => r.map((v) => v * 0.5));
    const yv = Array.from({ length: 15 }, (_, i) => Math.sin(i) * 0.2);
    const r = await evaluate(model, x, y, { samples: 32, seed: 5, fitTau: { data: xv, targets: yv } });
    const col = new SquaredErrorCollector({ output: 'y', targets: yv });
    await engine().run(model, feedsOf(xv), { samples: 32, seed: 5, estimators: [col] });
    const fitted = fitTau(col, { min: 1e-3, max: 1e6 });
    expect(r.meta.tau).toBe(fitted.tau);
    expect(r.meta.tauFitted).toBe(fitted.atBoundary ? 'boundary' : true);
    const est = new RegressionEstimator({ output: 'y', tau: fitted.tau, targets: y });
    await engine().run(model, feedsOf(x), { samples: 32, seed: 5, estimators: [est] });
    expect(r.task === 'regression' && r.logLikelihood).toBe(est.result().meanLogLikelihood);
    // predict takes it too
    expect((await predict(model, x, { samples: 32, seed: 5, fitTau: { data: xv, targets: yv } })).meta.tau).toBe(fitted.tau);
  });

  it('classification: accuracy, NLL, Brier, ECE and MC errors equal ClassificationEstimator', async () => {
    const model = withSoftmax(await load(clsSpec));
    const labels = Array.from({ length: 20 }, (_, i) => i % 3);
    const r = await evaluate(model, x, labels, { samples: 50, seed: 8, scope: 'point' });
    const est = new ClassificationEstimator({ output: 'y', labels, outputs: 'probabilities' });
    await engine().run(model, feedsOf(x), { samples: 50, seed: 8, scope: 'point', estimators: [est] });
    const want = est.result();
    if (r.task !== 'classification') throw new Error('expected classification');
    expect(r.accuracy).toBe(want.accuracy);
    expect(r.nll).toBe(-want.meanLogLikelihood!);
    expect(r.nllMcError).toBe(want.logLikelihoodStandardError);
    expect(r.brier).toBe(want.brier);
    expect(r.brierMcError).toBe(want.brierStandardError);
    expect(r.ece).toBe(want.ece);
    expect(r.standardDropout.accuracy).toBeGreaterThanOrEqual(0);
    expect(
      await code(
        evaluate(
          model,
          x,
          labels.map((v) => v + 0.5),
        ),
      ),
    ).toBe('E_INPUT');
    expect(await code(evaluate(model, x, labels, { tau: 3 }))).toBe('E_USAGE');
  });
});

describe('inspect', () => {
  it('reports inputs, outputs, sites, warnings and the self-check on synthetic rows', async () => {
    const model = await load(regSpec);
    const r = await inspect(model);
    expect(r.inputs).toEqual(model.inputs);
    expect(r.outputs).toEqual(model.outputs);
    expect(r.sites).toEqual(model.sites);
    expect(r.warnings).toEqual([]);
    expect(r.selfCheck).toMatchObject({ passed: true, rows: 2, samples: 2, on: 'synthetic' });
    expect((await inspect({ kind: 'object', value: regSpec }, { mcu: mcu(), inputs: rows(3, 3) })).selfCheck).toMatchObject({ passed: true, on: 'inputs' });
  });

  it('skips the self-check, saying why, when an input has named sizes', async () => {
    const model = await load(regSpec);
    const named = wrap(model, { inputs: [{ name: 'x', dtype: 'float32', dims: ['N', 'features'] }] });
    const r = await inspect(named);
    expect(r.selfCheck.passed).toBeNull();
    expect(r.selfCheck).toMatchObject({ skipped: expect.stringMatching(/named sizes/) });
  });
});

describe('the options the CLI maps its flags onto', () => {
  it('sampler: given masks are replayed exactly as engine.run replays them; another sampler replaces the seed', async () => {
    const model = await load(regSpec);
    const x = rows(3, 3);
    // one mask row per input row per site (point scope), every unit kept
    const keep = model.sites.map((s) => x.map(() => Array.from({ length: s.maskShape.reduce((a, b) => a * b, 1) }, () => 1)));
    const replayed = await predict(model, x, { samples: 1, scope: 'point', sampler: replayFromRows(model.sites, keep) });
    const est = new RegressionEstimator({ output: 'y' });
    await engine().run(model, feedsOf(x), { samples: 1, scope: 'point', sampler: replayFromRows(model.sites, keep), estimators: [est] });
    expect((replayed.outputs['y'] as RegressionPrediction).mean).toEqual(est.result().mean);
    const other = await predict(model, x, { samples: 1, scope: 'point', seed: 3 });
    expect((other.outputs['y'] as RegressionPrediction).mean).not.toEqual(est.result().mean);
    const seeded = await predict(model, x, { samples: 16, sampler: createSeededSampler({ seed: 7 }) });
    const bySeed = await predict(model, x, { samples: 16, seed: 7 });
    expect((seeded.outputs['y'] as RegressionPrediction).mean).toEqual((bySeed.outputs['y'] as RegressionPrediction).mean);
  });

  it('tauDefault: a configured τ is dropped for a classifier instead of refused', async () => {
    const model = withSoftmax(await load(clsSpec));
    expect(await code(predict(model, rows(2, 3), { tau: 5 }))).toBe('E_USAGE');
    const r = await predict(model, rows(2, 3), { tau: 5, tauDefault: true, samples: 4 });
    expect(r.meta.tau).toBeNull();
    // a regression model still uses it
    expect((await predict(await load(regSpec), rows(2, 3), { tau: 5, tauDefault: true, samples: 4 })).meta.tau).toBe(5);
  });

  it('wording: messages and warnings name the settings as the caller calls them', async () => {
    const cls = withSoftmax(await load(clsSpec));
    const wording = {
      tau: { option: '--tau 5', leaveOut: 'drop it', giveNumber: 'give --tau instead' },
      fitTau: '--fit-tau val.csv',
      giveTau: 'give --tau X',
      samples: '--samples',
    };
    await expect(predict(cls, rows(2, 3), { tau: 5, wording })).rejects.toThrow(/^--tau 5 sets the model precision τ .*: drop it$/);
    await expect(predict(cls, rows(2, 3), { fitTau: { data: rows(2, 3), targets: [1, 2] }, wording })).rejects.toThrow(/^--tau 5 sets the model precision/);
    const reg = await load(regSpec);
    const r = await evaluate(
      reg,
      rows(20, 3),
      Array.from({ length: 20 }, () => 0),
      { samples: 8, wording },
    );
    expect(r.meta.warnings).toContain('no model precision τ, so no test log-likelihood: give --tau X');
    // a fitted τ at the end of the range: the boundary warning names the option and the fix
    const far = await predict(reg, rows(2, 3), { samples: 8, fitTau: { data: rows(6, 3), targets: Array(6).fill(1e4) }, wording });
    expect(far.meta.tauFitted).toBe('boundary');
    expect(far.meta.warnings.join('\n')).toMatch(
      /^--fit-tau val\.csv: the validation log-likelihood is highest at the lower end .*tauFitted "boundary"\); check that the model predicts the targets, or give --tau instead$/m,
    );
  });
});
