import * as v from 'valibot';
import type { LoadOptions } from '@mcu/core';
import { oneOf, parseOptions } from '@mcu/core/options';

/** The TensorFlow.js backends mcu can run on in Node, fastest first. */
export const TFJS_BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;
export type TfjsBackendName = (typeof TFJS_BACKENDS)[number];

/** The TensorFlow.js backends of a browser page (@mcu/backend-tfjs/web), fastest first; webgpu needs @tensorflow/tfjs-backend-webgpu. */
export const TFJS_WEB_BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
/** Any tfjs backend mcu can start (Node's and the browser's). */
export type TfjsRuntimeName = TfjsBackendName | (typeof TFJS_WEB_BACKENDS)[number];

const RUNTIME_LIST = `a non-empty array of ${TFJS_BACKENDS.join(', ')}`;

/** Options of the tfjs backend (constructor, `mcu.config.json` → backendOptions.tfjs, or flags). */
export const TfjsOptionsSchema = v.pipe(
  v.strictObject(
    {
      /**
       * The tfjs backend to run on. Default: 'tensorflow' when @tensorflow/tfjs-node loads,
       * else 'wasm' when the wasm backend initialises, else 'cpu'.
       */
      backend: v.optional(
        v.pipe(
          oneOf(TFJS_BACKENDS),
          v.description("The TensorFlow.js backend to run on (default: 'tensorflow' when tfjs-node loads, else 'wasm', else 'cpu')."),
        ),
      ),
      /**
       * The same choice given as a list (`--ep wasm,cpu`): tried in order, a later one only when
       * an earlier one cannot start. Mutually exclusive with `backend`.
       */
      executionProviders: v.optional(
        v.pipe(
          v.array(oneOf(TFJS_BACKENDS), RUNTIME_LIST),
          v.minLength(1, RUNTIME_LIST),
          v.description("The same choice as a list, tried in order (a later one only when an earlier one cannot start); not with 'backend'."),
        ),
      ),
    },
    'an object',
  ),
  v.check((o) => o.backend === undefined || o.executionProviders === undefined, "'backend' and 'executionProviders' were both given; give one"),
);

/** Validated tfjs options. */
export type TfjsOptions = v.InferOutput<typeof TfjsOptionsSchema>;

/** Validate untyped options; unknown keys and values are E_CONFIG errors that name them. */
export function parseTfjsOptions(raw: LoadOptions | TfjsOptions | undefined): TfjsOptions {
  return parseOptions(TfjsOptionsSchema, raw ?? {}, { noun: 'tfjs option', whole: 'tfjs options' });
}

/** The candidates an options object asks for, in order; undefined = automatic choice. */
export function requestedBackends(options: TfjsOptions): readonly TfjsBackendName[] | undefined {
  if (options.backend !== undefined) return [options.backend];
  return options.executionProviders;
}
