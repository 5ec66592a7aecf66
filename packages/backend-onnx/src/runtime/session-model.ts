import type { InferenceSession, Tensor } from 'onnxruntime-common';
import {
  ABSOLUTE_TOLERANCE,
  describeError,
  McuError,
  RELATIVE_TOLERANCE,
  sizeOf,
  type DType,
  type FoldedSampleSite,
  type MixingProbe,
  type NamedTensors,
  type OutputReduction,
  type ReducedOutput,
  type ReducedOutputs,
  type RunOptions,
  type StochasticModel,
  type StochasticSite,
  type TensorData,
  type TensorSpec,
} from '@mcu/core';
import type { DiagnosticModel } from '../graph/diagnose.js';
import type { Layout } from '../graph/metadata.js';
import type { PreparedModel } from '../graph/prepare.js';
import { type FoldedModel, foldSampleMasks } from '../graph/fold.js';
import { reducedGraph, type ReducedNames } from '../graph/reduce.js';
import { encodeModel } from '../proto/index.js';
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
  /** 'broadcast' / 'tiled': feeds [N, …]; 'sample-axis': the graph takes [S, N, …] and returns [S, N, …]. */
  readonly layout: Layout;
  readonly warnings: readonly string[];
  /** From the FLOP count, when it is complete. */
  readonly shareBeforeFirstSite?: number;
  /** Named input dims that sites take their mask sizes from ('seq' → input, axis). */
  readonly inputDims?: Readonly<Record<string, { input: string; axis: number }>>;
  /** The preparation behind this session (for inspect and convert). */
  readonly prepared?: PreparedModel;
  /** Mixed into the model hash (e.g. where external weights are read from). */
  readonly hashSalt?: string;
  /** sha256 of `bytes` (hex) when already known (a cache hit): used for the model hash instead of hashing again. */
  readonly bytesSha256?: string;
  /** The prepared graph with every float intermediate as an output, built on demand (locateMixing). */
  readonly diagnose?: () => { bytes: Uint8Array; tensors: DiagnosticModel['tensors'] };
}

/** sha256 of the prepared bytes (and what runs them), where Web Crypto exists (Node ≥ 19, browsers). */
async function modelHash(init: SessionModelInit, ep: string): Promise<string | undefined> {
  const salt = init.hashSalt ?? '';
  // the cache's check of the entry already hashed these bytes (cache/entry.ts)
  if (salt === '' && init.bytesSha256 !== undefined) return `sha256:${init.bytesSha256}@${ep}`;
  const subtle = (globalThis as { crypto?: { subtle?: { digest(a: string, d: Uint8Array): Promise<ArrayBuffer> } } }).crypto?.subtle;
  if (!subtle) return undefined;
  let all = init.bytes;
  if (salt !== '') {
    // bytes ‖ salt (a copy only where there is a salt: models with external data)
    const saltBytes = new TextEncoder().encode(salt);
    all = new Uint8Array(init.bytes.length + saltBytes.length);
    all.set(init.bytes);
    all.set(saltBytes, init.bytes.length);
  }
  const d = new Uint8Array(await subtle.digest('SHA-256', all));
  return `sha256:${Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('')}@${ep}`;
}

/** A session of the reduced graph (graph/reduce.ts) and where its outputs are. */
interface ReducedSession {
  readonly session: InferenceSession;
  readonly outputs: readonly ReducedNames[];
}

/**
 * A prepared ONNX graph on one onnxruntime session, created once and reused for every chunk;
 * with {@link SessionModel.runReduced}, one more session per distinct reduction request.
 */
export class SessionModel implements StochasticModel {
  readonly backend: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly sites: readonly StochasticSite[];
  readonly warnings: readonly string[];
  readonly layout: Layout;
  readonly shareBeforeFirstSite?: number;
  readonly hash?: string;
  readonly prepared?: PreparedModel;
  #session: InferenceSession | null;
  readonly #runtime: OrtRuntime;
  readonly #init: SessionModelInit;
  readonly #dynamic: boolean;
  /** Reduced-graph sessions by request (null: not offered, or onnxruntime refused the graph). */
  readonly #reduced = new Map<string, Promise<ReducedSession | null>>();
  /** null: not built yet. */
  #foldedModel: FoldedModel | undefined | null = null;

  private constructor(
    init: SessionModelInit,
    session: InferenceSession,
    readonly executionProvider: string,
    warnings: string[],
    hash: string | undefined,
  ) {
    this.backend = init.backend;
    this.inputs = init.inputs;
    this.outputs = init.outputs;
    this.sites = init.sites;
    this.layout = init.layout;
    if (init.shareBeforeFirstSite !== undefined) this.shareBeforeFirstSite = init.shareBeforeFirstSite;
    this.warnings = warnings;
    this.#session = session;
    this.#runtime = init.runtime;
    this.#init = init;
    this.#dynamic = init.sites.some((x) => x.dims !== undefined);
    if (hash !== undefined) this.hash = hash;
    if (init.prepared !== undefined) this.prepared = init.prepared;
  }

  /** Sites with mask sizes taken from named input dims ('seq'): their concrete shapes for these feeds. */
  sitesFor(feeds: NamedTensors): readonly StochasticSite[] {
    if (!this.#dynamic) return this.sites;
    const dimsOf = this.#init.inputDims ?? {};
    return this.sites.map((site) => {
      if (site.dims === undefined) return site;
      const maskShape = site.dims.map((d) => {
        if (typeof d === 'number') return d;
        const m = /^(.*?)(?:\*(\d+))?$/.exec(d)!;
        const at = dimsOf[m[1]!];
        const size = at ? feeds[at.input]?.dims[at.axis] : undefined;
        if (size === undefined) {
          throw new McuError(
            'E_INPUT',
            `the mask of site '${site.name}' takes its size '${d}' from ${at ? `input '${at.input}', axis ${at.axis}` : 'no input'}, which was not given`,
          );
        }
        return size * Number(m[2] ?? 1);
      });
      return { ...site, maskShape };
    });
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
        return new SessionModel(init, session, ep, warnings, await modelHash(init, ep));
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
    const { ortFeeds, rows, samples } = this.#ortFeeds(feeds, masks, options);
    const results = await this.#runSession(session, ortFeeds);
    const out: Record<string, TensorData> = {};
    for (const spec of this.outputs) {
      const r = results[spec.name] as Tensor | undefined;
      if (r === undefined) throw new McuError('E_RUNTIME', `onnxruntime returned no output '${spec.name}'`);
      out[spec.name] = this.#normaliseOutput(spec.name, r, samples, rows);
    }
    return out;
  }

  /**
   * The outputs reduced over the call's samples inside the graph (core's
   * `StochasticModel.runReduced`; graph/reduce.ts). The reduced graph is built and its session
   * created on the first call of a request, on this model's execution provider, and kept until
   * dispose(). Null — the caller runs `run` — where the graph is not offered (see
   * `reducedGraph`), onnxruntime refuses it at session creation (its checks and shape
   * inference) or its run fails (then never offered again): the raw path is then as correct
   * as ever, only without the saving.
   */
  async runReduced(feeds: NamedTensors, masks: NamedTensors, options: RunOptions, request: readonly OutputReduction[]): Promise<ReducedOutputs | null> {
    if (this.#session === null) throw new McuError('E_RUNTIME', 'the model was disposed; load it again');
    const reduced = await this.#reducedSession(request, options.scope);
    if (reduced === null) return null;
    const { ortFeeds, rows } = this.#ortFeeds(feeds, masks, options);
    let results: InferenceSession.OnnxValueMapType;
    try {
      results = await reduced.session.run(ortFeeds);
    } catch {
      // The reduced graph failed where the prepared one may not (a kernel of the appended ops):
      // not offered from now on; the caller runs the raw graph, which reports its own failures.
      this.#reduced.set(reducedKey(request, options.scope), Promise.resolve(null));
      await reduced.session.release();
      return null;
    }
    const get = (name: string | undefined): Float32Array => {
      const r = name === undefined ? undefined : (results[name] as Tensor | undefined);
      if (r === undefined || r.type !== 'float32')
        throw new McuError('E_RUNTIME', `onnxruntime returned no float32 output '${String(name)}' of the reduced graph`);
      return r.data as Float32Array;
    };
    return reduced.outputs.map((o): ReducedOutput => {
      const meanTensor = results[o.mean] as Tensor | undefined;
      const dims = meanTensor === undefined ? [] : [...meanTensor.dims].map(Number);
      if (dims[0] !== rows) {
        throw new McuError('E_RUNTIME', `the reduced output '${o.mean}' should have ${rows} rows (dims [N, …]), got [${dims.join(', ')}]`);
      }
      const base = { output: o.output, kind: o.kind, dims: dims.slice(1), mean: get(o.mean), m2: get(o.m2) };
      if (o.kind === 'moments') return o.shift === undefined ? base : { ...base, shift: get(o.shift) };
      const withClasses = { ...base, entropy: get(o.entropy), votes: get(o.votes) };
      if (o.kind === 'logits') return withClasses;
      return { ...withClasses, range: [get(o.min)[0]!, get(o.max)[0]!] as const };
    });
  }

  /** The sample-scope graph with its foldable sites folded (graph/fold.ts), built once. */
  #folded(): FoldedModel | undefined {
    if (this.#foldedModel === null) {
      const prepared = this.#init.prepared;
      this.#foldedModel = prepared === undefined ? undefined : foldSampleMasks(prepared);
    }
    return this.#foldedModel;
  }

  /** core's `StochasticModel.foldedSampleSites`: what runReduced's sample-scope graph folds. */
  foldedSampleSites(): readonly FoldedSampleSite[] {
    return this.#folded()?.sites ?? [];
  }

  #reducedSession(request: readonly OutputReduction[], scope: RunOptions['scope']): Promise<ReducedSession | null> {
    const key = reducedKey(request, scope);
    let hit = this.#reduced.get(key);
    if (hit === undefined) {
      hit = this.#createReduced(request, scope);
      this.#reduced.set(key, hit);
    }
    return hit;
  }

  async #createReduced(request: readonly OutputReduction[], scope: RunOptions['scope']): Promise<ReducedSession | null> {
    const prepared = this.#init.prepared;
    if (prepared === undefined) return null;
    // one mask per sample: the sites folded into the weight layer that reads them (graph/fold.ts)
    const folded = scope === 'sample' ? this.#folded() : undefined;
    const graph = reducedGraph(folded === undefined ? prepared : { ...prepared, model: folded.model }, request);
    if (graph === undefined) return null;
    try {
      const session = await this.#runtime.InferenceSession.create(encodeModel(graph.model), {
        logSeverityLevel: 3,
        ...this.#init.sessionOptions,
        executionProviders: [this.executionProvider],
      });
      return { session, outputs: graph.outputs };
    } catch {
      // onnxruntime refused the reduced graph (an op or type its provider lacks): the raw path.
      return null;
    }
  }

  async #runSession(session: InferenceSession, ortFeeds: Record<string, Tensor>): Promise<InferenceSession.OnnxValueMapType> {
    try {
      return await session.run(ortFeeds);
    } catch (e) {
      throw new McuError('E_RUNTIME', `onnxruntime (${this.executionProvider}) failed: ${describeError(e)}`, { cause: e });
    }
  }

  #ortFeeds(feeds: NamedTensors, masks: NamedTensors, options: RunOptions): { ortFeeds: Record<string, Tensor>; rows: number; samples: number } {
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
    for (const site of this.sitesFor(feeds)) {
      const m = masks[site.name];
      const perRow = options.scope === 'sample' ? 1 : rows;
      const want = [s, perRow, ...site.maskShape];
      if (m === undefined || m.dims.length !== want.length || m.dims.some((d, k) => d !== want[k]) || m.data.length !== sizeOf(want)) {
        throw new McuError('E_MASK', `mask '${site.name}' expects dims [${want.join(', ')}], got ${m ? `[${m.dims.join(', ')}]` : 'none'}`);
      }
      const data = m.dtype === 'float32' ? m.data : Float32Array.from(m.data as ArrayLike<number>);
      ortFeeds[site.name] = new this.#runtime.Tensor('float32', data, want);
    }
    return { ortFeeds, rows, samples: s };
  }

  /**
   * After a failed self-check: run the prepared graph with every float intermediate as an
   * output, jointly and per sample-row pair, and name the first node (graph order) whose
   * output for some pair differs from that pair run alone.
   */
  async locateMixing(check: MixingProbe): Promise<string | undefined> {
    const diag = this.#init.diagnose?.();
    if (diag === undefined || this.#session === null) return undefined;
    const session = await this.#runtime.InferenceSession.create(diag.bytes, {
      logSeverityLevel: 3,
      ...this.#init.sessionOptions,
      executionProviders: [this.executionProvider],
    });
    try {
      const joint = await this.#runSession(session, this.#ortFeeds(check.feeds, check.masks, { samples: check.samples, scope: 'point' }).ortFeeds);
      const alone = [];
      for (const one of check.singles) {
        alone.push({ one, out: await this.#runSession(session, this.#ortFeeds(one.feeds, one.masks, { samples: 1, scope: 'point' }).ortFeeds) });
      }
      for (const { tensor, node } of diag.tensors) {
        const j = joint[tensor] as Tensor | undefined;
        if (j === undefined) continue;
        for (const { one, out } of alone) {
          const a = out[tensor] as Tensor | undefined;
          if (a === undefined) continue;
          if (differs(j, a, one.sample, one.row, check.samples, check.rows)) return node;
        }
      }
      return undefined;
    } finally {
      await session.release();
    }
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
    const reduced = [...this.#reduced.values()];
    this.#reduced.clear();
    if (session !== null) await session.release();
    for (const r of await Promise.all(reduced)) if (r !== null) await r.session.release();
  }
}

/** A reduction request as a memo key. */
function reducedKey(request: readonly OutputReduction[], scope: RunOptions['scope']): string {
  return JSON.stringify([scope, ...request.map((r) => [r.output, r.kind])]);
}

/**
 * Whether a joint-run tensor's block for (sample t, row i) differs from the single run's
 * tensor. The block lies along the one axis where the joint tensor is S·R (or, before the
 * first site of the broadcast layout, R) times larger; tensors without such an axis are skipped.
 */
function differs(joint: Tensor, single: Tensor, t: number, i: number, samples: number, rows: number): boolean {
  const jd = [...joint.dims].map(Number);
  const sd = [...single.dims].map(Number);
  if (jd.length !== sd.length) return false;
  const axes = jd.map((d, a) => (d !== sd[a] ? a : -1)).filter((a) => a >= 0);
  if (axes.length !== 1) return false;
  const ax = axes[0]!;
  const ratio = jd[ax]! / sd[ax]!;
  const block = ratio === samples * rows ? t * rows + i : ratio === rows ? i : -1;
  if (block < 0 || !Number.isInteger(ratio)) return false;
  const inner = sd.slice(ax + 1).reduce((p, q) => p * q, 1);
  const outer = sd.slice(0, ax).reduce((p, q) => p * q, 1);
  const len = sd[ax]! * inner;
  const jData = joint.data as Float32Array;
  const sData = single.data as Float32Array;
  let scale = 0;
  for (let k = 0; k < jData.length; k++) scale = Math.max(scale, Math.abs(jData[k]!));
  const tol = RELATIVE_TOLERANCE * scale + ABSOLUTE_TOLERANCE;
  for (let o = 0; o < outer; o++) {
    const jBase = o * jd[ax]! * inner + block * len;
    const sBase = o * len;
    for (let k = 0; k < len; k++) {
      const x = jData[jBase + k]!;
      const y = sData[sBase + k]!;
      if (Number.isNaN(x) && Number.isNaN(y)) continue;
      if (!(Math.abs(x - y) <= tol)) return true;
    }
  }
  return false;
}
