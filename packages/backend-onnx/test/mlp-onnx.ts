import type { MlpSpec } from '@mcu/core/testing';
import type { ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../src/proto/index.js';

/**
 * Build the conformance MLP as an ONNX model the way PyTorch's TRAINING export writes it:
 * Gemm layers, activations, and opset-13 Dropout nodes with `ratio` and `training_mode`
 * initializers — so the conformance suite exercises mcu's Dropout rewrite, not a shortcut.
 */
export function mlpToOnnx(spec: MlpSpec): ModelProto {
  const floats = (name: string, values: number[], dims: number[]): TensorProto => ({
    name,
    data_type: 1,
    dims: dims.map(BigInt),
    raw_data: new Uint8Array(Float32Array.from(values).buffer),
  });
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  let h = spec.input;
  let width = spec.inputSize;
  spec.layers.forEach((layer, k) => {
    const out = k === spec.layers.length - 1 ? spec.output : `h${k}`;
    switch (layer.type) {
      case 'dense': {
        const o = layer.bias.length;
        inits.push(floats(`W${k}`, layer.weights.flat(), [width, o]), floats(`b${k}`, [...layer.bias], [o]));
        nodes.push({ op_type: 'Gemm', input: [h, `W${k}`, `b${k}`], output: [out], name: `gemm${k}` });
        width = o;
        break;
      }
      case 'relu':
      case 'tanh':
      case 'sigmoid':
      case 'identity': {
        const op = { relu: 'Relu', tanh: 'Tanh', sigmoid: 'Sigmoid', identity: 'Identity' }[layer.type];
        nodes.push({ op_type: op, input: [h], output: [out], name: `${layer.type}${k}` });
        break;
      }
      case 'dropout': {
        inits.push(floats(`ratio${k}`, [layer.rate], []));
        inits.push({ name: `train${k}`, data_type: 9, dims: [], raw_data: Uint8Array.of(1) });
        // The mask input of the converted model takes the layer's name.
        nodes.push({ op_type: 'Dropout', input: [h, `ratio${k}`, `train${k}`], output: [out], name: layer.name });
        break;
      }
    }
    h = out;
  });
  const io = (name: string, w: number): ValueInfoProto => ({
    name,
    type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: 'N' }, { dim_value: BigInt(w) }] } } },
  });
  return {
    ir_version: 8n,
    opset_import: [{ domain: '', version: 13n }],
    producer_name: 'mcu-test',
    graph: { name: 'mlp', node: nodes, initializer: inits, input: [io(spec.input, spec.inputSize)], output: [io(spec.output, width)] },
  };
}
