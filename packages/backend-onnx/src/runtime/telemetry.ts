/**
 * onnxruntime's official Linux build (1.29 and later, so the onnxruntime-node mcu depends on;
 * onnxruntime added it for the other POSIX platforms too) collects usage telemetry for Microsoft
 * by default (measured with strace on 1.30): at its first initialisation in a
 * process it starts an uploader thread, keeps a device id and an offline event cache under
 * $XDG_CACHE_HOME (else ~/.cache)/Microsoft/DeveloperTools/.onnxruntime, and leaves an empty
 * $TMPDIR/mat-debug-PID.log —
 * one per process, so one per `mcu predict`. Its events name the model file, its graph and its
 * producer. mcu opts out, as onnxruntime documents it (ORT_DISABLE_TELEMETRY=1 before the
 * runtime initialises; the choice then holds for the process), unless the user has set
 * ORT_DISABLE_TELEMETRY themselves: `ORT_DISABLE_TELEMETRY=0` keeps onnxruntime's default.
 *
 * Native code reads the variable with getenv, which sees the process's environment: in a worker
 * thread, process.env is a copy of it, so this must run on the main thread before the workers
 * start onnxruntime (@mcu/acquire's thread pool does so). It has no effect once onnxruntime has
 * initialised in the process — an application that loaded onnxruntime-node before mcu keeps that
 * choice.
 */
export const ORT_TELEMETRY_VARIABLE = 'ORT_DISABLE_TELEMETRY';

/** Set ORT_DISABLE_TELEMETRY=1 unless it is set already; returns the value in force. */
export function optOutOfOrtTelemetry(env: NodeJS.ProcessEnv = process.env): string {
  const given = env[ORT_TELEMETRY_VARIABLE];
  if (given !== undefined) return given;
  env[ORT_TELEMETRY_VARIABLE] = '1';
  return '1';
}
