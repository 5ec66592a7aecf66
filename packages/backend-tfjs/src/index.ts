export { tfjsModule } from './module.js';
export { TfjsBackend } from './backend.js';
export { TfjsModel } from './model.js';
export {
  parseTfjsOptions,
  TfjsOptionsSchema,
  TFJS_BACKENDS,
  TFJS_WEB_BACKENDS,
  type TfjsBackendName,
  type TfjsRuntimeName,
  type TfjsOptions,
} from './options.js';
export { parseLayersModel, parseLayersModelJson, SUPPORTED_LAYERS, type LayersModelOrigin } from './keras.js';
export { folderShardReader, loadLayersModelFile } from './keras-node.js';
export { mlpNetwork } from './mlp.js';
export type { Activation } from './network.js';
export { KERAS_OPS } from './keras-ops.js';
export { loadTf, ensureBackend, chooseBackend, exclusive, setWasmLocation, type Tf } from './runtime.js';
export { wasmDir } from './runtime-node.js';
