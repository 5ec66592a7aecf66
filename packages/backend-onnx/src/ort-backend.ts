import { McuError, type Backend, type LoadOptions, type ModelSource, type StochasticModel } from '@mcu/core';
import type { Tensor } from 'onnxruntime-common';
import { diagnosticModel } from './graph/diagnose.js';
import { countFlops } from './graph/flops.js';
import type { CachedPrepared } from './cache/entry.js';
import { prepareModelMeasured, type PreparedModel } from './graph/prepare.js';
import { encodeModel, type ModelProto } from './proto/index.js';
import { parseOnnxOptions, type OnnxLoadOptions } from './options.js';
import { providerError } from './runtime/provider-errors.js';
import { SessionModel, type OrtRuntime } from './runtime/session-model.js';

/**
 * What the onnxruntime backends share: options, the graph preparation and one session per
 * model. Node-free, so a browser bundle can use it; how a model source is read is each
 * backend's own (`readSource`).
 */
export abstract class OrtBackend implements Backend {
  abstract readonly name: string;
  protected abstract readonly defaultProviders: readonly string[];
  protected runtime: OrtRuntime | null = null;
  protected abstract importRuntime(): Promise<OrtRuntime>;
  protected abstract checkProvider(ep: string): void;

  /** A provider that did not start, as an E_PROVIDER naming the fix (Node's by default). */
  protected providerError(ep: string, e: unknown): McuError {
    return providerError(ep, e);
  }
  /** The decoded model, and where its external data stays (Node: read by the runtime from that folder). */
  protected abstract readSource(source: ModelSource): Promise<ModelProto | SourceModel>;

  async init(): Promise<void> {
    this.runtime ??= await this.importRuntime();
  }

  async load(source: ModelSource, rawOptions?: LoadOptions): Promise<StochasticModel> {
    const options: OnnxLoadOptions = parseOnnxOptions(rawOptions);
    await this.init();
    const what = source.kind === 'path' ? source.path : undefined;
    const warnings: string[] = [];
    const cache = options.cacheDir !== undefined ? this.openCache(options.cacheDir) : null;
    if (options.cacheDir !== undefined && cache === null) {
      warnings.push(`backend '${this.name}' has no prepared-model cache here (no file system); cacheDir '${options.cacheDir}' was ignored`);
    }
    let key: string | undefined;
    let sourceBytes: Uint8Array | undefined;
    if (cache !== null) {
      // the source's bytes, undecoded: a hit opens the session without decoding or rewriting the model
      sourceBytes = await this.sourceBytes(source);
      if (sourceBytes !== undefined) {
        key = await cache.key(sourceBytes, { backend: this.name, ...(what !== undefined ? { what } : {}), options: prepareOptionsOf(options) });
        const hit = await cache.read(key);
        if (hit !== undefined) return this.open(hit, undefined, options, warnings);
      }
    }
    // a miss prepares the very bytes the key was made of (a file rewritten meanwhile cannot be cached under the old key)
    const read = sourceBytes !== undefined ? await this.readSourceBytes(source, sourceBytes) : await this.readSource(source);
    const { model, externalFolder, external } =
      'model' in read && read.model !== undefined && !('graph' in read)
        ? (read as SourceModel)
        : { model: read as ModelProto, externalFolder: undefined, external: false };
    const prepared = await this.prepare(model, options, externalFolder, what);
    const entry: CachedPrepared = { bytes: encodeModel(prepared.model), prepared, ...prefixShare(prepared) };
    // external data stays in other files, which the key does not cover: such models are never cached
    if (cache !== null && key !== undefined && external !== true && externalFolder === undefined && !this.hadExternalData(model)) {
      const warning = await cache.write(key, entry);
      if (warning !== undefined) warnings.push(warning);
    }
    return this.open(entry, externalFolder, options, warnings);
  }

  /** The session on a prepared model (fresh or from the cache: the same bytes, the same fields). */
  private open(entry: CachedPrepared, externalFolder: string | undefined, options: OnnxLoadOptions, warnings: readonly string[]): Promise<SessionModel> {
    const { prepared, bytes } = entry;
    return SessionModel.create({
      runtime: this.runtime!,
      bytes,
      backend: this.name,
      providers: options.executionProviders ?? this.defaultProviders,
      checkProvider: (ep) => this.checkProvider(ep),
      providerError: (ep, e) => this.providerError(ep, e),
      sessionOptions: {
        graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
        ...(options.intraOpNumThreads !== undefined ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
        ...externalSessionOptions(externalFolder),
      },
      ...(externalFolder !== undefined ? { hashSalt: `external data in ${externalFolder}` } : {}),
      inputs: prepared.inputs,
      outputs: prepared.outputs,
      sites: prepared.sites,
      layout: prepared.layout,
      warnings: [...prepared.warnings, ...warnings],
      inputDims: prepared.inputDims,
      prepared,
      diagnose: () => {
        const d = diagnosticModel(prepared.model);
        return { bytes: encodeModel(d.model), tensors: d.tensors };
      },
      ...(entry.shareBeforeFirstSite !== undefined ? { shareBeforeFirstSite: entry.shareBeforeFirstSite } : {}),
      ...(entry.bytesSha256 !== undefined ? { bytesSha256: entry.bytesSha256 } : {}),
    });
  }

  /**
   * The model from `bytes`, the source's bytes as read for the cache key (a path's file
   * contents), with what readSource does besides (external data); by default readSource.
   */
  protected readSourceBytes(source: ModelSource, _bytes: Uint8Array): Promise<ModelProto | SourceModel> {
    return this.readSource(source);
  }

  /** Whether `model` (as read) had external data read into it (then it is not cached). */
  protected hadExternalData(_model: ModelProto): boolean {
    return false;
  }

  /** The prepared-model cache in `dir`; null where this backend has none (browsers: no file system). */
  protected openCache(_dir: string): PreparedStore | null {
    return null;
  }

  /** The source model's bytes as given, for the cache key; undefined when it has none (a decoded object) or they cannot be read (the uncached path then reports why). */
  protected async sourceBytes(source: ModelSource): Promise<Uint8Array | undefined> {
    return source.kind === 'bytes' ? source.bytes : undefined;
  }

  /**
   * The graph preparation (see graph/prepare.ts); where static inference cannot place the rows
   * in a site tensor, the model is run on synthetic rows (on the backend's first default
   * provider) to measure them.
   */
  async prepare(model: ModelProto, rawOptions?: LoadOptions | OnnxLoadOptions, externalFolder?: string, what?: string): Promise<PreparedModel> {
    const options: OnnxLoadOptions = parseOnnxOptions(rawOptions as LoadOptions | undefined);
    await this.init();
    const runtime = this.runtime!;
    return prepareModelMeasured(
      model,
      {
        ...(options.rates ? { rates: options.rates } : {}),
        ...(options.maskInputs ? { maskInputs: options.maskInputs } : {}),
        ...(options.insertDropout ? { insertDropout: options.insertDropout } : {}),
        ...(options.scaling ? { scaling: options.scaling } : {}),
        ...(options.rewrite ? { rewrite: options.rewrite } : {}),
        ...(externalFolder !== undefined ? { keepExternal: true } : {}),
        ...(what !== undefined ? { what } : {}),
      },
      async (probe, feeds) => {
        let session: Awaited<ReturnType<typeof runtime.InferenceSession.create>>;
        try {
          session = await runtime.InferenceSession.create(encodeModel(probe), {
            logSeverityLevel: 3,
            executionProviders: [this.defaultProviders[0]!],
            ...externalSessionOptions(externalFolder),
          });
        } catch (e) {
          throw new McuError('E_RUNTIME', `onnxruntime could not load the model as it is: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`, {
            cause: e,
          });
        }
        try {
          const ortFeeds: Record<string, Tensor> = {};
          for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = new runtime.Tensor(t.dtype, t.data, t.dims);
          let out: Awaited<ReturnType<typeof session.run>>;
          try {
            out = await session.run(ortFeeds);
          } catch (e) {
            throw new McuError('E_RUNTIME', `onnxruntime failed on them: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`, { cause: e });
          }
          const dims: Record<string, readonly number[]> = {};
          for (const [k, v] of Object.entries(out)) dims[k] = [...(v as Tensor).dims].map(Number);
          return dims;
        } finally {
          await session.release();
        }
      },
    );
  }
}

/** A model as read, with the folder its external data stays in. */
export interface SourceModel {
  readonly model: ModelProto;
  readonly externalFolder?: string;
  /** It had external data (read into it, or left in `externalFolder`): not cached. */
  readonly external?: boolean;
}

/**
 * A prepared-model cache (Node's is cache/store.ts's PreparedCache): keys from the source
 * bytes and the preparation's inputs; read gives undefined for a miss or a bad entry; write
 * gives a warning instead of failing.
 */
export interface PreparedStore {
  key(source: Uint8Array, parts: { backend: string; what?: string; options: Readonly<Record<string, unknown>> }): Promise<string>;
  read(key: string): Promise<CachedPrepared | undefined>;
  write(key: string, entry: CachedPrepared): Promise<string | undefined>;
}

/**
 * The options that go into the cache key: all but those that act on the session only (an
 * option added later is in the key unless it is listed here, so it cannot be left out by mistake).
 */
function prepareOptionsOf(options: OnnxLoadOptions): Record<string, unknown> {
  const { executionProviders: _ep, graphOptimizationLevel: _level, intraOpNumThreads: _threads, cacheDir: _dir, ...rest } = options;
  void [_ep, _level, _threads, _dir];
  return rest;
}

/** onnxruntime reads external data of a model given as bytes from this folder (its default, the working directory, is refused). */
function externalSessionOptions(folder: string | undefined): { extra?: Record<string, Record<string, string>> } {
  return folder === undefined ? {} : { extra: { session: { model_external_initializers_file_folder_path: folder } } };
}

/** The share of per-row FLOPs before the first site, when the count is complete (broadcast layout only). */
function prefixShare(prepared: PreparedModel): { shareBeforeFirstSite?: number } {
  // tiled: nothing before the first site is shared between samples
  if (prepared.layout === 'tiled') return prepared.sites.length > 0 ? { shareBeforeFirstSite: 0 } : {};
  if (prepared.layout !== 'broadcast') return {};
  const flops = countFlops(prepared);
  return flops.complete && flops.perRow > 0 ? { shareBeforeFirstSite: flops.shareBeforeFirstSite } : {};
}
