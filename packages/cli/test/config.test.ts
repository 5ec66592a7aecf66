import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseArgs } from '../src/args.js';
import { CONFIG_FILE, DEFAULTS, loadConfig, mergeSettings, parseConfigText, validateConfig } from '../src/config.js';
import { mcuErrorMessage } from '../../../test/helpers/check.js';

const configError = (f: () => unknown, code = 'E_CONFIG'): string => mcuErrorMessage(f, code);

const bad = (value: unknown): string => configError(() => validateConfig(value, 'mcu.config.json'));

describe('validateConfig', () => {
  it('accepts every documented key', () => {
    const full = {
      backend: 'onnx',
      backendOptions: {
        onnx: { executionProviders: ['cuda', 'cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: 4 },
        tfjs: { backend: 'wasm' },
      },
      samples: 50,
      seed: 7,
      maskScope: 'point',
      memoryBudgetMB: 128,
      batchSize: 32,
      tau: 0.5,
      task: 'regression',
      format: 'csv',
    };
    expect(validateConfig(full, 'c')).toEqual(full);
    expect(validateConfig({}, 'c')).toEqual({});
    expect(validateConfig({ $schema: 'x', samples: 3 }, 'c')).toEqual({ samples: 3 });
  });

  it('unknown keys at any level name the key path and the known keys', () => {
    expect(bad({ backendOptions: { onnx: { ep: ['cuda'] } } })).toBe(
      "mcu.config.json: unknown key 'backendOptions.onnx.ep'; known keys: executionProviders, graphOptimizationLevel, intraOpNumThreads, rates, maskInputs, insertDropout, scaling, rewrite, cacheDir",
    );
    expect(bad({ sample: 3 })).toMatch(/^mcu\.config\.json: unknown key 'sample' \(did you mean 'samples'\?\); known keys: backend, /);
    expect(bad({ backendOptions: { torch: {} } })).toMatch(/unknown key 'backendOptions.torch'; known keys: onnx, tfjs/);
    expect(bad({ backendOptions: { tfjs: { flags: 1 } } })).toMatch(/unknown key 'backendOptions.tfjs.flags'/);
    expect(bad({ toString: 1 })).toMatch(/unknown key 'toString'/);
  });

  it('bad values name the key and the value', () => {
    expect(bad({ samples: 0 })).toBe("mcu.config.json: 'samples' expects an integer ≥ 1, got 0");
    expect(bad({ samples: '100' })).toBe(`mcu.config.json: 'samples' expects an integer ≥ 1, got "100"`);
    expect(bad({ seed: -1 })).toMatch(/'seed' expects an integer in 0\.\.9007199254740991, got -1/);
    expect(bad({ seed: 1.5 })).toMatch(/'seed' expects/);
    expect(bad({ maskScope: 'row' })).toMatch(/'maskScope' expects one of "sample", "point", got "row"/);
    expect(bad({ memoryBudgetMB: 0 })).toMatch(/'memoryBudgetMB' expects a number > 0, got 0/);
    expect(bad({ batchSize: 2.5 })).toMatch(/'batchSize' expects an integer ≥ 1, got 2.5/);
    expect(bad({ tau: -1 })).toMatch(/'tau' expects a number > 0/);
    expect(bad({ task: 'clf' })).toMatch(/'task' expects one of "regression", "classification", "auto", or an object mapping output names to one of them/);
    expect(bad({ task: { logits: 'clf' } })).toMatch(/'task' expects .* or an object mapping output names/);
    expect(bad({ task: {} })).toMatch(/'task' expects/);
    expect(validateConfig({ task: { logits: 'classification' } }, 'c')).toEqual({ task: { logits: 'classification' } });
    expect(bad({ format: 'xml' })).toMatch(/'format' expects one of "json", "csv", "table", "npy"/);
    expect(bad({ backend: '' })).toMatch(/'backend' expects a backend name/);
    expect(bad({ backendOptions: { onnx: { executionProviders: 'cuda' } } })).toMatch(
      /'backendOptions.onnx.executionProviders' expects an array of execution provider names/,
    );
    expect(bad({ backendOptions: { onnx: { graphOptimizationLevel: 'max' } } })).toMatch(
      /'backendOptions.onnx.graphOptimizationLevel' expects one of "disabled", "basic", "extended", "all", got "max"/,
    );
    expect(bad({ backendOptions: { onnx: { intraOpNumThreads: -1 } } })).toMatch(/'backendOptions.onnx.intraOpNumThreads' expects an integer ≥ 0/);
    expect(bad({ backendOptions: { tfjs: { backend: 'webgl' } } })).toMatch(
      /'backendOptions.tfjs.backend' expects one of "tensorflow", "wasm", "cpu", got "webgl"/,
    );
    expect(bad({ backendOptions: 3 })).toMatch(/'backendOptions' expects an object, got 3/);
    expect(bad({ backendOptions: { onnx: [] } })).toMatch(/'backendOptions.onnx' expects an object, got an array/);
    expect(bad([1])).toMatch(/expected a JSON object at the top, got an array/);
    expect(bad(null)).toMatch(/expected a JSON object at the top, got null/);
  });

  it('invalid JSON is E_CONFIG with line, column and position', () => {
    expect(configError(() => parseConfigText('{\n  "samples": 3,\n}', 'mcu.config.json'))).toBe(
      "mcu.config.json: invalid JSON at line 3, column 1 (position 18): near '}'",
    );
    expect(configError(() => parseConfigText('{"samples": ', 'c.json'))).toMatch(/c\.json: invalid JSON at line 1, column 13 .*unexpected end of file/);
    expect(configError(() => parseConfigText('{"a": tru}', 'c.json'))).toMatch(/line 1, column 7/);
    expect(configError(() => parseConfigText('', 'c.json'))).toMatch(/empty file/);
  });
});

describe('loadConfig', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mcu-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('no file: empty config', () => {
    expect(loadConfig(dir)).toEqual({});
  });

  it('reads mcu.config.json from cwd', () => {
    writeFileSync(join(dir, CONFIG_FILE), JSON.stringify({ samples: 20, backend: 'tfjs' }));
    expect(loadConfig(dir)).toEqual({ samples: 20, backend: 'tfjs' });
  });

  it('an explicit path (relative to cwd) wins; missing explicit file is E_FILE', () => {
    writeFileSync(join(dir, CONFIG_FILE), JSON.stringify({ samples: 20 }));
    writeFileSync(join(dir, 'other.json'), JSON.stringify({ samples: 30 }));
    expect(loadConfig(dir, 'other.json')).toEqual({ samples: 30 });
    expect(loadConfig('/', join(dir, 'other.json'))).toEqual({ samples: 30 });
    expect(configError(() => loadConfig(dir, 'nope.json'), 'E_FILE')).toBe("--config 'nope.json': no such file");
  });

  it('errors name the file', () => {
    writeFileSync(join(dir, CONFIG_FILE), '{"samples": 0}');
    expect(configError(() => loadConfig(dir))).toBe("mcu.config.json: 'samples' expects an integer ≥ 1, got 0");
    writeFileSync(join(dir, 'x.json'), '{"nope": 1}');
    expect(configError(() => loadConfig(dir, 'x.json'))).toMatch(/^x\.json: unknown key 'nope'/);
  });

  it('a directory is E_FILE', () => {
    mkdirSync(join(dir, 'd'));
    expect(configError(() => loadConfig(dir, 'd'), 'E_FILE')).toMatch(/is a directory/);
  });
});

describe('mergeSettings', () => {
  const predict = (...flags: string[]) => parseArgs(['predict', 'm.onnx', '--input', 'x.csv', ...flags]);

  it('defaults', () => {
    const s = mergeSettings({}, predict());
    expect(s).toMatchObject({
      command: 'predict',
      model: 'm.onnx',
      samples: 100,
      seed: 0,
      maskScope: 'sample',
      task: 'auto',
      format: 'json',
      memoryBudgetMB: 512,
      dropoutScaling: 'inverted',
      before: ['Gemm', 'MatMul', 'Conv'],
      quiet: false,
      debug: false,
      input: [{ path: 'x.csv' }],
      rate: {},
      backendOptions: {},
    });
    expect(s.backend).toBeUndefined();
    expect(s.tau).toBeUndefined();
    expect(s.batchSize).toBeUndefined();
    expect(s.executionProviders).toBeUndefined();
    expect(s.sources.samples).toBe('default');
    expect(DEFAULTS.samples).toBe(100);
  });

  it('config overrides defaults, flags override config', () => {
    const config = {
      samples: 20,
      seed: 5,
      maskScope: 'point' as const,
      task: 'regression' as const,
      format: 'csv' as const,
      memoryBudgetMB: 64,
      batchSize: 10,
      backend: 'tfjs',
      tau: 2,
      backendOptions: { onnx: { executionProviders: ['cuda', 'cpu'], intraOpNumThreads: 2 } },
    };
    const fromConfig = mergeSettings(config, predict());
    expect(fromConfig).toMatchObject({
      samples: 20,
      seed: 5,
      maskScope: 'point',
      task: 'regression',
      format: 'csv',
      memoryBudgetMB: 64,
      batchSize: 10,
      backend: 'tfjs',
      tau: 2,
      executionProviders: ['cuda', 'cpu'],
    });
    expect(fromConfig.sources.samples).toBe('config');

    const fromFlags = mergeSettings(
      config,
      predict(
        '--samples',
        '7',
        '--seed',
        '1',
        '--mask-scope',
        'sample',
        '--task',
        'classification',
        '--format',
        'table',
        '--memory-budget',
        '8',
        '--batch-size',
        '3',
        '--backend',
        'onnx',
        '--tau',
        '9',
        '--ep',
        'webgpu',
      ),
    );
    expect(fromFlags).toMatchObject({
      samples: 7,
      seed: 1,
      maskScope: 'sample',
      task: 'classification',
      format: 'table',
      memoryBudgetMB: 8,
      batchSize: 3,
      backend: 'onnx',
      tau: 9,
      executionProviders: ['webgpu'],
      backendOptions: { onnx: { executionProviders: ['webgpu'], intraOpNumThreads: 2 } },
    });
    expect(fromFlags.sources.samples).toBe('flag');
    // the config object itself is not modified
    expect(config.backendOptions.onnx.executionProviders).toEqual(['cuda', 'cpu']);
  });

  it('τ from flags in another form drops the config τ', () => {
    const s = mergeSettings({ tau: 2 }, predict('--weight-decay', '1e-4', '--length-scale', '0.01', '--n-train', '100'));
    expect(s.tau).toBeUndefined();
    expect(s.tauPrior).toEqual({ weightDecay: 1e-4, lengthScale: 0.01, nTrain: 100 });
    expect(mergeSettings({ tau: 2 }, predict('--fit-tau', 'v.csv')).tau).toBeUndefined();
  });

  it('a config format the command cannot write falls back to the default', () => {
    expect(mergeSettings({ format: 'csv' }, parseArgs(['inspect', 'm.onnx'])).format).toBe('json');
    expect(mergeSettings({ format: 'table' }, parseArgs(['inspect', 'm.onnx'])).format).toBe('table');
  });

  it('evaluate: split defaults to 0 with --uci', () => {
    expect(mergeSettings({}, parseArgs(['evaluate', 'm.onnx', '--uci', 'd'])).split).toBe(0);
    expect(mergeSettings({}, parseArgs(['evaluate', 'm.onnx', '--uci', 'd', '--split', '3'])).split).toBe(3);
    expect(mergeSettings({}, parseArgs(['evaluate', 'm.onnx', '--data', 'd.csv'])).split).toBeUndefined();
  });

  it('passes the other flags through', () => {
    const s = mergeSettings(
      {},
      predict('--insert-dropout', '0.1', '--before', 'Gemm', '--rate', 'r=0.2', '--dropout-scaling', 'none', '--quiet', '--out', 'o.json', '--masks', 'm.json'),
    );
    expect(s).toMatchObject({ insertDropout: 0.1, before: ['Gemm'], rate: { r: 0.2 }, dropoutScaling: 'none', quiet: true, out: 'o.json', masks: 'm.json' });
  });
});

describe('mergeSettings: tasks', () => {
  const predict = (...flags: string[]) => parseArgs(['predict', 'm.onnx', '--input', 'x.csv', ...flags]);
  it('--task TASK and --task NAME=TASK over the config string or object', () => {
    expect(mergeSettings({}, predict())).toMatchObject({ task: 'auto', taskByOutput: {} });
    expect(mergeSettings({ task: 'regression' }, predict())).toMatchObject({ task: 'regression', taskByOutput: {} });
    expect(mergeSettings({ task: { a: 'regression', b: 'classification' } }, predict('--task', 'b=regression'))).toMatchObject({
      task: 'auto',
      taskByOutput: { a: 'regression', b: 'regression' },
    });
    expect(mergeSettings({ task: 'regression' }, predict('--task', 'classification', '--task', 'y=regression'))).toMatchObject({
      task: 'classification',
      taskByOutput: { y: 'regression' },
    });
  });
  it('--spatial', () => {
    expect(mergeSettings({}, predict()).spatial).toBe(false);
    expect(mergeSettings({}, predict('--insert-dropout', '0.1', '--spatial')).spatial).toBe(true);
  });
});
