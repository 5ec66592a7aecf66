/**
 * Which tensors of a graph are constants (initializers, Constant nodes, Identity chains of
 * those), and their TensorProto.
 */
import { AttributeType, DataType } from '../proto/enums.js';
import type { GraphProto, NodeProto, TensorProto } from '../proto/types.js';
import { isDefaultDomain } from './proto-util.js';

export class ConstantTable {
  private readonly tensors = new Map<string, TensorProto>();

  constructor(graph: GraphProto) {
    for (const t of graph.initializer ?? []) if (t.name) this.tensors.set(t.name, t);
    for (const node of graph.node ?? []) {
      if (!isDefaultDomain(node.domain)) continue;
      const out = node.output?.[0];
      if (!out) continue;
      if (node.op_type === 'Constant') {
        const t = constantNodeTensor(node);
        if (t) this.tensors.set(out, t);
      } else if (node.op_type === 'Identity') {
        const src = node.input?.[0];
        const t = src ? this.tensors.get(src) : undefined;
        if (t) this.tensors.set(out, t);
      }
    }
  }

  get(name: string | undefined): TensorProto | undefined {
    return name ? this.tensors.get(name) : undefined;
  }

  has(name: string | undefined): boolean {
    return name !== undefined && name !== '' && this.tensors.has(name);
  }
}

/** The tensor a Constant node produces (value, value_float(s), value_int(s)). */
export function constantNodeTensor(node: NodeProto): TensorProto | undefined {
  for (const a of node.attribute ?? []) {
    switch (a.name) {
      case 'value':
        return a.t;
      case 'value_float':
        return { data_type: DataType.FLOAT, dims: [], float_data: [a.f ?? 0] };
      case 'value_floats':
        return { data_type: DataType.FLOAT, dims: [BigInt(a.floats?.length ?? 0)], float_data: a.floats ?? [] };
      case 'value_int':
        return { data_type: DataType.INT64, dims: [], int64_data: [a.i ?? 0n] };
      case 'value_ints':
        return { data_type: DataType.INT64, dims: [BigInt(a.ints?.length ?? 0)], int64_data: a.ints ?? [] };
      default:
        if (a.type === AttributeType.SPARSE_TENSOR) return undefined;
    }
  }
  return undefined;
}
