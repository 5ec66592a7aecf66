import type { NamedTensors, RunOptions, StochasticModel, StochasticSite, TensorData, TensorSpec } from '@mcu/core';
import { McuError, isMcuError, sizeOf } from '@mcu/core';
import type { Tensor } from '@tensorflow/tfjs';
import { forwardGraph, type MaskInput } from './executor.js';
import type { ExecGraph } from './graph.js';
import type { TfjsRuntimeName } from './options.js';
import { exclusive, type Tf } from './runtime.js';

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
 * A model on TensorFlow.js: an {@link ExecGraph} (from a Keras layers model, an ONNX file or an
 * MlpSpec) with its constants uploaded to one tfjs backend. Outputs have S·N rows,
 * sample-major (row t·N + i), as the engine expects.
 */
export class TfjsModel implements StochasticModel {
  readonly backend = 'tfjs';
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly sites: readonly StochasticSite[];
  readonly warnings: readonly string[];
  readonly #tf: Tf;
  readonly #graph: ExecGraph;
  readonly #constants: Map<string, Tensor>;
  #disposed = false;

  private constructor(
    tf: Tf,
    readonly executionProvider: TfjsRuntimeName,
    graph: ExecGraph,
    constants: Map<string, Tensor>,
  ) {
    this.#tf = tf;
    this.#graph = graph;
    this.#constants = constants;
    this.inputs = graph.inputs.map((i) => ({ name: i.name, dtype: 'float32', dims: ['N', ...i.dims] }));
    this.outputs = graph.outputs.map((o) => ({
      name: o.name,
      dtype: 'float32',
      dims: o.dims !== undefined ? ['N', ...o.dims] : ['N'],
      ...(o.activation !== undefined ? { activation: o.activation } : {}),
    }));
    this.sites = graph.sites;
    this.warnings = graph.warnings;
  }

  /** The graph this model runs (for inspect and tests). */
  get graph(): ExecGraph {
    return this.#graph;
  }

  /** 'lazy' (the work before the first site once per row) or 'tiled' (every op on S·N rows). */
  get layout(): 'lazy' | 'tiled' {
    return this.#graph.layout;
  }

  /** Upload the graph's constants on `backendName` and wrap them. */
  static async create(tf: Tf, backendName: TfjsRuntimeName, graph: ExecGraph): Promise<TfjsModel> {
    const constants = await exclusive(tf, backendName, () => {
      const out = new Map<string, Tensor>();
      try {
        for (const [name, c] of graph.constants) out.set(name, tf.tensor(c.data, [...c.dims], c.dtype));
      } catch (e) {
        for (const t of out.values()) t.dispose();
        throw e;
      }
      return out;
    });
    return new TfjsModel(tf, backendName, graph, constants);
  }

  async run(feeds: NamedTensors, masks: NamedTensors, options: RunOptions): Promise<NamedTensors> {
    if (this.#disposed) throw new McuError('E_RUNTIME', 'the model was disposed; load it again');
    const graph = this.#graph;
    const s = options.samples;
    if (!(Number.isInteger(s) && s >= 1)) throw new McuError('E_INPUT', `samples must be a positive integer, got ${s}`);
    if (options.scope !== 'sample' && options.scope !== 'point') {
      throw new McuError('E_INPUT', `mask scope must be 'sample' or 'point', got ${JSON.stringify(options.scope)}`);
    }
    let n: number | undefined;
    const inputs = new Map<string, { data: Float32Array; dims: number[]; dtype: 'float32' | 'int32' }>();
    for (const spec of graph.inputs) {
      const x = feeds[spec.name];
      if (x === undefined) {
        throw new McuError('E_INPUT', `input '${spec.name}' was not given${Object.keys(feeds).length ? ` (got: ${Object.keys(feeds).join(', ')})` : ''}`);
      }
      const rows = x.dims[0] ?? 0;
      if (x.dims.length !== spec.dims.length + 1 || spec.dims.some((d, k) => x.dims[k + 1] !== d) || sizeOf(x.dims) !== x.data.length) {
        throw new McuError(
          'E_INPUT',
          `input '${spec.name}' expects dims [N, ${spec.dims.join(', ')}], got [${x.dims.join(', ')}] with ${x.data.length} values`,
        );
      }
      if (n !== undefined && rows !== n) throw new McuError('E_INPUT', `inputs have different numbers of rows (${n} and ${rows} for '${spec.name}')`);
      n = rows;
      inputs.set(spec.name, { data: toFloat32(x, `input '${spec.name}'`), dims: [...x.dims], dtype: spec.dtype });
    }
    const rows = n ?? 0;
    const maskRows = options.scope === 'sample' ? 1 : rows;
    const maskData = new Map<string, MaskInput>();
    for (const site of this.sites) {
      const m = masks[site.name];
      if (m === undefined) throw new McuError('E_MASK', `no mask was given for site '${site.name}'`);
      const want = [s, maskRows, ...site.maskShape];
      if (m.dims.length !== want.length || want.some((d, k) => m.dims[k] !== d) || sizeOf(m.dims) !== m.data.length) {
        throw new McuError(
          'E_MASK',
          `mask '${site.name}' expects dims [${want.join(', ')}] (scope ${options.scope}), got [${m.dims.join(', ')}] with ${m.data.length} values`,
        );
      }
      maskData.set(site.name, { data: toFloat32(m, `mask '${site.name}'`), dims: want });
    }
    if (options.signal?.aborted) throw new McuError('E_ABORTED', 'the run was cancelled');

    const tf = this.#tf;
    try {
      const results = await exclusive(tf, this.executionProvider, () => {
        if (this.#disposed) throw new McuError('E_RUNTIME', 'the model was disposed; load it again');
        if (options.signal?.aborted) throw new McuError('E_ABORTED', 'the run was cancelled');
        const ys = tf.tidy(() => {
          const feedsT = new Map<string, Tensor>();
          for (const [name, x] of inputs) {
            feedsT.set(name, x.dtype === 'int32' ? tf.tensor(Int32Array.from(x.data, Math.round), x.dims, 'int32') : tf.tensor(x.data, x.dims, 'float32'));
          }
          return forwardGraph(tf, graph, this.#constants, feedsT, maskData, s, rows).map((y) => (y.dtype === 'float32' ? y : tf.cast(y, 'float32')));
        });
        try {
          // dataSync: the backends mcu uses (cpu, wasm, tensorflow) are synchronous; a copy, so
          // the result never aliases a buffer that tfjs reuses or the caller's feeds.
          return ys.map((y) => ({ data: Float32Array.from(y.dataSync() as Float32Array), dims: y.shape.slice() }));
        } finally {
          for (const y of ys) y.dispose();
        }
      });
      const out: NamedTensors = {};
      graph.outputs.forEach((o, k) => (out[o.name] = { dtype: 'float32', data: results[k]!.data, dims: results[k]!.dims }));
      return out;
    } catch (e) {
      if (isMcuError(e)) throw e;
      throw new McuError(
        'E_RUNTIME',
        `tfjs (${this.executionProvider}) failed while running the model: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`,
        { cause: e },
      );
    }
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const free = () => {
      for (const t of this.#constants.values()) if (!t.isDisposed) t.dispose();
    };
    // Through the queue: a run in flight finishes with its constants first.
    await exclusive(this.#tf, this.executionProvider, free).catch(free);
  }
}
