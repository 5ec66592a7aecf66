import { ContainerModule } from 'inversify';
import { bindBackend } from '@mcu/core';

/**
 * Registers the onnx backends by name and priority. Factories import the runtimes lazily:
 * nothing native loads until a backend is chosen (`mcu --help` loads no onnxruntime).
 */
export const onnxModule = new ContainerModule((options) => {
  bindBackend(options, {
    name: 'onnx',
    priority: 10,
    formats: ['onnx'],
    create: async () => new (await import('./backend.js')).OnnxNodeBackend(),
    installed: async () => (await import('./runtime/installed.js')).installedNode('onnx'),
  });
  bindBackend(options, {
    name: 'onnx-web',
    priority: 5,
    formats: ['onnx'],
    create: async () => new (await import('./backend.js')).OnnxWebNodeBackend(),
    installed: async () => (await import('./runtime/installed.js')).installedWeb('onnx-web'),
  });
});
