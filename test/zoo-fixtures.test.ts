// The dropout zoo (test/fixtures/zoo/, written by scripts/zoo/make_zoo.py): every model
// rebuilds byte-exact from its skeleton and the shared hash, and every reference decodes
// into consistent shapes. What mcu does with the models is tested elsewhere.

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readInputFile } from '../packages/cli/src/io/input.js';
import { validateMasks } from '../packages/cli/src/io/masks.js';
import {
  ZOO_DIR,
  zooHashFloats,
  zooInputFile,
  zooKeepValue,
  zooMasksJson,
  zooModelBytes,
  zooModelInfo,
  zooModelPath,
  zooNames,
  zooRef,
  zooRefusedNames,
  zooRefusedRef,
} from './helpers/zoo.js';

const sha256 = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');
const prod = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);
const allFinite = (a: ArrayLike<number>) => {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
};

const EXPECTED_ZOO = [
  'bert_like',
  'conv1d_ts',
  'efficientnet_b0',
  'functional_dropout_mlp',
  'googlenet',
  'gru_text',
  'lstm2_text',
  'mobilenet_v3_small',
  'multi_io',
  'regressor2_training',
  'resnet18',
  'selu_alpha_dropout',
  'spatial_cnn',
  'spatial_cnn.eval',
  'squeezenet1_1',
  'transformer_encoder',
  'unet_small',
  'vgg11_bn',
];
const EXPECTED_REFUSED = ['refuse.bernoulli', 'refuse.multinomial', 'refuse.rand_like_dropout', 'refuse.randn_like_noise'];

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-zoo-test-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe('zoo catalogue', () => {
  it('lists the models and the refusal models', () => {
    expect(zooNames()).toEqual(EXPECTED_ZOO);
    expect(zooRefusedNames()).toEqual(EXPECTED_REFUSED);
    for (const n of [...zooNames(), ...zooRefusedNames()]) {
      expect(fs.existsSync(path.join(ZOO_DIR, `${n}.skel.gz`)), n).toBe(true);
    }
  });

  it('the hash matches numpy (values printed by make_zoo.py gen_values)', () => {
    const pin = (g: { seed: number; n: number; scale: number; offset: number }, want: number[]) =>
      expect(Array.from(zooHashFloats(g)), JSON.stringify(g)).toEqual(want);
    pin({ seed: 7, n: 4, scale: 0.5, offset: 0.5 }, [0.5846774578094482, 0.47665250301361084, 0.16651558876037598, 0.43511587381362915]);
    // s·0x85EBCA77 wraps mod 2^32
    pin({ seed: 0xffffffff, n: 3, scale: 1, offset: 0 }, [-0.1624850034713745, -0.6233137845993042, -0.9104048013687134]);
    pin({ seed: 1007000, n: 3, scale: 1, offset: 0 }, [-0.10464489459991455, -0.5146485567092896, -0.9812140464782715]);
    pin({ seed: 1234, n: 2, scale: Math.fround(0.1), offset: 1 }, [1.035345435142517, 1.0242232084274292]);
  });
});

describe.each([...EXPECTED_ZOO, ...EXPECTED_REFUSED])('%s', (name) => {
  it('rebuilds to the recorded size and sha256', () => {
    const info = zooModelInfo(name);
    const b = zooModelBytes(name);
    expect(b.length).toBe(info.size);
    expect(sha256(b)).toBe(info.sha256);
    // an ONNX ModelProto starts with field 1 (ir_version, varint)
    expect(b[0]).toBe(0x08);
  });

  if (name.startsWith('refuse.')) {
    it('records its ops (a stochastic op other than Dropout)', () => {
      const r = zooRefusedRef(name);
      expect(r.name).toBe(name);
      expect(r.ops.Dropout ?? 0).toBe(0);
      const random = ['RandomUniformLike', 'RandomNormalLike', 'RandomUniform', 'RandomNormal', 'Bernoulli', 'Multinomial'];
      expect(
        Object.keys(r.ops).some((op) => random.includes(op)),
        JSON.stringify(r.ops),
      ).toBe(true);
      expect(() => zooRef(name)).toThrow(/refusal/);
    });
    return;
  }

  it('its reference decodes consistently', () => {
    const ref = zooRef(name);
    expect(ref.name).toBe(name);
    expect(ref.N).toBeGreaterThan(0);
    expect(ref.sites.length).toBeGreaterThan(0);

    // inputs
    for (const [k, inp] of Object.entries(ref.inputs)) {
      expect(inp.dims[0], k).toBe(ref.N);
      expect(inp.data.length, k).toBe(prod(inp.dims));
      expect(ref.inputNumbers[k].length, k).toBe(prod(inp.dims));
      if (inp.dtype === 'int64') {
        expect(inp.data).toBeInstanceOf(BigInt64Array);
        expect(Array.from(inp.data as BigInt64Array, Number)).toEqual(ref.inputNumbers[k]);
      } else {
        expect(inp.data).toBeInstanceOf(Float32Array);
        expect(allFinite(inp.data as Float32Array), k).toBe(true);
        expect(Array.from(inp.data as Float32Array)).toEqual(ref.inputNumbers[k]);
      }
    }

    // sites: the per-row shape accounts for the whole torch tensor (or its channels)
    for (const s of ref.sites) {
      expect(['dropout', 'feature', 'alpha']).toContain(s.kind);
      expect(s.p > 0 && s.p < 1).toBe(true);
      expect(s.shape[s.rowAxis]).toBe(ref.N * s.rowFactor);
      if (s.kind === 'feature') expect(ref.N * prod(s.rowShape)).toBe(s.shape[0] * s.shape[1]);
      else expect(ref.N * prod(s.rowShape)).toBe(prod(s.shape));
    }

    // exact records
    expect(ref.exact.length).toBe(2);
    for (const e of ref.exact) {
      expect(e.masks.length).toBe(ref.sites.length);
      e.masks.forEach((m, i) => {
        const s = ref.sites[i];
        expect(m.kind).toBe(s.kind);
        expect(m.p).toBe(s.p);
        expect(m.rowShape).toEqual(s.rowShape);
        const n = ref.N * prod(m.rowShape);
        expect(m.values.length).toBe(n);
        const keep = zooKeepValue(s.kind, s.p);
        let kept = 0;
        let other = 0;
        for (const v of m.values) {
          if (v === keep) kept++;
          else if (v !== 0) other++;
        }
        expect(other, `site ${i}: values other than 0 and ${keep}`).toBe(0);
        expect(kept).toBe(m.kept);
        // Binomial(n, 1 − p): within 6 standard deviations (plus one for tiny n)
        const sd = Math.sqrt(n * s.p * (1 - s.p));
        expect(Math.abs(kept - n * (1 - s.p)), `site ${i}: ${kept} of ${n} kept, p ${s.p}`).toBeLessThanOrEqual(6 * sd + 1);
      });
      expect(Object.keys(e.outputs)).toEqual(ref.outputs);
      for (const [k, t] of Object.entries(e.outputs)) {
        expect(t.dims[0], k).toBe(ref.N);
        expect(t.data.length, k).toBe(prod(t.dims));
        expect(allFinite(t.data), k).toBe(true);
      }
    }
    // the two records draw different masks
    const differs = ref.exact[0].masks.some((m, i) => m.values.some((v, j) => v !== ref.exact[1].masks[i].values[j]));
    expect(differs).toBe(true);

    // MC statistics and the deterministic outputs
    expect(ref.mc.T).toBe(500);
    expect(ref.mc.scope).toBe('point');
    expect(Object.keys(ref.mc.outputs)).toEqual(ref.outputs);
    expect(Object.keys(ref.deterministic)).toEqual(ref.outputs);
    for (const k of ref.outputs) {
      const s = ref.mc.outputs[k];
      const n = prod(s.dims);
      expect(s.dims).toEqual(ref.exact[0].outputs[k].dims);
      for (const a of [s.mean, s.std, s.m4, ref.deterministic[k]]) {
        expect(a.length, k).toBe(n);
        expect(allFinite(a), k).toBe(true);
      }
      expect(s.std.every((v) => v >= 0) && s.m4.every((v) => v >= 0), k).toBe(true);
      // dropout makes at least one output element vary
      expect(
        s.std.some((v) => v > 0),
        k,
      ).toBe(true);
    }
    expect(Object.keys(ref.ops).length).toBeGreaterThan(0);
  });

  it('writes --masks and --input files the CLI accepts', () => {
    const ref = zooRef(name);
    for (const r of [0, 1]) {
      const masks = zooMasksJson(name, r);
      expect(zooMasksJson(name, ref.exact[r])).toEqual(masks);
      const again = validateMasks(JSON.parse(JSON.stringify(masks)), `${name} record ${r}`);
      expect(again.length).toBe(ref.sites.length);
      again.forEach((site, i) => {
        expect(site.length).toBe(ref.N);
        for (const row of site) expect(row.length).toBe(prod(ref.sites[i].rowShape));
        expect(Float32Array.from(site.flat())).toEqual(ref.exact[r].masks[i].values);
      });
    }
    const args = zooInputFile(name, scratch);
    expect(args.map((a) => a.slice(0, a.indexOf('=')))).toEqual(Object.keys(ref.inputs));
    for (const a of args) {
      const [k, file] = [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)];
      const inp = ref.inputs[k];
      const spec = { name: k, dims: inp.dims.map((d, i) => (i === 0 ? 'batch' : d)) };
      const got = readInputFile(file, spec);
      expect(got.dims).toEqual(inp.dims);
      expect(got.data).toEqual(Float32Array.from(ref.inputNumbers[k]));
    }
  });
});

describe('zooModelPath / zooModelBytes', () => {
  it('materialises once under os.tmpdir() and reuses the file', () => {
    const name = 'regressor2_training';
    const p = zooModelPath(name);
    expect(path.isAbsolute(p)).toBe(true);
    expect(p.startsWith(os.tmpdir())).toBe(true);
    expect(path.basename(path.dirname(p))).toMatch(/^mcu-zoo-[0-9a-f]{12}$/);
    expect(path.basename(p)).toBe(`${name}.onnx`);
    expect(sha256(fs.readFileSync(p))).toBe(zooModelInfo(name).sha256);
    const mtime = fs.statSync(p).mtimeMs;
    expect(zooModelPath(name)).toBe(p);
    expect(fs.statSync(p).mtimeMs).toBe(mtime);
    const q = zooModelPath('spatial_cnn.eval');
    expect(path.dirname(q)).toBe(path.dirname(p));
    expect(sha256(fs.readFileSync(q))).toBe(zooModelInfo('spatial_cnn.eval').sha256);
  });

  it('hands out independent copies', () => {
    const name = 'functional_dropout_mlp';
    const a = zooModelBytes(name);
    a.fill(0);
    expect(sha256(zooModelBytes(name))).toBe(zooModelInfo(name).sha256);
  });

  it('rejects unknown names', () => {
    expect(() => zooModelBytes('no_such_model')).toThrow(/no zoo model/);
  });
});
