// The pool and the model of bench/acquire.mjs and bench/acquire-queue.mjs: a UCI-protein-shaped
// pool (9 features) and the yacht UCI network widened to 9 inputs with seeded random weights.
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '@mcu/core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const FEATURES = 9;
export const HIDDEN = 50;

/** The pool, written in pieces (bounded memory): .npy 1.0, float32 [rows, 9], features ~ U(−3, 3), seed 42. */
export function writePool(path, rows) {
  let h = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${FEATURES}), }`;
  h += `${' '.repeat((64 - ((10 + h.length + 1) % 64)) % 64)}\n`;
  const head = Buffer.alloc(10 + h.length);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  head.writeUInt16LE(h.length, 8);
  head.write(h, 10, 'latin1');
  const fd = openSync(path, 'w');
  writeSync(fd, head);
  const r = mulberry32(42);
  const piece = 65536;
  for (let at = 0; at < rows; at += piece) {
    const n = Math.min(piece, rows - at);
    const x = new Float32Array(n * FEATURES);
    for (let k = 0; k < x.length; k++) x[k] = 6 * r() - 3;
    writeSync(fd, new Uint8Array(x.buffer));
  }
  closeSync(fd);
}

/** The yacht network with a 9-wide input and random weights (He-scaled), standardisation by identity. */
export async function writeModel(path) {
  const { decodeModel, encodeModel } = await import('@mcu/backend-onnx');
  const m = decodeModel(new Uint8Array(readFileSync(join(root, 'test/fixtures/files/uci/yacht/split00.onnx'))));
  const r = mulberry32(7);
  const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const tensor = (name, dims, values) => ({ name, dims: dims.map(BigInt), data_type: 1, raw_data: new Uint8Array(Float32Array.from(values).buffer) });
  const weights = {
    xm: tensor('xm', [FEATURES], new Array(FEATURES).fill(0)),
    xs: tensor('xs', [FEATURES], new Array(FEATURES).fill(1)),
    'l1.weight': tensor(
      'l1.weight',
      [HIDDEN, FEATURES],
      Array.from({ length: HIDDEN * FEATURES }, () => normal() * Math.sqrt(2 / FEATURES)),
    ),
    'l1.bias': tensor(
      'l1.bias',
      [HIDDEN],
      Array.from({ length: HIDDEN }, () => 0.1 * normal()),
    ),
    'l2.weight': tensor(
      'l2.weight',
      [1, HIDDEN],
      Array.from({ length: HIDDEN }, () => normal() * Math.sqrt(1 / HIDDEN)),
    ),
    'l2.bias': tensor('l2.bias', [1], [0]),
  };
  const g = m.graph;
  g.initializer = g.initializer.map((t) => {
    if (!(t.name in weights)) throw new Error(`the yacht fixture has an unexpected initializer ${t.name}`);
    return weights[t.name];
  });
  const dim = g.input[0].type.tensor_type.shape.dim;
  if (dim.length !== 2) throw new Error('the yacht fixture input is not [batch, features]');
  dim[1] = { dim_value: BigInt(FEATURES) };
  writeFileSync(path, encodeModel(m));
}
