import { McuError } from '@mcu/core';
import type { Plan } from '../plan.js';
import { writeFileAtomic } from '../io/files.js';
import { prepareFromSettings } from './prepare.js';

/**
 * Write the rewritten model (sites as mask inputs, described in metadata_props); for a Caffe
 * net, its ONNX equivalent as translated (one Dropout node per Dropout layer, which mcu and any
 * ONNX tool read as they read an exported network).
 */
export async function convert(plan: Plan, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): Promise<void> {
  if (plan.out === undefined) throw new McuError('E_USAGE', "'convert' needs -o OUT, the file to write");
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
