import { McuError } from '@mcu/core';
import type { PreparedModel } from '@mcu/backend-onnx';
import type { Settings } from '../config.js';

/** Load MODEL and rewrite it as the flags ask (shared by inspect and convert; ONNX only). */
export async function prepareFromSettings(s: Settings, command: 'inspect' | 'convert'): Promise<{ prepared: PreparedModel; encode: () => Uint8Array }> {
  if (s.model === undefined) throw new McuError('E_USAGE', `'${command}' needs a MODEL file`);
  const onnx = await import('@mcu/backend-onnx');
  const model = await onnx.loadModelFile(s.model);
  const prepared = onnx.prepareModel(model, {
    ...(Object.keys(s.rate).length ? { rates: s.rate } : {}),
    ...(Object.keys(s.maskInput).length ? { maskInputs: s.maskInput } : {}),
    ...(s.insertDropout !== undefined ? { insertDropout: { rate: s.insertDropout, before: s.before } } : {}),
    ...(s.dropoutScaling !== 'inverted' ? { scaling: s.dropoutScaling } : {}),
  });
  return { prepared, encode: () => onnx.encodeModel(prepared.model) };
}
