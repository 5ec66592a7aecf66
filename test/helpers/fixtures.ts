// Loader for test/fixtures (see packages/fixtures). Node built-ins only.
export * from '../../packages/fixtures/src/fixtures.js';
