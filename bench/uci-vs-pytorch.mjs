#!/usr/bin/env node
// Gal's UCI protocol against the PyTorch port in ../shared/fixtures/uci (not run by CI).
// For every split: `mcu evaluate splitNN.onnx --uci DIR --split K --tau <PyTorch's τ> --samples T
// --mask-scope point --seed 1`, the gaps to PyTorch's test LL and MC RMSE; then, for the worst
// split of each dataset, the same run with seeds 1..K to show the Monte Carlo spread of one
// T-sample estimate (PyTorch's number is one such estimate too).
// Run after `pnpm -r build`:  node bench/uci-vs-pytorch.mjs [T] [K]
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const base = join(root, '..', 'shared', 'fixtures', 'uci');
const T = Number(process.argv[2] ?? 10000);
const K = Number(process.argv[3] ?? 5);
if (!existsSync(base)) {
  console.log(`${base} is absent: this benchmark needs the shared fixtures`);
  process.exit(0);
}

const evaluate = (ds, sp, seed) =>
  JSON.parse(
    execFileSync(process.execPath, [join(root, 'packages/cli/bin/mcu.js'), 'evaluate', join(base, ds, `split${String(sp.split).padStart(2, '0')}.onnx`),
      '--uci', join(base, ds), '--split', String(sp.split), '--tau', String(sp.tau), '--samples', String(T), '--mask-scope', 'point', '--seed', String(seed), '--quiet'], { encoding: 'utf8' }),
  );
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs) => Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / (xs.length - 1));

console.log(`T = ${T}, per-point masks, seed 1; spread over seeds 1..${K} on the worst split`);
for (const ds of ['bostonHousing', 'concrete', 'energy', 'yacht']) {
  if (!existsSync(join(base, ds))) continue;
  const ref = JSON.parse(readFileSync(join(base, ds, 'reference.json'), 'utf8'));
  let worst = { ll: -1, rmse: -1 };
  const gaps = ref.splits.map((sp) => {
    const r = evaluate(ds, sp, 1);
    const g = { sp, ll: Math.abs(r.logLikelihood - sp.torch_test_ll), rmse: Math.abs(r.rmse / sp.torch_rmse_mc - 1) };
    if (g.ll > worst.ll) worst = { ...worst, ll: g.ll, llSplit: sp };
    if (g.rmse > worst.rmse) worst = { ...worst, rmse: g.rmse, rmseSplit: sp };
    return g;
  });
  const torchMeanLl = mean(gaps.map((g) => g.sp.torch_test_ll));
  console.log(`${ds}: ${gaps.length} splits; max |LL − torch| ${worst.ll.toFixed(4)} nats (split ${worst.llSplit.split}), max |RMSE/torch − 1| ${(worst.rmse * 100).toFixed(2)} % (split ${worst.rmseSplit.split}); torch mean LL ${torchMeanLl.toFixed(3)}`);
  const lls = [];
  const rmses = [];
  for (let seed = 1; seed <= K; seed++) {
    lls.push(evaluate(ds, worst.llSplit, seed).logLikelihood);
    rmses.push(evaluate(ds, worst.rmseSplit, seed).rmse);
  }
  console.log(`  split ${worst.llSplit.split} LL over seeds: mean ${mean(lls).toFixed(4)}, s.d. ${sd(lls).toFixed(4)} (torch ${worst.llSplit.torch_test_ll.toFixed(4)}, z ${((mean(lls) - worst.llSplit.torch_test_ll) / (sd(lls) * Math.sqrt(1 + 1 / K))).toFixed(2)})`);
  console.log(`  split ${worst.rmseSplit.split} RMSE over seeds: mean ${mean(rmses).toFixed(4)}, s.d. ${sd(rmses).toFixed(4)} (torch ${worst.rmseSplit.torch_rmse_mc.toFixed(4)}, z ${((mean(rmses) - worst.rmseSplit.torch_rmse_mc) / (sd(rmses) * Math.sqrt(1 + 1 / K))).toFixed(2)})`);
}
