import { McuError, type LoadOptions } from '@mcu/core';

/** The TensorFlow.js backends mcu can run on in Node, fastest first. */
export const TFJS_BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;
export type TfjsBackendName = (typeof TFJS_BACKENDS)[number];

/** The TensorFlow.js backends of a browser page (@mcu/backend-tfjs/web), fastest first; webgpu needs @tensorflow/tfjs-backend-webgpu. */
export const TFJS_WEB_BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
/** Any tfjs backend mcu can start (Node's and the browser's). */
export type TfjsRuntimeName = TfjsBackendName | (typeof TFJS_WEB_BACKENDS)[number];

/** Options of the tfjs backend (constructor, `mcu.config.json` → backendOptions.tfjs, or flags). */
export interface TfjsOptions {
  /**
   * The tfjs backend to run on. Default: 'tensorflow' when @tensorflow/tfjs-node loads,
   * else 'wasm' when the wasm backend initialises, else 'cpu'.
   */
  readonly backend?: TfjsBackendName;
  /**
   * The same choice given as a list (`--ep wasm,cpu`): tried in order, a later one only when
   * an earlier one cannot start. Mutually exclusive with `backend`.
   */
  readonly executionProviders?: readonly TfjsBackendName[];
}

const KNOWN = new Set(['backend', 'executionProviders']);

function isBackendName(v: unknown): v is TfjsBackendName {
  return typeof v === 'string' && (TFJS_BACKENDS as readonly string[]).includes(v);
}

/** Validate untyped options; unknown keys and values are E_CONFIG errors that name them. */
export function parseTfjsOptions(raw: LoadOptions | TfjsOptions | undefined): TfjsOptions {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new McuError('E_CONFIG', `tfjs backend options must be an object, got ${JSON.stringify(raw)}`);
  }
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!KNOWN.has(k)) {
      throw new McuError('E_CONFIG', `unknown tfjs backend option '${k}'; known: ${[...KNOWN].join(', ')}`);
    }
  }
  const backend = o['backend'];
  if (backend !== undefined && !isBackendName(backend)) {
    throw new McuError(
      'E_CONFIG',
      `tfjs option 'backend' must be one of ${TFJS_BACKENDS.join(', ')}, got ${JSON.stringify(backend)}`,
    );
  }
  const eps = o['executionProviders'];
  if (eps !== undefined) {
    if (!Array.isArray(eps) || eps.length === 0) {
      throw new McuError('E_CONFIG', `tfjs option 'executionProviders' must be a non-empty list of ${TFJS_BACKENDS.join(', ')}, got ${JSON.stringify(eps)}`);
    }
    for (const e of eps) {
      if (!isBackendName(e)) {
        throw new McuError(
          'E_CONFIG',
          `tfjs option 'executionProviders' lists ${JSON.stringify(e)}; the tfjs backend runs on ${TFJS_BACKENDS.join(', ')}`,
        );
      }
    }
    if (backend !== undefined) {
      throw new McuError('E_CONFIG', "tfjs options 'backend' and 'executionProviders' were both given; give one");
    }
  }
  return {
    ...(backend !== undefined ? { backend } : {}),
    ...(eps !== undefined ? { executionProviders: [...(eps as TfjsBackendName[])] } : {}),
  };
}

/** The candidates an options object asks for, in order; undefined = automatic choice. */
export function requestedBackends(options: TfjsOptions): readonly TfjsBackendName[] | undefined {
  if (options.backend !== undefined) return [options.backend];
  return options.executionProviders;
}
