export { onnxModule } from './module.js';
export { OnnxNodeBackend, OnnxWebBackend, OnnxWebNodeBackend } from './backend.js';
export { parseOnnxOptions, type OnnxLoadOptions } from './options.js';
export { SessionModel } from './runtime/session-model.js';
export * from './proto/index.js';
export * from './graph/index.js';
