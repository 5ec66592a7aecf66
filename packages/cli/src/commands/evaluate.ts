import {
  ClassificationEstimator,
  deterministicRegression,
  fitTau,
  McuError,
  RegressionEstimator,
  SquaredErrorCollector,
  type NamedTensors,
  type StochasticModel,
  type Mcu,
} from '@mcu/core';
import type { Settings } from '../config.js';
import { writeFileAtomic } from '../io/files.js';
import { formatNumber, stringifyJson } from '../io/format.js';
import { readLabeled } from '../io/targets.js';
import { readUci } from '../io/uci.js';
import { progressBar } from '../progress.js';
import { loadModel, resolveTau, taskFor } from './common.js';

interface Labeled {
  readonly feeds: NamedTensors;
  readonly y: Float64Array;
  readonly rows: number;
}

function single(model: StochasticModel): string {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new McuError('E_UNSUPPORTED', `evaluate needs a model with one input and one output; this one has inputs ${model.inputs.map((i) => i.name).join(', ')} and outputs ${model.outputs.map((o) => o.name).join(', ')}`);
  }
  return model.inputs[0]!.name;
}

function fromFile(model: StochasticModel, path: string, target: string | number | undefined): Labeled {
  const input = single(model);
  const d = readLabeled(path, target, model.inputs[0]);
  return { feeds: { [input]: { dtype: 'float32', data: d.x.data, dims: d.x.dims } }, y: d.y.values, rows: d.x.dims[0]! };
}

function fromUci(model: StochasticModel, dir: string, split: number): Labeled {
  const input = single(model);
  const u = readUci(dir, split);
  return { feeds: { [input]: { dtype: 'float32', data: u.testX, dims: [u.nTest, u.nFeatures] } }, y: u.testY, rows: u.nTest };
}

/**
 * Below this many effective samples (or T/10, if smaller), a row's test log-likelihood is
 * flagged as unreliable.
 */
export const LOW_EFFECTIVE_SAMPLES = 100;

export interface EvaluateReport {
  readonly task: 'regression' | 'classification';
  readonly n: number;
  readonly samples: number;
  readonly seed: number;
  readonly maskScope: string;
  readonly backend: string;
  readonly executionProvider: string;
  readonly tau?: number | null;
  readonly tauFitted?: boolean;
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
 * The smallest per-row effective sample size behind the test log-likelihood; warns on `warn`
 * when some rows rest on fewer than min({@link LOW_EFFECTIVE_SAMPLES}, T/10).
 */
function effectiveSamples(ess: Float64Array | null, samples: number, warn: NodeJS.WritableStream | null): number | null {
  if (ess === null || ess.length === 0) return null;
  const threshold = Math.min(LOW_EFFECTIVE_SAMPLES, samples / 10);
  let min = Infinity;
  let low = 0;
  for (const e of ess) {
    if (e < min) min = e;
    if (e < threshold) low++;
  }
  if (low > 0 && warn !== null) {
    warn.write(
      `mcu: warning: the test log-likelihood of ${low} of ${ess.length} rows rests on fewer than ${Number(threshold.toPrecision(4))} effective samples ` +
        `(smallest ${formatNumber(min)} of T = ${samples}): their likelihood comes from a few samples, so the estimate is noisier ` +
        `than its Monte Carlo error says; raise --samples to steady it\n`,
    );
  }
  return min;
}

async function fittedTau(s: Settings, mcu: Mcu, model: StochasticModel, output: string): Promise<number> {
  const val = fromFile(model, s.fitTau!, s.target);
  const collector = new SquaredErrorCollector({ output, targets: val.y });
  await mcu.engine.run(model, val.feeds, { samples: s.samples, seed: s.seed, scope: s.maskScope, estimators: [collector] });
  return fitTau(collector).tau;
}

export async function evaluate(s: Settings, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WriteStream }): Promise<void> {
  if ((s.data === undefined) === (s.uci === undefined)) {
    throw new McuError('E_USAGE', "'evaluate' needs exactly one of --data FILE (with --target COL) or --uci DIR (with --split K)");
  }
  const { mcu, model } = await loadModel(s);
  try {
    const data = s.uci !== undefined ? fromUci(model, s.uci, s.split ?? 0) : fromFile(model, s.data!, s.target);
    const output = model.outputs[0]!;
    const task = taskFor(s, output);
    const bar = progressBar(io.stderr, !s.quiet);
    const base = {
      n: data.rows,
      seed: s.seed,
      maskScope: s.maskScope,
      backend: model.backend,
      executionProvider: model.executionProvider,
    };
    let report: EvaluateReport;
    if (task === 'regression') {
      let tau = resolveTau(s, model);
      let tauFitted = false;
      if (tau === undefined && s.fitTau !== undefined) {
        tau = await fittedTau(s, mcu, model, output.name);
        tauFitted = true;
      }
      if (tau === undefined && !s.quiet) {
        io.stderr.write(
          'mcu: warning: no model precision τ, so no test log-likelihood: give --tau X, --weight-decay with --length-scale and --n-train (eq. 7), or --fit-tau VALFILE\n',
        );
      }
      const est = new RegressionEstimator({ output: output.name, targets: data.y, ...(tau !== undefined ? { tau } : {}) });
      const meta = await mcu.engine.run(model, data.feeds, {
        samples: s.samples, seed: s.seed, scope: s.maskScope, estimators: [est], onProgress: (e) => bar.update(e),
        ...(s.tolerance !== undefined ? { tolerance: s.tolerance } : {}),
      });
      bar.done();
      const r = est.result();
      const det = deterministicRegression((await mcu.engine.deterministic(model, data.feeds))[output.name]!, data.y, tau !== undefined ? { tau } : {});
      const minEss = effectiveSamples(r.logLikelihoodEffectiveSamples, meta.samples, s.quiet ? null : io.stderr);
      report = {
        task, ...base, samples: meta.samples, tau: tau ?? null, tauFitted,
        rmse: r.rmse, rmseMcError: r.rmseStandardError, rmseStandard: det.rmse,
        logLikelihood: r.meanLogLikelihood, logLikelihoodMcError: r.logLikelihoodStandardError,
        logLikelihoodMinEffectiveSamples: minEss, logLikelihoodStandard: det.meanLogLikelihood,
      };
    } else {
      const labels = Int32Array.from(data.y, (v) => {
        if (!Number.isInteger(v) || v < 0) throw new McuError('E_INPUT', `classification targets must be class indices ≥ 0, got ${v}`);
        return v;
      });
      const est = new ClassificationEstimator({ output: output.name, labels, outputs: output.activation === 'softmax' ? 'probabilities' : 'logits' });
      const meta = await mcu.engine.run(model, data.feeds, { samples: s.samples, seed: s.seed, scope: s.maskScope, estimators: [est], onProgress: (e) => bar.update(e) });
      bar.done();
      const r = est.result();
      const minEss = effectiveSamples(r.logLikelihoodEffectiveSamples, meta.samples, s.quiet ? null : io.stderr);
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
      };
    }
    const width = Math.max(...Object.keys(report).map((k) => k.length));
    const cell = (v: unknown): string => (typeof v === 'number' && !Number.isInteger(v) ? formatNumber(v) : String(v));
    const text =
      s.format === 'json'
        ? stringifyJson(report) + '\n'
        : Object.entries(report).map(([k, v]) => `${k.padEnd(width)}  ${cell(v)}`).join('\n') + '\n';
    if (s.out !== undefined) writeFileAtomic(s.out, text);
    else io.stdout.write(text);
  } finally {
    await model.dispose();
  }
}
