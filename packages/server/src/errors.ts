/**
 * How failures become HTTP answers: every one is `{ code, message }` with a 4xx or 5xx status,
 * never a stack trace. McuError codes keep their code; the server adds its own for what only
 * HTTP has (an unknown model, a full queue, a deadline).
 */
import { isMcuError, type McuErrorCode } from '@mcu/core';

/** The codes the server answers with besides @mcu/core's (README "Serving"). */
export const SERVER_ERROR_CODES = ['E_NOT_FOUND', 'E_TOO_LARGE', 'E_BUSY', 'E_TIMEOUT', 'E_UNAVAILABLE'] as const;

/** A code of an error answer: @mcu/core's, or one of {@link SERVER_ERROR_CODES}. */
export type ServerErrorCode = McuErrorCode | (typeof SERVER_ERROR_CODES)[number];

/** The body of every error answer. */
export interface ErrorBody {
  readonly code: ServerErrorCode;
  readonly message: string;
}

/** A failure with its HTTP status, thrown inside a handler and answered by the error handler. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: ServerErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** HTTP status of each McuError code: what the caller sent is 400, what the server could not do is 500. */
const STATUS: Readonly<Record<McuErrorCode, number>> = {
  E_USAGE: 400,
  E_CONFIG: 400,
  E_INPUT: 400,
  E_MASK: 400,
  E_FILE: 500,
  E_MODEL: 500,
  E_UNSUPPORTED: 400,
  E_SITE: 500,
  E_BACKEND: 500,
  E_BACKEND_UNKNOWN: 500,
  E_PROVIDER: 500,
  E_RUNTIME: 500,
  E_ABORTED: 503,
  E_QUEUE: 503,
  E_INTERNAL: 500,
};

/** Fastify's own request errors (a body that is not JSON, too large, a wrong content type), by their `code`. */
const FASTIFY: Readonly<Record<string, { status: number; code: ServerErrorCode; fix: string }>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'E_TOO_LARGE', fix: 'send fewer rows per request (or start the server with a larger body limit)' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'E_INPUT', fix: "send the body as JSON with 'content-type: application/json'" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'E_INPUT', fix: 'send a JSON body { "inputs": … }' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'E_INPUT', fix: 'send a content-length that matches the body' },
};

interface FastifyLikeError {
  readonly code?: string;
  readonly statusCode?: number;
  readonly message?: string;
  readonly validation?: readonly { instancePath: string; message?: string; data?: unknown; params?: Record<string, unknown> }[];
  readonly validationContext?: string;
}

/** A value as a message shows it (JSON, cut short). */
function shown(v: unknown): string {
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
}

/** The status and body for anything a handler or fastify threw (unknown errors: 500 with their first line only). */
export function errorAnswer(e: unknown): { status: number; body: ErrorBody } {
  if (e instanceof HttpError) return { status: e.status, body: { code: e.code, message: e.message } };
  if (isMcuError(e)) return { status: STATUS[e.code] ?? 500, body: { code: e.code, message: e.message.split('\n')[0] ?? e.code } };
  const f = (typeof e === 'object' && e !== null ? e : {}) as FastifyLikeError;
  if (f.validation !== undefined && f.validation.length > 0) {
    const v = f.validation[0]!;
    const where = `${f.validationContext ?? 'body'}${v.instancePath.replaceAll('/', '.')}`;
    const allowed = v.params?.['allowedValues'] as unknown[] | undefined;
    const extra = v.params?.['additionalProperty'] as string | undefined;
    const what =
      extra !== undefined ? `has no property '${extra}'` : `${v.message ?? 'is invalid'}${allowed !== undefined ? ` (${allowed.map(shown).join(', ')})` : ''}`;
    return {
      status: 400,
      body: {
        code: 'E_USAGE',
        message: `${where} ${what}${extra === undefined && 'data' in v ? `, got ${shown(v.data)}` : ''}; the request schema is at GET /openapi.json`,
      },
    };
  }
  const known = f.code !== undefined ? FASTIFY[f.code] : undefined;
  if (known !== undefined) return { status: known.status, body: { code: known.code, message: `${f.message ?? f.code}: ${known.fix}` } };
  if (f.statusCode === 400 && f.message !== undefined) {
    // a body that does not parse as JSON
    return { status: 400, body: { code: 'E_INPUT', message: `the request body is not valid JSON (${f.message}); send { "inputs": …, "options": … } as JSON` } };
  }
  if (f.statusCode !== undefined && f.statusCode >= 400 && f.statusCode < 500) {
    return { status: f.statusCode, body: { code: 'E_USAGE', message: f.message ?? `HTTP ${f.statusCode}` } };
  }
  const first = e instanceof Error ? (e.message.split('\n')[0] ?? e.name) : String(e);
  return { status: 500, body: { code: 'E_INTERNAL', message: `${first} (a bug in mcu serve: please report it)` } };
}
