import type { Backend, LoadOptions, ModelSource, StochasticModel } from '@mcu/core';
import { countFlops } from './graph/flops.js';
import { prepareModel, type PreparedModel } from './graph/prepare.js';
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
  protected abstract readSource(source: ModelSource): Promise<ModelProto>;

  async init(): Promise<void> {
    this.runtime ??= await this.importRuntime();
  }

  async load(source: ModelSource, rawOptions?: LoadOptions): Promise<StochasticModel> {
    const options: OnnxLoadOptions = parseOnnxOptions(rawOptions);
    await this.init();
    const model = await this.readSource(source);
    const prepared = prepareModel(model, {
      ...(options.rates ? { rates: options.rates } : {}),
      ...(options.maskInputs ? { maskInputs: options.maskInputs } : {}),
      ...(options.insertDropout ? { insertDropout: options.insertDropout } : {}),
      ...(options.scaling ? { scaling: options.scaling } : {}),
    });
    return SessionModel.create({
      runtime: this.runtime!,
      bytes: encodeModel(prepared.model),
      backend: this.name,
      providers: options.executionProviders ?? this.defaultProviders,
      checkProvider: (ep) => this.checkProvider(ep),
      providerError,
      sessionOptions: {
        graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
        ...(options.intraOpNumThreads !== undefined ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
      },
      inputs: prepared.inputs,
      outputs: prepared.outputs,
      sites: prepared.sites,
      layout: prepared.layout,
      warnings: prepared.warnings,
      ...prefixShare(prepared),
    });
  }
}

/** The share of per-row FLOPs before the first site, when the count is complete (broadcast layout only). */
function prefixShare(prepared: PreparedModel): { shareBeforeFirstSite?: number } {
  if (prepared.layout !== 'broadcast') return {};
  const flops = countFlops(prepared);
  return flops.complete && flops.perRow > 0 ? { shareBeforeFirstSite: flops.shareBeforeFirstSite } : {};
}
