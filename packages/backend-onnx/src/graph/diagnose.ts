/**
 * After a failed self-check: a copy of the prepared graph whose outputs are every float
 * tensor a node computes, so that the joint run and the runs of single sample-row pairs can
 * be compared tensor by tensor, in graph order, to name the first node where samples mix.
 */
import { DataType } from '../proto/enums.js';
import type { ModelProto, ValueInfoProto } from '../proto/types.js';
import { cloneProto } from './clone.js';
import { defaultOpset, nodeLabel } from './proto-util.js';
import { inferShapes } from './shapes.js';

const FLOATS = new Set<number>([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);

export interface DiagnosticModel {
  readonly model: ModelProto;
  /** The extra outputs in graph order, with the node that computes each. */
  readonly tensors: readonly { readonly tensor: string; readonly node: string }[];
}

function untypedShapeInfo(name: string, elem: number): ValueInfoProto {
  return { name, type: { tensor_type: { elem_type: elem } } };
}

export function diagnosticModel(prepared: ModelProto): DiagnosticModel {
  const model = cloneProto<ModelProto>({ ...prepared, graph: { ...prepared.graph!, initializer: [] } });
  const graph = model.graph!;
  graph.initializer = prepared.graph!.initializer ?? [];
  const shapes = inferShapes(graph, defaultOpset(model, 'model'));
  const existing = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const tensors: { tensor: string; node: string }[] = [];
  const extra: ValueInfoProto[] = [];
  (graph.node ?? []).forEach((n, i) => {
    for (const o of n.output ?? []) {
      if (!o || existing.has(o)) continue;
      const elem = shapes.get(o)?.elem;
      if (elem === undefined || !FLOATS.has(elem)) continue;
      tensors.push({ tensor: o, node: nodeLabel(n, i) });
      extra.push(untypedShapeInfo(o, elem));
    }
  });
  graph.output = [...(graph.output ?? []), ...extra];
  delete graph.value_info;
  return { model, tensors };
}
