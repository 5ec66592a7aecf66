/**
 * Finding the stochastic sites of a graph — where masks enter — without changing it:
 * - every default-domain Dropout node (opsets 1–22);
 * - model inputs that already are masks (`maskInputs`), consumed by a Mul;
 * - insertion points before weight layers (`insertDropout`), for eval exports.
 */
import { McuError } from '@mcu/core';
import type { GraphProto, NodeProto } from '../proto/types.js';
import { DataType } from '../proto/enums.js';
import type { ConstantTable } from './constants.js';
import { attrFloat, attrInt, attrString, isDefaultDomain, nodeLabel, outerScopeInputs, valueInfoDims } from './proto-util.js';
import { isKnown, parseSymbolicDim, type Dim, type ValueShape } from './shapes.js';
import { tensorNumbers } from './tensor-values.js';

export type WeightLayerOp = 'Gemm' | 'MatMul' | 'Conv';
export const WEIGHT_LAYER_OPS: readonly WeightLayerOp[] = ['Gemm', 'MatMul', 'Conv'];

export interface SitePlan {
  /** 'dropout': a Dropout node (or an ATen dropout node) is replaced; 'mask': a Mul by a mask input; 'insert': new. */
  kind: 'dropout' | 'mask' | 'insert';
  /** The site's kind as core names it: 'bernoulli' (dropout), 'alpha' (AlphaDropout). */
  siteKind: 'bernoulli' | 'alpha';
  /** Feature (channel) dropout: one mask value per channel, shared over the spatial dims ([C, 1, …] per row). */
  channel?: boolean;
  /** Where the rows are in the site tensor: axis `rowAxis` holds N·rowFactor entries (see StochasticSite.rowLayout). */
  rowAxis: number;
  rowFactor: number;
  /** Rank of the site tensor, when known (always when rowAxis > 0 or rowFactor > 1). */
  rank?: number;
  /** The per-row mask shape with input-dim names ('seq'), when it depends on the input; maskShape then has 0 there. */
  dims?: Dim[];
  /** Index in graph.node of the Dropout / the mask's Mul / the weight layer. */
  node: number;
  /** For 'insert': which input of the weight layer gets the dropout. */
  inputIndex?: number;
  /** The tensor the mask multiplies. */
  input: string;
  /** The tensor the site produces ('dropout', 'mask'); for 'insert' a fresh name is made. */
  output?: string;
  /** A Dropout's `mask` output that something consumes. */
  maskOutput?: string;
  rate: number;
  maskShape: number[];
  /** The mask graph input ('' until named). */
  maskName: string;
  elem?: number;
  origin: { op: string; opset: number; node: string };
}

export interface SiteSearch {
  plans: SitePlan[];
  /** Graph inputs that the rewrite removes (ratio / training_mode inputs, old mask inputs). */
  removeInputs: string[];
  changes: string[];
  warnings: string[];
}

export interface SiteSearchOptions {
  rates?: Readonly<Record<string, number>>;
  maskInputs?: Readonly<Record<string, number>>;
  insertDropout?: { rate: number; before: readonly string[]; spatial?: boolean };
  /** Dims of site tensors measured by running the model at batch 1 and 2 (see prepare.ts, NeedsSiteShapes). */
  measured?: ReadonlyMap<string, MeasuredDims>;
}

/** A site tensor's dims when the model runs on 1 row and on 2 rows. */
export interface MeasuredDims {
  readonly one: readonly number[];
  readonly two: readonly number[];
}

/**
 * Thrown by findSites when static inference cannot place the rows in some site tensors: the
 * caller runs the model at batch sizes 1 and 2 to measure them and calls again with `measured`.
 */
export class NeedsSiteShapes extends McuError {
  constructor(
    readonly tensors: readonly { tensor: string; where: string; dims?: readonly Dim[] }[],
    message: string,
  ) {
    super('E_UNSUPPORTED', message);
  }
}

/** How a site tensor holds the rows, and the mask of one row. */
interface RowLayout {
  maskShape: number[];
  rowAxis: number;
  rowFactor: number;
  rank?: number;
  dims?: Dim[];
}

/** ATen operators (torch.onnx with ONNX_FALLTHROUGH / ONNX_ATEN_FALLBACK) that are dropout layers. */
const ATEN_DROPOUTS: Readonly<Record<string, { siteKind: 'bernoulli' | 'alpha'; channel: boolean; module: string }>> = {
  dropout: { siteKind: 'bernoulli', channel: false, module: 'nn.Dropout' },
  feature_dropout: { siteKind: 'bernoulli', channel: true, module: 'nn.Dropout1d/2d/3d' },
  alpha_dropout: { siteKind: 'alpha', channel: false, module: 'nn.AlphaDropout' },
  feature_alpha_dropout: { siteKind: 'alpha', channel: true, module: 'nn.FeatureAlphaDropout' },
};

/** The ATen operator a node stands for: op_type in the org.pytorch.aten domain, or op 'ATen' with attribute `operator`. */
export function atenOperator(node: NodeProto): string | undefined {
  if (node.op_type === 'ATen') return attrString(node, 'operator') ?? '';
  if (node.domain === 'org.pytorch.aten') return node.op_type ?? '';
  return undefined;
}

/** Names exporters give to Dropout nodes of channel-wise (feature / spatial) dropout. */
const FEATURE_DROPOUT_NAME = /(^|[/_.:])(feature_dropout|dropout[123]d|spatial_?dropout[123]d)([/_.:]|$)/i;

export function checkRate(rate: unknown, where: string): number {
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate >= 1) {
    throw new McuError('E_SITE', `${where}: dropout rate ${String(rate)} is outside [0, 1)`);
  }
  return rate;
}

interface Ctx {
  graph: GraphProto;
  opset: number;
  what: string;
  shapes: Map<string, ValueShape>;
  consts: ConstantTable;
  /** Graph inputs that are not initializers. */
  graphInputs: Set<string>;
  /** Tensors that depend on a data input. */
  data: Set<string>;
  consumers: Map<string, number[]>;
  graphOutputs: Set<string>;
  /** The symbols of the data inputs' batch axes ('batch'). */
  batchSyms: Set<string>;
  /** Symbols of the data inputs' other axes ('seq'), which masks may take their size from. */
  inputSyms: Set<string>;
  measured?: ReadonlyMap<string, MeasuredDims>;
  /** Site tensors whose row layout is unknown so far. */
  unknown: { tensor: string; where: string; dims?: Dim[] }[];
}

function nodeId(node: NodeProto, i: number): string {
  return node.name || node.output?.[0] || `#${i}`;
}

/** The feature count a Gemm consumer fixes from its weight (for tensors whose dims inference lost). */
function gemmFeatures(ctx: Ctx, tensor: string, consumer?: NodeProto): number | undefined {
  if (consumer?.op_type === 'Gemm' && consumer.input?.[0] === tensor && !attrInt(consumer, 'transA')) {
    const w = ctx.shapes.get(consumer.input?.[1] ?? '')?.dims;
    if (w?.length === 2) {
      const k = attrInt(consumer, 'transB') ? w[1] : w[0];
      if (isKnown(k)) return k;
    }
  }
  return undefined;
}

/** The mask of one row from a layout: [factor (if > 1), ...the dims other than the row axis]. */
function rowDims(dims: readonly Dim[], axis: number, factor: number): Dim[] {
  return [...(factor > 1 ? [factor] : []), ...dims.filter((_, a) => a !== axis)];
}

function fromDims(ctx: Ctx, row: Dim[], axis: number, factor: number, rank: number): RowLayout | undefined {
  if (!row.every((d) => isKnown(d) || (typeof d === 'string' && ctx.inputSyms.has(parseSymbolicDim(d)?.sym ?? '?')))) return undefined;
  const symbolic = row.some((d) => !isKnown(d));
  return {
    maskShape: row.map((d) => (isKnown(d) ? d : 0)),
    rowAxis: axis,
    rowFactor: factor,
    rank,
    ...(symbolic ? { dims: row } : {}),
  };
}

/**
 * Where the rows are in `tensor` and the mask shape of one row, from static shapes: the axis
 * that carries a data input's batch symbol ('batch', or 'batch*4' for attention weights of 4
 * heads), else — with no batch symbol in sight — the leading axis when every other dim is known.
 * Measured dims (batch 1 vs 2) decide where inference could not. Undefined: unknown.
 */
function rowLayout(ctx: Ctx, tensor: string, consumer?: NodeProto): RowLayout | undefined {
  const m = ctx.measured?.get(tensor);
  if (m !== undefined) {
    const diff = m.one.map((d, a) => (d !== m.two[a] ? a : -1)).filter((a) => a >= 0);
    if (m.one.length !== m.two.length || diff.length !== 1 || m.two[diff[0]!] !== 2 * m.one[diff[0]!]! || m.one[diff[0]!]! < 1) {
      throw new McuError(
        'E_UNSUPPORTED',
        `${ctx.what}: the dropout input '${tensor}' has dims [${m.one.join(', ')}] for 1 input row and [${m.two.join(', ')}] for 2; ` +
          'mcu needs exactly one axis that grows with the rows to place the masks. Fix: re-export with the batch as a dynamic axis (dynamic_axes / dynamic_shapes).',
      );
    }
    const axis = diff[0]!;
    return fromDims(ctx, rowDims(m.one, axis, m.one[axis]!), axis, m.one[axis]!, m.one.length);
  }
  const dims = ctx.shapes.get(tensor)?.dims;
  if (dims !== undefined && dims.length >= 1) {
    const rows = dims.map((d, a) => ({ a, p: parseSymbolicDim(d) })).filter((x) => x.p !== undefined && ctx.batchSyms.has(x.p.sym));
    if (rows.length === 1) {
      const { a, p } = rows[0]!;
      return fromDims(ctx, rowDims(dims, a, p!.k), a, p!.k, dims.length);
    }
    if (rows.length === 0 && dims.slice(1).every(isKnown)) return { maskShape: dims.slice(1) as number[], rowAxis: 0, rowFactor: 1, rank: dims.length };
    if (rows.length > 1) return undefined;
  }
  const k = gemmFeatures(ctx, tensor, consumer);
  return k !== undefined ? { maskShape: [k], rowAxis: 0, rowFactor: 1, rank: 2 } : undefined;
}

/** rowLayout, or a placeholder recorded in `ctx.unknown` (findSites then throws NeedsSiteShapes). */
function needLayout(ctx: Ctx, tensor: string, where: string, consumer?: NodeProto): RowLayout {
  const l = rowLayout(ctx, tensor, consumer);
  if (l !== undefined) return l;
  const dims = ctx.shapes.get(tensor)?.dims;
  ctx.unknown.push({ tensor, where, ...(dims ? { dims } : {}) });
  return { maskShape: [], rowAxis: 0, rowFactor: 1 };
}

/** Channel-wise masks: one value per channel of a row [C, …spatial] — [C, 1, …, 1]. */
function channelLayout(ctx: Ctx, l: RowLayout, tensor: string, where: string): RowLayout {
  if (ctx.unknown.some((u) => u.tensor === tensor)) return l;
  if (
    l.rowAxis !== 0 ||
    l.rowFactor !== 1 ||
    l.maskShape.length < 2 ||
    !isKnown(l.maskShape[0]) ||
    l.maskShape[0] === 0 ||
    (l.dims !== undefined && !isKnown(l.dims[0]))
  ) {
    throw new McuError(
      'E_UNSUPPORTED',
      `${ctx.what}: ${where} is channel-wise (feature) dropout, which needs an input [N, C, …spatial] with a known channel count C; ` +
        `'${tensor}' has [N, ${l.maskShape.join(', ')}] per row`,
    );
  }
  const maskShape = [l.maskShape[0]!, ...l.maskShape.slice(1).map(() => 1)];
  return { maskShape, rowAxis: 0, rowFactor: 1, ...(l.rank !== undefined ? { rank: l.rank } : {}) };
}

function firstConsumer(ctx: Ctx, tensor: string): NodeProto | undefined {
  const idx = ctx.consumers.get(tensor)?.[0];
  return idx === undefined ? undefined : ctx.graph.node![idx];
}

export function findSites(
  graph: GraphProto,
  opset: number,
  shapes: Map<string, ValueShape>,
  consts: ConstantTable,
  dataInputs: readonly string[],
  options: SiteSearchOptions,
  what: string,
  sampleAxis: boolean,
): SiteSearch {
  const nodes = graph.node ?? [];
  const initNames = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const graphInputs = new Set((graph.input ?? []).map((v) => v.name ?? '').filter((n) => n && !initNames.has(n)));
  const data = new Set<string>(dataInputs);
  const consumers = new Map<string, number[]>();
  nodes.forEach((n, i) => {
    const ins = [...(n.input ?? []), ...outerScopeInputs(n)];
    for (const name of ins) {
      if (!name) continue;
      const list = consumers.get(name);
      if (list) list.push(i);
      else consumers.set(name, [i]);
    }
    if (ins.some((x) => x && data.has(x))) for (const o of n.output ?? []) if (o) data.add(o);
  });
  const ctx: Ctx = {
    graph,
    opset,
    what,
    shapes,
    consts,
    graphInputs,
    data,
    consumers,
    graphOutputs: new Set((graph.output ?? []).map((o) => o.name ?? '')),
    ...inputSymbols(graph, dataInputs),
    ...(options.measured ? { measured: options.measured } : {}),
    unknown: [],
  };
  const plans: SitePlan[] = [];
  const removeInputs = new Set<string>();
  const changes: string[] = [];
  const warnings: string[] = [];
  const maskNames = new Set(Object.keys(options.maskInputs ?? {}));
  const ratioInputs = new Set<string>();

  // 1. Dropout nodes.
  nodes.forEach((node, i) => {
    if (!isDefaultDomain(node.domain) || node.op_type !== 'Dropout') return;
    const id = nodeId(node, i);
    const where = `Dropout '${id}'`;
    if (sampleAxis) {
      throw new McuError('E_UNSUPPORTED', `${what}: ${where} in a model with per-sample mask inputs (sample-axis layout); mcu cannot mix the two`);
    }
    let rate = 0.5;
    if (opset < 12) {
      rate = attrFloat(node, 'ratio') ?? 0.5;
    } else {
      const r = node.input?.[1];
      if (r) {
        if (ctx.graphInputs.has(r)) {
          ratioInputs.add(r);
          const given = options.rates?.[r];
          if (given === undefined) {
            throw new McuError(
              'E_SITE',
              `${what}: the ratio of ${where} is the graph input '${r}'; mcu cannot guess it. ` +
                `Give its value: option rates { '${r}': P } (command line: --rate ${r}=P).`,
            );
          }
          rate = given;
          removeInputs.add(r);
          changes.push(`${where}: ratio from graph input '${r}' = ${given} (given by the user); input removed`);
        } else {
          const t = consts.get(r);
          const v = t ? tensorNumbers(t, 1) : undefined;
          if (v === undefined || v.length !== 1) {
            throw new McuError(
              'E_SITE',
              `${what}: the ratio of ${where} ('${r}') is computed by the graph, not a constant; mcu ` +
                'needs a fixed rate. Fix: export the ratio as a constant.',
            );
          }
          rate = v[0]!;
          // Stored as float32: report the decimal the exporter meant (0.1, not 0.10000000149).
          rate = Number(rate.toPrecision(7));
        }
      }
      const t = node.input?.[2];
      if (t && ctx.graphInputs.has(t)) removeInputs.add(t);
    }
    if (opset < 12 && rate !== 0.5) rate = Number(rate.toPrecision(7));
    checkRate(rate, `${what}: ${where}`);
    const h = node.input?.[0];
    const y = node.output?.[0];
    if (!h || !y) throw new McuError('E_MODEL', `${what}: ${where} has no data input or output`);
    if (!data.has(h)) {
      throw new McuError(
        'E_UNSUPPORTED',
        `${what}: ${where} drops out '${h}', which does not depend on the model's inputs (a constant); mcu only supports dropout on activations`,
      );
    }
    const maskOut = node.output?.[1];
    const maskUsed = !!maskOut && ((consumers.get(maskOut)?.length ?? 0) > 0 || ctx.graphOutputs.has(maskOut));
    let layout = needLayout(ctx, h, `input of ${where}`, firstConsumer(ctx, y));
    const channel = FEATURE_DROPOUT_NAME.test(node.name ?? '') || /feature_dropout/i.test(node.doc_string ?? '');
    if (channel) {
      layout = channelLayout(ctx, layout, h, where);
      changes.push(`${where} is named as feature (channel-wise) dropout: one mask value per channel, shared over the spatial dims`);
    }
    plans.push({
      kind: 'dropout',
      siteKind: 'bernoulli',
      ...(channel ? { channel } : {}),
      node: i,
      input: h,
      output: y,
      ...(maskUsed ? { maskOutput: maskOut } : {}),
      rate,
      ...layout,
      maskName: '',
      elem: shapes.get(h)?.elem,
      origin: { op: 'Dropout', opset, node: id },
    });
  });

  // 1b. ATen dropout operators (torch.onnx with ONNX_FALLTHROUGH): the same layers, as torch computes them.
  nodes.forEach((node, i) => {
    const aten = atenOperator(node);
    if (aten === undefined) return;
    const spec = ATEN_DROPOUTS[aten];
    const id = nodeId(node, i);
    if (spec === undefined) return; // refused with the other unknown operators (stochastic-ops.ts)
    const where = `${node.op_type === 'ATen' ? `ATen '${aten}'` : `org.pytorch.aten::${aten}`} '${id}'`;
    if (sampleAxis)
      throw new McuError('E_UNSUPPORTED', `${what}: ${where} in a model with per-sample mask inputs (sample-axis layout); mcu cannot mix the two`);
    const [h, pName] = [node.input?.[0], node.input?.[1]];
    const y = node.output?.[0];
    if (!h || !y || (node.output ?? []).filter((o) => o).length !== 1) {
      throw new McuError('E_MODEL', `${what}: ${where} should have a data input, a rate input and one output`);
    }
    const pv = pName
      ? (() => {
          const t = consts.get(pName);
          return t ? tensorNumbers(t, 1) : undefined;
        })()
      : undefined;
    if (pv === undefined || pv.length !== 1) {
      throw new McuError(
        'E_SITE',
        `${what}: the rate of ${where} ('${pName ?? ''}') is not a constant; mcu needs a fixed rate. Fix: export the rate as a constant`,
      );
    }
    const rate = checkRate(Number(pv[0]!.toPrecision(12)), `${what}: ${where}`);
    const train = node.input?.[2] ? consts.get(node.input[2]) : undefined;
    const trainV = train ? tensorNumbers(train, 1) : undefined;
    if (!data.has(h)) {
      throw new McuError(
        'E_UNSUPPORTED',
        `${what}: ${where} drops out '${h}', which does not depend on the model's inputs (a constant); mcu only supports dropout on activations`,
      );
    }
    let layout = needLayout(ctx, h, `input of ${where}`, firstConsumer(ctx, y));
    if (spec.channel) layout = channelLayout(ctx, layout, h, where);
    plans.push({
      kind: 'dropout',
      siteKind: spec.siteKind,
      ...(spec.channel ? { channel: true } : {}),
      node: i,
      input: h,
      output: y,
      rate,
      ...layout,
      maskName: '',
      elem: shapes.get(h)?.elem,
      origin: { op: `aten::${aten}`, opset, node: id },
    });
    changes.push(
      `${where} (PyTorch's ${spec.module}, exported by ONNX_FALLTHROUGH) → a ${spec.siteKind === 'alpha' ? 'AlphaDropout' : 'dropout'} site` +
        `${spec.channel ? ' with one mask value per channel' : ''}, computed as torch computes it` +
        (trainV !== undefined && trainV[0] === 0 ? ' (exported with train=false: it is a dropout layer of the trained network, so it is a site)' : ''),
    );
  });
  // Dropout inside If / Loop / Scan bodies is not rewritten.
  const inner = (g: GraphProto, depth: number): number =>
    depth > 32
      ? 0
      : (g.node ?? []).reduce(
          (k, n) =>
            k +
            (n.op_type === 'Dropout' ? 1 : 0) +
            (n.attribute ?? []).reduce(
              (a, at) => a + (at.g ? inner(at.g, depth + 1) : 0) + (at.graphs ?? []).reduce((b, sg) => b + inner(sg, depth + 1), 0),
              0,
            ),
          0,
        );
  nodes.forEach((node, i) => {
    const count = (node.attribute ?? []).reduce((a, at) => a + (at.g ? inner(at.g, 0) : 0) + (at.graphs ?? []).reduce((b, g) => b + inner(g, 0), 0), 0);
    if (count > 0) {
      warnings.push(
        `${nodeLabel(node, i)} has ${count} Dropout node${count === 1 ? '' : 's'} in its subgraph; mcu does not rewrite subgraphs, ` +
          'so they are not sites and stay deterministic. Fix: export with the dropout outside control flow.',
      );
    }
  });

  // Every given rate must name the ratio input of a Dropout node: an unused one would be silently ignored.
  refuseUnusedRates(options.rates, ratioInputs, what);

  // A training_mode / ratio input still used elsewhere stays an input.
  for (const name of [...removeInputs]) {
    const users = (consumers.get(name) ?? []).filter((k) => nodes[k]!.op_type !== 'Dropout');
    if (users.length > 0 || ctx.graphOutputs.has(name)) removeInputs.delete(name);
  }

  // 2. Mask inputs.
  for (const [name, rateRaw] of Object.entries(options.maskInputs ?? {})) {
    const where = `mask input '${name}'`;
    const rate = checkRate(rateRaw, `${what}: ${where}`);
    if (!ctx.graphInputs.has(name)) {
      throw new McuError(
        'E_SITE',
        `${what}: maskInputs names '${name}', which is not an input of the model (inputs: ${[...ctx.graphInputs].join(', ') || 'none'})`,
      );
    }
    const dims = valueInfoDims((graph.input ?? []).find((v) => v.name === name));
    if (sampleAxis) {
      const row = dims?.slice(2);
      if (dims === undefined || dims.length < 2 || !row!.every(isKnown)) {
        throw new McuError(
          'E_UNSUPPORTED',
          `${what}: ${where} has dims [${dims?.join(', ') ?? '?'}]; a per-sample mask needs [samples, 1|batch, ...static dims]`,
        );
      }
      plans.push({
        kind: 'mask',
        siteKind: 'bernoulli',
        rowAxis: 0,
        rowFactor: 1,
        node: (consumers.get(name) ?? [Infinity])[0]!,
        input: '',
        rate,
        maskShape: row as number[],
        maskName: name,
        origin: { op: 'mask-input', opset, node: nodeId(nodes[(consumers.get(name) ?? [0])[0]!] ?? {}, 0) },
      });
      continue;
    }
    const users = consumers.get(name) ?? [];
    const mul = users.length === 1 ? nodes[users[0]!] : undefined;
    if (mul?.op_type !== 'Mul' || !isDefaultDomain(mul.domain) || (mul.input?.length ?? 0) !== 2) {
      throw new McuError(
        'E_UNSUPPORTED',
        `${what}: ${where} is used by ${users.length === 0 ? 'no node' : users.map((k) => nodeLabel(nodes[k]!)).join(', ')}; ` +
          'mcu converts a mask input only when exactly one Mul(h, mask) consumes it',
      );
    }
    const h = mul.input![0] === name ? mul.input![1]! : mul.input![0]!;
    if (!data.has(h) || maskNames.has(h)) {
      throw new McuError('E_UNSUPPORTED', `${what}: ${where} multiplies '${h}', which is not an activation of the model's data inputs`);
    }
    const declared = dims?.slice(1);
    let layout = rowLayout(ctx, h, firstConsumer(ctx, mul.output![0]!));
    if (declared?.every(isKnown) && (layout === undefined || (layout.rowAxis === 0 && layout.rowFactor === 1))) {
      // The mask's own shape wins, e.g. a channel mask [C, 1, 1] against activations [C, H, W].
      layout = { maskShape: declared as number[], rowAxis: 0, rowFactor: 1, ...(layout?.rank !== undefined ? { rank: layout.rank } : {}) };
    }
    if (layout === undefined) layout = needLayout(ctx, h, `multiplied by ${where}`);
    if (layout.rowAxis !== 0 || layout.rowFactor !== 1) {
      throw new McuError(
        'E_UNSUPPORTED',
        `${what}: ${where} multiplies '${h}', whose rows are not on its leading axis; mcu converts mask inputs of [batch, …] activations only`,
      );
    }
    const maskShape = layout.maskShape;
    plans.push({
      kind: 'mask',
      siteKind: 'bernoulli',
      rowAxis: 0,
      rowFactor: 1,
      ...(layout.rank !== undefined ? { rank: layout.rank } : {}),
      node: users[0]!,
      input: h,
      output: mul.output![0]!,
      rate,
      maskShape,
      maskName: name,
      elem: shapes.get(h)?.elem,
      origin: { op: 'mask-input', opset, node: nodeId(mul, users[0]!) },
    });
    removeInputs.add(name);
    changes.push(
      `mask input '${name}' [${dims?.join(', ') ?? '?'}] (one mask row per input row) → site '${name}' of the broadcast layout [S, 1|N, ${maskShape.join(', ')}]`,
    );
  }

  // 3. Insertion before weight layers.
  if (options.insertDropout) {
    const { rate: rateRaw, before } = options.insertDropout;
    const spatial = options.insertDropout.spatial === true;
    const rate = checkRate(rateRaw, `${what}: insertDropout`);
    for (const op of before) {
      if (!(WEIGHT_LAYER_OPS as readonly string[]).includes(op)) {
        throw new McuError('E_CONFIG', `insertDropout.before: '${op}' is not one of ${WEIGHT_LAYER_OPS.join(', ')}`);
      }
    }
    if (sampleAxis) throw new McuError('E_UNSUPPORTED', `${what}: cannot insert dropout into a model with per-sample mask inputs`);
    const dropoutOutputs = new Set(plans.filter((p) => p.kind !== 'insert').map((p) => p.output ?? ''));
    const layers: { i: number; k: number }[] = [];
    nodes.forEach((node, i) => {
      if (!isDefaultDomain(node.domain) || !before.includes(node.op_type ?? '')) return;
      let k = 0;
      if (node.op_type === 'MatMul' && !data.has(node.input?.[0] ?? '') && data.has(node.input?.[1] ?? '')) k = 1;
      if (!data.has(node.input?.[k] ?? '')) return;
      layers.push({ i, k });
    });
    const inserted: string[] = [];
    layers.slice(1).forEach(({ i, k }) => {
      const node = nodes[i]!;
      const h = node.input![k]!;
      const id = nodeId(node, i);
      if (dropoutOutputs.has(h)) {
        warnings.push(`insertDropout: ${node.op_type} '${id}' already follows a dropout site; nothing inserted there`);
        return;
      }
      if (node.op_type === 'Gemm' && attrInt(node, k === 0 ? 'transA' : 'transB')) {
        warnings.push(`insertDropout: ${node.op_type} '${id}' transposes its data input; nothing inserted there`);
        return;
      }
      let layout = needLayout(ctx, h, `input of ${node.op_type} '${id}'`, node);
      if (spatial) {
        if (!ctx.unknown.some((u) => u.tensor === h) && layout.maskShape.length < 2) {
          throw new McuError(
            'E_USAGE',
            `insertDropout.spatial: ${node.op_type} '${id}' takes '${h}' with [N, ${layout.maskShape.join(', ')}] per row, which has no spatial axes; ` +
              'channel-wise dropout needs conv inputs [N, C, …]: insert before Conv only (--before Conv)',
          );
        }
        layout = channelLayout(ctx, layout, h, `dropout inserted before ${node.op_type} '${id}'`);
      }
      plans.push({
        kind: 'insert',
        siteKind: 'bernoulli',
        ...(spatial ? { channel: true } : {}),
        node: i,
        inputIndex: k,
        input: h,
        rate,
        ...layout,
        maskName: '',
        elem: shapes.get(h)?.elem ?? DataType.FLOAT,
        origin: { op: `Dropout (inserted before ${node.op_type})`, opset, node: id },
      });
      inserted.push(`${node.op_type} '${id}'`);
    });
    if (layers.length > 0) {
      changes.push(`insertDropout: first ${nodes[layers[0]!.i]!.op_type} '${nodeId(nodes[layers[0]!.i]!, layers[0]!.i)}' skipped (no input dropout)`);
    }
    if (inserted.length > 0) {
      changes.push(`inserted ${spatial ? 'channel-wise (spatial) ' : ''}dropout p=${rate} before ${inserted.join(', ')}`);
      warnings.push(
        `dropout (p=${rate}) was inserted before ${inserted.join(', ')}: MC dropout is only valid where the network ` +
          "was TRAINED with dropout at exactly these places and rate; elsewhere the spread is not the model's uncertainty. " +
          'Prefer a model exported with its Dropout nodes (torch.onnx.TrainingMode.PRESERVE).',
      );
    } else {
      warnings.push(`insertDropout: no ${before.join('/')} layer after the first takes data; no dropout was inserted`);
    }
  }

  // Hint: inputs that look like masks but were not declared.
  if (!options.maskInputs) {
    for (const name of ctx.graphInputs) {
      if (!/mask/i.test(name)) continue;
      const users = consumers.get(name) ?? [];
      if (users.length === 1 && nodes[users[0]!]!.op_type === 'Mul') {
        warnings.push(
          `input '${name}' looks like a dropout mask (it multiplies an activation); declare it with the maskInputs option ` +
            `({ '${name}': P }) so mcu samples it, otherwise it is treated as data`,
        );
      }
    }
  }

  if (ctx.unknown.length > 0) {
    const list = ctx.unknown.map((u) => `'${u.tensor}' (${u.where}${u.dims ? `, inferred [${u.dims.join(', ')}]` : ''})`);
    throw new NeedsSiteShapes(
      ctx.unknown,
      `${what}: cannot determine per input row the shape of ${list.join('; ')}; mcu needs it to shape the masks. ` +
        'Fix: load the model through a backend (it measures the shapes by running the model on 1 and 2 rows), export with ' +
        'fixed feature sizes, or run onnx.shape_inference.infer_shapes on the model first.',
    );
  }
  plans.sort((a, b) => a.node - b.node || (a.inputIndex ?? 0) - (b.inputIndex ?? 0));
  return { plans, removeInputs: [...removeInputs], changes, warnings };
}

/** `rates` (`--rate NAME=P`) may only name Dropout ratios given as graph inputs. */
export function refuseUnusedRates(rates: Readonly<Record<string, number>> | undefined, ratioInputs: ReadonlySet<string>, what: string): void {
  const unknown = Object.keys(rates ?? {}).filter((n) => !ratioInputs.has(n));
  if (unknown.length === 0) return;
  throw new McuError(
    'E_USAGE',
    `--rate ${unknown.map((n) => `${n}=${rates![n]}`).join(' --rate ')}: '${unknown[0]}' is not the ratio input of a Dropout node of '${what}' ` +
      `(its Dropout ratios given as graph inputs: ${ratioInputs.size > 0 ? [...ratioInputs].join(', ') : 'none'}); --rate (option rates) applies only to those`,
  );
}

/** The batch symbols (dim 0) and the other named dims of the data inputs. */
function inputSymbols(graph: GraphProto, dataInputs: readonly string[]): { batchSyms: Set<string>; inputSyms: Set<string> } {
  const batchSyms = new Set<string>();
  const inputSyms = new Set<string>();
  for (const v of graph.input ?? []) {
    if (!dataInputs.includes(v.name ?? '')) continue;
    const dims = valueInfoDims(v);
    dims?.forEach((d, k) => {
      if (typeof d !== 'string' || d === '?') return;
      (k === 0 ? batchSyms : inputSyms).add(d);
    });
  }
  for (const s of batchSyms) inputSyms.delete(s);
  return { batchSyms, inputSyms };
}
