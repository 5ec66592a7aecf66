// Small models for the CLI flag and task tests, written into a test's temp folder:
// Keras / TensorFlow.js dense nets (model.json + weights), and ONNX fixtures edited so that a
// flag has something to act on (a Dropout ratio as a graph input, an output with a symbolic
// class axis, a Softmax appended). Node built-ins and the repo's own ONNX codec only.
import fs from 'node:fs';
import path from 'node:path';
import { decodeModel, encodeModel } from '@mcu/backend-onnx';
import { fixtureBytes } from './fixtures.js';
import { mulberry32 } from './check.js';

export interface KerasDenseOptions {
  readonly inputs: number;
  readonly hidden: number;
  readonly outputs: number;
  /** The last Dense layer's activation (default linear). */
  readonly activation?: 'linear' | 'softmax';
  /** Dropout rate before the last layer (default 0.1). */
  readonly rate?: number;
  readonly seed?: number;
}

/** Keras Sequential inputs → Dense(hidden, relu) → Dropout → Dense(outputs, activation); returns model.json's path. */
export function writeKerasDense(dir: string, o: KerasDenseOptions): string {
  fs.mkdirSync(dir, { recursive: true });
  const rand = mulberry32(o.seed ?? 7);
  const w = (n: number, scale: number) => Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
  const weights = [
    { name: 'dense/kernel', shape: [o.inputs, o.hidden], data: w(o.inputs * o.hidden, 1) },
    { name: 'dense/bias', shape: [o.hidden], data: w(o.hidden, 0.1) },
    { name: 'out/kernel', shape: [o.hidden, o.outputs], data: w(o.hidden * o.outputs, 1 / Math.sqrt(o.hidden)) },
    { name: 'out/bias', shape: [o.outputs], data: w(o.outputs, 0.1) },
  ];
  const topology = {
    class_name: 'Sequential',
    keras_version: '2.15.0',
    config: {
      name: 'dense_net',
      layers: [
        { class_name: 'InputLayer', config: { name: 'x', batch_input_shape: [null, o.inputs], dtype: 'float32' } },
        { class_name: 'Dense', config: { name: 'dense', units: o.hidden, activation: 'relu', use_bias: true } },
        { class_name: 'Dropout', config: { name: 'dropout', rate: o.rate ?? 0.1 } },
        { class_name: 'Dense', config: { name: 'out', units: o.outputs, activation: o.activation ?? 'linear', use_bias: true } },
      ],
    },
  };
  const bin = Float32Array.from(weights.flatMap((x) => x.data));
  fs.writeFileSync(path.join(dir, 'weights.bin'), new Uint8Array(bin.buffer));
  const manifest = [{ paths: ['weights.bin'], weights: weights.map(({ name, shape }) => ({ name, shape, dtype: 'float32' })) }];
  const file = path.join(dir, 'model.json');
  fs.writeFileSync(file, JSON.stringify({ format: 'layers-model', modelTopology: topology, weightsManifest: manifest }));
  return file;
}

const CO2_SMALL = 'pytorch-1.13-small/co2_relu.preserve.onnx';

/** co2_relu (small) whose first Dropout takes its ratio from a new scalar graph input `name`. */
export function writeRatioInputModel(file: string, name = 'ratio1'): string {
  const m = decodeModel(fixtureBytes(CO2_SMALL));
  const g = m.graph!;
  const drop = g.node!.find((n) => n.op_type === 'Dropout')!;
  drop.input = [drop.input![0]!, name, ...drop.input!.slice(2)];
  g.input = [...(g.input ?? []), { name, type: { tensor_type: { elem_type: 1, shape: { dim: [] } } } }];
  fs.writeFileSync(file, encodeModel(m));
  return file;
}

/** A fixture with its first output's axis `axis` declared symbolic (dim_param `param`). */
export function writeSymbolicOutputModel(rel: string, file: string, axis = 1, param = 'classes'): string {
  const m = decodeModel(fixtureBytes(rel));
  const dims = m.graph!.output![0]!.type!.tensor_type!.shape!.dim!;
  dims[axis] = { dim_param: param };
  fs.writeFileSync(file, encodeModel(m));
  return file;
}

/** A fixture with a Softmax over axis 1 appended to its first output (the output keeps its name). */
export function writeSoftmaxModel(rel: string, file: string): string {
  const m = decodeModel(fixtureBytes(rel));
  const g = m.graph!;
  const out = g.output![0]!;
  const raw = `${out.name}_logits`;
  for (const n of g.node ?? []) n.output = (n.output ?? []).map((o) => (o === out.name ? raw : o));
  g.node!.push({ op_type: 'Softmax', input: [raw], output: [out.name!], name: 'appended_softmax', attribute: [{ name: 'axis', type: 2, i: 1n }] });
  fs.writeFileSync(file, encodeModel(m));
  return file;
}
