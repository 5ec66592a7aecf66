import type { BackendInfo, DescribeOptions, ModelSource } from '@mcu/core';
import { McuError } from '@mcu/core';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { PreparedCache } from './cache/store.js';
import { checkExternalData, inlineExternalData, readModelFile } from './graph/external.js';
import { decodeModel, encodeModel } from './proto/index.js';
import { OnnxWebBackend } from './backend-web.js';
import { OrtBackend, type PreparedStore, type SourceModel } from './ort-backend.js';
import type { ModelProto } from './proto/index.js';
import { providerError } from './runtime/provider-errors.js';
import { checkNodeProvider, NODE_PROVIDERS } from './runtime/providers.js';
import { optOutOfOrtTelemetry } from './runtime/telemetry.js';
import { installedNode, installedWeb, VULKAN_MISSING, vulkanLoaderMissing } from './runtime/installed.js';
import type { OrtRuntime } from './runtime/session-model.js';

/**
 * Node: paths (with external data beside them), bytes (external data relative to `baseDir`),
 * objects. External data is checked, not read: onnxruntime reads it from the model's folder,
 * so a model whose weights exceed protobuf's 2 GiB limit loads too.
 */
async function readNodeSource(source: ModelSource): Promise<SourceModel> {
  switch (source.kind) {
    case 'path': {
      const f = await readModelFile(source.path);
      return { model: f.model, ...(f.externalFolder !== undefined ? { externalFolder: f.externalFolder, external: true } : {}) };
    }
    case 'bytes': {
      const model = decodeModel(source.bytes);
      const ext = await checkExternalData(model, source.baseDir, 'model');
      return { model, ...(ext.folder !== undefined ? { externalFolder: ext.folder, external: true } : {}) };
    }
    case 'object': {
      const model = source.value as ModelProto;
      return { model };
    }
  }
}

/**
 * A model file's bytes for the cache key, undefined when they cannot be read: the uncached
 * path then reads the file itself and reports why.
 */
async function nodeSourceBytes(source: ModelSource): Promise<Uint8Array | undefined> {
  if (source.kind === 'bytes') return source.bytes;
  if (source.kind !== 'path' || typeof source.path !== 'string' || source.path === '') return undefined;
  try {
    // a directory, a pipe or a device is refused by the uncached path, with its message
    if (!(await stat(source.path)).isFile()) return undefined;
    const b = await readFile(source.path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch {
    return undefined;
  }
}

/**
 * A model file's bytes (as read for the cache key) decoded as readModelFile / loadModelFile
 * decode the file: the same messages (named by the path) and the same external-data checks
 * against the model's folder.
 */
function decodeFileBytes(path: string, bytes: Uint8Array): { model: ModelProto; folder: string } {
  return { model: decodeModel(bytes, path), folder: dirname(resolve(path)) };
}

/** onnxruntime-node: cpu always; webgpu where a Vulkan adapter exists; cuda when its binaries were installed. */
export class OnnxNodeBackend extends OrtBackend {
  readonly name = 'onnx';
  protected readonly defaultProviders = ['cpu'];

  protected async importRuntime(): Promise<OrtRuntime> {
    // before onnxruntime initialises: its telemetry is on by default (runtime/telemetry.ts)
    optOutOfOrtTelemetry();
    try {
      // require, not import(): onnxruntime-node is CommonJS, and Node's ESM loader would read each
      // of its files asynchronously and scan them for named exports (≈ 10 ms of every start)
      return createRequire(import.meta.url)('onnxruntime-node') as OrtRuntime;
    } catch (e) {
      throw new McuError(
        'E_BACKEND',
        `onnxruntime-node cannot be loaded (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); it is a peer dependency of @mcu/backend-onnx: install it next to it (npm install onnxruntime-node; ONNXRUNTIME_NODE_INSTALL=skip skips its CUDA download), or use the onnx-web backend (wasm)`,
        { cause: e },
      );
    }
  }

  protected checkProvider(ep: string): void {
    checkNodeProvider(ep);
  }

  protected readSource(source: ModelSource): Promise<SourceModel> {
    return readNodeSource(source);
  }

  protected override openCache(dir: string): PreparedStore {
    return new PreparedCache(dir);
  }

  protected override sourceBytes(source: ModelSource): Promise<Uint8Array | undefined> {
    return nodeSourceBytes(source);
  }

  protected override async readSourceBytes(source: ModelSource, bytes: Uint8Array): Promise<SourceModel> {
    if (source.kind !== 'path') return readNodeSource(source);
    const { model, folder } = decodeFileBytes(source.path, bytes);
    const ext = await checkExternalData(model, folder, source.path);
    return { model, ...(ext.folder !== undefined ? { externalFolder: ext.folder, external: true } : {}) };
  }

  /** Installed files (default), or with `probe` onnxruntime-node loaded and each provider started. */
  async describe(options: DescribeOptions = {}): Promise<BackendInfo> {
    if (options.probe !== true) return installedNode(this.name);
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
    return { name: this.name, available, probed: true, ...(reason ? { reason } : {}), executionProviders: providers };
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

async function probeWebGpu(runtime: OrtRuntime): Promise<void> {
  if (vulkanLoaderMissing()) {
    throw new McuError('E_PROVIDER', `execution provider 'webgpu' cannot start: ${VULKAN_MISSING}`);
  }
  try {
    const s = await runtime.InferenceSession.create(probeModel(), { executionProviders: ['webgpu'], logSeverityLevel: 4 });
    await s.release();
  } catch (e) {
    throw providerError('webgpu', e);
  }
}

/** onnxruntime-web in Node: the browser backend, plus model files and their external data (inlined: the wasm runtime takes one buffer). */
export class OnnxWebNodeBackend extends OnnxWebBackend {
  /** wasm only: onnxruntime-web has no WebGPU in Node (backend 'onnx' runs webgpu there). */
  protected override checkProvider(ep: string): void {
    if (ep !== 'wasm') {
      throw new McuError(
        'E_CONFIG',
        `execution provider '${ep}' is not supported by the onnx-web backend in Node; supported: wasm (use backend 'onnx' for cpu, webgpu, cuda)`,
      );
    }
  }

  /** Installed files (default: onnxruntime-web's .wasm runtime), or with `probe` onnxruntime-web started. */
  override async describe(options: DescribeOptions = {}): Promise<BackendInfo> {
    return options.probe === true ? super.describe(options) : installedWeb(this.name);
  }

  /** Models whose external data was read into them: not cached (their weights came from other files). */
  readonly #inlined = new WeakSet<ModelProto>();

  protected override async readSource(source: ModelSource): Promise<ModelProto> {
    switch (source.kind) {
      case 'path': {
        const f = await readModelFile(source.path);
        if (f.externalFolder !== undefined) {
          await inlineExternalData(f.model, dirname(resolve(source.path)), source.path);
          this.#inlined.add(f.model);
        }
        return f.model;
      }
      case 'bytes': {
        const model = decodeModel(source.bytes);
        if ((await inlineExternalData(model, source.baseDir, 'model')) > 0) this.#inlined.add(model);
        return model;
      }
      case 'object':
        return source.value as ModelProto;
    }
  }

  protected override async readSourceBytes(source: ModelSource, bytes: Uint8Array): Promise<ModelProto> {
    if (source.kind !== 'path') return this.readSource(source);
    const { model, folder } = decodeFileBytes(source.path, bytes);
    if ((await inlineExternalData(model, folder, source.path)) > 0) this.#inlined.add(model);
    return model;
  }

  protected override hadExternalData(model: ModelProto): boolean {
    return this.#inlined.has(model);
  }

  protected override openCache(dir: string): PreparedStore {
    return new PreparedCache(dir);
  }

  protected override sourceBytes(source: ModelSource): Promise<Uint8Array | undefined> {
    return nodeSourceBytes(source);
  }
}

export { OnnxWebBackend };
