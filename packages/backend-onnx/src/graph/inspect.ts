/** `mcu inspect`: what prepareModel finds, without the rewritten graph. */
import type { TensorSpec } from '@mcu/core';
import type { ModelProto } from '../proto/types.js';
import type { Layout } from './metadata.js';
import { prepareModel, type PrepareOptions } from './prepare.js';

export interface InspectedSite {
  name: string;
  op: string;
  opset: number | undefined;
  node: string | undefined;
  rate: number;
  maskShape: readonly number[];
}

export interface ModelInspection {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  sites: InspectedSite[];
  layout: Layout;
  opset: number;
  warnings: string[];
  changes: string[];
}

export function inspectModel(model: ModelProto, options: PrepareOptions = {}): ModelInspection {
  const p = prepareModel(model, options);
  return {
    inputs: p.inputs,
    outputs: p.outputs,
    sites: p.sites.map((s) => ({
      name: s.name,
      op: s.origin?.op ?? 'Dropout',
      opset: s.origin?.opset,
      node: s.origin?.node,
      rate: s.rate,
      maskShape: s.maskShape,
    })),
    layout: p.layout,
    opset: p.opset,
    warnings: p.warnings,
    changes: p.changes,
  };
}
