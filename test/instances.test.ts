// Two createMcu instances with different settings in one process, on the bundled examples: run
// interleaved, each gives exactly what it gives alone; disposing one leaves the other working;
// each has its own mask kernel. TensorFlow.js's one engine is shared as tfjs makes it, and a
// conflicting wasm location is refused with E_CONFIG instead of one instance silently changing
// the other's (onnxruntime-web's env.wasm: packages/backend-onnx/test/web-env.test.ts).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createMcu, predict, type CreateMcuOptions, type Mcu, type RegressionPrediction } from '@mcu/core';
import { onnxModule } from '@mcu/backend-onnx';
import { loadTf, tfjsModule, wasmDir } from '@mcu/backend-tfjs';
import { TfjsWebBackend } from '@mcu/backend-tfjs/web';
import { expectMcuRejection } from './helpers/check.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const co2 = path.join(root, 'examples/co2_relu.preserve.onnx');
const twin = path.join(root, 'examples/twin/model.json');
const co2Rows = [[-1.75], [-0.5], [0.5], [1.5], [2.5], [4]];
const twinRows = [
  [-1.9982, -1.5619, 1.6156, 0.8592],
  [0.6588, -0.0459, -1.759, -1.26],
  [1.25, 0.5, -0.25, -1.5],
];

/** Mean and std of every output, and what ran. */
async function run(mcu: Mcu, model: string, rows: number[][], scope: 'sample' | 'point') {
  const r = await predict(model, rows, { mcu, samples: 100, seed: 5, tau: 50, scope });
  const outputs = Object.entries(r.outputs).map(([name, o]) => {
    const p = o as RegressionPrediction;
    return { name, mean: Array.from(p.mean), std: Array.from(p.std) };
  });
  return { outputs, backend: r.meta.backend, executionProvider: r.meta.executionProvider };
}

const onnxA: CreateMcuOptions = {
  modules: [onnxModule],
  backends: ['onnx'],
  backendOptions: { onnx: { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 } },
  memoryBudgetBytes: 4096,
};
const onnxB: CreateMcuOptions = { modules: [onnxModule], backends: ['onnx-web'] };
const tfjsCpu: CreateMcuOptions = { modules: [tfjsModule], backends: ['tfjs'], backendOptions: { tfjs: { backend: 'cpu' } }, memoryBudgetBytes: 8192 };
const tfjsWasm: CreateMcuOptions = { modules: [tfjsModule], backends: ['tfjs'], backendOptions: { tfjs: { backend: 'wasm' } } };

describe('two createMcu instances in one process', () => {
  it('onnx (native, no graph optimisation, small budget) and onnx-web (wasm), interleaved: each as alone', async () => {
    const aloneA = await run(createMcu(onnxA), co2, co2Rows, 'point');
    const aloneB = await run(createMcu(onnxB), co2, co2Rows, 'sample');
    expect(aloneA).toMatchObject({ backend: 'onnx', executionProvider: 'cpu' });
    expect(aloneB).toMatchObject({ backend: 'onnx-web', executionProvider: 'wasm' });
    const [a, b] = [createMcu(onnxA), createMcu(onnxB)];
    const [ra, rb] = await Promise.all([run(a, co2, co2Rows, 'point'), run(b, co2, co2Rows, 'sample')]);
    expect(ra).toEqual(aloneA);
    expect(rb).toEqual(aloneB);
    expect(a.engine.resources.maskKernel).not.toBe(b.engine.resources.maskKernel);
    expect(a.engine.resources.maskKernel.get()).not.toBe(b.engine.resources.maskKernel.get());
    await Promise.all([a.dispose(), b.dispose()]);
  });

  it('tfjs on cpu and tfjs on wasm (one TensorFlow.js engine), interleaved: each as alone', async () => {
    const aloneCpu = await run(createMcu(tfjsCpu), twin, twinRows, 'point');
    const aloneWasm = await run(createMcu(tfjsWasm), twin, twinRows, 'sample');
    expect(aloneCpu.executionProvider).toBe('cpu');
    expect(aloneWasm.executionProvider).toBe('wasm');
    const [a, b] = [createMcu(tfjsCpu), createMcu(tfjsWasm)];
    // twice each, so that the two instances' chunks alternate on the engine's one active backend
    const [ra, rb, ra2, rb2] = await Promise.all([
      run(a, twin, twinRows, 'point'),
      run(b, twin, twinRows, 'sample'),
      run(a, twin, twinRows, 'point'),
      run(b, twin, twinRows, 'sample'),
    ]);
    expect([ra, ra2]).toEqual([aloneCpu, aloneCpu]);
    expect([rb, rb2]).toEqual([aloneWasm, aloneWasm]);
    await Promise.all([a.dispose(), b.dispose()]);
  });

  it('disposing one frees its models and kernel; the other keeps working', async () => {
    const expected = await run(createMcu(onnxB), co2, co2Rows, 'point');
    const [a, b] = [createMcu(onnxA), createMcu(onnxB)];
    const modelA = await a.load({ kind: 'path', path: co2 });
    await Promise.all([run(a, co2, co2Rows, 'point'), run(b, co2, co2Rows, 'point')]);
    const kb = b.engine.resources.maskKernel;
    const bytesB = kb.memoryBytes;
    expect(bytesB).toBeGreaterThan(0);
    await a.dispose();
    expect(a.engine.resources.maskKernel.memoryBytes).toBe(0);
    const x = { x: { dtype: 'float32' as const, data: Float32Array.of(0.5), dims: [1, 1] } };
    await expect(modelA.run(x, {}, { samples: 1, scope: 'sample' })).rejects.toThrow();
    await expectMcuRejection(predict(co2, co2Rows, { mcu: a, samples: 10 }), 'E_CONFIG', /disposed/);
    expect(kb.memoryBytes).toBe(bytesB);
    expect(await run(b, co2, co2Rows, 'point')).toEqual(expected);
    await b.dispose();
  });
});

describe("TensorFlow.js's one engine: the wasm location is claimed once", () => {
  it('a backend asking for other wasm binaries than the engine started with is E_CONFIG; the others keep running', async () => {
    await run(createMcu(tfjsWasm), twin, twinRows, 'sample');
    const web = new TfjsWebBackend({ wasmPaths: '/elsewhere/', backends: ['wasm'] });
    const err = await expectMcuRejection(web.init(), 'E_CONFIG', "'/elsewhere/'", wasmDir(), 'give every tfjs backend the same wasmPaths');
    expect(err.message).toMatch(/started its wasm backend/);
    expect((await loadTf()).engine().registry['wasm']).toBeDefined();
    expect((await run(createMcu(tfjsWasm), twin, twinRows, 'sample')).executionProvider).toBe('wasm');
  });
});
