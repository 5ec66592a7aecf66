/**
 * The reader half of @mcu/format-caffe: Caffe's schema, the text-format parser, the binary
 * decoder, the V1 upgrade, the TEST-phase net and the solver (re-exported by index.ts).
 */
export { readCaffe, toBlob } from './net.js';
export { parseText, textPosition, type ParsedText, type TextPosition } from './text.js';
export { decodeBinary, checkDropoutField2, dropoutField2, type DecodedBinary, type DecodeOptions } from './wire.js';
export { readSolver, type CaffeSolver } from './solver.js';
export { upgradeLayers, upgradeV1Layer, legacyInputs, V1_LAYER_TYPES, type UpgradedLayer, type UpgradedLayers } from './upgrade.js';
export {
  CAFFE_SCHEMA,
  TEXT_EXTENSIONS,
  field,
  fieldSpec,
  fieldsByNumber,
  type CaffeSchema,
  type FieldSpec,
  type FieldType,
  type TextExtensionSpec,
} from './schema.js';
