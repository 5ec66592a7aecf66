/**
 * Every stochastic operation is a site or refused. mcu's estimates are only right when every
 * random number in a pass comes from its counter-based masks: an operator that draws its own
 * (RandomUniform[Like], RandomNormal[Like], Bernoulli, Multinomial — torchvision's
 * StochasticDepth, dropout written with torch.rand, noise injection) would leave onnxruntime's
 * unseeded randomness in the run, invisible to the sampler and to reproducibility. And an
 * operator onnxruntime cannot run at all (an ATen fallthrough such as `aten::rrelu`) is a
 * model problem, to be named as such, not an execution-provider failure.
 */
import { McuError } from '@mcu/core';
import type { FunctionProto, GraphProto, NodeProto } from '../proto/types.js';
import { isDefaultDomain, nodeLabel } from './proto-util.js';
import { atenOperator } from './sites.js';

const RANDOM_OPS = new Set(['RandomUniform', 'RandomUniformLike', 'RandomNormal', 'RandomNormalLike', 'Bernoulli', 'Multinomial']);
/** ATen operators mcu turns into sites (see sites.ts). */
const ATEN_SITES = new Set(['dropout', 'feature_dropout', 'alpha_dropout', 'feature_alpha_dropout']);
/** Operator domains onnxruntime implements. */
const RUNTIME_DOMAINS = new Set(['', 'ai.onnx', 'ai.onnx.ml', 'com.microsoft', 'com.microsoft.nchwc', 'ai.onnx.training', 'ai.onnx.preview.training']);

/** Nodes whose outputs reach a graph output (a random op in a dead branch changes nothing). */
function liveNodes(graph: GraphProto): Set<NodeProto> {
  const nodes = graph.node ?? [];
  const needed = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const live = new Set<NodeProto>();
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (!(n.output ?? []).some((o) => o && needed.has(o))) continue;
    live.add(n);
    for (const x of n.input ?? []) if (x) needed.add(x);
    for (const a of n.attribute ?? []) {
      for (const g of [a.g, ...(a.graphs ?? [])]) {
        if (!g) continue;
        // a subgraph may read any outer tensor: everything it names is needed
        for (const sn of g.node ?? []) for (const x of sn.input ?? []) if (x) needed.add(x);
      }
    }
  }
  return live;
}

function* walk(graph: GraphProto, depth = 0): Generator<{ node: NodeProto; index: number; nested: boolean; live: boolean }> {
  const live = depth === 0 ? liveNodes(graph) : undefined;
  let index = 0;
  for (const node of graph.node ?? []) {
    yield { node, index, nested: depth > 0, live: live === undefined || live.has(node) };
    if (depth < 32) {
      for (const a of node.attribute ?? []) {
        for (const g of [a.g, ...(a.graphs ?? [])]) if (g) yield* walk(g, depth + 1);
      }
    }
    index++;
  }
}

const FIX_RANDOM =
  'Fix: export with those layers in eval mode (model.eval(), then .train() only on the nn.Dropout modules, ' +
  'torch.onnx.TrainingMode.PRESERVE), or write the layer with nn.Dropout so that mcu can draw its masks';

/**
 * Throws McuError('E_UNSUPPORTED') for the first live random operator or operator onnxruntime
 * cannot run; dropout ATen operators are left to the site search.
 */
export function refuseUnhandledOps(graph: GraphProto, functions: readonly FunctionProto[], what: string): void {
  const localDomains = new Set(functions.map((f) => f.domain ?? ''));
  for (const { node, index, nested, live } of walk(graph)) {
    const op = node.op_type ?? '';
    const label = nodeLabel(node, index);
    if (isDefaultDomain(node.domain) && RANDOM_OPS.has(op)) {
      if (!live) continue;
      throw new McuError(
        'E_UNSUPPORTED',
        `${what}: ${label}${nested ? ' (inside a subgraph)' : ''} draws its own random numbers (${op}), which mcu can neither seed ` +
          'nor treat as a dropout site, so every MC pass would add uncounted, unreproducible noise (e.g. torchvision StochasticDepth, ' +
          `dropout written with torch.rand, noise injection). ${FIX_RANDOM}.`,
      );
    }
    const aten = atenOperator(node);
    if (aten !== undefined) {
      if (ATEN_SITES.has(aten) && !nested) continue;
      throw new McuError(
        'E_UNSUPPORTED',
        `${what}: ${label} is the PyTorch operator aten::${aten || '?'}${nested ? ' inside a subgraph' : ''}, exported as a fallthrough ` +
          '(torch.onnx OperatorExportTypes.ONNX_FALLTHROUGH / ONNX_ATEN_FALLBACK); it is not an ONNX operator and no runtime mcu uses can run it. ' +
          'Fix: export without the fallthrough, after replacing that layer with one ONNX supports' +
          (ATEN_SITES.has(aten) ? ' (mcu turns aten dropout layers into sites only outside control flow)' : ''),
      );
    }
    const domain = node.domain ?? '';
    if (!RUNTIME_DOMAINS.has(domain) && !localDomains.has(domain)) {
      throw new McuError(
        'E_UNSUPPORTED',
        `${what}: ${label} is operator ${op} of domain '${domain}', which onnxruntime does not implement (custom ops are not supported); ` +
          'Fix: export the model with standard ONNX operators only',
      );
    }
  }
}
