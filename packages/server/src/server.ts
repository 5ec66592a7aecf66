/**
 * `createServer`: the HTTP service of `mcu serve` as a library. Models are loaded once at
 * start; predict requests are checked, coalesced (batcher.ts) and answered with the JSON of
 * `mcu predict --format json`. Nothing is kept between requests, so instances scale out behind
 * any load balancer.
 */
import { createMcu, McuError, type Mcu } from '@mcu/core';
import { onnxModule } from '@mcu/backend-onnx/module';
import { tfjsModule } from '@mcu/backend-tfjs/module';
import Fastify, { type FastifyInstance, type FastifySchema, type FastifyServerOptions } from 'fastify';
import { Batcher, type RequestOptions, type RunOptions } from './batcher.js';
import { errorAnswer, HttpError } from './errors.js';
import { feedsOf } from './inputs.js';
import { createMetrics } from './metrics.js';
import { isModelName, loadModels, modelFiles, type ServedModel } from './models.js';
import { openApiDocument, type RouteDoc } from './openapi.js';
import type { PredictResponse } from './result.js';
import { SCHEMAS } from './schemas.js';

/** Options of {@link createServer}; every limit has a default. */
export interface ServerOptions {
  /** A directory of models (every `*.onnx` and `model.json`, named by file stem), or model files by name. */
  readonly models: string | Readonly<Record<string, string>>;
  /** The composition root to load and run the models with (default: onnx and tfjs backends; then closed with the server). */
  readonly mcu?: Mcu;
  /** Memory for the MC samples of one backend call, in bytes (default 512 MiB, as `mcu predict`). */
  readonly memoryBudgetBytes?: number;
  /** The most rows one request may send (default 10000; more is a 413). */
  readonly maxRows?: number;
  /** The most Monte Carlo samples one request may ask for (default 10000; more is a 400). */
  readonly maxSamples?: number;
  /** The most rows one coalesced run takes (default: maxRows). */
  readonly maxBatchRows?: number;
  /** The most predict requests waiting over all models (default 256; one more is a 429). */
  readonly queue?: number;
  /** How long a predict request waits for others to coalesce with, in ms (default 2; 0 still coalesces what arrived together). */
  readonly batchWaitMs?: number;
  /** From arrival to answer, in ms (default 30000): still waiting then is a 503, still running a 504. */
  readonly timeoutMs?: number;
  /** The largest request body, in bytes (default 16 MiB; more is a 413). */
  readonly bodyLimitBytes?: number;
  /**
   * Run options for requests that leave them out (`mcu serve` passes a config's samples, seed,
   * maskScope, task and tau). A default τ is dropped for a model without a regression output, as
   * `mcu predict` drops a config's tau; a τ the request gives is refused there.
   */
  readonly defaults?: RequestOptions;
  /** Fastify's pino logger: false (default) for none, true for JSON lines on stdout, or pino options. */
  readonly logger?: FastifyServerOptions['logger'];
}

/** The limits a server runs with. */
export interface ServerLimits {
  readonly maxRows: number;
  readonly maxSamples: number;
  readonly maxBatchRows: number;
  readonly queue: number;
  readonly batchWaitMs: number;
  readonly timeoutMs: number;
  readonly bodyLimitBytes: number;
}

/** A started (listening or not) server. */
export interface McuServer {
  /** The fastify instance (routes registered, models loaded). */
  readonly app: FastifyInstance;
  /** The served model names. */
  readonly models: readonly string[];
  /** The limits in force (the options with their defaults). */
  readonly limits: ServerLimits;
  /** Listen on `host:port` (default 127.0.0.1, port 0: any free one); resolves to the base URL. */
  listen(options?: { readonly port?: number; readonly host?: string }): Promise<string>;
  /** Graceful shutdown: refuse new requests (503), finish those in flight, then free the models and the Mcu. Safe twice. */
  close(): Promise<void>;
}

const MiB = 1024 * 1024;

function limit(options: ServerOptions, key: keyof ServerOptions, fallback: number, min: number): number {
  const v = options[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new McuError('E_CONFIG', `createServer(): ${key} must be an integer ≥ ${min}, got ${String(v)}`);
  }
  return v;
}

/** Create the server: load and inspect every model, register the routes. Listen with {@link McuServer.listen}. */
export async function createServer(options: ServerOptions): Promise<McuServer> {
  const maxRows = limit(options, 'maxRows', 10_000, 1);
  const maxSamples = limit(options, 'maxSamples', 10_000, 1);
  const defaults: RequestOptions = options.defaults ?? {};
  if (defaults.samples !== undefined && !(Number.isInteger(defaults.samples) && defaults.samples >= 1 && defaults.samples <= maxSamples)) {
    throw new McuError('E_CONFIG', `defaults.samples must be an integer in 1..${maxSamples} (the maxSamples limit), got ${defaults.samples}`);
  }
  const maxBatchRows = limit(options, 'maxBatchRows', maxRows, maxRows);
  const queue = limit(options, 'queue', 256, 1);
  const batchWaitMs = limit(options, 'batchWaitMs', 2, 0);
  const timeoutMs = limit(options, 'timeoutMs', 30_000, 1);
  const bodyLimit = limit(options, 'bodyLimitBytes', 16 * MiB, 1);
  const memoryBudgetBytes = limit(options, 'memoryBudgetBytes', 512 * MiB, 1);

  const owned = options.mcu === undefined;
  const mcu = options.mcu ?? createMcu({ modules: [onnxModule, tfjsModule], memoryBudgetBytes });
  let served: Map<string, ServedModel>;
  try {
    served = await loadModels(mcu, typeof options.models === 'string' ? modelFiles(options.models) : options.models);
  } catch (e) {
    if (owned) await mcu.dispose();
    throw e;
  }

  const metrics = createMetrics();
  const batcher = new Batcher(
    mcu,
    { waitMs: batchWaitMs, maxBatchRows, queue, timeoutMs },
    {
      queueDepth: (n) => metrics.queueDepth.set(n),
      run: (model, _requests, rows, samples) => {
        metrics.runs.inc({ model });
        metrics.samples.inc({ model }, rows * samples);
      },
      backendCall: (model) => metrics.backendCalls.inc({ model }),
    },
    memoryBudgetBytes,
  );

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit,
    return503OnClosing: true,
    // a typo in an option is an error, not silently dropped; the value that failed goes into the message
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, verbose: true } },
  });
  let closing = false;
  const routes: RouteDoc[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, ...(r.schema !== undefined ? { schema: r.schema as RouteDoc['schema'] } : {}) });
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
  });
  // while shutting down, every answer closes its connection, so no keep-alive one holds the close open
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  app.setErrorHandler(async (error, request, reply) => {
    const { status, body } = errorAnswer(error);
    if (status >= 500) request.log.error({ code: body.code, message: body.message }, 'request failed');
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler(async (request, reply) =>
    reply.status(404).send({
      code: 'E_NOT_FOUND',
      message: `no route ${request.method} ${request.url.split('?')[0]}: the routes are listed at GET /openapi.json`,
    }),
  );

  const modelOf = (name: string): ServedModel => {
    if (!isModelName(name)) {
      throw new HttpError(
        400,
        'E_USAGE',
        `'${name}' is not a model name (letters, digits, '_', '-', '.', no '/' or '..'): name a model from GET /v1/models, never a path`,
      );
    }
    const s = served.get(name);
    if (s === undefined) throw new HttpError(404, 'E_NOT_FOUND', `no model '${name}'; this server has ${[...served.keys()].join(', ')}`);
    return s;
  };

  app.post('/v1/models/:name/predict', { schema: SCHEMAS.predict }, async (request): Promise<PredictResponse> => {
    const s = modelOf((request.params as { name: string }).name);
    const body = request.body as { inputs: unknown; options?: RequestOptions };
    const given = body.options ?? {};
    const o: RunOptions = { ...defaults, ...given, ...(given.tau === undefined && defaults.tau !== undefined ? { tauDefault: true } : {}) };
    const samples = o.samples ?? 100;
    if (samples > maxSamples) {
      throw new HttpError(
        400,
        'E_CONFIG',
        `options.samples is ${samples}, over this server's limit of ${maxSamples} (--max-samples): ask for at most ${maxSamples}`,
      );
    }
    const feeds = feedsOf(s.model, body.inputs);
    const rows = Object.values(feeds)[0]!.dims[0]!;
    if (rows > maxRows) {
      throw new HttpError(
        413,
        'E_TOO_LARGE',
        `the request has ${rows} rows, over this server's limit of ${maxRows} (--max-rows): split it into requests of at most ${maxRows} rows`,
      );
    }
    if (closing) throw new HttpError(503, 'E_UNAVAILABLE', 'the server is shutting down: retry on another instance');
    return batcher.submit(s, feeds, rows, o);
  });
  app.get('/v1/models', { schema: SCHEMAS.models }, async () => ({
    models: [...served.values()].map((s) => ({
      name: s.name,
      backend: s.summary.backend,
      executionProvider: s.summary.executionProvider,
      inputs: s.summary.inputs,
      outputs: s.summary.outputs,
    })),
  }));
  app.get('/v1/models/:name', { schema: SCHEMAS.model }, async (request) => {
    const s = modelOf((request.params as { name: string }).name);
    return { name: s.name, ...s.summary };
  });
  app.get('/healthz', { schema: SCHEMAS.healthz }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: SCHEMAS.readyz }, async (_request, reply) =>
    closing ? reply.status(503).send({ status: 'shutting down' }) : { status: 'ready' },
  );
  app.get('/metrics', { schema: SCHEMAS.metrics as FastifySchema }, async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  let doc: Record<string, unknown> | undefined;
  app.get('/openapi.json', { schema: SCHEMAS.openapi as FastifySchema }, async () => {
    doc ??= openApiDocument(routes);
    return doc;
  });
  await app.ready();

  let closed: Promise<void> | undefined;
  return {
    app,
    models: [...served.keys()],
    limits: { maxRows, maxSamples, maxBatchRows, queue, batchWaitMs, timeoutMs, bodyLimitBytes: bodyLimit },
    async listen(o = {}) {
      return app.listen({ port: o.port ?? 0, host: o.host ?? '127.0.0.1' });
    },
    close() {
      closed ??= (async () => {
        closing = true;
        try {
          await app.close(); // stops accepting, waits for the requests in flight
          await batcher.idle(); // and for a run whose requests timed out
        } finally {
          for (const s of served.values()) await s.model.dispose();
          if (owned) await mcu.dispose();
        }
      })();
      return closed;
    },
  };
}
