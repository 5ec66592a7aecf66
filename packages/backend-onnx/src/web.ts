/**
 * @mcu/backend-onnx/web — the browser entry: onnxruntime-web (wasm) and the graph preparation,
 * with nothing that needs Node (no file system: models come as bytes).
 */
import { ContainerModule } from 'inversify';
import { bindBackend } from '@mcu/core';
import { OnnxWebBackend } from './backend-web.js';

export { OnnxWebBackend };
// the option schema, its types and value lists (also @mcu/backend-onnx/options)
export * from './options.js';
export { prepareModel, type PrepareOptions, type PreparedModel } from './graph/prepare.js';
export { inspectModel, type ModelInspection } from './graph/inspect.js';
export { countFlops, type FlopCount } from './graph/flops.js';
export * from './proto/index.js';

/**
 * Registers 'onnx-web' for browser pages; `wasmPaths` says where the .wasm files are served.
 * onnxruntime-web's settings are one per page: a value the page set is kept (`numThreads` is set
 * to 1 only when the page did not choose one), and every onnxWebModule in one page must give the
 * same `wasmPaths` (or none) — another one is E_CONFIG when its backend starts.
 */
export function onnxWebModule(config: { readonly wasmPaths?: string } = {}): ContainerModule {
  return new ContainerModule((options) => {
    bindBackend(options, { name: 'onnx-web', priority: 5, formats: ['onnx'], create: () => new OnnxWebBackend(config) });
  });
}
