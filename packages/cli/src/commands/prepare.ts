import { dirname, resolve } from 'node:path';
import { McuError, modelFormatOf } from '@mcu/core';
import type { PreparedModel } from '@mcu/backend-onnx';
import type { Settings } from '../config.js';
import { modelPath } from './common.js';

/**
 * Load MODEL and rewrite it as the flags ask (convert; ONNX only), through the onnx backend's
 * preparation, which measures site shapes by running the model where static inference cannot.
 * External data is inlined when it fits one protobuf; a model larger than that keeps its
 * weights in their file, and the converted model must then be written beside it.
 */
export async function prepareFromSettings(s: Settings, command: 'convert', out?: string): Promise<{ prepared: PreparedModel; encode: () => Uint8Array }> {
  if (s.model === undefined) throw new McuError('E_USAGE', `'${command}' needs a MODEL file`);
  if (isLayersModel(s)) {
    throw new McuError(
      'E_UNSUPPORTED',
      `'${command}' rewrites ONNX graphs; '${s.model}' is a TensorFlow.js layers model, whose Dropout layers the tfjs backend already runs as stochastic sites: use it as it is (mcu predict ${s.model})`,
    );
  }
  const onnx = await import('@mcu/backend-onnx');
  const file = await onnx.readModelFile(s.model);
  let external: string | undefined;
  if (file.externalFolder !== undefined) {
    if (file.externalBytes <= BigInt(onnx.MAX_INLINE_BYTES)) await onnx.inlineExternalData(file.model, file.externalFolder, s.model);
    else if (out !== undefined && resolve(dirname(out)) !== resolve(file.externalFolder)) {
      throw new McuError(
        'E_USAGE',
        `${s.model}: its ${file.externalBytes} bytes of external data do not fit one ONNX file, so the converted model keeps referring to ` +
          `them and must be written in the same folder (${file.externalFolder}); got -o ${out}`,
      );
    } else external = file.externalFolder;
  }
  const prepared = await new onnx.OnnxNodeBackend().prepare(
    file.model,
    {
      ...(Object.keys(s.rate).length ? { rates: s.rate } : {}),
      ...(Object.keys(s.maskInput).length ? { maskInputs: s.maskInput } : {}),
      ...(s.insertDropout !== undefined ? { insertDropout: { rate: s.insertDropout, before: s.before, ...(s.spatial ? { spatial: true } : {}) } } : {}),
      ...(s.dropoutScaling !== 'inverted' ? { scaling: s.dropoutScaling } : {}),
    },
    external,
    s.model,
  );
  return { prepared, encode: () => onnx.encodeModel(prepared.model) };
}

/** MODEL is a TensorFlow.js layers model (model.json), or the tfjs backend was named for it. */
export function isLayersModel(s: Settings): boolean {
  return s.model !== undefined && (modelFormatOf({ kind: 'path', path: modelPath(s.model) }) === 'tfjs-layers' || s.backend === 'tfjs');
}
