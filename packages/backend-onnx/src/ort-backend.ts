import { McuError, type Backend, type LoadOptions, type ModelSource, type StochasticModel } from '@mcu/core';
import type { Tensor } from 'onnxruntime-common';
import { diagnosticModel } from './graph/diagnose.js';
import { countFlops } from './graph/flops.js';
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
    const read = await this.readSource(source);
    const { model, externalFolder } =
      'model' in read && read.model !== undefined && !('graph' in read) ? (read as SourceModel) : { model: read as ModelProto, externalFolder: undefined };
    const prepared = await this.prepare(model, options, externalFolder, source.kind === 'path' ? source.path : undefined);
    const extra = externalSessionOptions(externalFolder);
    return SessionModel.create({
      runtime: this.runtime!,
      bytes: encodeModel(prepared.model),
      backend: this.name,
      providers: options.executionProviders ?? this.defaultProviders,
      checkProvider: (ep) => this.checkProvider(ep),
      providerError: (ep, e) => this.providerError(ep, e),
      sessionOptions: {
        graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
        ...(options.intraOpNumThreads !== undefined ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
        ...extra,
      },
      ...(externalFolder !== undefined ? { hashSalt: `external data in ${externalFolder}` } : {}),
      inputs: prepared.inputs,
      outputs: prepared.outputs,
      sites: prepared.sites,
      layout: prepared.layout,
      warnings: prepared.warnings,
      inputDims: prepared.inputDims,
      prepared,
      diagnose: () => {
        const d = diagnosticModel(prepared.model);
        return { bytes: encodeModel(d.model), tensors: d.tensors };
      },
      ...prefixShare(prepared),
    });
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
