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
import { attrFloat, attrInt, isDefaultDomain, nodeLabel, outerScopeInputs, valueInfoDims } from './proto-util.js';
import { isKnown, type ValueShape } from './shapes.js';
import { tensorNumbers } from './tensor-values.js';

export type WeightLayerOp = 'Gemm' | 'MatMul' | 'Conv';
export const WEIGHT_LAYER_OPS: readonly WeightLayerOp[] = ['Gemm', 'MatMul', 'Conv'];

export interface SitePlan {
  kind: 'dropout' | 'mask' | 'insert';
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
  insertDropout?: { rate: number; before: readonly string[] };
}

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
}

function nodeId(node: NodeProto, i: number): string {
  return node.name || node.output?.[0] || `#${i}`;
}

/** Per-row shape (dims after the batch axis) of `tensor`, or undefined. */
function rowShape(ctx: Ctx, tensor: string, consumer?: NodeProto): number[] | undefined {
  const dims = ctx.shapes.get(tensor)?.dims;
  if (dims !== undefined && dims.length >= 1) {
    const row = dims.slice(1);
    if (row.every(isKnown)) return row as number[];
  }
  // A Gemm consumer fixes the feature count from its weight.
  if (consumer?.op_type === 'Gemm' && consumer.input?.[0] === tensor && !attrInt(consumer, 'transA')) {
    const w = ctx.shapes.get(consumer.input?.[1] ?? '')?.dims;
    if (w?.length === 2) {
      const k = attrInt(consumer, 'transB') ? w[1] : w[0];
      if (isKnown(k)) return [k];
    }
  }
  return undefined;
}

function needRowShape(ctx: Ctx, tensor: string, where: string, consumer?: NodeProto): number[] {
  const row = rowShape(ctx, tensor, consumer);
  if (row !== undefined) return row;
  const dims = ctx.shapes.get(tensor)?.dims;
  throw new McuError(
    'E_UNSUPPORTED',
    `${ctx.what}: cannot determine the shape of '${tensor}' (${where}) per input row` +
      (dims ? ` (inferred [${dims.join(', ')}])` : '') +
      '; mcu needs static feature dimensions to shape the masks. Fix: export with fixed feature ' +
      'sizes, or run onnx.shape_inference.infer_shapes on the model first.',
  );
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
  };
  const plans: SitePlan[] = [];
  const removeInputs = new Set<string>();
  const changes: string[] = [];
  const warnings: string[] = [];
  const maskNames = new Set(Object.keys(options.maskInputs ?? {}));

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
      throw new McuError('E_UNSUPPORTED', `${what}: ${where} drops out '${h}', which does not depend on the model's inputs (a constant); mcu only supports dropout on activations`);
    }
    const maskOut = node.output?.[1];
    const maskUsed = !!maskOut && ((consumers.get(maskOut)?.length ?? 0) > 0 || ctx.graphOutputs.has(maskOut));
    plans.push({
      kind: 'dropout',
      node: i,
      input: h,
      output: y,
      ...(maskUsed ? { maskOutput: maskOut } : {}),
      rate,
      maskShape: needRowShape(ctx, h, `input of ${where}`, firstConsumer(ctx, y)),
      maskName: '',
      elem: shapes.get(h)?.elem,
      origin: { op: 'Dropout', opset, node: id },
    });
  });
  // Dropout inside If / Loop / Scan bodies is not rewritten.
  const inner = (g: GraphProto, depth: number): number =>
    depth > 32 ? 0 : (g.node ?? []).reduce(
      (k, n) => k + (n.op_type === 'Dropout' ? 1 : 0) +
        (n.attribute ?? []).reduce((a, at) => a + (at.g ? inner(at.g, depth + 1) : 0) + (at.graphs ?? []).reduce((b, sg) => b + inner(sg, depth + 1), 0), 0),
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
        throw new McuError('E_UNSUPPORTED', `${what}: ${where} has dims [${dims?.join(', ') ?? '?'}]; a per-sample mask needs [samples, 1|batch, ...static dims]`);
      }
      plans.push({
        kind: 'mask',
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
    if (!mul || mul.op_type !== 'Mul' || !isDefaultDomain(mul.domain) || (mul.input?.length ?? 0) !== 2) {
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
    let maskShape = rowShape(ctx, h, firstConsumer(ctx, mul.output![0]!));
    const declared = dims?.slice(1);
    if (maskShape === undefined && declared !== undefined && declared.every(isKnown)) maskShape = declared as number[];
    if (maskShape === undefined) maskShape = needRowShape(ctx, h, `multiplied by ${where}`);
    if (declared !== undefined && declared.every(isKnown) && declared.join(',') !== maskShape.join(',')) {
      // e.g. a channel mask [C, 1, 1] against activations [C, H, W]: the mask's own shape wins.
      maskShape = declared as number[];
    }
    plans.push({
      kind: 'mask',
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
    changes.push(`mask input '${name}' [${dims?.join(', ') ?? '?'}] (one mask row per input row) → site '${name}' of the broadcast layout [S, 1|N, ${maskShape.join(', ')}]`);
  }

  // 3. Insertion before weight layers.
  if (options.insertDropout) {
    const { rate: rateRaw, before } = options.insertDropout;
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
      plans.push({
        kind: 'insert',
        node: i,
        inputIndex: k,
        input: h,
        rate,
        maskShape: needRowShape(ctx, h, `input of ${node.op_type} '${id}'`, node),
        maskName: '',
        elem: shapes.get(h)?.elem ?? DataType.FLOAT,
        origin: { op: `Dropout (inserted before ${node.op_type})`, opset, node: id },
      });
      inserted.push(`${node.op_type} '${id}'`);
    });
    if (layers.length > 0) {
      changes.push(
        `insertDropout: first ${nodes[layers[0]!.i]!.op_type} '${nodeId(nodes[layers[0]!.i]!, layers[0]!.i)}' skipped (no input dropout)`,
      );
    }
    if (inserted.length > 0) {
      changes.push(`inserted dropout p=${rate} before ${inserted.join(', ')}`);
      warnings.push(
        `dropout (p=${rate}) was inserted before ${inserted.join(', ')}: MC dropout is only valid where the network ` +
          'was TRAINED with dropout at exactly these places and rate; elsewhere the spread is not the model\'s uncertainty. ' +
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

  plans.sort((a, b) => a.node - b.node || (a.inputIndex ?? 0) - (b.inputIndex ?? 0));
  return { plans, removeInputs: [...removeInputs], changes, warnings };
}
