// What the queue tests score: a small MC-dropout classifier built here (x [N, F] → Gemm → Relu →
// Dropout p → Gemm → Relu → Dropout p (training_mode on, as PyTorch exports a model kept in train
// mode) → Gemm → Softmax over C classes, weights from a seeded stream) and an NPY pool of seeded rows. Two seeds give two
// models of the same architecture with different weights: the "different model file" of the
// refusal tests. Built, not stored: no fixture to keep in sync.
import fs from 'node:fs';
import { encodeModel, type ModelProto, type TensorProto } from '@mcu/backend-onnx';
import { mulberry32 } from './check.js';

/** mulberry32: a seeded stream in [0, 1). */
export const seeded = mulberry32;

function floats(name: string, dims: readonly number[], values: Float32Array): TensorProto {
  return { name, data_type: 1, dims: dims.map(BigInt), raw_data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

export interface ClassifierShape {
  readonly features: number;
  readonly hidden: number;
  readonly classes: number;
  /** Dropout rate. */
  readonly p: number;
}

/** Write the classifier as an ONNX file (opset 13); `seed` picks its weights. */
export function writeClassifier(file: string, seed: number, shape: ClassifierShape = { features: 9, hidden: 64, classes: 4, p: 0.3 }): string {
  const r = seeded(seed);
  const uniform = (n: number, scale: number): Float32Array => Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
  const { features: F, hidden: H, classes: C, p } = shape;
  const vi = (name: string, last: number) => ({
    name,
    type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: 'batch' }, { dim_value: BigInt(last) }] } } },
  });
  const model: ModelProto = {
    ir_version: 7n,
    opset_import: [{ domain: '', version: 13n }],
    producer_name: 'mcu test/helpers/redis-pool.ts',
    graph: {
      name: 'classifier',
      node: [
        { op_type: 'Gemm', input: ['x', 'w1', 'b1'], output: ['h1'], name: 'fc1', attribute: [{ name: 'transB', type: 2, i: 1n }] },
        { op_type: 'Relu', input: ['h1'], output: ['a1'], name: 'relu1' },
        { op_type: 'Dropout', input: ['a1', 'ratio', 'train'], output: ['d1', 'mask1'], name: 'drop1' },
        { op_type: 'Gemm', input: ['d1', 'w2', 'b2'], output: ['h2'], name: 'fc2', attribute: [{ name: 'transB', type: 2, i: 1n }] },
        { op_type: 'Relu', input: ['h2'], output: ['a2'], name: 'relu2' },
        { op_type: 'Dropout', input: ['a2', 'ratio', 'train'], output: ['d2', 'mask2'], name: 'drop2' },
        { op_type: 'Gemm', input: ['d2', 'w3', 'b3'], output: ['logits'], name: 'fc3', attribute: [{ name: 'transB', type: 2, i: 1n }] },
        { op_type: 'Softmax', input: ['logits'], output: ['probs'], name: 'softmax', attribute: [{ name: 'axis', type: 2, i: 1n }] },
      ],
      initializer: [
        floats('w1', [H, F], uniform(H * F, 1.5 / Math.sqrt(F))),
        floats('b1', [H], uniform(H, 0.5)),
        floats('w2', [H, H], uniform(H * H, 1.5 / Math.sqrt(H))),
        floats('b2', [H], uniform(H, 0.5)),
        floats('w3', [C, H], uniform(C * H, 3 / Math.sqrt(H))),
        floats('b3', [C], uniform(C, 0.5)),
        floats('ratio', [], Float32Array.of(p)),
        { name: 'train', data_type: 9, dims: [], raw_data: Uint8Array.of(1) },
      ],
      input: [vi('x', F)],
      output: [vi('probs', C)],
    },
  };
  fs.writeFileSync(file, encodeModel(model));
  return file;
}

/** Write a float32 NPY pool [rows, width] of seeded values in [-2, 2) (numpy.save's layout, v1.0). */
export function writePool(file: string, rows: number, width: number, seed: number): string {
  const r = seeded(seed);
  const data = Float32Array.from({ length: rows * width }, () => r() * 4 - 2);
  const shape = `(${rows}, ${width})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  header += `${' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64)}\n`;
  const out = Buffer.alloc(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  Buffer.from(data.buffer).copy(out, 10 + header.length);
  fs.writeFileSync(file, out);
  return file;
}
