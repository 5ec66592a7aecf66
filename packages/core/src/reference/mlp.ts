import { McuError } from '../errors.js';
import type { SiteKind } from '../model.js';

/**
 * A tiny sequential network description, enough for MLPs: the reference backend runs it in
 * plain TypeScript (float64 internally), and backend conformance tests build the same
 * network in each real backend.
 */
export type MlpLayer =
  | { readonly type: 'dense'; readonly weights: readonly (readonly number[])[]; readonly bias: readonly number[] }
  | { readonly type: 'relu' | 'tanh' | 'sigmoid' | 'identity' }
  | {
      readonly type: 'dropout';
      /** The mask input's name. */
      readonly name: string;
      readonly rate: number;
      readonly kind?: SiteKind;
    };

export interface MlpSpec {
  readonly input: string;
  readonly output: string;
  readonly inputSize: number;
  /** Dense weights are [in][out]: y = x·W + b. */
  readonly layers: readonly MlpLayer[];
}

/** Check a spec and return the width after each layer. */
export function validateMlp(spec: MlpSpec): number[] {
  if (!(Number.isInteger(spec.inputSize) && spec.inputSize > 0)) {
    throw new McuError('E_MODEL', `MLP inputSize must be a positive integer, got ${spec.inputSize}`);
  }
  const widths: number[] = [];
  let width = spec.inputSize;
  spec.layers.forEach((layer, k) => {
    if (layer.type === 'dense') {
      if (layer.weights.length !== width) {
        throw new McuError('E_MODEL', `layer ${k} (dense) expects ${width} weight rows (one per input unit), got ${layer.weights.length}`);
      }
      const out = layer.bias.length;
      for (const row of layer.weights) {
        if (row.length !== out) {
          throw new McuError('E_MODEL', `layer ${k} (dense) has ${out} biases but a weight row of length ${row.length}`);
        }
      }
      width = out;
    } else if (layer.type === 'dropout') {
      if (!(layer.rate >= 0 && layer.rate < 1)) {
        throw new McuError('E_SITE', `dropout '${layer.name}' needs a rate p in [0, 1), got ${layer.rate}`);
      }
    }
    widths.push(width);
  });
  return widths;
}

/** A deterministic pseudo-random MLP for tests and conformance (weights from a seeded LCG). */
export function randomMlp(options: {
  sizes: readonly number[];
  rates: readonly number[];
  activation?: 'relu' | 'tanh' | 'sigmoid';
  seed?: number;
  kind?: SiteKind;
}): MlpSpec {
  const { sizes, rates, activation = 'relu', kind = 'bernoulli' } = options;
  let state = (options.seed ?? 1) >>> 0 || 1;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
  const layers: MlpLayer[] = [];
  for (let k = 0; k + 1 < sizes.length; k++) {
    // Dropout before every weight layer but the first (the co2 fixtures' layout).
    if (k > 0) layers.push({ type: 'dropout', name: `mask${k}`, rate: rates[(k - 1) % rates.length]!, kind });
    const fanIn = sizes[k]!;
    const scale = 2 / Math.sqrt(fanIn);
    layers.push({
      type: 'dense',
      weights: Array.from({ length: fanIn }, () => Array.from({ length: sizes[k + 1]! }, () => next() * scale)),
      bias: Array.from({ length: sizes[k + 1]! }, () => next() * 0.1),
    });
    if (k + 2 < sizes.length) layers.push({ type: activation });
  }
  return { input: 'x', output: 'y', inputSize: sizes[0]!, layers };
}
