/**
 * The nodes that apply one site's mask, shared by the 'broadcast' and 'tiled' rewrites.
 *
 * The mask input is float32 [S, M, ...maskShape] with M = 1 (one mask per sample) or N (one per
 * row); maskShape = [k, ...the site tensor's dims without its row axis] (k omitted when 1),
 * where the row axis r holds the rows row-major with k entries each (k = heads for attention
 * weights [N·heads, L, L]; r = 1 for sequence-first [L, N, E]).
 *
 * h with S·N rows at axis r ("expanded": tiled, or after an earlier site):
 *   Y = Reshape(Reshape(h, [pre, S, -1, k, post]) · T(mask), Shape(h))
 * h with N rows (broadcast, first site on its path; r = 0):
 *   Y = Reshape(Reshape(h, [1, -1, k, post]) · mask, [-1, post])                → S·N rows
 * pre = Shape(h)[:r], post = Shape(h)[r+1:], T moves the mask's [S, M, k] axes to position r.
 * AlphaDropout (keep indicators m): the product becomes a·(h·m + α′(1 − m)) + b as
 * torch computes it, and Where(m < 0, h, …) for the eval-mode pass.
 */
import { McuError } from '@mcu/core';
import { DataType } from '../proto/enums.js';
import type { GraphProto, NodeProto } from '../proto/types.js';
import type { Emitter } from './emit.js';
import type { SitePlan } from './sites.js';

/** The leading dim of graph outputs that carry S·N rows. */
export const SAMPLE_ROWS_DIM = 'mcu_samples_x_rows';

/** Site plans by the index of the node they replace or precede. */
export function plansByNode(plans: readonly SitePlan[]): Map<number, SitePlan[]> {
  const at = new Map<number, SitePlan[]>();
  for (const p of plans) {
    const list = at.get(p.node);
    if (list) list.push(p);
    else at.set(p.node, [p]);
  }
  return at;
}

/**
 * Install a rewrite's nodes and initializers; mark the graph outputs that carry S·N rows
 * (their leading dim becomes {@link SAMPLE_ROWS_DIM}) and drop value_info that would state N
 * rows. Returns the names of those outputs.
 */
export function finishRewrite(
  graph: GraphProto,
  nodes: NodeProto[],
  em: Emitter,
  sampled: (name: string) => boolean,
  staleInfo: (name: string) => boolean,
): string[] {
  graph.node = nodes;
  graph.initializer = [...(graph.initializer ?? []), ...em.initializers];
  const expandedOutputs: string[] = [];
  for (const o of graph.output ?? []) {
    if (!o.name || !sampled(o.name)) continue;
    expandedOutputs.push(o.name);
    const dim = o.type?.tensor_type?.shape?.dim;
    if (dim && dim.length > 0) dim[0] = { dim_param: SAMPLE_ROWS_DIM };
  }
  if (graph.value_info) {
    graph.value_info = graph.value_info.filter((v) => !(v.name && staleInfo(v.name)));
    if (graph.value_info.length === 0) delete graph.value_info;
  }
  return expandedOutputs;
}

/** SELU's λα — ATen's alpha_dropout constant. */
export const ALPHA_DROPOUT_ALPHA = 1.7580993408473766;

export interface SiteProduct {
  readonly h: string;
  readonly plan: SitePlan;
  /** h already has S·N rows (expanded, or tiled); false: N rows (broadcast layout, r = 0). */
  readonly expanded: boolean;
  /** 1-D int64 [S] (from the first mask's shape). */
  readonly samples: string;
  readonly outName: string;
  readonly opset: number;
  readonly what: string;
}

export function emitSiteProduct(em: Emitter, x: SiteProduct): void {
  const { plan, h } = x;
  const r = plan.rowAxis;
  const k = plan.rowFactor;
  const q = k > 1 ? 1 : 0;
  if (!x.expanded && r !== 0) throw new McuError('E_INTERNAL', `site ${plan.maskName}: rows on axis ${r} before expansion`);
  const elem = plan.elem ?? DataType.FLOAT;
  const mask0 = plan.maskName;
  const sh = em.shape(h);
  const minus1 = em.constInt64([-1n], 'minus1');
  const kT = q ? [em.constInt64([BigInt(k)], `k${k}`)] : [];
  const pre = r > 0 ? [em.slice1d(sh, 0n, BigInt(r))] : [];
  const post = em.slice1d(sh, BigInt(r + 1));
  const lead = x.expanded ? x.samples : em.constInt64([1n], 'one');
  const hV = em.reshape(h, em.concat([...pre, lead, minus1, ...kT, post]));
  let m = elem === DataType.FLOAT ? mask0 : em.cast(mask0, elem);
  if (r > 0) {
    if (plan.rank === undefined) throw new McuError('E_INTERNAL', `site ${plan.maskName}: rank unknown for row axis ${r}`);
    const nPost = plan.rank - r - 1;
    const perm = [...Array.from({ length: r }, (_, i) => 2 + q + i), 0, 1, ...(q ? [2] : []), ...Array.from({ length: nPost }, (_, i) => 2 + q + r + i)];
    m = em.transpose(m, perm);
  }
  let prod: string;
  if (plan.siteKind === 'alpha') {
    // torch: b = (m − 1)·αa + αa·p; y = x·(m·a) + b, computed in the activation's type
    const p = plan.rate;
    const a = 1 / Math.sqrt((ALPHA_DROPOUT_ALPHA * ALPHA_DROPOUT_ALPHA * p + 1) * (1 - p));
    const aa = ALPHA_DROPOUT_ALPHA * a;
    const scale = em.mul(m, em.constFloat(a, elem, 'alpha_a'));
    const shift = em.add(em.mul(m, em.constFloat(aa, elem, 'alpha_aa')), em.constFloat(aa * p - aa, elem, 'alpha_b0'));
    const affine = em.add(em.mul(hV, scale), shift);
    prod = em.where(em.less(m, em.constFloat(0, elem, 'zero')), hV, affine);
  } else {
    prod = em.mul(hV, m);
  }
  const outShape = x.expanded ? sh : em.concat([minus1, post]);
  em.reshape(prod, outShape, x.outName);
  if (plan.maskOutput) {
    const full = em.expand(m, em.shape(prod));
    if (x.opset >= 10) em.cast(em.reshape(full, outShape), DataType.BOOL, plan.maskOutput);
    else em.reshape(full, outShape, plan.maskOutput);
  }
}
