#!/usr/bin/env node
// The paper, reproduced from model files: writes docs/RESULTS.md and docs/figures/*.{svg,png}
// from mcu's own runs on the repo's fixtures (test/fixtures: PyTorch 1.13 exports and
// PyTorch's answers) — no hand-typed numbers. Run from a built tree:
//
//   npx -y pnpm@12.4.2 reproduce                  (= pnpm -r build && node scripts/reproduce/reproduce.mjs)
//   node scripts/reproduce/reproduce.mjs [--quick] [--out DIR]
//
// --quick: small T, one RL seed, few batches, 2 UCI splits per dataset (the pipeline test,
// test/reproduce.test.ts); --out: where RESULTS.md and figures/ go (default docs/).
//
// Sections: figure 2 (CO2 extrapolation, ReLU vs TanH, standard vs MC dropout), figure 3
// (T = 10 vs T = 1000), figure 4 (LeNet on a rotated "1"), table 1 (UCI regression, every split,
// against PyTorch's numbers for the same models and the paper's), figure 6 (Thompson sampling
// vs epsilon-greedy, §5.4).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { ClassificationEstimator, createMcu, RegressionEstimator, SampleCollector } from '@mcu/core';
import { onnxModule } from '@mcu/backend-onnx';
import { co2Ref, fixturePath, lenetRef, uciFixture, UCI_DATASETS } from '@mcu/fixtures';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const outDir = path.resolve(args.includes('--out') ? args[args.indexOf('--out') + 1] : path.join(root, 'docs'));
const figDir = path.join(outDir, 'figures');
fs.mkdirSync(figDir, { recursive: true });

const started = performance.now();
const log = (msg) => console.log(`[reproduce ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}`);
const fmt = (v, d = 3) => (v === null || v === undefined || Number.isNaN(v) ? '—' : Number(v).toFixed(d));
const SEED = 1;
const CFG = quick ? { T: 50, Tsmall: 10, Tlenet: 20, uciT: 500, uciSplits: 2 } : { T: 1000, Tsmall: 10, Tlenet: 100, uciT: 10000, uciSplits: 20 };

const mcu = createMcu({ backends: ['onnx'], modules: [onnxModule] });
const md = [];
const figures = [];

/** Write a Vega-Lite spec as SVG and PNG; returns the file stem. */
async function figure(stem, spec0) {
  const plot = await import('@mcu/plot');
  // docs figures: no per-mark ARIA labels and coordinates to 0.01 px (the scatter of figure 4 has
  // thousands of marks; the SVG stays a few hundred kB)
  const spec = { ...spec0, config: { ...(spec0.config ?? {}), aria: false } };
  const svg = (await plot.renderSvg(spec)).replace(/(<metadata[\s\S]*?<\/metadata>)|(\d\.\d{2})\d+/g, (_m, meta, num) => meta ?? num);
  fs.writeFileSync(path.join(figDir, `${stem}.svg`), svg);
  fs.writeFileSync(path.join(figDir, `${stem}.png`), await plot.renderPng(spec, { scale: 2 }));
  figures.push(stem);
  return stem;
}
const img = (stem, alt) => `![${alt}](figures/${stem}.png) ([SVG](figures/${stem}.svg))`;

// ------------------------------------------------------------------ figures 2 and 3: CO2
async function co2(modelName, T, scope = 'sample') {
  const ref = co2Ref('1.13', modelName);
  const model = await mcu.load({ kind: 'path', path: fixturePath(`pytorch-1.13/${modelName}.preserve.onnx`) });
  const feeds = { [model.inputs[0].name]: { dtype: 'float32', data: Float32Array.from(ref.x), dims: [ref.x.length, 1] } };
  const est = new RegressionEstimator({ output: model.outputs[0].name, tau: ref.tau });
  const meta = await mcu.engine.run(model, feeds, { samples: T, seed: SEED, scope, estimators: [est] });
  const det = (await mcu.engine.deterministic(model, feeds))[model.outputs[0].name].data;
  await model.dispose();
  const r = est.result();
  const { y_mean, y_std } = ref.norm;
  const ppm = (v) => v * y_std + y_mean;
  return {
    ref,
    meta,
    x: ref.t_years,
    y: ref.y.map(ppm),
    mean: Array.from(r.mean, ppm),
    std: Array.from(r.std, (s) => s * y_std),
    standard: Array.from(det, ppm),
    trainEnd: ref.t_years[ref.n_train - 1],
    lastObserved: ref.n_train - 1,
    farEnd: ref.x.length - 1,
  };
}

function bandData(run, title, sigmaScale = 1) {
  return {
    x: run.x,
    mean: run.mean,
    std: run.std,
    standard: run.standard,
    points: { x: run.x.slice(0, run.ref.n_train), y: run.y.slice(0, run.ref.n_train) },
    trainEnd: run.trainEnd,
    sigmaScale,
    title,
    xLabel: 'year',
    yLabel: 'CO2 (ppm)',
  };
}

async function figure2and3() {
  const plot = await import('@mcu/plot');
  log(`figure 2: co2 ReLU and TanH 4×512, T = ${CFG.T}`);
  const relu = await co2('co2_relu', CFG.T);
  const tanh = await co2('co2_tanh', CFG.T);
  const f2r = await figure('fig2-relu', plot.bandPlotSpec(bandData(relu, `MC dropout, ReLU (T = ${CFG.T}): mean ± 2σ in half-σ shades`)));
  const f2t = await figure('fig2-tanh', plot.bandPlotSpec(bandData(tanh, `MC dropout, TanH (T = ${CFG.T}): mean ± 8σ in 2σ shades`, 4)));
  const stdAt = (run, i) => run.std[i];
  const growth = (run) => stdAt(run, run.farEnd) / stdAt(run, run.lastObserved);
  md.push(
    '## Figure 2 — CO2 extrapolation: ReLU vs TanH, standard vs MC dropout',
    '',
    `The PyTorch 1.13 CO2 networks (1→512→512→512→512→1, dropout p = ${relu.ref.p} before each of the last four weight layers, trained on the first ${relu.ref.n_train} of ${relu.ref.x.length} months; \`test/fixtures\`), ` +
      `T = ${CFG.T} samples per month, one mask per sample (scope \`sample\`, the paper's W_t), seed ${SEED}, model precision τ = ${fmt(relu.ref.tau, 2)} (the training precision recorded with the models). ` +
      'Shaded: the predictive mean ± k·σ/2 (k = 1…4; TanH ± k·2σ, as the paper’s figure 2d at 8σ); the orange line is standard dropout (one deterministic pass); the dashed rule marks where the training data ends.',
    '',
    img(f2r, 'Figure 2, ReLU'),
    '',
    img(f2t, 'Figure 2, TanH'),
    '',
    '| model | predictive std at the last observed month | at the far end | ratio | standard dropout at the far end | MC mean at the far end |',
    '|---|---|---|---|---|---|',
    ...[
      ['ReLU', relu],
      ['TanH', tanh],
    ].map(
      ([name, run]) =>
        `| ${name} | ${fmt(stdAt(run, run.lastObserved))} ppm | ${fmt(stdAt(run, run.farEnd))} ppm | ${fmt(growth(run), 2)}× | ${fmt(run.standard[run.farEnd], 1)} ppm | ${fmt(run.mean[run.farEnd], 1)} ppm |`,
    ),
    '',
    `What the runs show: ReLU's uncertainty ${growth(relu) > 1.5 ? 'grows' : 'does not grow much'} away from the data (${fmt(growth(relu), 2)}× from the last observed month to the far end); ` +
      `TanH's ${growth(tanh) < growth(relu) ? 'grows less' : 'grows as much or more'} (${fmt(growth(tanh), 2)}×)` +
      `${growth(tanh) < 1.5 ? ' and stays bounded, as in the paper' : ''}. Standard dropout gives one curve with no spread at all.`,
    '',
  );

  log(`figure 3: co2 ReLU T = ${CFG.Tsmall} vs T = ${CFG.T}`);
  const small = await co2('co2_relu', CFG.Tsmall);
  const f3a = await figure('fig3-relu-T10', plot.bandPlotSpec(bandData(small, `MC dropout, ReLU, T = ${CFG.Tsmall}`)));
  const f3b = await figure(`fig3-relu-T${CFG.T}`, plot.bandPlotSpec(bandData(relu, `MC dropout, ReLU, T = ${CFG.T}`)));
  let maxGap = 0;
  let meanGap = 0;
  for (let i = 0; i < small.std.length; i++) {
    maxGap = Math.max(maxGap, Math.abs(small.std[i] - relu.std[i]) / relu.std[i]);
    meanGap = Math.max(meanGap, Math.abs(small.mean[i] - relu.mean[i]));
  }
  md.push(
    `## Figure 3 — the same ReLU network with T = ${CFG.Tsmall} and T = ${CFG.T}`,
    '',
    img(f3a, `Figure 3, T = ${CFG.Tsmall}`),
    '',
    img(f3b, `Figure 3, T = ${CFG.T}`),
    '',
    `With T = ${CFG.Tsmall} the same network gives a noisier estimate of the same predictive distribution: its std differs from the T = ${CFG.T} estimate by up to ${fmt(100 * maxGap, 0)} % ` +
      `(at the far end ${fmt(small.std[small.farEnd])} vs ${fmt(relu.std[relu.farEnd])} ppm) and its mean by up to ${fmt(meanGap, 2)} ppm.`,
    '',
  );
}

// ------------------------------------------------------------------ figure 4: LeNet, rotated "1"
async function figure4() {
  const plot = await import('@mcu/plot');
  log(`figure 4: LeNet on 12 rotated images of a "1", T = ${CFG.Tlenet}`);
  const ref = lenetRef('1.13');
  const model = await mcu.load({ kind: 'path', path: fixturePath('pytorch-1.13/lenet.preserve.onnx') });
  const images = ref.rotated.images;
  const n = images.length;
  const feeds = { [model.inputs[0].name]: { dtype: 'float32', data: Float32Array.from(images.flat()), dims: [n, 1, 28, 28] } };
  const out = model.outputs[0].name;
  const cls = new ClassificationEstimator({ output: out, outputs: 'logits' });
  const col = new SampleCollector({ output: out });
  await mcu.engine.run(model, feeds, { samples: CFG.Tlenet, seed: SEED, scope: 'point', estimators: [cls, col] });
  await model.dispose();
  const r = cls.result();
  const s = col.result();
  const C = s.rest[0];
  const probs = new Float32Array(s.values.length);
  for (let k = 0; k < s.samples * n; k++) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, s.values[k * C + c]);
    let z = 0;
    for (let c = 0; c < C; c++) z += Math.exp(s.values[k * C + c] - m);
    for (let c = 0; c < C; c++) probs[k * C + c] = Math.exp(s.values[k * C + c] - m) / z;
  }
  const degrees = images.map((_, i) => Math.round((110 * i) / (n - 1)));
  const meanProbs = Array.from({ length: n }, (_, i) => Array.from(r.probs.subarray(i * C, (i + 1) * C)));
  const f4 = await figure(
    'fig4-lenet-rotated-1',
    plot.classSequenceSpec({
      labels: degrees.map((d) => `${d}°`),
      classNames: Array.from({ length: C }, (_, c) => String(c)),
      T: s.samples,
      N: n,
      C,
      logits: s.values,
      probs,
      meanProbs,
      predicted: Array.from(r.predicted),
      entropy: Array.from(r.entropy),
      mutualInformation: Array.from(r.mutualInformation),
      variationRatio: Array.from(r.variationRatio),
      topK: 3,
    }),
  );
  const torch = ref.rotated;
  md.push(
    '## Figure 4 — LeNet on a continuously rotated "1"',
    '',
    `PyTorch's LeNet (conv20-pool-conv50-pool-fc500-relu-dropout(0.5)-fc10, trained on 8,000 MNIST digits; \`test/fixtures\`), 12 images of one "1" rotated from 0° to 110°, ` +
      `T = ${CFG.Tlenet} stochastic passes per image (one mask per image and pass, as PyTorch's \`x.repeat(T)\`), seed ${SEED}. ` +
      'Top: the softmax input (logits) of every pass for the 3 most probable classes; middle: the softmax output; bottom: entropy, mutual information and variation ratio.',
    '',
    img(f4, 'Figure 4'),
    '',
    '| image | rotation | mcu class | PyTorch class (T = 1000) | entropy | mutual information | variation ratio | PyTorch entropy / MI / VR |',
    '|---|---|---|---|---|---|---|---|',
    ...degrees.map(
      (d, i) =>
        `| ${i + 1} | ${d}° | ${r.predicted[i]} | ${torch.predicted[i]} | ${fmt(r.entropy[i])} | ${fmt(r.mutualInformation[i])} | ${fmt(r.variationRatio[i])} | ${fmt(torch.entropy[i])} / ${fmt(torch.mutual_information[i])} / ${fmt(torch.variation_ratio[i])} |`,
    ),
    '',
    `mcu predicts [${Array.from(r.predicted).join(' ')}] (PyTorch: [${torch.predicted.join(' ')}]; the paper's Caffe LeNet: [1 1 1 1 1 5 5 7 7 7 7 7]). ` +
      (() => {
        const H = Array.from(r.entropy);
        const MI = Array.from(r.mutualInformation);
        const sure = H.findIndex((h) => h > 0.1);
        return (
          `The model is sure of the first ${sure < 0 ? n : sure} images (entropy ≤ 0.1 nats); entropy is largest at image ${1 + argmax(H)} (${degrees[argmax(H)]}°, ${fmt(Math.max(...H))} nats) ` +
          `and mutual information at image ${1 + argmax(MI)} (${degrees[argmax(MI)]}°, ${fmt(Math.max(...MI))} nats): where the passes disagree — high softmax output for one class in some passes, for another in others.`
        );
      })(),
    '',
  );
}
const argmax = (a) => a.reduce((b, v, i) => (v > a[b] ? i : b), 0);

// ------------------------------------------------------------------ table 1: UCI
class Collect extends Writable {
  chunks = [];
  isTTY = false;
  _write(c, _e, done) {
    this.chunks.push(Buffer.from(c));
    done();
  }
  text() {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

async function evaluate(argv) {
  const { main } = await import('@mcu/cli');
  const stdout = new Collect();
  const stderr = new Collect();
  const code = await main(argv, { stdout, stderr, cwd: os.tmpdir() });
  if (code !== 0) throw new Error(`mcu ${argv.join(' ')} exited ${code}: ${stderr.text()}`);
  return JSON.parse(stdout.text());
}

const meanSe = (v) => {
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  const s = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1)) : 0;
  return { mean: m, se: s / Math.sqrt(v.length) };
};

async function table1() {
  const paper = JSON.parse(fs.readFileSync(path.join(root, 'scripts/reproduce/paper-table1.json'), 'utf8'));
  const rows = [];
  for (const dataset of UCI_DATASETS) {
    const u = uciFixture(dataset);
    const splits = u.splits.slice(0, CFG.uciSplits);
    log(`table 1: ${dataset}, ${splits.length} splits, T = ${CFG.uciT}`);
    const res = [];
    for (const s of splits) {
      const r = await evaluate([
        'evaluate',
        s.modelPath,
        '--uci',
        u.dir,
        '--split',
        String(s.split),
        '--tau',
        String(s.tau),
        '--samples',
        String(CFG.uciT),
        '--mask-scope',
        'point',
        '--seed',
        String(SEED),
        '--format',
        'json',
        '--quiet',
      ]);
      res.push({ r, s });
    }
    const rmse = meanSe(res.map((x) => x.r.rmse));
    const ll = meanSe(res.map((x) => x.r.logLikelihood));
    const torchRmse = meanSe(res.map((x) => x.s.torch_rmse_mc));
    const torchLl = meanSe(res.map((x) => x.s.torch_test_ll));
    const mcRmse = Math.sqrt(res.reduce((a, x) => a + x.r.rmseMcError ** 2, 0)) / res.length;
    const mcLl = Math.sqrt(res.reduce((a, x) => a + x.r.logLikelihoodMcError ** 2, 0)) / res.length;
    rows.push({ dataset, n: res.length, rmse, ll, torchRmse, torchLl, mcRmse, mcLl, paper: paper.datasets[dataset] });
  }
  md.push(
    '## Table 1 — UCI regression (Gal’s protocol), every split',
    '',
    `\`mcu evaluate splitNN.onnx --uci DIR --split K --tau τ --samples ${CFG.uciT} --mask-scope point --seed ${SEED}\` on the PyTorch 1.13 port of Gal's experiments ` +
      '(1 hidden layer of 50 units, dropout on the input and the hidden layer, τ and p from the grid search; `test/fixtures/files/uci`), ' +
      `against PyTorch's own numbers for the same models (T = 10,000, reference.json) and the paper's (${paper.source}). Mean ± standard error over the splits; "MC error" is the Monte Carlo standard error of mcu's mean over splits (√(Σ SE²)/n of the per-split errors \`evaluate\` reports).`,
    '',
    '| dataset | splits | RMSE mcu | RMSE PyTorch | RMSE paper (published / re-run) | test LL mcu | test LL PyTorch | test LL paper (published / re-run) | MC error of the mean (RMSE / LL) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const p = r.paper ?? {};
      const pp = (x) => (x ? `${fmt(x.mean, 2)} ± ${fmt(x.se, 2)}` : '—');
      return `| ${r.dataset} | ${r.n} | ${fmt(r.rmse.mean)} ± ${fmt(r.rmse.se)} | ${fmt(r.torchRmse.mean)} ± ${fmt(r.torchRmse.se)} | ${pp(p.rmse)} / ${pp(p.rmse_rerun)} | ${fmt(r.ll.mean)} ± ${fmt(r.ll.se)} | ${fmt(r.torchLl.mean)} ± ${fmt(r.torchLl.se)} | ${pp(p.ll)} / ${pp(p.ll_rerun)} | ${fmt(r.mcRmse, 4)} / ${fmt(r.mcLl, 4)} |`;
    }),
    '',
    'Gaps of the dataset means, mcu − PyTorch: ' +
      rows
        .map((r) => `${r.dataset} LL ${fmt(r.ll.mean - r.torchLl.mean, 4)} nats, RMSE ${fmt((100 * (r.rmse.mean - r.torchRmse.mean)) / r.torchRmse.mean, 2)} %`)
        .join('; ') +
      '.',
    '',
  );
  return rows;
}

// ------------------------------------------------------------------ figure 6: Thompson sampling
async function figure6() {
  const plot = await import('@mcu/plot');
  const rl = await import('@mcu/rl');
  const cfg = quick ? { seeds: [1], batches: 6, stepsPerBatch: 40, burnInBatches: 2 } : { ...rl.FULL_RUN, seeds: [...rl.FULL_RUN.seeds] };
  log(
    `figure 6: Thompson sampling vs epsilon-greedy, seeds ${cfg.seeds.join(',')}, ${cfg.batches} batches of ${cfg.stepsPerBatch} steps after ${cfg.burnInBatches} of burn-in`,
  );
  const cmp = await rl.runComparison({ ...cfg, parallel: Math.max(1, Math.min(2, os.cpus().length)) });
  const names = { thompson: 'Thompson sampling (dropout)', 'epsilon-greedy': 'epsilon-greedy' };
  const series = Object.values(cmp.policies).map((p) => ({
    name: names[p.policy] ?? p.policy,
    x: p.movingAverage.mean.map((_, i) => i + 1),
    mean: p.movingAverage.mean,
    lo: p.movingAverage.lo,
    hi: p.movingAverage.hi,
  }));
  const f6 = await figure(
    'fig6-thompson-vs-egreedy',
    plot.curvesSpec({
      series,
      logX: true,
      hline: 1,
      title: `Average reward (trailing 1000 steps) vs batches after burn-in, mean ± s.e. over ${cfg.seeds.length} seed${cfg.seeds.length === 1 ? '' : 's'}`,
      xLabel: `batch (${cfg.stepsPerBatch} steps) after ${cfg.burnInBatches} batches of random moves`,
      yLabel: 'average reward',
    }),
  );
  const row = (p) => {
    const per = p.firstBatchAbove1MovingAveragePerSeed.map((v) => v ?? 'never').join(', ');
    return `| ${names[p.policy] ?? p.policy} | ${p.firstBatchAbove1MovingAverage ?? 'never'} | ${p.firstBatchAbove1 ?? 'never'} | ${per} | ${fmt(p.movingAverage.mean.at(-1), 3)} |`;
  };
  const paper = cmp.paper;
  md.push(
    '## Figure 6 — Thompson sampling with dropout vs epsilon-greedy (§5.4)',
    '',
    `The environment (\`packages/rl/src/world.ts\`, written from the description of Karpathy's ConvNetJS deep-Q-learning demo). A batch: ${cmp.config.batchDefinition}. ` +
      `Q-network with dropout p = ${paper.dropoutRate} before every weight layer, trained with TensorFlow.js (${cmp.config.backend}); masks from mcu's counter-based sampler. ` +
      'Thompson sampling: one stochastic forward pass per action choice, and the same masks for that transition when it is replayed; epsilon-greedy: the deterministic network with probability-ε random actions. ' +
      `Same environment code, seeds and network for both; ${cfg.seeds.length} seed${cfg.seeds.length === 1 ? '' : 's'} each.`,
    '',
    img(f6, 'Figure 6'),
    '',
    '| policy | first batch whose average reward (trailing 1000 steps, mean over seeds) exceeds 1 | first batch whose own reward (mean over seeds) exceeds 1 | per seed (trailing average) | trailing average at the last batch |',
    '|---|---|---|---|---|',
    ...Object.values(cmp.policies).map(row),
    '',
    `The paper: ≈ ${paper.thompsonFirstBatchAbove1} batches after burn-in for Thompson sampling, ≈ ${paper.epsilonGreedyFirstBatchAbove1} for epsilon-greedy. These runs: ` +
      Object.values(cmp.policies)
        .map((p) => {
          const m = p.movingAverage.mean;
          const peak = argmax(m);
          return `${names[p.policy] ?? p.policy}'s trailing average ${p.firstBatchAbove1MovingAverage === null ? `stays below 1 (peak ${fmt(m[peak], 3)} at batch ${peak + 1})` : `first exceeds 1 at batch ${p.firstBatchAbove1MovingAverage}`}, its per-batch mean ${p.firstBatchAbove1 === null ? 'never exceeds 1' : `first exceeds 1 at batch ${p.firstBatchAbove1}`}`;
        })
        .join('; ') +
      `. ${aheadText(cmp)} (${fmt(cmp.seconds, 0)} s wall, ${fmt(cmp.cpuSeconds, 0)} s CPU.)`,
    '',
  );
  return cmp;
}

function aheadText(cmp) {
  const ts = cmp.policies.thompson?.movingAverage.mean;
  const eg = cmp.policies['epsilon-greedy']?.movingAverage.mean;
  if (!ts || !eg) return '';
  const n = Math.min(ts.length, eg.length);
  let ahead = 0;
  for (let i = 0; i < n; i++) if (ts[i] > eg[i]) ahead++;
  const order = ahead > n / 2 ? "Thompson sampling learns faster, the paper's ordering" : 'epsilon-greedy is not behind here, unlike the paper';
  return `Thompson sampling's trailing average is above epsilon-greedy's at ${ahead} of ${n} batches (${fmt((100 * ahead) / n, 0)} %): ${order}.`;
}

// ------------------------------------------------------------------ run
md.push(
  '# The paper, reproduced by mcu',
  '',
  `Generated by \`scripts/reproduce/reproduce.mjs\`${quick ? ' (**--quick**: reduced sizes, not the results)' : ''} (\`npx -y pnpm@12.4.2 reproduce\`) from mcu's own runs on the fixtures in \`test/fixtures\`; every number below is written by that script. ` +
    'Gal & Ghahramani, "Dropout as a Bayesian Approximation: Representing Model Uncertainty in Deep Learning", ICML 2016.',
  '',
);
await figure2and3();
await figure4();
await table1();
await figure6();
md.push(
  `---`,
  '',
  `${figures.length} figures in \`figures/\` (SVG and PNG). Total time ${fmt((performance.now() - started) / 1000, 0)} s on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'cpu'}), Node ${process.version}.`,
  '',
);
fs.writeFileSync(path.join(outDir, 'RESULTS.md'), md.join('\n'));
log(`wrote ${path.join(outDir, 'RESULTS.md')} and ${figures.length * 2} figure files`);
