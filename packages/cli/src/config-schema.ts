/**
 * The JSON Schema of `mcu.config.json`, for editors (`"$schema"`): converted from the
 * valibot schema that validates the file (config.ts ConfigSchema), so the two cannot drift.
 * `scripts/config-schema.mjs` writes it to dist/mcu.config.schema.json at build time.
 */
import { toJsonSchema, type JsonSchema } from '@valibot/to-json-schema';
import { ConfigSchema } from './config.js';

/** Where the build writes the schema, relative to the package (its export `./mcu.config.schema.json`). */
export const CONFIG_JSON_SCHEMA_FILE = 'dist/mcu.config.schema.json';

/**
 * The JSON Schema (draft-07) of `mcu.config.json`. What JSON Schema cannot say is left to
 * mcu itself: rules over several keys (tfjs 'backend' with 'executionProviders') and
 * finiteness (JSON numbers are always finite).
 */
export function configJsonSchema(): JsonSchema {
  const { $schema, ...schema } = toJsonSchema(ConfigSchema, { errorMode: 'throw', ignoreActions: ['check', 'finite'] });
  return {
    $schema,
    title: 'mcu.config.json',
    description: 'Configuration of the mcu command (Monte Carlo dropout uncertainty); flags override it.',
    ...schema,
  };
}
