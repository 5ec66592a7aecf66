/** The one-call API: predict, evaluate and inspect a model without composing engine and estimators by hand. */
export {
  predict,
  type PredictOptions,
  type PredictResult,
  type OutputPrediction,
  type RegressionPrediction,
  type ClassificationPrediction,
} from './predict.js';
export {
  evaluate,
  effectiveSamples,
  LOW_EFFECTIVE_SAMPLES,
  type EvaluateOptions,
  type EvaluateResult,
  type RegressionEvaluation,
  type ClassificationEvaluation,
} from './evaluate.js';
export { outputRows, predictionMeta, type OutputRows, type RegressionRows, type ClassificationRows, type PredictionMeta, type SiteRow } from './rows.js';
export { inspect, type InspectOptions, type InspectResult, type InspectSelfCheck } from './inspect.js';
export {
  settingsOf,
  tasksOf,
  tauOf,
  type ApiRunOptions,
  type ResultMeta,
  type ApiProgressEvent,
  type RunWording,
  type Settings as RunSettings,
} from './run.js';
export { decideTask, resolveTasks, firstRow, knownPerRow, API_TASK_WORDING, type Task, type TaskOption, type OutputTask, type TaskWording } from './tasks.js';
export {
  resolveTau,
  assertTauApplies,
  API_TAU_WORDING,
  fitTauOnData,
  boundaryWarning,
  TAU_SEARCH_RANGE,
  type TauWording,
  type TauOption,
  type TauPrior,
  type FitTauData,
  type FittedTau,
} from './tau.js';
export {
  toFeeds,
  toTensor,
  rowDims,
  sliceRows,
  isStochasticModel,
  toModelSource,
  acquireModel,
  type ModelInput,
  type Inputs,
  type InputValue,
  type TensorLike,
  type NestedNumbers,
  type AcquiredModel,
} from './inputs.js';
