/**
 * Exporters that trace with an example batch (torch.onnx dynamo without `dynamic_shapes`)
 * fix the batch size: `image [2, 1, 28, 28]`, and `Reshape(x, [2, 800])` for a flatten.
 * mcu feeds N rows, and S·N rows after the first dropout site, so a fixed batch is freed:
 * - data inputs whose leading dims all equal the same number B get a symbolic `batch`;
 * - a Reshape of data by a constant shape that starts with B (and has no other -1) gets a
 *   copy of that shape starting with -1;
 * - value_info / graph outputs of data tensors that start with B lose that fixed dim.
 * Other ops that bake in B (Expand, Tile, ConstantOfShape) are not rewritten; they are
 * listed in the warnings.
 */
import type { GraphProto, ValueInfoProto } from '../proto/types.js';
import { ConstantTable } from './constants.js';
import { int64Tensor, isDefaultDomain, type Namer, valueInfoDims } from './proto-util.js';
import { tensorBigints } from './tensor-values.js';

export interface BatchRelaxation {
  changes: string[];
  warnings: string[];
}

function setLeadingDim(vi: ValueInfoProto, param: string): void {
  const dim = vi.type?.tensor_type?.shape?.dim;
  if (dim && dim.length > 0) dim[0] = { dim_param: param };
}

export function relaxFixedBatch(graph: GraphProto, dataInputs: readonly string[], namer: Namer): BatchRelaxation {
  // Scalars (a ratio or training_mode input) have no batch axis.
  const inputs = (graph.input ?? []).filter((v) => dataInputs.includes(v.name ?? '') && (valueInfoDims(v)?.length ?? 0) >= 1);
  if (inputs.length === 0) return { changes: [], warnings: [] };
  const lead = inputs.map((v) => valueInfoDims(v)?.[0]);
  const b = lead[0];
  if (typeof b !== 'number' || b < 1 || !lead.every((d) => d === b)) return { changes: [], warnings: [] };

  const consts = new ConstantTable(graph);
  // Tensors that depend on data (not only on constants).
  const data = new Set<string>(dataInputs);
  for (const n of graph.node ?? []) {
    if ((n.input ?? []).some((i) => i && data.has(i))) for (const o of n.output ?? []) if (o) data.add(o);
  }
  const changes: string[] = [];
  const warnings: string[] = [];
  const inputDescr = inputs.map((v) => `${v.name} [${valueInfoDims(v)!.join(', ')}]`).join(', ');
  for (const v of inputs) setLeadingDim(v, 'batch');
  const reshapes: string[] = [];
  const newInits: NonNullable<GraphProto['initializer']> = [];
  for (const n of graph.node ?? []) {
    if (!isDefaultDomain(n.domain)) continue;
    const op = n.op_type;
    const x = n.input?.[0];
    if (!x || !data.has(x)) continue;
    if (op === 'Reshape') {
      const shapeName = n.input?.[1];
      const t = consts.get(shapeName);
      const v = t ? tensorBigints(t, 64) : undefined;
      if (!v || v.length === 0 || v[0] !== BigInt(b)) continue;
      if (v.slice(1).some((d) => d === -1n)) {
        warnings.push(
          `Reshape '${n.name ?? n.output?.[0]}' has the fixed batch ${b} in its shape [${v.join(', ')}] and ` +
            'cannot be freed; re-export with dynamic batch (dynamic_shapes / dynamic_axes).',
        );
        continue;
      }
      const name = namer.fresh(`${shapeName}_mcu_free_batch`);
      newInits.push(int64Tensor(name, [-1n, ...v.slice(1)]));
      n.input![1] = name;
      reshapes.push(`Reshape '${n.name ?? n.output?.[0]}' shape [${v.join(', ')}] → [-1, ${v.slice(1).join(', ')}]`);
    } else if (op === 'Expand' || op === 'Tile' || op === 'ConstantOfShape') {
      const t = consts.get(n.input?.[1]);
      const v = t ? tensorBigints(t, 64) : undefined;
      if (v && v[0] === BigInt(b)) {
        warnings.push(`${op} '${n.name ?? n.output?.[0]}' may bake in the fixed batch ${b}; re-export with a dynamic batch.`);
      }
    }
  }
  if (newInits.length) graph.initializer = [...(graph.initializer ?? []), ...newInits];
  for (const vi of [...(graph.value_info ?? []), ...(graph.output ?? [])]) {
    if (vi.name && data.has(vi.name) && valueInfoDims(vi)?.[0] === b) setLeadingDim(vi, 'batch');
  }
  changes.push(
    `freed the fixed batch size ${b} of the export (inputs ${inputDescr} → leading dim 'batch')${reshapes.length ? `; ${reshapes.join('; ')}` : ''}`,
  );
  return { changes, warnings };
}
