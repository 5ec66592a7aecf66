export { BackendRegistry, bindBackend, type BackendStatus } from './registry.js';
export { coreModule, createMcu, type Mcu, type CreateMcuOptions } from './container.js';
export { DEFAULT_MEMORY_BUDGET_BYTES, type McuConfig } from './config.js';
