import { ContainerModule } from 'inversify';
import { bindBackend } from '@mcu/core';

/**
 * Registers the tfjs backend (priority 1: below onnx's 10, so it is used when onnx cannot
 * start or when named). The factory imports it lazily: `mcu --help` loads no TensorFlow.js.
 */
export const tfjsModule = new ContainerModule((options) => {
  bindBackend(options, {
    name: 'tfjs',
    priority: 1,
    create: async () => new (await import('./backend.js')).TfjsBackend(),
  });
});
