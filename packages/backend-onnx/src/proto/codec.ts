/**
 * ONNX protobuf I/O: bytes ⇄ plain objects (see ./types.ts for the conventions).
 *
 * @mcu/onnx-proto's generated codec does the wire work (static code: no eval, so it runs
 * under a Content-Security-Policy without 'unsafe-eval'); this module names the source in
 * its messages and turns every failure into McuError('E_MODEL').
 */
import { McuError } from '@mcu/core';
import { decoders, encoders, OnnxWireError, type Messages } from '@mcu/onnx-proto';
import type { ModelProto, TensorProto } from './types.js';

/** A message type of onnx.proto by its interface name ('ModelProto', 'TensorProto', …). */
export type MessageName = keyof Messages;

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function messageName(typeName: string): MessageName {
  if (!Object.hasOwn(decoders, typeName)) {
    throw new McuError('E_INTERNAL', `no ONNX message type '${typeName}'; known: ${Object.keys(decoders).join(', ')}`);
  }
  return typeName as MessageName;
}

/** Decode one message of `typeName` (e.g. 'TensorProto'); failures → McuError('E_MODEL'). */
export function decodeMessage<T>(typeName: string, bytes: Uint8Array, what: string): T {
  if (!(bytes instanceof Uint8Array)) {
    throw new McuError('E_MODEL', `${what}: expected bytes (Uint8Array), got ${bytes === null ? 'null' : typeof bytes}`);
  }
  const decode = decoders[messageName(typeName)] as (b: Uint8Array) => unknown;
  try {
    return decode(bytes) as T;
  } catch (e) {
    if (!(e instanceof OnnxWireError)) throw e;
    throw new McuError('E_MODEL', `${what} is not a valid ONNX ${typeName} (${bytes.byteLength} bytes): ${describe(e)}`, {
      cause: e,
    });
  }
}

/** Encode one message of `typeName`; failures → McuError('E_MODEL'). */
export function encodeMessage(typeName: string, value: object, what: string): Uint8Array {
  const encode = encoders[messageName(typeName)] as (m: unknown, path: string) => Uint8Array;
  try {
    return encode(value, what);
  } catch (e) {
    if (!(e instanceof OnnxWireError)) throw e;
    throw new McuError('E_MODEL', `cannot encode ${what} as ONNX ${typeName}: ${describe(e)}`, { cause: e });
  }
}

/**
 * Parse an ONNX model. `what` names the source in error messages (a file path).
 * Throws McuError('E_MODEL') for anything that is not a protobuf ModelProto with a graph.
 */
export function decodeModel(bytes: Uint8Array, what = 'model'): ModelProto {
  const model = decodeMessage<ModelProto>('ModelProto', bytes, what);
  if (model.graph === undefined) {
    throw new McuError('E_MODEL', `${what} is not an ONNX model: it has no graph (${bytes.byteLength} bytes)`);
  }
  return model;
}

/** Serialize a model (int64 fields as bigint or safe-integer numbers). */
export function encodeModel(model: ModelProto, what = 'model'): Uint8Array {
  return encodeMessage('ModelProto', model, what);
}

/** Parse a serialized TensorProto (e.g. ONNX test-data `input_0.pb`). */
export function decodeTensor(bytes: Uint8Array, what = 'tensor'): TensorProto {
  return decodeMessage<TensorProto>('TensorProto', bytes, what);
}

export function encodeTensor(tensor: TensorProto, what = 'tensor'): Uint8Array {
  return encodeMessage('TensorProto', tensor, what);
}
