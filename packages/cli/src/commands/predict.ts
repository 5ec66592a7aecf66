import { isMcuError, McuError, replayFromRows, type NamedTensors, type Sampler } from '@mcu/core';
import type { Settings } from '../config.js';
import { formatResult } from '../io/format.js';
import { writeFileAtomic } from '../io/files.js';
import { readMasksFile } from '../io/masks.js';
import type { OutputResult, PredictResult } from '../io/result.js';
import { progressBar } from '../progress.js';
import { estimatorsFor, loadModel, readFeeds, resolveTau, rowsOf, sitesMeta } from './common.js';

export async function predict(s: Settings, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WriteStream }): Promise<void> {
  const { mcu, model } = await loadModel(s);
  if (!s.quiet) for (const w of model.warnings) io.stderr.write(`mcu: warning: ${w}\n`);
  try {
    const feeds = readFeeds(model, s.input);
    const rows = Object.values(feeds)[0]!.dims[0]!;
    const tau = resolveTau(s, model);
    let sampler: Sampler | undefined;
    let samples = s.samples;
    let scope = s.maskScope;
    if (s.masks !== undefined) {
      const given = readMasksFile(s.masks);
      if (given.length !== model.sites.length) {
        throw new McuError('E_MASK', `${s.masks}: the model has ${model.sites.length} stochastic site(s) (${model.sites.map((x) => x.name).join(', ') || 'none'}), the file gives ${given.length} mask entries; one entry per site, in 'mcu inspect' order`);
      }
      given.forEach((entry, k) => {
        if (entry.length !== rows) {
          throw new McuError('E_MASK', `${s.masks}: site '${model.sites[k]!.name}' needs one mask row per input row (${rows}), got ${entry.length}`);
        }
      });
      try {
        sampler = replayFromRows(model.sites, given);
      } catch (e) {
        // name the file, as every other --masks problem does
        if (isMcuError(e) && e.code === 'E_MASK') throw new McuError('E_MASK', `${s.masks}: ${e.message}`, { cause: e });
        throw e;
      }
      samples = 1;
      scope = 'point';
    }

    // --batch-size: split the rows into batches (one engine run each, same seed; point-scope
    // masks use global row indices, so batching does not change any mask).
    const batch = sampler === undefined && s.batchSize !== undefined ? Math.min(s.batchSize, rows) : rows;
    const parts: Record<string, OutputResult>[] = [];
    let meta: Awaited<ReturnType<typeof mcu.engine.run>> | undefined;
    const bar = progressBar(io.stderr, !s.quiet);
    for (let first = 0; first < rows; first += batch) {
      const n = Math.min(batch, rows - first);
      const part = batch === rows ? feeds : sliceRows(feeds, first, n);
      const { regression, classification } = estimatorsFor(s, model, tau);
      meta = await mcu.engine.run(model, part, {
        samples,
        seed: s.seed,
        scope,
        firstRow: first,
        ...(sampler ? { sampler } : {}),
        ...(s.tolerance !== undefined ? { tolerance: s.tolerance } : {}),
        memoryBudgetBytes: s.memoryBudgetMB * 1024 * 1024,
        estimators: [...regression.values(), ...classification.values()],
        onProgress: (e) => bar.update(e),
      });
      const outputs: Record<string, OutputResult> = {};
      for (const out of model.outputs) {
        const r = regression.get(out.name);
        if (r) {
          const res = r.result();
          outputs[out.name] = { task: 'regression', mean: rowsOf(res.mean, n), variance: rowsOf(res.variance, n), std: rowsOf(res.std, n) };
          continue;
        }
        const c = classification.get(out.name)!.result();
        outputs[out.name] = {
          task: 'classification',
          probs: rowsOf(c.probs, n),
          predicted: Array.from(c.predicted),
          entropy: Array.from(c.entropy),
          mutualInformation: Array.from(c.mutualInformation),
          variationRatio: Array.from(c.variationRatio),
        };
      }
      parts.push(outputs);
    }
    bar.done();
    const outputs = concatParts(parts);
    if (meta === undefined) throw new McuError('E_INPUT', 'the input is empty: at least one row is needed');

    const result: PredictResult = {
      meta: {
        backend: meta.backend,
        executionProvider: meta.executionProvider,
        seed: s.seed,
        samples: meta.samples,
        sites: sitesMeta(model),
        tau: tau ?? null,
        maskScope: meta.scope,
        ...(s.masks !== undefined ? { masks: s.masks } : {}),
        ...(meta.tolerance !== null ? { tolerance: meta.tolerance, converged: meta.converged, maxStandardError: meta.maxStandardError } : {}),
        warnings: [...model.warnings],
      },
      outputs,
    };
    const text = formatResult(result, s.format);
    if (s.out !== undefined) writeFileAtomic(s.out, text);
    else io.stdout.write(typeof text === 'string' ? (text.endsWith('\n') ? text : text + '\n') : text);
  } finally {
    await model.dispose();
  }
}

function sliceRows(feeds: NamedTensors, first: number, n: number): NamedTensors {
  const out: NamedTensors = {};
  for (const [name, t] of Object.entries(feeds)) {
    const per = t.data.length / t.dims[0]!;
    out[name] = { dtype: t.dtype, data: t.data.slice(first * per, (first + n) * per), dims: [n, ...t.dims.slice(1)] };
  }
  return out;
}

function concatParts(parts: Record<string, OutputResult>[]): Record<string, OutputResult> {
  if (parts.length === 1) return parts[0]!;
  const out: Record<string, OutputResult> = {};
  for (const name of Object.keys(parts[0]!)) {
    const all = parts.map((p) => p[name]!);
    const first = all[0]!;
    if (first.task === 'regression') {
      const rs = all as Extract<OutputResult, { task: 'regression' }>[];
      out[name] = { task: 'regression', mean: rs.flatMap((r) => r.mean), variance: rs.flatMap((r) => r.variance), std: rs.flatMap((r) => r.std) };
    } else {
      const cs = all as Extract<OutputResult, { task: 'classification' }>[];
      out[name] = {
        task: 'classification',
        probs: cs.flatMap((c) => c.probs),
        predicted: cs.flatMap((c) => c.predicted),
        entropy: cs.flatMap((c) => c.entropy),
        mutualInformation: cs.flatMap((c) => c.mutualInformation),
        variationRatio: cs.flatMap((c) => c.variationRatio),
      };
    }
  }
  return out;
}
