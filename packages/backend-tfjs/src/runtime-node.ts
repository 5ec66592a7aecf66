/** Node: tfjs-backend-wasm's .wasm binaries are in its own dist/ folder, resolved from here. */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

/** The folder that holds tfjs-backend-wasm's .wasm binaries (its dist/). */
export function wasmDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + '/';
}

