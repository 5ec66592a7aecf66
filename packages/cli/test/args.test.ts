import { describe, expect, it } from 'vitest';
import { McuError } from '@mcu/core';
import { HELP, OPTIONS, closest, helpText, parseArgs, parseInputArg } from '../src/args.js';
import type { CliOptions } from '../src/args.js';

const P = (...rest: string[]) => parseArgs(['predict', 'm.onnx', '--input', 'x.csv', ...rest]);

function usageError(argv: string[]): McuError {
  try {
    parseArgs(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(McuError);
    expect((e as McuError).code).toBe('E_USAGE');
    return e as McuError;
  }
  throw new Error(`parseArgs(${JSON.stringify(argv)}) did not throw`);
}
const msg = (argv: string[]): string => usageError(argv).message;

describe('parseArgs: commands and positionals', () => {
  it('no arguments, help, -h and --help give help', () => {
    expect(parseArgs([]).command).toBe('help');
    expect(parseArgs(['help']).command).toBe('help');
    expect(parseArgs(['--help']).command).toBe('help');
    expect(parseArgs(['--help']).topic).toBeUndefined();
    expect(parseArgs(['-h']).command).toBe('help');
    expect(parseArgs(['help', 'predict'])).toMatchObject({ command: 'help', topic: 'predict' });
    expect(parseArgs(['predict', '--help'])).toMatchObject({ command: 'help', topic: 'predict' });
    // help wins over errors elsewhere on the line
    expect(parseArgs(['predict', '--samples', '0', '-h'])).toMatchObject({ command: 'help', topic: 'predict' });
  });

  it('--version', () => {
    expect(parseArgs(['--version']).command).toBe('version');
  });

  it('predict with model and input; options hold only what was given', () => {
    const p = P();
    expect(p.command).toBe('predict');
    expect(p.model).toBe('m.onnx');
    expect(p.options).toEqual({ input: [{ path: 'x.csv' }] });
    expect([...p.explicit]).toEqual(['input']);
    expect(p.options.samples).toBeUndefined();
    expect(p.options.seed).toBeUndefined();
    expect(p.options.task).toBeUndefined();
    expect(p.options.format).toBeUndefined();
  });

  it('other commands', () => {
    expect(parseArgs(['inspect', 'm.onnx']).model).toBe('m.onnx');
    expect(parseArgs(['convert', 'm.onnx', '-o', 'out.onnx']).options.out).toBe('out.onnx');
    expect(parseArgs(['evaluate', 'm.onnx', '--data', 't.csv']).options.data).toBe('t.csv');
    expect(parseArgs(['backends']).command).toBe('backends');
    expect(parseArgs(['backends']).model).toBeUndefined();
  });

  it('model may come after options, and -- ends options', () => {
    expect(parseArgs(['predict', '--input', 'x.csv', 'm.onnx']).model).toBe('m.onnx');
    expect(parseArgs(['inspect', '--', '--weird.onnx']).model).toBe('--weird.onnx');
  });

  it('unknown command suggests the closest', () => {
    expect(msg(['predcit', 'm.onnx'])).toBe(
      "unknown command 'predcit'; did you mean 'predict'? (commands: predict, inspect, convert, evaluate, plot, backends, serve, acquire, worker, help)",
    );
    expect(msg(['--samples', '3'])).toMatch(/expected a command before '--samples'/);
    expect(msg(['help', 'nope'])).toMatch(/no help for 'nope'/);
  });

  it('serve: needs --models, takes no MODEL, checks the port', () => {
    expect(msg(['serve'])).toBe('serve: missing --models DIR (a directory of *.onnx or model.json files to serve)');
    expect(msg(['serve', 'm.onnx', '--models', 'd'])).toBe("serve: unexpected argument 'm.onnx' (serve takes no positional arguments)");
    expect(msg(['serve', '--models', 'd', '--port', '70000'])).toBe("--port expects an integer in 0..65535, got '70000'");
    expect(parseArgs(['serve', '--models', 'd', '--port', '0', '--batch-wait-ms', '0']).options).toEqual({ models: 'd', port: 0, batchWaitMs: 0 });
  });

  it('missing MODEL', () => {
    expect(msg(['predict', '--input', 'x.csv'])).toBe('predict: missing MODEL (usage: mcu predict MODEL [options]; see mcu predict --help)');
    expect(msg(['inspect'])).toMatch(/^inspect: missing MODEL/);
  });

  it('extra positionals', () => {
    expect(msg(['inspect', 'a.onnx', 'b.onnx'])).toMatch(/unexpected argument 'b.onnx' after MODEL 'a.onnx'/);
    expect(msg(['backends', 'x'])).toMatch(/backends: unexpected argument 'x'/);
  });

  it('per-command requirements', () => {
    expect(msg(['predict', 'm.onnx'])).toMatch(/predict: missing --input FILE/);
    expect(msg(['convert', 'm.onnx'])).toMatch(/convert: missing -o FILE/);
    expect(msg(['evaluate', 'm.onnx'])).toMatch(/evaluate: missing test set/);
  });
});

describe('parseArgs: every option', () => {
  const cases: [string[], Partial<CliOptions>][] = [
    [['--samples', '200'], { samples: 200 }],
    [['--seed', '42'], { seed: 42 }],
    [['--seed', String(2 ** 53 - 1)], { seed: 2 ** 53 - 1 }],
    [['--task', 'classification'], { task: { all: 'classification', outputs: {} } }],
    [['--task', 'Regression'], { task: { all: 'regression', outputs: {} } }],
    [['--task', 'logits=classification', '--task', 'y=regression'], { task: { outputs: { logits: 'classification', y: 'regression' } } }],
    [['--task', 'auto', '--task', 'logits=classification'], { task: { all: 'auto', outputs: { logits: 'classification' } } }],
    [['--tau', '0.5'], { tau: 0.5 }],
    [['--weight-decay', '1e-4', '--length-scale', '1e-2', '--n-train', '1000'], { weightDecay: 1e-4, lengthScale: 0.01, nTrain: 1000 }],
    [['--backend', 'onnx'], { backend: 'onnx' }],
    [['--ep', 'cuda', '--ep', 'cpu'], { ep: ['cuda', 'cpu'] }],
    [['--ep', 'cuda,cpu'], { ep: ['cuda', 'cpu'] }],
    [['--ep', 'webgpu, cuda', '--ep', 'cpu,cuda'], { ep: ['webgpu', 'cuda', 'cpu'] }],
    [['--mask-scope', 'point'], { maskScope: 'point' }],
    [['--tolerance', '0.01'], { tolerance: 0.01 }],
    [['--masks', 'masks.json'], { masks: 'masks.json' }],
    [['--format', 'csv'], { format: 'csv' }],
    [['--format', 'npy'], { format: 'npy' }],
    [['--out', 'o.json'], { out: 'o.json' }],
    [['-o', 'o.json'], { out: 'o.json' }],
    [['--config', 'c.json'], { config: 'c.json' }],
    [['--insert-dropout', '0.1'], { insertDropout: 0.1 }],
    [['--insert-dropout', '0'], { insertDropout: 0 }],
    [['--insert-dropout', '0.2', '--before', 'gemm,MatMul'], { insertDropout: 0.2, before: ['Gemm', 'MatMul'] }],
    [['--rate', 'ratio=0.1', '--rate', 'r2=0.5'], { rate: { ratio: 0.1, r2: 0.5 } }],
    [['--dropout-scaling', 'none'], { dropoutScaling: 'none' }],
    [['--quiet'], { quiet: true }],
    [['--debug'], { debug: true }],
    [['--quiet=false'], { quiet: false }],
    [['--fit-tau', 'val.csv'], { fitTau: 'val.csv' }],
    [['--memory-budget', '256'], { memoryBudgetMB: 256 }],
    [['--memory-budget', '0.5'], { memoryBudgetMB: 0.5 }],
    [['--batch-size', '64'], { batchSize: 64 }],
  ];
  for (const [flags, want] of cases) {
    it(`${flags.join(' ')}`, () => {
      const p = P(...flags);
      expect(p.options).toEqual({ input: [{ path: 'x.csv' }], ...want });
      for (const k of Object.keys(want)) expect(p.explicit.has(k as keyof CliOptions)).toBe(true);
    });
  }

  it('--flag=value works for every valued flag', () => {
    const p = parseArgs([
      'predict',
      'm.onnx',
      '--input=x=a.csv',
      '--samples=7',
      '--seed=3',
      '--task=regression',
      '--tau=2',
      '--backend=onnx',
      '--ep=cuda,cpu',
      '--mask-scope=point',
      '--format=table',
      '--out=o.txt',
      '--config=c.json',
      '--memory-budget=64',
      '--batch-size=8',
      '--rate=r=0.25',
      '--insert-dropout=0.1',
      '--before=Conv',
      '--dropout-scaling=inverted',
    ]);
    expect(p.options).toEqual({
      input: [{ name: 'x', path: 'a.csv' }],
      samples: 7,
      seed: 3,
      task: { all: 'regression', outputs: {} },
      tau: 2,
      backend: 'onnx',
      ep: ['cuda', 'cpu'],
      maskScope: 'point',
      format: 'table',
      out: 'o.txt',
      config: 'c.json',
      memoryBudgetMB: 64,
      batchSize: 8,
      rate: { r: 0.25 },
      insertDropout: 0.1,
      before: ['Conv'],
      dropoutScaling: 'inverted',
    });
    expect(p.explicit.size).toBe(Object.keys(p.options).length);
  });

  it('evaluate options', () => {
    expect(parseArgs(['evaluate', 'm.onnx', '--data', 't.csv', '--target', 'y']).options).toEqual({ data: 't.csv', target: 'y' });
    expect(parseArgs(['evaluate', 'm.onnx', '--data', 't.csv', '--target', '3']).options.target).toBe(3);
    expect(parseArgs(['evaluate', 'm.onnx', '--uci', 'UCI/boston', '--split', '4']).options).toEqual({ uci: 'UCI/boston', split: 4 });
    expect(parseArgs(['evaluate', 'm.onnx', '--uci', 'd', '--samples', '10', '--tau', '1']).options.samples).toBe(10);
  });

  it('--input forms', () => {
    expect(P().options.input).toEqual([{ path: 'x.csv' }]);
    const p = parseArgs(['predict', 'm.onnx', '--input', 'a=x.npy', '--input', 'b=y.csv']);
    expect(p.options.input).toEqual([
      { name: 'a', path: 'x.npy' },
      { name: 'b', path: 'y.csv' },
    ]);
    expect(parseInputArg('data/a=b.csv')).toEqual({ path: 'data/a=b.csv' });
    expect(parseInputArg('input:0=x.csv')).toEqual({ name: 'input:0', path: 'x.csv' });
    expect(msg(['predict', 'm.onnx', '--input', 'a.csv', '--input', 'b.csv'])).toMatch(
      /--input 'a.csv' has no name, but --input is given 2 times: use --input NAME=FILE/,
    );
    expect(msg(['predict', 'm.onnx', '--input', 'a=1.csv', '--input', 'a=2.csv'])).toMatch(/--input a=… given more than once/);
  });

  it('--help text exists for every command and mentions its options', () => {
    for (const c of ['predict', 'inspect', 'convert', 'evaluate', 'backends'] as const) {
      expect(HELP[c]).toMatch(new RegExp(`^Usage: mcu ${c}`));
      expect(HELP[c]).toMatch(/Examples:/);
      for (const spec of Object.values(OPTIONS)) {
        if ((spec.commands as readonly string[]).includes(c)) expect(HELP[c]).toContain(spec.flag);
      }
    }
    expect(HELP.predict).not.toContain('--uci');
    expect(helpText()).toBe(HELP.global);
    expect(helpText('predict')).toBe(HELP.predict);
    expect(HELP.global).toMatch(/Commands:/);
  });
});

describe('parseArgs: errors', () => {
  it('unknown flag suggests the closest known flag', () => {
    expect(msg(['predict', 'm.onnx', '--sample', '3'])).toBe("unknown option '--sample'; did you mean '--samples'? (see mcu predict --help)");
    expect(msg(['predict', 'm.onnx', '--mask_scope', 'point'])).toMatch(/did you mean '--mask-scope'/);
    expect(msg(['predict', 'm.onnx', '--zzzzzzzz'])).toBe("unknown option '--zzzzzzzz' (see mcu predict --help)");
    expect(msg(['predict', 'm.onnx', '-x'])).toMatch(/unknown option '-x'/);
  });

  it('missing value', () => {
    expect(msg(['predict', 'm.onnx', '--input', 'x.csv', '--samples'])).toBe('--samples expects a value (an integer ≥ 1)');
    expect(msg(['predict', 'm.onnx', '--samples', '--seed', '1'])).toBe("--samples expects a value (an integer ≥ 1), got option '--seed'");
    expect(msg(['predict', 'm.onnx', '--samples='])).toBe("--samples expects a value (an integer ≥ 1), got ''");
  });

  it('bad numbers name the flag and the value', () => {
    expect(msg(['predict', 'm.onnx', '--samples', '0'])).toBe("--samples expects an integer ≥ 1, got '0'");
    expect(msg(['predict', 'm.onnx', '--samples', '1.5'])).toBe("--samples expects an integer ≥ 1, got '1.5'");
    expect(msg(['predict', 'm.onnx', '--samples', 'ten'])).toBe("--samples expects an integer ≥ 1, got 'ten'");
    expect(msg(['predict', 'm.onnx', '--seed', '-1'])).toBe(`--seed expects an integer in 0..${2 ** 53 - 1}, got '-1'`);
    expect(msg(['predict', 'm.onnx', '--seed=-5'])).toMatch(/--seed expects an integer in 0\.\.\d+, got '-5'/);
    expect(msg(['predict', 'm.onnx', '--seed', String(2 ** 53)])).toMatch(/--seed expects/);
    expect(msg(['predict', 'm.onnx', '--tau', '0'])).toBe("--tau expects a number > 0, got '0'");
    expect(msg(['predict', 'm.onnx', '--tau', '-2'])).toBe("--tau expects a number > 0, got '-2'");
    expect(msg(['predict', 'm.onnx', '--tau', 'NaN'])).toBe("--tau expects a number > 0, got 'NaN'");
    expect(msg(['predict', 'm.onnx', '--tolerance', '0'])).toMatch(/--tolerance expects a number > 0/);
    expect(msg(['predict', 'm.onnx', '--insert-dropout', '1'])).toBe("--insert-dropout expects a number in [0, 1), got '1'");
    expect(msg(['predict', 'm.onnx', '--memory-budget', '0'])).toMatch(/--memory-budget expects a number > 0, got '0'/);
    expect(msg(['predict', 'm.onnx', '--batch-size', '0'])).toMatch(/--batch-size expects an integer ≥ 1, got '0'/);
    expect(msg(['evaluate', 'm.onnx', '--uci', 'd', '--split', '-1'])).toMatch(/--split expects an integer ≥ 0, got '-1'/);
    expect(msg(['predict', 'm.onnx', '--weight-decay', '0'])).toMatch(/--weight-decay expects a number > 0/);
  });

  it('bad enums and lists', () => {
    expect(msg(['predict', 'm.onnx', '--task', 'foo'])).toBe("--task expects one of regression, classification, auto (or NAME=TASK for one output), got 'foo'");
    expect(msg(['predict', 'm.onnx', '--task', 'y=foo'])).toMatch(/--task expects .* got 'y=foo'/);
    expect(msg(['predict', 'm.onnx', '--task', 'y=regression', '--task', 'y=classification'])).toMatch(/output 'y' given twice/);
    expect(msg(['predict', 'm.onnx', '--task', 'regression', '--task', 'auto'])).toMatch(/the task of all outputs was already given as 'regression'/);
    expect(msg(['predict', 'm.onnx', '--mask-scope', 'row'])).toMatch(/--mask-scope expects one of sample, point, got 'row'/);
    expect(msg(['predict', 'm.onnx', '--format', 'xml'])).toMatch(/--format expects one of json, csv, table, npy, svg, png, got 'xml'/);
    expect(msg(['predict', 'm.onnx', '--dropout-scaling', 'x'])).toMatch(/--dropout-scaling expects one of inverted, none/);
    expect(msg(['predict', 'm.onnx', '--insert-dropout', '0.1', '--before', 'Relu'])).toMatch(
      /--before expects a comma list of Gemm, MatMul, Conv, got 'Relu'/,
    );
    expect(msg(['predict', 'm.onnx', '--ep', 'cuda,,cpu'])).toMatch(/--ep expects .* got 'cuda,,cpu' \(empty item/);
    expect(msg(['predict', 'm.onnx', '--rate', 'r'])).toMatch(/--rate expects NAME=P with P in \[0, 1\), got 'r'/);
    expect(msg(['predict', 'm.onnx', '--rate', 'r=1.5'])).toMatch(/--rate expects NAME=P .* got 'r=1.5'/);
    expect(msg(['predict', 'm.onnx', '--rate', 'r=0.1', '--rate', 'r=0.2'])).toMatch(/'r' given twice/);
    expect(msg(['predict', 'm.onnx', '--quiet=maybe'])).toMatch(/--quiet expects true or false, got 'maybe'/);
  });

  it('a single-valued option given twice', () => {
    expect(msg(['predict', 'm.onnx', '--samples', '1', '--samples', '2'])).toMatch(/--samples given more than once/);
  });

  it('option not valid for this command', () => {
    expect(msg(['inspect', 'm.onnx', '--samples', '10'])).toBe("--samples is not an option of 'inspect' (it applies to: predict, evaluate, plot, acquire)");
    expect(msg(['backends', '--input', 'x.csv'])).toMatch(/--input is not an option of 'backends'/);
    expect(msg(['predict', 'm.onnx', '--uci', 'd'])).toMatch(/--uci is not an option of 'predict'/);
    expect(msg(['convert', 'm.onnx', '-o', 'x', '--format', 'json'])).toMatch(/--format is not an option of 'convert'/);
  });

  it('format not available for the command', () => {
    expect(msg(['inspect', 'm.onnx', '--format', 'csv'])).toMatch(/--format csv is not available for 'inspect' \(use json or table\)/);
  });

  it('tau: exclusive forms and the triple together', () => {
    expect(msg(['predict', 'm.onnx', '--input', 'x', '--weight-decay', '1e-4'])).toBe(
      '--weight-decay, --length-scale and --n-train go together to give τ; got --weight-decay without --length-scale, --n-train',
    );
    expect(msg(['predict', 'm.onnx', '--input', 'x', '--tau', '1', '--weight-decay', '1', '--length-scale', '1', '--n-train', '5'])).toMatch(
      /both set τ; give one of them/,
    );
    expect(msg(['predict', 'm.onnx', '--input', 'x', '--tau', '1', '--fit-tau', 'v.csv'])).toMatch(/--fit-tau chooses τ itself; drop --tau/);
  });

  it('other combinations', () => {
    expect(msg(['predict', 'm.onnx', '--input', 'x', '--before', 'Gemm'])).toMatch(/--before Gemm applies to --insert-dropout P, which is missing/);
    expect(msg(['predict', 'm.onnx', '--input', 'x', '--masks', 'm.json', '--tolerance', '0.1'])).toMatch(
      /--masks m\.json replays fixed masks .* so --tolerance 0\.1 cannot apply/,
    );
    for (const [flag, value] of [
      ['--samples', '5'],
      ['--seed', '2'],
      ['--mask-scope', 'point'],
      ['--memory-budget', '8'],
      ['--batch-size', '4'],
      ['--fit-tau', 'v.csv'],
    ]) {
      expect(msg(['predict', 'm.onnx', '--input', 'x', '--masks', 'm.json', flag!, value!])).toMatch(new RegExp(`so ${flag} ${value} cannot apply`));
    }
    expect(msg(['predict', 'm.onnx', '--input', 'x', '--spatial'])).toMatch(/--spatial .* --insert-dropout is missing/);
    expect(msg(['predict', 'm.onnx', '--input', 'x', '--target', 'y'])).toMatch(
      /--target y names the target column of the --fit-tau VALFILE, which is missing/,
    );
    expect(parseArgs(['predict', 'm.onnx', '--input', 'x', '--fit-tau', 'v.csv', '--target', 'y']).options.target).toBe('y');
    expect(parseArgs(['evaluate', 'm.onnx', '--uci', 'b', '--fit-tau', 'v.csv', '--target', '2']).options.target).toBe(2);
    expect(msg(['evaluate', 'm.onnx', '--data', 'd', '--batch-size', '4'])).toMatch(
      /--batch-size is not an option of 'evaluate': evaluate scores all test rows in one engine run/,
    );
    expect(msg(['inspect', 'm.onnx', '--quiet'])).toMatch(/--quiet is not an option of 'inspect': inspect writes nothing on stderr/);
    expect(msg(['evaluate', 'm.onnx', '--data', 'a', '--uci', 'b'])).toMatch(/give one/);
    expect(msg(['evaluate', 'm.onnx', '--uci', 'b', '--target', 'y'])).toMatch(/--target y applies to --data FILE or the --fit-tau VALFILE/);
    expect(msg(['evaluate', 'm.onnx', '--data', 'a', '--split', '1'])).toMatch(/--split 1 applies to --uci DIR/);
  });

  it('closest()', () => {
    expect(closest('--sampels', ['--samples', '--seed'])).toBe('--samples');
    expect(closest('qqqqqq', ['--samples'])).toBeUndefined();
  });
});
