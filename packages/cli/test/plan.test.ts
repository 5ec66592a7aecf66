import { describe, expect, it } from 'vitest';
import type { StochasticModel, StochasticSite, TensorSpec } from '@mcu/core';
import { parseArgs } from '../src/args.js';
import { mergeSettings, type ConfigFile } from '../src/config.js';
import { checkSpatial, decideTask, makePlan, resolveTasks, type Plan } from '../src/plan.js';
import { defaultCacheDir } from '@mcu/backend-onnx';
import { expectMcuError, expectMcuRejection } from '../../../test/helpers/check.js';

const plan = (argv: string[], config: ConfigFile = {}): Plan => makePlan(mergeSettings(config, parseArgs(argv)));
const predict = (model: string, ...flags: string[]) => plan(['predict', model, '--input', 'x.csv', ...flags]);

describe('makePlan: backends and their options', () => {
  it("--dropout-scaling overrides the config's backendOptions.onnx.scaling, even with the default value", () => {
    const config: ConfigFile = { backendOptions: { onnx: { scaling: 'none' } } };
    expect(plan(['predict', 'm.onnx', '--input', 'x.csv'], config).backend.options.onnx).toMatchObject({ scaling: 'none' });
    expect(plan(['predict', 'm.onnx', '--input', 'x.csv', '--dropout-scaling', 'inverted'], config).backend.options.onnx).toMatchObject({
      scaling: 'inverted',
    });
  });

  it('an ONNX model: the graph rewrite and --ep go to onnx and onnx-web, not to tfjs', () => {
    const p = predict('m.onnx', '--ep', 'cuda,cpu', '--insert-dropout', '0.2', '--before', 'Conv', '--spatial', '--dropout-scaling', 'none', '--no-cache');
    expect(p.backend.family).toBe('onnx');
    expect(p.backend.options.onnx).toEqual({
      executionProviders: ['cuda', 'cpu'],
      insertDropout: { rate: 0.2, before: ['Conv'], spatial: true },
      scaling: 'none',
    });
    expect(p.backend.options['onnx-web']).toEqual({
      executionProviders: ['cuda', 'cpu'],
      insertDropout: { rate: 0.2, before: ['Conv'], spatial: true },
      scaling: 'none',
    });
    expect(p.backend.options.tfjs).toEqual({});
    // without --spatial the backend option is the plain one
    expect(predict('m.onnx', '--insert-dropout', '0.2', '--no-cache').backend.options.onnx).toEqual({
      insertDropout: { rate: 0.2, before: ['Gemm', 'MatMul', 'Conv'] },
    });
  });

  it('the prepared-model cache: the user cache folder by default, the config’s over it, --cache-dir over both, none with --no-cache', () => {
    const dirOf = (p: Plan) => [p.backend.options.onnx['cacheDir'], p.backend.options['onnx-web']['cacheDir'], p.backend.options.tfjs['cacheDir']];
    expect(dirOf(predict('m.onnx'))).toEqual([defaultCacheDir(), defaultCacheDir(), undefined]);
    const config: ConfigFile = { backendOptions: { onnx: { cacheDir: '/c' } } };
    expect(dirOf(plan(['predict', 'm.onnx', '--input', 'x.csv'], config))).toEqual(['/c', '/c', undefined]);
    expect(dirOf(plan(['predict', 'm.onnx', '--input', 'x.csv', '--cache-dir', '/f'], config))).toEqual(['/f', '/f', undefined]);
    expect(dirOf(plan(['predict', 'm.onnx', '--input', 'x.csv', '--no-cache'], config))).toEqual([undefined, undefined, undefined]);
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/x/mcu');
    expect(defaultCacheDir({ HOME: '/h' })).toBe('/h/.cache/mcu');
    expectMcuError(
      () => predict('m.onnx', '--no-cache', '--cache-dir', '/f'),
      'E_USAGE',
      /--no-cache turns the prepared-model cache off, but --cache-dir \/f names one/,
    );
  });

  it('a layers model: --ep becomes the tfjs executionProviders (over the config’s backend); onnx providers from the config stay onnx’s', () => {
    const p = predict('web/model.json', '--ep', 'wasm,cpu');
    expect(p.backend.family).toBe('tfjs');
    expect(p.backend.options.tfjs).toEqual({ executionProviders: ['wasm', 'cpu'] });
    const c = predict('web/model.json', '--ep', 'cpu');
    expect(
      makePlan(mergeSettings({ backendOptions: { tfjs: { backend: 'wasm' } } }, parseArgs(['predict', 'web/model.json', '--input', 'x', '--ep', 'cpu'])))
        .backend.options.tfjs,
    ).toEqual({ executionProviders: ['cpu'] });
    expect(c.backend.options.tfjs).toEqual({ executionProviders: ['cpu'] });
    const fromConfig = makePlan(
      mergeSettings(
        { backendOptions: { onnx: { executionProviders: ['cuda'] }, tfjs: { backend: 'cpu' } } },
        parseArgs(['predict', 'web/model.json', '--input', 'x']),
      ),
    );
    expect(fromConfig.backend.options.tfjs).toEqual({ backend: 'cpu' });
    // --backend tfjs sends any model there
    expect(predict('m.onnx', '--backend', 'tfjs', '--ep', 'cpu').backend.options.tfjs).toEqual({ executionProviders: ['cpu'] });
  });

  it('refuses tfjs provider names the tfjs backend does not have, naming --ep (E_CONFIG)', () => {
    expectMcuError(
      () => predict('web/model.json', '--ep', 'cuda,cpu'),
      'E_CONFIG',
      '--ep cuda,cpu: the tfjs backend',
      "no execution provider 'cuda'",
      'tensorflow, wasm, cpu',
    );
  });

  it('refuses ONNX graph rewrites for a model that goes to tfjs, naming the flags', () => {
    expectMcuError(() => predict('web/model.json', '--insert-dropout', '0.1'), 'E_USAGE', '--insert-dropout rewrites ONNX graphs', 'tfjs backend');
    expectMcuError(() => predict('web/model.json', '--rate', 'r=0.1', '--dropout-scaling', 'none'), 'E_USAGE', '--rate, --dropout-scaling rewrite ONNX graphs');
    expectMcuError(() => predict('m.onnx', '--backend', 'tfjs', '--mask-input', 'm=0.1'), 'E_USAGE', '--mask-input', '(--backend tfjs)');
  });

  it('memory budget, engine options and τ', () => {
    const p = predict('m.onnx', '--memory-budget', '2', '--samples', '50', '--seed', '4', '--mask-scope', 'point', '--tolerance', '0.01', '--tau', '3');
    expect(p.engine).toEqual({ samples: 50, seed: 4, scope: 'point', tolerance: 0.01, memoryBudgetBytes: 2 * 1024 * 1024 });
    expect(p.backend.memoryBudgetBytes).toBe(2 * 1024 * 1024);
    expect(p.tau).toEqual({ kind: 'value', tau: 3, source: 'flag' });
    expect(predict('m.onnx', '--fit-tau', 'v.csv', '--target', 'y').tau).toEqual({ kind: 'fit', file: 'v.csv', target: 'y' });
    expect(predict('m.onnx', '--weight-decay', '1', '--length-scale', '2', '--n-train', '3').tau).toEqual({
      kind: 'prior',
      weightDecay: 1,
      lengthScale: 2,
      nTrain: 3,
    });
    expect(makePlan(mergeSettings({ tau: 5 }, parseArgs(['predict', 'm.onnx', '--input', 'x']))).tau).toEqual({ kind: 'value', tau: 5, source: 'config' });
  });

  it('--masks: one sample in point scope; --batch-size for predict only (a config batchSize does not reach evaluate)', () => {
    const m = predict('m.onnx', '--masks', 'm.json');
    expect([m.masks, m.engine.samples, m.engine.scope]).toEqual(['m.json', 1, 'point']);
    expect(predict('m.onnx', '--batch-size', '8').batchSize).toBe(8);
    expect(makePlan(mergeSettings({ batchSize: 8 }, parseArgs(['evaluate', 'm.onnx', '--data', 'd.csv']))).batchSize).toBeUndefined();
  });

  it('evaluate: the test set', () => {
    expect(plan(['evaluate', 'm.onnx', '--data', 'd.csv', '--target', '2']).testSet).toEqual({ kind: 'file', file: 'd.csv', target: 2 });
    expect(plan(['evaluate', 'm.onnx', '--uci', 'U']).testSet).toEqual({ kind: 'uci', dir: 'U', split: 0 });
  });
});

describe('decideTask (README "Tasks")', () => {
  it('auto: Softmax/LogSoftmax → classification; one value per row → regression', () => {
    expect(decideTask('p', 'auto', 'softmax', [10])).toMatchObject({ task: 'classification', holds: 'probabilities', reason: 'softmax' });
    expect(decideTask('p', 'auto', 'log-softmax', [10])).toMatchObject({ task: 'classification', holds: 'logits' });
    expect(decideTask('y', 'auto', undefined, [1])).toMatchObject({ task: 'regression', width: 1, reason: 'one value' });
    expect(decideTask('y', 'auto', undefined, [])).toMatchObject({ task: 'regression', width: 1 });
  });

  it('auto: ≥ 2 values per row without Softmax is an E_USAGE naming the output, its size and both fixes', () => {
    expectMcuError(
      () => decideTask('y', 'auto', undefined, [2]),
      'E_USAGE',
      "output 'y' has 2 values per row (dims [N, 2])",
      '--task classification',
      '--task regression',
      '--task y=classification',
    );
  });

  it('asked for: regression always; classification only for [N, C] with C ≥ 2', () => {
    expect(decideTask('y', 'regression', 'softmax', [3, 32, 32])).toMatchObject({ task: 'regression', width: 3072 });
    expect(decideTask('y', 'classification', undefined, [2])).toMatchObject({ task: 'classification', holds: 'logits', reason: 'asked' });
    expect(decideTask('y', 'classification', undefined, [1, 5])).toMatchObject({ task: 'classification' });
    expectMcuError(
      () => decideTask('seg', 'classification', undefined, [3, 32, 32]),
      'E_USAGE',
      "output 'seg'",
      '[3, 32, 32]',
      'only [N, C] outputs',
      '--task seg=regression',
    );
    expectMcuError(() => decideTask('seg', 'auto', 'softmax', [3, 32, 32]), 'E_USAGE', "output 'seg' ends in Softmax", '--task seg=regression');
    expectMcuError(() => decideTask('y', 'classification', undefined, [1]), 'E_USAGE', '1 value per row', 'C ≥ 2');
  });
});

describe('resolveTasks', () => {
  const spec = (name: string, dims: (number | string)[], activation?: 'softmax'): TensorSpec => ({
    name,
    dtype: 'float32',
    dims,
    ...(activation ? { activation } : {}),
  });
  const model = (outputs: TensorSpec[]): StochasticModel =>
    ({
      inputs: [spec('x', ['N', 3])],
      outputs,
      sites: [],
      backend: 'test',
      executionProvider: 'cpu',
      warnings: [],
      run: async () => ({}),
      dispose: async () => {},
    }) as unknown as StochasticModel;

  it('per-output tasks; an unknown output name lists the outputs', async () => {
    const m = model([spec('y', ['N', 1]), spec('logits', ['N', 4])]);
    const r = await resolveTasks({ default: 'auto', byOutput: { logits: 'classification' } }, m, async () => ({}));
    expect(r.map((o) => [o.name, o.task])).toEqual([
      ['y', 'regression'],
      ['logits', 'classification'],
    ]);
    await expectMcuRejection(
      resolveTasks({ default: 'auto', byOutput: { z: 'regression' } }, m, async () => ({})),
      'E_USAGE',
      "no output 'z'",
      'its outputs: y, logits',
    );
  });

  it('a symbolic per-row size comes from one deterministic pass, run once', async () => {
    const m = model([spec('a', ['N', 'classes']), spec('b', ['N', 'k'])]);
    let calls = 0;
    const probe = async () => {
      calls++;
      return {
        a: { dtype: 'float32' as const, data: new Float32Array(1), dims: [1, 1] },
        b: { dtype: 'float32' as const, data: new Float32Array(7), dims: [1, 7] },
      };
    };
    await expectMcuRejection(resolveTasks({ default: 'auto', byOutput: {} }, m, probe), 'E_USAGE', "output 'b' has 7 values per row");
    const r = await resolveTasks({ default: 'auto', byOutput: { b: 'classification' } }, m, probe);
    expect(r.map((o) => [o.task, o.width])).toEqual([
      ['regression', 1],
      ['classification', 7],
    ]);
    expect(calls).toBe(2); // once per resolution
  });
});

describe('checkSpatial', () => {
  const site = (name: string, maskShape: number[], op = 'Dropout (inserted before Conv)'): StochasticSite => ({
    name,
    kind: 'bernoulli',
    rate: 0.1,
    maskShape,
    origin: { op },
  });
  const p = predict('m.onnx', '--insert-dropout', '0.1', '--spatial');
  it('passes channel-wise inserted masks, refuses element-wise ones and dense-only insertion', () => {
    expect(() => checkSpatial(p, [site('a', [20, 1, 1]), site('b', [800], 'Dropout (inserted before Gemm)')], 'onnx')).not.toThrow();
    expectMcuError(
      () => checkSpatial(p, [site('a', [20, 12, 12])], 'onnx'),
      'E_UNSUPPORTED',
      "--spatial: the onnx backend inserted site 'a' with an element-wise mask [20, 12, 12]",
      '[20, 1, 1]',
    );
    expectMcuError(() => checkSpatial(p, [site('a', [128], 'Dropout (inserted before Gemm)')], 'onnx'), 'E_USAGE', 'every inserted site is on a dense layer');
    // the model's own sites are not --spatial's business
    expect(() => checkSpatial(p, [site('own', [20, 12, 12], 'Dropout')], 'onnx')).not.toThrow();
    expect(() => checkSpatial(predict('m.onnx', '--insert-dropout', '0.1'), [site('a', [20, 12, 12])], 'onnx')).not.toThrow();
  });
});
