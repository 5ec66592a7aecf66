import {
  isMcuError,
  McuError,
  predict as corePredict,
  replayFromRows,
  sitesFor,
  outputRows,
  predictionMeta,
  type Sampler,
  type StochasticModel,
  type NamedTensors,
} from '@mcu/core';
import type { Plan } from '../plan.js';
import { formatResult } from '../io/format.js';
import { writeFileAtomic } from '../io/files.js';
import { readMasksFile } from '../io/masks.js';
import type { OutputResult, PredictResult } from '../io/result.js';
import { progressBar } from '../progress.js';
import { bakedRecord, refuseBaked } from './baked.js';
import { loadModel, printWarnings, readFeeds, runOptions } from './common.js';

/** --masks FILE: a sampler replaying the file's masks (one entry per site, one mask row per input row). */
function replayMasks(file: string, model: StochasticModel, feeds: NamedTensors): Sampler {
  const rows = Object.values(feeds)[0]!.dims[0]!;
  const given = readMasksFile(file);
  if (given.length !== model.sites.length) {
    throw new McuError(
      'E_MASK',
      `${file}: the model has ${model.sites.length} stochastic site(s) (${model.sites.map((x) => x.name).join(', ') || 'none'}), the file gives ${given.length} mask entries; one entry per site, in 'mcu inspect' order`,
    );
  }
  given.forEach((entry, k) => {
    if (entry.length !== rows) {
      throw new McuError('E_MASK', `${file}: site '${model.sites[k]!.name}' needs one mask row per input row (${rows}), got ${entry.length}`);
    }
  });
  try {
    // sites whose mask size comes from the input (a sequence length) are sized for these rows
    return replayFromRows(sitesFor(model, feeds), given);
  } catch (e) {
    // name the file, as every other --masks problem does
    if (isMcuError(e) && e.code === 'E_MASK') throw new McuError('E_MASK', `${file}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** `mcu predict`: read the rows, run @mcu/core's predict, print or write the result. */
export async function predict(plan: Plan, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WriteStream }): Promise<void> {
  // a baked model (convert --bake T) would load as a network without dropout and give T equal samples
  const baked = await bakedRecord(plan);
  if (baked !== undefined) refuseBaked(plan, baked, 'predict');
  const loaded = await loadModel(plan);
  const { model } = loaded;
  printWarnings(plan, io.stderr, loaded.warnings);
  try {
    const feeds = readFeeds(model, plan.input);
    const bar = progressBar(io.stderr, !plan.quiet);
    const r = await corePredict(model, feeds, {
      ...(await runOptions(plan, loaded, (e) => bar.update(e))),
      ...(plan.masks !== undefined ? { sampler: replayMasks(plan.masks, model, feeds) } : {}),
      // --batch-size: one engine run per batch of rows (point-scope masks use global row indices, so batching changes no mask)
      ...(plan.batchSize !== undefined ? { batchSize: plan.batchSize } : {}),
    });
    bar.done();
    const m = r.meta;
    // the model's warnings were printed on loading; the run's follow
    const runWarnings = m.warnings.slice(model.warnings.length);
    printWarnings(plan, io.stderr, runWarnings);
    const outputs: Record<string, OutputResult> = {};
    for (const [name, p] of Object.entries(r.outputs)) outputs[name] = outputRows(p);
    const result: PredictResult = {
      // core's JSON meta (the server's too), the load's warnings before the run's; --masks names its file
      meta: { ...predictionMeta(model, r, [...loaded.warnings, ...runWarnings]), ...(plan.masks !== undefined ? { masks: plan.masks } : {}) },
      outputs,
    };
    const text = formatResult(result, plan.format);
    if (plan.out !== undefined) writeFileAtomic(plan.out, text);
    else io.stdout.write(typeof text === 'string' ? (text.endsWith('\n') ? text : `${text}\n`) : text);
  } finally {
    await model.dispose();
  }
}
