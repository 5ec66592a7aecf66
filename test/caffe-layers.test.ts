// Every Caffe layer mcu translates, against an independent computation of what Caffe computes
// (test/fixtures/caffe/layers/cases.json, made by scripts/caffe/layer_cases.py: Caffe's loops
// written out in float64 numpy — pooling's ceil rounding and clipping, AVE's divisor, LRN's
// windows — and the caffemodels written by Google's protobuf). Each case runs through the whole
// path a user's net takes: reader → ONNX translation → mcu's onnx backend → the engine's
// deterministic pass (Caffe's TEST phase), and for the dropout cases the recorded masks replayed.
//
// Tolerance: max |mcu − reference| ≤ 1e-5 · max(|reference|, 1) per output — float32 kernels
// against a float64 reference of inputs O(1) (observed ≤ 1e-6).
import { afterAll, describe, expect, test } from 'vitest';
import { createMcu, ReplaySampler, type TensorData } from '@mcu/core';
import { onnxModule } from '@mcu/backend-onnx';
import { openCaffe } from '@mcu/format-caffe';
import { caffeLayerCases } from '@mcu/fixtures';
import { Capture, maxRelative } from './helpers/estimators.js';

/** Relative to max(|reference|, 1): the layer cases' inputs are O(1). */
const err = (got: ArrayLike<number>, want: ArrayLike<number>): number => maxRelative(got, want, 1);

const worst: [string, number][] = [];
afterAll(() => {
  worst.sort((a, b) => b[1] - a[1]);
  console.log(
    `caffe layer cases: ${worst.length}; largest errors: ${worst
      .slice(0, 5)
      .map(([n, e]) => `${n} ${e.toExponential(1)}`)
      .join(', ')}`,
  );
});

const cases = caffeLayerCases();

describe('Caffe layers against an independent computation', () => {
  test('the cases cover every layer the translator supports but Split-free data layers', async () => {
    const { SUPPORTED_LAYER_TYPES } = await import('@mcu/format-caffe');
    const types = new Set(cases.flatMap((c) => [...c.prototxt.matchAll(/type:\s*"([A-Za-z]+)"/g)].map((m) => m[1]!)));
    for (const t of SUPPORTED_LAYER_TYPES) if (t !== 'Input' && t !== 'Bias') expect(types, t).toContain(t);
  });

  test.each(cases.map((c) => [c.name, c] as const))('%s', async (name, c) => {
    // a net whose layers have no weights runs from an empty caffemodel (an empty NetParameter)
    const opened = openCaffe({ prototxt: c.prototxt, caffemodel: c.caffemodel ?? new Uint8Array(0), names: { prototxt: `${name}.prototxt` } });
    const mcu = createMcu({ backends: ['onnx'], modules: [onnxModule] });
    const model = await mcu.load(opened.source!);
    try {
      const feeds: Record<string, TensorData> = {};
      for (const [k, t] of Object.entries(c.inputs)) feeds[k] = { dtype: 'float32', data: t.data, dims: t.dims };
      // outputs in the order Caffe has them; an output that is also an input blob (ReLU in place on 'data') is renamed
      const names = opened.onnx!.outputs.map((o) => o.name);
      const wanted = Object.keys(c.outputs);
      expect(names.length).toBe(wanted.length);
      const det = await mcu.engine.deterministic(model, feeds);
      let e = 0;
      wanted.forEach((w, k) => {
        const got = det[names[k]!]!;
        expect([...got.dims]).toEqual(c.outputs[w]!.dims);
        e = Math.max(e, err(got.data as Float32Array, c.outputs[w]!.data));
      });
      for (const rec of c.exact ?? []) {
        const masks: Record<string, TensorData> = {};
        model.sites.forEach((s, k) => {
          const m = rec.masks[k]!;
          // a fork's scale_train: false keeps {0, 1} masks; its ONNX form is Dropout × (1 − p), so mcu's mask is m / (1 − p)
          const scale = c.sites?.[k]?.scale_train === false ? Math.fround(1 / (1 - m.p)) : 1;
          masks[s.name] = { dtype: 'float32', data: m.data.map((v) => v * scale), dims: [1, m.shape[0], ...s.maskShape] };
        });
        const cap = new Capture();
        await mcu.engine.run(model, feeds, { samples: 1, scope: 'point', sampler: new ReplaySampler(masks, model.sites), estimators: [cap] });
        wanted.forEach((w, k) => (e = Math.max(e, err(cap.out[names[k]!]!, rec.outputs[w]!.data))));
      }
      worst.push([name, e]);
      expect(e, name).toBeLessThanOrEqual(1e-5);
    } finally {
      await model.dispose();
    }
  });
});
