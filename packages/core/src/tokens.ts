import type { ServiceIdentifier } from 'inversify';
import type { BackendDescriptor } from './model.js';
import type { BackendRegistry } from './di/registry.js';
import type { McEngine } from './engine/engine.js';
import type { McuConfig } from './di/config.js';
import type { SamplerFactory } from './sampling/sampler.js';

/** Every service identifier mcu binds, in one place. */
export const TOKENS = {
  Config: Symbol.for('mcu.Config') as ServiceIdentifier<McuConfig>,
  BackendDescriptor: Symbol.for('mcu.BackendDescriptor') as ServiceIdentifier<BackendDescriptor>,
  BackendRegistry: Symbol.for('mcu.BackendRegistry') as ServiceIdentifier<BackendRegistry>,
  SamplerFactory: Symbol.for('mcu.SamplerFactory') as ServiceIdentifier<SamplerFactory>,
  Engine: Symbol.for('mcu.Engine') as ServiceIdentifier<McEngine>,
} as const;
