import type { Backend, BackendInfo, DescribeOptions, LoadOptions, ModelSource, StochasticModel } from '@mcu/core';
import { McuError, modelFormatOf } from '@mcu/core';
import type { ExecGraph } from './graph.js';
import { parseLayersModel, parseLayersModelJson } from './keras.js';
import { folderShardReader, loadLayersModelFile } from './keras-node.js';
import { looksLikeMlp, mlpNetwork } from './mlp.js';
import { describeRuntimes } from './describe.js';
import { TfjsModel } from './model.js';
import { readOnnxFile } from './onnx-file.js';
import { parseTfjsOptions, requestedBackends, TFJS_BACKENDS, type TfjsBackendName, type TfjsOptions } from './options.js';
import { chooseBackend, loadTf, setWasmLocation, type Tf, type TfjsRuntimeSettings } from './runtime.js';
import { installedRuntimes, wasmDir } from './runtime-node.js';

/** Node: the wasm binaries are in tfjs-backend-wasm's dist/ (the same for every instance). */
const NODE_SETTINGS: TfjsRuntimeSettings = { wasmLocation: wasmDir };

/**
 * TensorFlow.js backend. Loads Keras → tfjs layers models (model.json + weight shards; any DAG
 * of layers), ONNX files (translated into tfjs ops: the same model.onnx as the onnx backend) and
 * MlpSpec objects, all compiled to one graph (graph.ts) whose dropout layers are mask inputs —
 * `model.predict` never applies dropout and `apply(training: true)` would also flip
 * BatchNorm, so neither is used.
 *
 * Runs on tfjs-node ('tensorflow') when it is installed, else wasm, else cpu; or on the one
 * named by the `backend` option. Nothing of tfjs loads before init() / load().
 */
export class TfjsBackend implements Backend {
  readonly name = 'tfjs';
  readonly #options: TfjsOptions;
  #tf: Tf | null = null;
  #default: TfjsBackendName | null = null;

  constructor(options?: TfjsOptions | LoadOptions) {
    this.#options = parseTfjsOptions(options);
  }

  /** Load tfjs and start the default backend; a requested one that fails is E_PROVIDER. */
  async init(): Promise<void> {
    if (this.#tf !== null && this.#default !== null) return;
    const tf = await loadTf();
    // Node's candidates only (the options validate them): tensorflow, wasm, cpu
    this.#default = (await chooseBackend(tf, requestedBackends(this.#options), NODE_SETTINGS)) as TfjsBackendName;
    this.#tf = tf;
  }

  /** The tfjs backend models load on by default (after init). */
  get executionProvider(): TfjsBackendName | null {
    return this.#default;
  }

  async load(source: ModelSource, rawOptions?: LoadOptions): Promise<StochasticModel> {
    const options = parseTfjsOptions(rawOptions);
    await this.init();
    const tf = this.#tf!;
    const wanted = requestedBackends(options);
    const backendName = wanted === undefined ? this.#default! : ((await chooseBackend(tf, wanted, NODE_SETTINGS)) as TfjsBackendName);
    const net = await readSource(source);
    return TfjsModel.create(tf, backendName, net);
  }

  /** Installed packages and files (default), or with `probe` each TensorFlow.js backend started. */
  async describe(options: DescribeOptions = {}): Promise<BackendInfo> {
    if (options.probe !== true) return installedRuntimes(this.name);
    // A tfjs that cannot load is reported by describeRuntimes, runtime by runtime.
    const tf = await loadTf().catch(() => undefined);
    if (tf !== undefined) setWasmLocation(tf, wasmDir);
    return describeRuntimes(this.name, TFJS_BACKENDS);
  }
}

async function readSource(source: ModelSource): Promise<ExecGraph> {
  switch (source.kind) {
    case 'path':
      if (modelFormatOf(source) === 'onnx') return readOnnxFile(source.path);
      return loadLayersModelFile(source.path);
    case 'bytes':
      if (modelFormatOf(source) === 'onnx') {
        const { onnxToGraph } = await import('./onnx/index.js');
        return onnxToGraph(source.bytes, { label: 'model.onnx (bytes)' });
      }
      return parseLayersModelJson(source.bytes, {
        ...(source.baseDir !== undefined ? { readShard: folderShardReader(source.baseDir, `${source.baseDir}/model.json`) } : {}),
        label: source.baseDir !== undefined ? `${source.baseDir}/model.json` : 'model.json (bytes)',
      });
    case 'object': {
      const v = source.value;
      if (looksLikeMlp(v)) return mlpNetwork(v);
      if (typeof v === 'object' && v !== null && 'modelTopology' in v) {
        // A parsed model.json without a folder: only weight-free models can load this way.
        return parseLayersModel(v, { label: 'model.json (object)' });
      }
      throw new McuError(
        'E_UNSUPPORTED',
        'the tfjs backend takes an MlpSpec object, a model.json or model.onnx path, or model.json / ONNX bytes (with baseDir for the weight shards)',
      );
    }
    default:
      throw new McuError('E_UNSUPPORTED', `the tfjs backend cannot load a model given as '${(source as { kind?: unknown }).kind}'`);
  }
}
