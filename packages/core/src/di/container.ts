import 'reflect-metadata';
import { Container, ContainerModule } from 'inversify';
import { McEngine } from '../engine/engine.js';
import { McuError } from '../errors.js';
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

/** The composition root for library users: a container plus the few services they call. */
export interface Mcu {
  readonly container: Container;
  readonly registry: BackendRegistry;
  readonly engine: McEngine;
  /** The backend named in the config (or the best available one). */
  backend(): Promise<Backend>;
  /** Load a model on the configured backend, with that backend's options from the config. */
  load(source: ModelSource, options?: LoadOptions): Promise<StochasticModel>;
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
  return {
    container,
    registry,
    engine,
    backend: () => registry.resolve(rest.backends),
    async load(source, options) {
      const backend = await registry.resolve(rest.backends, modelFormatOf(source));
      const fromConfig = rest.backendOptions?.[backend.name] ?? {};
      if (typeof backend.load !== 'function') {
        throw new McuError('E_INTERNAL', `backend '${backend.name}' has no load()`);
      }
      return backend.load(source, { ...fromConfig, ...options });
    },
  };
}
