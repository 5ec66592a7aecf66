import {
  ClassificationEstimator,
  deterministicRegression,
  effectiveSamples as coreEffectiveSamples,
  LOW_EFFECTIVE_SAMPLES,
  McuError,
  RegressionEstimator,
  type StochasticModel,
} from '@mcu/core';
import { writeFileAtomic } from '../io/files.js';
import { formatNumber, stringifyJson } from '../io/format.js';
import { readUci } from '../io/uci.js';
import type { Plan } from '../plan.js';
import { progressBar } from '../progress.js';
import { fitTauOnFile, loadModel, readLabeledFile, resolveTau, tasksFor, TAU_SEARCH_RANGE, type FittedTau, type Labeled } from './common.js';

function single(model: StochasticModel): string {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new McuError('E_UNSUPPORTED', `evaluate needs a model with one input and one output; this one has inputs ${model.inputs.map((i) => i.name).join(', ')} and outputs ${model.outputs.map((o) => o.name).join(', ')}`);
  }
  return model.inputs[0]!.name;
}

function fromFile(model: StochasticModel, path: string, target: string | number | undefined): Labeled {
  single(model);
  return readLabeledFile(model, path, target, `--data ${path}`);
}

function fromUci(model: StochasticModel, dir: string, split: number): Labeled {
  const input = single(model);
  const u = readUci(dir, split);
  return { feeds: { [input]: { dtype: 'float32', data: u.testX, dims: [u.nTest, u.nFeatures] } }, y: u.testY, rows: u.nTest };
}

/** Below this many effective samples (or T/10, if smaller), a row's test log-likelihood is flagged as unreliable (@mcu/core's). */
export { LOW_EFFECTIVE_SAMPLES };

export interface EvaluateReport {
  readonly task: 'regression' | 'classification';
  readonly n: number;
  readonly samples: number;
  readonly seed: number;
  readonly maskScope: string;
  readonly backend: string;
  readonly executionProvider: string;
  readonly tau?: number | null;
  /** With --fit-tau: true, or "boundary" when the best τ is an end of the searched range (a bound, not an optimum). */
  readonly tauFitted?: boolean | 'boundary';
  /** With tauFitted "boundary": the range searched. */
  readonly tauFitRange?: readonly [number, number];
  /** Samples per backend call (bounded by --memory-budget). */
  readonly chunkSamples?: number;
  /** With --tolerance: whether the largest Monte Carlo standard error fell below it, and that error. */
  readonly tolerance?: number;
  readonly converged?: boolean | null;
  readonly maxStandardError?: number | null;
  readonly rmse?: number | null;
  /** Monte Carlo standard error of `rmse` (batch means over 32 interleaved batches of samples). */
  readonly rmseMcError?: number | null;
  readonly rmseStandard?: number;
  readonly logLikelihood?: number | null;
  /** Monte Carlo standard error of `logLikelihood`, likewise. */
  readonly logLikelihoodMcError?: number | null;
  /**
   * The smallest, over test rows, effective number of samples behind a row's log-likelihood
   * ((Σ w)² / Σ w², w = the row's likelihood under one sample); below min({@link LOW_EFFECTIVE_SAMPLES}, T/10)
   * that row's estimate rests on a handful of samples and the Monte Carlo error understates it.
   */
  readonly logLikelihoodMinEffectiveSamples?: number | null;
  readonly logLikelihoodStandard?: number | null;
  readonly accuracy?: number | null;
  readonly accuracyStandard?: number;
  readonly nll?: number | null;
  /** Monte Carlo standard error of `nll` (and of `logLikelihood`), by batch means. */
  readonly nllMcError?: number | null;
  readonly brier?: number | null;
  /** Monte Carlo standard error of `brier`, likewise. */
  readonly brierMcError?: number | null;
  readonly ece?: number | null;
}

/**
 * The smallest per-row effective sample size behind the test log-likelihood (@mcu/core's
 * effectiveSamples, worded for --samples); warns on `warn` when some rows rest on fewer than
 * min({@link LOW_EFFECTIVE_SAMPLES}, T/10).
 */
function effectiveSamples(ess: Float64Array | null, samples: number, warn: NodeJS.WritableStream | null): number | null {
  const warnings: string[] = [];
  const min = coreEffectiveSamples(ess, samples, warnings, { samples: '--samples', format: formatNumber });
  if (warn !== null) for (const w of warnings) warn.write(`mcu: warning: ${w}\n`);
  return min;
}

export async function evaluate(plan: Plan, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WriteStream }): Promise<void> {
  const set = plan.testSet;
  if (set === undefined) {
    throw new McuError('E_USAGE', "'evaluate' needs exactly one of --data FILE (with --target COL) or --uci DIR (with --split K)");
  }
  const { mcu, model, caffe } = await loadModel(plan);
  const warn = plan.quiet ? null : io.stderr;
  if (warn !== null) for (const w of caffe?.onnx?.warnings ?? []) warn.write(`mcu: warning: ${w}\n`);
  try {
    const data = set.kind === 'uci' ? fromUci(model, set.dir, set.split) : fromFile(model, set.file, set.target);
    const output = model.outputs[0]!;
    const [out] = await tasksFor(plan, mcu, model, data.feeds);
    const task = out!.task;
    let tau = resolveTau(plan, model, [out!]);
    const bar = progressBar(io.stderr, !plan.quiet);
    const run = {
      samples: plan.engine.samples,
      seed: plan.engine.seed,
      scope: plan.engine.scope,
      memoryBudgetBytes: plan.engine.memoryBudgetBytes,
      ...(plan.engine.tolerance !== undefined ? { tolerance: plan.engine.tolerance } : {}),
      onProgress: (e: Parameters<typeof bar.update>[0]) => bar.update(e),
    };
    const base = {
      n: data.rows,
      seed: plan.engine.seed,
      maskScope: plan.engine.scope,
      backend: model.backend,
      executionProvider: model.executionProvider,
    };
    const adaptive = (meta: { chunkSamples: number; tolerance: number | null; converged: boolean | null; maxStandardError: number | null }) => ({
      chunkSamples: meta.chunkSamples,
      ...(meta.tolerance !== null ? { tolerance: meta.tolerance, converged: meta.converged, maxStandardError: meta.maxStandardError } : {}),
    });
    let report: EvaluateReport;
    if (task === 'regression') {
      let fitted: FittedTau | undefined;
      if (plan.tau.kind === 'fit') {
        fitted = await fitTauOnFile(plan, mcu, model, [out!], warn);
        tau = fitted.tau;
      }
      if (tau === undefined && warn !== null) {
        warn.write(
          'mcu: warning: no model precision τ, so no test log-likelihood: give --tau X, --weight-decay with --length-scale and --n-train (eq. 7), or --fit-tau VALFILE\n',
        );
      }
      const est = new RegressionEstimator({ output: output.name, targets: data.y, ...(tau !== undefined ? { tau } : {}) });
      const meta = await mcu.engine.run(model, data.feeds, { ...run, estimators: [est] });
      bar.done();
      const r = est.result();
      const det = deterministicRegression((await mcu.engine.deterministic(model, data.feeds))[output.name]!, data.y, tau !== undefined ? { tau } : {});
      const minEss = effectiveSamples(r.logLikelihoodEffectiveSamples, meta.samples, warn);
      report = {
        task, ...base, samples: meta.samples, tau: tau ?? null,
        tauFitted: fitted === undefined ? false : fitted.atBoundary ? 'boundary' : true,
        ...(fitted?.atBoundary ? { tauFitRange: [TAU_SEARCH_RANGE.min, TAU_SEARCH_RANGE.max] as const } : {}),
        rmse: r.rmse, rmseMcError: r.rmseStandardError, rmseStandard: det.rmse,
        logLikelihood: r.meanLogLikelihood, logLikelihoodMcError: r.logLikelihoodStandardError,
        logLikelihoodMinEffectiveSamples: minEss, logLikelihoodStandard: det.meanLogLikelihood,
        ...adaptive(meta),
      };
    } else {
      const labels = Int32Array.from(data.y, (v) => {
        if (!Number.isInteger(v) || v < 0) throw new McuError('E_INPUT', `classification targets must be class indices ≥ 0, got ${v}`);
        return v;
      });
      const est = new ClassificationEstimator({ output: output.name, labels, outputs: out!.holds ?? 'logits' });
      const meta = await mcu.engine.run(model, data.feeds, { ...run, estimators: [est] });
      bar.done();
      const r = est.result();
      const minEss = effectiveSamples(r.logLikelihoodEffectiveSamples, meta.samples, warn);
      const detLogits = (await mcu.engine.deterministic(model, data.feeds))[output.name]!;
      const c = detLogits.data.length / data.rows;
      let correct = 0;
      for (let i = 0; i < data.rows; i++) {
        let best = 0;
        for (let k = 1; k < c; k++) if ((detLogits.data[i * c + k] as number) > (detLogits.data[i * c + best] as number)) best = k;
        if (best === labels[i]) correct++;
      }
      report = {
        task, ...base, samples: meta.samples,
        accuracy: r.accuracy, accuracyStandard: correct / data.rows,
        nll: r.meanLogLikelihood === null ? null : -r.meanLogLikelihood, nllMcError: r.logLikelihoodStandardError,
        logLikelihood: r.meanLogLikelihood, logLikelihoodMinEffectiveSamples: minEss,
        brier: r.brier, brierMcError: r.brierStandardError, ece: r.ece,
        ...adaptive(meta),
      };
    }
    const width = Math.max(...Object.keys(report).map((k) => k.length));
    const cell = (v: unknown): string => (typeof v === 'number' && !Number.isInteger(v) ? formatNumber(v) : String(v));
    const text =
      plan.format === 'json'
        ? stringifyJson(report) + '\n'
        : Object.entries(report).map(([k, v]) => `${k.padEnd(width)}  ${cell(v)}`).join('\n') + '\n';
    if (plan.out !== undefined) writeFileAtomic(plan.out, text);
    else io.stdout.write(text);
  } finally {
    await model.dispose();
  }
}
