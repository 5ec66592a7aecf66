import { ContainerModule } from 'inversify';
import { bindBackend } from '@mcu/core';

/**
 * Registers the tfjs backend (priority 1: below onnx's 10) for TensorFlow.js layers models and ONNX files:
 * a model.json goes to it when no backend is named; MlpSpec objects when it is named or
 * onnx cannot start. The factory imports it lazily: `mcu --help` loads no TensorFlow.js.
 */
export const tfjsModule = new ContainerModule((options) => {
  bindBackend(options, {
    name: 'tfjs',
    priority: 1,
    formats: ['tfjs-layers', 'onnx'],
    create: async () => new (await import('./backend.js')).TfjsBackend(),
    installed: async () => (await import('./runtime-node.js')).installedRuntimes('tfjs'),
  });
});
