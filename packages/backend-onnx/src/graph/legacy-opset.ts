/**
 * Raising a legacy (opset < 7) model to opset 7 — onnxruntime has no Gemm-6 kernel and
 * mcu's rewrite emits numpy-broadcasting Mul — for graphs whose every operator means the
 * same at opset 7 after a mechanical translation:
 * - `consumed_inputs` (opset 1 memory hints) and `is_test` (Dropout, BatchNormalization)
 *   are dropped; Gemm's `broadcast` is dropped (Gemm-7 broadcasts C by itself);
 * - Add/Sub/Mul/Div/Pow/And/Or/Xor/Equal/Greater/Less with `broadcast = 1` become numpy
 *   broadcasting when B aligns with A's trailing axes (no `axis`, or axis = rank A − rank B);
 *   any other `axis` is refused;
 * - Reshape < 5 moves its `shape` attribute to an initializer input; Concat < 4 gets its
 *   default axis = 1 written out.
 * Any operator outside the table → McuError('E_UNSUPPORTED') naming it.
 */
import { McuError } from '@mcu/core';
import type { GraphProto, ModelProto, NodeProto } from '../proto/types.js';
import {
  attrInt,
  attrInts,
  int64Tensor,
  intAttr,
  isDefaultDomain,
  Namer,
  nodeLabel,
  removeAttr,
  setDefaultOpset,
} from './proto-util.js';
import { inferShapes } from './shapes.js';

/** Operators whose meaning does not change up to opset 7 (modulo the translations above). */
const SAME_AT_7 = new Set([
  'Relu', 'Tanh', 'Sigmoid', 'LeakyRelu', 'Elu', 'Selu', 'HardSigmoid', 'Softplus', 'Softsign',
  'Neg', 'Abs', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Floor', 'Ceil', 'Clip', 'Identity',
  'Dropout', 'BatchNormalization', 'Reshape', 'Flatten', 'MaxPool', 'AveragePool',
  'GlobalAveragePool', 'GlobalMaxPool', 'Conv', 'ConvTranspose', 'Softmax', 'LogSoftmax',
  'Concat', 'Transpose', 'Squeeze', 'Unsqueeze', 'MatMul', 'Gemm', 'LRN', 'Gather', 'Shape',
  'Size', 'Slice', 'Constant', 'Sum', 'Max', 'Min', 'Mean', 'Not', 'Split', 'Tile', 'Pad',
  'ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ArgMax', 'ArgMin',
  'InstanceNormalization', 'Add', 'Sub', 'Mul', 'Div', 'Pow', 'And', 'Or', 'Xor', 'Equal',
  'Greater', 'Less', 'Cast', 'Hardmax', 'DepthToSpace', 'SpaceToDepth',
]);
const LEGACY_BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'And', 'Or', 'Xor', 'Equal', 'Greater', 'Less']);

export interface OpsetUpgrade {
  from: number;
  to: number;
  changes: string[];
}

export function raiseLegacyOpset(model: ModelProto, opset: number, what: string): OpsetUpgrade | undefined {
  if (opset >= 7) return undefined;
  const graph = model.graph!;
  const refuse = (_node: NodeProto, why: string): never => {
    throw new McuError(
      'E_UNSUPPORTED',
      `${what} uses opset ${opset}; mcu runs it at opset 7, but ${why}. ` +
        'Re-export the model with opset ≥ 7 (torch.onnx.export(..., opset_version=13)).',
    );
  };
  // Check everything first: nothing is modified unless the whole graph can be raised.
  for (const node of graph.node ?? []) {
    const op = node.op_type ?? '';
    if (!isDefaultDomain(node.domain)) continue;
    if (!SAME_AT_7.has(op)) refuse(node, `operator ${op} (${nodeLabel(node)}) changed meaning between opset ${opset} and 7`);
    if (op === 'Cast' && opset < 6) refuse(node, `Cast before opset 6 names its type as a string (${nodeLabel(node)})`);
    if (op === 'Pad' && opset < 2) refuse(node, `Pad-1 (${nodeLabel(node)}) uses the old 'paddings' attribute`);
    if (op === 'Upsample') refuse(node, 'Upsample changed at opset 7');
    if ((node.attribute ?? []).some((a) => a.g !== undefined || (a.graphs?.length ?? 0) > 0)) {
      refuse(node, `${nodeLabel(node)} has a subgraph`);
    }
  }
  const shapes = inferShapes(graph, opset);
  const namer = new Namer(graph);
  const counts = new Map<string, number>();
  const count = (k: string) => counts.set(k, (counts.get(k) ?? 0) + 1);
  const newInits: GraphProto['initializer'] = [];

  for (const node of graph.node ?? []) {
    if (!isDefaultDomain(node.domain)) continue;
    const op = node.op_type ?? '';
    if (removeAttr(node, 'consumed_inputs')) count(`${op}.consumed_inputs`);
    if ((op === 'Dropout' || op === 'BatchNormalization') && removeAttr(node, 'is_test')) count(`${op}.is_test`);
    if (op === 'Gemm' && removeAttr(node, 'broadcast')) count('Gemm.broadcast');
    if (LEGACY_BROADCAST.has(op)) {
      const bc = attrInt(node, 'broadcast') ?? 0;
      const axis = attrInt(node, 'axis');
      if (bc !== 0 && axis !== undefined) {
        const ra = shapes.get(node.input?.[0] ?? '')?.dims?.length;
        const rb = shapes.get(node.input?.[1] ?? '')?.dims?.length;
        const trailing = ra !== undefined && rb !== undefined && (axis === ra - rb || axis === -rb);
        if (!trailing) {
          refuse(
            node,
            `${nodeLabel(node)} broadcasts its second input from axis ${axis}` +
              (ra === undefined || rb === undefined ? ' (input ranks unknown)' : ` (ranks ${ra} and ${rb})`) +
              ', which numpy broadcasting (opset 7) cannot express',
          );
        }
      }
      if (removeAttr(node, 'broadcast')) count(`${op}.broadcast`);
      if (removeAttr(node, 'axis')) count(`${op}.axis`);
    }
    if (op === 'Reshape' && opset < 5) {
      const shape = attrInts(node, 'shape');
      if (shape === undefined) refuse(node, `${nodeLabel(node)} has no shape attribute`);
      const name = namer.fresh(`${node.output?.[0] ?? 'reshape'}_shape`);
      newInits.push(int64Tensor(name, shape!.map((d) => BigInt(d))));
      node.input = [node.input?.[0] ?? '', name];
      removeAttr(node, 'shape');
      count('Reshape.shape→input');
    }
    if (op === 'Concat' && opset < 4 && attrInt(node, 'axis') === undefined) {
      (node.attribute ??= []).push(intAttr('axis', 1));
      count('Concat.axis');
    }
  }
  if (newInits.length > 0) graph.initializer = [...(graph.initializer ?? []), ...newInits];
  setDefaultOpset(model, 7);
  const detail = [...counts].map(([k, n]) => `${k} ×${n}`).join(', ');
  return {
    from: opset,
    to: 7,
    changes: [
      `raised the ONNX opset ${opset} → 7 (onnxruntime has no kernels for some opset-${opset} operators, e.g. Gemm-6)` +
        (detail ? `: translated ${detail}` : ''),
    ],
  };
}
