// the lite build: inversify 8 imports it too (reflect-metadata/lite), and the full one adds a
// second, 64 KB polyfill of the same API to every start
import 'reflect-metadata/lite';
import { Container, ContainerModule } from 'inversify';
import { McEngine } from '../engine/engine.js';
import { describeError, McuError } from '../errors.js';
import { modelFormatOf, type LoadOptions, type ModelSource, type StochasticModel, type Backend } from '../model.js';
import { createSeededSampler } from '../sampling/seeded.js';
import { TOKENS } from '../tokens.js';
import type { McuConfig } from './config.js';
import { BackendRegistry } from './registry.js';

/** Core services: the registry (one per container), the sampler factory, the engine. */
export const coreModule = new ContainerModule(({ bind }) => {
  bind(TOKENS.BackendRegistry).to(BackendRegistry).inSingletonScope();
  bind(TOKENS.SamplerFactory).toConstantValue(createSeededSampler);
  bind(TOKENS.Engine).to(McEngine).inSingletonScope();
});

export interface CreateMcuOptions extends McuConfig {
  /** Backend ContainerModules (e.g. `onnxModule` from @mcu/backend-onnx). */
  readonly modules?: readonly ContainerModule[];
}

/**
 * The composition root for library users: a container plus the few services they call.
 * Everything an instance builds up — backends and their initialisation, the mask kernel, the
 * self-check results — is its own: two instances with different settings in one process do
 * not interfere, and disposing one leaves the other working.
 */
export interface Mcu {
  readonly container: Container;
  readonly registry: BackendRegistry;
  readonly engine: McEngine;
  /** The backend named in the config (or the best available one). */
  backend(): Promise<Backend>;
  /** Load a model on the configured backend, with that backend's options from the config. */
  load(source: ModelSource, options?: LoadOptions): Promise<StochasticModel>;
  /**
   * Free what this instance holds: the models loaded through {@link Mcu.load} that are still
   * open (their sessions and tensors; disposing a model twice is safe), the engine's mask kernel
   * and self-check results. Afterwards `load` and the engine's runs are refused (E_CONFIG).
   * Safe twice.
   */
  dispose(): Promise<void>;
}

/**
 * Make an mcu instance: a container with the core services and the given backend modules
 * (e.g. `createMcu({ modules: [onnxModule] })`); backends load lazily, on first use.
 */
export function createMcu(config: CreateMcuOptions = {}): Mcu {
  const container = new Container();
  const { modules = [], ...rest } = config;
  container.bind(TOKENS.Config).toConstantValue(rest);
  container.load(coreModule, ...modules);
  const registry = container.get(TOKENS.BackendRegistry);
  const engine = container.get(TOKENS.Engine);
  // Open models, held weakly: one the caller dropped is not kept alive by its Mcu.
  const open = new Set<WeakRef<StochasticModel>>();
  const collected = new FinalizationRegistry<WeakRef<StochasticModel>>((ref) => open.delete(ref));
  let disposed = false;
  const live = (what: string): void => {
    if (disposed) throw new McuError('E_CONFIG', `cannot ${what}: this Mcu was disposed; create a new one with createMcu()`);
  };
  return {
    container,
    registry,
    engine,
    backend: () => {
      live('resolve a backend');
      return registry.resolve(rest.backends);
    },
    async load(source, options) {
      live('load a model');
      const backend = await registry.resolve(rest.backends, modelFormatOf(source));
      const fromConfig = rest.backendOptions?.[backend.name] ?? {};
      if (typeof backend.load !== 'function') {
        throw new McuError('E_INTERNAL', `backend '${backend.name}' has no load()`);
      }
      const model = await backend.load(source, { ...fromConfig, ...options });
      if (disposed) {
        await model.dispose();
        live('load a model');
      }
      const ref = new WeakRef(model);
      open.add(ref);
      collected.register(model, ref);
      return model;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      engine.dispose();
      const models = [...open].map((r) => r.deref()).filter((m) => m !== undefined);
      open.clear();
      const failures = (await Promise.allSettled(models.map((m) => m.dispose()))).filter((r) => r.status === 'rejected');
      if (failures.length > 0) {
        throw new McuError(
          'E_RUNTIME',
          `disposing this Mcu: ${failures.length} of ${models.length} models failed to free their resources (${describeError(failures[0]!.reason)})`,
          {
            cause: failures[0]!.reason,
          },
        );
      }
    },
  };
}
