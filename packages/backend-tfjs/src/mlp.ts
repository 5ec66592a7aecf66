import type { MlpSpec, StochasticSite } from '@mcu/core';
import { McuError, validateMlp } from '@mcu/core';
import type { ExecGraph, GraphConstant, GraphNode } from './graph.js';
import { KERAS_OPS } from './keras-ops.js';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Is this object an MlpSpec (as opposed to, say, a parsed model.json)? */
export function looksLikeMlp(v: unknown): v is MlpSpec {
  return isRecord(v) && Array.isArray(v['layers']) && typeof v['inputSize'] === 'number';
}

/**
 * Compile an MlpSpec (the reference backend's format) into an ExecGraph: dense = x·W + b
 * (keras.dense), relu / tanh / sigmoid (keras.activation), each dropout a site whose mask input
 * is the layer's name. Layout 'lazy', like Keras graphs.
 */
export function mlpNetwork(spec: MlpSpec): ExecGraph {
  if (typeof spec.input !== 'string' || typeof spec.output !== 'string') {
    throw new McuError('E_MODEL', 'an MlpSpec needs string `input` and `output` names');
  }
  const widths = validateMlp(spec);
  const nodes: (GraphNode & { outputs: string[] })[] = [];
  const constants = new Map<string, GraphConstant>();
  const sites: StochasticSite[] = [];
  const siteNames = new Set<string>([spec.input]);
  const taken = new Set<string>([spec.input, spec.output]);
  const fresh = (base: string): string => {
    let name = base;
    for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return name;
  };
  let x = spec.input;
  let width = spec.inputSize;
  spec.layers.forEach((l, k) => {
    switch (l.type) {
      case 'dense': {
        const out = l.bias.length;
        const kernel = new Float32Array(width * out);
        for (let i = 0; i < width; i++) for (let o = 0; o < out; o++) kernel[i * out + o] = l.weights[i]![o]!;
        const w = fresh(`dense${k}/kernel`);
        const b = fresh(`dense${k}/bias`);
        constants.set(w, { dims: [width, out], dtype: 'float32', data: kernel });
        constants.set(b, { dims: [out], dtype: 'float32', data: Float32Array.from(l.bias) });
        const y = fresh(`dense${k}`);
        nodes.push({
          op: 'keras.dense',
          name: `dense${k}`,
          inputs: [x, w, b],
          outputs: [y],
          attrs: { inUnits: width, units: out, outDims: [out], activation: 'linear' },
        });
        x = y;
        break;
      }
      case 'relu':
      case 'tanh':
      case 'sigmoid': {
        const y = fresh(`${l.type}${k}`);
        nodes.push({ op: 'keras.activation', name: `${l.type}${k}`, inputs: [x], outputs: [y], attrs: { activation: l.type } });
        x = y;
        break;
      }
      case 'identity':
        break;
      case 'dropout': {
        if (siteNames.has(l.name)) {
          throw new McuError('E_SITE', `dropout site name '${l.name}' is used twice (or equals the input name); each mask input needs its own name`);
        }
        siteNames.add(l.name);
        sites.push({ name: l.name, kind: l.kind ?? 'bernoulli', rate: l.rate, maskShape: [width], origin: { op: 'dropout' } });
        const y = fresh(`${l.name}/masked`);
        nodes.push({ op: 'site', name: l.name, inputs: [x], outputs: [y], attrs: { site: l.name } });
        x = y;
        break;
      }
      default:
        throw new McuError('E_MODEL', `MLP layer ${k} has unknown type ${JSON.stringify((l as { type?: unknown }).type)}`);
    }
    width = widths[k]!;
  });
  // The last value is the output (an identity when the spec has no layer that computes one).
  if (nodes.length === 0) nodes.push({ op: 'identity', name: spec.output, inputs: [x], outputs: [spec.output], attrs: {} });
  else nodes[nodes.length - 1]!.outputs[0] = spec.output;
  return {
    inputs: [{ name: spec.input, dims: [spec.inputSize], dtype: 'float32' }],
    outputs: [{ name: spec.output, dims: [width] }],
    nodes,
    constants,
    sites,
    layout: 'lazy',
    warnings: [],
    ops: KERAS_OPS,
  };
}
