/**
 * The 'tiled' rewrite: for graphs the broadcast layout cannot keep apart (rows transposed off
 * the leading axis — sequence-first RNNs and nn.MultiheadAttention —, shapes read before the
 * first site and used after it — `B, L = input_ids.shape` —, reshapes that merge rows with
 * heads), every data input is repeated S times at the very start, x.repeat(S) as PyTorch users
 * do by hand, so the whole graph runs on a batch of S·N rows and every shape it reads agrees
 * with it. Each site then multiplies its tensor by the masks placed where that tensor holds
 * its rows (see site-construct.ts). The run contract is the broadcast one: feeds [N, …], masks
 * [S, 1|N, …maskShape], outputs [S·N, …] sample-major. The price: the work before the first
 * site is done per sample, not once.
 */
import { McuError } from '@mcu/core';
import type { GraphProto, NodeProto } from '../proto/types.js';
import { Emitter } from './emit.js';
import { type Namer, outerScopeInputs } from './proto-util.js';
import { emitSiteProduct, finishRewrite, plansByNode } from './site-construct.js';
import type { SitePlan } from './sites.js';

export interface TiledResult {
  changes: string[];
  /** Graph outputs that carry the S·N axis (all that depend on a data input). */
  expandedOutputs: string[];
}

export function rewriteTiled(
  graph: GraphProto,
  plans: readonly SitePlan[],
  opset: number,
  namer: Namer,
  dataInputs: readonly string[],
  what: string,
): TiledResult {
  if (plans.length === 0) throw new McuError('E_INTERNAL', 'tiled rewrite without a site');
  const em = new Emitter(opset, namer);
  const out: NodeProto[] = [];
  const flush = () => out.push(...em.nodes.splice(0));

  // S from the first mask; every data input tiled to S·N rows, sample-major.
  em.prefix = 'mcu/samples';
  const samples = em.slice1d(em.shape(plans[0]!.maskName), 0n, 1n);
  const renamed = new Map<string, string>();
  const used = new Set<string>();
  for (const n of graph.node ?? []) for (const i of [...(n.input ?? []), ...outerScopeInputs(n)]) if (i) used.add(i);
  for (const x of dataInputs) {
    if (!used.has(x)) continue;
    em.prefix = `mcu/tile/${x}`;
    const sx = em.shape(x);
    const big = em.expand(em.unsqueeze0(x), em.concat([samples, sx]));
    const tiled = em.reshape(big, em.concat([em.constInt64([-1n], 'minus1'), em.slice1d(sx, 1n)]), namer.fresh(`${x}_mcu_tiled`));
    renamed.set(x, tiled);
  }
  flush();
  const data = new Set<string>(dataInputs);
  for (const n of graph.node ?? []) {
    if ((n.input ?? []).some((i) => i && data.has(i)) || outerScopeInputs(n).some((i) => data.has(i))) {
      for (const o of n.output ?? []) if (o) data.add(o);
    }
  }
  for (const n of graph.node ?? []) {
    if (outerScopeInputs(n).some((i) => renamed.has(i))) {
      throw new McuError(
        'E_UNSUPPORTED',
        `${what}: a subgraph of node '${n.name ?? n.output?.[0]}' reads a model input directly; mcu cannot tile inputs inside subgraphs`,
      );
    }
  }

  const plansAt = plansByNode(plans);
  const construct = (p: SitePlan, index: number, outName: string): void => {
    const h = renamed.get(p.input) ?? p.input;
    if (!data.has(p.input)) {
      throw new McuError(
        'E_UNSUPPORTED',
        `${what}: site ${index + 1} (${p.origin.op} '${p.origin.node}') multiplies '${p.input}', which is not computed from the model's data inputs`,
      );
    }
    em.prefix = `mcu/site${index + 1}`;
    emitSiteProduct(em, { h, plan: p, expanded: true, samples, outName, opset, what });
    flush();
  };

  (graph.node ?? []).forEach((node0, i) => {
    const sitePlans = plansAt.get(i) ?? [];
    const replaced = sitePlans.find((p) => p.kind !== 'insert');
    if (replaced) {
      construct(replaced, plans.indexOf(replaced), replaced.output!);
      return;
    }
    const node: NodeProto = { ...node0, input: (node0.input ?? []).map((x) => renamed.get(x) ?? x) };
    for (const p of sitePlans) {
      const outName = namer.fresh(`${p.input}_mcu_dropout${plans.indexOf(p) + 1}`);
      construct(p, plans.indexOf(p), outName);
      node.input![p.inputIndex!] = outName;
    }
    out.push(node);
  });
  flush();
  // an input passed straight through keeps N rows; value_info was written for N rows
  const expandedOutputs = finishRewrite(
    graph,
    out,
    em,
    (name) => data.has(name) && !renamed.has(name),
    () => true,
  );
  return {
    changes: [`tiled layout: inputs ${[...renamed.keys()].join(', ')} repeated S times at the start (the whole graph runs on S·N rows, as x.repeat(S))`],
    expandedOutputs,
  };
}
