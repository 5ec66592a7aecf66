// The loaded model tells the engine how much of a pass lies before the first dropout site
// (from the FLOP count), which sizes its chunks: LeNet's convolutions come before its one
// site; the co2 MLP has dropout from its second layer on.
import { describe, expect, it } from 'vitest';
import { fixturePath } from '../../../test/helpers/fixtures.js';
import { OnnxNodeBackend } from '../src/backend.js';

describe('SessionModel.shareBeforeFirstSite', () => {
  it.each([
    ['pytorch-1.13/lenet.preserve.onnx', 0.9, 1],
    ['pytorch-1.13-small/co2_relu.preserve.onnx', 0, 0.01],
  ])('%s: between %d and %d', async (rel, lo, hi) => {
    const model = await new OnnxNodeBackend().load({ kind: 'path', path: fixturePath(rel) });
    try {
      expect(model.shareBeforeFirstSite).toBeGreaterThanOrEqual(lo);
      expect(model.shareBeforeFirstSite).toBeLessThanOrEqual(hi);
    } finally {
      await model.dispose();
    }
  });
});
