/**
 * Telling a per-sample masked model (`x [T, N, ...]`, masks `[T, 1, ...]`, the sample axis
 * built into the graph) from a per-row one (`x [N, ...]`, masks `[N, ...]`).
 *
 * Rule: follow each data input through shape-preserving ops (elementwise ops, Identity,
 * Cast, …) to the first weight layer. The rank that layer needs per row is 1 for Gemm and
 * for MatMul with a constant 2-D weight, and k + 1 for a k-D Conv. An input whose rank is
 * that + 2 carries a sample axis in front of the rows → 'sample-axis'; rank + 1 →
 * 'broadcast'. Inputs that reach no weight layer this way decide nothing; default
 * 'broadcast'.
 */
import type { GraphProto } from '../proto/types.js';
import type { ConstantTable } from './constants.js';
import type { Layout } from './metadata.js';
import { isDefaultDomain, valueInfoDims } from './proto-util.js';

const RANK_PRESERVING = new Set([
  'Relu',
  'Tanh',
  'Sigmoid',
  'LeakyRelu',
  'Elu',
  'Selu',
  'Softplus',
  'Exp',
  'Log',
  'Abs',
  'Neg',
  'Sqrt',
  'Identity',
  'Cast',
  'Clip',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Dropout',
  'Erf',
  'Gelu',
]);

export function detectMaskedLayout(graph: GraphProto, dataInputs: readonly string[], consts: ConstantTable): { layout: Layout; reason: string } | undefined {
  const nodes = graph.node ?? [];
  for (const input of dataInputs) {
    const rank = valueInfoDims((graph.input ?? []).find((v) => v.name === input))?.length;
    if (rank === undefined) continue;
    const seen = new Set<string>([input]);
    let frontier = [input];
    for (let step = 0; step < 64 && frontier.length > 0; step++) {
      const next: string[] = [];
      for (const t of frontier) {
        for (const n of nodes) {
          if (!isDefaultDomain(n.domain) || !(n.input ?? []).includes(t)) continue;
          const op = n.op_type ?? '';
          let perRow: number | undefined;
          if (op === 'Gemm') perRow = 1;
          else if (op === 'MatMul' && n.input?.[0] === t) {
            const w = consts.get(n.input?.[1]);
            if (w && (w.dims?.length ?? 0) === 2) perRow = 1;
          } else if (op === 'Conv') {
            const w = consts.get(n.input?.[1]);
            if (w && (w.dims?.length ?? 0) >= 3) perRow = w.dims!.length - 2 + 1;
          }
          if (perRow !== undefined) {
            if (rank === perRow + 2) {
              return {
                layout: 'sample-axis',
                reason: `input '${input}' has rank ${rank}, one more than ${op} '${n.name ?? ''}' needs for [rows, ...]: a leading sample axis`,
              };
            }
            if (rank === perRow + 1) return { layout: 'broadcast', reason: `input '${input}' has rank ${rank} = rows + ${perRow}` };
            continue;
          }
          if (RANK_PRESERVING.has(op)) {
            for (const o of n.output ?? [])
              if (o && !seen.has(o)) {
                seen.add(o);
                next.push(o);
              }
          }
        }
      }
      frontier = next;
    }
  }
  return undefined;
}
