// Gal's UCI protocol end to end, as a user runs it: the BUILT CLI as a subprocess,
//   mcu evaluate splitNN.onnx --uci DIR --split K --tau τ --samples 10000 --mask-scope point --seed 1
// on all 80 split models of the PyTorch 1.13 port (test/fixtures/files/uci: byte-exact copies,
// provenance in test/fixtures/README.md), against PyTorch's own test log-likelihood and MC RMSE (T = 10,000,
// per-point masks) and its standard-dropout RMSE. Needs `pnpm -r build` first.
//
// How close is close enough. PyTorch's numbers are themselves T = 10,000 Monte Carlo estimates,
// so two correct implementations differ by the noise of two estimates: √2 × the standard error
// of one. On a few splits that noise is larger than the 0.02 nats / 1 %: PyTorch rerun
// with its own dropout and seed 1 (bench/uci-torch-rerun.py) misses those bounds on 9 of the 80
// splits (boston LL by up to 0.053 nats, concrete LL 0.037, yacht RMSE 2.7 %). So:
//  - per split: |mcu − PyTorch| ≤ max(bound, 4·√2·SE), SE = the run's own Monte Carlo standard
//    error, which `evaluate` reports (batch means; calibrated against closed forms and repeats
//    in packages/core/test/estimators.mc-error.test.ts);
//  - except the test LL of a split where some test row's likelihood rests on fewer than 100
//    effective samples (a target far from every prediction: a few samples that came close carry
//    the log-sum-exp). There no estimate from T = 10,000 samples, PyTorch's included, knows how
//    noisy it is — PyTorch's own 10 reruns of concrete split 7 spread with s.d. 0.013 nats where
//    the batch-means SE says 0.004. `evaluate` warns about such rows, which this checks; their
//    LL is held to the dataset mean below, and their RMSE to the per-split bound;
//  - per dataset, the mean over its 20 splits (the number Gal's table reports; noise / √20):
//    within the bound itself, 0.02 nats and 1 %;
//  - no bias: the gaps in units of √2·SE (RMSE: all 80 splits; LL: those with ≥ 100 effective
//    samples) have mean within ±0.5 (4 s.e. of a mean of 60 standard normals is 0.52) and root
//    mean square below 1.5.
// Measured over seeds 1–6 (bench/uci-vs-pytorch.mjs 10000 6): no per-split failure under these
// rules in 480 runs; LL z mean −0.04…0.24, rms 0.88…1.10; RMSE z mean 0.04…0.15, rms 0.93…1.19;
// dataset-mean gaps ≤ 0.0084 nats and 0.31 %. The seed is pinned, so the run is deterministic.
import { beforeAll, describe, expect, it } from 'vitest';
import { UCI_DATASETS, uciFixture, type UciDataset } from './helpers/fixtures.js';
import { requireBuiltCli, runOk, type EvaluateRegressionJson } from './helpers/cli.js';

const T = 10_000;
const LL_BOUND = 0.02;
const RMSE_BOUND = 0.01;
const K_SE = 4;
const MIN_ESS = 100;

interface Gap {
  dataset: UciDataset;
  split: number;
  /** mcu − PyTorch */
  ll: number;
  llSe: number;
  /** (mcu − PyTorch) / PyTorch */
  rmse: number;
  rmseSe: number;
  /** every test row's LL rests on ≥ 100 effective samples */
  steady: boolean;
  strict: boolean;
}

async function pool<T, R>(items: readonly T[], width: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const k = next++;
      out[k] = await fn(items[k]!);
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return out;
}

const gaps: Gap[] = [];

describe('mcu evaluate on Gal’s UCI splits vs PyTorch 1.13 (T = 10,000, per-point masks, seed 1)', () => {
  beforeAll(() => requireBuiltCli());

  it.each(UCI_DATASETS.map((d) => [d] as const))(
    '%s: all 20 splits',
    async (dataset) => {
      const uci = uciFixture(dataset);
      const reports = await pool(uci.splits, 2, async (s) => {
        const r = await runOk(
          [
            'evaluate',
            s.modelPath,
            '--uci',
            uci.dir,
            '--split',
            String(s.split),
            '--tau',
            String(s.tau),
            '--samples',
            String(T),
            '--mask-scope',
            'point',
            '--seed',
            '1',
            '--format',
            'json',
          ],
          { timeoutMs: 120_000 },
        );
        return { ...(JSON.parse(r.stdout) as EvaluateRegressionJson), stderr: r.stderr };
      });
      const mine: Gap[] = [];
      uci.splits.forEach((s, k) => {
        const rep = reports[k]!;
        const where = `${dataset} split ${s.split}`;
        expect(rep.task, where).toBe('regression');
        expect(rep.n, where).toBe(s.n_test);
        expect(rep.samples, where).toBe(T);
        expect(rep.tau, where).toBe(s.tau);
        expect([rep.seed, rep.maskScope], where).toEqual([1, 'point']);
        // Standard dropout (one deterministic pass) has no Monte Carlo noise: float32 agreement.
        expect(Math.abs(rep.rmseStandard / s.torch_rmse_standard - 1), `${where} standard RMSE`).toBeLessThan(1e-5);
        expect(rep.rmseMcError, where).toBeGreaterThan(0);
        expect(rep.logLikelihoodMcError, where).toBeGreaterThan(0);
        const g: Gap = {
          dataset,
          split: s.split,
          ll: rep.logLikelihood - s.torch_test_ll,
          llSe: rep.logLikelihoodMcError,
          rmse: (rep.rmse - s.torch_rmse_mc) / s.torch_rmse_mc,
          rmseSe: rep.rmseMcError / s.torch_rmse_mc,
          steady: rep.logLikelihoodMinEffectiveSamples >= MIN_ESS,
          strict: false,
        };
        g.strict = Math.abs(g.ll) <= LL_BOUND && Math.abs(g.rmse) <= RMSE_BOUND;
        const llTol = Math.max(LL_BOUND, K_SE * Math.SQRT2 * g.llSe);
        const rmseTol = Math.max(RMSE_BOUND, K_SE * Math.SQRT2 * g.rmseSe);
        if (g.steady) {
          expect(Math.abs(g.ll), `${where}: test LL ${rep.logLikelihood} vs PyTorch ${s.torch_test_ll} (SE ${g.llSe})`).toBeLessThanOrEqual(llTol);
          expect(rep.stderr, where).toBe('');
        } else {
          expect(rep.stderr, where).toMatch(
            /^mcu: warning: the test log-likelihood of \d+ of \d+ rows rests on fewer than 100 effective samples \(smallest [^)]+ of T = 10000\).*raise --samples/,
          );
        }
        expect(Math.abs(g.rmse), `${where}: RMSE ${rep.rmse} vs PyTorch ${s.torch_rmse_mc} (SE ${rep.rmseMcError})`).toBeLessThanOrEqual(rmseTol);
        mine.push(g);
      });
      const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
      const llMean = mean(reports.map((r) => r.logLikelihood));
      const rmseMean = mean(reports.map((r) => r.rmse));
      const torchLl = mean(uci.splits.map((s) => s.torch_test_ll));
      const torchRmse = mean(uci.splits.map((s) => s.torch_rmse_mc));
      console.log(
        `[uci] ${dataset}: mean test LL ${llMean.toFixed(4)} (PyTorch ${torchLl.toFixed(4)}), mean RMSE ${rmseMean.toFixed(4)} (PyTorch ${torchRmse.toFixed(4)}); ` +
          `largest split gaps ${Math.max(...mine.map((g) => Math.abs(g.ll))).toFixed(4)} nats, ${(100 * Math.max(...mine.map((g) => Math.abs(g.rmse)))).toFixed(2)} %; ` +
          `${mine.filter((g) => g.strict).length}/20 splits within 0.02 nats and 1 %; ${mine.filter((g) => !g.steady).length} with rows under ${MIN_ESS} effective samples`,
      );
      expect(Math.abs(llMean - torchLl)).toBeLessThanOrEqual(LL_BOUND);
      expect(Math.abs(rmseMean / torchRmse - 1)).toBeLessThanOrEqual(RMSE_BOUND);
      gaps.push(...mine);
    },
    900_000,
  );

  it('the 80 gaps are Monte Carlo noise, not bias', () => {
    expect(gaps).toHaveLength(80);
    for (const [what, z] of [
      ['test LL', gaps.filter((g) => g.steady).map((g) => g.ll / (Math.SQRT2 * g.llSe))],
      ['RMSE', gaps.map((g) => g.rmse / (Math.SQRT2 * g.rmseSe))],
    ] as const) {
      const m = z.reduce((a, b) => a + b, 0) / z.length;
      const rms = Math.sqrt(z.reduce((a, b) => a + b * b, 0) / z.length);
      expect(z.length, what).toBeGreaterThanOrEqual(40);
      console.log(
        `[uci] ${what}: gaps in units of √2·SE over ${z.length} splits: mean ${m.toFixed(3)}, rms ${rms.toFixed(3)}, max |z| ${Math.max(...z.map(Math.abs)).toFixed(2)}`,
      );
      expect(Math.abs(m), what).toBeLessThanOrEqual(0.5);
      expect(rms, what).toBeLessThan(1.5);
    }
  });
});
