// The ONNX operators on tfjs (src/onnx/ops.ts) against plain JS loops, and the translation
// (src/onnx/translate.ts) on hand-made models: sites from every Dropout form, refusals, shape
// arithmetic folded into constants, the graph run by the executor.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { isMcuError } from '@mcu/core';
import type { GraphNode, OpContext } from '../src/graph.js';
import { forwardGraph } from '../src/executor.js';
import { ONNX_OPS } from '../src/onnx/ops.js';
import { onnxToGraph, SUPPORTED_ONNX_OPS } from '../src/onnx/index.js';
import { floats, int64s, model, type NodeSpec } from './onnx-encode.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const ctx: OpContext = { tf, samples: 1, rows: 1, siteMask: () => tf.scalar(1) };
const node = (op: string, attrs: Record<string, unknown> = {}, outputs = 1): GraphNode => ({
  op: `onnx.${op}`,
  name: op,
  inputs: [],
  outputs: Array.from({ length: outputs }, (_, i) => `y${i}`),
  attrs,
});
/** Run one op on plain arrays; returns [dims, values] of each output. */
function run(op: string, ins: (tf.Tensor | undefined)[], attrs: Record<string, unknown> = {}, outputs = 1): { dims: number[]; v: number[] }[] {
  return tf.tidy(() => {
    const out = ONNX_OPS[`onnx.${op}`]!(ctx, ins, node(op, attrs, outputs));
    const list = Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
    return list.map((t) => ({ dims: t.shape, v: Array.from(t.dataSync() as ArrayLike<number>) }));
  });
}
const t = (v: number[], dims: number[], dtype: 'float32' | 'int32' = 'float32') => tf.tensor(v, dims, dtype);
const seq = (n: number, scale = 1, offset = 0) => Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 1.7 + 0.3) * scale + offset));
const close = (a: number[], b: number[], tol = 1e-5) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!), `index ${i}: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i]!)));
};

/** Naive NCHW convolution (group, strides, dilations, pads [t, l, b, r]). */
function convRef(x: number[], xd: number[], w: number[], wd: number[], b: number[] | undefined, s: number[], d: number[], p: number[], group: number) {
  const [N, C, H, W] = xd as [number, number, number, number];
  const [M, CG, KH, KW] = wd as [number, number, number, number];
  const OH = Math.floor((H + p[0]! + p[2]! - ((KH - 1) * d[0]! + 1)) / s[0]!) + 1;
  const OW = Math.floor((W + p[1]! + p[3]! - ((KW - 1) * d[1]! + 1)) / s[1]!) + 1;
  const out: number[] = [];
  const mPerG = M / group;
  for (let n = 0; n < N; n++)
    for (let m = 0; m < M; m++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let acc = b ? b[m]! : 0;
          const g = Math.floor(m / mPerG);
          for (let c = 0; c < CG; c++)
            for (let kh = 0; kh < KH; kh++)
              for (let kw = 0; kw < KW; kw++) {
                const ih = oh * s[0]! - p[0]! + kh * d[0]!;
                const iw = ow * s[1]! - p[1]! + kw * d[1]!;
                if (ih < 0 || iw < 0 || ih >= H || iw >= W) continue;
                acc += x[((n * C + g * CG + c) * H + ih) * W + iw]! * w[((m * CG + c) * KH + kh) * KW + kw]!;
              }
          out.push(acc);
        }
  void C;
  return { dims: [N, M, OH, OW], v: out };
}

/** Naive pooling with ONNX's ceil_mode and count_include_pad rules. */
function poolRef(kind: 'max' | 'avg', x: number[], xd: number[], k: number[], s: number[], p: number[], ceil: boolean, include: boolean) {
  const [N, C, H, W] = xd as [number, number, number, number];
  const size = (i: number, kk: number, ss: number, pb: number, pe: number) => {
    const raw = (i + pb + pe - kk) / ss;
    let o = (ceil ? Math.ceil(raw) : Math.floor(raw)) + 1;
    if (ceil && (o - 1) * ss >= i + pb) o--;
    return o;
  };
  const OH = size(H, k[0]!, s[0]!, p[0]!, p[2]!);
  const OW = size(W, k[1]!, s[1]!, p[1]!, p[3]!);
  const out: number[] = [];
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let acc = kind === 'max' ? -Infinity : 0;
          let count = 0;
          for (let kh = 0; kh < k[0]!; kh++)
            for (let kw = 0; kw < k[1]!; kw++) {
              const ih = oh * s[0]! - p[0]! + kh;
              const iw = ow * s[1]! - p[1]! + kw;
              const inPadded = ih < H + p[2]! && iw < W + p[3]!; // inside input + pads
              if (ih < 0 || iw < 0 || ih >= H || iw >= W) {
                if (include && inPadded) count++;
                continue;
              }
              const v = x[((n * C + c) * H + ih) * W + iw]!;
              acc = kind === 'max' ? Math.max(acc, v) : acc + v;
              count++;
            }
          out.push(kind === 'max' ? acc : acc / count);
        }
  return { dims: [N, C, OH, OW], v: out };
}

describe('dense and elementwise ops', () => {
  it('Gemm: transA, transB, alpha, beta, broadcast C', () => {
    const A = seq(6); // [3, 2] stored, used transposed → [2, 3]
    const B = seq(12, 0.5); // [4, 3] stored, transposed → [3, 4]
    const C = [1, 2, 3, 4];
    const [y] = run('Gemm', [t(A, [3, 2]), t(B, [4, 3]), t(C, [4])], { transA: 1, transB: 1, alpha: 0.5, beta: 2 });
    const want: number[] = [];
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 4; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += A[k * 2 + i]! * B[j * 3 + k]!;
        want.push(0.5 * s + 2 * C[j]!);
      }
    expect(y!.dims).toEqual([2, 4]);
    close(y!.v, want);
  });

  it('MatMul: batch broadcasting and 1-D operands (numpy.matmul)', () => {
    const a = seq(2 * 3 * 4);
    const b = seq(4 * 5, 0.3);
    const [y] = run('MatMul', [t(a, [2, 3, 4]), t(b, [4, 5])]);
    expect(y!.dims).toEqual([2, 3, 5]);
    const want: number[] = [];
    for (let n = 0; n < 6; n++)
      for (let j = 0; j < 5; j++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += a[n * 4 + k]! * b[k * 5 + j]!;
        want.push(s);
      }
    close(y!.v, want);
    const [v] = run('MatMul', [t([1, 2, 3], [3]), t(seq(6), [3, 2])]);
    expect(v!.dims).toEqual([2]);
    const m = seq(6);
    close(v!.v, [m[0]! + 2 * m[2]! + 3 * m[4]!, m[1]! + 2 * m[3]! + 3 * m[5]!]);
  });

  it('Add / Sub / Mul / Div / Pow broadcast like numpy; integer Div truncates toward zero', () => {
    const [y] = run('Add', [t([1, 2, 3, 4, 5, 6], [2, 1, 3]), t([10, 20], [2, 1])]);
    expect(y!.dims).toEqual([2, 2, 3]);
    expect(y!.v).toEqual([11, 12, 13, 21, 22, 23, 14, 15, 16, 24, 25, 26]);
    expect(run('Sub', [t([5], [1]), t([1, 2, 3], [3])])[0]!.v).toEqual([4, 3, 2]);
    expect(run('Mul', [t([1, 2, 3, 4], [2, 2]), t([2], [])])[0]!.v).toEqual([2, 4, 6, 8]);
    expect(run('Div', [t([-7, 7, -8], [3], 'int32'), t([2, -2, 3], [3], 'int32')])[0]!.v).toEqual([-3, -3, -2]);
    expect(run('Max', [t([1, 5], [2]), t([3], [1]), t([0, 4], [2])])[0]!.v).toEqual([3, 5]);
    expect(run('Min', [t([1, 5], [2])])[0]!.v).toEqual([1, 5]);
    close(run('Pow', [t([2, 3, 4], [3]), t([0.5], [1])])[0]!.v, [Math.SQRT2, Math.sqrt(3), 2]);
    // opset < 7 broadcast=1, axis=1: B [3] lines up with axis 1 of A [2, 3, 2]
    const [l] = run('Add', [t(Array(12).fill(0), [2, 3, 2]), t([1, 2, 3], [3])], { legacyAxis: 1 });
    expect(l!.v).toEqual([1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]);
  });

  it('activations match their formulas', () => {
    const x = [-2, -0.5, 0, 0.5, 3];
    const erf = (z: number) => {
      // Abramowitz–Stegun 7.1.26 is too coarse; use a series good to 1e-7 for |z| ≤ 3
      let s = 0;
      let term = z;
      for (let n = 0; n < 60; n++) {
        s += term / (2 * n + 1);
        term *= (-z * z) / (n + 1);
      }
      return (2 / Math.sqrt(Math.PI)) * s;
    };
    const cases: [string, Record<string, unknown>, (v: number) => number][] = [
      ['Relu', {}, (v) => Math.max(0, v)],
      ['LeakyRelu', { alpha: 0.1 }, (v) => (v < 0 ? 0.1 * v : v)],
      ['Elu', { alpha: 0.7 }, (v) => (v > 0 ? v : 0.7 * (Math.exp(v) - 1))],
      ['Selu', {}, (v) => 1.0507009873554805 * (v > 0 ? v : 1.6732632423543772 * (Math.exp(v) - 1))],
      ['Sigmoid', {}, (v) => 1 / (1 + Math.exp(-v))],
      ['HardSigmoid', { alpha: 0.25, beta: 0.4 }, (v) => Math.min(1, Math.max(0, 0.25 * v + 0.4))],
      ['Tanh', {}, Math.tanh],
      ['Softplus', {}, (v) => Math.log1p(Math.exp(v))],
      ['Softsign', {}, (v) => v / (1 + Math.abs(v))],
      ['Erf', {}, erf],
      ['Gelu', {}, (v) => 0.5 * v * (1 + erf(v / Math.SQRT2))],
      ['Gelu', { approximate: 'tanh' }, (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))],
      ['Exp', {}, Math.exp],
      ['Abs', {}, Math.abs],
      ['Neg', {}, (v) => -v],
      ['Reciprocal', {}, (v) => 1 / v],
    ];
    for (const [op, attrs, f] of cases) {
      const xs = op === 'Reciprocal' ? x.filter((v) => v !== 0) : x;
      const [y] = run(op, [t(xs, [xs.length])], attrs);
      close(y!.v, xs.map(f), 2e-6);
    }
    close(run('Sqrt', [t([0, 4, 2], [3])])[0]!.v, [0, 2, Math.SQRT2]);
    close(run('Log', [t([1, Math.E], [2])])[0]!.v, [0, 1]);
    // Clip: attribute form (opset < 11) and input form
    expect(run('Clip', [t(x, [5])], { min: -1, max: 1 })[0]!.v).toEqual([-1, -0.5, 0, 0.5, 1]);
    expect(run('Clip', [t(x, [5]), t([0], []), undefined])[0]!.v).toEqual([0, 0, 0, 0.5, 3]);
  });
});

describe('convolutions and pools (NCHW) against naive loops', () => {
  const x = seq(2 * 4 * 7 * 6);
  const xd = [2, 4, 7, 6];
  it.each([
    ['plain', { strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], group: 1, m: 3 }],
    ['strided, asymmetric pads', { strides: [2, 3], dilations: [1, 1], pads: [1, 0, 2, 1], group: 1, m: 5 }],
    ['dilated', { strides: [1, 1], dilations: [2, 2], pads: [1, 1, 1, 1], group: 1, m: 2 }],
    ['grouped (2 groups)', { strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1], group: 2, m: 6 }],
    ['depthwise (multiplier 2)', { strides: [2, 2], dilations: [1, 1], pads: [1, 1, 1, 1], group: 4, m: 8 }],
  ])('Conv %s', (_name, c) => {
    const wd = [c.m, 4 / c.group, 3, 3];
    const w = seq(
      wd.reduce((a, b) => a * b, 1),
      0.2,
    );
    const b = seq(c.m, 0.1);
    const [y] = run('Conv', [t(x, xd), t(w, wd), t(b, [c.m])], {
      strides: c.strides,
      dilations: c.dilations,
      pads: c.pads,
      group: c.group,
      kernel_shape: [3, 3],
    });
    const want = convRef(x, xd, w, wd, b, c.strides, c.dilations, c.pads, c.group);
    expect(y!.dims).toEqual(want.dims);
    close(y!.v, want.v);
  });

  it('Conv auto_pad SAME_UPPER / SAME_LOWER and 1-D Conv', () => {
    const wd = [2, 4, 2, 2];
    const w = seq(32, 0.3);
    const [up] = run('Conv', [t(x, xd), t(w, wd)], { auto_pad: 'SAME_UPPER', strides: [2, 2] });
    // in 7 / stride 2 → 4 outputs, total pad 1: SAME_UPPER puts it at the end
    const wantUp = convRef(x, xd, w, wd, undefined, [2, 2], [1, 1], [0, 0, 1, 0], 1);
    expect(up!.dims).toEqual([2, 2, 4, 3]);
    close(up!.v, wantUp.v);
    const [lo] = run('Conv', [t(x, xd), t(w, wd)], { auto_pad: 'SAME_LOWER', strides: [2, 2] });
    close(lo!.v, convRef(x, xd, w, wd, undefined, [2, 2], [1, 1], [1, 0, 0, 0], 1).v);
    // 1-D: [N, C, L] with kernel [3], pads [1, 2]
    const x1 = seq(2 * 3 * 9);
    const w1 = seq(4 * 3 * 3, 0.2);
    const [y1] = run('Conv', [t(x1, [2, 3, 9]), t(w1, [4, 3, 3])], { pads: [1, 2], strides: [2] });
    const want1 = convRef(x1, [2, 3, 1, 9], w1, [4, 3, 1, 3], undefined, [1, 2], [1, 1], [0, 1, 0, 2], 1);
    expect(y1!.dims).toEqual([2, 4, 5]);
    close(y1!.v, want1.v);
  });

  it('ConvTranspose (stride 2, pads, output_padding) equals the adjoint of Conv', () => {
    const xi = seq(1 * 3 * 4 * 4);
    const w = seq(3 * 2 * 3 * 3, 0.3); // [Cin 3, Cout 2, 3, 3]
    const [y] = run('ConvTranspose', [t(xi, [1, 3, 4, 4]), t(w, [3, 2, 3, 3])], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] });
    // out = 2·3 + 1 + 3 − 2 = 8; y[o, oh, ow] = Σ x[c, ih, iw] w[c, o, kh, kw] with oh = ih·2 − 1 + kh
    expect(y!.dims).toEqual([1, 2, 8, 8]);
    const want = Array(2 * 64).fill(0);
    for (let c = 0; c < 3; c++)
      for (let ih = 0; ih < 4; ih++)
        for (let iw = 0; iw < 4; iw++)
          for (let o = 0; o < 2; o++)
            for (let kh = 0; kh < 3; kh++)
              for (let kw = 0; kw < 3; kw++) {
                const oh = ih * 2 - 1 + kh;
                const ow = iw * 2 - 1 + kw;
                if (oh < 0 || ow < 0 || oh >= 8 || ow >= 8) continue;
                want[(o * 8 + oh) * 8 + ow] += xi[(c * 4 + ih) * 4 + iw]! * w[((c * 2 + o) * 3 + kh) * 3 + kw]!;
              }
    close(y!.v, want);
  });

  it.each([
    ['max', false, false, [0, 0, 0, 0]],
    ['max', true, false, [1, 0, 1, 1]],
    ['avg', false, false, [0, 0, 0, 0]],
    ['avg', false, false, [1, 1, 1, 1]],
    ['avg', false, true, [1, 1, 1, 1]],
    ['avg', true, false, [1, 0, 0, 1]],
    ['avg', true, true, [1, 0, 0, 1]],
  ] as const)('%sPool ceil_mode=%s count_include_pad=%s pads %j', (kind, ceil, include, pads) => {
    const attrs = { kernel_shape: [3, 2], strides: [2, 2], pads: [...pads], ceil_mode: ceil ? 1 : 0, count_include_pad: include ? 1 : 0 };
    const [y] = run(kind === 'max' ? 'MaxPool' : 'AveragePool', [t(x, xd)], attrs);
    const want = poolRef(kind, x, xd, [3, 2], [2, 2], [...pads], ceil, include);
    expect(y!.dims).toEqual(want.dims);
    close(y!.v, want.v);
  });

  it('GlobalAveragePool / GlobalMaxPool keep [N, C, 1, 1]', () => {
    const [a] = run('GlobalAveragePool', [t([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2])]);
    expect(a).toEqual({ dims: [1, 2, 1, 1], v: [2.5, 6.5] });
    expect(run('GlobalMaxPool', [t([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2])])[0]!.v).toEqual([4, 8]);
  });
});

describe('normalisation and softmax', () => {
  it('BatchNormalization (inference), LayerNormalization, InstanceNormalization', () => {
    const xv = seq(2 * 3 * 4);
    const [scale, bias, mean, vr] = [
      [1, 2, 0.5],
      [0, 1, -1],
      [0.1, -0.2, 0.3],
      [1, 0.5, 2],
    ];
    const [bn] = run('BatchNormalization', [t(xv, [2, 3, 4]), t(scale!, [3]), t(bias!, [3]), t(mean!, [3]), t(vr!, [3])], { epsilon: 1e-3 });
    close(
      bn!.v,
      xv.map((v, i) => {
        const c = Math.floor(i / 4) % 3;
        return ((v - mean![c]!) / Math.sqrt(vr![c]! + 1e-3)) * scale![c]! + bias![c]!;
      }),
    );
    const [ln] = run('LayerNormalization', [t(xv, [2, 3, 4]), t([1, 2, 3, 4], [4]), t([0, 0, 1, 1], [4])], { axis: -1, epsilon: 1e-5 });
    const lnWant: number[] = [];
    for (let r = 0; r < 6; r++) {
      const row = xv.slice(r * 4, r * 4 + 4);
      const m = row.reduce((a, b) => a + b) / 4;
      const v = row.reduce((a, b) => a + (b - m) ** 2, 0) / 4;
      row.forEach((e, j) => lnWant.push(((e - m) / Math.sqrt(v + 1e-5)) * [1, 2, 3, 4][j]! + [0, 0, 1, 1][j]!));
    }
    close(ln!.v, lnWant, 1e-4);
    const [inorm] = run('InstanceNormalization', [t(xv, [2, 3, 4]), t([1, 1, 1], [3]), t([0, 0, 0], [3])], { epsilon: 1e-5 });
    close(
      inorm!.v,
      lnWant.map((_, i) => {
        const row = xv.slice(Math.floor(i / 4) * 4, Math.floor(i / 4) * 4 + 4);
        const m = row.reduce((a, b) => a + b) / 4;
        const v = row.reduce((a, b) => a + (b - m) ** 2, 0) / 4;
        return (xv[i]! - m) / Math.sqrt(v + 1e-5);
      }),
      1e-4,
    );
  });

  it('Softmax: opset ≥ 13 on one axis, opset < 13 coerced to 2-D at axis (exactly)', () => {
    const xv = seq(2 * 3 * 2, 2);
    const soft = (vals: number[]) => {
      const m = Math.max(...vals);
      const e = vals.map((v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b);
      return e.map((v) => v / s);
    };
    // axis 1 (13+): softmax over the 3 entries at each (n, k)
    const [a] = run('Softmax', [t(xv, [2, 3, 2])], { axis: 1 });
    const wantA = Array(12).fill(0);
    for (let n = 0; n < 2; n++)
      for (let k = 0; k < 2; k++) {
        const idx = [0, 1, 2].map((c) => (n * 3 + c) * 2 + k);
        soft(idx.map((i) => xv[i]!)).forEach((v, c) => (wantA[idx[c]!] = v));
      }
    close(a!.v, wantA);
    // coerce2d at axis 1: each n's 6 values form one distribution
    const [b] = run('Softmax', [t(xv, [2, 3, 2])], { axis: 1, coerce2d: true });
    close(b!.v, [...soft(xv.slice(0, 6)), ...soft(xv.slice(6))]);
    const [c] = run('LogSoftmax', [t(xv, [2, 3, 2])], { coerce2d: true }); // default axis 1
    close(c!.v, [...soft(xv.slice(0, 6)), ...soft(xv.slice(6))].map(Math.log));
    const [d] = run('LogSoftmax', [t(xv, [2, 3, 2])], {}); // 13+: default axis −1
    const wantD: number[] = [];
    for (let r = 0; r < 6; r++) wantD.push(...soft(xv.slice(2 * r, 2 * r + 2)).map(Math.log));
    close(d!.v, wantD);
  });
});

describe('shape ops', () => {
  const x = Array.from({ length: 24 }, (_, i) => i);
  it('Reshape (0 copies, −1 infers, allowzero), Flatten, Transpose, Squeeze, Unsqueeze', () => {
    expect(run('Reshape', [t(x, [2, 3, 4])], { shape: [0, -1] })[0]!.dims).toEqual([2, 12]);
    expect(run('Reshape', [t([], [0, 3])], { shape: [0, 3], allowzero: 1 })[0]!.dims).toEqual([0, 3]);
    expect(run('Reshape', [t(x, [2, 3, 4]), t([4, -1], [2], 'int32')])[0]!.dims).toEqual([4, 6]);
    expect(run('Flatten', [t(x, [2, 3, 4])], { axis: 2 })[0]!.dims).toEqual([6, 4]);
    expect(run('Flatten', [t(x, [2, 3, 4])], { axis: 0 })[0]!.dims).toEqual([1, 24]);
    const [tr] = run('Transpose', [t(x, [2, 3, 4])], { perm: [2, 0, 1] });
    expect(tr!.dims).toEqual([4, 2, 3]);
    expect(tr!.v.slice(0, 6)).toEqual([0, 4, 8, 12, 16, 20]);
    expect(run('Transpose', [t(x.slice(0, 6), [2, 3])])[0]!.v).toEqual([0, 3, 1, 4, 2, 5]);
    expect(run('Squeeze', [t(x, [1, 2, 1, 12])], { axes: [-2] })[0]!.dims).toEqual([1, 2, 12]);
    expect(run('Squeeze', [t(x, [1, 2, 1, 12])])[0]!.dims).toEqual([2, 12]);
    expect(run('Unsqueeze', [t(x, [2, 12])], { axes: [0, -1] })[0]!.dims).toEqual([1, 2, 12, 1]);
  });

  it('Slice: negative starts, INT64_MAX ends, steps (negative too), axes', () => {
    const [a] = run('Slice', [t(x, [2, 3, 4])], { starts: [1, -2], ends: [9.223372036854776e18, 9.223372036854776e18], axes: [1, 2] });
    expect(a!.dims).toEqual([2, 2, 2]);
    expect(a!.v).toEqual([6, 7, 10, 11, 18, 19, 22, 23]);
    const [b] = run('Slice', [t(x.slice(0, 6), [6])], { starts: [-1], ends: [-9.223372036854776e18], steps: [-2] });
    expect(b!.v).toEqual([5, 3, 1]);
    const [c] = run('Slice', [t(x.slice(0, 6), [6])], { starts: [4], ends: [0], steps: [-1] });
    expect(c!.v).toEqual([4, 3, 2, 1]);
    const [d] = run('Slice', [t(x, [2, 3, 4]), t([0], [1], 'int32'), t([3], [1], 'int32'), t([2], [1], 'int32'), t([2], [1], 'int32')]);
    expect(d!.dims).toEqual([2, 3, 2]);
    expect(d!.v.slice(0, 4)).toEqual([0, 2, 4, 6]);
  });

  it('Gather (negative and scalar indices), Concat, Split (equal and given sizes)', () => {
    const [g] = run('Gather', [t(x, [2, 3, 4]), t([-1, 0], [2], 'int32')], { axis: 1 });
    expect(g!.dims).toEqual([2, 2, 4]);
    expect(g!.v.slice(0, 8)).toEqual([8, 9, 10, 11, 0, 1, 2, 3]);
    const [s] = run('Gather', [t([5, 6, 7], [3], 'int32'), t([1], [], 'int32')]);
    expect(s).toEqual({ dims: [], v: [6] });
    expect(run('Concat', [t([1, 2], [1, 2]), t([3, 4, 5, 6], [2, 2])], { axis: 0 })[0]).toEqual({ dims: [3, 2], v: [1, 2, 3, 4, 5, 6] });
    const parts = run('Split', [t(x.slice(0, 6), [6])], { axis: 0 }, 3);
    expect(parts.map((p) => p.v)).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
    expect(run('Split', [t(x.slice(0, 6), [6])], { split: [1, 5] }, 2).map((p) => p.dims)).toEqual([[1], [5]]);
  });

  it('Shape (start / end), ConstantOfShape, Cast (truncation), Expand, Tile, Range, Where, Equal', () => {
    expect(run('Shape', [t(x, [2, 3, 4])], { start: 1 })[0]!.v).toEqual([3, 4]);
    expect(run('Shape', [t(x, [2, 3, 4])], { end: -1 })[0]!.v).toEqual([2, 3]);
    expect(run('ConstantOfShape', [undefined], { shape: [2, 2], value: 3, dtype: 'int32' })[0]).toEqual({ dims: [2, 2], v: [3, 3, 3, 3] });
    expect(run('Cast', [t([-1.7, 2.9, 0.4], [3])], { to: 'int32' })[0]!.v).toEqual([-1, 2, 0]);
    expect(run('Expand', [t([1, 2, 3], [3, 1])], { shape: [2, 1, 2] })[0]!.dims).toEqual([2, 3, 2]);
    expect(run('Tile', [t([1, 2], [1, 2])], { repeats: [2, 2] })[0]!.v).toEqual([1, 2, 1, 2, 1, 2, 1, 2]);
    expect(run('Range', [t([1], [], 'int32'), t([8], [], 'int32'), t([3], [], 'int32')])[0]!.v).toEqual([1, 4, 7]);
    const [w] = run('Where', [tf.tensor([true, false], [2], 'bool'), t([1, 2, 3, 4], [2, 2]), t([0], [1])]);
    expect(w!.v).toEqual([1, 0, 3, 0]);
    expect(run('Equal', [t([1, 2, 3], [3], 'int32'), t([2], [1], 'int32')])[0]!.v).toEqual([0, 1, 0]);
  });

  it('Pad: constant, reflect, edge, negative pads; Reduce* with keepdims and empty axes', () => {
    const v = [1, 2, 3, 4, 5, 6];
    expect(run('Pad', [t(v, [2, 3])], { pads: [0, 1, 1, 0], value: 9 })[0]).toEqual({ dims: [3, 4], v: [9, 1, 2, 3, 9, 4, 5, 6, 9, 9, 9, 9] });
    expect(run('Pad', [t(v, [2, 3])], { pads: [0, 2, 0, 1], mode: 'reflect' })[0]!.v).toEqual([3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5]);
    expect(run('Pad', [t(v, [2, 3])], { pads: [1, 0, 0, 2], mode: 'edge' })[0]!.v).toEqual([1, 2, 3, 3, 3, 1, 2, 3, 3, 3, 4, 5, 6, 6, 6]);
    expect(run('Pad', [t(v, [2, 3])], { pads: [0, -1, 0, 1] })[0]!.v).toEqual([2, 3, 0, 5, 6, 0]);
    expect(run('ReduceMean', [t(v, [2, 3])], { axes: [1] })[0]).toEqual({ dims: [2, 1], v: [2, 5] });
    expect(run('ReduceSum', [t(v, [2, 3]), t([0], [1], 'int32')], { keepdims: 0 })[0]).toEqual({ dims: [3], v: [5, 7, 9] });
    expect(run('ReduceMax', [t(v, [2, 3])], { keepdims: 0 })[0]).toEqual({ dims: [], v: [6] });
    expect(run('ReduceSum', [t(v, [2, 3])], { noop_with_empty_axes: 1 })[0]!.v).toEqual(v);
  });
});

// ------------------------------------------------------------------ translation

const mlp = (dropout: NodeSpec[], opset = 13, extra: Partial<Parameters<typeof model>[0]> = {}) =>
  model(
    {
      nodes: [{ op: 'Gemm', inputs: ['x', 'w', 'b'], outputs: ['h'], attrs: { transB: 1 } }, ...dropout, { op: 'Relu', inputs: ['d'], outputs: ['y'] }],
      inputs: [{ name: 'x', dims: ['batch', 2] }, ...(extra.inputs ?? [])],
      outputs: [{ name: 'y', dims: ['batch', 3] }],
      initializers: [floats('w', [3, 2], [1, 2, 3, 4, 5, 6]), floats('b', [3], [0.5, -0.5, 0]), ...(extra.initializers ?? [])],
    },
    opset,
  );

function err(f: () => unknown): { code?: string; message: string } {
  try {
    f();
  } catch (e) {
    return { code: isMcuError(e) ? e.code : undefined, message: (e as Error).message };
  }
  return { message: 'did not throw' };
}

describe('onnxToGraph: sites', () => {
  it('opset ≥ 12: the ratio from a Constant node or an initializer; training_mode ignored; sites named mcu_mask_k in graph order', () => {
    const g = onnxToGraph(
      mlp(
        [
          { op: 'Constant', inputs: [], outputs: ['r'], attrs: { value: { tensor: floats('r', [], [0.25]) } } },
          { op: 'Dropout', inputs: ['h', 'r', 'train'], outputs: ['d0'], name: 'drop0' },
          { op: 'Dropout', inputs: ['d0', 'r2'], outputs: ['d', 'unused_mask'], name: 'drop1' },
        ],
        13,
        { initializers: [floats('r2', [], [0.1]), { name: 'train', dims: [], type: 9, int32s: [1] }] },
      ),
      { label: 'mlp' },
    );
    expect(g.sites).toEqual([
      { name: 'mcu_mask_1', kind: 'bernoulli', rate: 0.25, maskShape: [3], scaling: 'inverted', origin: { op: 'Dropout', opset: 13, node: 'drop0' } },
      { name: 'mcu_mask_2', kind: 'bernoulli', rate: 0.1, maskShape: [3], scaling: 'inverted', origin: { op: 'Dropout', opset: 13, node: 'drop1' } },
    ]);
    expect(g.layout).toBe('tiled');
    expect(g.nodes.map((n) => n.op)).toEqual(['onnx.Gemm', 'site', 'site', 'onnx.Relu']);
    expect(g.inputs).toEqual([{ name: 'x', dims: [2], dtype: 'float32' }]);
    expect(g.outputs).toEqual([{ name: 'y', dims: [3] }]);
  });

  it('opset < 12: the ratio attribute (default 0.5), is_test ignored', () => {
    const g = onnxToGraph(mlp([{ op: 'Dropout', inputs: ['h'], outputs: ['d'], attrs: { ratio: { float: 0.3 }, is_test: 1 } }], 6), { label: 'old' });
    expect(g.sites.map((s) => [s.rate, s.origin])).toEqual([[0.3, { op: 'Dropout', opset: 6, node: 'd' }]]);
    expect(onnxToGraph(mlp([{ op: 'Dropout', inputs: ['h'], outputs: ['d'] }], 10), { label: 'old' }).sites[0]!.rate).toBe(0.5);
  });

  it('a graph-input ratio needs options.rates (E_SITE naming it); a rate outside [0, 1) is E_SITE; an unused rate is E_USAGE', () => {
    const bytes = mlp([{ op: 'Dropout', inputs: ['h', 'p'], outputs: ['d'] }], 13, { inputs: [{ name: 'p', dims: [] }] });
    const e = err(() => onnxToGraph(bytes, { label: 'm' }));
    expect(e.code).toBe('E_SITE');
    expect(e.message).toMatch(/graph input 'p'.*rates/);
    // given: the rate is used and the ratio input is no data input of the translated graph
    const g = onnxToGraph(bytes, { label: 'm', rates: { p: 0.3 } });
    expect(g.sites[0]!.rate).toBe(0.3);
    expect(g.inputs.map((i) => i.name)).toEqual(['x']);
    const bad = err(() => onnxToGraph(bytes, { label: 'm', rates: { p: 1 } }));
    expect(bad.code).toBe('E_SITE');
    expect(err(() => onnxToGraph(bytes, { label: 'm', rates: { p: 0.3, q: 0.2 } })).code).toBe('E_USAGE');
  });

  it('refusals: the mask output consumed, stochastic ops, unsupported ops listed with counts, already-converted models', () => {
    const masked = mlp(
      [
        { op: 'Dropout', inputs: ['h'], outputs: ['d0', 'm'] },
        { op: 'Mul', inputs: ['d0', 'm'], outputs: ['d'] },
      ],
      10,
    );
    expect(err(() => onnxToGraph(masked, { label: 'm' }))).toMatchObject({ code: 'E_UNSUPPORTED', message: expect.stringMatching(/mask output 'm'/) });
    const random = mlp([
      { op: 'RandomUniformLike', inputs: ['h'], outputs: ['u'] },
      { op: 'Mul', inputs: ['h', 'u'], outputs: ['d'] },
    ]);
    expect(err(() => onnxToGraph(random, { label: 'm' }))).toMatchObject({ code: 'E_UNSUPPORTED', message: expect.stringMatching(/RandomUniformLike/) });
    const odd = mlp([
      { op: 'LSTM', inputs: ['h'], outputs: ['l1'] },
      { op: 'LSTM', inputs: ['l1'], outputs: ['l2'] },
      { op: 'Einsum', inputs: ['l2'], outputs: ['e'] },
      { op: 'Custom', domain: 'com.example', inputs: ['e'], outputs: ['d'] },
    ]);
    const e = err(() => onnxToGraph(odd, { label: 'm' }));
    expect(e.code).toBe('E_UNSUPPORTED');
    expect(e.message).toMatch(/LSTM ×2, Einsum ×1, com\.example::Custom ×1.*onnx backend/);
    const converted = model({ nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }], inputs: [{ name: 'x', dims: ['N', 2] }], outputs: [{ name: 'y' }] }, 13, {
      'mcu.sites': '[]',
    });
    expect(err(() => onnxToGraph(converted, { label: 'm' })).code).toBe('E_UNSUPPORTED');
    expect(SUPPORTED_ONNX_OPS).toContain('Conv');
    expect(SUPPORTED_ONNX_OPS).not.toContain('SiteRows');
  });

  it('folds shape arithmetic (Shape → Gather → Unsqueeze → Concat → Reshape) and infers the site shape through it', () => {
    const bytes = model({
      nodes: [
        { op: 'Shape', inputs: ['x'], outputs: ['s'] },
        { op: 'Constant', inputs: [], outputs: ['i0'], attrs: { value: { tensor: int64s('i0', [], [0]) } } },
        { op: 'Gather', inputs: ['s', 'i0'], outputs: ['n'], attrs: { axis: 0 } },
        { op: 'Unsqueeze', inputs: ['n', 'ax'], outputs: ['n1'] },
        { op: 'Concat', inputs: ['n1', 'rest'], outputs: ['shape'], attrs: { axis: 0 } },
        { op: 'Reshape', inputs: ['x', 'shape'], outputs: ['r'] },
        { op: 'Transpose', inputs: ['r'], outputs: ['tr'], attrs: { perm: [0, 2, 1] } },
        { op: 'Dropout', inputs: ['tr', 'p'], outputs: ['y'] },
      ],
      inputs: [{ name: 'x', dims: ['batch', 6] }],
      outputs: [{ name: 'y' }],
      initializers: [int64s('ax', [1], [0]), int64s('rest', [2], [2, 3]), floats('p', [], [0.2])],
    });
    const g = onnxToGraph(bytes, { label: 'shapes' });
    expect(g.sites.map((s) => s.maskShape)).toEqual([[3, 2]]);
    // 'rest' and 'ax' were folded into… nothing that runs: only the row-dependent nodes remain
    expect(g.nodes.map((n) => n.op)).toEqual(['onnx.Shape', 'onnx.Gather', 'onnx.Unsqueeze', 'onnx.Concat', 'onnx.Reshape', 'onnx.Transpose', 'site']);
    expect(g.nodes.find((n) => n.op === 'onnx.Unsqueeze')!.attrs.axes).toEqual([0]);
    expect(g.outputs[0]!.dims).toEqual([3, 2]);
    // run it: S = 2 samples of N = 2 rows, masks [S, N, 3, 2]
    const out = tf.tidy(() => {
      const constants = new Map([...g.constants].map(([k, c]) => [k, tf.tensor(c.data, [...c.dims], c.dtype)]));
      const xs = tf.tensor(
        Array.from({ length: 12 }, (_, i) => i),
        [2, 6],
      );
      const mask = Float32Array.from({ length: 24 }, (_, i) => (i % 5 === 0 ? 0 : 1.25));
      const [y] = forwardGraph(tf, g, constants, new Map([['x', xs]]), new Map([['mcu_mask_1', { data: mask, dims: [2, 2, 3, 2] }]]), 2, 2);
      return { dims: y!.shape, v: Array.from(y!.dataSync()), mask };
    });
    expect(out.dims).toEqual([4, 3, 2]);
    const want: number[] = [];
    for (let r = 0; r < 4; r++) {
      const row = r % 2; // tiled: row t·N + i is input row i
      for (let a = 0; a < 3; a++) for (let b = 0; b < 2; b++) want.push((row * 6 + b * 3 + a) * out.mask[r * 6 + a * 2 + b]!);
    }
    close(out.v, want);
  });

  it('a Dropout whose rows are not on axis 0 (sequence-first [L, N, E]) gets rowLayout and the SiteRows op', () => {
    const bytes = model({
      nodes: [
        { op: 'Transpose', inputs: ['x'], outputs: ['t'], attrs: { perm: [1, 0, 2] } },
        { op: 'Dropout', inputs: ['t', 'p'], outputs: ['d'] },
        { op: 'Transpose', inputs: ['d'], outputs: ['y'], attrs: { perm: [1, 0, 2] } },
      ],
      inputs: [{ name: 'x', dims: ['N', 3, 2] }],
      outputs: [{ name: 'y' }],
      initializers: [floats('p', [], [0.5])],
    });
    const g = onnxToGraph(bytes, { label: 'seq-first' });
    expect(g.sites[0]).toMatchObject({ maskShape: [3, 2], rowLayout: { axis: 1, factor: 1 } });
    const site = g.nodes[1]!;
    expect(site).toMatchObject({ op: 'onnx.SiteRows', sites: ['mcu_mask_1'] });
    const out = tf.tidy(() => {
      const xs = tf.tensor(
        Array.from({ length: 12 }, (_, i) => i + 1),
        [2, 3, 2],
      );
      const mask = Float32Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? 0 : 2));
      const [y] = forwardGraph(tf, g, new Map(), new Map([['x', xs]]), new Map([['mcu_mask_1', { data: mask, dims: [1, 2, 3, 2] }]]), 1, 2);
      return { v: Array.from(y!.dataSync()), mask };
    });
    // back in [N, L, E] order, each row times its own mask
    close(
      out.v,
      Array.from({ length: 12 }, (_, i) => (i + 1) * out.mask[i]!),
    );
  });

  it('marks outputs that end in Softmax / LogSoftmax (through Identity)', () => {
    const bytes = model(
      {
        nodes: [
          { op: 'Softmax', inputs: ['x'], outputs: ['s'], attrs: { axis: 1 } },
          { op: 'Identity', inputs: ['s'], outputs: ['y'] },
          { op: 'LogSoftmax', inputs: ['x'], outputs: ['z'] },
        ],
        inputs: [{ name: 'x', dims: ['N', 4] }],
        outputs: [{ name: 'y' }, { name: 'z' }],
      },
      11,
    );
    const g = onnxToGraph(bytes, { label: 'soft' });
    expect(g.outputs.map((o) => o.activation)).toEqual(['softmax', 'log-softmax']);
    expect(g.nodes[0]!.attrs.coerce2d).toBe(true);
  });

  it('inputs with a non-row symbolic dim, and int64 constants beyond int32, are E_UNSUPPORTED', () => {
    const seqIn = model({ nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }], inputs: [{ name: 'x', dims: ['N', 'seq'] }], outputs: [{ name: 'y' }] });
    expect(err(() => onnxToGraph(seqIn, { label: 'm' })).code).toBe('E_UNSUPPORTED');
    const big = model({
      nodes: [
        { op: 'Cast', inputs: ['x'], outputs: ['xi'], attrs: { to: 7 } },
        { op: 'Add', inputs: ['xi', 'k'], outputs: ['y'] },
      ],
      inputs: [{ name: 'x', dims: ['N', 1] }],
      outputs: [{ name: 'y' }],
      initializers: [int64s('k', [1], [2 ** 40])],
    });
    expect(err(() => onnxToGraph(big, { label: 'm' }))).toMatchObject({ code: 'E_UNSUPPORTED', message: expect.stringMatching(/outside int32/) });
  });
});
