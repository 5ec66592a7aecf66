// Caffe nets against PyTorch (test/fixtures/caffe, made by scripts/caffe/make_caffe_fixtures.py):
// the paper authors' own deploy prototxts (lenet_all_dropout, lenet_dropout, the CO2 4×1024 ReLU
// and TanH MLPs, an MNIST MLP) and a hand-built V1 net, with seeded weights written as
// .caffemodel files by Google's protobuf, and PyTorch modules computing what Caffe computes
// (checked in the script against an independent float64 numpy implementation).
//
// Tolerances:
// - replay (PyTorch's masks through mcu): max |mcu − torch| ≤ 1e-5 · max |torch| per output
//   (float32 through different kernels);
// - deterministic pass = Caffe's TEST phase (dropout off): the same bound;
// - MC (T = 1000 on each side, mcu's `point` scope = torch's independent masks per row): a value
//   agrees when |Δ| ≤ 4 standard errors of the difference — for the mean √((σ²_mcu + σ²_torch)/T),
//   for the std √(v_mcu + v_torch) with v = (m4 − σ⁴)/(4σ²T) (the delta-method variance of a sample
//   std, from each side's own 4th moment: softmax outputs are heavy-tailed, a rare sample moves σ) —
//   at ≥ 99 % of the values of every net.
import { afterAll, describe, expect, test } from 'vitest';
import { createMcu, ReplaySampler, type StochasticModel, type TensorData } from '@mcu/core';
import { onnxModule } from '@mcu/backend-onnx';
import { openCaffe } from '@mcu/format-caffe';
import { CAFFE_NETS, caffeNetFixture, type CaffeNetFixture } from '@mcu/fixtures';
import { Capture, maxRelative, Moments } from './helpers/estimators.js';

const SEED = 20261202;

const maxRel = (got: ArrayLike<number>, want: ArrayLike<number>): number => maxRelative(got, want);

function rowsOf(f: CaffeNetFixture, rows: readonly number[]): Record<string, TensorData> {
  const per = f.input.dims.slice(1).reduce((a, b) => a * b, 1);
  const data = new Float32Array(rows.length * per);
  rows.forEach((r, i) => data.set(f.input.data.subarray(r * per, (r + 1) * per), i * per));
  return { [f.input.name]: { dtype: 'float32', data, dims: [rows.length, ...f.input.dims.slice(1)] } };
}

describe('a caffemodel alone (a training snapshot: its own layer definitions are the net)', () => {
  test("lenet_all_dropout: the TRAIN net it holds, with --input-shape, gives the deploy net's answers", async () => {
    const f = caffeNetFixture('lenet_all_dropout');
    const opened = openCaffe({ caffemodel: f.caffemodel(), names: { caffemodel: 'lenet_all_dropout.caffemodel' } }, { inputShapes: { data: [1, 28, 28] } });
    // one warning for the snapshot's phase: TRAIN records, the loss layer made a Softmax, the TRAIN data layer as the input
    expect(opened.onnx!.warnings.filter((w) => /record phase: TRAIN/.test(w))).toHaveLength(1);
    expect(opened.onnx!.warnings.join('\n')).toMatch(/SoftmaxWithLoss\) → Softmax over 'ip2'/);
    expect(opened.onnx!.sites.map((s) => s.name)).toEqual(['dropC1', 'dropC2', 'drop1']);
    const mcu = createMcu({ backends: ['onnx'], modules: [onnxModule] });
    const model = await mcu.load(opened.source!);
    try {
      const det = await mcu.engine.deterministic(
        model,
        rowsOf(
          f,
          f.input.rows.map((_, i) => i),
        ),
      );
      // the Softmax that replaced the loss layer is named after it ('loss'); the deploy net's is 'softmax'
      const [out] = Object.keys(det);
      expect(maxRel(det[out!]!.data as Float32Array, f.standard['softmax']!.data)).toBeLessThanOrEqual(1e-5);
    } finally {
      await model.dispose();
    }
  });
});

const table: string[] = [];
afterAll(() => {
  console.log(['| net | sites | replay max|Δ|/scale | standard | MC within 4 s.e. (mean / std) |', '|---|---|---|---|---|', ...table].join('\n'));
});

describe('Caffe nets against PyTorch', () => {
  for (const name of CAFFE_NETS) {
    test(name, async () => {
      const f = caffeNetFixture(name);
      const opened = openCaffe({ prototxt: f.prototxt, caffemodel: f.caffemodel(), names: { prototxt: f.prototxtRel, caffemodel: `${name}.caffemodel` } });
      // the Dropout layers are the sites, in order, with their rates
      // (the fixture records p as stored: float32)
      expect(opened.onnx!.sites.map((s) => [s.name, Math.fround(s.rate)])).toEqual(f.sites.map((s) => [s.name, Math.fround(s.p)]));
      const mcu = createMcu({ backends: ['onnx'], modules: [onnxModule] });
      const model: StochasticModel = await mcu.load(opened.source!);
      try {
        expect(model.sites.map((s) => [s.origin?.node, Math.fround(s.rate)])).toEqual(f.sites.map((s) => [s.name, Math.fround(s.p)]));
        model.sites.forEach((s, k) => expect([...s.maskShape]).toEqual(f.sites[k]!.perRowDims));

        // 1. PyTorch's masks replayed give PyTorch's outputs
        let replay = 0;
        for (const rec of f.exact) {
          const feeds = rowsOf(f, rec.rows);
          const masks: Record<string, TensorData> = {};
          model.sites.forEach((s, k) => {
            const m = rec.masks[k]!;
            expect(m.site).toBe(s.origin?.node);
            masks[s.name] = { dtype: 'float32', data: m.data, dims: [1, rec.rows.length, ...f.sites[k]!.perRowDims] };
          });
          const cap = new Capture();
          await mcu.engine.run(model, feeds, { samples: 1, scope: 'point', sampler: new ReplaySampler(masks, model.sites), estimators: [cap] });
          for (const out of f.outputs) replay = Math.max(replay, maxRel(cap.out[out]!, rec.outputs[out]!.data));
        }
        expect(replay).toBeLessThanOrEqual(1e-5);

        // 2. the deterministic pass is Caffe's TEST phase (dropout as the identity)
        const all = rowsOf(
          f,
          f.input.rows.map((_, i) => i),
        );
        const det = await mcu.engine.deterministic(model, all);
        let standard = 0;
        for (const out of f.outputs) standard = Math.max(standard, maxRel(det[out]!.data as Float32Array, f.standard[out]!.data));
        expect(standard).toBeLessThanOrEqual(1e-5);

        // 3. MC statistics against PyTorch's (T = 1000 each, independent masks per row)
        const T = f.mc.T;
        const mom = new Moments();
        await mcu.engine.run(model, rowsOf(f, f.mc.rows), { samples: T, seed: SEED, scope: 'point', estimators: [mom] });
        const ours = mom.result();
        let [n, meanOk, stdOk] = [0, 0, 0];
        for (const out of f.outputs) {
          const o = ours[out]!;
          const t = f.mc.outputs[out]!;
          expect(o.mean.length).toBe(t.mean.length);
          for (let j = 0; j < o.mean.length; j++) {
            n++;
            const [sa, sb] = [o.std[j]!, t.std[j]!];
            const floor = 1e-5 * Math.max(Math.abs(t.mean[j]!), 1e-30);
            if (Math.abs(o.mean[j]! - t.mean[j]!) <= 4 * Math.max(Math.sqrt((sa * sa + sb * sb) / T), floor)) meanOk++;
            const v = (s: number, m4: number) => (s > 0 ? Math.max(0, m4 - s ** 4) / (4 * s * s * T) : 0);
            if (Math.abs(sa - sb) <= 4 * Math.max(Math.sqrt(v(sa, o.m4[j]!) + v(sb, t.m4[j]!)), floor)) stdOk++;
          }
        }
        table.push(
          `| ${name} | ${model.sites.length} | ${replay.toExponential(1)} | ${standard.toExponential(1)} | ${((100 * meanOk) / n).toFixed(1)} % / ${((100 * stdOk) / n).toFixed(1)} % of ${n} |`,
        );
        expect(meanOk / n).toBeGreaterThanOrEqual(0.99);
        expect(stdOk / n).toBeGreaterThanOrEqual(0.99);
      } finally {
        await model.dispose();
      }
    }, 120_000);
  }
});
