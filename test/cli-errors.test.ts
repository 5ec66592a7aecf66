// Bad inputs to the BUILT `mcu` CLI, run as a subprocess. Every one must end with the documented
// exit status (2: the request or its data is wrong; 1: the run failed — packages/cli/src/exit.ts),
// ONE line on stderr `mcu: …` that names the problem, no stack trace, nothing on stdout, and no
// (partial) file at --out.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { co2Ref, fixtureBytes, fixturePath } from './helpers/fixtures.js';
import { describeRun, REPO_ROOT, requireBuiltCli, runMcu, tempDir, writeCsv, writeJson } from './helpers/cli.js';

const CO2 = 'pytorch-1.13-small/co2_relu.preserve.onnx';

interface Case {
  readonly name: string;
  /** Build the argv in a fresh directory `d`; `out` is a path that must not exist afterwards. */
  readonly args: (d: string, out: string) => string[];
  readonly exit: 1 | 2;
  readonly stderr: RegExp;
  /** Why this case cannot be checked on this machine (it is skipped then). */
  readonly skip?: () => string | undefined;
}

/** onnxruntime-node's CUDA provider library, when it was installed (ONNXRUNTIME_NODE_INSTALL=cuda12). */
function cudaProviderInstalled(): boolean {
  try {
    const require = createRequire(path.join(REPO_ROOT, 'packages', 'backend-onnx', 'package.json'));
    const root = path.join(path.dirname(require.resolve('onnxruntime-node')), '..');
    return fs.existsSync(path.join(root, 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so'));
  } catch {
    return false;
  }
}

/** A small valid input: 3 months of the co2 series (one column). */
function goodCsv(d: string): string {
  const x = co2Ref('1.13-small', 'co2_relu').x;
  return writeCsv(path.join(d, 'x.csv'), [[x[0]!], [x[100]!], [x[700]!]]);
}
const co2 = () => fixturePath(CO2);
/** predict on co2 with a good input, plus extra flags. */
const predictCo2 = (d: string, out: string, ...extra: string[]) => ['predict', co2(), '--input', goodCsv(d), '--out', out, ...extra];
const write = (file: string, text: string | Uint8Array) => {
  fs.writeFileSync(file, text);
  return file;
};
/** Masks of the right shape for co2 small (4 sites × 3 rows × 128 units), all ones. */
const masks = (sites: number, rows: number) => Array.from({ length: sites }, () => Array.from({ length: rows }, () => new Array<number>(128).fill(1)));

const CASES: Case[] = [
  // ---- the model file
  {
    name: 'missing model file',
    args: (d, out) => ['predict', path.join(d, 'nope.onnx'), '--input', goodCsv(d), '--out', out],
    exit: 2,
    stderr: /nope\.onnx.*(no such file|not found|does not exist)/i,
  },
  {
    name: 'model path is a directory',
    args: (d, out) => ['predict', d, '--input', goodCsv(d), '--out', out],
    exit: 2,
    stderr: /directory/i,
  },
  {
    name: 'model is not ONNX (a text file)',
    args: (d, out) => ['predict', write(path.join(d, 'model.onnx'), 'this is not a model\n'), '--input', goodCsv(d), '--out', out],
    exit: 2,
    stderr: /model\.onnx.*(ONNX|model|protobuf)/i,
  },
  {
    name: 'truncated ONNX (first 1000 bytes of a fixture)',
    args: (d, out) => ['predict', write(path.join(d, 'cut.onnx'), fixtureBytes(CO2).subarray(0, 1000)), '--input', goodCsv(d), '--out', out],
    exit: 2,
    stderr: /cut\.onnx.*(truncated|ends|incomplete|invalid|ONNX|model)/i,
  },
  {
    name: 'inspect a missing model',
    args: (d) => ['inspect', path.join(d, 'gone.onnx')],
    exit: 2,
    stderr: /gone\.onnx.*(no such file|not found|does not exist)/i,
  },
  // ---- the input data
  {
    name: 'wrong input width (3 columns for a 1-feature model)',
    args: (d, out) => [
      'predict',
      co2(),
      '--input',
      writeCsv(path.join(d, 'x3.csv'), [
        [1, 2, 3],
        [4, 5, 6],
      ]),
      '--out',
      out,
    ],
    exit: 2,
    stderr: /x3\.csv: input 'x' expects 1 value per row.*got 3 columns/,
  },
  {
    name: 'NaN in the CSV',
    args: (d, out) => ['predict', co2(), '--input', write(path.join(d, 'nan.csv'), '0.1\nNaN\n0.3\n'), '--out', out],
    exit: 2,
    stderr: /nan\.csv.*row 2.*(finite|NaN)/i,
  },
  {
    name: 'text in the CSV',
    args: (d, out) => ['predict', co2(), '--input', write(path.join(d, 'text.csv'), '0.1\n0.2\nhello\n'), '--out', out],
    exit: 2,
    stderr: /text\.csv.*hello/i,
  },
  {
    name: 'empty input file',
    args: (d, out) => ['predict', co2(), '--input', write(path.join(d, 'empty.csv'), ''), '--out', out],
    exit: 2,
    stderr: /empty\.csv.*(empty|no rows)/i,
  },
  {
    name: 'missing input file',
    args: (d, out) => ['predict', co2(), '--input', path.join(d, 'absent.csv'), '--out', out],
    exit: 2,
    stderr: /absent\.csv.*no such file/i,
  },
  {
    name: '--input for a non-existent input name',
    args: (d, out) => ['predict', co2(), '--input', `pixels=${goodCsv(d)}`, '--out', out],
    exit: 2,
    stderr: /no input 'pixels'/,
  },
  // ---- flags
  {
    name: 'unknown flag (with a suggestion)',
    args: (d, out) => predictCo2(d, out, '--sample', '10'),
    exit: 2,
    stderr: /unknown option '--sample'.*did you mean '--samples'/,
  },
  { name: 'unknown command', args: () => ['predcit', 'm.onnx'], exit: 2, stderr: /unknown command 'predcit'.*did you mean 'predict'/ },
  { name: 'T = 0', args: (d, out) => predictCo2(d, out, '--samples', '0'), exit: 2, stderr: /--samples expects an integer ≥ 1, got '0'/ },
  { name: 'negative seed', args: (d, out) => predictCo2(d, out, '--seed', '-1'), exit: 2, stderr: /--seed expects an integer in 0\.\.\d+, got '-1'/ },
  {
    name: '--insert-dropout 1.5 (p outside [0, 1))',
    args: (d, out) => predictCo2(d, out, '--insert-dropout', '1.5'),
    exit: 2,
    stderr: /--insert-dropout expects a number in \[0, 1\), got '1\.5'/,
  },
  { name: '--tau 0', args: (d, out) => predictCo2(d, out, '--tau', '0'), exit: 2, stderr: /--tau expects a number > 0, got '0'/ },
  { name: '--tau -1', args: (d, out) => predictCo2(d, out, '--tau', '-1'), exit: 2, stderr: /--tau expects a number > 0, got '-1'/ },
  { name: 'missing --input', args: (_d, out) => ['predict', co2(), '--out', out], exit: 2, stderr: /missing --input/ },
  {
    name: 'bad --format',
    args: (d, out) => predictCo2(d, out, '--format', 'xml'),
    exit: 2,
    stderr: /--format expects one of json, csv, table, npy, svg, png, got 'xml'/,
  },
  {
    name: 'bad --mask-scope',
    args: (d, out) => predictCo2(d, out, '--mask-scope', 'batch'),
    exit: 2,
    stderr: /--mask-scope expects one of sample, point, got 'batch'/,
  },
  {
    name: '--weight-decay without --length-scale',
    args: (d, out) => predictCo2(d, out, '--weight-decay', '1e-4', '--n-train', '400'),
    exit: 2,
    stderr: /--weight-decay.*without --length-scale/,
  },
  { name: 'evaluate without --data or --uci', args: () => ['evaluate', co2()], exit: 2, stderr: /evaluate: missing test set.*--data.*--uci/ },
  { name: 'convert without -o', args: () => ['convert', co2()], exit: 2, stderr: /convert: missing -o FILE/ },
  // ---- backends and execution providers
  {
    name: 'unknown backend (names the registered ones)',
    args: (d, out) => predictCo2(d, out, '--backend', 'pytorch'),
    exit: 2,
    stderr: /backend 'pytorch' is not registered; registered: .*onnx.*onnx-web.*tfjs|backend 'pytorch' is not registered; registered: .*tfjs.*onnx/,
  },
  {
    name: 'unknown execution provider',
    args: (d, out) => predictCo2(d, out, '--ep', 'tpu'),
    exit: 2,
    stderr: /execution provider 'tpu' is not supported.*cpu/,
  },
  {
    name: 'CUDA execution provider without its binaries',
    args: (d, out) => predictCo2(d, out, '--ep', 'cuda'),
    exit: 1,
    stderr: /'cuda'.*ONNXRUNTIME_NODE_INSTALL=cuda12/,
    skip: () => (cudaProviderInstalled() ? "onnxruntime-node's CUDA binaries are installed here" : undefined),
  },
  // ---- masks
  {
    name: '--masks with the wrong number of sites',
    args: (d, out) => predictCo2(d, out, '--masks', writeJson(path.join(d, 'm3.json'), masks(3, 3))),
    exit: 2,
    stderr: /m3\.json.*4 stochastic site.*3/,
  },
  {
    name: '--masks with the wrong row count',
    args: (d, out) => predictCo2(d, out, '--masks', writeJson(path.join(d, 'm-rows.json'), masks(4, 2))),
    exit: 2,
    stderr: /m-rows\.json.*one mask row per input row \(3\), got 2/,
  },
  {
    name: '--masks with the wrong width',
    args: (d, out) =>
      predictCo2(
        d,
        out,
        '--masks',
        writeJson(
          path.join(d, 'm-width.json'),
          masks(4, 3).map((s) => s.map((r) => r.slice(0, 100))),
        ),
      ),
    exit: 2,
    stderr: /m-width\.json: .*site "mcu_mask_1".*128.*got 100/,
  },
  {
    name: '--masks file is not JSON',
    args: (d, out) => predictCo2(d, out, '--masks', write(path.join(d, 'm.json'), '[[1, 2], oops')),
    exit: 2,
    stderr: /m\.json.*JSON/i,
  },
  // ---- output
  {
    name: 'unwritable --out: a directory that does not exist',
    args: (d) => ['predict', co2(), '--input', goodCsv(d), '--out', path.join(d, 'no', 'such', 'dir', 'out.json')],
    exit: 2,
    stderr: /cannot write '.*out\.json'.*does not exist/,
  },
  {
    name: 'unwritable --out: its parent is a file',
    args: (d) => ['predict', co2(), '--input', goodCsv(d), '--out', path.join(write(path.join(d, 'plain-file'), 'x'), 'out.json')],
    exit: 2,
    stderr: /cannot write '.*plain-file\/out\.json'.*not a directory/,
  },
  {
    name: 'convert to an unwritable -o',
    args: (d) => ['convert', co2(), '-o', path.join(d, 'missing-dir', 'x.onnx')],
    exit: 2,
    stderr: /cannot write '.*x\.onnx'.*does not exist/,
  },
  // ---- configuration
  {
    name: 'config file with an unknown key',
    args: (d, out) => predictCo2(d, out, '--config', writeJson(path.join(d, 'cfg.json'), { samples: 10, sampels: 10 })),
    exit: 2,
    stderr: /cfg\.json: unknown key 'sampels'.*did you mean 'samples'/,
  },
  {
    name: 'config file is invalid JSON',
    args: (d, out) => predictCo2(d, out, '--config', write(path.join(d, 'bad.json'), '{ "samples": 10,, }')),
    exit: 2,
    stderr: /bad\.json.*JSON/i,
  },
  {
    name: 'config file with a bad value',
    args: (d, out) => predictCo2(d, out, '--config', writeJson(path.join(d, 'val.json'), { seed: -3 })),
    exit: 2,
    stderr: /val\.json: 'seed' expects an integer in 0\.\.\d+, got -3/,
  },
  {
    name: 'mcu.config.json in the working directory with an unknown key',
    args: (d, out) => {
      writeJson(path.join(d, 'mcu.config.json'), { backendOptions: { onnx: { ep: ['cpu'] } } });
      return predictCo2(d, out);
    },
    exit: 2,
    stderr: /mcu\.config\.json: unknown key 'backendOptions\.onnx\.ep'/,
  },
];

let root: string;
beforeAll(() => {
  requireBuiltCli();
  root = tempDir('mcu-errors-');
});

describe('mcu fails cleanly on bad input', () => {
  it('has at least 25 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(25);
  });

  it.concurrent.for(CASES.map((c, i) => [c.name, c, i] as const))('%s', async ([, c, i], ctx) => {
    const why = c.skip?.();
    if (why !== undefined) ctx.skip(why);
    const d = path.join(root, `case-${String(i).padStart(2, '0')}`);
    fs.mkdirSync(d);
    const out = path.join(d, 'out.json');
    const args = c.args(d, out);
    const before = new Set(fs.readdirSync(d));
    const r = await runMcu(args, { cwd: d, timeoutMs: 60_000 });
    const info = describeRun(r);
    if (process.env['MCU_SHOW_ERRORS']) console.log(`[errors] ${c.name} → exit ${r.status}: ${r.stderr.trimEnd()}`);
    expect(r.signal, info).toBeNull();
    expect(r.status, info).toBe(c.exit);
    expect(r.stdout, info).toBe('');
    // exactly one line, `mcu: …`, newline-terminated
    expect(r.stderr.endsWith('\n'), info).toBe(true);
    const lines = r.stderr.slice(0, -1).split('\n');
    expect(lines, info).toHaveLength(1);
    expect(lines[0], info).toMatch(/^mcu: \S/);
    expect(lines[0], info).toMatch(c.stderr);
    expect(r.stderr, info).not.toContain('    at ');
    expect(r.stderr, info).not.toMatch(/\b(TypeError|ReferenceError|RangeError|SyntaxError|Error):/);
    // no output file, and nothing left behind (temporary files) in the case's directory
    expect(fs.existsSync(out), info).toBe(false);
    const after = fs.readdirSync(d).filter((f) => !before.has(f));
    expect(after, info).toEqual([]);
  });
});
