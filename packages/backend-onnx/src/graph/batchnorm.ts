/**
 * BatchNormalization exported in training mode (PyTorch's TrainingMode.TRAINING does this
 * along with Dropout) normalises with the batch's own statistics — wrong for prediction.
 * Switch every such node to inference mode (running statistics).
 *
 * Training mode is: `training_mode = 1` (opset ≥ 14), `is_test = 0` (opset < 7), or, at
 * opsets 7–13, the optional outputs (running mean/var, saved mean/var) being requested.
 */
import { McuError } from '@mcu/core';
import type { GraphProto } from '../proto/types.js';
import { attrInt, intAttr, isDefaultDomain, nodeLabel, removeAttr } from './proto-util.js';

export interface BatchNormSwitch {
  changes: string[];
  warnings: string[];
}

export function switchBatchNormToInference(graph: GraphProto, opset: number, what: string): BatchNormSwitch {
  const consumers = new Set<string>();
  for (const n of graph.node ?? []) for (const i of n.input ?? []) if (i) consumers.add(i);
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const switched: string[] = [];
  const removedOutputs: string[] = [];
  for (const node of graph.node ?? []) {
    if (!isDefaultDomain(node.domain) || node.op_type !== 'BatchNormalization') continue;
    const extra = (node.output ?? []).slice(1).filter((o) => o !== '');
    let training = false;
    if (opset >= 14) training = (attrInt(node, 'training_mode') ?? 0) !== 0;
    else if (opset < 7) training = (attrInt(node, 'is_test') ?? 0) === 0;
    else training = extra.length > 0;
    if (!training) continue;
    for (const o of extra) {
      if (consumers.has(o)) {
        throw new McuError(
          'E_UNSUPPORTED',
          `${what}: ${nodeLabel(node)} runs in training mode and its statistics output '${o}' is used ` +
            'by other nodes; mcu cannot switch it to inference. Export with model.eval() and only the ' +
            'dropout modules in train mode (TrainingMode.PRESERVE).',
        );
      }
      if (graphOutputs.has(o)) removedOutputs.push(o);
    }
    node.output = (node.output ?? []).slice(0, 1);
    if (opset >= 14) removeAttr(node, 'training_mode');
    if (opset < 7) {
      removeAttr(node, 'is_test');
      (node.attribute ??= []).push(intAttr('is_test', 1));
    }
    switched.push(node.name || node.output[0] || '?');
  }
  if (removedOutputs.length > 0) {
    graph.output = (graph.output ?? []).filter((o) => !removedOutputs.includes(o.name ?? ''));
  }
  if (switched.length === 0) return { changes: [], warnings: [] };
  const list = switched.map((s) => `'${s}'`).join(', ');
  const msg =
    `BatchNormalization ${list} was exported in training mode (batch statistics); switched to ` +
    'inference mode (running statistics)' +
    (removedOutputs.length ? `, dropping outputs ${removedOutputs.join(', ')}` : '');
  return {
    changes: [msg],
    warnings: [`${msg}. To avoid this, export with model.eval(), the dropout modules in train mode, and torch.onnx.TrainingMode.PRESERVE.`],
  };
}
