/**
 * FLOP estimate of a prepared model for `mcu inspect`: 2 × multiply-adds of Gemm, MatMul
 * and Conv (ConvTranspose too) per input row, and how much of it comes before the first
 * site — the part the 'broadcast' layout computes once per row instead of once per sample.
 *
 * Limits: static shapes only (symbolic non-batch dims need `rowsDims`); elementwise ops,
 * pooling and normalisation are not counted (small next to the weight layers); layers
 * inside subgraphs (If / Loop) and custom domains are not counted (`complete` = false).
 */
import type { NodeProto } from '../proto/types.js';
import { ConstantTable } from './constants.js';
import type { PreparedModel } from './prepare.js';
import { attrInt, isDefaultDomain, outerScopeInputs } from './proto-util.js';
import { inferShapes, isKnown, type Dim, type ValueShape } from './shapes.js';

export interface LayerFlops {
  node: string;
  op: string;
  /** FLOPs per input row (per sample for layers after the first site). */
  flops: number;
  /** True when the layer does not depend on any site (computed once per row). */
  beforeFirstSite: boolean;
}

export interface FlopCount {
  /** FLOPs of one forward pass for one input row. */
  perRow: number;
  /** Of which in layers that do not depend on any site. */
  beforeFirstSite: number;
  afterFirstSite: number;
  /** beforeFirstSite / perRow (0 when perRow is 0). */
  shareBeforeFirstSite: number;
  /** FLOPs per row for S samples: 'broadcast' computes the prefix once: before + S·after. */
  forSamples(samples: number): number;
  layers: LayerFlops[];
  /** False when some weight layer's shapes were unknown (its FLOPs are missing). */
  complete: boolean;
  unknown: string[];
}

function prod(dims: readonly Dim[]): number | undefined {
  let p = 1;
  for (const d of dims) {
    if (!isKnown(d)) return undefined;
    p *= d;
  }
  return p;
}

function layerFlops(node: NodeProto, shapes: Map<string, ValueShape>): number | undefined {
  const op = node.op_type;
  const a = shapes.get(node.input?.[0] ?? '')?.dims;
  const b = shapes.get(node.input?.[1] ?? '')?.dims;
  const y = shapes.get(node.output?.[0] ?? '')?.dims;
  if (op === 'Gemm') {
    if (a?.length !== 2 || y?.length !== 2) return undefined;
    const k = attrInt(node, 'transA') ? a[0] : a[1];
    const n = y[1];
    return isKnown(k) && isKnown(n) ? 2 * k * n : undefined;
  }
  if (op === 'MatMul') {
    if (a === undefined || y === undefined || a.length === 0) return undefined;
    const k = a[a.length - 1];
    // Per row: everything of the output but its leading (row) axis.
    const rest = y.length >= 2 ? prod(y.slice(1)) : 1;
    return isKnown(k) && rest !== undefined ? 2 * k * rest : undefined;
  }
  if (op === 'Conv' || op === 'ConvTranspose') {
    if (b === undefined || y === undefined || b.length < 3) return undefined;
    const group = attrInt(node, 'group') ?? 1;
    const perOut = op === 'Conv' ? prod(b.slice(1)) : prod(b.slice(2)) !== undefined && isKnown(b[0]) ? (b[0] / group) * prod(b.slice(2))! : undefined;
    const outs = prod(y.slice(1));
    return perOut !== undefined && outs !== undefined ? 2 * perOut * outs : undefined;
  }
  return undefined;
}

/**
 * @param rowsDims per-row dims (without the batch axis) of inputs whose dims are symbolic.
 */
export function countFlops(prepared: PreparedModel, rowsDims?: Readonly<Record<string, readonly number[]>>): FlopCount {
  const graph = prepared.model.graph!;
  const seeds = new Map<string, ValueShape>();
  const sampleAxis = prepared.layout === 'sample-axis';
  // tiled: the work before the first site is repeated per sample like the rest
  const perSample = sampleAxis || prepared.layout === 'tiled';
  for (const vi of graph.input ?? []) {
    const name = vi.name ?? '';
    const given = rowsDims?.[name];
    if (given) {
      const lead: Dim[] = sampleAxis ? ['samples', 'batch'] : ['batch'];
      seeds.set(name, { elem: vi.type?.tensor_type?.elem_type, dims: [...lead, ...given] });
    }
  }
  // Per-row shapes: in the sample-axis layout drop the sample axis so [T, N, ...] reads as rows.
  const shapes = inferShapes(graph, prepared.opset, new ConstantTable(graph), seeds);
  const masks = new Set(prepared.sites.map((s) => s.name));
  const dependent = new Set<string>(masks);
  const layers: LayerFlops[] = [];
  const unknown: string[] = [];
  let before = 0;
  let after = 0;
  let complete = true;
  for (const node of graph.node ?? []) {
    const ins = [...(node.input ?? []), ...outerScopeInputs(node)];
    const dep = ins.some((i) => i && dependent.has(i));
    if (dep) for (const o of node.output ?? []) if (o) dependent.add(o);
    if (!isDefaultDomain(node.domain)) {
      complete = false;
      continue;
    }
    if (node.attribute?.some((a) => a.g || a.graphs?.length)) complete = false;
    const op = node.op_type ?? '';
    if (op !== 'Gemm' && op !== 'MatMul' && op !== 'Conv' && op !== 'ConvTranspose') continue;
    let f: number | undefined;
    if (sampleAxis && op === 'MatMul') {
      // [T, N, ..., K] · [K, M]: per (sample, row) the trailing dims count.
      const a = shapes.get(node.input?.[0] ?? '')?.dims;
      const y = shapes.get(node.output?.[0] ?? '')?.dims;
      const k = a?.[a.length - 1];
      const rest = y && y.length >= 2 ? prod(y.slice(2)) : undefined;
      f = isKnown(k) && rest !== undefined ? 2 * k * rest : undefined;
    } else f = layerFlops(node, shapes);
    const id = node.name || node.output?.[0] || op;
    if (f === undefined) {
      complete = false;
      unknown.push(`${op} '${id}'`);
      continue;
    }
    layers.push({ node: id, op, flops: f, beforeFirstSite: !dep });
    if (dep) after += f;
    else before += f;
  }
  const perRow = before + after;
  return {
    perRow,
    beforeFirstSite: before,
    afterFirstSite: after,
    shareBeforeFirstSite: perRow > 0 && prepared.layout !== 'tiled' ? before / perRow : 0,
    forSamples: (s: number) => (perSample ? s * perRow : before + s * after),
    layers,
    complete,
    unknown,
  };
}
