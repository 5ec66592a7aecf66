// `mcu evaluate` beyond Gal's UCI folders (those are in test/cli-uci.test.ts): a labelled file
// (--data, --target), τ fitted on validation data (--fit-tau), classification metrics, and the
// table format. The built CLI as a subprocess; needs `pnpm -r build` first.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixturePath, lenetRef, uciFixture } from './helpers/fixtures.js';
import { requireBuiltCli, runOk, tempDir, writeCsv, type EvaluateRegressionJson } from './helpers/cli.js';

interface ClassificationReport {
  task: 'classification';
  n: number;
  samples: number;
  accuracy: number;
  accuracyStandard: number;
  nll: number;
  nllMcError: number;
  logLikelihood: number;
  logLikelihoodMinEffectiveSamples: number;
  brier: number;
  brierMcError: number;
  ece: number;
}

const json = <T>(text: string): T => JSON.parse(text) as T;

describe('mcu evaluate --data (regression, UCI yacht split 0 as a labelled CSV)', () => {
  beforeAll(() => requireBuiltCli());
  const uci = uciFixture('yacht');
  const s = uci.splits[0]!;
  const dir = tempDir();
  const columns = ['lc', 'pc', 'lpr', 'bdr', 'lbr', 'froude', 'resistance'];
  const table = (rows: number[]): string => {
    const file = path.join(dir, `rows-${rows.length}.csv`);
    const lines = [columns.join(','), ...rows.map((r) => [...uci.featureIndex, uci.targetIndex].map((c) => String(uci.data[r]![c])).join(','))];
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  };
  const test = table(s.testIndex);
  const common = ['--samples', '2000', '--seed', '4', '--mask-scope', 'point', '--format', 'json'];

  it('a CSV of the same rows (target named by header) gives exactly the --uci numbers', async () => {
    const viaUci = json<EvaluateRegressionJson>(
      (await runOk(['evaluate', s.modelPath, '--uci', uci.dir, '--split', '0', '--tau', String(s.tau), ...common])).stdout,
    );
    const viaCsv = json<EvaluateRegressionJson>(
      (await runOk(['evaluate', s.modelPath, '--data', test, '--target', 'resistance', '--tau', String(s.tau), ...common])).stdout,
    );
    expect(viaCsv).toEqual(viaUci);
    expect(viaCsv.n).toBe(s.n_test);
    // Without --target the last column is the target.
    const lastColumn = json<EvaluateRegressionJson>((await runOk(['evaluate', s.modelPath, '--data', test, '--tau', String(s.tau), ...common])).stdout);
    expect(lastColumn).toEqual(viaUci);
  }, 120_000);

  it('--fit-tau VALFILE picks the τ that maximises the validation log-likelihood', async () => {
    // Validation: the first 60 training rows (Gal held out part of each training split).
    const val = table(s.trainIndex.slice(0, 60));
    const fitted = json<EvaluateRegressionJson>((await runOk(['evaluate', s.modelPath, '--data', test, '--fit-tau', val, ...common])).stdout);
    expect(fitted.tauFitted).toBe(true);
    expect(fitted.tau).toBeGreaterThan(0);
    // The same seed draws the same masks for the validation rows, so the validation LL as a
    // function of τ is the one the fit maximised: it must not rise 20 % either side of τ̂.
    const valLl = async (tau: number): Promise<number> =>
      json<EvaluateRegressionJson>((await runOk(['evaluate', s.modelPath, '--data', val, '--tau', String(tau), ...common])).stdout).logLikelihood;
    const [at, below, above] = await Promise.all([valLl(fitted.tau), valLl(fitted.tau * 0.8), valLl(fitted.tau * 1.2)]);
    expect(at).toBeGreaterThanOrEqual(below);
    expect(at).toBeGreaterThanOrEqual(above);
    // and the test numbers are those of a plain run at that τ
    const plain = json<EvaluateRegressionJson>((await runOk(['evaluate', s.modelPath, '--data', test, '--tau', String(fitted.tau), ...common])).stdout);
    expect({ ...plain, tauFitted: true }).toEqual(fitted);
  }, 120_000);

  it('warns on stderr when a row’s log-likelihood rests on few samples; --quiet silences it, stdout is the same', async () => {
    // Yacht split 11 has a test point far from every prediction: its likelihood rests on 50
    // effective samples of T = 10,000 and on 2.0 of T = 1000 (seed 1), under min(100, T/10).
    const s11 = uci.splits[11]!;
    const args = [
      'evaluate',
      s11.modelPath,
      '--uci',
      uci.dir,
      '--split',
      '11',
      '--tau',
      String(s11.tau),
      '--samples',
      '1000',
      '--mask-scope',
      'point',
      '--format',
      'json',
    ];
    const loud = await runOk(args);
    expect(loud.stderr).toMatch(
      /^mcu: warning: the test log-likelihood of \d+ of 31 rows rests on fewer than 100 effective samples \(smallest [0-9.]+ of T = 1000\).*raise --samples to steady it\n$/,
    );
    expect(json<EvaluateRegressionJson>(loud.stdout).logLikelihoodMinEffectiveSamples).toBeLessThan(100);
    const quiet = await runOk([...args, '--quiet']);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout).toBe(loud.stdout);
  }, 60_000);

  it('without τ: RMSE only, LL null, and a warning that says how to give τ', async () => {
    const r = await runOk(['evaluate', s.modelPath, '--uci', uci.dir, '--split', '0', '--samples', '200', '--format', 'json']);
    const rep = json<EvaluateRegressionJson>(r.stdout);
    expect(rep.rmse).toBeGreaterThan(0);
    expect([rep.tau, rep.logLikelihood, rep.logLikelihoodMcError, rep.logLikelihoodMinEffectiveSamples]).toEqual([null, null, null, null]);
    expect(r.stderr).toMatch(/^mcu: warning: no model precision τ, so no test log-likelihood: give --tau X, .*--fit-tau VALFILE\n$/);
  }, 60_000);

  it('--format table: one aligned "key  value" line per field, integers as integers', async () => {
    const r = await runOk(['evaluate', s.modelPath, '--uci', uci.dir, '--split', '0', '--tau', String(s.tau), '--samples', '500', '--format', 'table']);
    const lines = r.stdout.trimEnd().split('\n');
    const keys = lines.map((l) => l.split(/\s+/)[0]!);
    expect(keys).toEqual(
      expect.arrayContaining(['task', 'n', 'samples', 'rmse', 'rmseMcError', 'logLikelihood', 'logLikelihoodMcError', 'logLikelihoodMinEffectiveSamples']),
    );
    const valueColumn = lines[0]!.search(/\S+$/);
    for (const l of lines) expect(l.search(/\S+$/), l).toBe(valueColumn);
    expect(lines).toContain(`n${' '.repeat(valueColumn - 1)}${s.n_test}`);
    expect(lines).toContain(`samples${' '.repeat(valueColumn - 7)}500`);
  }, 60_000);
});

describe('mcu evaluate --data (classification, LeNet on 200 MNIST test digits)', () => {
  beforeAll(() => requireBuiltCli());

  it('reports MC accuracy, NLL, Brier and ECE that agree with predict’s probabilities', async () => {
    const ref = lenetRef('1.13');
    const dir = tempDir();
    const rows = ref.test_images_u8.map((img, i) => [...img.map((b) => b / 255), ref.test_labels[i]!]);
    const data = writeCsv(path.join(dir, 'digits.csv'), rows);
    const images = writeCsv(
      path.join(dir, 'images.csv'),
      rows.map((r) => r.slice(0, 784)),
    );
    const model = fixturePath('pytorch-1.13/lenet.preserve.onnx');
    const opts = ['--samples', '100', '--seed', '3', '--mask-scope', 'point', '--task', 'classification', '--format', 'json'];
    const rep = json<ClassificationReport>((await runOk(['evaluate', model, '--data', data, ...opts], { timeoutMs: 120_000 })).stdout);
    expect(rep.task).toBe('classification');
    expect([rep.n, rep.samples]).toEqual([200, 100]);
    // PyTorch: 97.95 % on the 10,000 test digits, standard and MC (T = 100); these 200 are a
    // subset, so ± a few digits.
    expect(rep.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(rep.accuracyStandard).toBeGreaterThanOrEqual(0.95);

    // The same seed, rows and scope draw the same masks in predict: recompute every metric
    // from its MC-averaged probabilities, independently of the estimator.
    const pred = json<{ outputs: Record<string, { probs: number[][] }> }>(
      (await runOk(['predict', model, '--input', images, ...opts], { timeoutMs: 120_000 })).stdout,
    );
    const probs = Object.values(pred.outputs)[0]!.probs;
    const labels = ref.test_labels;
    let hits = 0;
    let nll = 0;
    let brier = 0;
    const bins = Array.from({ length: 15 }, () => ({ n: 0, conf: 0, hits: 0 }));
    probs.forEach((p, i) => {
      const top = p.indexOf(Math.max(...p));
      const ok = top === labels[i];
      hits += ok ? 1 : 0;
      nll -= Math.log(p[labels[i]!]!);
      brier += p.reduce((s, v, c) => s + (v - (c === labels[i] ? 1 : 0)) ** 2, 0);
      const conf = p[top]!;
      const b = bins[Math.min(14, Math.max(0, Math.ceil(conf * 15) - 1))]!;
      b.n++;
      b.conf += conf;
      b.hits += ok ? 1 : 0;
    });
    const ece = bins.reduce((s, b) => (b.n === 0 ? s : s + (b.n / 200) * Math.abs(b.hits / b.n - b.conf / b.n)), 0);
    expect(rep.accuracy).toBe(hits / 200);
    // predict reduces in the graph (float32 softmax and sums over each call's samples: |Δp| ≲ 1e-7
    // against evaluate's float64 JS pass); the estimator's NLL is a log-sum-exp of log-softmax
    // values, the same quantity by another route: 1e-6 (measured 7e-8); Brier and ECE likewise.
    expect(Math.abs(rep.nll - nll / 200)).toBeLessThan(1e-6);
    expect(rep.logLikelihood).toBe(-rep.nll);
    expect(Math.abs(rep.brier - brier / 200)).toBeLessThan(1e-6);
    expect(Math.abs(rep.ece - ece)).toBeLessThan(1e-6);

    // Monte Carlo errors: another seed lands within 4·√2 SE (one comparison each; ≈ 6e-5
    // two-sided for a normal estimate), and the effective sample sizes are in [1, T].
    expect(rep.nllMcError).toBeGreaterThan(0);
    expect(rep.brierMcError).toBeGreaterThan(0);
    expect(rep.logLikelihoodMinEffectiveSamples).toBeGreaterThanOrEqual(1);
    expect(rep.logLikelihoodMinEffectiveSamples).toBeLessThanOrEqual(100);
    const other = json<ClassificationReport>(
      (await runOk(['evaluate', model, '--data', data, ...opts.map((o) => (o === '3' ? '4' : o))], { timeoutMs: 120_000 })).stdout,
    );
    expect(Math.abs(other.nll - rep.nll)).toBeLessThanOrEqual(4 * Math.SQRT2 * rep.nllMcError);
    expect(Math.abs(other.brier - rep.brier)).toBeLessThanOrEqual(4 * Math.SQRT2 * rep.brierMcError);
  }, 240_000);
});
