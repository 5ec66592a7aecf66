import { evaluate as coreEvaluate, LOW_EFFECTIVE_SAMPLES, McuError, type DecidedTask, type StochasticModel } from '@mcu/core';
import { writeFileAtomic } from '../io/files.js';
import { formatNumber, stringifyJson } from '../io/format.js';
import { readUci } from '../io/uci.js';
import type { Plan } from '../plan.js';
import { progressBar } from '../progress.js';
import { loadModel, printWarnings, readLabeledFile, runOptions, type Labeled } from './common.js';

function single(model: StochasticModel): string {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new McuError(
      'E_UNSUPPORTED',
      `evaluate needs a model with one input and one output; this one has inputs ${model.inputs.map((i) => i.name).join(', ')} and outputs ${model.outputs.map((o) => o.name).join(', ')}`,
    );
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
  readonly task: DecidedTask;
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

/** `mcu evaluate`: read the test set (a file or a UCI split), run @mcu/core's evaluate, print or write the report. */
export async function evaluate(plan: Plan, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WriteStream }): Promise<void> {
  const set = plan.testSet;
  if (set === undefined) {
    throw new McuError('E_USAGE', "'evaluate' needs exactly one of --data FILE (with --target COL) or --uci DIR (with --split K)");
  }
  const loaded = await loadModel(plan);
  const { model } = loaded;
  printWarnings(plan, io.stderr, loaded.warnings);
  try {
    const data = set.kind === 'uci' ? fromUci(model, set.dir, set.split) : fromFile(model, set.file, set.target);
    const bar = progressBar(io.stderr, !plan.quiet);
    const r = await coreEvaluate(model, data.feeds, data.y, await runOptions(plan, loaded, (e) => bar.update(e)));
    bar.done();
    const m = r.meta;
    printWarnings(plan, io.stderr, m.warnings.slice(model.warnings.length));
    const base = { n: r.n, seed: m.seed, maskScope: m.scope, backend: m.backend, executionProvider: m.executionProvider, samples: m.samples };
    const adaptive = {
      chunkSamples: m.chunkSamples,
      ...(m.tolerance !== undefined ? { tolerance: m.tolerance, converged: m.converged ?? null, maxStandardError: m.maxStandardError ?? null } : {}),
    };
    const report: EvaluateReport =
      r.task === 'regression'
        ? {
            task: r.task,
            ...base,
            tau: m.tau,
            tauFitted: m.tauFitted ?? false,
            ...(m.tauFitRange !== undefined ? { tauFitRange: m.tauFitRange } : {}),
            rmse: r.rmse,
            rmseMcError: r.rmseMcError,
            rmseStandard: r.standardDropout.rmse,
            logLikelihood: r.logLikelihood,
            logLikelihoodMcError: r.logLikelihoodMcError,
            logLikelihoodMinEffectiveSamples: r.logLikelihoodMinEffectiveSamples,
            logLikelihoodStandard: r.standardDropout.logLikelihood,
            ...adaptive,
          }
        : {
            task: r.task,
            ...base,
            accuracy: r.accuracy,
            accuracyStandard: r.standardDropout.accuracy,
            nll: r.nll,
            nllMcError: r.nllMcError,
            logLikelihood: r.logLikelihood,
            logLikelihoodMinEffectiveSamples: r.logLikelihoodMinEffectiveSamples,
            brier: r.brier,
            brierMcError: r.brierMcError,
            ece: r.ece,
            ...adaptive,
          };
    const width = Math.max(...Object.keys(report).map((k) => k.length));
    const cell = (v: unknown): string => (typeof v === 'number' && !Number.isInteger(v) ? formatNumber(v) : String(v));
    const text =
      plan.format === 'json'
        ? `${stringifyJson(report)}\n`
        : `${Object.entries(report)
            .map(([k, v]) => `${k.padEnd(width)}  ${cell(v)}`)
            .join('\n')}\n`;
    if (plan.out !== undefined) writeFileAtomic(plan.out, text);
    else io.stdout.write(text);
  } finally {
    await model.dispose();
  }
}
