// Exactness against PyTorch: prepared models fed the masks PyTorch used (scope 'point',
// S = 1: masks [1, N, ...]) must reproduce PyTorch's outputs, for every export style.
import { afterAll, describe, expect, test } from 'vitest';
import * as ort from 'onnxruntime-node';
import { co2Ref, fixtureBytes, fixturePath, lenetRef } from '../../../test/helpers/fixtures.js';
import { decodeModel, encodeModel } from '../src/proto/codec.js';
import { loadModelFile } from '../src/graph/external.js';
import { prepareModel, type PrepareOptions, type PreparedModel } from '../src/graph/prepare.js';

const TOL = 1e-5;
const table: { fixture: string; style: string; sites: number; maxRelErr: number }[] = [];

async function runPrepared(p: PreparedModel, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(encodeModel(p.model), { logSeverityLevel: 3 });
  try {
    const out = await session.run(feeds);
    return out[p.outputs[0]!.name]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

function relErr(got: ArrayLike<number>, want: readonly number[]): number {
  expect(got.length).toBe(want.length);
  let scale = 0;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]!));
    err = Math.max(err, Math.abs(got[i]! - want[i]!));
  }
  return err / scale;
}

const co2Masks = ['mask1', 'mask2', 'mask3', 'mask4'];
const co2Styles: { style: string; file: string; options: (p: number) => PrepareOptions; sampleAxis?: boolean }[] = [
  { style: 'train', file: 'train', options: () => ({}) },
  { style: 'preserve', file: 'preserve', options: () => ({}) },
  { style: 'masked', file: 'masked', options: (p) => ({ maskInputs: Object.fromEntries(co2Masks.map((m) => [m, p])) }) },
  {
    style: 'masked-sample',
    file: 'masked-sample',
    options: (p) => ({ maskInputs: Object.fromEntries(co2Masks.map((m) => [m, p])) }),
    sampleAxis: true,
  },
  { style: 'eval+insert(Gemm)', file: 'eval', options: (p) => ({ insertDropout: { rate: p, before: ['Gemm'] } }) },
];

const co2Cases: { set: '1.13' | '1.13-small'; model: 'co2_relu' | 'co2_tanh'; style: (typeof co2Styles)[number] }[] = [];
for (const set of ['1.13', '1.13-small'] as const) {
  for (const model of ['co2_relu', 'co2_tanh'] as const) for (const style of co2Styles) co2Cases.push({ set, model, style });
}
for (const legacy of ['opset6', 'opset7', 'opset10']) {
  co2Cases.push({ set: '1.13', model: 'co2_relu', style: { style: legacy, file: legacy, options: () => ({}) } });
}

describe('co2 MLP: every export style reproduces PyTorch (masks of the exact records)', () => {
  const refs = new Map<string, ReturnType<typeof co2Ref>>();
  const ref = (set: '1.13' | '1.13-small', model: 'co2_relu' | 'co2_tanh') => {
    const key = `${set}/${model}`;
    if (!refs.has(key)) refs.set(key, co2Ref(set, model));
    return refs.get(key)!;
  };
  test.each(co2Cases.map((c) => [`pytorch-${c.set}/${c.model}.${c.style.file}.onnx (${c.style.style})`, c] as const))('%s', async (_, c) => {
    const r = ref(c.set, c.model);
    const file = `pytorch-${c.set}/${c.model}.${c.style.file}.onnx`;
    const p = prepareModel(decodeModel(fixtureBytes(file), file), { ...c.style.options(r.p), what: file });
    expect(p.sites).toHaveLength(4);
    expect(p.sites.every((s) => s.rate === r.p && s.maskShape.length === 1 && s.maskShape[0] === r.hidden)).toBe(true);
    expect(p.layout).toBe(c.style.sampleAxis ? 'sample-axis' : 'broadcast');
    // Masks and (IR 3) initializers listed as graph inputs are not data inputs.
    expect(p.inputs.map((i) => i.name)).toEqual(['x']);
    let worst = 0;
    for (const e of r.exact) {
      const n = e.rows.length;
      const x = Float32Array.from(e.rows.map((i) => r.x[i]!));
      const feeds: Record<string, ort.Tensor> = {
        [p.inputs[0]!.name]: new ort.Tensor('float32', x, c.style.sampleAxis ? [1, n, 1] : [n, 1]),
      };
      p.sites.forEach((s, k) => {
        feeds[s.name] = new ort.Tensor('float32', Float32Array.from(e.masks[k]!.flat()), [1, n, r.hidden]);
      });
      worst = Math.max(worst, relErr(await runPrepared(p, feeds), e.y));
    }
    table.push({ fixture: `${c.set}/${c.model}`, style: c.style.style, sites: p.sites.length, maxRelErr: worst });
    expect(worst).toBeLessThanOrEqual(TOL);
  });
});

describe('LeNet: every export style reproduces PyTorch (rotated "1", exact_mask)', () => {
  const styles: { set: '1.13' | '2.11'; style: string; file: string; options: PrepareOptions; path?: boolean }[] = [];
  for (const set of ['1.13', '2.11'] as const) {
    styles.push({ set, style: 'train', file: 'lenet.train.onnx', options: {} });
    styles.push({ set, style: 'preserve', file: 'lenet.preserve.onnx', options: {} });
    styles.push({ set, style: 'masked', file: 'lenet.masked.onnx', options: { maskInputs: { mask: 0.5 } } });
    styles.push({ set, style: 'eval+insert(Gemm)', file: 'lenet.eval.onnx', options: { insertDropout: { rate: 0.5, before: ['Gemm'] } } });
  }
  styles.push({
    set: '2.11',
    style: 'dynamo-eval+insert(Gemm), external data',
    file: 'lenet.dynamo-eval.onnx',
    options: { insertDropout: { rate: 0.5, before: ['Gemm'] } },
    path: true,
  });
  test.each(styles.map((s) => [`pytorch-${s.set}/${s.file} (${s.style})`, s] as const))('%s', async (_, s) => {
    const r = lenetRef(s.set).rotated;
    const rel = `pytorch-${s.set}/${s.file}`;
    const model = s.path ? await loadModelFile(fixturePath(rel)) : decodeModel(fixtureBytes(rel), rel);
    const p = prepareModel(model, { ...s.options, what: rel });
    // Exactly one site: the dropout before the last fully connected layer.
    expect(p.sites.map((x) => [x.rate, x.maskShape])).toEqual([[0.5, [500]]]);
    expect(p.inputs.map((i) => i.name)).toEqual(['image']);
    const n = r.images.length;
    const feeds = {
      [p.inputs[0]!.name]: new ort.Tensor('float32', Float32Array.from(r.images.flat()), [n, 1, 28, 28]),
      [p.sites[0]!.name]: new ort.Tensor('float32', Float32Array.from(r.exact_mask.flat()), [1, n, 500]),
    };
    const err = relErr(await runPrepared(p, feeds), r.exact_logits.flat());
    table.push({ fixture: `${s.set}/lenet`, style: s.style, sites: p.sites.length, maxRelErr: err });
    expect(err).toBeLessThanOrEqual(TOL);
  });
});

afterAll(() => {
  if (table.length === 0) return;
  const lines = table.map((t) => `${t.fixture.padEnd(20)} ${t.style.padEnd(42)} ${String(t.sites).padStart(5)}  ${t.maxRelErr.toExponential(2)}`);
  console.log(
    [
      'max |onnxruntime − PyTorch| / max |PyTorch| per fixture and export style (tolerance 1e-5):',
      `${'fixture'.padEnd(20)} ${'style'.padEnd(42)} sites  max rel err`,
      ...lines,
    ].join('\n'),
  );
});
