import { describeBackendConformance, type MlpSpec } from '@mcu/core/testing';
import type { Backend } from '@mcu/core';
import { TfjsBackend } from '../src/index.js';

// Both in one process on purpose: tfjs has one global engine, and models of different
// tfjs backends must not run on each other's backend.
for (const backend of ['cpu', 'wasm'] as const) {
  describeBackendConformance({
    name: `tfjs (${backend})`,
    createBackend: async () => new TfjsBackend({ backend }),
    loadMlp: (b: Backend, spec: MlpSpec) => b.load({ kind: 'object', value: spec }),
  });
}
