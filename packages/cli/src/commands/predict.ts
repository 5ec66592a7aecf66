import { isMcuError, McuError, replayFromRows, sitesFor, sliceRows, type RunMeta, type Sampler } from '@mcu/core';
import type { Plan } from '../plan.js';
import { formatResult } from '../io/format.js';
import { writeFileAtomic } from '../io/files.js';
import { readMasksFile } from '../io/masks.js';
import type { OutputResult, PredictResult } from '../io/result.js';
import { progressBar } from '../progress.js';
import { estimatorsFor, fitTauOnFile, loadModel, readFeeds, resolveTau, rowsOf, sitesMeta, tasksFor, TAU_SEARCH_RANGE } from './common.js';

export async function predict(plan: Plan, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WriteStream }): Promise<void> {
  const { mcu, model, warnings } = await loadModel(plan);
  const warn = plan.quiet ? null : io.stderr;
  if (warn !== null) for (const w of warnings) warn.write(`mcu: warning: ${w}\n`);
  try {
    const feeds = readFeeds(model, plan.input);
    const rows = Object.values(feeds)[0]!.dims[0]!;
    const tasks = await tasksFor(plan, mcu, model, feeds);
    let tau = resolveTau(plan, model, tasks);
    const fitted = plan.tau.kind === 'fit' ? await fitTauOnFile(plan, mcu, model, tasks, warn) : undefined;
    if (fitted !== undefined) tau = fitted.tau;
    let sampler: Sampler | undefined;
    if (plan.masks !== undefined) {
      const file = plan.masks;
      const given = readMasksFile(file);
      if (given.length !== model.sites.length) {
        throw new McuError('E_MASK', `${file}: the model has ${model.sites.length} stochastic site(s) (${model.sites.map((x) => x.name).join(', ') || 'none'}), the file gives ${given.length} mask entries; one entry per site, in 'mcu inspect' order`);
      }
      given.forEach((entry, k) => {
        if (entry.length !== rows) {
          throw new McuError('E_MASK', `${file}: site '${model.sites[k]!.name}' needs one mask row per input row (${rows}), got ${entry.length}`);
        }
      });
      try {
        // sites whose mask size comes from the input (a sequence length) are sized for these rows
        sampler = replayFromRows(sitesFor(model, feeds), given);
      } catch (e) {
        // name the file, as every other --masks problem does
        if (isMcuError(e) && e.code === 'E_MASK') throw new McuError('E_MASK', `${file}: ${e.message}`, { cause: e });
        throw e;
      }
    }

    // --batch-size: split the rows into batches (one engine run each, same seed; point-scope
    // masks use global row indices, so batching does not change any mask).
    const batch = plan.batchSize !== undefined ? Math.min(plan.batchSize, rows) : rows;
    const parts: Record<string, OutputResult>[] = [];
    const metas: RunMeta[] = [];
    const bar = progressBar(io.stderr, !plan.quiet);
    for (let first = 0; first < rows; first += batch) {
      const n = Math.min(batch, rows - first);
      const part = batch === rows ? feeds : sliceRows(feeds, first, n);
      const { regression, classification } = estimatorsFor(tasks, tau);
      metas.push(
        await mcu.engine.run(model, part, {
          samples: plan.engine.samples,
          seed: plan.engine.seed,
          scope: plan.engine.scope,
          firstRow: first,
          ...(sampler ? { sampler } : {}),
          ...(plan.engine.tolerance !== undefined ? { tolerance: plan.engine.tolerance } : {}),
          memoryBudgetBytes: plan.engine.memoryBudgetBytes,
          estimators: [...regression.values(), ...classification.values()],
          onProgress: (e) => bar.update(e),
        }),
      );
      const outputs: Record<string, OutputResult> = {};
      for (const out of tasks) {
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
    const meta = metas[0];
    if (meta === undefined) throw new McuError('E_INPUT', 'the input is empty: at least one row is needed');

    // The whole run, over every batch: the most samples any batch drew (each batch's count in
    // `batches.samples`), converged only if every batch converged, the largest standard error.
    const samples = Math.max(...metas.map((m) => m.samples));
    const result: PredictResult = {
      meta: {
        backend: meta.backend,
        executionProvider: meta.executionProvider,
        seed: plan.engine.seed,
        samples,
        chunkSamples: Math.max(...metas.map((m) => m.chunkSamples)),
        sites: sitesMeta(model),
        tau: tau ?? null,
        ...(fitted !== undefined
          ? { tauFitted: fitted.atBoundary ? 'boundary' : true, ...(fitted.atBoundary ? { tauFitRange: [TAU_SEARCH_RANGE.min, TAU_SEARCH_RANGE.max] } : {}) }
          : {}),
        maskScope: meta.scope,
        ...(plan.masks !== undefined ? { masks: plan.masks } : {}),
        ...(plan.engine.tolerance !== undefined
          ? {
              tolerance: plan.engine.tolerance,
              converged: metas.every((m) => m.converged === true),
              maxStandardError: Math.max(...metas.map((m) => m.maxStandardError ?? Infinity)),
            }
          : {}),
        ...(plan.batchSize !== undefined ? { batches: { size: batch, count: metas.length, samples: metas.map((m) => m.samples) } } : {}),
        warnings: [...warnings],
      },
      outputs,
    };
    const text = formatResult(result, plan.format);
    if (plan.out !== undefined) writeFileAtomic(plan.out, text);
    else io.stdout.write(typeof text === 'string' ? (text.endsWith('\n') ? text : text + '\n') : text);
  } finally {
    await model.dispose();
  }
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
