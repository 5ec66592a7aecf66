import type { MlpSpec, StochasticSite } from '@mcu/core';
import { McuError, validateMlp } from '@mcu/core';
import type { NetLayer, NetworkSpec } from './network.js';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Is this object an MlpSpec (as opposed to, say, a parsed model.json)? */
export function looksLikeMlp(v: unknown): v is MlpSpec {
  return isRecord(v) && Array.isArray(v['layers']) && typeof v['inputSize'] === 'number';
}

/** Compile an MlpSpec: dense = x·W + b, activations, dropout sites as a multiply by the mask. */
export function mlpNetwork(spec: MlpSpec): NetworkSpec {
  if (typeof spec.input !== 'string' || typeof spec.output !== 'string') {
    throw new McuError('E_MODEL', 'an MlpSpec needs string `input` and `output` names');
  }
  const widths = validateMlp(spec);
  const layers: NetLayer[] = [];
  const sites: StochasticSite[] = [];
  const names = new Set<string>([spec.input]);
  let width = spec.inputSize;
  spec.layers.forEach((l, k) => {
    switch (l.type) {
      case 'dense': {
        const out = l.bias.length;
        const kernel = new Float32Array(width * out);
        for (let i = 0; i < width; i++) for (let o = 0; o < out; o++) kernel[i * out + o] = l.weights[i]![o]!;
        layers.push({ op: 'dense', name: `dense${k}`, kernel, inUnits: width, units: out, bias: Float32Array.from(l.bias), activation: 'linear' });
        break;
      }
      case 'relu':
      case 'tanh':
      case 'sigmoid':
        layers.push({ op: 'activation', name: `${l.type}${k}`, activation: l.type });
        break;
      case 'identity':
        break;
      case 'dropout': {
        if (names.has(l.name)) {
          throw new McuError('E_SITE', `dropout site name '${l.name}' is used twice (or equals the input name); each mask input needs its own name`);
        }
        names.add(l.name);
        const site: StochasticSite = { name: l.name, kind: l.kind ?? 'bernoulli', rate: l.rate, maskShape: [width], origin: { op: 'dropout' } };
        sites.push(site);
        layers.push({ op: 'site', name: l.name, site });
        break;
      }
      default:
        throw new McuError('E_MODEL', `MLP layer ${k} has unknown type ${JSON.stringify((l as { type?: unknown }).type)}`);
    }
    width = widths[k]!;
  });
  return {
    input: spec.input,
    inputDims: [spec.inputSize],
    output: spec.output,
    outputDims: [width],
    layers,
    sites,
    warnings: [],
  };
}
