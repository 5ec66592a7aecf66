/**
 * @mcu/onnx-proto — the ONNX protobuf schema (onnx.proto, IR 3–11) as generated static
 * TypeScript: an interface, `decodeX`, `encodeX` and `checkX` for every message X, enum
 * constants, and the hand-written wire runtime they use. No run-time schema parsing, no
 * eval, no dependencies. See ./gen/onnx.ts (generated at build time from ../onnx.proto).
 *
 * Conventions: snake_case field names; a field is present only when it was on the wire and
 * empty repeated fields are absent; int64/uint64 are `bigint`; bytes are `Uint8Array` views
 * of the decoded buffer; enums are numbers. Every failure is an `OnnxWireError`.
 */
export * from './gen/onnx.js';
export { OnnxWireError, MAX_DEPTH, Reader, Writer, wireTypeName } from './wire.js';
export { describeValue } from './values.js';
