// The 'broadcast' run contract: data [N, ...] once, masks [S, 1|N, ...], outputs [S·N, ...].
import { describe, expect, test } from 'vitest';
import * as ort from 'onnxruntime-node';
import { McuError } from '@mcu/core';
import { fixtureBytes } from '../../../test/helpers/fixtures.js';
import { decodeModel, encodeModel } from '../src/proto/codec.js';
import type { ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../src/proto/types.js';
import { prepareModel, type PreparedModel } from '../src/graph/prepare.js';
import { mulberry32 } from '../../../test/helpers/check.js';

function bernoulli(rand: () => number, n: number, p: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rand() < p ? 0 : 1 / (1 - p);
  return out;
}

async function run(p: PreparedModel, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const s = await ort.InferenceSession.create(encodeModel(p.model), { logSeverityLevel: 3 });
  try {
    return (await s.run(feeds)) as Record<string, ort.Tensor>;
  } finally {
    await s.release();
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

describe('S samples in one run = S separate point-scope runs', () => {
  const cases = [
    {
      rel: 'pytorch-1.13-small/co2_relu.train.onnx',
      input: (n: number, r: () => number) => ({ data: Float32Array.from({ length: n }, () => r() * 4 - 2), dims: [n, 1] }),
    },
    {
      rel: 'pytorch-1.13/lenet.train.onnx',
      input: (n: number, r: () => number) => ({ data: Float32Array.from({ length: n * 784 }, () => r()), dims: [n, 1, 28, 28] }),
    },
  ];
  for (const c of cases) {
    for (const scope of ['sample', 'point'] as const) {
      test(`${c.rel}, S = 3, scope '${scope}'`, async () => {
        const p = prepareModel(decodeModel(fixtureBytes(c.rel), c.rel));
        const rand = mulberry32(42);
        const S = 3;
        const N = 5;
        const x = c.input(N, rand);
        const rows = scope === 'sample' ? 1 : N;
        const masks = p.sites.map((s) => {
          const per = s.maskShape.reduce((a, b) => a * b, 1);
          return bernoulli(rand, S * rows * per, s.rate);
        });
        const feeds: Record<string, ort.Tensor> = { [p.inputs[0]!.name]: new ort.Tensor('float32', x.data, x.dims) };
        p.sites.forEach((s, k) => (feeds[s.name] = new ort.Tensor('float32', masks[k]!, [S, rows, ...s.maskShape])));
        const all = (await run(p, feeds))[p.outputs[0]!.name]!;
        expect(Number(all.dims[0])).toBe(S * N);
        const got = all.data as Float32Array;
        const per = got.length / (S * N);
        for (let t = 0; t < S; t++) {
          const one: Record<string, ort.Tensor> = { [p.inputs[0]!.name]: new ort.Tensor('float32', x.data, x.dims) };
          p.sites.forEach((s, k) => {
            const size = s.maskShape.reduce((a, b) => a * b, 1);
            const m = new Float32Array(N * size);
            for (let i = 0; i < N; i++) {
              const src = scope === 'sample' ? t * size : (t * N + i) * size;
              m.set(masks[k]!.subarray(src, src + size), i * size);
            }
            one[s.name] = new ort.Tensor('float32', m, [1, N, ...s.maskShape]);
          });
          const want = (await run(p, one))[p.outputs[0]!.name]!.data as Float32Array;
          const slice = got.subarray(t * N * per, (t + 1) * N * per);
          expect(maxAbsDiff(slice, want) / Math.max(1e-30, maxAbs(want))).toBeLessThanOrEqual(1e-6);
        }
      });
    }
  }
});

// ---------------------------------------------------------------- synthetic graphs
function f32(name: string, dims: number[], data: Float32Array): TensorProto {
  return { name, data_type: 1, dims: dims.map(BigInt), raw_data: new Uint8Array(data.buffer.slice(0)) };
}
function vi(name: string, elem: number, dims: (number | string)[]): ValueInfoProto {
  return {
    name,
    type: { tensor_type: { elem_type: elem, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: BigInt(d) } : { dim_param: d })) } } },
  };
}
function model(opset: number, nodes: NodeProto[], inits: TensorProto[], inputs: ValueInfoProto[], outputs: ValueInfoProto[]): ModelProto {
  return {
    ir_version: opset >= 13 ? 7n : 5n,
    opset_import: [{ domain: '', version: BigInt(opset) }],
    graph: { name: 'g', node: nodes, initializer: inits, input: inputs, output: outputs },
  };
}
function dropout(opset: number, x: string, y: string, ratio: number, extra: string[] = []): NodeProto[] {
  if (opset < 12) return [{ op_type: 'Dropout', input: [x], output: [y, ...extra], attribute: [{ name: 'ratio', type: 1, f: ratio }] }];
  return [
    { op_type: 'Constant', input: [], output: [`${y}_r`], attribute: [{ name: 'value', type: 4, t: f32('', [], Float32Array.of(ratio)) }] },
    { op_type: 'Dropout', input: [x, `${y}_r`], output: [y, ...extra] },
  ];
}
/** y[n, o] = Σ_k x[n, k] · W[o, k] + b[o] (Gemm transB = 1). */
function dense(x: Float32Array, n: number, w: Float32Array, b: Float32Array, out: number): Float32Array {
  const k = w.length / out;
  const y = new Float32Array(n * out);
  for (let i = 0; i < n; i++)
    for (let o = 0; o < out; o++) {
      let s = b[o]!;
      for (let j = 0; j < k; j++) s += x[i * k + j]! * w[o * k + j]!;
      y[i * out + o] = s;
    }
  return y;
}
const gemm = (a: string, w: string, b: string, y: string): NodeProto => ({
  op_type: 'Gemm',
  input: [a, w, b],
  output: [y],
  attribute: [{ name: 'transB', type: 2, i: 1n }],
});

describe('rewrite constructs at every opset form', () => {
  const rand = mulberry32(7);
  const W1 = Float32Array.from({ length: 8 * 4 }, () => rand() - 0.5);
  const B1 = Float32Array.from({ length: 8 }, () => rand() - 0.5);
  const W2 = Float32Array.from({ length: 3 * 8 }, () => rand() - 0.5);
  const B2 = Float32Array.from({ length: 3 }, () => rand() - 0.5);
  const inits = () => [f32('W1', [8, 4], W1), f32('B1', [8], B1), f32('W2', [3, 8], W2), f32('B2', [3], B2)];
  const N = 4;
  const S = 2;
  const X = Float32Array.from({ length: N * 4 }, () => rand() * 2 - 1);

  // x → Gemm → h → Dropout → d1 → Dropout → d2 (a site on expanded data) → Gemm → y
  for (const opset of [7, 9, 11, 13, 22]) {
    test(`two stacked Dropouts at opset ${opset} (Unsqueeze/Slice in that opset's form)`, async () => {
      const m = model(
        opset,
        [gemm('x', 'W1', 'B1', 'h'), ...dropout(opset, 'h', 'd1', 0.25), ...dropout(opset, 'd1', 'd2', 0.5), gemm('d2', 'W2', 'B2', 'y')],
        inits(),
        [vi('x', 1, ['N', 4])],
        [vi('y', 1, ['N', 3])],
      );
      const p = prepareModel(decodeModel(encodeModel(m)));
      expect(p.sites.map((s) => [s.rate, s.maskShape])).toEqual([
        [0.25, [8]],
        [0.5, [8]],
      ]);
      expect(p.opset).toBe(opset);
      const unsq = p.model.graph!.node!.filter((n) => n.op_type === 'Unsqueeze');
      for (const u of unsq) expect(u.input!.length).toBe(opset >= 13 ? 2 : 1);
      for (const sl of p.model.graph!.node!.filter((n) => n.op_type === 'Slice')) expect(sl.input!.length).toBe(opset >= 10 ? 4 : 1);
      const m1 = bernoulli(rand, S * 8, 0.25);
      const m2 = bernoulli(rand, S * N * 8, 0.5);
      const out = await run(p, {
        x: new ort.Tensor('float32', X, [N, 4]),
        [p.sites[0]!.name]: new ort.Tensor('float32', m1, [S, 1, 8]),
        [p.sites[1]!.name]: new ort.Tensor('float32', m2, [S, N, 8]),
      });
      const h = dense(X, N, W1, B1, 8);
      const want = new Float32Array(S * N * 3);
      for (let t = 0; t < S; t++) {
        const d = new Float32Array(N * 8);
        for (let i = 0; i < N; i++) for (let j = 0; j < 8; j++) d[i * 8 + j] = h[i * 8 + j]! * m1[t * 8 + j]! * m2[(t * N + i) * 8 + j]!;
        want.set(dense(d, N, W2, B2, 3), t * N * 3);
      }
      expect(out.y!.dims).toEqual([S * N, 3]);
      expect(maxAbsDiff(out.y!.data as Float32Array, want)).toBeLessThan(1e-5);
    });
  }

  test('a residual mixing expanded and unexpanded data gets the latter expanded', async () => {
    const m = model(
      13,
      [gemm('x', 'W1', 'B1', 'h'), ...dropout(13, 'h', 'd', 0.5), { op_type: 'Add', input: ['d', 'h'], output: ['r'] }, gemm('r', 'W2', 'B2', 'y')],
      inits(),
      [vi('x', 1, ['N', 4])],
      [vi('y', 1, ['N', 3]), vi('h', 1, ['N', 8])],
    );
    const p = prepareModel(m);
    expect(p.changes.some((c) => c.includes("input 'h'") && c.includes('expanded'))).toBe(true);
    expect(p.sampledOutputs).toEqual(['y']);
    const mask = bernoulli(rand, S * 8, 0.5);
    const out = await run(p, { x: new ort.Tensor('float32', X, [N, 4]), [p.sites[0]!.name]: new ort.Tensor('float32', mask, [S, 1, 8]) });
    const h = dense(X, N, W1, B1, 8);
    const want = new Float32Array(S * N * 3);
    for (let t = 0; t < S; t++) {
      const r = new Float32Array(N * 8);
      for (let i = 0; i < N * 8; i++) r[i] = h[i]! * mask[t * 8 + (i % 8)]! + h[i]!;
      want.set(dense(r, N, W2, B2, 3), t * N * 3);
    }
    expect(maxAbsDiff(out.y!.data as Float32Array, want)).toBeLessThan(1e-5);
    // 'h' depends on no site: N rows (the runtime tiles it).
    expect(out.h!.dims).toEqual([N, 8]);
  });

  test('a consumed mask output becomes the sampled mask (bool at opset ≥ 10, data type below)', async () => {
    for (const opset of [9, 13]) {
      const m = model(
        opset,
        [gemm('x', 'W1', 'B1', 'h'), ...dropout(opset, 'h', 'd', 0.5, ['mk']), gemm('d', 'W2', 'B2', 'y')],
        inits(),
        [vi('x', 1, ['N', 4])],
        [vi('y', 1, ['N', 3]), vi('mk', opset >= 10 ? 9 : 1, ['N', 8])],
      );
      const p = prepareModel(m);
      const mask = bernoulli(rand, S * 8, 0.5);
      const out = await run(p, { x: new ort.Tensor('float32', X, [N, 4]), [p.sites[0]!.name]: new ort.Tensor('float32', mask, [S, 1, 8]) });
      expect(out.mk!.dims).toEqual([S * N, 8]);
      const got = Array.from(out.mk!.data as ArrayLike<number | boolean>, Number);
      const want = Array.from({ length: S * N * 8 }, (_, i) => {
        const t = Math.floor(i / (N * 8));
        const v = mask[t * 8 + (i % 8)]!;
        return opset >= 10 ? Number(v !== 0) : v;
      });
      expect(got).toEqual(want);
    }
  });

  // rewrite 'broadcast' only: what the broadcast layout refuses (by default prepare then runs the graph tiled).
  const refuse = (nodes: NodeProto[], outputs: ValueInfoProto[], pattern: RegExp, options: { rewrite?: 'broadcast' } = { rewrite: 'broadcast' }) => {
    const m = model(13, nodes, inits(), [vi('x', 1, ['N', 4])], outputs);
    let err: unknown;
    try {
      prepareModel(m, options);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(McuError);
    expect((err as McuError).code).toBe('E_UNSUPPORTED');
    expect((err as McuError).message).toMatch(pattern);
  };

  test('a shape read before the first site and used after it is refused', () => {
    refuse(
      [
        gemm('x', 'W1', 'B1', 'h'),
        { op_type: 'Shape', input: ['h'], output: ['s'] },
        ...dropout(13, 'h', 'd', 0.5),
        { op_type: 'Reshape', input: ['d', 's'], output: ['y'] },
      ],
      [vi('y', 1, ['N', 8])],
      /shape read before/,
    );
  });

  test('moving the row axis after a site is refused', () => {
    refuse(
      [
        gemm('x', 'W1', 'B1', 'h'),
        ...dropout(13, 'h', 'd', 0.5),
        { op_type: 'Transpose', input: ['d'], output: ['y'], attribute: [{ name: 'perm', type: 7, ints: [1n, 0n] }] },
      ],
      [vi('y', 1, [8, 'N'])],
      /row/,
    );
  });

  test('dropout on a constant is refused', () => {
    refuse([...dropout(13, 'W1', 'wd', 0.5), gemm('x', 'wd', 'B1', 'y')], [vi('y', 1, ['N', 8])], /constant/, {});
  });

  test('what the broadcast layout refuses runs tiled by default, with the same numbers as a hand computation', async () => {
    // Shape read before the site, used after it: the broadcast layout would reshape S·N rows to N.
    const nodes: NodeProto[] = [
      gemm('x', 'W1', 'B1', 'h'),
      { op_type: 'Shape', input: ['h'], output: ['s'] },
      ...dropout(13, 'h', 'd', 0.5),
      { op_type: 'Reshape', input: ['d', 's'], output: ['r'] },
      gemm('r', 'W2', 'B2', 'y'),
    ];
    const p = prepareModel(model(13, nodes, inits(), [vi('x', 1, ['N', 4])], [vi('y', 1, ['N', 3])]));
    expect(p.layout).toBe('tiled');
    expect(p.changes.some((c) => /layout 'tiled'.*shape read before/.test(c))).toBe(true);
    const mask = bernoulli(rand, S * N * 8, 0.5);
    const out = await run(p, { x: new ort.Tensor('float32', X, [N, 4]), [p.sites[0]!.name]: new ort.Tensor('float32', mask, [S, N, 8]) });
    const h = dense(X, N, W1, B1, 8);
    const want = new Float32Array(S * N * 3);
    for (let t = 0; t < S; t++) {
      const d = new Float32Array(N * 8);
      for (let i = 0; i < N * 8; i++) d[i] = h[i]! * mask[t * N * 8 + i]!;
      want.set(dense(d, N, W2, B2, 3), t * N * 3);
    }
    expect(out.y!.dims).toEqual([S * N, 3]);
    expect(maxAbsDiff(out.y!.data as Float32Array, want)).toBeLessThan(1e-5);
  });

  test('a site whose rows are on axis 1 (sequence-first [L, N, F]) gets masks placed per row', async () => {
    // x [N, 4] → Gemm → h [N, 8] → Unsqueeze → [1, N, 8] → Concat(itself) → [2, N, 8] (L = 2) → Dropout → mean over L → Gemm
    const L = 2;
    const nodes: NodeProto[] = [
      gemm('x', 'W1', 'B1', 'h'),
      { op_type: 'Unsqueeze', input: ['h', 'ax0'], output: ['hu'] },
      { op_type: 'Concat', input: ['hu', 'hu'], output: ['seq'], attribute: [{ name: 'axis', type: 2, i: 0n }] },
      ...dropout(13, 'seq', 'd', 0.5),
      {
        op_type: 'ReduceMean',
        input: ['d'],
        output: ['m'],
        attribute: [
          { name: 'axes', type: 7, ints: [0n] },
          { name: 'keepdims', type: 2, i: 0n },
        ],
      },
      gemm('m', 'W2', 'B2', 'y'),
    ];
    const ax0: TensorProto = { name: 'ax0', data_type: 7, dims: [1n], raw_data: new Uint8Array(8) };
    const p = prepareModel(model(13, nodes, [...inits(), ax0], [vi('x', 1, ['N', 4])], [vi('y', 1, ['N', 3])]));
    expect(p.layout).toBe('tiled');
    expect(p.sites[0]!.rowLayout).toEqual({ axis: 1, factor: 1 });
    expect(p.sites[0]!.maskShape).toEqual([L, 8]);
    const mask = bernoulli(rand, S * N * L * 8, 0.5); // [S, N, L, 8]
    const out = await run(p, { x: new ort.Tensor('float32', X, [N, 4]), [p.sites[0]!.name]: new ort.Tensor('float32', mask, [S, N, L, 8]) });
    const h = dense(X, N, W1, B1, 8);
    const want = new Float32Array(S * N * 3);
    for (let t = 0; t < S; t++) {
      const m = new Float32Array(N * 8);
      for (let i = 0; i < N; i++)
        for (let j = 0; j < 8; j++) {
          let acc = 0;
          for (let l = 0; l < L; l++) acc += h[i * 8 + j]! * mask[((t * N + i) * L + l) * 8 + j]!;
          m[i * 8 + j] = acc / L;
        }
      want.set(dense(m, N, W2, B2, 3), t * N * 3);
    }
    expect(maxAbsDiff(out.y!.data as Float32Array, want)).toBeLessThan(1e-5);
  });
});
