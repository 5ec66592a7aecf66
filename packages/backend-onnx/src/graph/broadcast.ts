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
import type { GraphProto, NodeProto } from '../proto/types.js';
import { ConstantTable } from './constants.js';
import { Emitter } from './emit.js';
import { attrFloats, attrInt, attrInts, attrString, isDefaultDomain, type Namer, nodeLabel, outerScopeInputs } from './proto-util.js';
import { emitSiteProduct, finishRewrite, plansByNode, SAMPLE_ROWS_DIM } from './site-construct.js';
import type { SitePlan } from './sites.js';
import type { ValueShape } from './shapes.js';
import { tensorBigints, tensorNumbers } from './tensor-values.js';

export { SAMPLE_ROWS_DIM };

/**
 * The broadcast layout cannot keep rows on the leading axis through this graph (a transpose of
 * the rows, a shape read before the first site, a reshape that merges rows): prepare falls back
 * to the 'tiled' layout, which runs the whole graph on S·N rows.
 */
export class LayoutRefusal extends McuError {
  readonly layout = true;
  constructor(message: string) {
    super('E_UNSUPPORTED', message);
  }
}

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
      throw new McuError(
        'E_UNSUPPORTED',
        `${what}: site ${index + 1} (${p.origin.op} '${p.origin.node}') multiplies '${h}', which is not computed from the model's data inputs`,
      );
    }
    if (p.rowAxis !== 0) {
      throw new LayoutRefusal(`${what}: site ${index + 1} (${p.origin.op} '${p.origin.node}') holds its rows on axis ${p.rowAxis} of '${h}'`);
    }
    const s = samples();
    em.prefix = `mcu/site${index + 1}`;
    emitSiteProduct(em, { h, plan: p, expanded: st.expanded, samples: s, outName, opset, what });
    state.set(outName, { kind: 'data', expanded: true });
    if (p.maskOutput) state.set(p.maskOutput, { kind: 'data', expanded: true });
    flush();
  };

  const plansAt = plansByNode(plans);
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
      throw new LayoutRefusal(`${what}: ${label} has a subgraph that reads tensors after a dropout site`);
    }
    let outState: State;
    if (anyExpanded) {
      if (metaUnexpanded) {
        throw new LayoutRefusal(
          `${what}: ${label} combines activations after a dropout site with a shape read before it (it would hold N rows where S·N are needed)`,
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
      checkBatchAxis(node, opset, rankOf, consts, what, label, (name) => stateOf(name).kind === 'data' && stateOf(name).expanded, shapes);
      outState = SHAPE_OPS.has(op) ? { kind: 'meta', expanded: true } : { kind: 'data', expanded: true };
    } else if (states.some((s) => s.kind === 'data')) {
      if (metaExpanded) {
        throw new LayoutRefusal(`${what}: ${label} combines activations before a dropout site with a shape read after it`);
      }
      outState = SHAPE_OPS.has(op) ? { kind: 'meta', expanded: false, fromUnexpanded: true } : { kind: 'data', expanded: false };
    } else if (metaExpanded || metaUnexpanded) {
      const expanded = metaExpanded && !metaUnexpanded;
      if (metaExpanded && metaUnexpanded) {
        throw new LayoutRefusal(`${what}: ${label} mixes shapes read before and after a dropout site`);
      }
      outState = SHAPE_TO_DATA.has(op) ? { kind: 'data', expanded } : { kind: 'meta', expanded, fromUnexpanded: !expanded };
    } else {
      outState = { kind: 'const', expanded: false };
    }
    for (const o of node.output ?? []) if (o) state.set(o, outState);
    out.push(node);
  });
  flush();
  const sampled = (name: string) => stateOf(name).expanded && stateOf(name).kind === 'data';
  const expandedOutputs = finishRewrite(graph, out, em, sampled, (name) => stateOf(name).expanded);
  return { changes: [...new Set(changes)], expandedOutputs };
}

const INT64_BIG = 2n ** 62n;

/** Per-row size of dims[1:] as a number and a sorted list of symbols; undefined when a dim is unknown. */
function rowProduct(dims: readonly (number | string)[] | undefined): { n: number; syms: string[] } | undefined {
  if (dims === undefined) return undefined;
  let n = 1;
  const syms: string[] = [];
  for (const d of dims) {
    if (typeof d === 'number') {
      if (d < 0) return undefined;
      n *= d;
    } else if (d === '?') return undefined;
    else {
      const m = /^(.*)\*(\d+)$/.exec(d);
      if (m) {
        syms.push(m[1]!);
        n *= Number(m[2]);
      } else syms.push(d);
    }
  }
  return { n, syms: syms.sort() };
}

/**
 * Refuse ops that would treat the S·N axis as something other than rows (a LayoutRefusal:
 * prepare then runs the graph in the 'tiled' layout, and the self-check has the last word).
 */
function checkBatchAxis(
  node: NodeProto,
  opset: number,
  rankOf: (name: string) => number | undefined,
  consts: ConstantTable,
  what: string,
  label: string,
  isExpanded: (name: string) => boolean,
  shapes: Map<string, ValueShape>,
): void {
  const op = node.op_type ?? '';
  if (!isDefaultDomain(node.domain)) return;
  const x = node.input?.[0] ?? '';
  const rank = rankOf(x);
  const touches0 = (axes: number[] | undefined): boolean => axes?.some((a) => a === 0 || (rank !== undefined && a + rank === 0)) ?? false;
  const refuse = (why: string): never => {
    throw new LayoutRefusal(`${what}: ${label} ${why} after a dropout site, where that axis holds S·N rows (samples × inputs)`);
  };
  const ints = (k: number): bigint[] | undefined => {
    const name = node.input?.[k];
    if (!name) return undefined;
    const t = consts.get(name);
    return t ? tensorBigints(t, 64) : undefined;
  };
  const xExpanded = isExpanded(x);
  const axis = attrInt(node, 'axis');
  switch (op) {
    case 'Transpose': {
      const perm = attrInts(node, 'perm');
      if (perm === undefined || perm[0] !== 0) refuse('moves the leading (row) axis');
      break;
    }
    case 'Flatten': {
      const a = axis ?? 1;
      if (a === 0 || (rank !== undefined && a < 0 && a + rank <= 0)) refuse('flattens the row axis');
      break;
    }
    case 'Softmax':
    case 'LogSoftmax':
    case 'Hardmax':
      if (axis !== undefined && touches0([axis])) refuse('normalises over the row axis');
      if (opset < 13 && axis === 0) refuse('normalises over the row axis');
      break;
    case 'LpNormalization':
    case 'LayerNormalization':
      if (touches0([axis ?? -1])) refuse('normalises over the row axis');
      break;
    case 'MeanVarianceNormalization':
      if (touches0(attrInts(node, 'axes') ?? [0, 2, 3])) refuse('normalises over the row axis (its default axes [0, 2, 3] include it)');
      break;
    case 'Concat':
    case 'Split':
    case 'CumSum':
    case 'TopK':
      if (touches0([axis ?? 0])) refuse('works along the row axis');
      break;
    case 'Gather':
      // Gather(table, rows' indices) is a lookup per row; gathering from the rows themselves is not.
      if (xExpanded && touches0([axis ?? 0])) refuse('selects along the row axis');
      break;
    case 'GatherElements':
      if (touches0([axis ?? 0])) refuse('selects along the row axis');
      if (!xExpanded) refuse('indexes a tensor without the S·N rows by indices that have them');
      break;
    case 'GatherND':
      if (xExpanded && (attrInt(node, 'batch_dims') ?? 0) === 0) refuse('indexes into the row axis');
      break;
    case 'ScatterND':
      refuse('writes by indices into the leading axes');
      break;
    case 'ScatterElements':
    case 'Scatter':
      if (touches0([axis ?? 0])) refuse('writes along the row axis');
      break;
    case 'Compress':
      if (axis === undefined || touches0([axis])) refuse(axis === undefined ? 'flattens its input (no axis)' : 'selects along the row axis');
      break;
    case 'NonZero':
    case 'Unique':
    case 'NonMaxSuppression':
    case 'Loop':
    case 'Scan':
    case 'If':
    case 'SequenceConstruct':
    case 'SplitToSequence':
      refuse('does not keep rows apart');
      break;
    case 'ReverseSequence':
      if ((attrInt(node, 'time_axis') ?? 0) === 0) refuse('reverses along the row axis (time_axis 0)');
      break;
    case 'RNN':
    case 'GRU':
    case 'LSTM':
      if ((attrInt(node, 'layout') ?? 0) === 0) refuse('reads its input sequence-first (layout 0: the leading axis is time)');
      break;
    case 'Gemm':
      if (xExpanded && attrInt(node, 'transA')) refuse('contracts over the row axis (transA)');
      if (isExpanded(node.input?.[1] ?? '')) refuse('takes the rows as its weight matrix B');
      break;
    case 'MatMul': {
      const b = node.input?.[1] ?? '';
      if (isExpanded(b) && (rankOf(b) ?? 2) <= 2) refuse('contracts over the row axis (rows as the second operand)');
      break;
    }
    case 'Einsum': {
      const eq = (attrString(node, 'equation') ?? '').replace(/\s/g, '');
      const [lhs, rhs] = eq.split('->');
      if (rhs === undefined || lhs === undefined) refuse('has an implicit output (equation without ->)');
      const terms = lhs!.split(',');
      const lead = (t: string) => (t.startsWith('...') ? '...' : t[0]);
      const out0 = lead(rhs!);
      (node.input ?? []).forEach((name, k) => {
        if (!isExpanded(name)) {
          if (out0 !== '...' && out0 !== undefined && terms[k]?.includes(out0)) refuse('mixes the row index with a tensor that has no S·N rows');
          return;
        }
        if (lead(terms[k] ?? '') !== out0) refuse('does not keep the row index leading');
      });
      break;
    }
    case 'Slice': {
      const starts = opset >= 10 ? ints(1) : attrInts(node, 'starts')?.map(BigInt);
      const ends = opset >= 10 ? ints(2) : attrInts(node, 'ends')?.map(BigInt);
      const axesIn = opset >= 10 ? (node.input?.[3] ? ints(3) : undefined) : attrInts(node, 'axes')?.map(BigInt);
      const steps = opset >= 10 && node.input?.[4] ? ints(4) : undefined;
      if (starts === undefined || ends === undefined || (opset >= 10 && node.input?.[3] && axesIn === undefined) || (node.input?.[4] && steps === undefined)) {
        refuse('slices with computed bounds');
      }
      const axes = axesIn ?? starts!.map((_, i) => BigInt(i));
      axes.forEach((a, i) => {
        if (!touches0([Number(a)])) return;
        const whole = starts![i] === 0n && ends![i]! >= INT64_BIG && (steps?.[i] ?? 1n) === 1n;
        if (!whole) refuse('slices the row axis');
      });
      break;
    }
    case 'Pad': {
      const pads = opset >= 11 ? ints(1) : (attrInts(node, 'pads') ?? attrInts(node, 'paddings'))?.map(BigInt);
      if (pads === undefined) refuse('pads by computed amounts');
      const axesIn = opset >= 18 && node.input?.[3] ? ints(3) : undefined;
      if (opset >= 18 && node.input?.[3] && axesIn === undefined) refuse('pads computed axes');
      const axes = axesIn?.map(Number) ?? Array.from({ length: pads!.length / 2 }, (_, i) => i);
      axes.forEach((a, i) => {
        if (touches0([a]) && (pads![i] !== 0n || pads![i + axes.length] !== 0n)) refuse('pads the row axis');
      });
      break;
    }
    case 'Tile': {
      const reps = ints(1);
      if (reps === undefined) refuse('tiles by computed repeats');
      if (reps![0] !== 1n) refuse('repeats the row axis');
      break;
    }
    case 'Expand': {
      const shp = ints(1);
      if (shp !== undefined && rank !== undefined && (shp.length > rank || (shp.length === rank && shp[0] !== 1n))) {
        refuse('broadcasts to a shape that moves or fixes the row axis');
      }
      break;
    }
    case 'Resize':
    case 'Upsample': {
      const scaleT = op === 'Upsample' ? (opset >= 9 ? consts.get(node.input?.[1]) : undefined) : consts.get(node.input?.[2]);
      const sc = scaleT ? tensorNumbers(scaleT, 16) : op === 'Upsample' && opset < 9 ? attrFloats(node, 'scales') : undefined;
      const sizes = op === 'Resize' && node.input?.[3] ? ints(3) : undefined;
      if (sizes !== undefined) refuse('resizes to fixed sizes, including the row axis');
      if (sc === undefined || sc.length === 0) {
        if (!(op === 'Resize' && node.input?.[3])) refuse('resizes by computed scales');
        else refuse('resizes to computed sizes');
      } else if (sc[0] !== 1) refuse('scales the row axis');
      break;
    }
    case 'Reshape': {
      const t = consts.get(node.input?.[1]);
      const v = t ? tensorBigints(t, 64) : undefined;
      if (v !== undefined && v.length > 0 && v[0] !== -1n && v[0] !== 0n) {
        refuse(`reshapes to the fixed leading size ${v[0]} (shape [${v.join(', ')}])`);
      }
      if (v !== undefined && v[0] === -1n) {
        // rows stay rows only if the other target dims hold exactly one row's values
        const inDims = shapes.get(x)?.dims;
        const allowZero = (attrInt(node, 'allowzero') ?? 0) !== 0;
        const rest = v.slice(1).map((d, i) => (d === 0n && !allowZero ? (inDims?.[i + 1] ?? '?') : d < 0n ? '?' : Number(d)));
        const a = rowProduct(inDims?.slice(1));
        const b = rowProduct(rest);
        const same = a !== undefined && b !== undefined && a.n === b.n && a.syms.join(',') === b.syms.join(',');
        if (!same) refuse(`reshapes with a leading -1 to [${v.join(', ')}], which may merge rows with other values`);
      }
      break;
    }
    default:
      if (REDUCE.test(op)) {
        const axesName = op.startsWith('ArgM') ? undefined : node.input?.[1];
        const axesT = axesName ? consts.get(axesName) : undefined;
        if (axesName && axesT === undefined) refuse('reduces over computed axes');
        const vals = axesT ? tensorBigints(axesT, 64)?.map(Number) : attrInts(node, 'axes');
        if (op.startsWith('ArgM')) {
          if (touches0([axis ?? 0])) refuse('reduces over the row axis');
        } else if (vals === undefined || vals.length === 0) {
          if ((attrInt(node, 'noop_with_empty_axes') ?? 0) === 0) refuse('reduces over all axes, rows included');
        } else if (touches0(vals)) refuse('reduces over the row axis');
      }
  }
}
