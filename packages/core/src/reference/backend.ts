import { McuError } from '../errors.js';
import type { Backend, LoadOptions, ModelSource, RunOptions, StochasticModel, StochasticSite, TensorSpec } from '../model.js';
import { sizeOf, type NamedTensors, type TensorData } from '../tensor.js';
import { validateMlp, type MlpSpec } from './mlp.js';

/**
 * The reference backend: runs an MlpSpec in plain TypeScript. Slow and simple on purpose —
 * it is the oracle the real backends are checked against, and lets the engine be tested
 * without native code. Accumulates in float64, returns float32 like the real backends.
 */
export class ReferenceBackend implements Backend {
  readonly name = 'reference';
  async init(): Promise<void> {}

  async load(source: ModelSource, _options?: LoadOptions): Promise<StochasticModel> {
    if (source.kind !== 'object') {
      throw new McuError('E_UNSUPPORTED', `the reference backend takes an MlpSpec object, got a model given as '${source.kind}'`);
    }
    return new ReferenceModel(source.value as MlpSpec);
  }
}

class ReferenceModel implements StochasticModel {
  readonly backend = 'reference';
  readonly executionProvider = 'typescript';
  readonly warnings: readonly string[] = [];
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly sites: readonly StochasticSite[];
  readonly #widths: number[];
  #disposed = false;

  constructor(readonly spec: MlpSpec) {
    this.#widths = validateMlp(spec);
    this.inputs = [{ name: spec.input, dtype: 'float32', dims: ['N', spec.inputSize] }];
    this.outputs = [{ name: spec.output, dtype: 'float32', dims: ['N', this.#widths.at(-1) ?? spec.inputSize] }];
    const sites: StochasticSite[] = [];
    spec.layers.forEach((l, k) => {
      if (l.type === 'dropout') {
        const width = k === 0 ? spec.inputSize : this.#widths[k - 1]!;
        sites.push({ name: l.name, kind: l.kind ?? 'bernoulli', rate: l.rate, maskShape: [width], origin: { op: 'dropout' } });
      }
    });
    this.sites = sites;
  }

  async run(feeds: NamedTensors, masks: NamedTensors, options: RunOptions): Promise<NamedTensors> {
    if (this.#disposed) throw new McuError('E_RUNTIME', 'the model was disposed; load it again');
    const x = feeds[this.spec.input];
    if (x === undefined) throw new McuError('E_INPUT', `input '${this.spec.input}' was not given`);
    const n = x.dims[0]!;
    if (x.dims.length !== 2 || x.dims[1] !== this.spec.inputSize) {
      throw new McuError('E_INPUT', `input '${this.spec.input}' expects dims [N, ${this.spec.inputSize}], got [${x.dims.join(', ')}]`);
    }
    const s = options.samples;
    // Deterministic prefix: rows stay N until the first site, then become S·N.
    let h: Float64Array = Float64Array.from(x.data as ArrayLike<number>);
    let rows = n;
    let expanded = false;
    let width = this.spec.inputSize;
    for (const layer of this.spec.layers) {
      switch (layer.type) {
        case 'dense': {
          const out = layer.bias.length;
          const next = new Float64Array(rows * out);
          for (let r = 0; r < rows; r++) {
            for (let o = 0; o < out; o++) {
              let acc = layer.bias[o]!;
              for (let i = 0; i < width; i++) acc += h[r * width + i]! * layer.weights[i]![o]!;
              next[r * out + o] = acc;
            }
          }
          h = next;
          width = out;
          break;
        }
        case 'relu':
          for (let i = 0; i < h.length; i++) h[i] = Math.max(0, h[i]!);
          break;
        case 'tanh':
          for (let i = 0; i < h.length; i++) h[i] = Math.tanh(h[i]!);
          break;
        case 'sigmoid':
          for (let i = 0; i < h.length; i++) h[i] = 1 / (1 + Math.exp(-h[i]!));
          break;
        case 'identity':
          break;
        case 'dropout': {
          const mask = this.#mask(masks, layer.name, s, n, width, options.scope).data as Float32Array;
          const perSample = options.scope === 'sample';
          const next = new Float64Array(s * n * width);
          for (let t = 0; t < s; t++) {
            for (let i = 0; i < n; i++) {
              const src = (expanded ? t * n + i : i) * width;
              const m = (perSample ? t : t * n + i) * width;
              const dst = (t * n + i) * width;
              for (let j = 0; j < width; j++) next[dst + j] = h[src + j]! * mask[m + j]!;
            }
          }
          h = next;
          rows = s * n;
          expanded = true;
          break;
        }
      }
    }
    let out: Float32Array;
    if (expanded) out = Float32Array.from(h);
    else {
      // No site on the path: the output is the same for every sample; tile it.
      out = new Float32Array(s * n * width);
      for (let t = 0; t < s; t++) out.set(h, t * n * width);
    }
    return { [this.spec.output]: { dtype: 'float32', data: out, dims: [s * n, width] } };
  }

  #mask(masks: NamedTensors, name: string, s: number, n: number, width: number, scope: string): TensorData {
    const m = masks[name];
    const rows = scope === 'sample' ? 1 : n;
    if (m === undefined) throw new McuError('E_MASK', `no mask was given for site '${name}'`);
    if (m.dims.length !== 3 || m.dims[0] !== s || m.dims[1] !== rows || m.dims[2] !== width || sizeOf(m.dims) !== m.data.length) {
      throw new McuError('E_MASK', `mask '${name}' expects dims [${s}, ${rows}, ${width}], got [${m.dims.join(', ')}]`);
    }
    return m;
  }

  async dispose(): Promise<void> {
    this.#disposed = true;
  }
}
