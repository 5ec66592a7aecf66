/**
 * The translation of Caffe nets into ONNX: the public API of shapes.ts, to-onnx.ts and
 * onnx-writer.ts.
 */
export { caffeToOnnx, SUPPORTED_LAYER_TYPES } from './to-onnx.js';
export {
  analyzeNet,
  caffeSites,
  describeCaffe,
  type CaffeDescription,
  type CaffeSite,
  type ConvGeometry,
  type LayerGeometry,
  type LayerShapes,
  type NetShapes,
  type OutputShape,
  type PoolGeometry,
  type ResolvedInput,
  type RowDims,
  type RowShape,
  type ScaleBiasResult,
} from './shapes.js';
export {
  encodeOnnxModel,
  type OnnxAttribute,
  type OnnxElemType,
  type OnnxGraph,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  type OnnxValueInfo,
} from './onnx-writer.js';
