// Loader for test/fixtures/zoo (see packages/fixtures). Node built-ins only.
export * from '../../packages/fixtures/src/zoo.js';
