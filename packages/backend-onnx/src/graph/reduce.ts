/**
 * The reduced graph: the prepared graph with, instead of its outputs, their reductions over the
 * call's S samples (core's `ReductionKind`), so that a chunk returns O(N·D) numbers instead of
 * O(S·N·D) — no JavaScript pass over the samples and one small download per chunk.
 *
 * 'broadcast' and 'tiled' outputs are [S·N, …] sample-major (row t·N + i), reshaped to
 * [S, N, …] with N read from the first data input's leading dim; an output that depends on no
 * site has N rows and becomes [1, N, …], whose means are the same and whose M2 is 0, as the S
 * identical samples give. 'sample-axis' models (data [S, N, …] into the graph) are not offered:
 * they stay on the raw path. The reductions follow core's estimators:
 * - `moments`: with c = the chunk's first sample, mean_t (y_t − c) and Σ_t (y_t − ȳ)²
 *   (deviations from the chunk mean, not Σy² − Sȳ²), and c: float32 only holds deviations of
 *   the size of the spread, so |mean| ≫ std loses nothing (core adds c back in float64);
 * - `logits`: log p_t = LogSoftmax, p_t = exp(log p_t); `probabilities`: p_t = x/Σx and
 *   log p_t = log max(p_t, FLT_MIN) (0·log 0 = 0, as bake.ts); then mean and M2 of p_t, the
 *   mean of H[p_t] = −Σ_c p log p, and the share of samples whose ArgMax (select_last_index 0:
 *   the lowest class on ties, as core's argmax) is each class (OneHot, ReduceMean);
 *   `probabilities` also the smallest and largest raw value.
 */
import type { OutputReduction } from '@mcu/core';
import { DataType } from '../proto/enums.js';
import type { ModelProto, TensorProto, ValueInfoProto } from '../proto/types.js';
import { cloneProto } from './clone.js';
import { Emitter } from './emit.js';
import type { PreparedModel } from './prepare.js';
import { intAttr, intsAttr, Namer, valueInfoElemType } from './proto-util.js';

/** Smallest normal float32: p·log(max(p, this)) is exactly 0 for p = 0. */
export const FLT_MIN_NORMAL = 1.1754943508222875e-38;
/** OneHot (the vote counts) needs opset 9. */
export const REDUCE_MIN_OPSET = 9;

/**
 * `op` over one axis (or, `axis` undefined, over all axes): the axes are an attribute before
 * opset 13 (ReduceSum) / 18 (the other Reduce ops) and an input from then on.
 */
export function reduceOver(
  em: Emitter,
  op: 'ReduceMean' | 'ReduceSum' | 'ReduceSumSquare' | 'ReduceMin' | 'ReduceMax',
  x: string,
  axis: number | undefined,
  options: { readonly keepdims?: boolean; readonly outName?: string } = {},
): string {
  const keep = [intAttr('keepdims', options.keepdims ? 1 : 0)];
  if (axis === undefined) return em.node(op, [x], keep, options.outName);
  const fromInput = op === 'ReduceSum' ? 13 : 18;
  if (em.opset >= fromInput) return em.node(op, [x, em.constInt64([BigInt(axis)], `axis${axis}`)], keep, options.outName);
  return em.node(op, [x], [intsAttr('axes', [axis]), ...keep], options.outName);
}

/** The graph outputs that hold one requested reduction. */
export interface ReducedNames {
  readonly output: string;
  readonly kind: OutputReduction['kind'];
  readonly mean: string;
  readonly m2: string;
  /** `moments`: the chunk's first sample, which `mean` is relative to. */
  readonly shift?: string;
  readonly entropy?: string;
  readonly votes?: string;
  readonly min?: string;
  readonly max?: string;
}

export interface ReducedGraph {
  readonly model: ModelProto;
  /** In the order of the request. */
  readonly outputs: readonly ReducedNames[];
}

function floatVector(name: string, values: readonly number[]): TensorProto {
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return { name, data_type: DataType.FLOAT, dims: [BigInt(values.length)], raw_data: raw };
}

/** The classes of a classification output from its declared dims ([·, 1, …, 1, C]), when fixed. */
function classesOf(dims: readonly (number | string)[]): number | undefined {
  const rest = dims.slice(1);
  if (rest.length === 0 || rest.some((d) => typeof d !== 'number' || d < 1)) return undefined;
  const c = rest[rest.length - 1] as number;
  const width = (rest as number[]).reduce((a, b) => a * b, 1);
  return c >= 2 && width === c ? c : undefined;
}

/**
 * The reduced graph for `request`, or undefined where it is not offered (the caller then runs
 * the prepared graph): the 'sample-axis' layout, an output that is not a float32 output of the
 * model, a classification output whose class count is not fixed in its dims, no data input to
 * read N from, or an opset below {@link REDUCE_MIN_OPSET}. The graph is checked by onnxruntime (its shape inference)
 * when a session is created from it.
 */
export function reducedGraph(prepared: PreparedModel, request: readonly OutputReduction[]): ReducedGraph | undefined {
  if (request.length === 0 || prepared.opset < REDUCE_MIN_OPSET || prepared.layout === 'sample-axis') return undefined;
  const first = prepared.inputs[0];
  if (first === undefined) return undefined;
  const model = cloneProto(prepared.model);
  const graph = model.graph!;
  const namer = new Namer(graph);
  const em = new Emitter(prepared.opset, namer);
  em.prefix = 'mcu_reduce';
  const outputs: ReducedNames[] = [];
  const graphOutputs: ValueInfoProto[] = [];
  const floatOut = (base: string): string => {
    const name = namer.fresh(base);
    graphOutputs.push({ name, type: { tensor_type: { elem_type: DataType.FLOAT } } });
    return name;
  };
  const minusOne = em.constInt64([-1n], 'minus1');
  const rows = em.slice1d(em.shape(first.name), 0n, 1n);
  for (const r of request) {
    const spec = prepared.outputs.find((o) => o.name === r.output);
    const vi = (graph.output ?? []).find((o) => o.name === r.output);
    if (spec === undefined || vi === undefined || spec.dtype !== 'float32') return undefined;
    const elem = valueInfoElemType(vi);
    if (elem !== undefined && elem !== DataType.FLOAT) return undefined;
    const base = `mcu_reduced/${r.output}`;
    const y0 = r.output;
    if (r.kind === 'moments') {
      // [S·N, …rest] → [S, N, …rest]
      const rest = em.slice1d(em.shape(y0), 1n);
      const y = em.reshape(y0, em.concat([minusOne, rows, rest]));
      // Shifted by the chunk's first sample c: float32 holds y − c, of the size of the spread.
      const firstSample = em.slice1d(y, 0n, 1n); // Slice along axis 0: [1, N, …]
      const shifted = em.node('Sub', [y, firstSample]);
      const shift = reduceOver(em, 'ReduceMean', firstSample, 0, { outName: floatOut(`${base}/shift`) }); // [1, N, …] → [N, …], exact
      const mean = reduceOver(em, 'ReduceMean', shifted, 0, { outName: floatOut(`${base}/mean`) });
      const d = em.node('Sub', [shifted, mean]);
      // Σ d² in one reduction (no [S, N, …] product written and read back)
      const m2 = reduceOver(em, 'ReduceSumSquare', d, 0, { outName: floatOut(`${base}/m2`) });
      outputs.push({ output: r.output, kind: r.kind, mean, m2, shift });
      continue;
    }
    const classes = classesOf(spec.dims);
    if (classes === undefined) return undefined;
    const x = em.reshape(y0, em.concat([minusOne, rows, em.constInt64([BigInt(classes)], `classes${classes}`)])); // [S, N, C]
    const axisC = [intAttr('axis', -1)];
    const tiny = em.constFloat(FLT_MIN_NORMAL, DataType.FLOAT, 'flt_min');
    let p: string;
    let logP: string;
    if (r.kind === 'logits') {
      // LogSoftmax below opset 13 flattens to [S·N, C] at axis −1: the same for the last axis.
      logP = em.node('LogSoftmax', [x], axisC);
      p = em.node('Exp', [logP]);
    } else {
      p = em.node('Div', [x, reduceOver(em, 'ReduceSum', x, -1, { keepdims: true })]);
      logP = em.node('Log', [em.node('Max', [p, tiny])]);
    }
    const hSample = em.node('Neg', [reduceOver(em, 'ReduceSum', em.mul(p, logP), -1)]); // [S, N]
    const mean = reduceOver(em, 'ReduceMean', p, 0, { outName: floatOut(`${base}/mean`) }); // [N, C]
    const d = em.node('Sub', [p, mean]);
    const m2 = reduceOver(em, 'ReduceSumSquare', d, 0, { outName: floatOut(`${base}/m2`) });
    const entropy = reduceOver(em, 'ReduceMean', hSample, 0, { outName: floatOut(`${base}/entropy`) }); // [N]
    const winner = em.node('ArgMax', [x], [intAttr('axis', -1), intAttr('keepdims', 0)]); // [S, N], first maximum
    const offOn = namer.fresh('mcu_const_off_on');
    em.initializers.push(floatVector(offOn, [0, 1]));
    const oneHot = em.node('OneHot', [winner, em.constInt64([BigInt(classes)], `classes${classes}`), offOn], [intAttr('axis', -1)]); // [S, N, C]
    const votes = reduceOver(em, 'ReduceMean', oneHot, 0, { outName: floatOut(`${base}/votes`) });
    const names: ReducedNames = { output: r.output, kind: r.kind, mean, m2, entropy, votes };
    if (r.kind === 'probabilities') {
      const min = reduceOver(em, 'ReduceMin', x, undefined, { outName: floatOut(`${base}/min`) });
      const max = reduceOver(em, 'ReduceMax', x, undefined, { outName: floatOut(`${base}/max`) });
      outputs.push({ ...names, min, max });
    } else outputs.push(names);
  }
  graph.node = [...(graph.node ?? []), ...em.nodes];
  graph.initializer = [...(graph.initializer ?? []), ...em.initializers];
  graph.output = graphOutputs;
  return { model, outputs };
}
