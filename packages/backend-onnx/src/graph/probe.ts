/**
 * Site shapes from the model itself: where static inference cannot tell how a dropout input
 * holds the rows (an RNN's output through a Gather, attention weights [N·heads, L, L] built
 * from computed shapes), mcu runs the model as it is on 1 and 2 rows of synthetic input with
 * the site tensors as its outputs, and reads their dims: the one axis that doubles holds the
 * rows (see sites.ts rowLayout). The layout does not depend on the values fed; the self-check
 * then verifies the rewritten graph on the user's own rows.
 */
import { McuError, syntheticInput, type TensorData, type TensorSpec } from '@mcu/core';
import { DataType } from '../proto/enums.js';
import type { ModelProto, NodeProto } from '../proto/types.js';
import { cloneProto } from './clone.js';
import type { ValueShape } from './shapes.js';
import { atenOperator, type MeasuredDims } from './sites.js';

/** A copy of `model` whose outputs are `tensors`; ATen dropout nodes (which no runtime runs) become Identity. */
export function probeModel(model: ModelProto, tensors: readonly string[], shapes: ReadonlyMap<string, ValueShape>): ModelProto {
  const probe = cloneProto<ModelProto>({ ...model, graph: { ...model.graph!, initializer: [] } });
  const graph = probe.graph!;
  graph.initializer = model.graph!.initializer ?? [];
  graph.node = (graph.node ?? []).map(
    (n): NodeProto =>
      atenOperator(n) !== undefined ? { name: n.name ?? '', op_type: 'Identity', domain: '', input: [n.input?.[0] ?? ''], output: [n.output?.[0] ?? ''] } : n,
  );
  // Outputs without a shape: the runtime infers them.
  graph.output = tensors.map((t) => ({ name: t, type: { tensor_type: { elem_type: shapes.get(t)?.elem ?? DataType.FLOAT } } }));
  // Let the runtime infer the tensors' shapes itself.
  graph.value_info = (graph.value_info ?? []).filter((v) => !tensors.includes(v.name ?? ''));
  probe.metadata_props = (probe.metadata_props ?? []).filter((p) => !p.key?.startsWith('mcu.'));
  return probe;
}

/** Runs a probe model on 1 and 2 rows (through `run`) and returns every tensor's dims. */
export async function measureSiteDims(
  run: (feeds: Record<string, TensorData>) => Promise<Record<string, readonly number[]>>,
  inputs: readonly TensorSpec[],
  tensors: readonly string[],
  what: string,
): Promise<Map<string, MeasuredDims>> {
  const at = async (rows: number) => {
    const feeds: Record<string, TensorData> = {};
    for (const spec of inputs) {
      try {
        feeds[spec.name] = syntheticInput(spec, rows, what);
      } catch (e) {
        if (!(e instanceof McuError)) throw e;
        throw new McuError(
          'E_UNSUPPORTED',
          `${what}: input '${spec.name}' has dims [N, ${spec.dims.slice(1).join(', ')}] with named or unknown sizes; mcu measures the shapes of dropout ` +
            'inputs it cannot infer by running the model, which needs fixed input sizes. Fix: export with fixed sizes but the batch ' +
            '(dynamic_axes only for axis 0), or run onnx.shape_inference.infer_shapes on the model first',
        );
      }
    }
    return run(feeds);
  };
  const [one, two] = [await at(1), await at(2)];
  const out = new Map<string, MeasuredDims>();
  for (const t of tensors) {
    const a = one[t];
    const b = two[t];
    if (a === undefined || b === undefined) throw new McuError('E_INTERNAL', `probe run gave no '${t}'`);
    out.set(t, { one: [...a], two: [...b] });
  }
  return out;
}
