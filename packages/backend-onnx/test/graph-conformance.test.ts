// ONNX's own Dropout node tests (onnx-dropout-conformance/README.md): inference cases with
// all-ones masks give the expected output; training cases obey the operator's law with
// mcu's sampled masks; ratio / training_mode graph inputs need `rates`.
import { describe, expect, test } from 'vitest';
import * as ort from 'onnxruntime-node';
import { McuError } from '@mcu/core';
import { conformanceCases } from '../../../test/helpers/fixtures.js';
import { decodeTensor, encodeModel } from '../src/proto/codec.js';
import type { TensorProto } from '../src/proto/types.js';
import { loadModelFile } from '../src/graph/external.js';
import { prepareModel } from '../src/graph/prepare.js';
import { tensorNumbers } from '../src/graph/tensor-values.js';
import { mulberry32 } from '../../../test/helpers/check.js';

const cases = conformanceCases();

function values(t: TensorProto): number[] {
  const n = tensorNumbers(t, 1 << 20) ?? (t.data_type === 9 ? Array.from(t.raw_data ?? new Uint8Array(), Number) : undefined);
  if (n === undefined) throw new Error(`cannot read ${t.name}`);
  return n;
}

async function prepared(c: (typeof cases)[number]) {
  const model = await loadModelFile(c.modelPath);
  const inputs = c.inputs.map((b) => decodeTensor(b, c.name));
  const outputs = c.outputs.map((b) => decodeTensor(b, c.name));
  const ratioInput = model.graph!.node!.find((n) => n.op_type === 'Dropout')!.input?.[1];
  const isGraphInput = !!ratioInput && model.graph!.input!.some((v) => v.name === ratioInput);
  const rates: Record<string, number> = {};
  if (isGraphInput) rates[ratioInput] = values(inputs.find((t) => t.name === ratioInput)!)[0]!;
  return { model, inputs, outputs, ratioInput: isGraphInput ? ratioInput : undefined, rates };
}

test('the fixture set has all 12 cases', () => {
  expect(cases.map((c) => c.name)).toHaveLength(12);
});

describe.each(cases.map((c) => [c.name, c] as const))('%s', (name, c) => {
  test('ratio given as a graph input: E_SITE naming it unless `rates` is given', async () => {
    const { model, ratioInput } = await prepared(c);
    if (!ratioInput) {
      expect(() => prepareModel(model, { what: name })).not.toThrow();
      return;
    }
    let err: unknown;
    try {
      prepareModel(model, { what: name });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(McuError);
    expect((err as McuError).code).toBe('E_SITE');
    expect((err as McuError).message).toContain(`'${ratioInput}'`);
    expect((err as McuError).message).toContain(`--rate ${ratioInput}=`);
  });

  test(name.startsWith('test_training') ? 'the operator law holds with sampled masks' : 'all-ones masks give the expected output', async () => {
    const { model, inputs, outputs, rates } = await prepared(c);
    const p = prepareModel(model, { rates, what: name });
    expect(p.sites).toHaveLength(1);
    // ratio / training_mode inputs are gone: only x is data.
    expect(p.inputs.map((i) => i.name)).toEqual(['x']);
    const site = p.sites[0]!;
    const xT = inputs[0]!;
    const x = values(xT);
    const dims = (xT.dims ?? []).map(Number);
    const N = dims[0]!;
    const per = site.maskShape.reduce((a, b) => a * b, 1);
    expect(per * N).toBe(x.length);
    const training = name.startsWith('test_training');
    const S = training ? 400 : 1;
    const rate = site.rate;
    const rand = mulberry32(1234);
    const mask = new Float32Array(S * per);
    for (let i = 0; i < mask.length; i++) mask[i] = training ? (rand() < rate ? 0 : 1 / (1 - rate)) : 1;
    const session = await ort.InferenceSession.create(encodeModel(p.model), { logSeverityLevel: 3 });
    const out = await session.run({
      x: new ort.Tensor('float32', Float32Array.from(x), dims),
      [site.name]: new ort.Tensor('float32', mask, [S, 1, ...site.maskShape]),
    });
    await session.release();
    const y = out[p.outputs[0]!.name]!;
    expect(y.dims).toEqual([S * N, ...dims.slice(1)]);
    const yv = y.data as Float32Array;
    const z = p.outputs[1] ? Array.from(out[p.outputs[1].name]!.data as ArrayLike<number | boolean>, Number) : undefined;
    if (z) expect(out[p.outputs[1]!.name]!.type).toBe('bool');
    if (!training) {
      expect(Array.from(yv)).toEqual(values(outputs[0]!).map((v) => Math.fround(v)));
      if (z) expect(z.every((v) => v === 1)).toBe(true);
      return;
    }
    let zeros = 0;
    const bad: string[] = [];
    for (let t = 0; t < S; t++) {
      for (let i = 0; i < N * per; i++) {
        const k = t * N * per + i;
        const m = mask[t * per + (i % per)]!;
        const want = m === 0 ? 0 : x[i]! / (1 - rate);
        if (m === 0) zeros++;
        if (Math.abs(yv[k]! - want) > 1e-6 * Math.max(1, Math.abs(want))) bad.push(`y[${k}] = ${yv[k]}, want ${want}`);
        if (z && z[k] !== (m !== 0 ? 1 : 0)) bad.push(`mask[${k}] = ${z[k]} but the element was ${m !== 0 ? 'kept' : 'dropped'}`);
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
    const share = zeros / (S * N * per);
    expect(Math.abs(share - rate)).toBeLessThan(0.03);
    if (rate === 0) expect(Array.from(yv.subarray(0, x.length))).toEqual(x.map((v) => Math.fround(v)));
  });
});
