import { McuError } from '@mcu/core';
import { TFJS_BACKENDS, type TfjsRuntimeName } from './options.js';

export type Tf = typeof import('@tensorflow/tfjs');

/*
 * TensorFlow.js keeps ONE engine per process with ONE active backend; what goes with that
 * engine — which tfjs backends started (or why they failed), where the wasm binaries were
 * looked for, and the queue that switches the engine to a model's backend before its work —
 * is kept per engine (a WeakMap keyed on `tf.engine()`), not in module variables, and each mcu
 * backend instance states its own settings: a second instance asking for another wasm location
 * after the engine's wasm backend started is refused (E_CONFIG), not silently ignored. A cpu
 * model and a wasm model live side by side without one computing on the other's backend.
 */

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);
}

/**
 * Import @tensorflow/tfjs (dynamic: `mcu --help` must not load it). The module loader keeps
 * the one copy, so there is nothing to memoise here.
 */
export async function loadTf(): Promise<Tf> {
  try {
    const mod = (await import('@tensorflow/tfjs')) as Tf & { default?: Tf };
    // Node loads the CommonJS build: named exports come through the namespace, but keep
    // the default export as a fallback for loaders that only give `default`.
    return typeof mod.tensor === 'function' ? mod : (mod.default as Tf);
  } catch (e) {
    throw new McuError('E_BACKEND', `@tensorflow/tfjs cannot be loaded (${firstLine(e)}); reinstall @mcu/backend-tfjs's dependencies`, { cause: e });
  }
}

/** What one tfjs engine has been through: shared by every mcu backend on that engine, because the engine is. */
interface EngineState {
  /** Memoised starts: every caller awaits the same promise; a failure is remembered (its reason does not change in-process). */
  readonly ready: Map<TfjsRuntimeName, Promise<void>>;
  /** Where the wasm binaries are looked for, once an instance has said so (or the wasm backend started). */
  wasm?: { readonly locate: (() => string) | undefined; readonly started: boolean };
  /** The tail of the work queue (see {@link exclusive}). */
  queue: Promise<unknown>;
}

const engines = new WeakMap<object, EngineState>();

/**
 * Locations given through the deprecated one-argument {@link setWasmLocation}, before any engine
 * was at hand: claimed for the next engine this module touches (the one `loadTf()` gives), then
 * dropped. Empty unless a caller still uses that form.
 */
const unclaimed: (() => string)[] = [];

function stateOf(tf: Tf): EngineState {
  const key = tf.engine() as object;
  let s = engines.get(key);
  if (s === undefined) engines.set(key, (s = { ready: new Map(), queue: Promise.resolve() }));
  while (unclaimed.length > 0) claim(s, unclaimed.shift()!);
  return s;
}

/** Settings one mcu backend instance brings to the engine. */
export interface TfjsRuntimeSettings {
  /**
   * Where tfjs-backend-wasm's .wasm binaries are (Node: the package's dist/ folder, see
   * runtime-node.ts; a browser page: the URL it serves them from). Omitted: the location an
   * earlier instance gave, else the loader's own default (next to its script).
   */
  readonly wasmLocation?: () => string;
}

function resolved(locate: (() => string) | undefined): string {
  if (locate === undefined) return "tfjs-backend-wasm's default location";
  try {
    return locate();
  } catch {
    return "tfjs-backend-wasm's dist/ folder";
  }
}

/**
 * Say where the wasm binaries of this engine are. The first location given holds for the
 * engine (tfjs-backend-wasm reads it once, when its backend starts); the same location again is
 * fine, a different one is E_CONFIG naming both.
 */
export function setWasmLocation(tf: Tf, locate: () => string): void;
/**
 * @deprecated Pass the engine: `setWasmLocation(await loadTf(), locate)`, or give
 * `{ wasmLocation }` to {@link chooseBackend} / {@link ensureBackend}. This form claims `locate`
 * for the engine this module next works with (the one `loadTf()` gives).
 */
export function setWasmLocation(locate: () => string): void;
export function setWasmLocation(tfOrLocate: Tf | (() => string), locate?: () => string): void {
  if (typeof tfOrLocate === 'function') unclaimed.push(tfOrLocate);
  else claim(stateOf(tfOrLocate), locate!);
}

function claim(s: EngineState, locate: () => string): void {
  if (s.wasm === undefined) {
    s.wasm = { locate, started: false };
    return;
  }
  if (s.wasm.locate === locate) return;
  const had = resolved(s.wasm.locate);
  const asked = resolved(locate);
  if (had === asked) return;
  throw new McuError(
    'E_CONFIG',
    `tfjs: the wasm binaries were asked for in '${asked}', but this page's (process's) TensorFlow.js engine ${s.wasm.started ? 'started its wasm backend' : 'was told by another mcu instance to look for them'} in '${had}'; ` +
      'tfjs-backend-wasm loads them once per engine — give every tfjs backend the same wasmPaths, or none',
  );
}

/** The wasm binaries' location of this engine, for messages. */
function wasmDir(tf: Tf): string {
  return resolved(stateOf(tf).wasm?.locate);
}

async function initTensorflow(tf: Tf): Promise<void> {
  // A variable specifier: tfjs-node is optional and TypeScript must not require its types.
  const specifier = '@tensorflow/tfjs-node';
  try {
    await import(specifier);
  } catch (e) {
    const missing = /cannot find (module|package)|ERR_MODULE_NOT_FOUND/i.test(`${String((e as { code?: string }).code ?? '')} ${firstLine(e)}`);
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
    throw new McuError(
      'E_PROVIDER',
      `tfjs backend 'wasm' is not available: @tensorflow/tfjs-backend-wasm cannot be loaded (${firstLine(e)}); reinstall it, or use --ep cpu`,
      { cause: e },
    );
  }
  if (tf.findBackendFactory('wasm') === null) {
    throw new McuError(
      'E_PROVIDER',
      "tfjs backend 'wasm' is not available: @tensorflow/tfjs-backend-wasm registered itself with another copy of @tensorflow/tfjs-core than @tensorflow/tfjs uses — install matching versions, or use --ep cpu",
    );
  }
  // Point the loader at the location an instance gave (Node: the package's own dist/ folder,
  // so it also works when mcu is bundled or run from another working directory). From here on
  // the engine's location is fixed: a later, different one is refused by setWasmLocation.
  const s = stateOf(tf);
  const locate = s.wasm?.locate;
  s.wasm = { locate, started: true };
  if (tf.engine().registry['wasm'] === undefined && locate !== undefined) {
    try {
      const setPaths = wasm.setWasmPaths ?? (wasm as unknown as { default?: typeof wasm }).default?.setWasmPaths;
      setPaths?.(locate());
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
    throw new McuError(
      'E_PROVIDER',
      `tfjs backend 'webgpu' is not available: @tensorflow/tfjs-backend-webgpu cannot be loaded (${firstLine(e)}); install it next to @mcu/backend-tfjs, or use webgl, wasm or cpu`,
      { cause: e },
    );
  }
  if (tf.findBackendFactory('webgpu') === null) {
    throw new McuError(
      'E_PROVIDER',
      "tfjs backend 'webgpu' is not available: @tensorflow/tfjs-backend-webgpu registered itself with another copy of @tensorflow/tfjs-core — install matching versions, or use webgl, wasm or cpu",
    );
  }
}

/**
 * Initialise one tfjs backend (once per engine); E_PROVIDER names it, why and the fix. With
 * `settings.wasmLocation`, 'wasm' first claims that location for the engine (see
 * {@link setWasmLocation}: E_CONFIG when the engine has another).
 */
export function ensureBackend(tf: Tf, name: TfjsRuntimeName, settings: TfjsRuntimeSettings = {}): Promise<void> {
  if (name === 'wasm' && settings.wasmLocation !== undefined) {
    try {
      setWasmLocation(tf, settings.wasmLocation);
    } catch (e) {
      return Promise.reject(e);
    }
  }
  const ready = stateOf(tf).ready;
  let p = ready.get(name);
  if (p === undefined) {
    p = (async () => {
      if (name === 'tensorflow') await initTensorflow(tf);
      else if (name === 'wasm') await initWasm(tf);
      else if (name === 'webgpu') await initWebgpu(tf);
      else if (name === 'webgl') {
        if (tf.findBackendFactory('webgl') === null)
          throw new McuError('E_PROVIDER', "tfjs backend 'webgl' is not registered: @tensorflow/tfjs is incomplete — reinstall it, or use wasm or cpu");
      } else if (tf.findBackendFactory('cpu') === null) {
        throw new McuError('E_PROVIDER', "tfjs backend 'cpu' is not registered: @tensorflow/tfjs is incomplete — reinstall it");
      }
      await exclusive(tf, name, () => undefined);
      if (name === 'cpu') quietCpu(tf);
    })();
    ready.set(name, p);
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
export async function chooseBackend(tf: Tf, candidates: readonly TfjsRuntimeName[] | undefined, settings: TfjsRuntimeSettings = {}): Promise<TfjsRuntimeName> {
  const explicit = candidates !== undefined;
  const list = candidates ?? TFJS_BACKENDS;
  const reasons: string[] = [];
  for (const name of list) {
    try {
      await ensureBackend(tf, name, settings);
      return name;
    } catch (e) {
      if ((explicit && list.length === 1) || (e instanceof McuError && e.code === 'E_CONFIG')) throw e;
      reasons.push(firstLine(e));
    }
  }
  throw new McuError('E_PROVIDER', `no tfjs backend could be initialised (${explicit ? 'requested' : 'tried'}: ${reasons.join('; ')})`);
}

async function activate(tf: Tf, name: TfjsRuntimeName): Promise<void> {
  if (tf.engine().backendName === name) return;
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    throw new McuError('E_PROVIDER', `tfjs backend '${name}' could not be initialised: ${firstLine(e)}${name === 'cpu' ? '' : ' — use --ep cpu'}`, {
      cause: e,
    });
  }
  if (!ok) {
    throw new McuError(
      'E_PROVIDER',
      `tfjs backend '${name}' could not be initialised (tfjs reported failure${name === 'wasm' ? `; its .wasm binaries are looked for in ${wasmDir(tf)}` : ''})${name === 'cpu' ? '' : ' — use --ep cpu'}`,
    );
  }
}

/**
 * Run `fn` with `name` as the engine's active backend and nobody else running in between
 * (no other mcu instance either: they share the engine).
 * `fn` must be synchronous (read results with dataSync inside it): that keeps the switch
 * and the work atomic.
 */
export function exclusive<T>(tf: Tf, name: TfjsRuntimeName, fn: () => T): Promise<T> {
  // One queue per engine: every mcu instance on this engine waits in it, as they share its one active backend.
  const s = stateOf(tf);
  const next = s.queue.then(async () => {
    await activate(tf, name);
    return fn();
  });
  s.queue = next.catch(() => undefined);
  return next;
}
