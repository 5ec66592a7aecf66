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
  readonly rmseStandard?: number;
  readonly logLikelihood?: number | null;
  readonly logLikelihoodStandard?: number | null;
  readonly accuracy?: number | null;
  readonly accuracyStandard?: number;
  readonly nll?: number | null;
  readonly brier?: number | null;
  readonly ece?: number | null;
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
      const est = new RegressionEstimator({ output: output.name, targets: data.y, ...(tau !== undefined ? { tau } : {}) });
      const meta = await mcu.engine.run(model, data.feeds, {
        samples: s.samples, seed: s.seed, scope: s.maskScope, estimators: [est], onProgress: (e) => bar.update(e),
        ...(s.tolerance !== undefined ? { tolerance: s.tolerance } : {}),
      });
      bar.done();
      const r = est.result();
      const det = deterministicRegression((await mcu.engine.deterministic(model, data.feeds))[output.name]!, data.y, tau !== undefined ? { tau } : {});
      report = {
        task, ...base, samples: meta.samples, tau: tau ?? null, tauFitted,
        rmse: r.rmse, rmseStandard: det.rmse, logLikelihood: r.meanLogLikelihood, logLikelihoodStandard: det.meanLogLikelihood,
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
        nll: r.meanLogLikelihood === null ? null : -r.meanLogLikelihood, logLikelihood: r.meanLogLikelihood, brier: r.brier, ece: r.ece,
      };
    }
    const text =
      s.format === 'json'
        ? stringifyJson(report) + '\n'
        : Object.entries(report).map(([k, v]) => `${k.padEnd(22)} ${typeof v === 'number' ? formatNumber(v) : String(v)}`).join('\n') + '\n';
    if (s.out !== undefined) writeFileAtomic(s.out, text);
    else io.stdout.write(text);
  } finally {
    await model.dispose();
  }
}
