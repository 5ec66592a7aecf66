import { describe, expect, it } from 'vitest';
import { createMcu } from '@mcu/core';
import { tfjsModule } from '../src/index.js';

// Its own test file = its own process: nothing else has loaded tfjs here yet.
const tfLoaded = () => (globalThis as { _tfengine?: unknown })._tfengine !== undefined;

describe('tfjsModule', () => {
  it("registers 'tfjs' at priority 1 and loads TensorFlow.js only when the backend is resolved", async () => {
    expect(tfLoaded()).toBe(false);
    const mcu = createMcu({ modules: [tfjsModule] });
    expect(mcu.registry.status()).toEqual([{ name: 'tfjs', priority: 1, formats: ['tfjs-layers', 'onnx'], state: 'not-initialised' }]);
    expect(tfLoaded()).toBe(false);
    const backend = await mcu.registry.resolve(['tfjs']);
    expect(backend.name).toBe('tfjs');
    expect(tfLoaded()).toBe(true);
    expect(mcu.registry.status()[0]!.state).toBe('ready');
  });

  it('takes backendOptions.tfjs from the config', async () => {
    const mcu = createMcu({ modules: [tfjsModule], backends: ['tfjs'], backendOptions: { tfjs: { backend: 'cpu' } } });
    const model = await mcu.load({ kind: 'object', value: { input: 'x', output: 'y', inputSize: 1, layers: [] } });
    expect(model.backend).toBe('tfjs');
    expect(model.executionProvider).toBe('cpu');
    await model.dispose();
    const bad = createMcu({ modules: [tfjsModule], backends: ['tfjs'], backendOptions: { tfjs: { nope: true } } });
    await expect(bad.load({ kind: 'object', value: { input: 'x', output: 'y', inputSize: 1, layers: [] } })).rejects.toMatchObject({ code: 'E_CONFIG' });
  });
});
