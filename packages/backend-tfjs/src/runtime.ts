import { McuError } from '@mcu/core';
import { TFJS_BACKENDS, type TfjsRuntimeName } from './options.js';

export type Tf = typeof import('@tensorflow/tfjs');

/*
 * TensorFlow.js keeps ONE engine per process with ONE active backend, so this module is the
 * single place that touches that global state: it imports tfjs lazily (nothing loads until a
 * model does), initialises backends once each, and runs every model's work under a queue
 * that first switches the engine to that model's backend — a cpu model and a wasm model can
 * live side by side without one computing on the other's backend.
 */

let tfPromise: Promise<Tf> | undefined;

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);
}

/** Import @tensorflow/tfjs once (dynamic: `mcu --help` must not load it). */
export function loadTf(): Promise<Tf> {
  tfPromise ??= (async () => {
    try {
      const mod = (await import('@tensorflow/tfjs')) as Tf & { default?: Tf };
      // Node loads the CommonJS build: named exports come through the namespace, but keep
      // the default export as a fallback for loaders that only give `default`.
      return typeof mod.tensor === 'function' ? mod : (mod.default as Tf);
    } catch (e) {
      tfPromise = undefined;
      throw new McuError('E_BACKEND', `@tensorflow/tfjs cannot be loaded (${firstLine(e)}); reinstall @mcu/backend-tfjs's dependencies`, { cause: e });
    }
  })();
  return tfPromise;
}

const ready = new Map<TfjsRuntimeName, Promise<void>>();

/**
 * Where tfjs-backend-wasm's .wasm binaries are: set by the entry point (Node: the package's
 * dist/ folder, runtime-node.ts; a browser page: the URL it serves them from). Unset: the
 * loader's own default (next to its script).
 */
let wasmLocation: (() => string) | undefined;

/** Set where the wasm binaries are looked for (before the wasm backend first starts). */
export function setWasmLocation(locate: () => string): void {
  wasmLocation = locate;
}

/** The wasm binaries' location as set, for messages ('the loader's default' when unset). */
function wasmDir(): string {
  return wasmLocation?.() ?? "tfjs-backend-wasm's default location";
}

async function initTensorflow(tf: Tf): Promise<void> {
  // A variable specifier: tfjs-node is optional and TypeScript must not require its types.
  const specifier = '@tensorflow/tfjs-node';
  try {
    await import(specifier);
  } catch (e) {
    const missing = /cannot find (module|package)|ERR_MODULE_NOT_FOUND/i.test(String((e as { code?: string }).code ?? '') + ' ' + firstLine(e));
    throw new McuError(
      'E_PROVIDER',
      missing
        ? "tfjs backend 'tensorflow' is not available: @tensorflow/tfjs-node is not installed (its install downloads libtensorflow, which needs network access to storage.googleapis.com): use --ep wasm or cpu, or install @tensorflow/tfjs-node next to @mcu/backend-tfjs"
        : `tfjs backend 'tensorflow' is not available: @tensorflow/tfjs-node failed to load (${firstLine(e)}); its native libtensorflow may be missing or built for another platform — reinstall it, or use --ep wasm or cpu`,
      { cause: e },
    );
  }
  if (tf.findBackendFactory('tensorflow') === null) {
    throw new McuError(
      'E_PROVIDER',
      "tfjs backend 'tensorflow' is not available: @tensorflow/tfjs-node loaded, but registered itself with another copy of @tensorflow/tfjs-core than @mcu/backend-tfjs uses — install matching versions (one @tensorflow/tfjs-core), or use --ep wasm or cpu",
    );
  }
}

async function initWasm(tf: Tf): Promise<void> {
  let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
  try {
    wasm = await import('@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    throw new McuError('E_PROVIDER', `tfjs backend 'wasm' is not available: @tensorflow/tfjs-backend-wasm cannot be loaded (${firstLine(e)}); reinstall it, or use --ep cpu`, { cause: e });
  }
  if (tf.findBackendFactory('wasm') === null) {
    throw new McuError(
      'E_PROVIDER',
      "tfjs backend 'wasm' is not available: @tensorflow/tfjs-backend-wasm registered itself with another copy of @tensorflow/tfjs-core than @tensorflow/tfjs uses — install matching versions, or use --ep cpu",
    );
  }
  // Point the loader at the location the entry point set (Node: the package's own dist/
  // folder, so it also works when mcu is bundled or run from another working directory).
  if (tf.engine().registry['wasm'] === undefined && wasmLocation !== undefined) {
    try {
      const setPaths = wasm.setWasmPaths ?? (wasm as unknown as { default?: typeof wasm }).default?.setWasmPaths;
      setPaths?.(wasmLocation());
    } catch {
      // Keep the loader's own default (next to its script), which works in Node too.
    }
  }
}

async function initWebgpu(tf: Tf): Promise<void> {
  // Optional: a page that wants WebGPU installs @tensorflow/tfjs-backend-webgpu next to mcu.
  const specifier = '@tensorflow/tfjs-backend-webgpu';
  try {
    await import(/* @vite-ignore */ specifier);
  } catch (e) {
    throw new McuError('E_PROVIDER', `tfjs backend 'webgpu' is not available: @tensorflow/tfjs-backend-webgpu cannot be loaded (${firstLine(e)}); install it next to @mcu/backend-tfjs, or use webgl, wasm or cpu`, { cause: e });
  }
  if (tf.findBackendFactory('webgpu') === null) {
    throw new McuError('E_PROVIDER', "tfjs backend 'webgpu' is not available: @tensorflow/tfjs-backend-webgpu registered itself with another copy of @tensorflow/tfjs-core — install matching versions, or use webgl, wasm or cpu");
  }
}

/** Initialise one tfjs backend (once per process); E_PROVIDER names it, why and the fix. */
export function ensureBackend(tf: Tf, name: TfjsRuntimeName): Promise<void> {
  let p = ready.get(name);
  if (p === undefined) {
    p = (async () => {
      if (name === 'tensorflow') await initTensorflow(tf);
      else if (name === 'wasm') await initWasm(tf);
      else if (name === 'webgpu') await initWebgpu(tf);
      else if (name === 'webgl') {
        if (tf.findBackendFactory('webgl') === null) throw new McuError('E_PROVIDER', "tfjs backend 'webgl' is not registered: @tensorflow/tfjs is incomplete — reinstall it, or use wasm or cpu");
      } else if (tf.findBackendFactory('cpu') === null) {
        throw new McuError('E_PROVIDER', "tfjs backend 'cpu' is not registered: @tensorflow/tfjs is incomplete — reinstall it");
      }
      await exclusive(tf, name, () => undefined);
      if (name === 'cpu') quietCpu(tf);
    })();
    ready.set(name, p);
    // A failure is remembered (like the registry does): the reason does not change in-process.
  }
  return p;
}

/**
 * tfjs's cpu backend prints a "Hi, looks like you are running TensorFlow.js in Node.js"
 * banner on its first tensor. mcu already reports the execution provider, so switch it off
 * on this backend instance (no global PROD mode, which would change other users' checks).
 */
function quietCpu(tf: Tf): void {
  const cpu = tf.engine().registry['cpu'] as unknown as { firstUse?: boolean } | undefined;
  if (cpu !== undefined && 'firstUse' in cpu) cpu.firstUse = false;
}

/** Pick the first backend of `candidates` that starts; all failing → one E_PROVIDER error. */
export async function chooseBackend(tf: Tf, candidates: readonly TfjsRuntimeName[] | undefined): Promise<TfjsRuntimeName> {
  const explicit = candidates !== undefined;
  const list = candidates ?? TFJS_BACKENDS;
  const reasons: string[] = [];
  for (const name of list) {
    try {
      await ensureBackend(tf, name);
      return name;
    } catch (e) {
      if (explicit && list.length === 1) throw e;
      reasons.push(firstLine(e));
    }
  }
  throw new McuError('E_PROVIDER', `no tfjs backend could be initialised (${explicit ? 'requested' : 'tried'}: ${reasons.join('; ')})`);
}

let queue: Promise<unknown> = Promise.resolve();

async function activate(tf: Tf, name: TfjsRuntimeName): Promise<void> {
  if (tf.engine().backendName === name) return;
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    throw new McuError('E_PROVIDER', `tfjs backend '${name}' could not be initialised: ${firstLine(e)}${name === 'cpu' ? '' : ' — use --ep cpu'}`, { cause: e });
  }
  if (!ok) {
    throw new McuError(
      'E_PROVIDER',
      `tfjs backend '${name}' could not be initialised (tfjs reported failure${name === 'wasm' ? '; its .wasm binaries are looked for in ' + safeWasmDir() : ''})${name === 'cpu' ? '' : ' — use --ep cpu'}`,
    );
  }
}

function safeWasmDir(): string {
  try {
    return wasmDir();
  } catch {
    return "tfjs-backend-wasm's dist/ folder";
  }
}

/**
 * Run `fn` with `name` as the engine's active backend and nobody else running in between.
 * `fn` must be synchronous (read results with dataSync inside it): that keeps the switch
 * and the work atomic.
 */
export function exclusive<T>(tf: Tf, name: TfjsRuntimeName, fn: () => T): Promise<T> {
  const next = queue.then(async () => {
    await activate(tf, name);
    return fn();
  });
  queue = next.catch(() => undefined);
  return next;
}
