// Cross-backend: the same model.onnx on onnxruntime (@mcu/backend-onnx) and translated to the
// tfjs backend's graph (@mcu/backend-tfjs onnxToGraph, run by its executor). For every ONNX
// fixture whose operators the translation supports — the co2 MLPs, LeNet, the UCI regressors and
// the zoo's MLPs / CNNs / transformer — both find the same sites (names, rates, per-row mask
// shapes, where the rows are) and, fed the same seeded masks (point scope: one per sample and
// row), give the same outputs to 1e-5 of each output's scale. The zoo models the translation
// refuses are checked to be refused with E_UNSUPPORTED naming the reason.
import fs from 'node:fs';
import { afterAll, describe, expect, test } from 'vitest';
import {
  createMcu,
  createSeededSampler,
  isMcuError,
  ReplaySampler,
  type Chunk,
  type Estimator,
  type StochasticModel,
  type StochasticSite,
  type TensorData,
} from '@mcu/core';
import { onnxModule } from '@mcu/backend-onnx';
import { ensureBackend, exclusive, loadTf } from '@mcu/backend-tfjs';
import { forwardGraph } from '../packages/backend-tfjs/src/executor.js';
import type { ExecGraph } from '../packages/backend-tfjs/src/graph.js';
import { onnxToGraph } from '../packages/backend-tfjs/src/onnx/index.js';
import { fixtureBytes, fixturePath, lenetRef, uciFixture } from './helpers/fixtures.js';
import { zooModelPath, zooNames, zooRef, zooRefusedNames } from './helpers/zoo.js';

const S = 3;

/** Every output of every chunk, placed by sample: [S·N, ...] per output. */
class Collect implements Estimator<Record<string, Float32Array>> {
  readonly parts: Record<string, { first: number; data: Float32Array }[]> = {};
  samples = 0;
  update(c: Chunk): void {
    this.samples += c.samples;
    for (const [k, v] of Object.entries(c.outputs)) (this.parts[k] ??= []).push({ first: c.firstSample, data: Float32Array.from(v.data as ArrayLike<number>) });
  }
  result(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const [k, parts] of Object.entries(this.parts)) {
      parts.sort((a, b) => a.first - b.first);
      const total = parts.reduce((s, p) => s + p.data.length, 0);
      const all = new Float32Array(total);
      let o = 0;
      for (const p of parts) {
        all.set(p.data, o);
        o += p.data.length;
      }
      out[k] = all;
    }
    return out;
  }
}

/** Deterministic inputs in [lo, hi). */
function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = lo + ((x >>> 0) / 4294967296) * (hi - lo);
  }
  return out;
}

interface Case {
  name: string;
  path: string;
  bytes: () => Uint8Array;
  feeds: (model: StochasticModel) => Record<string, TensorData>;
}

const N_FIX = 5;
function randomFeeds(model: StochasticModel, seed: number): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {};
  model.inputs.forEach((spec, k) => {
    const dims = [N_FIX, ...spec.dims.slice(1).map((d) => Number(d))];
    feeds[spec.name] = {
      dtype: 'float32',
      data: uniform(
        dims.reduce((a, b) => a * b, 1),
        seed + k,
      ),
      dims,
    };
  });
  return feeds;
}

const CO2 = [
  'pytorch-1.13-small/co2_relu.preserve.onnx',
  'pytorch-1.13-small/co2_tanh.preserve.onnx',
  'pytorch-1.13/co2_relu.preserve.onnx',
  'pytorch-1.13/co2_tanh.preserve.onnx',
  'pytorch-1.13/co2_relu.train.onnx',
  'pytorch-1.13/co2_relu.opset6.onnx',
  'pytorch-1.13/co2_relu.opset7.onnx',
  'pytorch-1.13/co2_relu.opset10.onnx',
];
const cases: Case[] = [
  ...CO2.map((f, i): Case => ({ name: f, path: fixturePath(f), bytes: () => fixtureBytes(f), feeds: (m) => randomFeeds(m, 100 + i) })),
  ...['pytorch-1.13/lenet.preserve.onnx', 'pytorch-2.11/lenet.preserve.onnx'].map(
    (f): Case => ({
      name: f,
      path: fixturePath(f),
      bytes: () => fixtureBytes(f),
      feeds: () => {
        const ref = lenetRef('1.13');
        return { image: { dtype: 'float32', data: Float32Array.from(ref.test_images_u8.slice(0, N_FIX).flat(), (b) => b / 255), dims: [N_FIX, 1, 28, 28] } };
      },
    }),
  ),
  ...(['yacht', 'bostonHousing', 'concrete', 'energy'] as const).flatMap((d) =>
    uciFixture(d)
      .splits.slice(0, 1)
      .map(
        (s): Case => ({
          name: `uci/${d}/${s.onnx}`,
          path: s.modelPath,
          bytes: () => new Uint8Array(fs.readFileSync(s.modelPath)),
          feeds: () => {
            const u = uciFixture(d);
            const rows = s.testIndex.slice(0, N_FIX).map((r) => u.featureIndex.map((c) => u.data[r]![c]!));
            return { x: { dtype: 'float32', data: Float32Array.from(rows.flat()), dims: [rows.length, u.featureIndex.length] } };
          },
        }),
      ),
  ),
];

/** The zoo models the translation refuses, and the words its message must contain. */
const ZOO_REFUSED: Record<string, RegExp> = {
  bert_like: /dims \[batch, seq\].*fixed sizes/,
  gru_text: /operator GRU ×1/,
  lstm2_text: /operator LSTM ×2/,
  selu_alpha_dropout: /org\.pytorch\.aten::alpha_dropout ×2/,
  spatial_cnn: /org\.pytorch\.aten::feature_dropout ×2/,
};
for (const name of zooNames()) {
  if (ZOO_REFUSED[name]) continue;
  cases.push({
    name: `zoo:${name}`,
    path: zooModelPath(name),
    bytes: () => new Uint8Array(fs.readFileSync(zooModelPath(name))),
    feeds: () => {
      const ref = zooRef(name);
      const feeds: Record<string, TensorData> = {};
      for (const [k, v] of Object.entries(ref.inputs)) feeds[k] = { dtype: v.dtype, data: v.data, dims: v.dims } as TensorData;
      return feeds;
    },
  });
}

/** Run the translated graph on tfjs cpu: outputs [S·N, ...] flat, by name. */
async function runTfjs(
  graph: ExecGraph,
  feeds: Record<string, TensorData>,
  masks: Record<string, TensorData>,
  n: number,
): Promise<Record<string, Float32Array>> {
  const tf = await loadTf();
  await ensureBackend(tf, 'cpu');
  return exclusive(tf, 'cpu', () =>
    tf.tidy(() => {
      const constants = new Map([...graph.constants].map(([k, c]) => [k, tf.tensor(c.data, [...c.dims], c.dtype)]));
      const inputs = new Map(
        graph.inputs.map((i) => {
          const f = feeds[i.name]!;
          const data =
            i.dtype === 'int32' ? Int32Array.from(f.data as ArrayLike<number | bigint>, (v) => Number(v)) : Float32Array.from(f.data as ArrayLike<number>);
          return [i.name, tf.tensor(data, [...f.dims], i.dtype)];
        }),
      );
      const maskMap = new Map(Object.entries(masks).map(([k, m]) => [k, { data: m.data as Float32Array, dims: m.dims }]));
      const outs = forwardGraph(tf, graph, constants, inputs, maskMap, S, n);
      const res: Record<string, Float32Array> = {};
      graph.outputs.forEach((o, k) => (res[o.name] = Float32Array.from(outs[k]!.dataSync() as Float32Array)));
      return res;
    }),
  );
}

const table: string[] = [];
afterAll(() => {
  console.log(['| model | sites | max |Δ| / scale |', '|---|---|---|', ...table].join('\n'));
});

describe('ONNX models: onnxruntime vs the tfjs translation, same masks', () => {
  for (const c of cases) {
    test(c.name, async () => {
      const mcu = createMcu({ backends: ['onnx'], modules: [onnxModule] });
      const model = await mcu.load({ kind: 'path', path: c.path });
      try {
        const feeds = c.feeds(model);
        const sites: readonly StochasticSite[] = model.sitesFor ? model.sitesFor(feeds) : model.sites;
        const graph = onnxToGraph(c.bytes(), { label: c.name });

        // 1. the same sites: names, kinds, rates, per-row mask shapes, where the rows are
        const describe = (s: StochasticSite) => [s.name, s.kind, s.rate, [...s.maskShape], s.scaling ?? 'inverted', s.rowLayout ?? null];
        expect(graph.sites.map(describe)).toEqual(sites.map(describe));
        expect(graph.layout).toBe('tiled');

        // 2. the same outputs for the same masks
        const n = Object.values(feeds)[0]!.dims[0]!;
        const sampler = createSeededSampler({ seed: 20260101 });
        const masks: Record<string, TensorData> = {};
        sites.forEach((site, siteIndex) => (masks[site.name] = sampler.sample({ site, siteIndex, firstSample: 0, count: S, rows: n, scope: 'point' })));
        const collect = new Collect();
        await mcu.engine.run(model, feeds, { samples: S, scope: 'point', sampler: new ReplaySampler(masks, sites), estimators: [collect] });
        const want = collect.result();
        const got = await runTfjs(graph, feeds, masks, n);
        expect(Object.keys(got).sort()).toEqual(model.outputs.map((o) => o.name).sort());
        let worst = 0;
        for (const [name, a] of Object.entries(want)) {
          const b = got[name]!;
          expect(b.length, name).toBe(a.length);
          let diff = 0;
          let scale = 0;
          for (let i = 0; i < a.length; i++) {
            diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
            scale = Math.max(scale, Math.abs(a[i]!));
          }
          worst = Math.max(worst, diff / Math.max(scale, 1e-30));
        }
        table.push(`| ${c.name} | ${sites.length} | ${worst.toExponential(2)} |`);
        expect(worst).toBeLessThanOrEqual(1e-5);

        // the activation of a classifier's output is reported as onnx does
        for (const o of model.outputs) expect(graph.outputs.find((g) => g.name === o.name)?.activation).toBe(o.activation);
      } finally {
        await model.dispose();
      }
    }, 120_000);
  }

  test.each(Object.entries(ZOO_REFUSED))('zoo:%s is refused with the reason', (name, why) => {
    let err: unknown;
    try {
      onnxToGraph(new Uint8Array(fs.readFileSync(zooModelPath(name))), { label: name });
    } catch (e) {
      err = e;
    }
    expect(isMcuError(err) && err.code).toBe('E_UNSUPPORTED');
    expect((err as Error).message).toMatch(why);
    expect((err as Error).message).toMatch(/onnx backend/);
  });

  test.each(zooRefusedNames())('%s (a stochastic operator) is refused', (name) => {
    expect(() => onnxToGraph(new Uint8Array(fs.readFileSync(zooModelPath(name))), { label: name })).toThrow(
      /draws its own random numbers|Random|Multinomial|Bernoulli/,
    );
  });
});
