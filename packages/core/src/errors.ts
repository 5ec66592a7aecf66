/**
 * Every failure mcu reports to a user is an McuError with a stable `code`.
 * Messages name what was expected, what was received and how to fix it.
 *
 * Codes (documented in README.md, "Error codes"):
 * - E_USAGE            bad command-line usage (unknown flag, missing argument)
 * - E_CONFIG           bad configuration value or unknown configuration key
 * - E_INPUT            bad input data (shape, NaN, empty, unreadable)
 * - E_FILE             a file is missing, is a directory, or cannot be written
 * - E_MODEL            a model cannot be parsed or is structurally invalid
 * - E_UNSUPPORTED      a valid model uses something mcu cannot run (operator, opset, dtype)
 * - E_SITE             a stochastic site is ill-defined (rate outside [0,1), rate given as graph input, …)
 * - E_MASK             user-given masks do not match the sites (count, shape, values)
 * - E_BACKEND          no backend could be initialised, or the named one failed
 * - E_BACKEND_UNKNOWN  a backend name that is not registered
 * - E_PROVIDER         an execution provider cannot be loaded (e.g. CUDA binaries missing)
 * - E_RUNTIME          the runtime failed while running a model
 * - E_ABORTED          the run was cancelled through its AbortSignal
 * - E_QUEUE            the job queue (Redis) cannot be reached, or a queued job was lost or failed there
 * - E_INTERNAL         a broken invariant inside mcu (a bug: please report it)
 */
export const ERROR_CODES = [
  'E_USAGE',
  'E_CONFIG',
  'E_INPUT',
  'E_FILE',
  'E_MODEL',
  'E_UNSUPPORTED',
  'E_SITE',
  'E_MASK',
  'E_BACKEND',
  'E_BACKEND_UNKNOWN',
  'E_PROVIDER',
  'E_RUNTIME',
  'E_ABORTED',
  'E_QUEUE',
  'E_INTERNAL',
] as const;

export type McuErrorCode = (typeof ERROR_CODES)[number];

/** The error mcu throws for everything a user can fix or must know: a stable `code` (see {@link ERROR_CODES}) and a one-line message. */
export class McuError extends Error {
  override readonly name = 'McuError';
  readonly code: McuErrorCode;
  override readonly cause?: unknown;

  constructor(code: McuErrorCode, message: string, options?: { cause?: unknown }) {
    super(message);
    this.code = code;
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

export function isMcuError(e: unknown): e is McuError {
  return e instanceof McuError || (e instanceof Error && e.name === 'McuError' && 'code' in e);
}

/** Describe any thrown value in one line (for error chains and CLI output). */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0] ?? String(e);
  return String(e);
}
