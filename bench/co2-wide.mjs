// The paper's co2 network width for timing, shared by bench/suite.mjs and bench/gpu-prepare.mjs:
// no trained 4×1024 export is stored, so the bundled 4×128 example is widened with synthetic weights.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeModel, encodeModel } from '@mcu/backend-onnx';

/**
 * The bundled co2 example (4 hidden layers of 128) widened to `width` units per layer, with
 * deterministic synthetic weights (uniform ±1/√fan-in from a sine hash), written to
 * `dir/co2_relu_4x<width>.onnx`. `root` is the repository root. Returns the written path.
 */
export function writeWidenedCo2(root, dir, width) {
  const model = decodeModel(new Uint8Array(readFileSync(join(root, 'examples/co2_relu.preserve.onnx'))));
  const from = 128n;
  model.graph.initializer.forEach((t, k) => {
    t.dims = t.dims.map((d) => (d === from ? BigInt(width) : d));
    const n = t.dims.reduce((a, d) => a * Number(d), 1);
    const fanIn = t.dims.length === 2 ? Number(t.dims[1]) : width;
    const values = new Float32Array(n).map((_, i) => (((Math.sin((i + 1) * 12.9898 + k * 78.233) * 43758.5453) % 1) * 2) / Math.sqrt(fanIn));
    t.raw_data = new Uint8Array(values.buffer);
    delete t.float_data;
  });
  const path = join(dir, `co2_relu_4x${width}.onnx`);
  writeFileSync(path, encodeModel(model));
  return path;
}
