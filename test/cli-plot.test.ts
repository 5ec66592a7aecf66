// `mcu plot` end to end, in-process (main(argv, io)): band plots of the bundled CO2 example
// (SVG and PNG, from the model and from a saved predict result), the figure-4 plot of LeNet on
// twelve rotated "1"s, and every refusal: exit 2, one line on stderr, no file written.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from '@mcu/backend-onnx';
import { pngMetadata, pngSize, svgMetadata } from '@mcu/plot';
import { co2Ref, fixtureBytes, fixturePath, lenetRef, uciFixture } from './helpers/fixtures.js';
import { MCU_BIN, REPO_ROOT, requireBuiltCli, tempDir, writeCsv } from './helpers/cli.js';
import { mcu, show, type InProcessRun } from './helpers/in-process.js';

const CO2 = path.join(REPO_ROOT, 'examples', 'co2_relu.preserve.onnx');
const MONTHS = path.join(REPO_ROOT, 'examples', 'co2-months.csv');

/** The drawn items of each Vega mark group of a type, in order. */
function markItems(svg: string, type: string): number[] {
  const re = new RegExp(`<g class="mark-${type} role-mark[^"]*"[^>]*>(.*?)</g>`, 'gs');
  return [...svg.matchAll(re)].map((m) => (m[1]!.match(/<(path|line|text)\b/g) ?? []).length);
}
/** The `d` of each area path (the bands), outermost first. */
const areaPaths = (svg: string): string[] => [...svg.matchAll(/<g class="mark-area role-mark[^"]*"[^>]*><path[^>]* d="([^"]*)"/g)].map((m) => m[1]!);

type Meta = { output: string; task: string; run: Record<string, unknown>; figure: Record<string, unknown>; model?: string; result?: string };

let dir: string;
let cwd: string;
const F: Record<string, string> = {};
let n = 0;
const out = (ext: string) => path.join(dir, `fig-${++n}.${ext}`);

const ok = (r: InProcessRun) => {
  expect(r.code, show(r)).toBe(0);
  return r;
};
const readSvg = (file: string): string => fs.readFileSync(file, 'utf8');

beforeAll(async () => {
  dir = tempDir('mcu-plot-');
  cwd = tempDir('mcu-plot-cwd-');
  const lenet = lenetRef('1.13');
  F['lenet'] = fixturePath('pytorch-1.13/lenet.preserve.onnx');
  F['ones'] = writeCsv(path.join(dir, 'rotated-ones.csv'), lenet.rotated.images);
  const ref = co2Ref('1.13-small', 'co2_relu');
  const months = fs.readFileSync(MONTHS, 'utf8').trim().split('\n').slice(1).map(Number);
  F['months2'] = writeCsv(
    path.join(dir, 'months-2-features.csv'),
    months.map((x) => [x, x * x]),
  );
  F['months3'] = writeCsv(
    path.join(dir, 'months-3-columns.csv'),
    months.map((x) => [x, x * x, 1]),
  );
  F['train'] = path.join(dir, 'train.csv');
  fs.writeFileSync(
    F['train'],
    `${[
      'x,y',
      ...ref.x
        .slice(0, 444)
        .filter((_, i) => i % 10 === 0)
        .map((x, j) => `${x},${ref.y[j * 10]}`),
    ].join('\n')}\n`,
  );
  // co2 with a second output y2 = −y
  const m = decodeModel(fixtureBytes('pytorch-1.13-small/co2_relu.preserve.onnx'));
  const g = m.graph!;
  const y = g.output![0]!;
  g.node!.push({ op_type: 'Neg', input: [y.name!], output: ['y2'], name: 'neg' });
  g.output!.push({ ...y, name: 'y2' });
  F['twoOut'] = path.join(dir, 'two-outputs.onnx');
  fs.writeFileSync(F['twoOut'], encodeModel(m));
  // LeNet with a Softmax appended: its output holds probabilities (no logits to scatter)
  const l = decodeModel(fixtureBytes('pytorch-1.13/lenet.preserve.onnx'));
  const lg = l.graph!;
  const lo = lg.output![0]!;
  for (const node of lg.node ?? []) node.output = (node.output ?? []).map((o) => (o === lo.name ? `${lo.name}_logits` : o));
  lg.node!.push({
    op_type: 'Softmax',
    input: [`${lo.name}_logits`],
    output: [lo.name!],
    name: 'appended_softmax',
    attribute: [{ name: 'axis', type: 2, i: 1n }],
  });
  F['lenetSoftmax'] = path.join(dir, 'lenet-softmax.onnx');
  fs.writeFileSync(F['lenetSoftmax'], encodeModel(l));
  const uci = uciFixture('yacht');
  F['yacht'] = uci.splits[0]!.modelPath;
  F['yachtX'] = writeCsv(
    path.join(dir, 'yacht-x.csv'),
    uci.data.slice(0, 3).map((r) => r.slice(0, -1)),
  );
  // saved results
  F['co2Result'] = path.join(dir, 'co2-result.json');
  ok(await mcu(['predict', CO2, '--input', MONTHS, '--tau', '50', '--samples', '200', '--seed', '5', '--format', 'json', '-o', F['co2Result']], cwd));
  F['lenetResult'] = path.join(dir, 'lenet-result.json');
  ok(await mcu(['predict', F['lenet'], '--input', F['ones'], '--task', 'classification', '--samples', '50', '--format', 'json', '-o', F['lenetResult']], cwd));
  F['evalResult'] = path.join(dir, 'evaluate.json');
  fs.writeFileSync(path.join(dir, 'test.csv'), `${['x,y', ...[0, 100, 200].map((i) => `${ref.x[i]},${ref.y[i]}`)].join('\n')}\n`);
  ok(await mcu(['evaluate', CO2, '--data', path.join(dir, 'test.csv'), '--samples', '20', '-o', F['evalResult']], cwd));
}, 120_000);

describe('mcu plot: band plots of the bundled CO2 example', () => {
  it('SVG: four bands, the mean, standard dropout and the train-end rule; the run in its metadata', async () => {
    const file = out('svg');
    const r = ok(
      await mcu(['plot', CO2, '--input', MONTHS, '--tau', '50', '--samples', '100', '--seed', '2', '--train-end', '1.19', '--standard', '-o', file], cwd),
    );
    expect(r.stdout).toBe('');
    const svg = readSvg(file);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(markItems(svg, 'area')).toEqual([1, 1, 1, 1]);
    expect(markItems(svg, 'line')).toHaveLength(2);
    expect(markItems(svg, 'rule')).toEqual([1]);
    expect(markItems(svg, 'symbol')).toEqual([]); // no --data: no points
    for (const t of [
      '±½σ',
      '±σ',
      '±1½σ',
      '±2σ',
      'predictive mean',
      'standard dropout',
      'training data ends',
      'T = 100 MC dropout samples · seed 2 · mask scope sample · τ = 50 · onnx (cpu)',
    ]) {
      expect(svg).toContain(`>${t}<`);
    }
    const meta = svgMetadata(svg) as Meta;
    expect(meta).toMatchObject({
      output: 'y',
      task: 'regression',
      model: CO2,
      run: { samples: 100, seed: 2, tau: 50, backend: 'onnx' },
      figure: { bands: [0.5, 1, 1.5, 2], trainEnd: 1.19, standard: true, rows: 13 },
    });
  });

  it('SVG on stdout without -o; --data draws the data points; --sigma-scale 4 labels ±2σ … ±8σ', async () => {
    const r = ok(await mcu(['plot', CO2, '--input', MONTHS, '--samples', '30', '--data', F['train']!, '--sigma-scale', '4'], cwd));
    expect(r.stdout.startsWith('<svg')).toBe(true);
    expect(markItems(r.stdout, 'symbol')).toEqual([45]);
    for (const t of ['±2σ', '±4σ', '±6σ', '±8σ', 'data']) expect(r.stdout).toContain(`>${t}<`);
    expect((svgMetadata(r.stdout) as Meta).figure).toMatchObject({ bands: [2, 4, 6, 8], points: 45 });
  });

  it('PNG (-o FILE.png): the signature, a plausible size, the run in an iTXt chunk', async () => {
    const file = out('png');
    ok(await mcu(['plot', CO2, '--input', MONTHS, '--tau', '50', '--samples', '100', '--train-end', '1.19', '-o', file], cwd));
    const png = new Uint8Array(fs.readFileSync(file));
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const { width, height } = pngSize(png);
    expect(width).toBeGreaterThan(1200);
    expect(width).toBeLessThan(2400);
    expect(height).toBeGreaterThan(700);
    expect(height).toBeLessThan(1400);
    expect(png.length).toBeGreaterThan(30_000);
    expect(pngMetadata(png)).toMatchObject({ output: 'y', run: { samples: 100, tau: 50 } });
    // --format png without an extension
    const bare = path.join(dir, 'figure');
    ok(await mcu(['plot', CO2, '--input', MONTHS, '--samples', '10', '--format', 'png', '-o', bare], cwd));
    expect([...fs.readFileSync(bare).subarray(1, 4)].map((b) => String.fromCharCode(b)).join('')).toBe('PNG');
  });

  it('--from a saved result draws the same bands as the model with the same seed', async () => {
    const fromModel = out('svg');
    const fromResult = out('svg');
    ok(await mcu(['plot', CO2, '--input', MONTHS, '--tau', '50', '--samples', '200', '--seed', '5', '-o', fromModel], cwd));
    ok(await mcu(['plot', '--from', F['co2Result']!, '--input', MONTHS, '-o', fromResult], cwd));
    const a = readSvg(fromModel);
    const b = readSvg(fromResult);
    expect(areaPaths(a)).toHaveLength(4);
    expect(areaPaths(b)).toEqual(areaPaths(a));
    expect(b).toContain(`from ${F['co2Result']}`);
    expect(svgMetadata(b)).toMatchObject({ output: 'y', result: F['co2Result'], run: { samples: 200, seed: 5, tau: 50 } });
  });
});

describe('mcu plot: classification (LeNet, twelve rotated "1"s, the paper’s figure 4)', () => {
  it('SVG: the softmax input and output of every pass for the top 3 classes, and the uncertainty per input', async () => {
    const file = out('svg');
    const T = 40;
    ok(await mcu(['plot', F['lenet']!, '--input', F['ones']!, '--task', 'classification', '--samples', String(T), '--seed', '1', '-o', file], cwd));
    const svg = readSvg(file);
    const [logits, probs, markers] = markItems(svg, 'symbol');
    expect([logits, probs, markers]).toEqual([T * 12 * 3, T * 12 * 3, 3 * 12]);
    for (const t of [
      'softmax input, 40 passes',
      'softmax output, 40 passes',
      'predictive entropy',
      'mutual information',
      'variation ratio',
      'class 1',
      '→ 1',
    ]) {
      expect(svg).toContain(`>${t}<`);
    }
    const meta = svgMetadata(svg) as Meta;
    expect(meta).toMatchObject({ output: 'logits', task: 'classification', run: { samples: T, seed: 1 }, figure: { topK: 3, passes: true, rows: 12 } });
    expect((meta.figure['classes'] as number[])[0]).toBe(1); // a "1" first
  });

  it('a network ending in Softmax (task auto): the softmax output of every pass, no logits panel', async () => {
    const file = out('svg');
    ok(await mcu(['plot', F['lenetSoftmax']!, '--input', F['ones']!, '--samples', '20', '-o', file], cwd));
    const svg = readSvg(file);
    expect(markItems(svg, 'symbol')).toEqual([20 * 12 * 3, 3 * 12]);
    expect(svg).toContain('>softmax output, 20 passes<');
    expect(svg).not.toContain('softmax input');
  });

  it('PNG with --top-k 2; --from a saved result draws the mean probabilities', async () => {
    const png = out('png');
    ok(await mcu(['plot', F['lenet']!, '--input', F['ones']!, '--task', 'classification', '--samples', '30', '--top-k', '2', '-o', png], cwd));
    const bytes = new Uint8Array(fs.readFileSync(png));
    expect(pngSize(bytes).width).toBeGreaterThan(1500);
    expect(pngMetadata(bytes)).toMatchObject({ figure: { topK: 2 } });
    const svg = out('svg');
    ok(await mcu(['plot', '--from', F['lenetResult']!, '--input', F['ones']!, '-o', svg], cwd));
    const text = readSvg(svg);
    expect(text).toContain('>MC-averaged probability (T = 50)<');
    expect(markItems(text, 'line')).toHaveLength(3 + 3);
  });
});

describe('mcu plot refuses, with one line, exit 2 and no file', () => {
  const cases: [string, () => string[], RegExp][] = [
    [
      'a classification result with band-plot flags',
      () => ['plot', '--from', F['lenetResult']!, '--input', F['ones']!, '--train-end', '3', '--sigma-scale', '2'],
      /--train-end, --sigma-scale draw on a band plot of a regression output, but output 'logits' is classification/,
    ],
    [
      'a classifier with --standard',
      () => ['plot', F['lenet']!, '--input', F['ones']!, '--task', 'classification', '--standard'],
      /--standard draws on a band plot of a regression output, but output 'logits' is classification/,
    ],
    [
      'a classifier with --data',
      () => ['plot', F['lenet']!, '--input', F['ones']!, '--task', 'classification', '--data', F['train']!],
      /--data draws on a band plot/,
    ],
    [
      'a regression result with --top-k',
      () => ['plot', '--from', F['co2Result']!, '--input', MONTHS, '--top-k', '2'],
      /--top-k applies to a classification plot, but output 'y' is regression \(a band plot\)/,
    ],
    [
      'a regression model with --top-k',
      () => ['plot', CO2, '--input', MONTHS, '--top-k', '2'],
      /--top-k applies to a classification plot, but output 'y' is regression/,
    ],
    [
      '--top-k above the classes',
      () => ['plot', F['lenet']!, '--input', F['ones']!, '--task', 'classification', '--top-k', '11'],
      /--top-k 11: output 'logits' has 10 classes; give 1\.\.10/,
    ],
    [
      'an unknown output (listing the outputs)',
      () => ['plot', F['twoOut']!, '--input', MONTHS, '--output', 'z'],
      /--output z: '.*two-outputs\.onnx' has no output 'z'; its outputs: y, y2/,
    ],
    ['two outputs and no --output', () => ['plot', F['twoOut']!, '--input', MONTHS], /has 2 outputs \(y, y2\): choose the one to plot with --output NAME/],
    [
      'an unknown output of a result',
      () => ['plot', '--from', F['co2Result']!, '--input', MONTHS, '--output', 'logits'],
      /--output logits: '.*co2-result\.json' has no output 'logits'; its outputs: y/,
    ],
    [
      'a 2-feature input for a band plot (--from)',
      () => ['plot', '--from', F['co2Result']!, '--input', F['months2']!],
      /a band plot needs exactly one input feature \(its x axis\), but '.*months-2-features\.csv' has 2 per row \(dims \[13, 2\]\)/,
    ],
    [
      'a 6-feature model for a band plot',
      () => ['plot', F['yacht']!, '--input', F['yachtX']!],
      /a band plot needs exactly one input feature \(its x axis\), but '.*yacht-x\.csv' has 6 per row \(dims \[3, 6\]\)/,
    ],
    [
      'a logits output as a band plot',
      () => ['plot', F['lenet']!, '--input', F['ones']!, '--task', 'regression'],
      /a band plot draws one value per row, but output 'logits' has 10 values per row/,
    ],
    ['logits without --task', () => ['plot', F['lenet']!, '--input', F['ones']!], /output 'logits' has 10 values per row .*--task classification/],
    [
      'an evaluate report as --from',
      () => ['plot', '--from', F['evalResult']!, '--input', MONTHS],
      /evaluate\.json is not a result of 'mcu predict --format json' \(no "meta" object; its keys: .*\)/,
    ],
    ['a model file as --from', () => ['plot', '--from', CO2, '--input', MONTHS], /co2_relu\.preserve\.onnx: invalid JSON/],
    [
      'rows that do not match the result',
      () => ['plot', '--from', F['co2Result']!, '--input', F['ones']!],
      /output 'y' of '.*co2-result\.json' holds 13 rows, but --input '.*rotated-ones\.csv' has 12 rows/,
    ],
    [
      'rows that do not match a classification result',
      () => ['plot', '--from', F['lenetResult']!, '--input', MONTHS],
      /holds 12 rows, but --input '.*co2-months\.csv' has 13 rows/,
    ],
    [
      '--standard with --from',
      () => ['plot', '--from', F['co2Result']!, '--input', MONTHS, '--standard'],
      /--standard draws the deterministic \("standard dropout"\) pass of MODEL, which a saved result \(--from .*\) does not hold/,
    ],
    [
      '--samples with --from',
      () => ['plot', '--from', F['co2Result']!, '--input', MONTHS, '--samples', '5'],
      /--samples 5 applies when plot runs MODEL, but --from .* plots a saved result/,
    ],
    ['MODEL and --from', () => ['plot', CO2, '--from', F['co2Result']!, '--input', MONTHS], /give MODEL or --from RESULT, not both/],
    [
      'neither MODEL nor --from',
      () => ['plot', '--input', MONTHS],
      /plot: missing MODEL \(usage: mcu plot MODEL --input FILE \[options\], or mcu plot --from RESULT\.json --input FILE/,
    ],
    ['no --input', () => ['plot', CO2], /plot: missing --input FILE/],
    ['a PNG on stdout', () => ['plot', CO2, '--input', MONTHS, '--format', 'png'], /a PNG is binary and is not written to stdout: give -o FILE\.png/],
    [
      '--format that contradicts -o',
      () => ['plot', CO2, '--input', MONTHS, '--format', 'svg', '-o', path.join(dir, 'never.png')],
      /--format svg writes SVG, but -o .*never\.png names a \.png file/,
    ],
    [
      'an -o that is neither .svg nor .png',
      () => ['plot', CO2, '--input', MONTHS, '-o', path.join(dir, 'never.jpg')],
      /plot writes SVG or PNG, but -o .*never\.jpg ends in '\.jpg'/,
    ],
    ['--format json', () => ['plot', CO2, '--input', MONTHS, '--format', 'json'], /--format json is not available for 'plot' \(use svg or png\)/],
    [
      '--tau on a classifier',
      () => ['plot', F['lenet']!, '--input', F['ones']!, '--task', 'classification', '--tau', '2'],
      /--tau 2 sets the model precision τ of a regression output .* but output 'logits' is classification: drop it/,
    ],
    [
      'too many points to scatter',
      () => ['plot', F['lenet']!, '--input', F['ones']!, '--task', 'classification', '--samples', '20000'],
      /--samples 20000 × 12 inputs × 3 classes = 720000 points to scatter, over 500000: give fewer --samples, inputs or --top-k/,
    ],
    [
      '--data with 3 columns',
      () => ['plot', CO2, '--input', MONTHS, '--data', F['months3']!],
      /--data .*: the data points of a band plot need one x column and a target column, but the file has 3 columns/,
    ],
  ];
  it.each(cases)(
    '%s',
    async (_name, argv, message) => {
      const args = argv();
      const o = out(args.includes('--format') && args[args.indexOf('--format') + 1] === 'png' ? 'png' : 'svg');
      const withOut = args.includes('-o') || args.includes('--format') ? args : [...args, '-o', o];
      const before = new Set(fs.readdirSync(dir));
      const r = await mcu(withOut, cwd);
      expect(r.code, show(r)).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr, show(r)).toMatch(message);
      expect(r.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1);
      expect(fs.readdirSync(dir).filter((f) => !before.has(f))).toEqual([]); // no figure, no temporary file
    },
    60_000,
  );
});

describe('mcu --help does not load vega, vega-lite or resvg', () => {
  beforeAll(() => requireBuiltCli());
  /** Run the built CLI with a resolve hook that refuses the plotting libraries. */
  const run = (args: string[]): Promise<{ code: number; stderr: string }> => {
    const hook = path.join(dir, 'refuse-plot-libs.mjs');
    fs.writeFileSync(
      hook,
      `import { register } from 'node:module';\n` +
        `register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(
          "export async function resolve(s, c, next) { if (/^(vega|vega-lite|@resvg\\/resvg-js)$/.test(s)) throw new Error('loaded ' + s); return next(s, c); }",
        )}));\n`,
    );
    return new Promise((resolve) => {
      execFile(process.execPath, ['--import', hook, MCU_BIN, ...args], { cwd }, (err, _stdout, stderr) => {
        resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stderr });
      });
    });
  };

  it('help runs with the plotting libraries refused; plot itself needs them (the hook works)', async () => {
    for (const args of [['--help'], ['plot', '--help'], ['help', 'plot']]) {
      const r = await run(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    const p = await run(['plot', CO2, '--input', MONTHS, '--samples', '5']);
    expect(p.code).not.toBe(0);
    expect(p.stderr).toMatch(/loaded vega/);
  }, 60_000);
});
