/**
 * The 'broadcast' rewrite: every site becomes a multiplication by a mask graph input, and
 * the sample axis is introduced lazily, at the first site a tensor passes through.
 *
 * Run contract of the rewritten graph: data inputs have N rows ([N, ...], not tiled); a
 * site's mask is float32 [S, 1, ...maskShape] (one mask per sample) or [S, N, ...maskShape]
 * (one per row); every output has leading axis S·N, sample-major (row t·N + i), or N when it
 * does not depend on any site.
 *
 * Site construct, h not yet expanded ([N, ...]):
 *   Y = Reshape(Unsqueeze(h, 0) · mask, [-1, ...Shape(h)[1:]])          → [S·N, ...]
 * h already expanded ([S·N, ...]):
 *   Y = Reshape(Reshape(h, [S, -1, ...Shape(h)[1:]]) · mask, Shape(h))   (S = Shape(mask)[0])
 * A node mixing expanded and not-yet-expanded data gets the latter expanded:
 *   u' = Reshape(Expand(Unsqueeze(u, 0), [S, ...Shape(u)]), [-1, ...Shape(u)[1:]]).
 * Shape tensors are tracked too: a shape read before the first site and used on expanded
 * data (it holds N where S·N is needed) is refused.
 */
import { McuError } from '@mcu/core';
import { DataType } from '../proto/enums.js';
import type { GraphProto, NodeProto } from '../proto/types.js';
import { ConstantTable } from './constants.js';
import { Emitter } from './emit.js';
import { attrInt, attrInts, isDefaultDomain, type Namer, nodeLabel, outerScopeInputs } from './proto-util.js';
import type { SitePlan } from './sites.js';
import type { ValueShape } from './shapes.js';
import { tensorBigints } from './tensor-values.js';

export const SAMPLE_ROWS_DIM = 'mcu_samples_x_rows';

type Kind = 'const' | 'data' | 'meta';
/** Whether a tensor has the S·N leading axis (data) or was computed from such (meta). */
interface State {
  kind: Kind;
  expanded: boolean;
  /** meta only: derived from a not-yet-expanded tensor's shape. */
  fromUnexpanded?: boolean;
}

/** Ops that turn shape values back into batch-carrying tensors. */
const SHAPE_TO_DATA = new Set(['ConstantOfShape', 'Expand', 'Tile', 'Range', 'RandomNormal', 'RandomUniform']);
const SHAPE_OPS = new Set(['Shape', 'Size']);
const REDUCE = /^Reduce|^ArgM/;

export interface BroadcastResult {
  changes: string[];
  /** Graph outputs that carry the S·N axis. */
  expandedOutputs: string[];
}

export function rewriteBroadcast(
  graph: GraphProto,
  plans: readonly SitePlan[],
  opset: number,
  namer: Namer,
  dataInputs: readonly string[],
  shapes: Map<string, ValueShape>,
  what: string,
): BroadcastResult {
  const oldNodes = graph.node ?? [];
  const consts = new ConstantTable(graph);
  const state = new Map<string, State>();
  for (const t of graph.initializer ?? []) if (t.name) state.set(t.name, { kind: 'const', expanded: false });
  for (const name of dataInputs) state.set(name, { kind: 'data', expanded: false });
  const em = new Emitter(opset, namer);
  const out: NodeProto[] = [];
  const flush = () => {
    out.push(...em.nodes.splice(0));
  };
  const maskOf = new Map<SitePlan, string>();
  for (const p of plans) maskOf.set(p, p.maskName);
  const expandedCache = new Map<string, string>();
  const firstMask = plans[0]?.maskName;
  let samplesDim: string | undefined;
  const rankOf = (name: string): number | undefined => shapes.get(name)?.dims?.length;

  const stateOf = (name: string): State => state.get(name) ?? { kind: 'const', expanded: false };

  const samples = (): string => {
    if (samplesDim === undefined) {
      if (!firstMask) throw new McuError('E_INTERNAL', 'expansion without a site');
      em.prefix = 'mcu/samples';
      samplesDim = em.slice1d(em.shape(firstMask), 0n, 1n);
    }
    return samplesDim;
  };

  const expandTensor = (u: string): string => {
    const hit = expandedCache.get(u);
    if (hit) return hit;
    const s = samples();
    em.prefix = `mcu/expand/${u}`;
    const su = em.shape(u);
    const target = em.concat([s, su]);
    const uE = em.expand(em.unsqueeze0(u), target);
    const flat = em.concat([em.constInt64([-1n], 'minus1'), em.slice1d(su, 1n)]);
    const name = em.reshape(uE, flat, namer.fresh(`${u}_mcu_expanded`));
    state.set(name, { kind: 'data', expanded: true });
    expandedCache.set(u, name);
    return name;
  };

  const construct = (p: SitePlan, index: number, outName: string): void => {
    const h = p.input;
    const st = stateOf(h);
    if (st.kind !== 'data') {
      throw new McuError('E_UNSUPPORTED', `${what}: site ${index + 1} (${p.origin.op} '${p.origin.node}') multiplies '${h}', which is not computed from the model's data inputs`);
    }
    em.prefix = `mcu/site${index + 1}`;
    let mask = maskOf.get(p)!;
    if (p.elem !== undefined && p.elem !== DataType.FLOAT) mask = em.cast(mask, p.elem);
    let prod: string;
    let flatShape: string;
    if (!st.expanded) {
      const hU = em.unsqueeze0(h);
      prod = em.mul(hU, mask);
      flatShape = em.concat([em.constInt64([-1n], 'minus1'), em.slice1d(em.shape(h), 1n)]);
      em.reshape(prod, flatShape, outName);
    } else {
      const sh = em.shape(h);
      const s = em.slice1d(em.shape(maskOf.get(p)!), 0n, 1n);
      const shp = em.concat([s, em.constInt64([-1n], 'minus1'), em.slice1d(sh, 1n)]);
      prod = em.mul(em.reshape(h, shp), mask);
      flatShape = sh;
      em.reshape(prod, flatShape, outName);
    }
    state.set(outName, { kind: 'data', expanded: true });
    if (p.maskOutput) {
      const full = em.expand(mask, em.shape(prod));
      if (opset >= 10) em.cast(em.reshape(full, flatShape), DataType.BOOL, p.maskOutput);
      else em.reshape(full, flatShape, p.maskOutput);
      state.set(p.maskOutput, { kind: 'data', expanded: true });
    }
    flush();
  };

  const plansAt = new Map<number, SitePlan[]>();
  for (const p of plans) {
    const list = plansAt.get(p.node);
    if (list) list.push(p);
    else plansAt.set(p.node, [p]);
  }
  const changes: string[] = [];

  oldNodes.forEach((node0, i) => {
    const sitePlans = plansAt.get(i) ?? [];
    const replaced = sitePlans.find((p) => p.kind !== 'insert');
    if (replaced) {
      construct(replaced, plans.indexOf(replaced), replaced.output!);
      return;
    }
    const node: NodeProto = { ...node0, input: [...(node0.input ?? [])] };
    for (const p of sitePlans) {
      const outName = namer.fresh(`${p.input}_mcu_dropout${plans.indexOf(p) + 1}`);
      construct(p, plans.indexOf(p), outName);
      node.input![p.inputIndex!] = outName;
    }
    const explicit = (node.input ?? []).filter((x) => x);
    const outer = outerScopeInputs(node);
    const states = [...explicit, ...outer].map(stateOf);
    const anyExpanded = states.some((s) => s.kind === 'data' && s.expanded);
    const metaExpanded = states.some((s) => s.kind === 'meta' && s.expanded);
    const metaUnexpanded = states.some((s) => s.kind === 'meta' && s.fromUnexpanded);
    const label = nodeLabel(node, i);
    const op = node.op_type ?? '';
    if ((anyExpanded || metaExpanded) && outer.length > 0 && [...outer].some((x) => stateOf(x).expanded)) {
      throw new McuError('E_UNSUPPORTED', `${what}: ${label} has a subgraph that reads tensors after a dropout site; mcu cannot rewrite inside subgraphs`);
    }
    let outState: State;
    if (anyExpanded) {
      if (metaUnexpanded) {
        throw new McuError(
          'E_UNSUPPORTED',
          `${what}: ${label} combines activations after a dropout site with a shape read before it ` +
            '(it would hold N rows where S·N are needed); re-export so that the shape is taken from the tensor itself (e.g. x.flatten(1))',
        );
      }
      (node.input ?? []).forEach((x, k) => {
        if (!x) return;
        const s = stateOf(x);
        if (s.kind === 'data' && !s.expanded) {
          node.input![k] = expandTensor(x);
          changes.push(`${label}: input '${x}' (before the first site) expanded to S·N rows to meet '${explicit.find((y) => stateOf(y).expanded)}'`);
        }
      });
      flush();
      checkBatchAxis(node, opset, rankOf, consts, what, label);
      outState = SHAPE_OPS.has(op) ? { kind: 'meta', expanded: true } : { kind: 'data', expanded: true };
    } else if (states.some((s) => s.kind === 'data')) {
      if (metaExpanded) {
        throw new McuError('E_UNSUPPORTED', `${what}: ${label} combines activations before a dropout site with a shape read after it`);
      }
      outState = SHAPE_OPS.has(op) ? { kind: 'meta', expanded: false, fromUnexpanded: true } : { kind: 'data', expanded: false };
    } else if (metaExpanded || metaUnexpanded) {
      const expanded = metaExpanded && !metaUnexpanded;
      if (metaExpanded && metaUnexpanded) {
        throw new McuError('E_UNSUPPORTED', `${what}: ${label} mixes shapes read before and after a dropout site`);
      }
      outState = SHAPE_TO_DATA.has(op)
        ? { kind: 'data', expanded }
        : { kind: 'meta', expanded, fromUnexpanded: !expanded };
    } else {
      outState = { kind: 'const', expanded: false };
    }
    for (const o of node.output ?? []) if (o) state.set(o, outState);
    out.push(node);
  });
  flush();
  graph.node = out;
  graph.initializer = [...(graph.initializer ?? []), ...em.initializers];

  const expandedOutputs: string[] = [];
  for (const o of graph.output ?? []) {
    if (o.name && stateOf(o.name).expanded && stateOf(o.name).kind === 'data') {
      expandedOutputs.push(o.name);
      const dim = o.type?.tensor_type?.shape?.dim;
      if (dim && dim.length > 0) dim[0] = { dim_param: SAMPLE_ROWS_DIM };
    }
  }
  // value_info of expanded tensors would state N rows: drop it.
  if (graph.value_info) {
    graph.value_info = graph.value_info.filter((v) => !(v.name && stateOf(v.name).expanded));
    if (graph.value_info.length === 0) delete graph.value_info;
  }
  return { changes: [...new Set(changes)], expandedOutputs };
}

/** Refuse ops that would treat the S·N axis as something other than rows. */
function checkBatchAxis(
  node: NodeProto,
  opset: number,
  rankOf: (name: string) => number | undefined,
  consts: ConstantTable,
  what: string,
  label: string,
): void {
  const op = node.op_type ?? '';
  if (!isDefaultDomain(node.domain)) return;
  const x = node.input?.[0] ?? '';
  const rank = rankOf(x);
  const touches0 = (axes: number[] | undefined): boolean =>
    axes !== undefined && axes.some((a) => a === 0 || (rank !== undefined && a + rank === 0));
  const refuse = (why: string): never => {
    throw new McuError(
      'E_UNSUPPORTED',
      `${what}: ${label} ${why} after a dropout site, where that axis holds S·N rows (samples × inputs); ` +
        'mcu can only run graphs that treat the leading axis as independent rows there',
    );
  };
  const axis = attrInt(node, 'axis');
  switch (op) {
    case 'Transpose': {
      const perm = attrInts(node, 'perm');
      if (perm === undefined || perm[0] !== 0) refuse('moves the leading (row) axis');
      break;
    }
    case 'Flatten':
      if ((axis ?? 1) === 0) refuse('flattens the row axis');
      break;
    case 'Softmax':
    case 'LogSoftmax':
    case 'Hardmax':
      if (axis !== undefined && touches0([axis])) refuse('normalises over the row axis');
      if (opset < 13 && axis === 0) refuse('normalises over the row axis');
      break;
    case 'Concat':
    case 'Split':
    case 'Gather':
    case 'GatherElements':
    case 'CumSum':
    case 'TopK':
      if (touches0([axis ?? 0])) refuse('works along the row axis');
      break;
    case 'Squeeze':
    case 'Unsqueeze': {
      const axes = opset >= 13 ? consts.get(node.input?.[1]) : undefined;
      const vals = axes ? tensorBigints(axes, 64)?.map(Number) : attrInts(node, 'axes');
      if (vals === undefined && op === 'Squeeze') refuse('may squeeze the row axis');
      if (touches0(vals)) refuse('changes the row axis');
      break;
    }
    case 'Reshape': {
      const t = consts.get(node.input?.[1]);
      const v = t ? tensorBigints(t, 64) : undefined;
      if (v !== undefined && v.length > 0 && v[0] !== -1n && v[0] !== 0n) {
        refuse(`reshapes to the fixed leading size ${v[0]} (shape [${v.join(', ')}])`);
      }
      break;
    }
    default:
      if (REDUCE.test(op)) {
        const axesT = opset >= 13 || op === 'ReduceSum' ? consts.get(node.input?.[1]) : undefined;
        const vals = axesT ? tensorBigints(axesT, 64)?.map(Number) : attrInts(node, 'axes');
        if (op.startsWith('ArgM')) {
          if (touches0([axis ?? 0])) refuse('reduces over the row axis');
        } else if (vals === undefined || vals.length === 0) {
          if ((attrInt(node, 'noop_with_empty_axes') ?? 0) === 0) refuse('reduces over all axes, rows included');
        } else if (touches0(vals)) refuse('reduces over the row axis');
      }
  }
}
