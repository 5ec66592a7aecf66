import { McuError, modelFormatOf } from '@mcu/core';
import type { PreparedModel } from '@mcu/backend-onnx';
import type { Settings } from '../config.js';
import { modelPath } from './common.js';

/** Load MODEL and rewrite it as the flags ask (shared by inspect and convert; ONNX only). */
export async function prepareFromSettings(s: Settings, command: 'inspect' | 'convert'): Promise<{ prepared: PreparedModel; encode: () => Uint8Array }> {
  if (s.model === undefined) throw new McuError('E_USAGE', `'${command}' needs a MODEL file`);
  if (isLayersModel(s)) {
    throw new McuError(
      'E_UNSUPPORTED',
      `'${command}' rewrites ONNX graphs; '${s.model}' is a TensorFlow.js layers model, whose Dropout layers the tfjs backend already runs as stochastic sites: use it as it is (mcu predict ${s.model})`,
    );
  }
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

/** MODEL is a TensorFlow.js layers model (model.json), or the tfjs backend was named for it. */
export function isLayersModel(s: Settings): boolean {
  return s.model !== undefined && (modelFormatOf({ kind: 'path', path: modelPath(s.model) }) === 'tfjs-layers' || s.backend === 'tfjs');
}
