/**
 * The JSON Schema of every route: fastify validates requests with them, and the OpenAPI
 * document (openapi.ts) is made from them — one definition of the HTTP contract.
 */
const errorBody = {
  type: 'object',
  description:
    'Every error answer: a stable code (README "Error codes and exit statuses", "Serving") and a one-line message naming what was expected, what came and the fix',
  required: ['code', 'message'],
  properties: { code: { type: 'string' }, message: { type: 'string' } },
} as const;

const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, errorBody]));

const name = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', description: 'A model name from GET /v1/models (the model file stem); never a path' } },
} as const;

const rows = { type: 'array', description: 'Rows: [N] (one value each), [N][D] or deeper ([N][C][H][W])' } as const;
const base64Tensor = {
  type: 'object',
  required: ['data', 'dims'],
  properties: {
    data: { type: 'string', description: 'float32 values, little-endian, row-major, base64-encoded' },
    dims: { type: 'array', items: { type: 'integer', minimum: 0 } },
  },
} as const;

/** The body of a predict request. */
export const predictBody = {
  type: 'object',
  required: ['inputs'],
  additionalProperties: false,
  properties: {
    inputs: {
      description: 'The rows: nested arrays or a base64 float32 tensor for a one-input model, or either by input name ({ "x": [[…]] })',
      anyOf: [rows, base64Tensor, { type: 'object', additionalProperties: { anyOf: [rows, base64Tensor] } }],
    },
    options: {
      type: 'object',
      additionalProperties: false,
      properties: {
        samples: { type: 'integer', minimum: 1, description: 'Monte Carlo samples T (default 100; at most the server\u2019s --max-samples)' },
        seed: { type: 'integer', minimum: 0, maximum: 4294967295, description: 'Seed of the masks (default 0): the same seed gives the same masks' },
        task: {
          description: "'auto' (default), 'regression', 'classification', or by output name",
          anyOf: [
            { type: 'string', enum: ['auto', 'regression', 'classification'] },
            { type: 'object', additionalProperties: { type: 'string', enum: ['auto', 'regression', 'classification'] } },
          ],
        },
        tau: { type: 'number', exclusiveMinimum: 0, description: 'Model precision τ: regression variances add τ⁻¹' },
        maskScope: {
          type: 'string',
          enum: ['sample', 'point'],
          description: "'sample' (default): one mask per sample shared by every row; 'point': one per row",
        },
      },
    },
  },
} as const;

const predictAnswer = {
  type: 'object',
  description: 'The JSON of `mcu predict --format json`: meta, and per output its values per input row',
  required: ['meta', 'outputs'],
  properties: {
    meta: { type: 'object', additionalProperties: true },
    outputs: { type: 'object', additionalProperties: { type: 'object', additionalProperties: true } },
  },
} as const;

const status = { type: 'object', required: ['status'], properties: { status: { type: 'string' } } } as const;

/** Route schemas by route; `summary` and `tags` go to the OpenAPI document. */
export const SCHEMAS = {
  predict: {
    summary: 'Monte Carlo dropout predictive distribution of the given rows',
    tags: ['predict'],
    params: name,
    body: predictBody,
    response: { 200: predictAnswer, ...errors(400, 404, 413, 415, 429, 500, 503, 504) },
  },
  models: {
    summary: 'The models this server answers for',
    tags: ['models'],
    response: {
      200: {
        type: 'object',
        required: ['models'],
        properties: { models: { type: 'array', items: { type: 'object', additionalProperties: true } } },
      },
    },
  },
  model: {
    summary: 'What mcu inspect says about one model: inputs, outputs, stochastic sites, warnings, self-check',
    tags: ['models'],
    params: name,
    response: { 200: { type: 'object', additionalProperties: true }, ...errors(400, 404) },
  },
  healthz: { summary: 'Liveness: the process answers', tags: ['health'], response: { 200: status } },
  readyz: { summary: 'Readiness: models loaded and not shutting down', tags: ['health'], response: { 200: status, 503: status } },
  metrics: { summary: 'Prometheus metrics (text exposition format)', tags: ['health'] },
  openapi: { summary: 'This document', tags: ['health'] },
} as const;
