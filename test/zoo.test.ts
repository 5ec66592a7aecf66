// The zoo against PyTorch (test/fixtures/zoo, made by scripts/zoo/make_zoo.py with Debian's
// torch 1.13): for every architecture, mcu must find exactly torch's dropout sites, replay
// torch's own masks to its outputs, and agree with torch's Monte Carlo statistics.
//
// Tolerances:
// - replay: max |mcu − torch| ≤ 1e-5 · max |torch| per output (float32 through different
//   kernels: observed ≤ 1.1e-6);
// - MC (T = 500 on each side, independent masks per row and element = torch's x.repeat, mcu's
//   `point` scope): a value agrees when |Δ| ≤ 4 standard errors of the difference — for the
//   mean √((σ²_mcu + σ²_torch)/T), for the std √(v_mcu + v_torch) with v = (m4 − σ⁴)/(4σ²T)
//   (the delta-method variance of a sample std, from each side's own 4th moment) — at ≥ 99 %
//   of the values of every model.
import { afterAll, describe, expect, test } from 'vitest';
import { createMcu, ReplaySampler, type StochasticModel, type TensorData } from '@mcu/core';
import { onnxModule } from '@mcu/backend-onnx';
import { zooModelPath, zooNames, zooRef, type ZooRef } from './helpers/zoo.js';
import { Capture, Moments } from './helpers/estimators.js';

const T = 500;
const SEED = 20261201;
/** Load options per model: the eval export gets torch's Dropout2d sites back by insertion. */
const OPTIONS: Record<string, Record<string, unknown>> = {
  'spatial_cnn.eval': { insertDropout: { rate: 0.25, before: ['Conv'], spatial: true } },
};

function feedsOf(ref: ZooRef): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {};
  for (const [k, v] of Object.entries(ref.inputs)) feeds[k] = { dtype: v.dtype, data: v.data, dims: v.dims } as TensorData;
  return feeds;
}

interface Row {
  model: string;
  layout: string;
  sites: string;
  replay: number;
  meanOk: number;
  stdOk: number;
  maxZ: number;
}
const table: Row[] = [];

afterAll(() => {
  const lines = table.map(
    (r) =>
      `| ${r.model} | ${r.layout} | ${r.sites} | ${r.replay.toExponential(1)} | ${(100 * r.meanOk).toFixed(1)} % / ${(100 * r.stdOk).toFixed(1)} % | ${r.maxZ.toFixed(2)} |`,
  );
  console.log(
    ['| model | layout | sites | replay max|Δ|/scale | MC within 4 s.e. (mean / std) | largest |z| |', '|---|---|---|---|---|---|', ...lines].join('\n'),
  );
});

describe('the zoo against PyTorch 1.13', () => {
  for (const name of zooNames()) {
    test(name, async () => {
      const ref = zooRef(name);
      const mcu = createMcu({ backends: ['onnx'], modules: [onnxModule], backendOptions: { onnx: OPTIONS[name] ?? {} } });
      const model: StochasticModel = await mcu.load({ kind: 'path', path: zooModelPath(name) });
      try {
        const feeds = feedsOf(ref);
        const sites = model.sitesFor ? model.sitesFor(feeds) : model.sites;

        // 1. exactly torch's sites: count, kind, rate, per-row mask shape, where the rows are
        expect(sites.map((s) => [s.kind, s.rate, [...s.maskShape]])).toEqual(
          ref.sites.map((s) => [s.kind === 'alpha' ? 'alpha' : 'bernoulli', s.p, s.rowShape]),
        );
        sites.forEach((s, k) => {
          const t = ref.sites[k]!;
          const layout = s.rowLayout ?? { axis: 0, factor: 1 };
          if (t.kind !== 'feature') expect([layout.axis, layout.factor]).toEqual([t.rowAxis, t.rowFactor]);
        });

        // 2. torch's masks replayed give torch's outputs
        let replay = 0;
        for (const rec of ref.exact) {
          const masks: Record<string, TensorData> = {};
          sites.forEach((s, k) => (masks[s.name] = { dtype: 'float32', data: rec.masks[k]!.values, dims: [1, ref.N, ...rec.masks[k]!.rowShape] }));
          const cap = new Capture();
          await mcu.engine.run(model, feeds, { samples: 1, scope: 'point', sampler: new ReplaySampler(masks, sites), estimators: [cap] });
          for (const [out, want] of Object.entries(rec.outputs)) {
            const got = cap.out[out]!;
            expect(got.length).toBe(want.data.length);
            let diff = 0;
            let scale = 0;
            for (let i = 0; i < got.length; i++) {
              diff = Math.max(diff, Math.abs(got[i]! - want.data[i]!));
              scale = Math.max(scale, Math.abs(want.data[i]!));
            }
            replay = Math.max(replay, diff / scale);
          }
        }
        expect(replay).toBeLessThanOrEqual(1e-5);

        // 2b. the deterministic pass ("standard dropout") is torch's eval mode (AlphaDropout: the identity)
        const det = await mcu.engine.deterministic(model, feeds);
        // (F.dropout(training=True) drops even in torch's eval mode: that model has no deterministic reference)
        for (const [out, want] of name === 'functional_dropout_mlp' ? [] : Object.entries(ref.deterministic)) {
          const got = det[out]!.data as Float32Array;
          let [diff, scale] = [0, 0];
          for (let i = 0; i < want.length; i++) {
            diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
            scale = Math.max(scale, Math.abs(want[i]!));
          }
          expect(diff / scale, `${name} ${out} deterministic`).toBeLessThanOrEqual(1e-5);
        }

        // 3. Monte Carlo statistics against torch's (both T = 500, independent masks per row)
        const mom = new Moments();
        await mcu.engine.run(model, feeds, { samples: T, seed: SEED, scope: 'point', estimators: [mom] });
        const ours = mom.result();
        let [n, meanOk, stdOk, maxZ] = [0, 0, 0, 0];
        for (const [out, theirs] of Object.entries(ref.mc.outputs)) {
          const o = ours[out]!;
          expect(o.mean.length).toBe(theirs.mean.length);
          for (let j = 0; j < o.mean.length; j++) {
            n++;
            const [sa, sb] = [o.std[j]!, theirs.std[j]!];
            const seMean = Math.sqrt((sa * sa + sb * sb) / T);
            const scale = Math.max(Math.abs(theirs.mean[j]!), 1e-30);
            const floor = 1e-5 * scale; // deterministic outputs: float agreement
            const zMean = Math.abs(o.mean[j]! - theirs.mean[j]!) / Math.max(seMean, floor);
            const v = (s: number, m4: number) => (s > 0 ? Math.max(0, m4 - s ** 4) / (4 * s * s * ref.mc.T) : 0);
            const seStd = Math.sqrt(v(sa, o.m4[j]!) + v(sb, theirs.m4[j]!));
            const zStd = Math.abs(sa - sb) / Math.max(seStd, floor);
            if (zMean <= 4) meanOk++;
            if (zStd <= 4) stdOk++;
            maxZ = Math.max(maxZ, zMean, zStd);
          }
        }
        const layout = (model as unknown as { layout?: string }).layout ?? '?';
        table.push({
          model: name,
          layout,
          sites: `${sites.length}: ${[...new Set(sites.map((s) => `${s.kind} ${s.rate}`))].join(', ')}`,
          replay,
          meanOk: meanOk / n,
          stdOk: stdOk / n,
          maxZ,
        });
        expect(meanOk / n).toBeGreaterThanOrEqual(0.99);
        expect(stdOk / n).toBeGreaterThanOrEqual(0.99);
      } finally {
        await model.dispose();
      }
    });
  }
});
