// Gal & Ghahramani's variational RNN dropout, as Keras / TensorFlow.js implement it, against
// PyTorch (test/fixtures/tfjs/rnn, made by scripts/tfjs/make_tfjs_fixtures.py): LSTM, GRU
// (reset_after true and false), SimpleRNN and a backwards LSTM with `dropout` and
// `recurrent_dropout`, saved by tfjs's own model.save (gru_reset_after hand-written as the Keras 2
// converter writes it). PyTorch's time loop applies ONE input mask and ONE state mask per sequence,
// fixed over every time step; mcu's tfjs backend must find those two sites per layer (input first)
// and, given the same masks, give PyTorch's outputs.
//
// Tolerance: ≤ 1e-5 relative to the output scale (float32 through 6 time steps; PyTorch's
// reference is float64 rounded to float32).
import { describe, expect, test } from 'vitest';
import { createMcu, ReplaySampler, type TensorData } from '@mcu/core';
import { tfjsModule } from '@mcu/backend-tfjs';
import { TFJS_RNN_FIXTURES, tfjsRnnFixture } from '@mcu/fixtures';
import { Capture, maxRelative } from './helpers/estimators.js';

const rel = (got: ArrayLike<number>, want: ArrayLike<number>): number => maxRelative(got, want);

describe('variational RNN dropout on tfjs against PyTorch', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    for (const name of TFJS_RNN_FIXTURES) {
      test(`${name} (${backend})`, async () => {
        const f = tfjsRnnFixture(name);
        const ref = f.ref;
        const mcu = createMcu({ backends: ['tfjs'], modules: [tfjsModule], backendOptions: { tfjs: { backend } } });
        const model = await mcu.load({ kind: 'path', path: f.modelJsonPath });
        try {
          // two sites per recurrent layer: its input dropout, then its state dropout
          // (the fixture records p as float32)
          expect(model.sites.map((s) => [s.name, s.kind, Math.fround(s.rate), [...s.maskShape]])).toEqual(
            ref.sites.map((s) => [s.name, 'bernoulli', Math.fround(s.p), [s.perRow]]),
          );
          const feeds: Record<string, TensorData> = { [model.inputs[0]!.name]: { dtype: 'float32', data: ref.input.data, dims: ref.input.dims } };
          const n = ref.input.dims[0]!;
          const out = model.outputs.map((o) => o.name);
          expect(out).toHaveLength(1);
          const det = await mcu.engine.deterministic(model, feeds);
          expect(rel(det[out[0]!]!.data as Float32Array, ref.standard.outputs[ref.output]!.data)).toBeLessThanOrEqual(1e-5);
          for (const rec of ref.exact) {
            const masks: Record<string, TensorData> = {};
            model.sites.forEach((s, k) => {
              const m = rec.masks[k]!;
              expect(m.site).toBe(s.name);
              masks[s.name] = { dtype: 'float32', data: m.data, dims: [1, n, ...s.maskShape] };
            });
            const cap = new Capture();
            await mcu.engine.run(model, feeds, { samples: 1, scope: 'point', sampler: new ReplaySampler(masks, model.sites), estimators: [cap] });
            expect(rel(cap.out[out[0]!]!, rec.outputs[ref.output]!.data)).toBeLessThanOrEqual(1e-5);
          }
        } finally {
          await model.dispose();
        }
      });
    }
  }
});
