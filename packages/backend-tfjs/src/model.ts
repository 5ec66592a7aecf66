import type { NamedTensors, RunOptions, StochasticModel, StochasticSite, TensorData, TensorSpec } from '@mcu/core';
import { McuError, isMcuError, sizeOf } from '@mcu/core';
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import { applyActivation, shapeAfter, type NetLayer, type NetworkSpec } from './network.js';
import type { TfjsBackendName } from './options.js';
import { exclusive, type Tf } from './runtime.js';

/** Layers with parameters hold them as tensors: dense / conv2d kernel and bias, affine scale and shift. */
type Weighted = Extract<NetLayer, { op: 'dense' | 'conv2d' | 'affine' }>;
/** A NetLayer with its weights uploaded to the backend (kept alive until dispose). */
type Compiled =
  | { readonly layer: Weighted; readonly w: Tensor; readonly b: Tensor | null }
  | { readonly layer: Exclude<NetLayer, Weighted> };

function toFloat32(t: TensorData, what: string): Float32Array {
  if (t.data instanceof Float32Array) return t.data;
  if (t.data instanceof BigInt64Array) {
    const out = new Float32Array(t.data.length);
    for (let i = 0; i < out.length; i++) out[i] = Number(t.data[i]!);
    return out;
  }
  if (t.dtype === 'bool' && !(t.data instanceof Uint8Array)) {
    throw new McuError('E_INPUT', `${what} has dtype bool but its data is not a Uint8Array`);
  }
  return Float32Array.from(t.data as ArrayLike<number>);
}

/**
 * An MLP-like chain run with tfjs ops. The deterministic prefix (everything before the first
 * site) runs once on the N input rows; at the first site the rows become S·N, sample-major
 * (row t·N + i), exactly like the reference backend.
 */
export class TfjsModel implements StochasticModel {
  readonly backend = 'tfjs';
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly sites: readonly StochasticSite[];
  readonly warnings: readonly string[];
  readonly #tf: Tf;
  readonly #net: NetworkSpec;
  readonly #compiled: Compiled[];
  #disposed = false;

  private constructor(tf: Tf, readonly executionProvider: TfjsBackendName, net: NetworkSpec, compiled: Compiled[]) {
    this.#tf = tf;
    this.#net = net;
    this.#compiled = compiled;
    this.inputs = [{ name: net.input, dtype: 'float32', dims: ['N', ...net.inputDims] }];
    // The last layer with an activation decides whether the output is already normalised.
    const last = [...net.layers].reverse().find((l) => l.op === 'dense' || l.op === 'activation');
    const act = last && 'activation' in last ? last.activation : undefined;
    const activation = act === 'softmax' ? 'softmax' : act === 'log_softmax' ? 'log-softmax' : undefined;
    this.outputs = [{ name: net.output, dtype: 'float32', dims: ['N', ...net.outputDims], ...(activation ? { activation } : {}) }];
    this.sites = net.sites;
    this.warnings = net.warnings;
  }

  /** Upload the weights on `backendName` and wrap them. */
  static async create(tf: Tf, backendName: TfjsBackendName, net: NetworkSpec): Promise<TfjsModel> {
    const compiled = await exclusive(tf, backendName, () => {
      const out: Compiled[] = [];
      try {
        for (const layer of net.layers) {
          if (layer.op === 'dense' || layer.op === 'conv2d' || layer.op === 'affine') {
            const w =
              layer.op === 'dense'
                ? tf.tensor2d(layer.kernel, [layer.inUnits, layer.units], 'float32')
                : layer.op === 'conv2d'
                  ? tf.tensor4d(layer.kernel, [...layer.kernelSize, layer.inChannels, layer.filters], 'float32')
                  : tf.tensor1d(layer.scale, 'float32');
            let b: Tensor | null = null;
            try {
              const bias = layer.op === 'affine' ? layer.shift : layer.bias;
              b = bias === null ? null : tf.tensor1d(bias, 'float32');
            } catch (e) {
              w.dispose();
              throw e;
            }
            out.push({ layer, w, b });
          } else {
            out.push({ layer });
          }
        }
      } catch (e) {
        disposeWeights(out);
        throw e;
      }
      return out;
    });
    return new TfjsModel(tf, backendName, net, compiled);
  }

  async run(feeds: NamedTensors, masks: NamedTensors, options: RunOptions): Promise<NamedTensors> {
    if (this.#disposed) throw new McuError('E_RUNTIME', 'the model was disposed; load it again');
    const net = this.#net;
    const s = options.samples;
    if (!(Number.isInteger(s) && s >= 1)) {
      throw new McuError('E_INPUT', `samples must be a positive integer, got ${s}`);
    }
    if (options.scope !== 'sample' && options.scope !== 'point') {
      throw new McuError('E_INPUT', `mask scope must be 'sample' or 'point', got ${JSON.stringify(options.scope)}`);
    }
    const x = feeds[net.input];
    if (x === undefined) {
      throw new McuError('E_INPUT', `input '${net.input}' was not given${Object.keys(feeds).length ? ` (got: ${Object.keys(feeds).join(', ')})` : ''}`);
    }
    const rowDims = net.inputDims;
    const n = x.dims[0] ?? 0;
    if (x.dims.length !== rowDims.length + 1 || rowDims.some((d, k) => x.dims[k + 1] !== d) || sizeOf(x.dims) !== x.data.length) {
      throw new McuError('E_INPUT', `input '${net.input}' expects dims [N, ${rowDims.join(', ')}], got [${x.dims.join(', ')}] with ${x.data.length} values`);
    }
    const xs = toFloat32(x, `input '${net.input}'`);
    const maskRows = options.scope === 'sample' ? 1 : n;
    const maskData = new Map<string, { data: Float32Array; dims: number[] }>();
    for (const site of this.sites) {
      const m = masks[site.name];
      if (m === undefined) throw new McuError('E_MASK', `no mask was given for site '${site.name}'`);
      const want = [s, maskRows, ...site.maskShape];
      if (m.dims.length !== want.length || want.some((d, k) => m.dims[k] !== d) || sizeOf(m.dims) !== m.data.length) {
        throw new McuError('E_MASK', `mask '${site.name}' expects dims [${want.join(', ')}] (scope ${options.scope}), got [${m.dims.join(', ')}] with ${m.data.length} values`);
      }
      maskData.set(site.name, { data: toFloat32(m, `mask '${site.name}'`), dims: want });
    }
    if (options.signal?.aborted) throw new McuError('E_ABORTED', 'the run was cancelled');

    const tf = this.#tf;
    try {
      const { data, dims } = await exclusive(tf, this.executionProvider, () => {
        if (this.#disposed) throw new McuError('E_RUNTIME', 'the model was disposed; load it again');
        if (options.signal?.aborted) throw new McuError('E_ABORTED', 'the run was cancelled');
        const y = tf.tidy(() => this.#forward(xs, n, s, maskData));
        try {
          // dataSync: the backends mcu uses (cpu, wasm, tensorflow) are synchronous; a copy,
          // so the result never aliases a buffer that tfjs reuses or the caller's feeds.
          return { data: Float32Array.from(y.dataSync() as Float32Array), dims: y.shape.slice() };
        } finally {
          y.dispose();
        }
      });
      return { [net.output]: { dtype: 'float32', data, dims } };
    } catch (e) {
      if (isMcuError(e)) throw e;
      throw new McuError('E_RUNTIME', `tfjs (${this.executionProvider}) failed while running the model: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`, { cause: e });
    }
  }

  #forward(xs: Float32Array, n: number, s: number, masks: Map<string, { data: Float32Array; dims: number[] }>): Tensor {
    const tf = this.#tf;
    let dims = [...this.#net.inputDims];
    let h: Tensor = tf.tensor(xs, [n, ...dims], 'float32');
    let expanded = false;
    for (const c of this.#compiled) {
      const rows = expanded ? s * n : n;
      const layer = c.layer;
      switch (layer.op) {
        case 'dense': {
          const { w, b } = c as Extract<Compiled, { w: Tensor }>;
          const flat = dims.length === 1 ? h : tf.reshape(h, [-1, layer.inUnits]);
          let y = tf.matMul(flat as Tensor2D, w as Tensor2D);
          if (b !== null) y = tf.add(y, b);
          dims = [...dims.slice(0, -1), layer.units];
          h = dims.length === 1 ? y : tf.reshape(y, [rows, ...dims]);
          h = applyActivation(tf, h, layer.activation);
          break;
        }
        case 'conv2d': {
          const { w, b } = c as Extract<Compiled, { w: Tensor }>;
          let y: Tensor = tf.conv2d(h as Tensor4D, w as Tensor4D, [...layer.strides], layer.padding, 'NHWC', [...layer.dilations]);
          if (b !== null) y = tf.add(y, b);
          dims = shapeAfter(layer, dims);
          h = applyActivation(tf, y, layer.activation);
          break;
        }
        case 'pool2d': {
          const args = [h as Tensor4D, [...layer.poolSize] as [number, number], [...layer.strides] as [number, number], layer.padding] as const;
          h = layer.kind === 'max' ? tf.maxPool(...args) : tf.avgPool(...args);
          dims = shapeAfter(layer, dims);
          break;
        }
        case 'globalpool': {
          h = layer.kind === 'max' ? tf.max(h, [1, 2], layer.keepDims) : tf.mean(h, [1, 2], layer.keepDims);
          dims = shapeAfter(layer, dims);
          break;
        }
        case 'affine': {
          const { w, b } = c as Extract<Compiled, { w: Tensor }>;
          h = tf.add(tf.mul(h, w), b!);
          break;
        }
        case 'activation':
          h = applyActivation(tf, h, layer.activation);
          break;
        case 'flatten':
          dims = [dims.reduce((a, b) => a * b, 1)];
          h = tf.reshape(h, [rows, ...dims]);
          break;
        case 'site': {
          const m = masks.get(layer.site.name)!;
          const mask = tf.tensor(m.data, m.dims, 'float32');
          // [1|S, N, ...dims] · [S, 1|N, ...maskShape] → [S, N, ...dims], then S·N rows.
          const lead = expanded ? [s, n] : [1, n];
          h = tf.reshape(tf.mul(tf.reshape(h, [...lead, ...dims]), mask), [s * n, ...dims]);
          expanded = true;
          break;
        }
      }
    }
    if (!expanded) {
      // No site on the path: every sample gives the same output; tile it sample-major.
      h = tf.tile(h, [s, ...dims.map(() => 1)]);
    }
    return h;
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    // Through the queue: a run in flight finishes with its weights first.
    await exclusive(this.#tf, this.executionProvider, () => disposeWeights(this.#compiled)).catch(() => disposeWeights(this.#compiled));
  }
}

function disposeWeights(compiled: readonly Compiled[]): void {
  for (const c of compiled) {
    if ('w' in c) {
      if (!c.w.isDisposed) c.w.dispose();
      if (c.b !== null && !c.b.isDisposed) c.b.dispose();
    }
  }
}
