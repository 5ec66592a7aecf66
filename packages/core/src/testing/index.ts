export { describeBackendConformance, type ConformanceTarget } from './conformance.js';
export { randomMlp, type MlpSpec, type MlpLayer } from '../reference/mlp.js';
