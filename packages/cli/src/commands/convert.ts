import { McuError } from '@mcu/core';
import type { Settings } from '../config.js';
import { writeFileAtomic } from '../io/files.js';

/** Write the rewritten model (sites as mask inputs, described in metadata_props). */
export async function convert(s: Settings, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): Promise<void> {
  if (s.model === undefined) throw new McuError('E_USAGE', "'convert' needs a MODEL file");
  if (s.out === undefined) throw new McuError('E_USAGE', "'convert' needs -o OUT, the file to write");
  const onnx = await import('@mcu/backend-onnx');
  const model = await onnx.loadModelFile(s.model);
  const prepared = onnx.prepareModel(model, {
    ...(Object.keys(s.rate).length ? { rates: s.rate } : {}),
    ...(Object.keys(s.maskInput).length ? { maskInputs: s.maskInput } : {}),
    ...(s.insertDropout !== undefined ? { insertDropout: { rate: s.insertDropout, before: s.before } } : {}),
    ...(s.dropoutScaling !== 'inverted' ? { scaling: s.dropoutScaling } : {}),
  });
  writeFileAtomic(s.out, onnx.encodeModel(prepared.model));
  if (!s.quiet) {
    for (const w of prepared.warnings) io.stderr.write(`mcu: warning: ${w}\n`);
    io.stderr.write(`mcu: wrote ${s.out}: ${prepared.sites.length} stochastic site(s): ${prepared.sites.map((x) => `${x.name} (p=${x.rate})`).join(', ') || 'none'}\n`);
  }
}
