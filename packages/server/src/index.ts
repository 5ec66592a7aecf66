/** @mcu/server: `mcu serve` as a library — Monte Carlo dropout predictions over HTTP. */
export { createServer, type ServerOptions, type ServerLimits, type McuServer } from './server.js';
export { modelFiles, loadModels, isModelName, MODEL_NAME, type ServedModel } from './models.js';
export { errorAnswer, HttpError, SERVER_ERROR_CODES, type ServerErrorCode, type ErrorBody } from './errors.js';
export { predictResponse, type PredictResponse, type PredictMeta, type SiteMeta } from './result.js';
export { openApiDocument, type RouteDoc } from './openapi.js';
export { SCHEMAS, predictBody } from './schemas.js';
export type { RequestOptions, RunOptions, BatcherLimits } from './batcher.js';
