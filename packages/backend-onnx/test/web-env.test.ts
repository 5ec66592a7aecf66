// onnxruntime-web's env.wasm is one per page (or process): the onnx-web backend reads it first,
// sets only what nobody set, and refuses a second location for the .wasm files (E_CONFIG)
// instead of silently changing what another instance or the host page chose.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { createMcu, RegressionEstimator } from '@mcu/core';
import { onnxModule, OnnxWebNodeBackend } from '../src/index.js';
import { applyWasmFlags, type OrtWasmFlags } from '../src/backend-web.js';
import { expectMcuError, expectMcuRejection } from '../../../test/helpers/check.js';

const co2 = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../examples/co2_relu.preserve.onnx');

/** Predictive mean of the bundled example on onnx-web (wasm) through a fresh Mcu. */
async function meanOnWeb(): Promise<number[]> {
  const mcu = createMcu({ modules: [onnxModule], backends: ['onnx-web'] });
  const model = await mcu.load({ kind: 'path', path: co2 });
  const est = new RegressionEstimator({ output: model.outputs[0]!.name });
  await mcu.engine.run(model, { x: { dtype: 'float32', data: Float32Array.of(-1, 0.5, 3), dims: [3, 1] } }, { samples: 20, seed: 2, estimators: [est] });
  await mcu.dispose();
  return Array.from(est.result().mean);
}

describe("onnx-web and onnxruntime-web's env.wasm", () => {
  it('sets numThreads 1 and the wasmPaths asked for only where nobody set them', () => {
    const fresh: OrtWasmFlags = {};
    applyWasmFlags(fresh, { wasmPaths: '/ort/' });
    expect(fresh).toEqual({ numThreads: 1, wasmPaths: '/ort/' });
    const host: OrtWasmFlags = { numThreads: 4, wasmPaths: '/cdn/ort/' };
    applyWasmFlags(host, {});
    applyWasmFlags(host, { wasmPaths: '/cdn/ort/' });
    expect(host).toEqual({ numThreads: 4, wasmPaths: '/cdn/ort/' });
  });

  it('refuses another wasmPaths than the page (or another instance) set, or once the runtime started from its default', () => {
    const set: OrtWasmFlags = { wasmPaths: '/cdn/ort/' };
    const err = expectMcuError(
      () => applyWasmFlags(set, { wasmPaths: '/ort/' }),
      'E_CONFIG',
      "wasmPaths '/ort/' was asked for",
      "already '/cdn/ort/'",
      'give every onnxWebModule the same wasmPaths',
    );
    expect(err.message).toMatch(/once per page/);
    expect(set).toEqual({ wasmPaths: '/cdn/ort/' });
    const started: OrtWasmFlags = { numThreads: 1, initTimeout: 0, proxy: false, trace: false };
    expectMcuError(
      () => applyWasmFlags(started, { wasmPaths: '/ort/' }),
      'E_CONFIG',
      'already started its WebAssembly runtime',
      'pass wasmPaths to the first onnxWebModule',
    );
    expect(started.wasmPaths).toBeUndefined();
  });

  it('on the real runtime: once an instance ran, another asking for other .wasm files is E_CONFIG and changes nothing', async () => {
    const first = await meanOnWeb();
    expect(ort.env.wasm.numThreads).toBe(1);
    const before = { ...ort.env.wasm };
    await expectMcuRejection(new OnnxWebNodeBackend({ wasmPaths: '/elsewhere/' }).init(), 'E_CONFIG', "wasmPaths '/elsewhere/'", 'already started');
    expect({ ...ort.env.wasm }).toEqual(before);
    // instances without wasmPaths share the page's settings and run as before
    expect(await meanOnWeb()).toEqual(first);
  });
});
