#!/usr/bin/env node
// Gal's UCI protocol against the PyTorch port in ../shared/fixtures/uci (not run by CI; the
// same 80 split models are tested in test/cli-uci.test.ts from the repo's copy).
// For every split and seeds 1..K: `mcu evaluate splitNN.onnx --uci DIR --split K --tau <PyTorch's τ>
// --samples T --mask-scope point --seed S`; prints, per dataset, the gaps to PyTorch's test LL and
// MC RMSE, how many splits are within 0.02 nats and 1 %, the gaps in units of √2·SE (SE = the
// Monte Carlo standard error `evaluate` reports; PyTorch's number is one such estimate too, at
// T = 10,000: √2 is right only at that T), and
// with K > 1 the spread of the K estimates against the reported SE (calibration on real models).
// Run after `pnpm -r build`:  node bench/uci-vs-pytorch.mjs [T] [K]
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const base = join(root, '..', 'shared', 'fixtures', 'uci');
const T = Number(process.argv[2] ?? 10000);
const K = Number(process.argv[3] ?? 1);
if (!existsSync(base)) {
  console.log(`${base} is absent: this benchmark needs the shared fixtures`);
  process.exit(0);
}

async function evaluate(ds, sp, seed) {
  const { stdout } = await run(process.execPath, [
    join(root, 'packages/cli/bin/mcu.js'),
    'evaluate',
    join(base, ds, sp.onnx),
    '--uci',
    join(base, ds),
    '--split',
    String(sp.split),
    '--tau',
    String(sp.tau),
    '--samples',
    String(T),
    '--mask-scope',
    'point',
    '--seed',
    String(seed),
    '--quiet',
  ]);
  return JSON.parse(stdout);
}
async function pool(items, width, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const k = next++;
        out[k] = await fn(items[k]);
      }
    }),
  );
  return out;
}
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs) => Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / (xs.length - 1));
const rms = (xs) => Math.sqrt(mean(xs.map((x) => x * x)));

console.log(`T = ${T}, per-point masks, seeds 1..${K}`);
for (const ds of ['bostonHousing', 'concrete', 'energy', 'yacht']) {
  if (!existsSync(join(base, ds))) continue;
  const ref = JSON.parse(readFileSync(join(base, ds, 'reference.json'), 'utf8'));
  const jobs = ref.splits.flatMap((sp) => Array.from({ length: K }, (_, k) => ({ sp, seed: k + 1 })));
  const reps = await pool(jobs, 2, (j) => evaluate(ds, j.sp, j.seed));
  const rows = jobs.map((j, k) => ({ ...j, r: reps[k] }));
  const first = rows.filter((x) => x.seed === 1);
  const llGap = first.map((x) => x.r.logLikelihood - x.sp.torch_test_ll);
  const rmseGap = first.map((x) => x.r.rmse / x.sp.torch_rmse_mc - 1);
  // LL z-scores only where every row rests on ≥ 100 effective samples (else the SE understates).
  const steady = first.map((x) => x.r.logLikelihoodMinEffectiveSamples >= 100);
  const zLl = first.map((x, k) => llGap[k] / (Math.SQRT2 * x.r.logLikelihoodMcError)).filter((_, k) => steady[k]);
  const zRmse = first.map((x) => (x.r.rmse - x.sp.torch_rmse_mc) / (Math.SQRT2 * x.r.rmseMcError));
  const strict = first.filter((_, k) => Math.abs(llGap[k]) <= 0.02 && Math.abs(rmseGap[k]) <= 0.01).length;
  console.log(
    `${ds}: seed 1: ${strict}/${first.length} splits within 0.02 nats and 1 %; max |LL gap| ${Math.max(...llGap.map(Math.abs)).toFixed(4)} nats, ` +
      `max |RMSE gap| ${(100 * Math.max(...rmseGap.map(Math.abs))).toFixed(2)} %; mean over splits: LL ${mean(first.map((x) => x.r.logLikelihood)).toFixed(4)} ` +
      `(PyTorch ${mean(ref.splits.map((s) => s.torch_test_ll)).toFixed(4)}), RMSE ${mean(first.map((x) => x.r.rmse)).toFixed(4)} (PyTorch ${mean(ref.splits.map((s) => s.torch_rmse_mc)).toFixed(4)})`,
  );
  console.log(
    `  gaps / (√2·SE): LL (${zLl.length} splits with ≥ 100 effective samples per row) mean ${mean(zLl).toFixed(2)}, rms ${rms(zLl).toFixed(2)}, max |z| ${Math.max(...zLl.map(Math.abs)).toFixed(2)}; ` +
      `RMSE mean ${mean(zRmse).toFixed(2)}, rms ${rms(zRmse).toFixed(2)}, max |z| ${Math.max(...zRmse.map(Math.abs)).toFixed(2)}`,
  );
  if (K > 1) {
    const ratio = (key, seKey) =>
      mean(
        ref.splits.map((sp) => {
          const mine = rows.filter((x) => x.sp === sp);
          return sd(mine.map((x) => x.r[key])) / mean(mine.map((x) => x.r[seKey]));
        }),
      );
    console.log(
      `  s.d. over ${K} seeds / reported SE, averaged over splits: LL ${ratio('logLikelihood', 'logLikelihoodMcError').toFixed(2)}, RMSE ${ratio('rmse', 'rmseMcError').toFixed(2)}`,
    );
  }
}
