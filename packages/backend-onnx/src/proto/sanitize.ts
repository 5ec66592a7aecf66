/**
 * Checking a ModelProto that did not come from decodeModel (built by hand, passed in as an
 * object) against the schema: every field must have its protobuf type. Returns a clean
 * copy — unknown keys dropped, int64 numbers turned into bigint, byte arrays and numeric
 * arrays shared — or throws McuError('E_MODEL') naming the first bad field.
 */
import { McuError } from '@mcu/core';
import { checkModelProto, OnnxWireError } from '@mcu/onnx-proto';
import type { ModelProto } from './types.js';

/** A checked copy of `model` (see the module comment). */
export function sanitizeModel(model: unknown, what = 'model'): ModelProto {
  try {
    return checkModelProto(model, what);
  } catch (e) {
    if (!(e instanceof OnnxWireError)) throw e;
    throw new McuError('E_MODEL', e.message, { cause: e });
  }
}
