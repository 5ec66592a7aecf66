import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { McuError } from '@mcu/core';

/** Execution providers mcu knows for onnxruntime-node, and how each is made available. */
export const NODE_PROVIDERS = ['cpu', 'webgpu', 'cuda'] as const;
export type NodeProvider = (typeof NODE_PROVIDERS)[number];

const CUDA_FIX =
  "its binaries are not installed: onnxruntime-node's npm package ships only cpu and webgpu; " +
  'reinstall with network access to the CUDA feed: ONNXRUNTIME_NODE_INSTALL=cuda12 pnpm install ' +
  '(needs CUDA 12 and cuDNN 9), or use --ep webgpu / --ep cpu';

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
    throw new McuError(
      'E_CONFIG',
      `execution provider '${ep}' is not supported by the onnx backend; supported: ${NODE_PROVIDERS.join(', ')} (onnx-web: wasm)`,
    );
  }
  if (ep === 'cuda') {
    const dir = nodeBinaryDir();
    const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
    if (dir === null || !existsSync(join(dir, lib))) {
      throw new McuError('E_PROVIDER', `execution provider 'cuda' cannot be loaded: ${CUDA_FIX}`);
    }
  }
}

/** Turn onnxruntime's session-creation failure for a provider into an error with the fix. */
export function providerError(ep: string, e: unknown): McuError {
  const raw = e instanceof Error ? e.message : String(e);
  const first = raw.split('\n')[0]!.slice(0, 300);
  let fix = '';
  if (ep === 'webgpu') {
    fix = /vulkan|adapter/i.test(raw)
      ? ' — no WebGPU adapter: install the Vulkan loader (Debian: libvulkan1) and a GPU driver with a Vulkan ICD (see shared/gpu/README.md), or use --ep cpu'
      : ' — or use --ep cpu';
  } else if (ep === 'cuda') {
    fix = ` — ${CUDA_FIX}`;
  }
  return new McuError('E_PROVIDER', `execution provider '${ep}' could not be initialised: ${first}${fix}`, { cause: e });
}
