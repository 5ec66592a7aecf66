// Tensors are freed: after a warm-up, tf.memory().numTensors does not grow over 1,000 backend
// calls (each call builds the masks, runs the graph in one tf.tidy and reads the outputs).
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { createMcu, randomMlp, RegressionEstimator } from '@mcu/core';
import { tfjsModule } from '../src/module.js';

describe('tfjs memory', () => {
  it('numTensors is stable over 1,000 chunks', async () => {
    const mcu = createMcu({ backends: ['tfjs'], modules: [tfjsModule], backendOptions: { tfjs: { backend: 'cpu' } } });
    const model = await mcu.load({ kind: 'object', value: randomMlp({ sizes: [3, 16, 1], rates: [0.2], activation: 'relu', seed: 1 }) });
    const feeds = { [model.inputs[0]!.name]: { dtype: 'float32' as const, data: new Float32Array([0.1, 0.2, 0.3, -1, 0, 1]), dims: [2, 3] } };
    const run = async (samples: number) => {
      const est = new RegressionEstimator({ output: model.outputs[0]!.name });
      // a memory budget of one sample per call: `samples` backend calls (chunks)
      await mcu.engine.run(model, feeds, { samples, seed: 3, estimators: [est], memoryBudgetBytes: 1 });
      return est.result();
    };
    let calls = 0;
    const run1 = model.run.bind(model);
    (model as { run: typeof model.run }).run = (...a) => {
      calls++;
      return run1(...a);
    };
    await run(10);
    const before = tf.memory().numTensors;
    calls = 0;
    await run(1000);
    expect(calls).toBeGreaterThanOrEqual(1000);
    expect(tf.memory().numTensors).toBe(before);
    await model.dispose();
    expect(tf.memory().numTensors).toBeLessThan(before);
  });
});
