/**
 * The task of each model output (README "Tasks"): mcu never guesses between regression and
 * classification. The rule is the CLI's; the fixes its messages name are worded by a
 * {@link TaskWording} (the library's options by default).
 */
import { McuError } from '../errors.js';
import type { StochasticModel } from '../model.js';
import type { DecidedTask, Task, TaskOption } from '../options-schema.js';
import { sizeOf, type NamedTensors } from '../tensor.js';

export type { Task, TaskOption };

/** The task mcu runs for one output, and why. */
export interface OutputTask {
  readonly name: string;
  readonly task: DecidedTask;
  /** The output's dims per row (without the batch axis). */
  readonly perRow: readonly number[];
  /** Values per row: prod(perRow). */
  readonly width: number;
  /** Classification: what the output holds (a network ending in Softmax hands out probabilities). */
  readonly holds?: 'logits' | 'probabilities';
  /** 'asked' (the task option), 'softmax' (ends in Softmax/LogSoftmax), 'one value' (auto, 1 value per row). */
  readonly reason: 'asked' | 'softmax' | 'one value';
}

/** How messages name the fix: the library's `task` option by default, `--task` in the CLI. */
export interface TaskWording {
  /** Setting every output's task, e.g. `task: 'regression'`. */
  all(task: DecidedTask): string;
  /** Setting one output's task, e.g. `task: { y: 'regression' }`. */
  one(name: string, task: Task): string;
  /** Where an asked-for task comes from, e.g. `options.task`. */
  readonly asked: string;
  /**
   * The lead of the message for a task asked for an output the model does not have
   * (default: `${one(name, task)} (${asked})`).
   */
  unknown?(name: string, task: Task): string;
}

/** The library's wording: the `task` option of predict/evaluate. */
export const API_TASK_WORDING: TaskWording = {
  all: (task) => `task: '${task}'`,
  one: (name, task) => `task: { ${JSON.stringify(name)}: '${task}' }`,
  asked: 'options.task',
};

const usage = (msg: string): McuError => new McuError('E_USAGE', msg);
const dimsText = (perRow: readonly number[]): string => `[N${perRow.map((d) => `, ${d}`).join('')}]`;

/** Per-row dims from a spec when they are all known numbers. */
export function knownPerRow(dims: readonly (number | string)[]): number[] | undefined {
  const rest = dims.slice(1);
  return rest.every((d) => typeof d === 'number' && Number.isInteger(d) && d > 0) ? (rest as number[]) : undefined;
}

/** One class distribution per row: [C], or [1, …, 1, C]. */
const isClassVector = (perRow: readonly number[]): boolean => perRow.length >= 1 && perRow.slice(0, -1).every((d) => d === 1);

/**
 * Decide one output's task:
 * - asked for: that task — classification only for [N, C] outputs with C ≥ 2;
 * - auto: ends in Softmax/LogSoftmax → classification (a softmax output holds probabilities);
 *   one value per row → regression; anything else is an E_USAGE naming the output, its
 *   per-row size and the fix.
 */
export function decideTask(
  name: string,
  requested: Task,
  activation: 'softmax' | 'log-softmax' | undefined,
  perRow: readonly number[],
  wording: TaskWording = API_TASK_WORDING,
): OutputTask {
  const width = sizeOf(perRow);
  const base = { name, perRow: [...perRow], width };
  const holds = activation === 'softmax' ? 'probabilities' : 'logits';
  const op = activation === 'softmax' ? 'Softmax' : 'LogSoftmax';
  const perPixel = (lead: string): McuError =>
    usage(
      `${lead}, but its values per row have dims [${perRow.join(', ')}] (dims ${dimsText(perRow)}): mcu classifies only [N, C] outputs, one class distribution per row, ` +
        `not per-pixel or per-position scores; give ${wording.one(name, 'regression')} for the mean and standard deviation of each value`,
    );
  if (requested === 'regression') return { ...base, task: 'regression', reason: 'asked' };
  if (requested === 'classification') {
    if (!isClassVector(perRow)) throw perPixel(`output '${name}' is asked to be classification (${wording.asked})`);
    if (width < 2) {
      throw usage(
        `the task of output '${name}' is classification (${wording.asked}), but it has ${width} value per row (dims ${dimsText(perRow)}); ` +
          `classification needs C ≥ 2 class scores per row: give ${wording.all('regression')}${name ? ` (or ${wording.one(name, 'regression')})` : ''}`,
      );
    }
    return { ...base, task: 'classification', holds, reason: 'asked' };
  }
  if (requested !== 'auto')
    throw new McuError('E_CONFIG', `the task of output '${name}' must be 'auto', 'regression' or 'classification', got ${String(requested)}`);
  if (activation !== undefined) {
    if (!isClassVector(perRow)) throw perPixel(`output '${name}' ends in ${op}`);
    if (width < 2) {
      throw usage(
        `output '${name}' ends in ${op} over ${width} value per row (dims ${dimsText(perRow)}), which is constant; give ${wording.one(name, 'regression')} to report it anyway`,
      );
    }
    return { ...base, task: 'classification', holds, reason: 'softmax' };
  }
  if (width === 1) return { ...base, task: 'regression', reason: 'one value' };
  throw usage(
    `output '${name}' has ${width} values per row (dims ${dimsText(perRow)}) and does not end in Softmax or LogSoftmax, so mcu cannot tell class logits from ${width} regression targets: ` +
      `give ${wording.all('classification')} if it holds logits, or ${wording.all('regression')} (for this output only: ${wording.one(name, 'classification')} or ${wording.one(name, 'regression')})`,
  );
}

/** The first row of every feed (a cheap deterministic pass to learn output shapes). */
export function firstRow(feeds: NamedTensors): NamedTensors {
  const out: NamedTensors = {};
  for (const [name, t] of Object.entries(feeds)) {
    const per = t.data.length / t.dims[0]!;
    out[name] = { dtype: t.dtype, data: t.data.slice(0, per), dims: [1, ...t.dims.slice(1)] } as NamedTensors[string];
  }
  return out;
}

/**
 * The task of every model output (or of the outputs in `only`). Outputs whose per-row size the
 * spec leaves symbolic get it from `probe` (a deterministic pass), called at most once. A task
 * asked for an output the model does not have is an E_USAGE listing the outputs.
 */
export async function resolveTasks(
  task: TaskOption,
  model: StochasticModel,
  probe: () => Promise<NamedTensors>,
  options: { readonly only?: readonly string[]; readonly wording?: TaskWording } = {},
): Promise<OutputTask[]> {
  const wording = options.wording ?? API_TASK_WORDING;
  const byOutput: Readonly<Record<string, Task>> = typeof task === 'string' ? {} : task;
  const fallback: Task = typeof task === 'string' ? task : 'auto';
  const names = model.outputs.map((o) => o.name);
  for (const n of Object.keys(byOutput)) {
    if (names.includes(n)) continue;
    const lead = wording.unknown?.(n, byOutput[n]!) ?? `${wording.one(n, byOutput[n]!)} (${wording.asked})`;
    throw usage(`${lead}: the model has no output '${n}'; its outputs: ${names.join(', ')}`);
  }
  let probed: NamedTensors | undefined;
  const result: OutputTask[] = [];
  for (const out of model.outputs) {
    if (options.only !== undefined && !options.only.includes(out.name)) continue;
    let perRow = knownPerRow(out.dims);
    if (perRow === undefined) {
      probed ??= await probe();
      const t = probed[out.name];
      if (t === undefined) throw new McuError('E_RUNTIME', `the deterministic pass returned no output '${out.name}'`);
      perRow = t.dims.slice(1).map(Number);
    }
    result.push(decideTask(out.name, byOutput[out.name] ?? fallback, out.activation, perRow, wording));
  }
  return result;
}
