/** Node: tfjs-backend-wasm's .wasm binaries are in its own dist/ folder, resolved from here; what is installed. */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { BackendInfo } from '@mcu/core';
import { TFJS_BACKENDS } from './options.js';
import { dirname } from 'node:path';

/** The folder that holds tfjs-backend-wasm's .wasm binaries (its dist/). */
export function wasmDir(): string {
  const require = createRequire(import.meta.url);
  return `${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`;
}

/** Whether `specifier` resolves from here (an installed package), without loading it. */
export function installed(specifier: string): boolean {
  try {
    createRequire(import.meta.url).resolve(specifier);
    return true;
  } catch {
    return false;
  }
}

/**
 * What `mcu backends` shows for the Node tfjs backend without starting anything: which packages
 * and wasm binaries are installed (tensorflow needs @tensorflow/tfjs-node, wasm its .wasm files).
 */
export function installedRuntimes(backend: string): BackendInfo {
  if (!installed('@tensorflow/tfjs')) {
    const reason = "@tensorflow/tfjs is not installed: reinstall @mcu/backend-tfjs's dependencies";
    return {
      name: backend,
      available: false,
      probed: false,
      reason,
      executionProviders: TFJS_BACKENDS.map((name) => ({ name, available: false, reason: '@tensorflow/tfjs is not installed' })),
    };
  }
  const executionProviders = TFJS_BACKENDS.map((name) => {
    switch (name) {
      case 'tensorflow':
        return installed('@tensorflow/tfjs-node')
          ? { name, available: true }
          : {
              name,
              available: false,
              reason:
                '@tensorflow/tfjs-node is not installed (its install downloads libtensorflow, which needs network access to storage.googleapis.com): use --ep wasm or cpu, or install @tensorflow/tfjs-node next to @mcu/backend-tfjs',
            };
      case 'wasm': {
        if (!installed('@tensorflow/tfjs-backend-wasm'))
          return { name, available: false, reason: "@tensorflow/tfjs-backend-wasm is not installed: reinstall @mcu/backend-tfjs's dependencies" };
        const file = `${wasmDir()}tfjs-backend-wasm.wasm`;
        return existsSync(file) ? { name, available: true } : { name, available: false, reason: `${file} is missing: reinstall @tensorflow/tfjs-backend-wasm` };
      }
      case 'cpu':
        return { name, available: true };
    }
  });
  return { name: backend, available: true, probed: false, executionProviders };
}
