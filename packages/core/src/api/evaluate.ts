/**
 * `evaluate`: test-set metrics of one model output in one call — RMSE and test log-likelihood
 * (eq. 8) for regression, accuracy, NLL, Brier score and ECE for classification, each with its
 * Monte Carlo standard error, next to the "standard dropout" pass (weights scaled, one run).
 */
import type { ProgressEvent } from '../engine/engine.js';
import { McuError } from '../errors.js';
import { ClassificationEstimator } from '../estimators/classification.js';
import type { TargetsInput } from '../estimators/input.js';
import { deterministicRegression, RegressionEstimator } from '../estimators/regression.js';
import { acquireModel, rowCount, toFeeds, type Inputs, type ModelInput } from './inputs.js';
import { checkOptionKeys, engineOf, metaOf, settingsOf, tasksOf, tauOf, type ResultMeta, type ApiRunOptions } from './run.js';

/**
 * Below this many effective samples (or T/10, if smaller), a row's test log-likelihood rests on
 * a handful of samples and {@link evaluate} warns.
 */
export const LOW_EFFECTIVE_SAMPLES = 100;

/** Options of {@link evaluate}: all test rows run in one engine run (the Monte Carlo errors need every row under the same masks). */
export interface EvaluateOptions extends ApiRunOptions {
  /** The output to evaluate; default: the model's only output. */
  readonly output?: string;
}

/** Regression metrics over the test rows. */
export interface RegressionEvaluation {
  readonly task: 'regression';
  readonly output: string;
  /** Test rows. */
  readonly n: number;
  /** RMSE of the MC mean, and its Monte Carlo standard error (batch means over interleaved samples). */
  readonly rmse: number;
  readonly rmseMcError: number | null;
  /** Mean test log-likelihood (eq. 8; null without τ), and its Monte Carlo standard error. */
  readonly logLikelihood: number | null;
  readonly logLikelihoodMcError: number | null;
  /** The smallest per-row effective sample size behind the log-likelihood (null without τ). */
  readonly logLikelihoodMinEffectiveSamples: number | null;
  /** "Standard dropout" (one deterministic pass): RMSE, and the Gaussian log-likelihood with τ. */
  readonly standardDropout: { readonly rmse: number; readonly logLikelihood: number | null };
  readonly meta: ResultMeta;
}

/** Classification metrics over the test rows. */
export interface ClassificationEvaluation {
  readonly task: 'classification';
  readonly output: string;
  readonly n: number;
  /** Fraction of rows whose argmax p̄ is the label. */
  readonly accuracy: number;
  /** Negative mean log p̄[label], and its Monte Carlo standard error. */
  readonly nll: number;
  readonly nllMcError: number | null;
  /** Mean log p̄[label] (= −nll). */
  readonly logLikelihood: number;
  readonly logLikelihoodMinEffectiveSamples: number | null;
  /** Brier score, and its Monte Carlo standard error. */
  readonly brier: number;
  readonly brierMcError: number | null;
  /** Expected calibration error of max p̄ (15 bins). */
  readonly ece: number;
  /** "Standard dropout" (one deterministic pass): its accuracy. */
  readonly standardDropout: { readonly accuracy: number };
  readonly meta: ResultMeta;
}

/** What {@link evaluate} returns. */
export type EvaluateResult = RegressionEvaluation | ClassificationEvaluation;

/**
 * The smallest per-row effective sample size behind a test log-likelihood (null without one),
 * and a warning in `warnings` when some rows rest on fewer than min({@link LOW_EFFECTIVE_SAMPLES}, T/10).
 * `wording` names the samples setting and formats the smallest size (the CLI's --samples).
 */
export function effectiveSamples(
  ess: Float64Array | null,
  samples: number,
  warnings: string[],
  wording: { readonly samples?: string; readonly format?: (x: number) => string } = {},
): number | null {
  if (ess === null || ess.length === 0) return null;
  const threshold = Math.min(LOW_EFFECTIVE_SAMPLES, samples / 10);
  let min = Infinity;
  let low = 0;
  for (const e of ess) {
    if (e < min) min = e;
    if (e < threshold) low++;
  }
  if (low > 0) {
    const format = wording.format ?? ((x: number) => String(Number(x.toPrecision(4))));
    warnings.push(
      `the test log-likelihood of ${low} of ${ess.length} rows rests on fewer than ${Number(threshold.toPrecision(4))} effective samples ` +
        `(smallest ${format(min)} of T = ${samples}): their likelihood comes from a few samples, so the estimate is noisier ` +
        `than its Monte Carlo error says; raise ${wording.samples ?? 'samples'} to steady it`,
    );
  }
  return min;
}

/** Class labels: integers ≥ 0, one per row (E_INPUT otherwise). */
function labelsOf(targets: TargetsInput): Int32Array {
  const flat = targets instanceof Float64Array ? targets : (targets as readonly (number | readonly number[])[]).flat();
  return Int32Array.from(flat, (v) => {
    if (!Number.isInteger(v) || v < 0) throw new McuError('E_INPUT', `classification targets must be class indices ≥ 0, got ${v}`);
    return v;
  });
}

/**
 * Evaluate one output on labelled rows, in one call. `data` are the rows as for {@link predict};
 * `targets` one value per row (N·D values for a regression output with D values per row;
 * class indices for classification). The task is decided as in predict; regression needs τ
 * (`tau`, or `fitTau: { data, targets }` on validation rows) for the log-likelihood and warns
 * in `meta.warnings` without it.
 */
export async function evaluate(model: ModelInput, data: Inputs, targets: TargetsInput, options: EvaluateOptions = {}): Promise<EvaluateResult> {
  checkOptionKeys(options, 'evaluate', ['output']);
  const s = settingsOf(options);
  const engine = engineOf(options.mcu);
  const { model: m, owned } = await acquireModel(model, options.mcu, options.load, 'evaluate');
  try {
    const names = m.outputs.map((o) => o.name);
    const output = options.output ?? (names.length === 1 ? names[0]! : undefined);
    if (output === undefined)
      throw new McuError('E_USAGE', `evaluate: the model has ${names.length} outputs (${names.join(', ')}): name one with the output option`);
    if (!names.includes(output)) throw new McuError('E_USAGE', `evaluate: the model has no output '${output}'; its outputs: ${names.join(', ')}`);
    const feeds = toFeeds(m, data, 'data');
    const n = rowCount(feeds);
    const [out] = await tasksOf(engine, m, feeds, options.task, [output], options.wording?.task);
    const { tau, fitted } = await tauOf(engine, m, [out!], options, s);
    const run = {
      samples: s.samples,
      seed: s.seed,
      scope: s.scope,
      ...(s.tolerance !== undefined ? { tolerance: s.tolerance } : {}),
      ...(s.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: s.memoryBudgetBytes } : {}),
      ...(s.signal !== undefined ? { signal: s.signal } : {}),
      ...(options.sampler !== undefined ? { sampler: options.sampler } : {}),
      ...(options.onProgress !== undefined ? { onProgress: (e: ProgressEvent) => options.onProgress!({ ...e, batch: 0, batches: 1 }) } : {}),
    };
    const warnings: string[] = [];
    if (out!.task === 'regression') {
      if (tau === undefined)
        warnings.push(
          `no model precision τ, so no test log-likelihood: ${options.wording?.giveTau ?? 'give tau (a number or { weightDecay, lengthScale, nTrain }) or fitTau'}`,
        );
      const est = new RegressionEstimator({ output, targets, ...(tau !== undefined ? { tau } : {}) });
      const meta = await engine.run(m, feeds, { ...run, estimators: [est] });
      const r = est.result();
      const det = deterministicRegression((await engine.deterministic(m, feeds))[output]!, targets, tau !== undefined ? { tau } : {});
      const minEss = effectiveSamples(r.logLikelihoodEffectiveSamples, meta.samples, warnings, options.wording ?? {});
      return {
        task: 'regression',
        output,
        n,
        rmse: r.rmse!,
        rmseMcError: r.rmseStandardError,
        logLikelihood: r.meanLogLikelihood,
        logLikelihoodMcError: r.logLikelihoodStandardError,
        logLikelihoodMinEffectiveSamples: minEss,
        standardDropout: { rmse: det.rmse, logLikelihood: det.meanLogLikelihood },
        meta: metaOf(m, s, [meta], [out!], tau, fitted, undefined, warnings, options.wording),
      };
    }
    const labels = labelsOf(targets);
    const est = new ClassificationEstimator({ output, labels, outputs: out!.holds ?? 'logits' });
    const meta = await engine.run(m, feeds, { ...run, estimators: [est] });
    const r = est.result();
    const minEss = effectiveSamples(r.logLikelihoodEffectiveSamples, meta.samples, warnings, options.wording ?? {});
    const det = (await engine.deterministic(m, feeds))[output]!;
    const c = det.data.length / n;
    let correct = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let k = 1; k < c; k++) if ((det.data[i * c + k] as number) > (det.data[i * c + best] as number)) best = k;
      if (best === labels[i]) correct++;
    }
    return {
      task: 'classification',
      output,
      n,
      accuracy: r.accuracy!,
      nll: -r.meanLogLikelihood!,
      nllMcError: r.logLikelihoodStandardError,
      logLikelihood: r.meanLogLikelihood!,
      logLikelihoodMinEffectiveSamples: minEss,
      brier: r.brier!,
      brierMcError: r.brierStandardError,
      ece: r.ece!,
      standardDropout: { accuracy: correct / n },
      meta: metaOf(m, s, [meta], [out!], tau, fitted, undefined, warnings, options.wording),
    };
  } finally {
    if (owned) await m.dispose();
  }
}
