import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { McuError } from '@mcu/core';
import { CUDA_FIX } from './provider-errors.js';

/** Execution providers mcu knows for onnxruntime-node, and how each is made available. */
export const NODE_PROVIDERS = ['cpu', 'webgpu', 'cuda'] as const;
export type NodeProvider = (typeof NODE_PROVIDERS)[number];

/** Where onnxruntime-node keeps its native libraries on this platform (null if not found). */
export function nodeBinaryDir(): string | null {
  try {
    const require = createRequire(import.meta.url);
    const main = require.resolve('onnxruntime-node');
    const root = join(dirname(main), '..');
    const dir = join(root, 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(dir) ? dir : null;
  } catch {
    return null;
  }
}

/**
 * Check a provider BEFORE asking onnxruntime for it: onnxruntime prints native errors to
 * stderr when a provider library is missing, and its message does not say how to fix it.
 */
export function checkNodeProvider(ep: string): void {
  if (!(NODE_PROVIDERS as readonly string[]).includes(ep)) {
    // A name mcu does not know is a bad value (exit 2), unlike a known provider that cannot load.
    throw new McuError('E_CONFIG', `execution provider '${ep}' is not supported by the onnx backend; supported: ${NODE_PROVIDERS.join(', ')} (onnx-web: wasm)`);
  }
  if (ep === 'cuda') {
    const dir = nodeBinaryDir();
    const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
    if (dir === null || !existsSync(join(dir, lib))) {
      throw new McuError('E_PROVIDER', `execution provider 'cuda' cannot be loaded: ${CUDA_FIX}`);
    }
  }
}
