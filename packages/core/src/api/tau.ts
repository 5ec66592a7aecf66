/**
 * The model precision τ of the one-call API: given, from weight decay (eq. 7), or fitted by
 * validation log-likelihood (eq. 8) — the CLI's --tau, --weight-decay/--length-scale/--n-train
 * and --fit-tau.
 */
import type { McEngine, McRunOptions } from '../engine/engine.js';
import { McuError } from '../errors.js';
import { fitTau as fitTauOn, SquaredErrorCollector, tauFromWeightDecay } from '../estimators/tau.js';
import type { TargetsInput } from '../estimators/input.js';
import type { MaskScope, StochasticModel } from '../model.js';
import { toFeeds, type Inputs } from './inputs.js';
import type { RunWording } from './run.js';
import type { OutputTask } from './tasks.js';

/** τ by eq. 7, τ = (1 − p) l² / (2 N λ), with p the sites' one dropout rate. */
export interface TauPrior {
  /** Weight decay λ used in training. */
  readonly weightDecay: number;
  /** Prior length-scale l. */
  readonly lengthScale: number;
  /** Number of training points N. */
  readonly nTrain: number;
}

/** The model precision: a number, or eq. 7's training hyper-parameters. */
export type TauOption = number | TauPrior;

/** Validation rows and their targets, to fit τ on (the CLI's --fit-tau VALFILE). */
export interface FitTauData {
  readonly data: Inputs;
  /** One target per row (flat, or N rows of one value). */
  readonly targets: TargetsInput;
}

/** The τ range searched when fitting (fitTau's default, given explicitly so that messages and results can name it). */
export const TAU_SEARCH_RANGE = { min: 1e-3, max: 1e6 } as const;

/** A fitted τ. */
export interface FittedTau {
  readonly tau: number;
  /** True when the best τ is an end of {@link TAU_SEARCH_RANGE}: a bound, not an optimum. */
  readonly atBoundary: boolean;
  /** The mean validation log-likelihood at `tau`. */
  readonly logLikelihood: number;
}

/** How τ messages name the setting: the library's `tau` option by default, the CLI's flags there. */
export interface TauWording {
  /** The setting that gave τ, e.g. `the tau option`. */
  readonly option: string;
  /** How to leave it out, e.g. `leave it out`. */
  readonly leaveOut: string;
  /** The fix when eq. 7 cannot apply, e.g. `give tau as a number instead`. */
  readonly giveNumber: string;
}

/** The library's wording: the `tau` option of predict/evaluate. */
export const API_TAU_WORDING: TauWording = { option: 'the tau option', leaveOut: 'leave it out', giveNumber: 'give tau as a number instead' };

/** τ for a model without a regression output is an E_USAGE: it would change nothing. */
export function assertTauApplies(tasks: readonly OutputTask[], wording: TauWording = API_TAU_WORDING): void {
  if (tasks.some((o) => o.task === 'regression')) return;
  throw new McuError(
    'E_USAGE',
    `${wording.option} sets the model precision τ of regression outputs (1/τ is added to their variance), but ${tasks.length === 1 ? `the model's only output '${tasks[0]!.name}' is` : `all outputs (${tasks.map((o) => o.name).join(', ')}) are`} classification: ${wording.leaveOut}`,
  );
}

/**
 * τ from the `tau` option: undefined without one; a number as it is; eq. 7 with the sites' one
 * dropout rate (several rates, or none, are an E_USAGE). τ for a model without a regression
 * output is an E_USAGE: it would change nothing — or, with `dropForClassifiers` (a configured
 * default meant for regression models), dropped silently (undefined).
 */
export function resolveTau(
  tau: TauOption | undefined,
  model: StochasticModel,
  tasks: readonly OutputTask[],
  options: { readonly wording?: TauWording; readonly dropForClassifiers?: boolean } = {},
): number | undefined {
  if (tau === undefined) return undefined;
  const wording = options.wording ?? API_TAU_WORDING;
  if (options.dropForClassifiers === true && !tasks.some((o) => o.task === 'regression')) return undefined;
  assertTauApplies(tasks, wording);
  if (typeof tau === 'number') {
    if (!(Number.isFinite(tau) && tau > 0)) throw new McuError('E_CONFIG', `tau (model precision) must be a finite number > 0, got ${tau}`);
    return tau;
  }
  if (typeof tau !== 'object' || tau === null)
    throw new McuError('E_CONFIG', `tau must be a number or { weightDecay, lengthScale, nTrain }, got ${String(tau)}`);
  const rates = [...new Set(model.sites.map((x) => x.rate))];
  if (rates.length !== 1) {
    throw new McuError(
      'E_USAGE',
      `τ from weight decay (eq. 7) needs one dropout rate, but the model's sites have ${rates.length === 0 ? 'none' : `several (${rates.join(', ')})`}; ${wording.giveNumber}`,
    );
  }
  return tauFromWeightDecay({ dropoutRate: rates[0]!, lengthScale: tau.lengthScale, nTrain: tau.nTrain, weightDecay: tau.weightDecay });
}

/**
 * τ maximising the validation log-likelihood (eq. 8) of the one regression output over
 * {@link TAU_SEARCH_RANGE}, under the run's samples, seed and scope (no tolerance: the collector
 * has no standard error). Several or no regression outputs, or one with more than one value
 * per row, are an E_USAGE.
 */
export async function fitTauOnData(
  engine: McEngine,
  model: StochasticModel,
  tasks: readonly OutputTask[],
  validation: FitTauData,
  run: { readonly samples: number; readonly seed: number; readonly scope: MaskScope; readonly memoryBudgetBytes?: number; readonly signal?: AbortSignal },
  wording: RunWording = {},
): Promise<FittedTau> {
  const name = wording.fitTau ?? 'fitTau';
  const giveNumber = (wording.tau ?? API_TAU_WORDING).giveNumber;
  assertTauApplies(tasks, wording.tau); // no regression output: τ would change nothing
  const regression = tasks.filter((o) => o.task === 'regression');
  if (regression.length !== 1) {
    throw new McuError(
      'E_USAGE',
      `${name} fits one τ from one target per row, for one regression output; this model has ${regression.length === 0 ? 'none' : `${regression.length} (${regression.map((o) => o.name).join(', ')})`}: ${giveNumber}`,
    );
  }
  const out = regression[0]!;
  if (out.width !== 1) {
    throw new McuError('E_USAGE', `${name}: output '${out.name}' has ${out.width} values per row, but ${name} takes one target per row; ${giveNumber}`);
  }
  const feeds = toFeeds(model, validation.data, `${name} data`);
  const collector = new SquaredErrorCollector({ output: out.name, targets: validation.targets });
  const options: McRunOptions = {
    samples: run.samples,
    seed: run.seed,
    scope: run.scope,
    ...(run.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: run.memoryBudgetBytes } : {}),
    ...(run.signal !== undefined ? { signal: run.signal } : {}),
    estimators: [collector],
  };
  await engine.run(model, feeds, options);
  const r = fitTauOn(collector, TAU_SEARCH_RANGE);
  return { tau: r.tau, atBoundary: r.atBoundary, logLikelihood: r.logLikelihood };
}

/** The warning for a fitted τ at an end of the searched range (a bound, not an optimum). */
export function boundaryWarning(fitted: FittedTau, wording: RunWording = {}): string {
  const end = fitted.tau <= TAU_SEARCH_RANGE.min * (1 + 1e-6) ? 'lower' : 'upper';
  return (
    `${wording.fitTau ?? 'fitTau'}: the validation log-likelihood is highest at the ${end} end of the searched range [${TAU_SEARCH_RANGE.min}, ${TAU_SEARCH_RANGE.max}] ` +
    `(τ = ${fitted.tau}), so the best τ lies outside it: this τ is a bound, not a fitted optimum (reported as tauFitted "boundary"); ` +
    `check that the model predicts ${wording.fitTauTargets ?? 'the targets'}, or ${(wording.tau ?? API_TAU_WORDING).giveNumber}`
  );
}
