export { onnxModule } from './module.js';
export { OnnxNodeBackend, OnnxWebBackend, OnnxWebNodeBackend } from './backend.js';
// the option schema, its types and value lists (also @mcu/backend-onnx/options)
export * from './options.js';
export { SessionModel } from './runtime/session-model.js';
export { defaultCacheDir } from './cache/dir.js';
export { optOutOfOrtTelemetry, ORT_TELEMETRY_VARIABLE } from './runtime/telemetry.js';
export { PreparedCache, MAX_AGE_DAYS, MAX_TOTAL_BYTES } from './cache/store.js';
export * from './proto/index.js';
export * from './graph/index.js';
export {
  bakeModel,
  readBakedMetadata,
  BAKED_KEY,
  type BakeOptions,
  type BakedModel,
  type BakeDescription,
  type BakedOutput,
} from './graph/bake.js';
