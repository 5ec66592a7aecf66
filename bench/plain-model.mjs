// What bench/suite.mjs and bench/in-graph.mjs time mcu against: the same network run plainly.
import { readFileSync } from 'node:fs';
import { decodeModel, encodeModel } from '@mcu/backend-onnx';

/** The network with every Dropout replaced by Identity (no masks): what a plain session runs. */
export function withoutDropout(path) {
  const model = decodeModel(new Uint8Array(readFileSync(path)));
  for (const node of model.graph.node ?? []) {
    if (node.op_type === 'Dropout') {
      node.op_type = 'Identity';
      node.input = [node.input[0]];
      node.output = [node.output[0]];
      node.attribute = [];
    }
  }
  return encodeModel(model);
}
