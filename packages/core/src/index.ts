export * from './errors.js';
export * from './tensor.js';
export * from './model.js';
export { TOKENS } from './tokens.js';
export * from './sampling/index.js';
export type { Sampler, SamplerFactory, SamplerOptions, MaskRequest } from './sampling/sampler.js';
export * from './estimators/index.js';
export type { Estimator, Chunk } from './estimators/estimator.js';
export { McEngine, sitesFor, TOLERANCE_CHECKS, REDUCE_IN_GRAPH_MIN_VALUES, type McRunOptions, type RunMeta, type ProgressEvent } from './engine/engine.js';
export { syntheticFeeds, syntheticInput } from './engine/synthetic.js';
export { sampleFunction, type PosteriorSample, type SampleFunctionOptions } from './engine/posterior.js';
export { selfCheck, RELATIVE_TOLERANCE, ABSOLUTE_TOLERANCE, type SelfCheckReport } from './engine/self-check.js';
export { bytesPerSample, chunkSamplesFor, REDUCED_OUTPUT_COPIES, type ReducedCall } from './engine/chunking.js';
export { BackendRegistry, bindBackend, type BackendStatus } from './di/registry.js';
export { coreModule, createMcu, type Mcu, type CreateMcuOptions } from './di/container.js';
export { DEFAULT_MEMORY_BUDGET_BYTES, type McuConfig } from './di/config.js';
export { ReferenceBackend } from './reference/backend.js';
export { randomMlp, validateMlp, type MlpSpec, type MlpLayer } from './reference/mlp.js';
export { VERSION } from './version.js';
export * from './api/index.js';
export {
  oneOf,
  integerAtLeast,
  parseOptions,
  optionsIssueMessage,
  PositiveNumberSchema,
  RateSchema,
  TASKS,
  TaskSchema,
  TaskOptionSchema,
  MASK_SCOPES,
  MaskScopeSchema,
  DROPOUT_SCALINGS,
  DropoutScalingSchema,
  RUN_OPTIONS_ENTRIES,
  RunOptionsSchema,
  type RunOptionsDocument,
  type DecidedTask,
  type OptionsWording,
} from './options-schema.js';
