/**
 * What the onnx backends have installed, from the files alone (no runtime loaded): `mcu backends`
 * without --probe. Node only.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { BackendInfo } from '@mcu/core';
import { checkNodeProvider, nodeBinaryDir, NODE_PROVIDERS } from './providers.js';

/** Why the webgpu provider cannot start on Linux without the Vulkan loader, and the fix. */
export const VULKAN_MISSING =
  'the Vulkan loader (libvulkan.so.1) is not installed — install libvulkan1 and a GPU driver with a Vulkan ICD (see shared/gpu/README.md), or use --ep cpu';

/** Linux: the WebGPU EP reaches the GPU through Vulkan; without its loader the probe only prints noise. */
export function vulkanLoaderMissing(): boolean {
  if (process.platform !== 'linux') return false;
  const dirs = [
    ...(process.env['LD_LIBRARY_PATH'] ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu',
    '/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/usr/local/lib',
  ];
  return !dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
}

/** onnxruntime-node's providers from its installed files, without loading it (`mcu backends` in milliseconds). */
export function installedNode(name: string): BackendInfo {
  const dir = nodeBinaryDir();
  if (dir === null) {
    const reason = `onnxruntime-node is not installed for ${process.platform}-${process.arch}: npm install onnxruntime-node next to @mcu/backend-onnx, or use the onnx-web backend (wasm)`;
    return {
      name,
      available: false,
      probed: false,
      reason,
      executionProviders: NODE_PROVIDERS.map((ep) => ({ name: ep, available: false, reason: 'onnxruntime-node is not installed' })),
    };
  }
  const providers = NODE_PROVIDERS.map((ep) => {
    try {
      checkNodeProvider(ep); // cuda: its libraries are there
      if (ep === 'cpu' && !existsSync(join(dir, 'onnxruntime_binding.node'))) {
        return { name: ep, available: false, reason: `onnxruntime-node's binding is missing from ${dir}: reinstall onnxruntime-node` };
      }
      if (ep === 'webgpu') {
        if (vulkanLoaderMissing()) return { name: ep, available: false, reason: VULKAN_MISSING };
        return { name: ep, available: true, reason: 'starting it needs a GPU adapter (a Vulkan driver on Linux)' };
      }
      return { name: ep, available: true };
    } catch (e) {
      return { name: ep, available: false, reason: e instanceof Error ? e.message : String(e) };
    }
  });
  return { name, available: true, probed: false, executionProviders: providers };
}

/** onnxruntime-web's wasm runtime from its installed files, without starting it. */
export function installedWeb(name: string): BackendInfo {
  let reason: string | undefined;
  try {
    const dir = dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
    if (!existsSync(join(dir, 'ort-wasm-simd-threaded.wasm')))
      reason = `onnxruntime-web's wasm runtime (ort-wasm-simd-threaded.wasm) is missing from ${dir}: reinstall onnxruntime-web`;
  } catch {
    reason = 'onnxruntime-web is not installed: npm install onnxruntime-web next to @mcu/backend-onnx';
  }
  return reason === undefined
    ? { name: name, available: true, probed: false, executionProviders: [{ name: 'wasm', available: true }] }
    : { name: name, available: false, probed: false, reason, executionProviders: [{ name: 'wasm', available: false, reason }] };
}
