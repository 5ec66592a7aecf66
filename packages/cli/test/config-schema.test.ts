// The JSON Schema that editors read for mcu.config.json ("$schema") against the valibot
// schema mcu validates the file with: the same keys, required keys and enum values at every
// level, and the same verdict on the configs this repository writes, on typo keys and on bad
// values. The JSON Schema is checked by a small validator of its own (below), not by the
// library that converted it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CONFIG_JSON_SCHEMA_FILE, configJsonSchema } from '../src/config-schema.js';
import { ConfigSchema, validateConfig } from '../src/config.js';
import { requireBuiltCli } from '../../../test/helpers/cli.js';

type Json = Record<string, unknown>;

const ANNOTATIONS = new Set(['$schema', 'title', 'description', 'default']);
const TYPES: Record<string, (x: unknown) => boolean> = {
  object: (x) => typeof x === 'object' && x !== null && !Array.isArray(x),
  array: Array.isArray,
  string: (x) => typeof x === 'string',
  number: (x) => typeof x === 'number',
  integer: Number.isInteger,
  boolean: (x) => typeof x === 'boolean',
  null: (x) => x === null,
};

/** Why `x` fails draft-07 `schema` (the keywords the converter emits), or undefined when it passes. */
function jsonSchemaError(schema: Json, x: unknown, at = '$'): string | undefined {
  for (const [key, want] of Object.entries(schema)) {
    const fail = (why: string) => `${at}: ${why}`;
    switch (key) {
      case 'type': {
        const types = Array.isArray(want) ? (want as string[]) : [want as string];
        if (!types.some((t) => TYPES[t]!(x))) return fail(`not ${types.join(' | ')}`);
        break;
      }
      case 'enum':
        if (!(want as unknown[]).includes(x)) return fail(`not one of ${JSON.stringify(want)}`);
        break;
      case 'anyOf':
        if ((want as Json[]).every((s) => jsonSchemaError(s, x, at) !== undefined)) return fail('matches none of anyOf');
        break;
      case 'pattern':
        if (typeof x === 'string' && !new RegExp(want as string, 'u').test(x)) return fail(`does not match /${String(want)}/`);
        break;
      case 'minimum':
        if (typeof x === 'number' && x < (want as number)) return fail(`< ${String(want)}`);
        break;
      case 'maximum':
        if (typeof x === 'number' && x > (want as number)) return fail(`> ${String(want)}`);
        break;
      case 'exclusiveMinimum':
        if (typeof x === 'number' && x <= (want as number)) return fail(`≤ ${String(want)}`);
        break;
      case 'exclusiveMaximum':
        if (typeof x === 'number' && x >= (want as number)) return fail(`≥ ${String(want)}`);
        break;
      case 'minItems':
        if (Array.isArray(x) && x.length < (want as number)) return fail(`fewer than ${String(want)} items`);
        break;
      case 'items':
        if (Array.isArray(x)) {
          for (const [i, item] of x.entries()) {
            const e = jsonSchemaError(want as Json, item, `${at}[${i}]`);
            if (e !== undefined) return e;
          }
        }
        break;
      case 'minProperties':
        if (TYPES['object']!(x) && Object.keys(x as Json).length < (want as number)) return fail(`fewer than ${String(want)} properties`);
        break;
      case 'required':
        if (TYPES['object']!(x)) for (const k of want as string[]) if (!(k in (x as Json))) return fail(`'${k}' is required`);
        break;
      case 'properties':
      case 'additionalProperties':
      case 'propertyNames':
        if (TYPES['object']!(x)) {
          const properties = (schema['properties'] ?? {}) as Record<string, Json>;
          for (const [k, value] of Object.entries(x as Json)) {
            if (key === 'propertyNames') {
              const e = jsonSchemaError(want as Json, k, `${at} key '${k}'`);
              if (e !== undefined) return e;
            } else if (key === 'properties' && Object.hasOwn(properties, k)) {
              const e = jsonSchemaError(properties[k]!, value, `${at}.${k}`);
              if (e !== undefined) return e;
            } else if (key === 'additionalProperties' && !Object.hasOwn(properties, k)) {
              if (want === false) return fail(`'${k}' is not allowed`);
              const e = jsonSchemaError(want as Json, value, `${at}.${k}`);
              if (e !== undefined) return e;
            }
          }
        }
        break;
      default:
        // A keyword this checker does not know would be a constraint it silently skips.
        if (!ANNOTATIONS.has(key)) throw new Error(`${at}: unexpected JSON Schema keyword '${key}'`);
    }
  }
  return undefined;
}

const schema = configJsonSchema() as Json;
const validByJsonSchema = (config: unknown): boolean => jsonSchemaError(schema, config) === undefined;
const validByMcu = (config: unknown): boolean => {
  try {
    validateConfig(config, 'c.json');
    return true;
  } catch {
    return false;
  }
};

/** The configs of this repository: README's, config.ts's example, and those the tests write. */
function exampleConfigs(): unknown[] {
  const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
  const section = readme.slice(readme.indexOf('## Configuration'));
  const blocks = [...section.slice(0, section.indexOf('\n## ', 1)).matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!) as unknown);
  expect(blocks.length, "README's configuration section has its json examples").toBeGreaterThan(0);
  const source = readFileSync(fileURLToPath(new URL('../src/config.ts', import.meta.url)), 'utf8');
  const doc = source.slice(source.indexOf(' * Example:\n') + ' * Example:\n'.length, source.indexOf(' */'));
  const docExample = doc.replace(/^ \*/gm, '');
  return [
    ...blocks,
    JSON.parse(docExample),
    { backend: 'tfjs', backendOptions: { tfjs: { backend: 'cpu' } } },
    { task: { logits: 'classification' } },
    { task: 'regression' },
    { samples: 20, backend: 'tfjs' },
    {
      $schema: './node_modules/@mcu/cli/dist/mcu.config.schema.json',
      backend: 'onnx',
      backendOptions: {
        onnx: {
          executionProviders: ['cuda', 'cpu'],
          graphOptimizationLevel: 'all',
          intraOpNumThreads: 4,
          rates: { ratio: 0.1 },
          insertDropout: { rate: 0.1, spatial: true },
          scaling: 'none',
          rewrite: 'tiled',
        },
        tfjs: { executionProviders: ['wasm', 'cpu'] },
      },
      samples: 500,
      seed: 3,
      maskScope: 'sample',
      memoryBudgetMB: 64.5,
      batchSize: 8,
      tau: 12,
      task: { y: 'regression' },
      format: 'table',
    },
  ];
}

describe('mcu.config.schema.json', () => {
  it('accepts every example config of the repository, as mcu does', () => {
    for (const config of exampleConfigs()) {
      expect(validByMcu(config), JSON.stringify(config)).toBe(true);
      expect(jsonSchemaError(schema, config), JSON.stringify(config)).toBeUndefined();
    }
  });

  it('a typo key is rejected by both, at any level', () => {
    for (const config of [
      { sampels: 10 },
      { backendOptions: { onnx: { ep: ['cpu'] } } },
      { backendOptions: { tfjs: { backnd: 'cpu' } } },
      { backendOptions: { onnx: { insertDropout: { rate: 0.1, spacial: true } } } },
      { backendOptions: { torch: {} } },
    ]) {
      expect(validByMcu(config), JSON.stringify(config)).toBe(false);
      expect(jsonSchemaError(schema, config), JSON.stringify(config)).toMatch(/is not allowed/);
    }
  });

  it('bad values are rejected by both', () => {
    const bad: unknown[] = [
      { samples: 0 },
      { samples: 1.5 },
      { samples: '100' },
      { seed: -1 },
      { maskScope: 'row' },
      { memoryBudgetMB: 0 },
      { batchSize: 0 },
      { tau: 0 },
      { task: 'clf' },
      { task: {} },
      { task: { y: 'clf' } },
      { format: 'xml' },
      { backend: '' },
      { backend: '  ' },
      { $schema: 1 },
      { backendOptions: 3 },
      { backendOptions: { onnx: { executionProviders: [] } } },
      { backendOptions: { onnx: { executionProviders: 'cpu' } } },
      { backendOptions: { onnx: { graphOptimizationLevel: 'max' } } },
      { backendOptions: { onnx: { intraOpNumThreads: -1 } } },
      { backendOptions: { onnx: { rates: { r: 1 } } } },
      { backendOptions: { onnx: { insertDropout: { before: ['Conv'] } } } },
      { backendOptions: { onnx: { insertDropout: { rate: 0.1, before: ['Relu'] } } } },
      { backendOptions: { onnx: { scaling: 'half' } } },
      { backendOptions: { tfjs: { backend: 'webgl' } } },
      { backendOptions: { tfjs: { executionProviders: ['cpu', 'cuda'] } } },
      null,
      'samples',
    ];
    for (const config of bad) {
      expect(validByMcu(config), JSON.stringify(config)).toBe(false);
      expect(validByJsonSchema(config), JSON.stringify(config)).toBe(false);
    }
    // The one rule JSON Schema is not given (a check over two keys): mcu alone refuses it.
    const both = { backendOptions: { tfjs: { backend: 'cpu', executionProviders: ['cpu'] } } };
    expect(validByMcu(both)).toBe(false);
    expect(validByJsonSchema(both)).toBe(true);
  });

  it('has the keys, required keys and enum values of the valibot schema at every level', () => {
    type V = { type: string; entries?: Record<string, V>; wrapped?: V; options?: readonly unknown[]; item?: V; value?: V; pipe?: readonly V[] };
    // pipe(schema, ...actions) starts with its schema, itself a pipe when nested
    const actions = (s: V): V[] => (s.pipe ?? []).flatMap((a, i) => (i === 0 ? actions(a) : [a]));
    const unwrap = (s: V): { s: V; optional: boolean } => (s.type === 'optional' ? { s: unwrap(s.wrapped!).s, optional: true } : { s, optional: false });
    let objects = 0;
    let enums = 0;
    const compare = (valibot: V, json: Json, at: string): void => {
      const { s } = unwrap(valibot);
      if (s.type === 'strict_object') {
        objects++;
        const keys = Object.keys(s.entries!);
        expect(Object.keys(json['properties'] as Json), at).toEqual(keys);
        expect(json['additionalProperties'], at).toBe(false);
        expect(json['required'], at).toEqual(keys.filter((k) => !unwrap(s.entries![k]!).optional));
        for (const k of keys) compare(s.entries![k]!, (json['properties'] as Record<string, Json>)[k]!, `${at}.${k}`);
      } else if (s.type === 'picklist') {
        enums++;
        expect(json['enum'], at).toEqual(s.options);
      } else if (s.type === 'union') {
        const anyOf = json['anyOf'] as Json[];
        expect(anyOf, at).toHaveLength(s.options!.length);
        s.options!.forEach((o, i) => compare(o as V, anyOf[i]!, `${at}|${i}`));
      } else if (s.type === 'array') {
        expect(json['type'], at).toBe('array');
        compare(s.item!, json['items'] as Json, `${at}[]`);
      } else if (s.type === 'record') {
        expect(json['type'], at).toBe('object');
        compare(s.value!, json['additionalProperties'] as Json, `${at}{}`);
      } else {
        expect(json['type'], at).toBe(s.type === 'number' && actions(s).some((a) => a.type === 'safe_integer') ? 'integer' : s.type);
      }
    };
    compare(ConfigSchema as unknown as V, schema, '$');
    // the top, backendOptions, onnx, onnx.insertDropout, tfjs; and the enumerations
    expect(objects).toBe(5);
    expect(enums).toBeGreaterThanOrEqual(10);
  });

  it('the build writes it to dist, the file the package exports', () => {
    requireBuiltCli();
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as Json;
    expect((pkg['exports'] as Json)['./mcu.config.schema.json']).toBe(`./${CONFIG_JSON_SCHEMA_FILE}`);
    expect(((pkg['publishConfig'] as Json)['exports'] as Json)['./mcu.config.schema.json']).toBe(`./${CONFIG_JSON_SCHEMA_FILE}`);
    expect((pkg['scripts'] as Json)['build']).toMatch(/node scripts\/config-schema\.mjs/);
    const written = JSON.parse(readFileSync(fileURLToPath(new URL(`../${CONFIG_JSON_SCHEMA_FILE}`, import.meta.url)), 'utf8')) as unknown;
    expect(written).toEqual(schema);
    expect(schema['$schema']).toBe('http://json-schema.org/draft-07/schema#');
  });
});
