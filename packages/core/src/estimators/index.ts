export type { Chunk, Estimator, ReducedChunk } from './estimator.js';
export { reducedUsable } from './reduced.js';
export type { TargetsInput, LabelsInput } from './input.js';
export { StreamingLogSumExp } from './logsumexp.js';
export { DEFAULT_MC_BATCHES, MAX_BATCH_VALUES } from './batch-means.js';
export {
  softmaxInto,
  softmaxEntropy,
  entropy,
  argmax,
  rootMeanSquaredError,
  expectedCalibrationError,
  type NumericArray,
} from './metrics.js';
export {
  RegressionEstimator,
  deterministicRegression,
  type RegressionEstimatorOptions,
  type RegressionResult,
  type DeterministicRegressionOptions,
  type DeterministicRegressionResult,
} from './regression.js';
export {
  ClassificationEstimator,
  type ClassificationEstimatorOptions,
  type ClassificationResult,
} from './classification.js';
export {
  tauFromWeightDecay,
  weightDecayFromTau,
  SquaredErrorCollector,
  fitTau,
  logLikelihoodForTau,
  type WeightDecayParams,
  type TauParams,
  type SquaredErrorCollectorOptions,
  type SquaredErrors,
  type FitTauOptions,
  type FitTauResult,
} from './tau.js';
export { SampleCollector, type SampleCollectorOptions, type CollectedSamples } from './samples.js';
