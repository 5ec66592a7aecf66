import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend, BackendInfo, LoadOptions, ModelSource, StochasticModel } from '@mcu/core';
import { McuError } from '@mcu/core';
import { inlineExternalData, loadModelFile, prepareModel } from './graph/index.js';
import { decodeModel, encodeModel } from './proto/index.js';
import type { ModelProto } from './proto/index.js';
import { parseOnnxOptions, type OnnxLoadOptions } from './options.js';
import { checkNodeProvider, NODE_PROVIDERS, providerError } from './runtime/providers.js';
import { SessionModel, type OrtRuntime } from './runtime/session-model.js';

async function readSource(source: ModelSource): Promise<ModelProto> {
  switch (source.kind) {
    case 'path':
      return loadModelFile(source.path);
    case 'bytes': {
      const model = decodeModel(source.bytes);
      // External data (weights in a side file) is read relative to the folder the caller names.
      await inlineExternalData(model, source.baseDir, 'model');
      return model;
    }
    case 'object':
      return source.value as ModelProto;
  }
}

abstract class OrtBackend implements Backend {
  abstract readonly name: string;
  protected abstract readonly defaultProviders: readonly string[];
  protected runtime: OrtRuntime | null = null;
  protected abstract importRuntime(): Promise<OrtRuntime>;
  protected abstract checkProvider(ep: string): void;

  async init(): Promise<void> {
    this.runtime ??= await this.importRuntime();
  }

  async load(source: ModelSource, rawOptions?: LoadOptions): Promise<StochasticModel> {
    const options: OnnxLoadOptions = parseOnnxOptions(rawOptions);
    await this.init();
    const model = await readSource(source);
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
    });
  }
}

/** onnxruntime-node: cpu always; webgpu where a Vulkan adapter exists; cuda when its binaries were installed. */
export class OnnxNodeBackend extends OrtBackend {
  readonly name = 'onnx';
  protected readonly defaultProviders = ['cpu'];

  protected async importRuntime(): Promise<OrtRuntime> {
    try {
      return (await import('onnxruntime-node')) as unknown as OrtRuntime;
    } catch (e) {
      throw new McuError('E_BACKEND', `onnxruntime-node cannot be loaded (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); reinstall it, or use the onnx-web backend (wasm)`, { cause: e });
    }
  }

  protected checkProvider(ep: string): void {
    checkNodeProvider(ep);
  }

  async describe(): Promise<BackendInfo> {
    let available = true;
    let reason: string | undefined;
    try {
      await this.init();
    } catch (e) {
      available = false;
      reason = e instanceof Error ? e.message : String(e);
    }
    const providers = await Promise.all(
      NODE_PROVIDERS.map(async (ep) => {
        if (!available) return { name: ep, available: false, reason: 'onnxruntime-node is not available' };
        try {
          checkNodeProvider(ep);
          if (ep === 'webgpu') await probeWebGpu(this.runtime!);
          return { name: ep, available: true };
        } catch (e) {
          return { name: ep, available: false, reason: e instanceof Error ? e.message : String(e) };
        }
      }),
    );
    return { name: this.name, available, ...(reason ? { reason } : {}), executionProviders: providers };
  }
}

/** A one-node model (Identity on float[1]) to ask a provider whether it can start. */
function probeModel(): Uint8Array {
  const io = (name: string) => ({
    name,
    type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 1n }] } } },
  });
  return encodeModel({
    ir_version: 7n,
    opset_import: [{ domain: '', version: 13n }],
    graph: { name: 'probe', node: [{ op_type: 'Identity', input: ['x'], output: ['y'] }], input: [io('x')], output: [io('y')] },
  });
}

/** Linux: the WebGPU EP reaches the GPU through Vulkan; without its loader the probe only prints noise. */
function vulkanLoaderMissing(): boolean {
  if (process.platform !== 'linux') return false;
  const dirs = [
    ...(process.env['LD_LIBRARY_PATH'] ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib',
  ];
  return !dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
}

async function probeWebGpu(runtime: OrtRuntime): Promise<void> {
  if (vulkanLoaderMissing()) {
    throw new McuError('E_PROVIDER', "execution provider 'webgpu' cannot start: the Vulkan loader (libvulkan.so.1) is not installed — install libvulkan1 and a GPU driver with a Vulkan ICD (see shared/gpu/README.md), or use --ep cpu");
  }
  try {
    const s = await runtime.InferenceSession.create(probeModel(), { executionProviders: ['webgpu'], logSeverityLevel: 4 });
    await s.release();
  } catch (e) {
    throw providerError('webgpu', e);
  }
}

/** onnxruntime-web: wasm, in Node without native code and in browser bundles. */
export class OnnxWebBackend extends OrtBackend {
  readonly name = 'onnx-web';
  protected readonly defaultProviders = ['wasm'];

  protected async importRuntime(): Promise<OrtRuntime> {
    try {
      const ort = await import('onnxruntime-web');
      // One thread: worker threads need a cross-origin-isolated page in browsers, and in Node
      // the native backend is the fast path anyway.
      ort.env.wasm.numThreads = 1;
      return ort as unknown as OrtRuntime;
    } catch (e) {
      throw new McuError('E_BACKEND', `onnxruntime-web cannot be loaded (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`, { cause: e });
    }
  }

  protected checkProvider(ep: string): void {
    if (ep !== 'wasm') {
      throw new McuError('E_CONFIG', `execution provider '${ep}' is not supported by the onnx-web backend in mcu; supported: wasm (use backend 'onnx' for cpu, webgpu, cuda)`);
    }
  }

  async describe(): Promise<BackendInfo> {
    try {
      await this.init();
      return { name: this.name, available: true, executionProviders: [{ name: 'wasm', available: true }] };
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      return { name: this.name, available: false, reason, executionProviders: [{ name: 'wasm', available: false, reason }] };
    }
  }
}
