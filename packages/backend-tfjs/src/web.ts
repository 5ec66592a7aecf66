/**
 * @mcu/backend-tfjs/web — the browser entry: TensorFlow.js with the `webgpu` (when
 * @tensorflow/tfjs-backend-webgpu is installed next to it), `webgl`, `wasm` and `cpu` backends,
 * and nothing that needs Node. Models come as a URL (`{ kind: 'path', path: 'https://…/model.json' }`,
 * whose weight shards are fetched next to it; or an ONNX file's URL) or as bytes (ONNX bytes, or
 * model.json bytes with `baseDir` = the URL folder of its shards).
 */
import { ContainerModule } from 'inversify';
import { bindBackend, McuError, modelFormatOf, type Backend, type BackendInfo, type LoadOptions, type ModelSource, type StochasticModel } from '@mcu/core';
import type { ExecGraph } from './graph.js';
import { parseLayersModelJson } from './keras.js';
import { describeRuntimes } from './describe.js';
import { TfjsModel } from './model.js';
import { TFJS_WEB_BACKENDS, type TfjsRuntimeName } from './options.js';
import { chooseBackend, loadTf, setWasmLocation, type Tf } from './runtime.js';

export { TFJS_WEB_BACKENDS, type TfjsRuntimeName };

/** Options of the browser backend. */
export interface TfjsWebConfig {
  /**
   * Where the page serves tfjs-backend-wasm's .wasm files (a URL folder ending in '/'). The page
   * has one TensorFlow.js engine, which loads them once: every tfjs-web backend that starts wasm
   * must give the same folder (or none); a different one is E_CONFIG.
   */
  readonly wasmPaths?: string;
  /** Backends to try in order (default: webgpu, webgl, wasm, cpu). */
  readonly backends?: readonly TfjsRuntimeName[];
}

async function fetchBytes(url: string, what: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new McuError('E_FILE', `cannot fetch ${what} '${url}' (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
  if (!res.ok) throw new McuError('E_FILE', `cannot fetch ${what} '${url}': HTTP ${res.status} ${res.statusText}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** Shards of a model.json at `base` (a URL): fetched relative to it, never from another origin. */
function urlShardReader(base: string): (path: string) => Promise<Uint8Array> {
  return async (p) => {
    const url = new URL(p, base);
    if (url.origin !== new URL(base).origin) throw new McuError('E_MODEL', `weight shard '${p}' points to another origin than its model.json (${base})`);
    return fetchBytes(url.href, 'weight shard');
  };
}

async function graphOf(source: ModelSource): Promise<ExecGraph> {
  if (source.kind === 'path') {
    const bytes = await fetchBytes(source.path, 'model');
    if (modelFormatOf({ kind: 'bytes', bytes }) === 'onnx') {
      const { onnxToGraph } = await import('./onnx/index.js');
      return onnxToGraph(bytes, { label: source.path });
    }
    return parseLayersModelJson(bytes, { label: source.path, readShard: urlShardReader(source.path) });
  }
  if (source.kind === 'bytes') {
    if (modelFormatOf(source) === 'onnx') {
      const { onnxToGraph } = await import('./onnx/index.js');
      return onnxToGraph(source.bytes, { label: 'model.onnx (bytes)' });
    }
    const base = source.baseDir;
    return parseLayersModelJson(source.bytes, {
      label: base !== undefined ? `${base}model.json` : 'model.json (bytes)',
      ...(base !== undefined ? { readShard: urlShardReader(base.endsWith('/') ? base : `${base}/`) } : {}),
    });
  }
  throw new McuError('E_UNSUPPORTED', `the tfjs web backend takes a URL or bytes (model.json with baseDir, or ONNX); got a model given as '${source.kind}'`);
}

/** TensorFlow.js in a browser page. */
export class TfjsWebBackend implements Backend {
  readonly name = 'tfjs-web';
  readonly #config: TfjsWebConfig;
  #tf: Tf | null = null;
  #runtime: TfjsRuntimeName | null = null;

  constructor(config: TfjsWebConfig = {}) {
    this.#config = config;
  }

  async init(): Promise<void> {
    if (this.#tf !== null) return;
    const where = this.#config.wasmPaths;
    const tf = await loadTf();
    this.#runtime = await chooseBackend(tf, this.#config.backends ?? TFJS_WEB_BACKENDS, where !== undefined ? { wasmLocation: () => where } : {});
    this.#tf = tf;
  }

  async load(source: ModelSource, _options?: LoadOptions): Promise<StochasticModel> {
    await this.init();
    return TfjsModel.create(this.#tf!, this.#runtime!, await graphOf(source));
  }

  async describe(): Promise<BackendInfo> {
    // Probing wasm starts it: from this backend's location, as init() would.
    const where = this.#config.wasmPaths;
    const tf = where !== undefined ? await loadTf().catch(() => undefined) : undefined;
    if (tf !== undefined) setWasmLocation(tf, () => where!);
    return describeRuntimes(this.name, this.#config.backends ?? TFJS_WEB_BACKENDS);
  }
}

/** Registers 'tfjs-web' for browser pages (layers models and ONNX files). */
export function tfjsWebModule(config: TfjsWebConfig = {}): ContainerModule {
  return new ContainerModule((options) => {
    bindBackend(options, { name: 'tfjs-web', priority: 2, formats: ['tfjs-layers', 'onnx'], create: () => new TfjsWebBackend(config) });
  });
}
