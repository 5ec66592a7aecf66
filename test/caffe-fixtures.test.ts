// The Caffe ground truth (test/fixtures/caffe/, written by scripts/caffe/make_caffe_fixtures.py):
// every caffemodel rebuilds byte-exact to its recorded size and sha256, its blobs are where
// the recorded weights say, the masks decode to 0 / scale, and all shapes agree. What
// @mcu/format-caffe does with them is tested elsewhere.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CAFFE_FIXTURES_DIR, CAFFE_NETS, caffeGenFloats, caffeLayerCases, caffeNetFixture } from '../packages/fixtures/src/index.js';

const sha256 = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');
const prod = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);

// ---- a minimal protobuf wire walk (independent of the format-caffe reader)
type Field = { f: number; wt: number; s: number; e: number };
function varint(b: Uint8Array, i: number): [number, number] {
  let r = 0;
  let m = 1;
  for (;;) {
    const c = b[i++];
    r += (c & 0x7f) * m;
    m *= 128;
    if (c < 0x80) return [r, i];
  }
}
function fields(b: Uint8Array, start: number, end: number): Field[] {
  const out: Field[] = [];
  let i = start;
  while (i < end) {
    const [key, j] = varint(b, i);
    const f = Math.floor(key / 8);
    const wt = key & 7;
    if (wt === 0) {
      const [, k] = varint(b, j);
      out.push({ f, wt, s: j, e: k });
      i = k;
    } else if (wt === 1) {
      out.push({ f, wt, s: j, e: j + 8 });
      i = j + 8;
    } else if (wt === 5) {
      out.push({ f, wt, s: j, e: j + 4 });
      i = j + 4;
    } else if (wt === 2) {
      const [n, k] = varint(b, j);
      out.push({ f, wt, s: k, e: k + n });
      i = k + n;
    } else throw new Error(`wire type ${wt}`);
  }
  expect(i).toBe(end);
  return out;
}
const str = (b: Uint8Array, x: Field) => Buffer.from(b.subarray(x.s, x.e)).toString('utf8');
function packedInts(b: Uint8Array, x: Field): number[] {
  const out: number[] = [];
  let i = x.s;
  while (i < x.e) {
    const [v, j] = varint(b, i);
    out.push(v);
    i = j;
  }
  return out;
}
/** Layers of a NetParameter: name and blobs (shape or legacy dims, float data). */
function layersOf(b: Uint8Array, v1: boolean) {
  const [lf, nf, bf] = v1 ? [2, 4, 6] : [100, 1, 7];
  return fields(b, 0, b.length)
    .filter((x) => x.f === lf && x.wt === 2)
    .map((L) => {
      const fs2 = fields(b, L.s, L.e);
      const name = str(b, fs2.find((x) => x.f === nf)!);
      const blobs = fs2
        .filter((x) => x.f === bf)
        .map((B) => {
          const g = fields(b, B.s, B.e);
          const data = g.find((x) => x.f === 5 && x.wt === 2)!;
          const shape = g.find((x) => x.f === 7);
          const dims = shape ? packedInts(b, fields(b, shape.s, shape.e).find((x) => x.f === 1)!) : [];
          const legacy = [1, 2, 3, 4].map((k) => {
            const y = g.find((x) => x.f === k && x.wt === 0);
            return y ? varint(b, y.s)[0] : 0;
          });
          const dv = new DataView(b.buffer, b.byteOffset + data.s, data.e - data.s);
          const vals = new Float32Array((data.e - data.s) / 4);
          for (let i = 0; i < vals.length; i++) vals[i] = dv.getFloat32(4 * i, true);
          return { dims, legacy, vals };
        });
      return { name, blobs };
    });
}

describe('the seeded generator', () => {
  it('agrees with make_caffe_fixtures.py (xorshift32 13/17/5, 24-bit values)', () => {
    expect(Array.from(caffeGenFloats(1, 4, 0))).toEqual([-0.9998741149902344, -0.9685051441192627, 0.23280811309814453, -0.8567627668380737]);
    expect(Array.from(caffeGenFloats(0xffffffff, 3, -1))).toEqual([-1.9997634887695312, 1.9379875659942627, -0.17605018615722656]);
    expect(() => caffeGenFloats(0, 1, 0)).toThrow(/seed/);
  });
});

describe.each(CAFFE_NETS.map((n) => [n]))('Caffe net %s', (name) => {
  const fx = caffeNetFixture(name);
  const v1 = name === 'v1_small';

  it('rebuilds the caffemodel byte-exact (size, sha256), also as a file', () => {
    const b = fx.caffemodel();
    expect(b.length).toBe(fx.caffemodelSize);
    expect(sha256(b)).toBe(fx.caffemodelSha256);
    const p = fx.caffemodelPath();
    expect(path.isAbsolute(p)).toBe(true);
    expect(sha256(fs.readFileSync(p))).toBe(fx.caffemodelSha256);
    b[0] ^= 0xff; // own copy per call
    expect(sha256(fx.caffemodel())).toBe(fx.caffemodelSha256);
  });

  it('holds the recorded weights, in file order, in Caffe blob layout', () => {
    const layers = layersOf(fx.caffemodel(), v1);
    const blobs = layers.flatMap((L) => L.blobs.map((B, i) => ({ layer: L.name, i, ...B })));
    expect(blobs.map((B) => [B.layer, B.i])).toEqual(fx.weights.map((w) => [w.layer, w.blob]));
    blobs.forEach((B, k) => {
      const w = fx.weights[k];
      expect(B.vals.length).toBe(w.count);
      expect(prod(w.shape)).toBe(w.count);
      if (v1) {
        expect(B.dims).toEqual([]); // legacy num/channels/height/width only
        const want = w.shape.length === 4 ? w.shape : w.shape.length === 2 ? [1, 1, ...w.shape] : [1, 1, 1, w.shape[0]];
        expect(B.legacy).toEqual(want);
      } else expect(B.dims).toEqual(w.shape);
      const g = caffeGenFloats(w.seed, w.count, w.exp);
      let same = g.length === B.vals.length;
      for (let i = 0; same && i < g.length; i++) same = Object.is(g[i], B.vals[i]);
      expect(same, `${w.layer} blob ${w.blob}`).toBe(true);
    });
    // every Dropout site of the prototxt is a layer of the caffemodel too
    const names = new Set(layers.map((L) => L.name));
    for (const s of fx.sites) expect(names.has(s.name)).toBe(true);
  });

  it('reads its prototxt (the recorded file) and declares its sites', () => {
    expect(fs.existsSync(fx.prototxtPath)).toBe(true);
    expect(fx.prototxt).toContain(fx.input.name);
    for (const s of fx.sites) {
      expect(fx.prototxt).toContain(`name: "${s.name}"`);
      expect(s.perRow).toBe(prod(s.perRowDims));
      expect(s.scale).toBe(Math.fround(1 / (1 - Math.fround(s.p))));
    }
    for (const o of fx.outputs) expect(fx.recorded).toContain(o);
  });

  it('has consistent shapes: input, standard, exact masks and outputs, MC', () => {
    const N = fx.input.dims[0];
    expect(fx.input.data.length).toBe(prod(fx.input.dims));
    expect(fx.input.rows.length).toBe(N);
    expect(Object.keys(fx.standard).sort()).toEqual([...fx.recorded].sort());
    for (const t of Object.values(fx.standard)) {
      expect(t.dims[0]).toBe(N);
      expect(t.data.length).toBe(prod(t.dims));
      expect(t.data.every(Number.isFinite)).toBe(true);
    }
    expect(fx.exact.length).toBe(2);
    for (const e of fx.exact) {
      expect(e.masks.map((m) => m.site)).toEqual(fx.sites.map((s) => s.name));
      e.masks.forEach((m, k) => {
        const s = fx.sites[k];
        expect(m.shape).toEqual([e.rows.length, s.perRow]);
        expect(m.data.length).toBe(e.rows.length * s.perRow);
        expect(m.scale).toBe(s.scale);
        let kept = 0;
        let other = 0;
        for (const v of m.data) {
          if (v === m.scale) kept++;
          else if (v !== 0) other++;
        }
        expect(other).toBe(0);
        const n = m.data.length;
        const q = 1 - s.p;
        expect(Math.abs(kept / n - q)).toBeLessThan(5 * Math.sqrt((q * (1 - q)) / n) + 1e-9);
      });
      for (const r of fx.recorded) {
        const t = e.outputs[r];
        expect(t.dims).toEqual([e.rows.length, ...fx.standard[r].dims.slice(1)]);
        expect(t.data.length).toBe(prod(t.dims));
      }
    }
    expect(fx.mc.T).toBe(1000);
    expect(fx.mc.rows.length).toBe(N);
    for (const r of fx.recorded) {
      const m = fx.mc.outputs[r];
      expect(m.dims).toEqual(fx.standard[r].dims);
      expect(m.mean.length).toBe(prod(m.dims));
      expect(m.std.length).toBe(prod(m.dims));
      expect(m.std.every((v) => v >= 0)).toBe(true);
    }
    // softmax outputs are distributions
    if (fx.outputs[0] === 'softmax' || fx.outputs[0] === 'prob') {
      const t = fx.standard[fx.outputs[0]];
      const C = t.dims[1];
      for (let i = 0; i < N; i++) {
        let s = 0;
        for (let c = 0; c < C; c++) s += t.data[i * C + c];
        expect(Math.abs(s - 1)).toBeLessThan(1e-5);
      }
    }
  });
});

describe('Caffe per-layer cases', () => {
  const cases = caffeLayerCases();

  it('are many, uniquely named, with checked caffemodels', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
    for (const c of cases) {
      expect(c.prototxt).toContain(`name: "`);
      if (c.caffemodel) {
        const layers = layersOf(c.caffemodel, false);
        expect(layers.length).toBeGreaterThan(0);
        expect(layers.some((L) => L.blobs.length > 0)).toBe(true);
        for (const L of layers) expect(c.prototxt).toContain(`name: "${L.name}"`);
      }
    }
    const withModel = new Set(cases.filter((c) => c.caffemodel).map((c) => c.name));
    for (const n of ['conv_basic', 'conv_group', 'ip_transpose', 'prelu_shared', 'batchnorm_scale', 'dropout_scale_train_false'])
      expect(withModel.has(n)).toBe(true);
    for (const n of ['pool_max_ceil', 'softmax_axis2', 'input_layer_two', 'dropout_bvlc']) expect(withModel.has(n)).toBe(false);
  });

  it('have consistent shapes and finite values', () => {
    for (const c of cases) {
      for (const t of [...Object.values(c.inputs), ...Object.values(c.outputs)]) {
        expect(t.data.length).toBe(prod(t.dims));
        expect(t.data.every(Number.isFinite)).toBe(true);
        expect(t.dims[0]).toBe(2);
      }
      expect(Object.keys(c.outputs).length).toBeGreaterThan(0);
    }
    const by = Object.fromEntries(cases.map((c) => [c.name, c]));
    expect(by.pool_max_ceil.outputs.y.dims).toEqual([2, 2, 4, 4]);
    expect(by.pool_max_pad_clip.outputs.y.dims).toEqual([2, 2, 3, 3]);
    expect(by.pool_ave_pad.outputs.y.dims).toEqual([2, 2, 4, 4]);
    expect(by.conv_rect_stride_pad_dilation.outputs.y.dims).toEqual([2, 3, 3, 5]);
    expect(Object.keys(by.slice_axis1.outputs)).toEqual(['s0', 's1', 's2']);
    expect(by.relu_leaky_inplace.outputs.data.dims).toEqual([2, 3, 4, 4]);
    expect(by.reshape_0_m1_2.outputs.y.dims).toEqual([2, 6, 2]);
    expect(by.flatten_axis1_end2.outputs.y.dims).toEqual([2, 6, 4]);
  });

  it('dropout cases: standard output and an exact record with 0 / scale masks', () => {
    const d = cases.filter((c) => c.exact);
    expect(d.map((c) => c.name).sort()).toEqual(['dropout_bvlc', 'dropout_scale_train_false']);
    for (const c of d) {
      const st = c.sites![0].scale_train;
      const m = c.exact![0].masks[0];
      expect(m.scale).toBe(st ? Math.fround(1 / (1 - m.p)) : 1);
      expect(m.data.every((v) => v === 0 || v === m.scale)).toBe(true);
      const y = c.exact![0].outputs.y;
      expect(y.data.length).toBe(m.data.length);
    }
    // scale_train: false: TEST phase is x (1 − p); the caffemodel was encoded without that field
    const f = cases.find((c) => c.name === 'dropout_scale_train_false')!;
    expect(f.prototxt).toContain('scale_train: false');
  });

  it('the fixture folder stays lean', () => {
    let total = 0;
    for (const sub of ['nets', 'layers'])
      for (const f of fs.readdirSync(path.join(CAFFE_FIXTURES_DIR, sub))) total += fs.statSync(path.join(CAFFE_FIXTURES_DIR, sub, f)).size;
    expect(total).toBeLessThan(1.5 * 1024 * 1024);
  });
});
