/**
 * The OpenAPI 3 document of the server, made from the JSON Schemas its routes declare (collected
 * by an onRoute hook), so the document cannot drift from what the routes validate.
 */
import { VERSION } from '@mcu/core';

/** A route as the onRoute hook sees it. */
export interface RouteDoc {
  readonly method: string;
  readonly url: string;
  readonly schema?: {
    readonly summary?: string;
    readonly tags?: readonly string[];
    readonly params?: { readonly properties?: Readonly<Record<string, { readonly description?: string }>>; readonly required?: readonly string[] };
    readonly body?: unknown;
    readonly response?: Readonly<Record<string, unknown>>;
  };
}

const REASONS: Readonly<Record<string, string>> = {
  200: 'OK',
  400: 'Bad request (code E_USAGE, E_CONFIG or E_INPUT)',
  404: 'No model of that name (E_NOT_FOUND)',
  413: 'Body or rows over the limit (E_TOO_LARGE)',
  415: 'Not JSON',
  429: 'Queue full (E_BUSY): retry later',
  500: 'The model or runtime failed',
  503: 'Shutting down, or the deadline passed while queued (E_TIMEOUT)',
  504: 'The deadline passed while running (E_TIMEOUT)',
};

/** Content types of the routes that do not answer JSON. */
const TEXT_ROUTES = new Set(['/metrics']);

/** The OpenAPI 3.0 document of `routes` (sorted by path, then method, so it is stable). */
export function openApiDocument(routes: readonly RouteDoc[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const sorted = [...routes]
    .filter((r) => r.method !== 'HEAD')
    .sort((a, b) => (a.url === b.url ? a.method.localeCompare(b.method) : a.url.localeCompare(b.url)));
  for (const r of sorted) {
    const url = r.url.replace(/:([A-Za-z_]+)/g, '{$1}');
    const s = r.schema ?? {};
    const op: Record<string, unknown> = {
      operationId: `${r.method.toLowerCase()}${url.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}`,
      ...(s.summary !== undefined ? { summary: s.summary } : {}),
      ...(s.tags !== undefined ? { tags: s.tags } : {}),
    };
    const params = Object.entries(s.params?.properties ?? {});
    if (params.length > 0) {
      op['parameters'] = params.map(([name, p]) => ({
        name,
        in: 'path',
        required: true,
        schema: { type: 'string' },
        ...(p.description !== undefined ? { description: p.description } : {}),
      }));
    }
    if (s.body !== undefined) op['requestBody'] = { required: true, content: { 'application/json': { schema: s.body } } };
    const responses: Record<string, unknown> = {};
    const type = TEXT_ROUTES.has(r.url) ? 'text/plain' : 'application/json';
    for (const [status, schema] of Object.entries(s.response ?? { 200: undefined })) {
      responses[status] = {
        description: REASONS[status] ?? `HTTP ${status}`,
        content: { [type]: { schema: schema ?? (type === 'text/plain' ? { type: 'string' } : { type: 'object' }) } },
      };
    }
    op['responses'] = responses;
    paths[url] ??= {};
    paths[url][r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'mcu serve',
      version: VERSION,
      description:
        'Monte Carlo dropout uncertainty (Gal & Ghahramani 2016) over HTTP: predictive mean, variance and classification uncertainty of the served models',
    },
    paths,
  };
}
