/**
 * The prepared 'broadcast' graph for one mask per sample ([S, 1, D] masks, core's 'sample'
 * scope), with a site's product folded into the weight layer that reads it:
 *
 *   (h ⊙ m_t) W = h (diag(m_t) W)
 *
 * so that instead of a pass over the S·N·D masked activations (read and write, memory-bound:
 * on a small network as costly as a layer) the graph builds S masked copies of W, S·D·D′
 * products, and runs one batched MatMul [S, N, D] × [S, D, D′]. The bias becomes an Add over
 * S·N·D′ values and an activation after the layer is no longer fused into it, so the fold is
 * made only where D′ ≤ D and W has at most MAX_FOLDED_WEIGHTS values. Measured (in-graph ÷ plain onnxruntime, interleaved): co2 4×128, four
 * 128-wide sites, 0.90–1.13× with only the last (128 → 1) folded and 0.79–0.96× with all; the
 * UCI model's input site (13 → 50, wider) folded made it slower, 1.14–1.22× against 1.06–1.11×.
 *
 * The pattern is the one site-construct.ts emits for a multiplicative site on 2-D data:
 *   hS = Reshape(h, [S | 1, −1, D]); M = Mul(hS, mask); Y = Reshape(M, …)
 * with Y read by one node only, a Gemm (transA 0, alpha = beta = 1, B an initializer, C absent
 * or a 1-D / [1, D′] initializer) or a MatMul whose B is a 2-D initializer. It becomes
 *   Wm = Mul(Transpose(mask, [0, 2, 1]), B or Bᵀ); P = MatMul(hS, Wm) (+ C); Reshape(P, [−1, D′])
 * named as the layer's output, which every later node reads as before. A point-scope mask
 * ([S, N, D]) cannot be folded: the result is for sample-scope runs only. Mathematically equal,
 * the two differ by float32 rounding (each product rounded once either way, in another order).
 */
import type { FoldedSampleSite } from '@mcu/core';
import type { GraphProto, ModelProto, NodeProto, TensorProto } from '../proto/types.js';
import { cloneProto } from './clone.js';
import { Emitter } from './emit.js';
import type { PreparedModel } from './prepare.js';
import { attrFloat, attrInt, intsAttr, isDefaultDomain, Namer } from './proto-util.js';
import { tensorBigints } from './tensor-values.js';

/** The largest weight matrix (D·D′ values) folded: S copies of it are built per call. */
export const MAX_FOLDED_WEIGHTS = 65_536;

/** What was folded: each site (its mask name, the layer's outputs D′, whether its input has N rows only), for chunking, tests and reports. */
export interface FoldedModel {
  readonly model: ModelProto;
  readonly sites: readonly FoldedSampleSite[];
}

/** The sample-scope graph with every foldable site folded; undefined where none is. */
export function foldSampleMasks(prepared: PreparedModel): FoldedModel | undefined {
  if (prepared.layout !== 'broadcast') return undefined;
  const candidates = prepared.sites.filter((s) => s.maskShape.length === 1);
  if (candidates.length === 0) return undefined;
  const model = cloneProto(prepared.model);
  const graph = model.graph!;
  const namer = new Namer(graph);
  const sites: FoldedSampleSite[] = [];
  for (const site of candidates) {
    const f = foldOne(graph, site.name, site.maskShape[0]!, prepared.opset, namer);
    if (f !== undefined) sites.push({ site: site.name, ...f });
  }
  return sites.length === 0 ? undefined : { model, sites };
}

function producerOf(graph: GraphProto, name: string): NodeProto | undefined {
  return (graph.node ?? []).find((n) => n.output?.includes(name));
}

function consumersOf(graph: GraphProto, name: string): NodeProto[] {
  return (graph.node ?? []).filter((n) => (n.input ?? []).includes(name));
}

const isOutput = (graph: GraphProto, name: string) => (graph.output ?? []).some((o) => o.name === name);

function initializer(graph: GraphProto, name: string | undefined): TensorProto | undefined {
  return name === undefined || name === '' ? undefined : (graph.initializer ?? []).find((t) => t.name === name);
}

/**
 * hS = Reshape(h, Concat([1], [-1], post)): site-construct.ts's pattern for an h with N rows
 * (the leading 1 a constant); an expanded h is reshaped by [S] taken from a mask's shape.
 */
function hasSharedInput(graph: GraphProto, hSNode: NodeProto): boolean {
  const shape = producerOf(graph, hSNode.input?.[1] ?? '');
  if (shape?.op_type !== 'Concat') return false;
  const lead = initializer(graph, shape.input?.[0]);
  const v = lead === undefined ? undefined : tensorBigints(lead, 1);
  return v?.length === 1 && v[0] === 1n;
}

function foldOne(graph: GraphProto, mask: string, d: number, opset: number, namer: Namer): Omit<FoldedSampleSite, 'site'> | undefined {
  const nodes = graph.node ?? [];
  const products = nodes.filter((n) => n.op_type === 'Mul' && isDefaultDomain(n.domain) && n.input?.[1] === mask);
  if (products.length !== 1) return undefined;
  const mul = products[0]!;
  const hS = mul.input![0]!;
  const hSNode = producerOf(graph, hS);
  if (hSNode?.op_type !== 'Reshape') return undefined;
  const sharedInput = hasSharedInput(graph, hSNode);
  const afterMul = consumersOf(graph, mul.output![0]!);
  if (afterMul.length !== 1 || afterMul[0]!.op_type !== 'Reshape' || isOutput(graph, mul.output![0]!)) return undefined;
  const back = afterMul[0]!;
  const y = back.output![0]!;
  const readers = consumersOf(graph, y);
  if (readers.length !== 1 || isOutput(graph, y)) return undefined;
  const layer = readers[0]!;
  if (!isDefaultDomain(layer.domain) || layer.input?.[0] !== y || layer.input.filter((i) => i === y).length !== 1) return undefined;
  const weight = initializer(graph, layer.input[1]);
  if (weight?.dims?.length !== 2) return undefined;
  const [r0, r1] = weight.dims.map(Number) as [number, number];
  let transB = false;
  let bias: string | undefined;
  if (layer.op_type === 'Gemm') {
    if ((attrInt(layer, 'transA') ?? 0) !== 0 || (attrFloat(layer, 'alpha') ?? 1) !== 1 || (attrFloat(layer, 'beta') ?? 1) !== 1) return undefined;
    transB = (attrInt(layer, 'transB') ?? 0) === 1;
    const c = layer.input[2];
    if (c !== undefined && c !== '') {
      const t = initializer(graph, c);
      const dims = t?.dims?.map(Number);
      if (dims === undefined || dims.length > 2 || (dims.length === 2 && dims[0] !== 1)) return undefined;
      bias = c;
    }
  } else if (layer.op_type !== 'MatMul' || layer.input.length !== 2) {
    return undefined;
  }
  const [inDim, outDim] = transB ? [r1, r0] : [r0, r1];
  // S masked copies of W: kept to small layers, where they cost less than the pass they replace
  // (co2 4×1024's 1024 → 1024 sites folded measured 1.17× plain against ≈ 1.05× unfolded)
  if (inDim !== d || outDim > d || d * outDim > MAX_FOLDED_WEIGHTS) return undefined;

  const em = new Emitter(opset, namer);
  em.prefix = `mcu/fold/${mask}`;
  const maskT = em.node('Transpose', [mask], [intsAttr('perm', [0, 2, 1])]); // [S, D, 1]
  const w = transB ? em.node('Transpose', [weight.name!], [intsAttr('perm', [1, 0])]) : weight.name!; // [D, D′]
  const masked = em.mul(maskT, w); // [S, D, D′]
  let p = em.node('MatMul', [hS, masked]); // [S | 1, N, D] × [S, D, D′] → [S, N, D′]
  // the bias as [1, 1, D′]: onnxruntime's CPU Add broadcasts a lower-rank operand one trailing span
  // at a time, so [S, N, 1] + [1] (a regression head, D′ = 1) took ≈ 20 ns a value against ≈ 5
  // with the ranks equal (bench/broadcast-probe.mjs); the Reshape is constant-folded by onnxruntime
  if (bias !== undefined) p = em.add(p, em.reshape(bias, em.constInt64([1n, 1n, BigInt(outDim)], `bias_dims_${outDim}`)));
  em.reshape(p, em.constInt64([-1n, BigInt(outDim)], `rows_by_${outDim}`), layer.output![0]!);
  const at = nodes.indexOf(layer);
  graph.node = [...nodes.slice(0, at).filter((n) => n !== mul && n !== back), ...em.nodes, ...nodes.slice(at + 1)];
  graph.initializer = [...(graph.initializer ?? []), ...em.initializers];
  const gone = new Set([mul.output![0]!, y]);
  graph.value_info = (graph.value_info ?? []).filter((v) => !gone.has(v.name ?? ''));
  return { outputs: outDim, sharedInput };
}
