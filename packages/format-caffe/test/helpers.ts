// Shared by the format-caffe tests.
import { McuError } from '@mcu/core';
import type { CaffeBlob, CaffeLayer, Message } from '../src/types.js';

/** The McuError thrown by `f` (fails the test when none is thrown). */
export function thrown(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error('expected an error');
}

/** `CODE: message` of the McuError thrown by `f`, or 'no error'; other errors propagate. */
export function errorText(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof McuError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'no error';
}

export { mulberry32 } from '../../../test/helpers/check.js';

type Params = Record<string, unknown>;

/** A layer as the reader hands it over (its LayerParameter holds name, type and the given params). */
export function L(name: string, type: string, bottom: string | string[], top: string | string[], param: Params = {}, blobs: CaffeBlob[] = []): CaffeLayer {
  return {
    name,
    type,
    bottom: Array.isArray(bottom) ? bottom : [bottom],
    top: Array.isArray(top) ? top : [top],
    param: { name, type, ...param } as unknown as Message,
    blobs,
  };
}
