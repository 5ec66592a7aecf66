import type { BackendInfo } from '@mcu/core';
import type { TfjsRuntimeName } from './options.js';
import { ensureBackend, loadTf, type Tf } from './runtime.js';

/** What `mcu backends --probe` shows for a tfjs backend: each runtime of `names` started (or why not). */
export async function describeRuntimes(backend: string, names: readonly TfjsRuntimeName[]): Promise<BackendInfo> {
  let tf: Tf;
  try {
    tf = await loadTf();
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    return {
      name: backend,
      available: false,
      probed: true,
      reason,
      executionProviders: names.map((name) => ({ name, available: false, reason: '@tensorflow/tfjs is not available' })),
    };
  }
  const executionProviders = await Promise.all(
    names.map(async (name) => {
      try {
        await ensureBackend(tf, name);
        return { name, available: true };
      } catch (e) {
        return { name, available: false, reason: e instanceof Error ? e.message : String(e) };
      }
    }),
  );
  const available = executionProviders.some((p) => p.available);
  return { name: backend, available, probed: true, ...(available ? {} : { reason: 'no tfjs backend could be initialised' }), executionProviders };
}
