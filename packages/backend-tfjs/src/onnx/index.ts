/** ONNX models on the tfjs backend: a hand-written ONNX decoder and a translation to the ExecGraph. */
export { onnxToGraph, SUPPORTED_ONNX_OPS, type OnnxToGraphOptions } from './translate.js';
export { decodeModel, type OnnxModel, type ReadExternal } from './decode.js';
export { ONNX_OPS } from './ops.js';
