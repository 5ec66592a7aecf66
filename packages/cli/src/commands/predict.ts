import { isMcuError, McuError, replayFromRows, type Sampler } from '@mcu/core';
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
    const { regression, classification } = estimatorsFor(s, model, tau);

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

    const bar = progressBar(io.stderr, !s.quiet);
    const meta = await mcu.engine.run(model, feeds, {
      samples,
      seed: s.seed,
      scope,
      ...(sampler ? { sampler } : {}),
      ...(s.tolerance !== undefined ? { tolerance: s.tolerance } : {}),
      memoryBudgetBytes: s.memoryBudgetMB * 1024 * 1024,
      estimators: [...regression.values(), ...classification.values()],
      onProgress: (e) => bar.update(e),
    });
    bar.done();

    const outputs: Record<string, OutputResult> = {};
    for (const out of model.outputs) {
      const r = regression.get(out.name);
      if (r) {
        const res = r.result();
        outputs[out.name] = { task: 'regression', mean: rowsOf(res.mean, rows), variance: rowsOf(res.variance, rows), std: rowsOf(res.std, rows) };
        continue;
      }
      const c = classification.get(out.name)!.result();
      outputs[out.name] = {
        task: 'classification',
        probs: rowsOf(c.probs, rows),
        predicted: Array.from(c.predicted),
        entropy: Array.from(c.entropy),
        mutualInformation: Array.from(c.mutualInformation),
        variationRatio: Array.from(c.variationRatio),
      };
    }
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
