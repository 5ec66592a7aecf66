export { tfjsModule } from './module.js';
export { TfjsBackend } from './backend.js';
export { TfjsModel } from './model.js';
export { parseTfjsOptions, TFJS_BACKENDS, type TfjsBackendName, type TfjsOptions } from './options.js';
export { loadLayersModelFile, parseLayersModel, parseLayersModelJson, SUPPORTED_LAYERS, type LayersModelOrigin } from './keras.js';
export { mlpNetwork } from './mlp.js';
export type { Activation, NetLayer, NetworkSpec } from './network.js';
export { loadTf, ensureBackend, chooseBackend, exclusive, wasmDir, type Tf } from './runtime.js';
