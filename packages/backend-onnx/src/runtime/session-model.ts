import type { InferenceSession, Tensor } from 'onnxruntime-common';
import {
  describeError,
  McuError,
  sizeOf,
  type DType,
  type NamedTensors,
  type RunOptions,
  type StochasticModel,
  type StochasticSite,
  type TensorData,
  type TensorSpec,
} from '@mcu/core';
import { checkFeedDims, castFeed, tileLeading } from './tensors.js';

/** The parts of onnxruntime-node / onnxruntime-web that mcu uses (both share onnxruntime-common). */
export interface OrtRuntime {
  readonly InferenceSession: { create(bytes: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  readonly Tensor: new (type: DType, data: TensorData['data'], dims: readonly number[]) => Tensor;
}

export interface SessionModelInit {
  readonly runtime: OrtRuntime;
  readonly bytes: Uint8Array;
  readonly backend: string;
  /** Providers to try in order; the first that initialises runs the model (recorded). */
  readonly providers: readonly string[];
  /** Throws an McuError when a provider cannot possibly load (checked before onnxruntime tries). */
  readonly checkProvider: (ep: string) => void;
  readonly providerError: (ep: string, e: unknown) => McuError;
  readonly sessionOptions?: InferenceSession.SessionOptions;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly sites: readonly StochasticSite[];
  /** 'broadcast': feeds [N, …]; 'sample-axis': the graph takes [S, N, …] and returns [S, N, …]. */
  readonly layout: 'broadcast' | 'sample-axis';
  readonly warnings: readonly string[];
  /** From the FLOP count, when it is complete. */
  readonly shareBeforeFirstSite?: number;
}

/** A prepared ONNX graph on one onnxruntime session, created once and reused for every chunk. */
export class SessionModel implements StochasticModel {
  readonly backend: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly sites: readonly StochasticSite[];
  readonly warnings: readonly string[];
  readonly layout: 'broadcast' | 'sample-axis';
  readonly shareBeforeFirstSite?: number;
  #session: InferenceSession | null;
  readonly #runtime: OrtRuntime;

  private constructor(init: SessionModelInit, session: InferenceSession, readonly executionProvider: string, warnings: string[]) {
    this.backend = init.backend;
    this.inputs = init.inputs;
    this.outputs = init.outputs;
    this.sites = init.sites;
    this.layout = init.layout;
    if (init.shareBeforeFirstSite !== undefined) this.shareBeforeFirstSite = init.shareBeforeFirstSite;
    this.warnings = warnings;
    this.#session = session;
    this.#runtime = init.runtime;
  }

  static async create(init: SessionModelInit): Promise<SessionModel> {
    if (init.providers.length === 0) {
      throw new McuError('E_CONFIG', `no execution provider was given for backend '${init.backend}'`);
    }
    const failures: string[] = [];
    const warnings = [...init.warnings];
    for (const ep of init.providers) {
      try {
        init.checkProvider(ep);
        const session = await init.runtime.InferenceSession.create(init.bytes, {
          logSeverityLevel: 3,
          ...init.sessionOptions,
          executionProviders: [ep],
        });
        if (failures.length > 0) {
          warnings.push(`execution provider fallback (listed in the configuration): ${failures.join('; ')}; running on '${ep}'`);
        }
        return new SessionModel(init, session, ep, warnings);
      } catch (e) {
        const err = e instanceof McuError ? e : init.providerError(ep, e);
        if (init.providers.length === 1) throw err;
        failures.push(`${ep}: ${err.message}`);
      }
    }
    throw new McuError('E_PROVIDER', `no listed execution provider could be initialised (${failures.join('; ')})`);
  }

  async run(feeds: NamedTensors, masks: NamedTensors, options: RunOptions): Promise<NamedTensors> {
    const session = this.#session;
    if (session === null) throw new McuError('E_RUNTIME', 'the model was disposed; load it again');
    const s = options.samples;
    if (!(Number.isInteger(s) && s >= 1)) throw new McuError('E_INTERNAL', `samples per call must be ≥ 1, got ${s}`);
    const ortFeeds: Record<string, Tensor> = {};
    let rows = -1;
    for (const spec of this.inputs) {
      const t = feeds[spec.name];
      if (t === undefined) {
        throw new McuError('E_INPUT', `model input '${spec.name}' was not given; the model takes: ${this.inputs.map((i) => i.name).join(', ')}`);
      }
      rows = t.dims[0] ?? -1;
      if (this.layout === 'sample-axis') {
        // The graph wants [S, N, …]: check per-row dims against dims[1:], then tile.
        checkFeedDims(t, { ...spec, dims: spec.dims.slice(1) }, 1);
        const tiled = tileLeading(castFeed(t, spec), s, true);
        ortFeeds[spec.name] = new this.#runtime.Tensor(spec.dtype, tiled.data, tiled.dims);
      } else {
        checkFeedDims(t, spec, 1);
        const c = castFeed(t, spec);
        ortFeeds[spec.name] = new this.#runtime.Tensor(spec.dtype, c.data, c.dims);
      }
    }
    for (const site of this.sites) {
      const m = masks[site.name];
      const perRow = options.scope === 'sample' ? 1 : rows;
      const want = [s, perRow, ...site.maskShape];
      if (m === undefined || m.dims.length !== want.length || m.dims.some((d, k) => d !== want[k]) || m.data.length !== sizeOf(want)) {
        throw new McuError('E_MASK', `mask '${site.name}' expects dims [${want.join(', ')}], got ${m ? `[${m.dims.join(', ')}]` : 'none'}`);
      }
      const data = m.dtype === 'float32' ? m.data : Float32Array.from(m.data as ArrayLike<number>);
      ortFeeds[site.name] = new this.#runtime.Tensor('float32', data, want);
    }
    let results: InferenceSession.OnnxValueMapType;
    try {
      results = await session.run(ortFeeds);
    } catch (e) {
      throw new McuError('E_RUNTIME', `onnxruntime (${this.executionProvider}) failed: ${describeError(e)}`, { cause: e });
    }
    const out: Record<string, TensorData> = {};
    for (const spec of this.outputs) {
      const r = results[spec.name] as Tensor | undefined;
      if (r === undefined) throw new McuError('E_RUNTIME', `onnxruntime returned no output '${spec.name}'`);
      out[spec.name] = this.#normaliseOutput(spec.name, r, s, rows);
    }
    return out;
  }

  /** Bring an output to leading axis S·N, sample-major. */
  #normaliseOutput(name: string, r: Tensor, s: number, n: number): TensorData {
    const dims = [...r.dims].map(Number);
    const t: TensorData = { dtype: r.type as DType, data: r.data as TensorData['data'], dims };
    if (this.layout === 'sample-axis') {
      if (dims[0] !== s || dims[1] !== n) {
        throw new McuError('E_RUNTIME', `output '${name}' should have dims [${s}, ${n}, …], got [${dims.join(', ')}]`);
      }
      return { ...t, dims: [s * n, ...dims.slice(2)] };
    }
    if (dims[0] === s * n) return t;
    if (dims[0] === n) return tileLeading(t, s, false); // depends on no site: same for every sample
    throw new McuError('E_RUNTIME', `output '${name}' should have leading axis ${s * n} (S·N) or ${n} (N), got [${dims.join(', ')}]`);
  }

  async dispose(): Promise<void> {
    const session = this.#session;
    this.#session = null;
    if (session !== null) await session.release();
  }
}
