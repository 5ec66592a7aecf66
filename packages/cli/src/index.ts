export { main, type MainIo } from './main.js';
export { parseArgs, helpText, type ParsedArgs, type CliOptions } from './args.js';
export { loadConfig, mergeSettings, validateConfig, ConfigSchema, type Settings, type ConfigFile } from './config.js';
export { makePlan, decideTask, type Plan, type OutputTask, type TaskPlan, type TauPlan, type BackendPlan, type EnginePlan } from './plan.js';
export type { PredictResult, PredictMeta, RegressionOutput, ClassificationOutput } from './io/result.js';
export { configJsonSchema, CONFIG_JSON_SCHEMA_FILE } from './config-schema.js';
