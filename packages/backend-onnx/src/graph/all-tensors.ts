/** Walking every TensorProto of a model (no I/O here: safe for browser bundles). */
import type { AttributeProto, GraphProto, ModelProto, TensorProto } from '../proto/types.js';

/** Every TensorProto of the model, subgraphs and functions included. */
export function allTensors(model: ModelProto): TensorProto[] {
  const out: TensorProto[] = [];
  const visitAttr = (a: AttributeProto) => {
    if (a.t) out.push(a.t);
    for (const t of a.tensors ?? []) out.push(t);
    for (const s of [a.sparse_tensor, ...(a.sparse_tensors ?? [])]) {
      if (s?.values) out.push(s.values);
      if (s?.indices) out.push(s.indices);
    }
    if (a.g) visitGraph(a.g);
    for (const g of a.graphs ?? []) visitGraph(g);
  };
  const visitGraph = (g: GraphProto) => {
    for (const t of g.initializer ?? []) out.push(t);
    for (const s of g.sparse_initializer ?? []) {
      if (s.values) out.push(s.values);
      if (s.indices) out.push(s.indices);
    }
    for (const n of g.node ?? []) for (const a of n.attribute ?? []) visitAttr(a);
  };
  if (model.graph) visitGraph(model.graph);
  for (const ti of model.training_info ?? []) {
    if (ti.initialization) visitGraph(ti.initialization);
    if (ti.algorithm) visitGraph(ti.algorithm);
  }
  for (const f of model.functions ?? []) for (const n of f.node ?? []) for (const a of n.attribute ?? []) visitAttr(a);
  return out;
}
