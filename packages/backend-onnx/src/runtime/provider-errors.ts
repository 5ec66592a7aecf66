import { McuError } from '@mcu/core';

/** How to get the CUDA provider that onnxruntime-node's npm package does not ship. */
export const CUDA_FIX =
  "its binaries are not installed: onnxruntime-node's npm package ships only cpu and webgpu; " +
  'reinstall with network access to the CUDA feed: ONNXRUNTIME_NODE_INSTALL=cuda12 pnpm install ' +
  '(needs CUDA 12 and cuDNN 9), or use --ep webgpu / --ep cpu';

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
