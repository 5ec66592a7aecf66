import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FIXTURES_DIR,
  co2Ref,
  conformanceCases,
  fixtureBytes,
  fixtureFiles,
  fixturePath,
  fixtureSha256,
  lenetRef,
  uciFixture,
  UCI_DATASETS,
  type UciDataset,
} from './helpers/fixtures.js';

const sha256 = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');

const REQUIRED_MODELS = [
  ...['train', 'preserve', 'masked', 'masked-sample', 'eval', 'opset6', 'opset7', 'opset10'].map((v) => `pytorch-1.13/co2_relu.${v}.onnx`),
  ...['train', 'preserve', 'masked', 'masked-sample', 'eval'].map((v) => `pytorch-1.13/co2_tanh.${v}.onnx`),
  ...['train', 'preserve', 'masked', 'eval'].map((v) => `pytorch-1.13/lenet.${v}.onnx`),
  ...['train', 'preserve', 'masked', 'eval', 'dynamo-eval'].map((v) => `pytorch-2.11/lenet.${v}.onnx`),
  'pytorch-2.11/lenet.dynamo-eval.onnx.data',
  ...['co2_relu', 'co2_tanh'].flatMap((m) => ['train', 'preserve', 'masked', 'masked-sample', 'eval'].map((v) => `pytorch-1.13-small/${m}.${v}.onnx`)),
];

// sha256 of the originals in the shared fixture set, pinned here independently of the manifest
const PINNED: Record<string, string> = {
  'pytorch-1.13/co2_relu.opset6.onnx': 'c8ba2da26bd4b5fe12dc480181ae4988c0f52c7c0d358c37420222cdef29b34e',
  'pytorch-1.13/lenet.masked.onnx': 'adc99e822933efa94e30f76225147d63c22f7bdb6246fbe111791bba54bd51f2',
  'pytorch-2.11/lenet.dynamo-eval.onnx.data': '90a0ed5dc7a3b21aabf2aa069adb69990e30868df0389ac9c07ea50bbc0dfc96',
  'pytorch-1.13-small/co2_relu.preserve.onnx': '377a053b2b6a72c5adce0f89964e9c75fea1ff8727d6b265869d21356264423c',
  'onnx-dropout-conformance/test_training_dropout_mask/model.onnx': 'aab53f9fa153dd2c2935e48eefe879d83c6852dc5ce0a84c2875ac3e89dec5b7',
};

describe('stored fixture files', () => {
  it('holds every model the tests need', () => {
    const files = new Set(fixtureFiles());
    for (const rel of REQUIRED_MODELS) expect(files.has(rel), rel).toBe(true);
  });

  it.each(fixtureFiles())('%s rebuilds byte-exact (sha256 of the original)', (rel) => {
    const b = fixtureBytes(rel);
    expect(sha256(b)).toBe(fixtureSha256(rel));
    if (PINNED[rel]) expect(sha256(b)).toBe(PINNED[rel]);
  });

  it('pins the originals independently of the manifest', () => {
    for (const [rel, h] of Object.entries(PINNED)) expect(fixtureSha256(rel)).toBe(h);
  });

  it('export variants share weights but are distinct files', () => {
    const a = fixtureBytes('pytorch-1.13/co2_relu.train.onnx');
    const b = fixtureBytes('pytorch-1.13/co2_relu.opset6.onnx');
    expect(a.length).toBeGreaterThan(3_000_000);
    expect(sha256(a)).not.toBe(sha256(b));
  });

  it('fixtureBytes hands out independent copies', () => {
    const rel = 'pytorch-1.13-small/co2_relu.eval.onnx';
    const a = fixtureBytes(rel);
    a.fill(0);
    expect(sha256(fixtureBytes(rel))).toBe(fixtureSha256(rel));
  });

  it('fixturePath materialises a model with its external-data sibling', () => {
    const p = fixturePath('pytorch-2.11/lenet.dynamo-eval.onnx');
    expect(path.isAbsolute(p)).toBe(true);
    expect(p.endsWith(path.join('pytorch-2.11', 'lenet.dynamo-eval.onnx'))).toBe(true);
    expect(sha256(fs.readFileSync(p))).toBe(fixtureSha256('pytorch-2.11/lenet.dynamo-eval.onnx'));
    const data = `${p}.data`;
    expect(sha256(fs.readFileSync(data))).toBe(fixtureSha256('pytorch-2.11/lenet.dynamo-eval.onnx.data'));
    // the model names its data file by that relative location
    expect(Buffer.from(fs.readFileSync(p)).includes('lenet.dynamo-eval.onnx.data')).toBe(true);
    expect(fixturePath('pytorch-2.11/lenet.dynamo-eval.onnx')).toBe(p);
  });

  it('rejects unknown fixtures with a clear error', () => {
    expect(() => fixtureBytes('pytorch-1.13/nope.onnx')).toThrow(/no stored fixture/);
  });

  it('stays lean: <= 12 MiB in all, no file over 2 MiB', () => {
    let total = 0;
    let largest = 0;
    const du = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) du(p);
        else {
          const s = fs.statSync(p).size;
          total += s;
          largest = Math.max(largest, s);
        }
      }
    };
    du(FIXTURES_DIR);
    expect(total).toBeLessThanOrEqual(12 * 1024 * 1024);
    expect(largest).toBeLessThanOrEqual(2 * 1024 * 1024);
  });
});

function expectMask(rows: number[][], R: number, C: number, p: number) {
  const scale = Math.fround(1 / (1 - p));
  expect(rows.length).toBe(R);
  let zeros = 0;
  const bad: number[] = [];
  for (const row of rows) {
    expect(row.length).toBe(C);
    for (const v of row) {
      if (v === 0) zeros++;
      else if (v !== scale) bad.push(v);
    }
  }
  expect(bad).toEqual([]); // every entry is 0 or float32(1/(1-p))
  return zeros / (R * C);
}

describe('co2 references', () => {
  for (const set of ['1.13', '1.13-small'] as const)
    for (const model of ['co2_relu', 'co2_tanh'] as const)
      it(`${set} ${model}`, () => {
        const r = co2Ref(set, model);
        const hidden = set === '1.13' ? 512 : 128;
        expect(r.hidden).toBe(hidden);
        expect(r.p).toBe(0.1);
        expect(r.activation).toBe(model === 'co2_relu' ? 'relu' : 'tanh');
        expect(r.n_train).toBe(444);
        expect(r.mc_T).toBe(1000);
        expect(r.tau).toBe(50);
        expect(r.weight_decay).toBeGreaterThan(0);
        for (const k of ['x', 'y', 't_years', 'deterministic', 'mc_mean', 'mc_std'] as const) {
          expect(r[k].length, k).toBe(741);
          expect(r[k].every(Number.isFinite), k).toBe(true);
        }
        expect(Object.keys(r.norm).sort()).toEqual(['t_mean', 't_std', 'y_mean', 'y_std']);
        expect(r.exact.length).toBe(3);
        let share = 0;
        for (const e of r.exact) {
          expect(e.rows.length).toBe(16);
          expect(e.y.length).toBe(16);
          expect(e.rows.every((i) => Number.isInteger(i) && i >= 0 && i < 741)).toBe(true);
          expect(e.masks.length).toBe(4);
          for (const m of e.masks) share += expectMask(m, 16, hidden, r.p) / 12;
        }
        expect(share).toBeGreaterThan(0.05);
        expect(share).toBeLessThan(0.15);
      });

  it('gives each caller its own object', () => {
    const a = co2Ref('1.13-small', 'co2_relu');
    a.exact[0].masks[0][0][0] = 42;
    a.x.length = 0;
    const b = co2Ref('1.13-small', 'co2_relu');
    expect(b.x.length).toBe(741);
    expect(b.exact[0].masks[0][0][0]).not.toBe(42);
  });
});

describe('lenet references', () => {
  for (const set of ['1.13', '2.11'] as const)
    it(set, () => {
      const r = lenetRef(set);
      expect(r.p).toBe(0.5);
      expect(r.acc_standard).toBeGreaterThan(0.97);
      expect(r.acc_mc100).toBeGreaterThan(0.97);
      expect(r.test_images_u8.length).toBe(200);
      expect(r.test_labels.length).toBe(200);
      expect(r.test_labels.slice(0, 5)).toEqual([7, 0, 9, 0, 7]);
      for (const img of r.test_images_u8) {
        expect(img.length).toBe(784);
        expect(img.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)).toBe(true);
      }
      const rot = r.rotated;
      expect(rot.predicted).toEqual([1, 1, 1, 1, 1, 1, 1, 2, 7, 7, 7, 5]);
      expect(rot.angles).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110]);
      expect(rot.T).toBe(1000);
      expect(rot.images.length).toBe(12);
      for (const img of rot.images) {
        expect(img.length).toBe(784);
        expect(img.every((v) => v >= 0 && v <= 1)).toBe(true);
      }
      expectMask(rot.exact_mask, 12, 500, r.p);
      for (const k of ['exact_logits', 'mean_probs', 'logits_mean', 'logits_std'] as const) {
        expect(rot[k].length, k).toBe(12);
        for (const row of rot[k]) expect(row.length, k).toBe(10);
      }
      for (const row of rot.mean_probs) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      for (const k of ['entropy', 'mutual_information', 'variation_ratio'] as const) expect(rot[k].length, k).toBe(12);
    });
});

describe('UCI datasets', () => {
  // rows, columns of data.txt; target column (Gal's index_target.txt)
  const shapes: Record<UciDataset, [number, number, number]> = {
    bostonHousing: [506, 14, 13],
    concrete: [1030, 9, 8],
    energy: [768, 9, 8],
    yacht: [308, 7, 6],
  };
  it.each(UCI_DATASETS.map((d) => [d]))('%s has the data, indices and all 20 split models', (d) => {
    const u = uciFixture(d);
    const [rows, cols, target] = shapes[d];
    expect(u.dataset).toBe(d);
    expect(u.reference.dataset).toBe(d);
    expect(fs.existsSync(path.join(u.dir, 'reference.json'))).toBe(true);
    expect(u.data.length).toBe(rows);
    expect(u.data.every((row) => row.length === cols && row.every(Number.isFinite))).toBe(true);
    expect(u.featureIndex).toEqual(Array.from({ length: target }, (_, k) => k));
    expect(u.targetIndex).toBe(target);
    expect(u.reference.splits.length).toBe(20);
    expect(u.splits.map((s) => s.split)).toEqual(Array.from({ length: 20 }, (_, k) => k));
    for (const s of u.splits) {
      expect(fs.existsSync(s.modelPath)).toBe(true);
      expect(s.trainIndex.length).toBe(s.n_train);
      expect(s.testIndex.length).toBe(s.n_test);
      const all = new Set([...s.trainIndex, ...s.testIndex]);
      expect(all.size).toBe(s.n_train + s.n_test);
      expect([...all].every((i) => i >= 0 && i < u.data.length)).toBe(true);
    }
  });
});

describe('ONNX Dropout conformance cases', () => {
  it('lists all 12 cases with their tensors', () => {
    const cases = conformanceCases();
    expect(cases.length).toBe(12);
    const byName = Object.fromEntries(cases.map((c) => [c.name, c]));
    expect(byName.test_training_dropout_mask.inputs.length).toBe(3);
    expect(byName.test_training_dropout_mask.outputs.length).toBe(2);
    expect(byName.test_dropout_default.inputs.length).toBe(1);
    for (const c of cases) {
      expect(fs.existsSync(c.modelPath), c.name).toBe(true);
      expect(c.inputs.length).toBeGreaterThan(0);
      expect(c.outputs.length).toBeGreaterThan(0);
    }
  });
});
