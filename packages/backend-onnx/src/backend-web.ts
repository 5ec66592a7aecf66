import type { BackendInfo, ModelSource } from '@mcu/core';
import { McuError } from '@mcu/core';
import { decodeModel, type ModelProto } from './proto/index.js';
import { OrtBackend } from './ort-backend.js';
import type { OrtRuntime } from './runtime/session-model.js';

/** onnxruntime-web: wasm, in Node without native code and in browser bundles. */
export class OnnxWebBackend extends OrtBackend {
  readonly name = 'onnx-web';
  protected readonly defaultProviders = ['wasm'];

  /**
   * @param options.wasmPaths where the page serves onnxruntime-web's .wasm files (a URL prefix,
   *   e.g. '/ort/'); by default onnxruntime-web looks next to its own script.
   */
  constructor(private readonly options: { readonly wasmPaths?: string } = {}) {
    super();
  }

  /** Browser: a model comes as bytes (fetch it first) or as a decoded object; no file system. */
  protected async readSource(source: ModelSource): Promise<ModelProto> {
    switch (source.kind) {
      case 'bytes':
        return decodeModel(source.bytes);
      case 'object':
        return source.value as ModelProto;
      case 'path':
        throw new McuError('E_UNSUPPORTED', `the onnx-web backend in a browser cannot read '${source.path}': fetch the model and pass its bytes ({ kind: 'bytes', bytes })`);
    }
  }

  protected async importRuntime(): Promise<OrtRuntime> {
    try {
      const ort = await import('onnxruntime-web');
      // One thread: worker threads need a cross-origin-isolated page in browsers, and in Node
      // the native backend is the fast path anyway.
      ort.env.wasm.numThreads = 1;
      if (this.options.wasmPaths !== undefined) ort.env.wasm.wasmPaths = this.options.wasmPaths;
      return ort as unknown as OrtRuntime;
    } catch (e) {
      throw new McuError(
        'E_BACKEND',
        `onnxruntime-web cannot be loaded (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); it is a peer dependency of @mcu/backend-onnx: install it next to it (npm install onnxruntime-web)`,
        { cause: e },
      );
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
