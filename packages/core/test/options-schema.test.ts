import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import {
  DROPOUT_SCALINGS,
  DropoutScalingSchema,
  MASK_SCOPES,
  MaskScopeSchema,
  RateSchema,
  RunOptionsSchema,
  TASKS,
  TaskOptionSchema,
  integerAtLeast,
  oneOf,
  parseOptions,
  type OptionsWording,
} from '../src/index.js';
import { mcuErrorMessage } from '../../../test/helpers/check.js';

describe('shared enumerations', () => {
  it('list every member of the core unions, the default first', () => {
    expect(TASKS).toEqual(['regression', 'classification', 'auto']);
    expect(MASK_SCOPES).toEqual(['sample', 'point']);
    expect(DROPOUT_SCALINGS).toEqual(['inverted', 'none']);
    expect(MaskScopeSchema.options).toEqual(MASK_SCOPES);
    expect(DropoutScalingSchema.options).toEqual(DROPOUT_SCALINGS);
  });

  it('the task option: one task, or a non-empty object of tasks by output name', () => {
    expect(v.is(TaskOptionSchema, 'classification')).toBe(true);
    expect(v.is(TaskOptionSchema, { logits: 'classification', y: 'auto' })).toBe(true);
    expect(v.is(TaskOptionSchema, 'clf')).toBe(false);
    expect(v.is(TaskOptionSchema, {})).toBe(false);
    expect(v.is(TaskOptionSchema, { y: 'clf' })).toBe(false);
  });

  it('rates are in [0, 1); integers are safe integers', () => {
    expect([0, 0.5, 0.999].map((p) => v.is(RateSchema, p))).toEqual([true, true, true]);
    expect([1, -0.1, Number.NaN, '0.5'].map((p) => v.is(RateSchema, p))).toEqual([false, false, false, false]);
    expect([1, 2 ** 53 - 1].map((n) => v.is(integerAtLeast(1), n))).toEqual([true, true]);
    expect([0, 1.5, 2 ** 53].map((n) => v.is(integerAtLeast(1), n))).toEqual([false, false, false]);
  });
});

describe('parseOptions', () => {
  const Schema = v.pipe(
    v.strictObject(
      {
        level: v.optional(oneOf(['low', 'high'])),
        ids: v.optional(v.array(integerAtLeast(0), 'an array of ids')),
        inner: v.optional(v.strictObject({ rate: RateSchema, spatial: v.optional(v.boolean('true or false')) }, 'an object')),
        byName: v.optional(v.record(v.string(), RateSchema, 'an object of rates')),
        a: v.optional(v.boolean('true or false')),
        b: v.optional(v.boolean('true or false')),
      },
      'an object',
    ),
    v.check((o) => !(o.a && o.b), "'a' and 'b' exclude each other"),
  );
  const wording: OptionsWording = { noun: 'demo option', whole: 'demo options', suggest: (k, known) => known.find((x) => x.startsWith(k.slice(0, 3))) };
  const message = (value: unknown, w: OptionsWording = wording): string => mcuErrorMessage(() => parseOptions(Schema, value, w), 'E_CONFIG');

  it('returns the validated value', () => {
    expect(parseOptions(Schema, { level: 'high', inner: { rate: 0.5 } }, wording)).toEqual({ level: 'high', inner: { rate: 0.5 } });
    expect(parseOptions(RunOptionsSchema, { samples: 10, task: { y: 'regression' } }, wording)).toEqual({ samples: 10, task: { y: 'regression' } });
  });

  it('names the option path, what was expected and what was received', () => {
    expect(message({ level: 'mid' })).toBe(`demo option 'level' expects one of "low", "high", got "mid"`);
    expect(message({ ids: [1, -2] })).toBe("demo option 'ids[1]' expects an integer ≥ 0, got -2");
    expect(message({ inner: { rate: 1 } })).toBe("demo option 'inner.rate' expects a rate p in [0, 1), got 1");
    expect(message({ inner: { spatial: true } })).toBe("demo option 'inner.rate' is required");
    expect(message({ byName: { x: 'a' } })).toBe(`demo option 'byName.x' expects a rate p in [0, 1), got "a"`);
    expect(message({ ids: 'x'.repeat(60) })).toBe(`demo option 'ids' expects an array of ids, got "${'x'.repeat(36)}...`);
  });

  it('an unknown key lists the known keys at its level (and a close one)', () => {
    expect(message({ levle: 'low' })).toBe("unknown demo option 'levle' (did you mean 'level'?); known keys: level, ids, inner, byName, a, b");
    expect(message({ inner: { rate: 0.1, spatal: true } })).toBe("unknown demo option 'inner.spatal' (did you mean 'spatial'?); known keys: rate, spatial");
    expect(message({ zzz: 1 }, { lead: 'f.json: ' })).toBe("f.json: unknown key 'zzz'; known keys: level, ids, inner, byName, a, b");
  });

  it('an array is not an object, at any depth', () => {
    expect(message([])).toBe('demo options: expected an object, got an array');
    expect(message({ inner: [0.1] })).toBe("demo option 'inner' expects an object, got an array");
    expect(message({ byName: [] })).toBe("demo option 'byName' expects an object of rates, got an array");
    expect(message(null)).toBe('demo options: expected an object, got null');
    expect(message(3, { lead: 'f.json: ' })).toBe('f.json: expected an object, got 3');
  });

  it('a rule over several keys is stated for the object it belongs to', () => {
    expect(message({ a: true, b: true })).toBe("demo options: 'a' and 'b' exclude each other");
  });
});
