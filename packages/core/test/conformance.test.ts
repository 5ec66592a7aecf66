import { ReferenceBackend } from '../src/reference/backend.js';
import { describeBackendConformance } from '../src/testing/index.js';

// The suite checked against the oracle itself: proves the suite's own assertions are
// consistent before real backends are held to them.
describeBackendConformance({
  name: 'reference',
  createBackend: async () => new ReferenceBackend(),
  loadMlp: (backend, spec) => backend.load({ kind: 'object', value: spec }),
});
