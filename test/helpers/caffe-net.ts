// A tiny Caffe regression net for the CLI tests (flag walk, errors): a train_test-style
// prototxt whose HDF5Data layer declares no shape (so its Convolution needs --input-shape),
// its caffemodel, and a solver. The caffemodel is written here by a minimal protobuf encoder
// (NetParameter.layer = 100; LayerParameter name 1, type 2, blobs 7; BlobProto shape 7
// (BlobShape.dim 1, packed int64), data 5 (packed float) — field numbers of BVLC caffe.proto);
// the reader itself is checked against files made by Google's protoc and python protobuf
// (packages/format-caffe/test, test/fixtures/caffe).
import fs from 'node:fs';
import path from 'node:path';

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}
const key = (field: number, wire: number) => varint(field * 8 + wire);
const bytesField = (field: number, payload: Uint8Array | number[]) => [...key(field, 2), ...varint(payload.length), ...payload];
const text = (s: string) => [...Buffer.from(s, 'utf8')];

function blob(shape: number[], data: number[]): number[] {
  const dims = shape.flatMap((d) => varint(d));
  const floats = new Uint8Array(new Float32Array(data).buffer);
  return [...bytesField(7, bytesField(1, dims)), ...bytesField(5, floats)];
}

/** A caffemodel: layers by name with their blobs. */
export function encodeCaffemodel(layers: { name: string; type: string; blobs: { shape: number[]; data: number[] }[] }[]): Uint8Array {
  const out: number[] = [...bytesField(1, text('tiny'))];
  for (const l of layers) {
    const body = [...bytesField(1, text(l.name)), ...bytesField(2, text(l.type)), ...l.blobs.flatMap((b) => bytesField(7, blob(b.shape, b.data)))];
    out.push(...key(100, 2), ...varint(body.length), ...body);
  }
  return new Uint8Array(out);
}

export const TINY_PROTOTXT = `name: "tiny"
layer {
  name: "data"
  type: "HDF5Data"
  top: "data"
  top: "label"
  hdf5_data_param { source: "train.txt" batch_size: 16 }
}
layer {
  name: "conv1"
  type: "Convolution"
  bottom: "data"
  top: "conv1"
  convolution_param { num_output: 4 kernel_size: 1 }
}
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer {
  name: "drop1"
  type: "Dropout"
  bottom: "conv1"
  top: "drop1"
  dropout_param { dropout_ratio: 0.2 sample_weights_test: true }
}
layer {
  name: "ip1"
  type: "InnerProduct"
  bottom: "drop1"
  top: "ip1"
  inner_product_param { num_output: 1 }
}
layer {
  name: "loss"
  type: "EuclideanLoss"
  bottom: "ip1"
  bottom: "label"
  top: "loss"
}
`;

/** Seeded weights of the tiny net (conv 4×1×1×1 + bias, ip 1×4 + bias). */
export function tinyCaffemodel(): Uint8Array {
  return encodeCaffemodel([
    {
      name: 'conv1',
      type: 'Convolution',
      blobs: [
        { shape: [4, 1, 1, 1], data: [0.9, -0.7, 0.5, 1.3] },
        { shape: [4], data: [0.1, 0.4, -0.2, 0.05] },
      ],
    },
    {
      name: 'ip1',
      type: 'InnerProduct',
      blobs: [
        { shape: [1, 4], data: [0.8, -0.6, 0.4, 0.3] },
        { shape: [1], data: [0.2] },
      ],
    },
  ]);
}

export const TINY_SOLVER = `net: "tiny_train_test.prototxt"
base_lr: 0.01
momentum: 0.9
weight_decay: 0.0005
lr_policy: "inv"
gamma: 0.0001
power: 0.75
max_iter: 1000
`;

/** Write tiny_train_test.prototxt, tiny.caffemodel and tiny_solver.prototxt into `dir`. */
export function writeTinyCaffe(dir: string): { prototxt: string; caffemodel: string; solver: string } {
  const prototxt = path.join(dir, 'tiny_train_test.prototxt');
  const caffemodel = path.join(dir, 'tiny.caffemodel');
  const solver = path.join(dir, 'tiny_solver.prototxt');
  fs.writeFileSync(prototxt, TINY_PROTOTXT);
  fs.writeFileSync(caffemodel, tinyCaffemodel());
  fs.writeFileSync(solver, TINY_SOLVER);
  return { prototxt, caffemodel, solver };
}
