/**
 * One call from Caffe files to something mcu runs: read the net ({@link readCaffe}), describe
 * it (works without weights), and — when it has weights — translate it into ONNX
 * ({@link caffeToOnnx}), ready for `mcu.load({ kind: 'bytes', bytes })` on the onnx backend.
 */
import { McuError, type ModelSource } from '@mcu/core';
import { readCaffe } from './net.js';
import { caffeToOnnx, describeCaffe, type CaffeDescription } from './translate.js';
import type { CaffeNet, CaffeOnnx, CaffeSource, CaffeToOnnxOptions } from './types.js';

export interface CaffeModel {
  readonly net: CaffeNet;
  /** Inputs, outputs, sites and layers with their shapes, as far as they are known. */
  readonly description: CaffeDescription;
  /** The ONNX translation; absent when the net has no weights (structure only). */
  readonly onnx?: CaffeOnnx;
  /** `{ kind: 'bytes', bytes }` of the translation, for `Mcu.load`; absent without weights. */
  readonly source?: ModelSource;
}

/**
 * Open a Caffe net. `inputShapes` may use the key '' for a net with one input (the command
 * line's `--input-shape D,D,…`); with several inputs that is an E_INPUT naming them.
 */
export function openCaffe(source: CaffeSource, options: CaffeToOnnxOptions = {}): CaffeModel {
  const net = readCaffe(source);
  const opts = resolveUnnamedShape(net, options);
  const description = describeCaffe(net, opts);
  if (net.weights === 'missing') return { net, description };
  const onnx = caffeToOnnx(net, opts);
  return { net, description, onnx, source: { kind: 'bytes', bytes: onnx.bytes } };
}

function resolveUnnamedShape(net: CaffeNet, options: CaffeToOnnxOptions): CaffeToOnnxOptions {
  const shapes = options.inputShapes;
  if (shapes === undefined) return options;
  const out: Record<string, readonly number[]> = {};
  for (const [name, dims] of Object.entries(shapes)) {
    if (name !== '') {
      if (!net.inputs.some((i) => i.name === name)) {
        throw new McuError(
          'E_INPUT',
          `input shape for '${name}': the net has no input '${name}'; its inputs: ${net.inputs.map((i) => i.name).join(', ') || 'none'}`,
        );
      }
      out[name] = dims;
      continue;
    }
    if (net.inputs.length !== 1) {
      throw new McuError(
        'E_INPUT',
        `an input shape without a name fits a net with one input, but this one has ${net.inputs.length} (${net.inputs.map((i) => i.name).join(', ')}): name it, e.g. ${net.inputs[0]?.name ?? 'data'}=${dims.join(',')}`,
      );
    }
    out[net.inputs[0]!.name] = dims;
  }
  return { ...options, inputShapes: out };
}
