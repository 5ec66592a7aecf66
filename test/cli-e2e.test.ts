// End-to-end: the BUILT `mcu` CLI run as a subprocess, as a user runs it
// (`node packages/cli/bin/mcu.js …`), on the PyTorch fixtures. Needs `pnpm -r build` first.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { co2Ref, fixturePath, lenetRef } from './helpers/fixtures.js';
import { describeRun, parseCsv, REPO_ROOT, requireBuiltCli, runMcu, runOk, tempDir, writeCsv, writeJson } from './helpers/cli.js';

interface SiteMetaJson {
  name: string;
  kind: string;
  rate: number;
}
interface RegressionJson {
  task: 'regression';
  mean: number[][];
  variance: number[][];
  std: number[][];
}
interface ClassificationJson {
  task: 'classification';
  probs: number[][];
  predicted: number[];
  entropy: number[];
  mutualInformation: number[];
  variationRatio: number[];
}
interface PredictJson {
  meta: {
    backend: string;
    executionProvider: string;
    seed: number;
    samples: number;
    sites: SiteMetaJson[];
    tau: number | null;
    [k: string]: unknown;
  };
  outputs: Record<string, RegressionJson | ClassificationJson>;
}
interface InspectJson {
  inputs: { name: string; dtype: string; dims: (number | string)[] }[];
  outputs: { name: string; dtype: string; dims: (number | string)[] }[];
  sites: { name: string; op: string; rate: number; kind: string; shape: number[] }[];
  warnings: string[];
  [k: string]: unknown;
}

const json = <T>(text: string): T => JSON.parse(text) as T;
/** The only output of a single-output result. */
function only<T>(outputs: Record<string, T>): [string, T] {
  const entries = Object.entries(outputs);
  expect(entries).toHaveLength(1);
  return entries[0]!;
}

const CO2_SMALL_PRESERVE = 'pytorch-1.13-small/co2_relu.preserve.onnx';
const CO2_TRAIN = 'pytorch-1.13/co2_relu.train.onnx';
const CO2_PRESERVE = 'pytorch-1.13/co2_relu.preserve.onnx';
const CO2_EVAL = 'pytorch-1.13/co2_relu.eval.onnx';
const CO2_SMALL_TRAIN = 'pytorch-1.13-small/co2_relu.train.onnx';
const CO2_SMALL_EVAL = 'pytorch-1.13-small/co2_relu.eval.onnx';
const LENET_PRESERVE = 'pytorch-1.13/lenet.preserve.onnx';
const LENET_EVAL = 'pytorch-1.13/lenet.eval.onnx';

let dir: string;
beforeAll(() => {
  requireBuiltCli();
  dir = tempDir('mcu-e2e-');
});

describe('mcu predict (regression: co2_relu, PyTorch 1.13, width 128)', () => {
  const ref = co2Ref('1.13-small', 'co2_relu');
  // Inside the training period (first 60 %) and beyond it (extrapolation).
  const rows = [0, 100, 250, 400, 444, 520, 640, 740];
  const xs = rows.map((i) => ref.x[i]!);
  const T = 300;
  const tau = 50;
  let csvPath: string;
  let result: PredictJson;
  let outName: string;
  let out: RegressionJson;

  beforeAll(async () => {
    csvPath = writeCsv(
      path.join(dir, 'co2-x.csv'),
      xs.map((x) => [x]),
    );
    const r = await runOk([
      'predict',
      fixturePath(CO2_SMALL_PRESERVE),
      '--input',
      csvPath,
      '--samples',
      String(T),
      '--seed',
      '7',
      '--tau',
      String(tau),
      '--format',
      'json',
    ]);
    expect(r.stderr).toBe('');
    result = json<PredictJson>(r.stdout);
    const [name, o] = only(result.outputs);
    outName = name;
    expect(o.task).toBe('regression');
    out = o as RegressionJson;
  });

  it('json: meta records backend, execution provider, seed, samples, the 4 sites (p = 0.1) and τ', () => {
    const m = result.meta;
    expect(m.backend).toBe('onnx');
    expect(m.executionProvider).toBe('cpu');
    expect(m.seed).toBe(7);
    expect(m.samples).toBe(T);
    expect(m.tau).toBe(tau);
    expect(m.sites).toHaveLength(4);
    for (const s of m.sites) {
      expect(Object.keys(s).sort()).toEqual(['kind', 'name', 'rate']);
      expect(typeof s.name).toBe('string');
      expect(s.name.length).toBeGreaterThan(0);
      expect(s.kind).toMatch(/bernoulli/i);
      expect(s.rate).toBeCloseTo(0.1, 6);
    }
    expect(new Set(m.sites.map((s) => s.name)).size).toBe(4);
  });

  it('json: mean/variance/std are [N][1]; variance = std²; variance ≥ 1/τ', () => {
    for (const k of ['mean', 'variance', 'std'] as const) {
      expect(out[k]).toHaveLength(xs.length);
      for (const row of out[k]) {
        expect(row).toHaveLength(1);
        expect(Number.isFinite(row[0])).toBe(true);
      }
    }
    for (let i = 0; i < xs.length; i++) {
      const v = out.variance[i]![0]!;
      const s = out.std[i]![0]!;
      expect(Math.abs(v - s * s)).toBeLessThanOrEqual(1e-12 * Math.max(1, v));
      expect(v).toBeGreaterThanOrEqual(1 / tau);
    }
  });

  it('json: agrees with PyTorch’s own MC dropout (T = 1000, per-point masks) within Monte Carlo error', () => {
    // mean: |ours − torch| within 5 standard errors of the difference of two MC means.
    for (let k = 0; k < rows.length; k++) {
      const i = rows[k]!;
      const sd = ref.mc_std[i]!;
      const se = Math.sqrt((sd * sd) / T + (sd * sd) / ref.mc_T);
      expect(Math.abs(out.mean[k]![0]! - ref.mc_mean[i]!)).toBeLessThanOrEqual(5 * se + 1e-6);
      // std without τ (variance − 1/τ) within 25 % of PyTorch's sample std
      const ours = Math.sqrt(Math.max(0, out.variance[k]![0]! - 1 / tau));
      expect(Math.abs(ours - sd)).toBeLessThanOrEqual(0.25 * sd + 1e-6);
    }
  });

  it('csv: header row,<out>_mean_0,<out>_std_0 and the same numbers as json (same seed)', async () => {
    const r = await runOk([
      'predict',
      fixturePath(CO2_SMALL_PRESERVE),
      '--input',
      csvPath,
      '--samples',
      String(T),
      '--seed',
      '7',
      '--tau',
      String(tau),
      '--format',
      'csv',
    ]);
    expect(r.stderr).toBe('');
    const { header, rows: lines } = parseCsv(r.stdout);
    expect(header).toEqual(['row', `${outName}_mean_0`, `${outName}_std_0`]);
    expect(lines).toHaveLength(xs.length);
    lines.forEach((line, i) => {
      expect(line).toEqual([i, out.mean[i]![0], out.std[i]![0]]);
    });
  });

  it('table: a summary line, a header and one line per row', async () => {
    const r = await runOk([
      'predict',
      fixturePath(CO2_SMALL_PRESERVE),
      '--input',
      csvPath,
      '--samples',
      String(T),
      '--seed',
      '7',
      '--tau',
      String(tau),
      '--format',
      'table',
    ]);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^onnx \\(cpu\\), ${T} samples, seed 7, 4 sites \\(p = 0\\.1, 0\\.1, 0\\.1, 0\\.1\\), τ = 50`));
    const at = lines.findIndex((l) => l.startsWith(`output '${outName}'`));
    expect(at).toBeGreaterThan(0);
    expect(lines[at]).toContain(`${xs.length} rows`);
    expect(lines[at + 1]!.trim().split(/\s+/)).toEqual(['row', 'mean', 'std']);
    const body = lines.slice(at + 2);
    expect(body).toHaveLength(xs.length);
    body.forEach((l, i) => {
      const cells = l.trim().split(/\s+/);
      expect(cells).toHaveLength(3);
      expect(Number(cells[0])).toBe(i);
      expect(Number(cells[1])).toBeCloseTo(out.mean[i]![0]!, 2);
      expect(Number(cells[2])).toBeCloseTo(out.std[i]![0]!, 2);
    });
  });

  it('without --tau: meta.tau is null and the variance is the MC variance alone', async () => {
    const r = await runOk(['predict', fixturePath(CO2_SMALL_PRESERVE), '--input', csvPath, '--samples', String(T), '--seed', '7']);
    const res = json<PredictJson>(r.stdout);
    expect(res.meta.tau).toBeNull();
    const o = only(res.outputs)[1] as RegressionJson;
    expect(o.mean).toEqual(out.mean); // τ does not change the samples
    o.variance.forEach((v, i) => expect(v[0]!).toBeCloseTo(out.variance[i]![0]! - 1 / tau, 10));
  });
});

describe('mcu predict (classification: LeNet, PyTorch 1.13)', () => {
  it('12 rotated "1"s, T = 1000: predicted classes and uncertainty match PyTorch', async () => {
    const ref = lenetRef('1.13').rotated;
    const csv = writeCsv(path.join(dir, 'rotated-ones.csv'), ref.images);
    const r = await runOk(
      [
        'predict',
        fixturePath(LENET_PRESERVE),
        '--input',
        csv,
        '--samples',
        String(ref.T),
        '--seed',
        '1',
        '--mask-scope',
        'point',
        '--task',
        'classification',
        '--format',
        'json',
      ],
      { timeoutMs: 120_000 },
    );
    const res = json<PredictJson>(r.stdout);
    expect(res.meta.samples).toBe(1000);
    expect(res.meta.sites).toHaveLength(1);
    expect(res.meta.sites[0]!.rate).toBeCloseTo(0.5, 6);
    const [, o] = only(res.outputs);
    expect(o.task).toBe('classification');
    const c = o as ClassificationJson;
    expect(c.predicted).toEqual([1, 1, 1, 1, 1, 1, 1, 2, 7, 7, 7, 5]);
    expect(c.predicted).toEqual(ref.predicted);
    expect(c.probs).toHaveLength(12);
    for (const p of c.probs) {
      expect(p).toHaveLength(10);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    }
    const gap = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
    const gaps = {
      entropy: gap(c.entropy, ref.entropy),
      mutualInformation: gap(c.mutualInformation, ref.mutual_information),
      variationRatio: gap(c.variationRatio, ref.variation_ratio),
    };
    console.log(`[e2e] LeNet rotated 1s, T = 1000, max |mcu − PyTorch|: ${JSON.stringify(gaps)}`);
    expect(gaps.entropy).toBeLessThanOrEqual(0.03);
    expect(gaps.mutualInformation).toBeLessThanOrEqual(0.03);
    expect(gaps.variationRatio).toBeLessThanOrEqual(0.03);
  }, 120_000);
});

describe('mcu predict --masks (replay PyTorch’s exact masks)', () => {
  const replay = async (model: string, set: '1.13' | '1.13-small', k: number, tag: string) => {
    const ref = co2Ref(set, 'co2_relu');
    const e = ref.exact[k]!;
    const x = writeCsv(
      path.join(dir, `${tag}-x.csv`),
      e.rows.map((i) => [ref.x[i]!]),
    );
    const masks = writeJson(path.join(dir, `${tag}-masks.json`), e.masks);
    const r = await runOk(['predict', model, '--input', x, '--masks', masks, '--format', 'json']);
    const res = json<PredictJson>(r.stdout);
    const o = only(res.outputs)[1] as RegressionJson;
    return { res, o, e };
  };

  it('co2_relu (width 512) train export, exact[0]: the masked output within 1e-5 of max|y|', async () => {
    const { res, o, e } = await replay(fixturePath(CO2_TRAIN), '1.13', 0, 'replay512');
    expect(res.meta.samples).toBe(1);
    expect(o.mean).toHaveLength(e.rows.length);
    const scale = Math.max(...e.y.map(Math.abs));
    const err = Math.max(...e.y.map((y, i) => Math.abs(o.mean[i]![0]! - y)));
    console.log(
      `[e2e] --masks replay co2_relu 1.13 exact[0]: max |mcu − PyTorch| = ${err.toExponential(3)} (max|y| = ${scale.toFixed(4)}, relative ${(err / scale).toExponential(3)})`,
    );
    expect(err).toBeLessThanOrEqual(1e-5 * scale);
    // one sample: no spread
    for (const v of o.variance) expect(v[0]).toBe(0);
  });
});

describe('mcu inspect', () => {
  const inspectJson = async (rel: string, extra: string[] = []) =>
    json<InspectJson>((await runOk(['inspect', fixturePath(rel), '--format', 'json', ...extra])).stdout);

  it('--format json has inputs, outputs, sites, warnings', async () => {
    const r = await inspectJson(CO2_PRESERVE);
    expect(Object.keys(r)).toEqual(expect.arrayContaining(['inputs', 'outputs', 'sites', 'warnings']));
    expect(r.inputs).toHaveLength(1);
    expect(r.outputs).toHaveLength(1);
    expect(Array.isArray(r.warnings)).toBe(true);
  });

  it.each([
    [CO2_TRAIN, 4, 0.1],
    [CO2_PRESERVE, 4, 0.1],
    [CO2_SMALL_TRAIN, 4, 0.1],
    ['pytorch-1.13/co2_relu.opset6.onnx', 4, 0.1],
    ['pytorch-1.13/co2_relu.opset7.onnx', 4, 0.1],
    ['pytorch-1.13/co2_relu.opset10.onnx', 4, 0.1],
    [LENET_PRESERVE, 1, 0.5],
    ['pytorch-1.13/lenet.train.onnx', 1, 0.5],
    ['pytorch-2.11/lenet.preserve.onnx', 1, 0.5],
  ])('%s → %i site(s) with p = %f', async (rel, n, p) => {
    const r = await inspectJson(rel);
    expect(r.sites).toHaveLength(n);
    for (const s of r.sites) expect(s.rate).toBeCloseTo(p, 6);
    expect(r.warnings).toEqual([]);
  });

  it.each([CO2_EVAL, LENET_EVAL, 'pytorch-2.11/lenet.dynamo-eval.onnx'])('%s (eval export) → 0 sites and a warning that says how to fix it', async (rel) => {
    const r = await inspectJson(rel);
    expect(r.sites).toHaveLength(0);
    expect(r.warnings.length).toBeGreaterThan(0);
    expect(r.warnings.join(' ')).toMatch(/PRESERVE|--insert-dropout/);
    // the table says it too
    const t = await runOk(['inspect', fixturePath(rel), '--format', 'table']);
    expect(t.stdout).toMatch(/stochastic sites \(0/);
    expect(t.stdout).toMatch(/warning: .*(PRESERVE|--insert-dropout)/);
  });

  it('masked export (masks already graph inputs) → a warning naming each mask input', async () => {
    const r = await inspectJson('pytorch-1.13/co2_relu.masked.onnx');
    const text = r.warnings.join(' ');
    for (const m of ['mask1', 'mask2', 'mask3', 'mask4']) expect(text).toContain(`'${m}'`);
  });

  it('table: lists the sites in graph order', async () => {
    const t = await runOk(['inspect', fixturePath(CO2_TRAIN), '--format', 'table']);
    expect(t.stdout).toMatch(/stochastic sites \(4, graph order; layout broadcast\)/);
    expect(t.stdout.match(/p=0\.1/g)).toHaveLength(4);
  });
});

describe('mcu convert', () => {
  it('train export → out.onnx: same sites; the same masks and seed give identical outputs', async () => {
    const src = fixturePath(CO2_SMALL_TRAIN);
    const out = path.join(dir, 'co2-small.mc.onnx');
    const c = await runOk(['convert', src, '-o', out]);
    expect(c.stdout).toBe('');
    expect(c.stderr).toMatch(/wrote .*4 stochastic site/);
    expect(fs.existsSync(out)).toBe(true);

    const a = json<InspectJson>((await runOk(['inspect', src, '--format', 'json'])).stdout);
    const b = json<InspectJson>((await runOk(['inspect', out, '--format', 'json'])).stdout);
    expect(b.sites.map((s) => [s.name, s.rate])).toEqual(a.sites.map((s) => [s.name, s.rate]));
    expect(b.sites).toHaveLength(4);

    // replayed masks
    const ref = co2Ref('1.13-small', 'co2_relu');
    const e = ref.exact[1]!;
    const x = writeCsv(
      path.join(dir, 'convert-x.csv'),
      e.rows.map((i) => [ref.x[i]!]),
    );
    const masks = writeJson(path.join(dir, 'convert-masks.json'), e.masks);
    const p1 = json<PredictJson>((await runOk(['predict', src, '--input', x, '--masks', masks])).stdout);
    const p2 = json<PredictJson>((await runOk(['predict', out, '--input', x, '--masks', masks])).stdout);
    expect(p2.outputs).toEqual(p1.outputs);
    const scale = Math.max(...e.y.map(Math.abs));
    const m = (only(p1.outputs)[1] as RegressionJson).mean;
    expect(Math.max(...e.y.map((y, i) => Math.abs(m[i]![0]! - y)))).toBeLessThanOrEqual(1e-5 * scale);

    // sampled masks, same seed
    const s1 = json<PredictJson>((await runOk(['predict', src, '--input', x, '--samples', '50', '--seed', '11', '--tau', '50'])).stdout);
    const s2 = json<PredictJson>((await runOk(['predict', out, '--input', x, '--samples', '50', '--seed', '11', '--tau', '50'])).stdout);
    expect(s2.outputs).toEqual(s1.outputs);
    expect(s2.meta.sites).toEqual(s1.meta.sites);
  });

  it('eval export --insert-dropout 0.1 --before Gemm → 4 sites', async () => {
    const out = path.join(dir, 'co2-eval.mc.onnx');
    const c = await runOk(['convert', fixturePath(CO2_SMALL_EVAL), '-o', out, '--insert-dropout', '0.1', '--before', 'Gemm']);
    expect(c.stderr).toMatch(/wrote .*4 stochastic site/);
    const r = json<InspectJson>((await runOk(['inspect', out, '--format', 'json'])).stdout);
    expect(r.sites).toHaveLength(4);
    for (const s of r.sites) expect(s.rate).toBeCloseTo(0.1, 6);
    // and inspect applies the same insertion itself
    const direct = json<InspectJson>(
      (await runOk(['inspect', fixturePath(CO2_SMALL_EVAL), '--insert-dropout', '0.1', '--before', 'Gemm', '--format', 'json'])).stdout,
    );
    expect(direct.sites).toHaveLength(4);
  });
});

// `mcu evaluate` on Gal's UCI splits: test/cli-uci.test.ts (all 80 split models against PyTorch).

describe('mcu backends', () => {
  it('lists onnx, onnx-web, tfjs with availability and execution providers; cpu is available', async () => {
    const r = await runOk(['backends', '--format', 'json'], { timeoutMs: 60_000 });
    const { backends } = json<{
      backends: { name: string; available: boolean; priority: number; executionProviders: { name: string; available: boolean; reason?: string }[] }[];
    }>(r.stdout);
    expect(backends.map((b) => b.name)).toEqual(expect.arrayContaining(['onnx', 'onnx-web', 'tfjs']));
    for (const b of backends) {
      expect(typeof b.available).toBe('boolean');
      expect(Array.isArray(b.executionProviders)).toBe(true);
      for (const ep of b.executionProviders) {
        expect(typeof ep.available).toBe('boolean');
        if (!ep.available) expect(ep.reason).toBeTruthy();
      }
    }
    const onnx = backends.find((b) => b.name === 'onnx')!;
    expect(onnx.available).toBe(true);
    expect(onnx.executionProviders.map((e) => e.name)).toEqual(expect.arrayContaining(['cpu', 'cuda']));
    expect(onnx.executionProviders.find((e) => e.name === 'cpu')!.available).toBe(true);
    const tfjs = backends.find((b) => b.name === 'tfjs')!;
    expect([onnx, tfjs].map((b) => (b as unknown as { formats: string[] }).formats)).toEqual([['onnx'], ['tfjs-layers', 'onnx']]);
    expect(tfjs.executionProviders.some((e) => e.name === 'cpu' && e.available)).toBe(true);

    expect(backends.every((b) => (b as unknown as { probed: boolean }).probed === false)).toBe(true);

    const t = await runOk(['backends']); // default: the table, for people; the installed files only
    for (const name of ['onnx', 'onnx-web', 'tfjs'])
      expect(t.stdout).toMatch(new RegExp(`^${name} \\(priority -?\\d+; reads .+\\): (installed|unavailable)`, 'm'));
    expect(t.stdout).toMatch(/^tfjs \(priority 1; reads TensorFlow\.js \/ Keras layers models \(model\.json\), ONNX models \(\.onnx\)\)/m);
    expect(t.stdout).toMatch(/^ {2}cpu: installed/m);
    expect(t.stdout).toMatch(/`mcu backends --probe` starts each one/);
  }, 60_000);

  it('--probe starts each runtime and provider: cpu of onnx and tfjs, onnx-web wasm run here', async () => {
    const r = await runOk(['backends', '--format', 'json', '--probe'], { timeoutMs: 60_000 });
    const { backends } = json<{
      backends: { name: string; available: boolean; probed: boolean; executionProviders: { name: string; available: boolean; reason?: string }[] }[];
    }>(r.stdout);
    const ep = (b: string, e: string) => backends.find((x) => x.name === b)!.executionProviders.find((x) => x.name === e)!;
    expect(backends.map((b) => [b.name, b.probed])).toEqual([
      ['onnx', true],
      ['onnx-web', true],
      ['tfjs', true],
    ]);
    expect([ep('onnx', 'cpu').available, ep('onnx-web', 'wasm').available, ep('tfjs', 'cpu').available, ep('tfjs', 'wasm').available]).toEqual([
      true,
      true,
      true,
      true,
    ]);
    // without the CUDA binaries, probing agrees with the files: unavailable, saying why
    if (!ep('onnx', 'cuda').available) expect(ep('onnx', 'cuda').reason).toMatch(/binaries are not installed/);
    const t = await runOk(['backends', '--probe']);
    expect(t.stdout).toMatch(/^ {2}cpu: available/m);
    expect(t.stdout).not.toMatch(/--probe` starts/);
  }, 90_000);
});

describe('the bin link', () => {
  it('./node_modules/.bin/mcu --version works from the repo root', async () => {
    const bin = path.join(REPO_ROOT, 'node_modules', '.bin', 'mcu');
    expect(fs.existsSync(bin)).toBe(true);
    const r = await runMcu(['--version'], { cwd: REPO_ROOT, executable: bin });
    expect(r.status, describeRun(r)).toBe(0);
    expect(r.stdout).toMatch(/^mcu \d+\.\d+\.\d+\n$/);
    expect(r.stderr).toBe('');
  });

  it('--help goes to stdout and exits 0', async () => {
    const r = await runOk(['--help']);
    expect(r.stdout).toMatch(/^mcu — Monte Carlo dropout/);
    expect(r.stdout).toMatch(/predict/);
    expect(r.stderr).toBe('');
  });
});
