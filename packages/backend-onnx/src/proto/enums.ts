/** Enum values of onnx.proto used by mcu (numbers, as decoded), from @mcu/onnx-proto. */
import { TensorProto_DataType } from '@mcu/onnx-proto';

export {
  AttributeProto_AttributeType as AttributeType,
  TensorProto_DataType as DataType,
  TensorProto_DataLocation as DataLocation,
} from '@mcu/onnx-proto';

const DATA_TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(TensorProto_DataType).map(([name, value]) => [value, name]));

/** Names of the TensorProto data types, for messages. */
export function dataTypeName(t: number | undefined): string {
  return t !== undefined && DATA_TYPE_NAMES[t] !== undefined ? DATA_TYPE_NAMES[t]! : `data type ${String(t)}`;
}
