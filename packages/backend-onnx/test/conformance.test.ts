import { describeBackendConformance } from '@mcu/core/testing';
import { OnnxNodeBackend, OnnxWebBackend } from '../src/backend.js';
import { mlpToOnnx } from './mlp-onnx.js';

describeBackendConformance({
  name: 'onnx (onnxruntime-node, cpu)',
  createBackend: async () => new OnnxNodeBackend(),
  loadMlp: (backend, spec) => backend.load({ kind: 'object', value: mlpToOnnx(spec) }, { executionProviders: ['cpu'] }),
});

describeBackendConformance({
  name: 'onnx-web (onnxruntime-web, wasm)',
  createBackend: async () => new OnnxWebBackend(),
  loadMlp: (backend, spec) => backend.load({ kind: 'object', value: mlpToOnnx(spec) }),
});
