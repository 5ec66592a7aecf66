#!/usr/bin/env node
// Decode time of ONNX models: the generated decoder (dist/) against protobufjs reflecting
// over the same onnx.proto (what @mcu/backend-onnx used before). Not run by CI.
//   node scripts/bench-decode.mjs [model.onnx …]   (default: the largest example, and two
//   synthetic 100 MB models: raw_data, and float_data)
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { decodeModelProto, encodeModelProto } from '../dist/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const t0 = performance.now();
const pbRoot = protobuf.parse(readFileSync(join(root, 'onnx.proto'), 'utf8'), { keepCase: true }).root;
pbRoot.resolveAll();
const ModelProto = pbRoot.lookupType('onnx.ModelProto');
ModelProto.decode(new Uint8Array(0));
const setup = performance.now() - t0;

function time(f, runs) {
  f(); // warm up
  const times = [];
  for (let k = 0; k < runs; k++) {
    const s = performance.now();
    f();
    times.push(performance.now() - s);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

function synthetic(kind) {
  const n = 25_000_000; // 100 MB of float32
  const t = { name: 'w', data_type: 1, dims: [BigInt(n)] };
  if (kind === 'raw_data') t.raw_data = new Uint8Array(n * 4).fill(0x3f);
  else t.float_data = Array.from({ length: n }, (_, i) => (i % 1000) / 7);
  return encodeModelProto({ ir_version: 8n, graph: { name: 'g', initializer: [t], node: [{ op_type: 'Identity', input: ['w'], output: ['y'] }] } });
}

const cases = process.argv.slice(2).map((f) => [f, new Uint8Array(readFileSync(f))]);
if (cases.length === 0) {
  cases.push(['examples/co2_relu.preserve.onnx', new Uint8Array(readFileSync(join(root, '../../examples/co2_relu.preserve.onnx')))]);
  cases.push(['synthetic 100 MB raw_data', synthetic('raw_data')]);
  cases.push(['synthetic 100 MB float_data', synthetic('float_data')]);
}
console.log(`protobufjs: parse + resolve onnx.proto + first decode (start-up): ${setup.toFixed(1)} ms`);
for (const [name, bytes] of cases) {
  const runs = bytes.length > 10_000_000 ? 5 : 200;
  const ours = time(() => decodeModelProto(bytes), runs);
  const theirs = time(() => ModelProto.decode(bytes), runs);
  console.log(`${name} (${(bytes.length / 1e6).toFixed(2)} MB): generated ${ours.toFixed(2)} ms, protobufjs ${theirs.toFixed(2)} ms (median of ${runs})`);
}
