export { onnxModule } from './module.js';
export { OnnxNodeBackend, OnnxWebBackend, OnnxWebNodeBackend } from './backend.js';
export {
  parseOnnxOptions,
  OnnxOptionsSchema,
  GRAPH_OPTIMIZATION_LEVELS,
  type GraphOptimizationLevel,
  type OnnxLoadOptions,
  type OnnxOptionsInput,
} from './options.js';
export { SessionModel } from './runtime/session-model.js';
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
