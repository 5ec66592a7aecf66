/**
 * TypeScript shapes of the decoded ONNX messages (snake_case, as in onnx.proto), generated
 * by @mcu/onnx-proto; the short names below are mcu's aliases of its nested messages.
 *
 * Conventions of `decodeModel` / `encodeModel`:
 * - A field is present on a decoded object only when it was on the wire; repeated fields
 *   that were empty are absent (treat `undefined` as `[]`).
 * - **int64 / uint64 fields are `bigint`** (lossless: INT64_MAX in a Slice `ends` survives).
 *   `encodeModel` also accepts plain numbers there (safe integers only).
 * - `bytes` fields are `Uint8Array` (they may share memory with the decoded buffer).
 * - Enums are numbers (see the constants in ./enums.ts).
 */
import type {
  DeviceConfigurationProto,
  NodeDeviceConfigurationProto,
  TensorProto_Segment,
  TensorShapeProto_Dimension,
  TypeProto_Tensor,
} from '@mcu/onnx-proto';

export type {
  AttributeProto,
  DeviceConfigurationProto,
  FunctionProto,
  GraphProto,
  IntIntListEntryProto,
  ModelProto,
  NodeDeviceConfigurationProto,
  NodeProto,
  OperatorSetIdProto,
  ShardedDimProto,
  ShardingSpecProto,
  SimpleShardedDimProto,
  SparseTensorProto,
  StringStringEntryProto,
  TensorAnnotation,
  TensorProto,
  TensorShapeProto,
  TrainingInfoProto,
  TypeProto,
  ValueInfoProto,
} from '@mcu/onnx-proto';

export type Int64 = bigint;
export type TensorSegment = TensorProto_Segment;
export type TensorShapeDimension = TensorShapeProto_Dimension;
export type TypeProtoTensor = TypeProto_Tensor;
/** IR 11 multi-device annotations (of a node, of a model): carried through, not interpreted. */
export type DeviceConfigurationAnnotation = NodeDeviceConfigurationProto | DeviceConfigurationProto;
