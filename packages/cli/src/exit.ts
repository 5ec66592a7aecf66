import { isMcuError, type McuErrorCode } from '@mcu/core/errors';

/**
 * Exit statuses: 0 ok; 2 the user's request or data is wrong (usage, configuration, input,
 * file, model, masks) — fix the call; 1 the run failed (backend, provider, runtime, the job queue's
 * Redis unreachable or a queued job failed there: E_QUEUE, bug).
 */
const VALIDATION: ReadonlySet<McuErrorCode> = new Set([
  'E_USAGE',
  'E_CONFIG',
  'E_INPUT',
  'E_FILE',
  'E_MODEL',
  'E_UNSUPPORTED',
  'E_SITE',
  'E_MASK',
  'E_BACKEND_UNKNOWN',
]);

export function exitCodeFor(e: unknown): 1 | 2 {
  return isMcuError(e) && VALIDATION.has(e.code) ? 2 : 1;
}

/** One line: `mcu: <message>` (newlines folded). */
export function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return `mcu: ${msg.replace(/\s*\n\s*/g, ' ').trim()}`;
}
