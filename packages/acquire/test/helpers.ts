/** Test helpers: NPY files written by hand the way numpy lays them out, temp dirs. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McuError } from '@mcu/core';
import { expect } from 'vitest';

/** .npy bytes (version 1.0, header padded to 64 bytes, '\n'-terminated), as numpy.save writes them. */
export function npyBytes(descr: string, shape: readonly number[], payload: ArrayBufferView, fortran = false): Uint8Array {
  const s = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let h = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${s}, }`;
  h += `${' '.repeat((64 - ((10 + h.length + 1) % 64)) % 64)}\n`;
  const body = new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  const out = new Uint8Array(10 + h.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, h.length, true);
  for (let i = 0; i < h.length; i++) out[10 + i] = h.charCodeAt(i);
  out.set(body, 10 + h.length);
  return out;
}

export function writeNpyFile(path: string, data: Float32Array | Float64Array, shape: readonly number[]): string {
  writeFileSync(path, npyBytes(data instanceof Float32Array ? '<f4' : '<f8', shape, data));
  return path;
}

export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'mcu-acquire-test-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A deterministic pseudo-random stream (mulberry32) for test data. */
export { mulberry32 as rng } from '../../../test/helpers/check.js';

/** The McuError a promise rejects with (fails the test when it resolves or rejects with something else). */
export async function mcuError(p: Promise<unknown> | (() => unknown)): Promise<McuError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(McuError);
    return e as McuError;
  }
  throw new Error('expected an McuError, nothing was thrown');
}
