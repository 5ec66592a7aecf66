/**
 * Runs an {@link ExecGraph} with tfjs ops: the graph's own op registry plus the executor's ops
 * ('site', 'identity'), the rows expanded from N to S·N (sample-major) as graph.ts specifies.
 * Everything here runs inside one tf.tidy (see model.ts): intermediate tensors are freed when
 * the forward pass returns.
 */
import type { StochasticSite } from '@mcu/core';
import { McuError } from '@mcu/core';
import type { Tensor } from '@tensorflow/tfjs';
import type { ExecGraph, GraphNode, OpContext, OpFn } from './graph.js';
import type { Tf } from './runtime.js';

/** AlphaDropout's α′ = −λ·α of SELU (PyTorch's nn.AlphaDropout, Keras' AlphaDropout). */
export const ALPHA_PRIME = -1.7580993408473766;

/** A mask as the engine gives it: [S, 1|N, ...maskShape] (sample / point scope). */
export interface MaskInput {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

interface Value {
  readonly t: Tensor;
  /** S·N rows (sample-major) rather than N. */
  readonly expanded: boolean;
}

/** The executor's own ops, available to every graph. */
const CORE_OPS: Readonly<Record<string, OpFn>> = {
  identity: (_ctx, [x]) => x!,
};

/** A site applied to x (rows N or S·N) with its mask tensor [S, 1|N, ...maskShape]: [S·N, ...]. */
function applySite(tf: Tf, site: StochasticSite, x: Tensor, expanded: boolean, mask: Tensor, s: number, n: number): Tensor {
  const dims = x.shape.slice(1);
  const h = tf.reshape(x, [expanded ? s : 1, n, ...dims]);
  let y: Tensor;
  switch (site.kind) {
    case 'additive':
      y = tf.add(h, mask);
      break;
    case 'alpha': {
      // keep indicators m ∈ {0, 1}: a·(x·m + α′(1 − m)) + b; m = −1 (the deterministic pass): the identity
      const p = site.rate;
      const a = 1 / Math.sqrt((1 - p) * (1 + p * ALPHA_PRIME * ALPHA_PRIME));
      const b = -a * ALPHA_PRIME * p;
      const dropped = tf.add(tf.mul(tf.add(tf.mul(h, mask), tf.mul(tf.sub(1, mask), ALPHA_PRIME)), a), b);
      y = tf.where(tf.less(mask, 0), tf.broadcastTo(h, dropped.shape), dropped);
      break;
    }
    default:
      y = tf.mul(h, mask);
  }
  const full = y.shape[0] === s ? y : tf.broadcastTo(y, [s, ...y.shape.slice(1)]);
  return tf.reshape(full, [s * n, ...full.shape.slice(2)]);
}

/**
 * One forward pass: `feeds` (N rows each, by input name), `masks` by site name; returns the
 * graph's outputs in order, each with S·N rows.
 */
export function forwardGraph(
  tf: Tf,
  graph: ExecGraph,
  constants: ReadonlyMap<string, Tensor>,
  feeds: ReadonlyMap<string, Tensor>,
  masks: ReadonlyMap<string, MaskInput>,
  s: number,
  n: number,
): Tensor[] {
  const sites = new Map(graph.sites.map((x) => [x.name, x]));
  const maskTensors = new Map<string, Tensor>();
  const maskOf = (name: string): Tensor => {
    let m = maskTensors.get(name);
    if (m === undefined) {
      const given = masks.get(name);
      if (given === undefined) throw new McuError('E_MASK', `no mask was given for site '${name}'`);
      m = tf.tensor(given.data, [...given.dims], 'float32');
      maskTensors.set(name, m);
    }
    return m;
  };
  const tile = (t: Tensor): Tensor => tf.tile(t, [s, ...t.shape.slice(1).map(() => 1)]);
  const values = new Map<string, Value>();
  for (const input of graph.inputs) {
    const t = feeds.get(input.name);
    if (t === undefined) throw new McuError('E_INPUT', `input '${input.name}' was not given`);
    values.set(input.name, graph.layout === 'tiled' ? { t: tile(t), expanded: true } : { t, expanded: false });
  }
  const expand = (v: Value): Tensor => (v.expanded ? v.t : tile(v.t));
  const ops = graph.ops;

  // Nodes that read no row-valued input (shape arithmetic, a cast of a weight) compute constants:
  // no row axis, never tiled.
  const computed = new Map<string, Tensor>();
  for (const node of graph.nodes) {
    // each input: a row value (N or S·N rows) or a constant (given, or computed above); '' = omitted
    const named = node.inputs.map((name): { row?: Value; constant?: Tensor } | undefined => {
      if (name === '') return undefined;
      const row = values.get(name);
      if (row !== undefined) return { row };
      const constant = computed.get(name) ?? constants.get(name);
      return constant !== undefined ? { constant } : missing(node, name);
    });
    const rowValues = named.flatMap((v) => (v?.row !== undefined ? [v.row] : []));
    const expandAll = (node.sites?.length ?? 0) > 0 || rowValues.some((v) => v.expanded);
    const args = named.map((v) => (v === undefined ? undefined : v.row !== undefined ? (expandAll ? expand(v.row) : v.row.t) : v.constant));
    if (node.op === 'site') {
      const site = sites.get(String(node.attrs['site']));
      if (site === undefined) throw new McuError('E_INTERNAL', `node '${node.name}': site '${String(node.attrs['site'])}' is not a site of the graph`);
      const x = named[0]?.row;
      if (x === undefined) throw new McuError('E_INTERNAL', `node '${node.name}': a site needs a row-valued input`);
      values.set(node.outputs[0]!, { t: applySite(tf, site, x.t, x.expanded, maskOf(site.name), s, n), expanded: true });
      continue;
    }
    const fn = ops[node.op] ?? CORE_OPS[node.op];
    if (fn === undefined) throw new McuError('E_INTERNAL', `node '${node.name}': no op '${node.op}' in the graph's registry`);
    const ctx: OpContext = {
      tf,
      samples: s,
      rows: n,
      siteMask: (name) => {
        if (!(node.sites ?? []).includes(name)) throw new McuError('E_INTERNAL', `node '${node.name}' reads the mask of '${name}', which is not in its sites`);
        const m = maskOf(name);
        const full = m.shape[1] === n ? m : tf.broadcastTo(m, [m.shape[0]!, n, ...m.shape.slice(2)]);
        return tf.reshape(full, [s * n, ...m.shape.slice(2)]);
      },
    };
    const out = fn(ctx, args as (Tensor | undefined)[], node);
    const list = Array.isArray(out) ? (out as Tensor[]) : [out as Tensor];
    if (list.length < node.outputs.filter((o) => o !== '').length) {
      throw new McuError('E_INTERNAL', `node '${node.name}' (${node.op}) gave ${list.length} outputs for ${node.outputs.length}`);
    }
    const constant = rowValues.length === 0 && (node.sites?.length ?? 0) === 0;
    node.outputs.forEach((o, k) => {
      if (o === '') return;
      if (constant) computed.set(o, list[k]!);
      else values.set(o, { t: list[k]!, expanded: expandAll });
    });
  }
  return graph.outputs.map((o) => {
    const v = values.get(o.name);
    if (v === undefined) {
      const c = computed.get(o.name) ?? constants.get(o.name);
      if (c === undefined) throw new McuError('E_INTERNAL', `output '${o.name}' is computed by no node`);
      return tf.tile(tf.expandDims(c, 0), [s * n, ...c.shape.map(() => 1)]);
    }
    return expand(v);
  });
}

function missing(node: GraphNode, name: string): never {
  throw new McuError('E_INTERNAL', `node '${node.name}' (${node.op}) reads '${name}', which no earlier node computes and which is no input or constant`);
}
