export type { MaskRequest, Sampler, SamplerFactory, SamplerOptions } from './sampler.js';
export {
  mulhi32,
  mullo32,
  philox4x32,
  philox4x32Fill,
  philox4x32Into,
  uint32ToOpenUnit,
  PHILOX_M0,
  PHILOX_M1,
  PHILOX_ROUNDS,
  PHILOX_W0,
  PHILOX_W1,
  TWO_POW_M32,
  type PhiloxCounter,
  type PhiloxKey,
} from './philox.js';
export {
  SeededSampler,
  createSeededSampler,
  keepValue,
  seedToKey,
  validateRequest,
  validateSite,
} from './seeded.js';
export { ReplaySampler, replayFromRows } from './replay.js';
export { mulberry32 } from './mulberry32.js';
export { BernoulliKernelSlot, type BernoulliKernel } from './bernoulli-wasm.js';
