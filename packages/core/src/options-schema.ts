/**
 * The option values every package shares, as valibot schemas: the task, the mask scope, the
 * dropout scaling, rates, and the run options a JSON document holds (`mcu.config.json`).
 * Backends compose their own option schemas from these pieces; `parseOptions` turns the
 * first valibot issue into one McuError('E_CONFIG') that names the option path, what was
 * expected and what was received (for an unknown key: the known keys).
 *
 * Every schema carries its expectation as its message ("an integer ≥ 1"), so the messages
 * read the same whichever package validates.
 */
import * as v from 'valibot';
import { McuError } from './errors.js';
import type { DropoutScaling, MaskScope } from './model.js';

const quoted = (values: readonly string[]): string => values.map((x) => `"${x}"`).join(', ');

/** A picklist whose message lists its values: `one of "a", "b"`. */
export function oneOf<const T extends readonly string[]>(values: T): v.PicklistSchema<T, string> {
  return v.picklist(values, `one of ${quoted(values)}`);
}

/** An integer ≥ `min` (a safe integer). */
export function integerAtLeast(min: number, expects = `an integer ≥ ${min}`) {
  return v.pipe(v.number(expects), v.safeInteger(expects), v.minValue(min, expects));
}

const POSITIVE = 'a number > 0';
/** A finite number > 0. */
export const PositiveNumberSchema = v.pipe(v.number(POSITIVE), v.finite(POSITIVE), v.gtValue(0, POSITIVE));

const RATE = 'a rate p in [0, 1)';
/** A dropout rate p in [0, 1). */
export const RateSchema = v.pipe(v.number(RATE), v.minValue(0, RATE), v.ltValue(1, RATE));

/** What a user may ask for one output (README "Tasks"), in the order messages list them. */
export const TASKS = ['regression', 'classification', 'auto'] as const;
/** One task: `regression`, `classification` or `auto` (decided from the model, README "Tasks"). */
export const TaskSchema = oneOf(TASKS);
/** What a user may ask for one output. */
export type Task = v.InferOutput<typeof TaskSchema>;
/** The task an output runs as, once decided (README "Tasks"): `auto` resolved. */
export type DecidedTask = Exclude<Task, 'auto'>;

const TASK_OPTION = `one of ${quoted(TASKS)}, or an object mapping output names to one of them`;
/** One task for every output, or some by output name (the rest: `auto`). */
export const TaskOptionSchema = v.union([TaskSchema, v.pipe(v.record(v.string(), TaskSchema, TASK_OPTION), v.minEntries(1, TASK_OPTION))], TASK_OPTION);
/** Tasks as asked for: one for every output, or some by output name (the rest: `auto`). */
export type TaskOption = Task | Readonly<Record<string, Task>>;

// The lists of model.ts's unions: a key object typed against the union, so a member added
// there cannot be missing here (nor one added here be unknown there).
const MASK_SCOPE_KEYS: { readonly [K in MaskScope]: true } = { sample: true, point: true };
const DROPOUT_SCALING_KEYS: { readonly [K in DropoutScaling]: true } = { inverted: true, none: true };

/** The mask scopes (model.ts `MaskScope`), the default first. */
export const MASK_SCOPES = Object.keys(MASK_SCOPE_KEYS) as readonly MaskScope[];
/** A mask scope: `sample` (one mask per MC sample, the paper's W_t) or `point` (one per row). */
export const MaskScopeSchema = oneOf(MASK_SCOPES);

/** The dropout scalings (model.ts `DropoutScaling`), the default first. */
export const DROPOUT_SCALINGS = Object.keys(DROPOUT_SCALING_KEYS) as readonly DropoutScaling[];
/** A dropout scaling: `inverted` (masks {0, 1/(1−p)}) or `none` (masks {0, 1}). */
export const DropoutScalingSchema = oneOf(DROPOUT_SCALINGS);

/**
 * The run options a JSON document holds (`mcu.config.json`'s run keys): samples T, seed,
 * mask scope, memory budget in MB, rows per batch, τ, and the task.
 */
export const RUN_OPTIONS_ENTRIES = {
  samples: v.optional(v.pipe(integerAtLeast(1), v.description('MC samples T (default 100).'))),
  seed: v.optional(
    v.pipe(integerAtLeast(0, `an integer in 0..${Number.MAX_SAFE_INTEGER}`), v.description('Seed of the counter-based mask generator (default 0).')),
  ),
  maskScope: v.optional(v.pipe(MaskScopeSchema, v.description("'sample' (default): one mask per MC sample shared by every row; 'point': a mask per row."))),
  memoryBudgetMB: v.optional(v.pipe(PositiveNumberSchema, v.description('Memory for the MC samples of one backend call, in MB (default 512).'))),
  batchSize: v.optional(v.pipe(integerAtLeast(1), v.description('Rows per batch (predict).'))),
  tau: v.optional(v.pipe(PositiveNumberSchema, v.description('Model precision τ for regression outputs.'))),
  task: v.optional(v.pipe(TaskOptionSchema, v.description('The task of every output, or an object mapping output names to tasks (the rest: auto).'))),
} as const;
/** The run options of a JSON document on their own (unknown keys are errors). */
export const RunOptionsSchema = v.strictObject(RUN_OPTIONS_ENTRIES, 'an object');
/** Run options as a JSON document holds them. */
export type RunOptionsDocument = v.InferOutput<typeof RunOptionsSchema>;

// ---------------------------------------------------------------------------------------
// Issues → one McuError
// ---------------------------------------------------------------------------------------

/** How `parseOptions` words its messages. */
export interface OptionsWording {
  /** Leads every message, e.g. `mcu.config.json: `. */
  readonly lead?: string;
  /** What one key is, e.g. `onnx option` ("onnx option 'x' expects …", "unknown onnx option 'y'"); default: the bare path and "unknown key". */
  readonly noun?: string;
  /** The value as a whole, e.g. `tfjs options` ("tfjs options: expected an object, got 3"). */
  readonly whole?: string;
  /** A close known key for a misspelt one (a "did you mean"). */
  readonly suggest?: (key: string, known: readonly string[]) => string | undefined;
}

function show(x: unknown): string {
  const s = JSON.stringify(x);
  if (s === undefined) return String(x);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function kindOf(x: unknown): string {
  return x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x === 'object' ? 'an object' : show(x);
}

type AnySchema = v.GenericSchema & {
  readonly message?: unknown;
  readonly entries?: Readonly<Record<string, AnySchema>>;
  readonly wrapped?: AnySchema;
  readonly options?: readonly AnySchema[];
  readonly item?: AnySchema;
  readonly value?: AnySchema;
};

/** The schema inside optional wrappers. */
const unwrap = (s: AnySchema): AnySchema => (s.wrapped !== undefined ? unwrap(s.wrapped) : s);

/** The schema at `keys` under `schema` (through optional wrappers, unions, arrays and records). */
function schemaAt(schema: AnySchema, keys: readonly unknown[]): AnySchema | undefined {
  let s: AnySchema | undefined = unwrap(schema);
  for (const key of keys) {
    if (s?.options !== undefined && s.type === 'union') {
      s = s.options.find((o) => o.entries !== undefined && Object.hasOwn(o.entries, String(key))) ?? s.options.find((o) => o.value !== undefined);
    }
    if (s === undefined) return undefined;
    const child: AnySchema | undefined =
      s.entries !== undefined ? (Object.hasOwn(s.entries, String(key)) ? s.entries[String(key)] : undefined) : (s.item ?? s.value);
    s = child === undefined ? undefined : unwrap(child);
  }
  return s;
}

const pathOf = (keys: readonly unknown[]): string =>
  keys.reduce<string>((p, k) => (typeof k === 'number' ? `${p}[${k}]` : p === '' ? String(k) : `${p}.${String(k)}`), '');

/** "onnx option 'rates.x' expects a rate p in [0, 1), got 1"; at the top: "onnx options: expected an object, got 3". */
function expectation(wording: OptionsWording, path: string, expects: string, got: string): string {
  const lead = wording.lead ?? '';
  if (path === '') return `${lead}${wording.whole !== undefined ? `${wording.whole}: ` : ''}expected ${expects}, got ${got}`;
  return `${lead}${wording.noun !== undefined ? `${wording.noun} ` : ''}'${path}' expects ${expects}, got ${got}`;
}

/** The message for one valibot issue of `schema` (the first one `parseOptions` meets). */
export function optionsIssueMessage(schema: v.GenericSchema, issue: v.BaseIssue<unknown>, wording: OptionsWording): string {
  const lead = wording.lead ?? '';
  const keys = (issue.path ?? []).map((p) => p.key);
  const path = pathOf(keys);
  const subject = wording.noun !== undefined ? `${wording.noun} '${path}'` : `'${path}'`;
  const last = issue.path?.[issue.path.length - 1];
  if (last?.origin === 'key' && issue.expected === 'never') {
    // A strict object met a key it does not declare.
    const known = Object.keys(schemaAt(schema as AnySchema, keys.slice(0, -1))?.entries ?? {});
    const hint = wording.suggest?.(String(last.key), known);
    return `${lead}unknown ${wording.noun ?? 'key'} '${path}'${hint ? ` (did you mean '${hint}'?)` : ''}; known keys: ${known.join(', ')}`;
  }
  if (last?.origin === 'key') return `${lead}${subject} is required`;
  if (issue.type === 'check') {
    // A rule over several keys: its message is the whole statement.
    return `${lead}${path === '' ? (wording.whole ?? 'the options') : subject}: ${issue.message}`;
  }
  const isObject = issue.type === 'strict_object' || issue.type === 'object' || issue.type === 'record';
  return expectation(wording, path, issue.message, isObject ? kindOf(issue.input) : show(issue.input));
}

/**
 * The path of the first array where `schema` wants an object: valibot's object and record
 * schemas take arrays (as objects with index keys), JSON options must not.
 */
function arrayForObject(
  schema: AnySchema,
  value: unknown,
  keys: readonly (string | number)[],
): { keys: readonly (string | number)[]; expects: string } | undefined {
  const s = unwrap(schema);
  if (value === null || typeof value !== 'object') return undefined;
  if (s.type === 'union') {
    for (const o of s.options ?? []) {
      const found = arrayForObject(o, value, keys);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  const isObject = s.entries !== undefined || s.type === 'record';
  if (Array.isArray(value)) {
    if (isObject) return { keys, expects: typeof s.message === 'string' ? s.message : 'an object' };
    if (s.item === undefined) return undefined;
    for (const [i, x] of value.entries()) {
      const found = arrayForObject(s.item, x, [...keys, i]);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const [k, x] of Object.entries(value)) {
    const child = s.entries !== undefined ? (Object.hasOwn(s.entries, k) ? s.entries[k] : undefined) : s.value;
    const found = child === undefined ? undefined : arrayForObject(child, x, [...keys, k]);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Validate `value` against `schema`: its output, or McuError('E_CONFIG') for the first issue. */
export function parseOptions<S extends v.GenericSchema>(schema: S, value: unknown, wording: OptionsWording): v.InferOutput<S> {
  const array = arrayForObject(schema as AnySchema, value, []);
  if (array !== undefined) throw new McuError('E_CONFIG', expectation(wording, pathOf(array.keys), array.expects, 'an array'));
  const result = v.safeParse(schema, value, { abortEarly: true });
  if (result.success) return result.output;
  throw new McuError('E_CONFIG', optionsIssueMessage(schema, result.issues[0], wording));
}
