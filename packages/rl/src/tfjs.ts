import { McuError } from '@mcu/core';
import { chooseBackend, exclusive, loadTf, setWasmLocation, wasmDir, type Tf } from '@mcu/backend-tfjs';

/*
 * TensorFlow.js for the Q-network, through @mcu/backend-tfjs's runtime (one engine per process,
 * backends initialised once, work queued under the right backend). Measured on a 2-core machine
 * (Node 20, tfjs 4.22, one step = a 1-row action pass + one 64-row minibatch update of the
 * 59-50-50-5 network): wasm 1.25 ms, cpu 8.8 ms — wasm (XNNPACK, SIMD, one thread) is ~7×
 * faster for this tiny MLP, so it is the default; cpu is the fallback where wasm cannot start.
 */

export type RlBackend = 'wasm' | 'cpu';
export const RL_BACKENDS: readonly RlBackend[] = ['wasm', 'cpu'];

export interface RlTf {
  readonly tf: Tf;
  /** The backend that actually runs (reported with every result). */
  readonly backend: RlBackend;
  /** Run synchronous tfjs work with this backend active and nobody else in between. */
  run<T>(fn: () => T): Promise<T>;
}

/** Load tfjs and start `backend` (default: wasm, else cpu — the one that ran is recorded). */
export async function openTf(backend?: RlBackend): Promise<RlTf> {
  if (backend !== undefined && !RL_BACKENDS.includes(backend)) {
    throw new McuError('E_CONFIG', `backend must be one of ${RL_BACKENDS.join(', ')}, got ${String(backend)}`);
  }
  setWasmLocation(wasmDir);
  const tf = await loadTf();
  const name = (await chooseBackend(tf, backend === undefined ? RL_BACKENDS : [backend])) as RlBackend;
  return { tf, backend: name, run: (fn) => exclusive(tf, name, fn) };
}
