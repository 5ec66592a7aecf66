import type { BackendInfo, DescribeOptions, ModelSource } from '@mcu/core';
import { McuError } from '@mcu/core';
import { decodeModel, type ModelProto } from './proto/index.js';
import { OrtBackend } from './ort-backend.js';
import type { OrtRuntime } from './runtime/session-model.js';

/** The part of onnxruntime-web's `env.wasm` (one per page or process) that mcu reads or sets. */
export interface OrtWasmFlags {
  numThreads?: number;
  wasmPaths?: unknown;
  initTimeout?: number;
  proxy?: boolean;
  trace?: boolean;
}

function shown(paths: unknown): string {
  return typeof paths === 'string' ? `'${paths}'` : JSON.stringify(paths);
}

/**
 * onnxruntime-web fills in its flags (`initTimeout`, `proxy`, `trace`, `numThreads`) when it
 * starts its WebAssembly runtime, once per page; after that, changing them has no effect.
 */
function started(flags: OrtWasmFlags): boolean {
  return typeof flags.initTimeout === 'number' && typeof flags.proxy === 'boolean' && typeof flags.trace === 'boolean' && typeof flags.numThreads === 'number';
}

/**
 * Apply one onnx-web backend's settings to onnxruntime-web's flags, which are global (one per
 * page or process) — as a careful guest: a value the page (or another mcu instance) set is
 * never overwritten.
 *
 * - `numThreads`: set to 1 only when nobody set it (worker threads need a cross-origin-isolated
 *   page in browsers, and in Node the native backend is the fast path anyway); a page that set
 *   it keeps its own.
 * - `wasmPaths`: set when asked for and nobody set it. A different value already there (the
 *   page's, or another instance's), or a runtime that already started from its default
 *   location, is E_CONFIG: onnxruntime-web loads its .wasm once per page, so two locations in
 *   one page cannot both hold.
 */
export function applyWasmFlags(flags: OrtWasmFlags, wanted: { readonly wasmPaths?: string }): void {
  const asked = wanted.wasmPaths;
  if (asked !== undefined) {
    const current = flags.wasmPaths;
    if (current !== undefined && current !== asked) {
      throw new McuError(
        'E_CONFIG',
        `onnx-web: wasmPaths ${shown(asked)} was asked for, but onnxruntime-web's env.wasm.wasmPaths in this page is already ${shown(current)} ` +
          `(set by the page or by another mcu instance); onnxruntime-web loads its .wasm files once per page from one place — give every onnxWebModule the same wasmPaths, or none to use the page's`,
      );
    }
    if (current === undefined && started(flags)) {
      throw new McuError(
        'E_CONFIG',
        `onnx-web: wasmPaths ${shown(asked)} was asked for, but onnxruntime-web has already started its WebAssembly runtime in this page from its default location, ` +
          `and it starts once per page — pass wasmPaths to the first onnxWebModule created (before any session), or none`,
      );
    }
    flags.wasmPaths = asked;
  }
  if (flags.numThreads === undefined) flags.numThreads = 1;
}

/** onnxruntime-web: wasm, in Node without native code and in browser bundles. */
export class OnnxWebBackend extends OrtBackend {
  readonly name = 'onnx-web';
  protected readonly defaultProviders = ['wasm'];

  /**
   * onnxruntime-web's settings are one per page: this backend reads them first and sets only what
   * nobody set (see {@link applyWasmFlags}) — `numThreads` becomes 1 unless the page chose a value.
   *
   * @param options.wasmPaths where the page serves onnxruntime-web's .wasm files (a URL prefix,
   *   e.g. '/ort/'); by default onnxruntime-web looks next to its own script. Every instance in one
   *   page must ask for the same location (or none); a different one is E_CONFIG at init.
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
        throw new McuError(
          'E_UNSUPPORTED',
          `the onnx-web backend in a browser cannot read '${source.path}': fetch the model and pass its bytes ({ kind: 'bytes', bytes })`,
        );
    }
  }

  protected async importRuntime(): Promise<OrtRuntime> {
    let ort: typeof import('onnxruntime-web');
    try {
      ort = await import('onnxruntime-web');
    } catch (e) {
      throw new McuError(
        'E_BACKEND',
        `onnxruntime-web cannot be loaded (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); it is a peer dependency of @mcu/backend-onnx: install it next to it (npm install onnxruntime-web)`,
        { cause: e },
      );
    }
    applyWasmFlags(ort.env.wasm as OrtWasmFlags, this.options);
    return ort as unknown as OrtRuntime;
  }

  /**
   * wasm everywhere; webgpu in a browser that has WebGPU (navigator.gpu; onnxruntime-web's default
   * build carries its WebGPU provider). A page that lists `['webgpu', 'wasm']` falls back to wasm
   * where no GPU adapter starts, with a warning, and `meta.executionProvider` says which ran.
   */
  protected checkProvider(ep: string): void {
    if (ep === 'wasm') return;
    if (ep === 'webgpu') {
      const gpu = (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu;
      if (gpu === undefined) {
        throw new McuError(
          'E_PROVIDER',
          "execution provider 'webgpu' needs WebGPU (navigator.gpu), which this page does not have: list 'wasm' after it as a fallback (executionProviders: ['webgpu', 'wasm']), or use 'wasm'",
        );
      }
      return;
    }
    throw new McuError(
      'E_CONFIG',
      `execution provider '${ep}' is not supported by the onnx-web backend in mcu; supported: wasm, and webgpu in a browser with WebGPU (in Node: backend 'onnx' for cpu, webgpu, cuda)`,
    );
  }

  /** webgpu that does not start in a page: no adapter (no GPU, or WebGPU off in the browser); the fix is the wasm fallback. */
  protected override providerError(ep: string, e: unknown): McuError {
    if (ep !== 'webgpu') return super.providerError(ep, e);
    const first = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);
    return new McuError(
      'E_PROVIDER',
      `execution provider 'webgpu' could not be initialised in this page: ${first} — no usable GPU adapter here; list 'wasm' after it as a fallback (executionProviders: ['webgpu', 'wasm']), or use 'wasm'`,
      { cause: e },
    );
  }

  /** A page has no installed files to look at: onnxruntime-web is started (probed) whatever `options` say. */
  async describe(_options: DescribeOptions = {}): Promise<BackendInfo> {
    try {
      await this.init();
      return { name: this.name, available: true, probed: true, executionProviders: [{ name: 'wasm', available: true }] };
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      return { name: this.name, available: false, probed: true, reason, executionProviders: [{ name: 'wasm', available: false, reason }] };
    }
  }
}
