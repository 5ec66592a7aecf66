import { McuError } from '@mcu/core';
import { CLI_TASK_WORDING, type Plan } from '../plan.js';
import { writeFileAtomic } from '../io/files.js';
import { bakedOutputs } from './baked.js';
import { prepareFromSettings } from './prepare.js';

/**
 * Write the rewritten model (sites as mask inputs, described in metadata_props); for a Caffe
 * net, its ONNX equivalent as translated (one Dropout node per Dropout layer, which mcu and any
 * ONNX tool read as they read an exported network).
 */
export async function convert(plan: Plan, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): Promise<void> {
  if (plan.out === undefined) throw new McuError('E_USAGE', "'convert' needs -o OUT, the file to write");
  if (plan.settings.bake !== undefined) return convertBaked(plan, plan.settings.bake, plan.out, io);
  if (plan.caffe !== undefined) return convertCaffe(plan, plan.out, io);
  const { prepared, encode } = await prepareFromSettings(plan.settings, 'convert', plan.out);
  writeFileAtomic(plan.out, encode());
  if (!plan.quiet) {
    for (const w of prepared.warnings) io.stderr.write(`mcu: warning: ${w}\n`);
    io.stderr.write(
      `mcu: wrote ${plan.out}: ${prepared.sites.length} stochastic site(s): ${prepared.sites.map((x) => `${x.name} (p=${x.rate})`).join(', ') || 'none'}\n`,
    );
  }
}

/**
 * --bake T: the rewritten model with T seeded samples and the estimators in its graph
 * (@mcu/backend-onnx's bakeModel), which any ONNX runtime serves with uncertainty.
 */
async function convertBaked(plan: Plan, samples: number, out: string, io: { stderr: NodeJS.WritableStream }): Promise<void> {
  if (plan.caffe !== undefined) {
    throw new McuError(
      'E_USAGE',
      `--bake ${samples}: convert the Caffe net '${plan.model}' to ONNX first (mcu convert ${plan.model} -o NET.onnx), then bake that file`,
    );
  }
  const s = plan.settings;
  const { prepared } = await prepareFromSettings(s, 'convert', out);
  const { bakeModel } = await import('@mcu/backend-onnx');
  const task =
    Object.keys(plan.tasks.byOutput).length === 0
      ? plan.tasks.default
      : { ...Object.fromEntries(prepared.outputs.map((o) => [o.name, plan.tasks.default])), ...plan.tasks.byOutput };
  // a τ from the config is a default for regression models: a classifier ignores it, as predict does
  const tau = plan.tau.kind === 'value' ? plan.tau.tau : undefined;
  const tauIsDefault = plan.tau.kind === 'value' && plan.tau.source === 'config';
  const baked = bakeModel(prepared, {
    samples,
    seed: s.seed,
    ...(tau !== undefined ? { tau } : {}),
    ...(tauIsDefault ? { tauDefault: true } : {}),
    task,
    wording: CLI_TASK_WORDING,
    samplesName: '--bake',
    what: plan.model ?? 'model',
  });
  writeFileAtomic(out, baked.bytes);
  if (!plan.quiet) {
    for (const w of baked.warnings) io.stderr.write(`mcu: warning: ${w}\n`);
    const d = baked.description;
    io.stderr.write(
      `mcu: wrote ${out}: a baked model (${d.samples} MC samples, seed ${d.seed}, τ ${d.tau ?? 'none'}, ${d.sites.length} site(s)); ` +
        `inputs ${d.inputs.join(', ')}; outputs ${bakedOutputs(d)}\n`,
    );
  }
}

async function convertCaffe(plan: Plan, out: string, io: { stderr: NodeJS.WritableStream }): Promise<void> {
  const g = plan.graph;
  const rewrites = [
    ...(g.insertDropout !== undefined ? ['--insert-dropout'] : []),
    ...(Object.keys(g.rates).length > 0 ? ['--rate'] : []),
    ...(Object.keys(g.maskInputs).length > 0 ? ['--mask-input'] : []),
    ...(g.scaling !== 'inverted' ? ['--dropout-scaling'] : []),
  ];
  if (rewrites.length > 0) {
    throw new McuError(
      'E_USAGE',
      `convert writes the ONNX equivalent of the Caffe net '${plan.model}' as it is, so ${rewrites.join(', ')} would not apply: convert first, then give ${rewrites.length === 1 ? 'it' : 'them'} when you run the .onnx file`,
    );
  }
  const { openCaffeFiles, requireWeights } = await import('./caffe.js');
  const onnx = requireWeights(plan, openCaffeFiles(plan));
  writeFileAtomic(out, onnx.bytes);
  if (!plan.quiet) {
    for (const w of onnx.warnings) io.stderr.write(`mcu: warning: ${w}\n`);
    io.stderr.write(
      `mcu: wrote ${out}: the ONNX equivalent of ${plan.model} (opset 13); ${onnx.sites.length} Dropout layer(s) as Dropout nodes: ` +
        `${onnx.sites.map((x) => `${x.name} (p=${x.rate}${x.scaling === 'none' ? ', scale_train false' : ''})`).join(', ') || 'none'}\n`,
    );
  }
}
