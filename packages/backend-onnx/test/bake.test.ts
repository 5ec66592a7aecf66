// bakeModel: a baked model, run by onnxruntime-node directly (no mcu code on that path), gives
// the numbers of core's predict on the original model with the same seed and T. Tolerance 1e-5:
// the graph sums T float32 values where core's estimators accumulate in float64.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { createMcu, McuError, predict, SeededSampler, type ClassificationPrediction, type RegressionPrediction } from '@mcu/core';
import { bakeModel, BAKED_KEY, decodeModel, OnnxNodeBackend, onnxModule, prepareModel, readBakedMetadata, type PreparedModel } from '../src/index.js';
import { fixtureBytes, lenetRef } from '../../../test/helpers/fixtures.js';
import { writeSoftmaxModel } from '../../../test/helpers/flag-models.js';

const REPO = path.resolve(import.meta.dirname, '../../..');
const CO2 = path.join(REPO, 'examples', 'co2_relu.preserve.onnx');
const TOL = 1e-5;

const co2Rows = (): number[] =>
  readFileSync(path.join(REPO, 'examples', 'co2-months.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map(Number);

async function prepared(bytes: Uint8Array): Promise<PreparedModel> {
  return new OnnxNodeBackend().prepare(decodeModel(bytes));
}

/** Runs the baked bytes on onnxruntime-node, nothing else. */
async function runBaked(
  bytes: Uint8Array,
  feeds: Record<string, { data: Float32Array; dims: number[] }>,
): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const out = await session.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.dims)])));
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { data: v.data as Float32Array, dims: [...v.dims].map(Number) }]));
  } finally {
    await session.release();
  }
}

/** Largest |a − b|, checked ≤ TOL; returned for the report. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>, what: string): number {
  expect(a.length, what).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  expect(worst, what).toBeLessThanOrEqual(TOL);
  return worst;
}

const mcu = () => createMcu({ modules: [onnxModule], backends: ['onnx'] });
let worstSeen = 0;

describe('bakeModel: regression (the bundled CO2 example)', () => {
  const x = co2Rows();
  const feeds = { data: Float32Array.from(x), dims: [x.length, 1] };

  for (const [samples, seed, tau] of [
    [50, 7, 50],
    [1, 3, 20],
    [50, 0, undefined],
  ] as const) {
    it(`T = ${samples}, seed ${seed}, τ ${tau ?? 'none'}: mean, variance, std equal predict's`, async () => {
      const p = await prepared(readFileSync(CO2));
      const baked = bakeModel(p, { samples, seed, ...(tau !== undefined ? { tau } : {}) });
      const input = p.inputs[0]!.name;
      const out = p.outputs[0]!.name;
      const got = await runBaked(baked.bytes, { [input]: feeds });
      expect(Object.keys(got).sort()).toEqual([`${out}_mean`, `${out}_std`, `${out}_variance`]);
      expect(got[`${out}_mean`]!.dims).toEqual([x.length, 1]);
      const ref = (await predict(CO2, x, { mcu: mcu(), samples, seed, ...(tau !== undefined ? { tau } : {}) })).outputs[out] as RegressionPrediction;
      worstSeen = Math.max(
        worstSeen,
        maxDiff(got[`${out}_mean`]!.data, ref.mean, 'mean'),
        maxDiff(got[`${out}_variance`]!.data, ref.variance, 'variance'),
        maxDiff(got[`${out}_std`]!.data, ref.std, 'std'),
      );
      if (samples === 1) for (const v of got[`${out}_variance`]!.data) expect(v).toBeCloseTo(1 / tau!, 6);
      const meta = readBakedMetadata(decodeModel(baked.bytes))!;
      expect(meta).toMatchObject({ samples, seed, tau: tau ?? null, scope: 'sample', outputs: [{ name: out, task: 'regression', sampled: true }] });
      if (tau === undefined) expect(JSON.parse(decodeModel(baked.bytes).metadata_props!.find((m) => m.key === BAKED_KEY)!.value!).note).toMatch(/no τ/);
    });
  }

  it('has the original inputs only: no mask input remains, the masks are initializers', async () => {
    const p = await prepared(readFileSync(CO2));
    const m = decodeModel(bakeModel(p, { samples: 4 }).bytes);
    expect(m.graph!.input!.map((v) => v.name)).toEqual(p.inputs.map((i) => i.name));
    const inits = new Set(m.graph!.initializer!.map((t) => t.name));
    for (const s of p.sites) expect(inits.has(s.name)).toBe(true);
    expect(m.metadata_props!.some((x) => x.key === 'mcu.sites')).toBe(false);
  });

  it("the baked masks are core's seeded sample-scope masks, bit for bit (WebAssembly kernel as the engine draws them)", async () => {
    const p = await prepared(readFileSync(CO2));
    const m = decodeModel(bakeModel(p, { samples: 7, seed: 12 }).bytes);
    const sampler = new SeededSampler({ seed: 12 });
    p.sites.forEach((site, siteIndex) => {
      const t = m.graph!.initializer!.find((x) => x.name === site.name)!;
      expect(t.dims!.map(Number)).toEqual([7, 1, ...site.maskShape]);
      const raw = t.raw_data!;
      const baked = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      const drawn = sampler.sample({ site, siteIndex, firstSample: 0, count: 7, rows: 1, scope: 'sample' });
      expect(Array.from(baked)).toEqual(Array.from(drawn.data as Float32Array));
    });
  });

  it('a decoded model is prepared statically; another seed gives other numbers', async () => {
    const x1 = { data: Float32Array.from([0.1, 0.5]), dims: [2, 1] };
    const a = await runBaked(bakeModel(decodeModel(readFileSync(CO2)), { samples: 10, seed: 1 }).bytes, { x: x1 });
    const b = await runBaked(bakeModel(decodeModel(readFileSync(CO2)), { samples: 10, seed: 2 }).bytes, { x: x1 });
    const k = Object.keys(a).find((n) => n.endsWith('_mean'))!;
    expect(Array.from(a[k]!.data)).not.toEqual(Array.from(b[k]!.data));
  });
});

describe('bakeModel: classification (PyTorch LeNet)', () => {
  const images = lenetRef('1.13').rotated.images as number[][];
  const feeds = { data: Float32Array.from(images.flat()), dims: [images.length, 1, 28, 28] };

  /** LeNet with a Softmax appended (test/helpers' writeSoftmaxModel): its output holds probabilities. */
  const softmaxLenet = (): Uint8Array =>
    readFileSync(writeSoftmaxModel('pytorch-1.13/lenet.preserve.onnx', path.join(mkdtempSync(path.join(tmpdir(), 'mcu-bake-')), 'lenet-softmax.onnx')));

  for (const [what, bytes, task, samples] of [
    ['logits, T = 50', () => fixtureBytes('pytorch-1.13/lenet.preserve.onnx'), 'classification', 50],
    ['logits, T = 1', () => fixtureBytes('pytorch-1.13/lenet.preserve.onnx'), 'classification', 1],
    ['a Softmax output (probabilities), T = 50', softmaxLenet, 'auto', 50],
  ] as const) {
    it(`${what}: probs, entropy, mutual information equal predict's`, async () => {
      const b = bytes();
      const p = await prepared(b);
      const baked = bakeModel(p, { samples, seed: 11, task });
      const out = p.outputs[0]!.name;
      const got = await runBaked(baked.bytes, { [p.inputs[0]!.name]: feeds });
      expect(got[`${out}_probs`]!.dims).toEqual([images.length, 10]);
      expect(got[`${out}_entropy`]!.dims).toEqual([images.length]);
      const ref = (await predict({ kind: 'bytes', bytes: b }, feeds, { mcu: mcu(), samples, seed: 11, task })).outputs[out] as ClassificationPrediction;
      worstSeen = Math.max(
        worstSeen,
        maxDiff(got[`${out}_probs`]!.data, ref.probs, 'probs'),
        maxDiff(got[`${out}_entropy`]!.data, ref.entropy, 'entropy'),
        maxDiff(got[`${out}_mutual_information`]!.data, ref.mutualInformation, 'mutual information'),
      );
      for (const v of got[`${out}_mutual_information`]!.data) expect(v).toBeGreaterThanOrEqual(0);
      // one sample: H[p̄] = H[p_1], up to float32 round-off of two formulas
      if (samples === 1) for (const v of got[`${out}_mutual_information`]!.data) expect(v).toBeLessThan(1e-6);
      expect(readBakedMetadata(baked.model)!.outputs[0]).toMatchObject({
        task: 'classification',
        holds: what.includes('Softmax') ? 'probabilities' : 'logits',
      });
    });
  }

  it('follows the task rule: 10 logits without --task are refused, naming the output', async () => {
    const p = await prepared(fixtureBytes('pytorch-1.13/lenet.preserve.onnx'));
    expect(() => bakeModel(p, { samples: 5 })).toThrow(/output 'logits' has 10 values per row/);
    expect(() => bakeModel(p, { samples: 5, task: { nope: 'regression' } })).toThrow(/no output 'nope'/);
    expect(() => bakeModel(p, { samples: 5, task: 'classification', tau: 3 })).toThrow(/every output .* is classification/);
  });
});

describe('bakeModel refuses what it cannot bake', () => {
  const code = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(McuError);
      return `${(e as McuError).code}: ${(e as Error).message}`;
    }
    throw new Error('expected a refusal');
  };

  it('T that is not an integer ≥ 1, or beyond the generator', async () => {
    const p = await prepared(readFileSync(CO2));
    for (const t of [0, -1, 1.5, Number.NaN, 2 ** 40])
      expect(code(() => bakeModel(p, { samples: t, samplesName: '--bake' }))).toMatch(/^E_CONFIG: --bake must be an integer/);
  });

  it('masks beyond the 2 GiB of an ONNX file, with the largest T that fits', async () => {
    const p = await prepared(readFileSync(CO2));
    expect(code(() => bakeModel(p, { samples: 2 ** 31 }))).toMatch(/^E_CONFIG: samples 2147483648: the baked masks take \d+ bytes .* bake at most \d+ samples/);
  });

  it('a baked model, a model without dropout, a tiled layout', async () => {
    const p = await prepared(readFileSync(CO2));
    const baked = bakeModel(p, { samples: 3 });
    expect(code(() => bakeModel(decodeModel(baked.bytes), { samples: 3 }))).toMatch(/^E_UNSUPPORTED: .*baked model already/);
    const eval_ = prepareModel(decodeModel(fixtureBytes('pytorch-1.13/lenet.eval.onnx')));
    expect(code(() => bakeModel(eval_, { samples: 3, task: 'classification' }))).toMatch(/^E_UNSUPPORTED: .*no dropout site/);
    expect(code(() => bakeModel({ ...p, layout: 'tiled' }, { samples: 3 }))).toMatch(/^E_UNSUPPORTED: .*'tiled' layout/);
  });

  it('loading a baked model into mcu is refused (library predict, the backend): it would run as one network without dropout', async () => {
    const baked = bakeModel(await prepared(readFileSync(CO2)), { samples: 4 });
    const mcu = createMcu({ modules: [onnxModule] });
    await expect(predict({ kind: 'bytes', bytes: baked.bytes }, co2Rows(), { mcu })).rejects.toMatchObject({
      code: 'E_UNSUPPORTED',
      message: expect.stringMatching(/is a baked model \(mcu convert --bake\).*run it directly with any ONNX runtime/),
    });
    expect(code(() => prepareModel(decodeModel(baked.bytes)))).toMatch(/^E_UNSUPPORTED: .*baked model/);
    await mcu.dispose();
  });

  it('reports the largest difference seen', () => {
    console.log(`bake: max |baked − predict| = ${worstSeen.toExponential(3)}`);
    expect(worstSeen).toBeLessThanOrEqual(TOL);
  });
});
