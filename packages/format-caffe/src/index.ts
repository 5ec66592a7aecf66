// @mcu/format-caffe: Caffe networks (prototxt + caffemodel) → ONNX graphs for mcu.
export * from './types.js';
export * from './reader.js';
export * from './translate.js';
export * from './model.js';
