// The self-check on real onnxruntime sessions: a correct rewrite passes; a deliberately broken
// one (a graph that reads the masks' samples as rows) is refused before it yields numbers,
// naming the node where samples mix.
import { describe, expect, test } from 'vitest';
import { createMcu, RegressionEstimator, type StochasticModel, type TensorData } from '@mcu/core';
import { fixtureBytes } from '../../../test/helpers/fixtures.js';
import { expectMcuRejection } from '../../../test/helpers/check.js';
import { onnxModule } from '../src/module.js';
import { decodeModel, encodeModel } from '../src/proto/codec.js';
import { prepareModel } from '../src/graph/prepare.js';
import type { NodeProto } from '../src/proto/types.js';

const mcu = () => createMcu({ backends: ['onnx'], modules: [onnxModule] });
const x = (n: number): Record<string, TensorData> => ({
  x: { dtype: 'float32', data: Float32Array.from({ length: n }, (_, i) => -1 + (2 * i) / n), dims: [n, 1] },
});

/** The prepared co2 model with its first mask read as [N, S, …] instead of [S, N, …]. */
function brokenRewrite(): Uint8Array {
  const p = prepareModel(decodeModel(fixtureBytes('pytorch-1.13-small/co2_relu.preserve.onnx')));
  const g = p.model.graph!;
  const mask = p.sites[0]!.name;
  const swapped = 'broken/mask_samples_as_rows';
  const nodes: NodeProto[] = [
    { name: 'broken/shape', op_type: 'Shape', domain: '', input: [mask], output: ['broken/mask_shape'] },
    {
      name: 'broken/transpose',
      op_type: 'Transpose',
      domain: '',
      input: [mask],
      output: ['broken/mask_t'],
      attribute: [{ name: 'perm', type: 7, ints: [1n, 0n, 2n] }],
    },
    { name: 'broken/reshape', op_type: 'Reshape', domain: '', input: ['broken/mask_t', 'broken/mask_shape'], output: [swapped] },
  ];
  for (const n of g.node ?? []) n.input = (n.input ?? []).map((i) => (i === mask ? swapped : i));
  g.node = [...nodes, ...(g.node ?? [])];
  return encodeModel(p.model);
}

describe('self-check on onnxruntime', () => {
  test('the correct rewrite of co2 passes (2 rows × 2 samples against each pair alone)', async () => {
    const m = mcu();
    const model = await m.load({ kind: 'bytes', bytes: fixtureBytes('pytorch-1.13-small/co2_relu.preserve.onnx') });
    const est = new RegressionEstimator({ output: model.outputs[0]!.name });
    const meta = await m.engine.run(model, x(5), { samples: 20, seed: 1, estimators: [est] });
    expect(meta.selfCheck).toMatchObject({ passed: true, rows: 2, samples: 2 });
    expect(meta.selfCheck!.maxDifference).toBeLessThanOrEqual(meta.selfCheck!.tolerance);
    expect(model.hash).toMatch(/^sha256:[0-9a-f]{64}@cpu$/);
    await model.dispose();
  });

  test('a graph that reads samples as rows is refused, naming the first node where samples mix', async () => {
    const m = mcu();
    // A prepared model (metadata mcu.sites) is run as it is: the broken graph reaches the session.
    const model: StochasticModel = await m.load({ kind: 'bytes', bytes: brokenRewrite() });
    // Its runs with one sample or one row look fine …
    const ones = Object.fromEntries(
      model.sites.map((s) => [s.name, { dtype: 'float32', data: new Float32Array(128).fill(1), dims: [1, 1, 128] } as TensorData]),
    );
    const one = await model.run(x(3), ones, { samples: 1, scope: 'sample' });
    expect(one[model.outputs[0]!.name]!.dims[0]).toBe(3);
    // … but the self-check's joint run exposes the mixing, before any statistics.
    const est = new RegressionEstimator({ output: model.outputs[0]!.name });
    const err = await expectMcuRejection(m.engine.run(model, x(5), { samples: 20, seed: 1, estimators: [est] }), 'E_UNSUPPORTED', /self-check failed/);
    // the first activation that differs: the product of the first site (the corrupted mask feeds it)
    expect(err.message).toMatch(/first at \w+ node 'mcu\/site1\//);
    // no statistics were produced
    expect(() => est.result()).toThrow(/no MC samples/);
    await model.dispose();
  });
});
