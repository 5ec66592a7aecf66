// Caffe shape inference (per row: the batch axis left out) and the weight-blob checks, without
// running anything; describeCaffe for structure-only nets.
import { describe, expect, test } from 'vitest';
import { errorText, L } from './helpers.js';
import { analyzeNet, describeCaffe, type RowShape } from '../src/shapes.js';
import type { CaffeBlob, CaffeLayer, CaffeNet, CaffeToOnnxOptions } from '../src/types.js';

type Params = Record<string, unknown>;

const B = (shape: number[], legacy = false): CaffeBlob => ({ shape, legacy, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });

function net(inputs: Record<string, (number | undefined)[] | undefined>, layers: CaffeLayer[], weights: 'present' | 'missing' = 'missing'): CaffeNet {
  return {
    name: 'shapes',
    inputs: Object.entries(inputs).map(([name, shape]) => ({ name, shape, from: 'input_shape' })),
    layers,
    dropped: [],
    weights,
    warnings: [],
    files: { prototxt: 'deploy.prototxt', caffemodel: 'net.caffemodel' },
  };
}

/** The per-row shape of every top, by top name (last write), structure only. */
function tops(n: CaffeNet, options?: CaffeToOnnxOptions): Record<string, RowShape> {
  const out: Record<string, RowShape> = {};
  for (const l of analyzeNet(n, options, 'describe').layers) l.layer.top.forEach((t, i) => (out[t] = l.tops[i]));
  return out;
}

const one = (inShape: number[], type: string, param: Params = {}): RowShape => tops(net({ data: inShape }, [L('l', type, 'data', 'out', param)]))['out'];

const err = errorText;

describe("shapes as Caffe's Reshape() computes them", () => {
  test('Convolution: floor((in + 2p − (d(k − 1) + 1)) / s) + 1, num_output channels; the declared batch is ignored', () => {
    expect(one([64, 3, 32, 32], 'Convolution', { convolution_param: { num_output: 192, kernel_size: [5] } })).toEqual([192, 28, 28]);
    expect(one([1, 3, 32, 32], 'Convolution', { convolution_param: { num_output: 8, kernel_size: [3], pad: [1], stride: [2] } })).toEqual([8, 16, 16]);
    expect(
      one([1, 4, 9, 8], 'Convolution', {
        convolution_param: { num_output: 6, group: 2, dilation: [2], kernel_h: 3, kernel_w: 2, pad_h: 2, pad_w: 1, stride_h: 2, stride_w: 1 },
      }),
    ).toEqual([6, 5, 8]);
    expect(
      one([1, 2, 7, 9], 'Convolution', { convolution_param: { num_output: 3, kernel_size: [3, 2], stride: [2, 1], pad: [1, 0], dilation: [1, 2] } }),
    ).toEqual([3, 4, 7]);
  });

  test("Pooling: CEIL with Caffe's clipping, FLOOR, global", () => {
    const pool = (shape: number[], p: Params): RowShape => one(shape, 'Pooling', { pooling_param: p });
    expect(pool([1, 2, 6, 8], { kernel_size: 3, stride: 2 })).toEqual([2, 3, 4]); // ceil ≠ floor (2, 3)
    expect(pool([1, 2, 5, 6], { kernel_size: 2, stride: 2, pad: 1 })).toEqual([2, 3, 4]); // H: ceil 4 → clipped 3
    expect(pool([1, 2, 5, 5], { kernel_size: 2, stride: 2 })).toEqual([2, 3, 3]); // no pad: no clipping
    expect(pool([1, 2, 6, 7], { kernel_size: 3, stride: 2, pad: 1, round_mode: 'FLOOR' })).toEqual([2, 3, 4]);
    expect(pool([1, 2, 6, 7], { kernel_size: 3, stride: 2, pad: 1 })).toEqual([2, 4, 4]);
    expect(pool([1, 2, 7, 6], { kernel_h: 3, kernel_w: 2, stride_h: 2, stride_w: 3, pad_h: 1, pad_w: 1 })).toEqual([2, 4, 3]);
    expect(pool([1, 3, 13, 17], { pool: 'AVE', global_pooling: true })).toEqual([3, 1, 1]);
    // pad_h alone turns on the clipping for the width too (Caffe tests pad_h || pad_w): W ceil 3 → 2.
    expect(pool([1, 1, 6, 6], { kernel_h: 3, kernel_w: 2, stride_h: 1, stride_w: 3, pad_h: 1, pad_w: 0 })).toEqual([1, 6, 2]);
    // Without any pad the last window would start at 6, outside the 6 columns: Caffe's output there is undefined.
    const noPad = net({ data: [1, 1, 6, 6] }, [L('l', 'Pooling', 'data', 'out', { pooling_param: { kernel_h: 3, kernel_w: 2, stride_h: 1, stride_w: 3 } })]);
    expect(err(() => analyzeNet(noPad))).toMatch(/^E_UNSUPPORTED: .*last window along the width starts at 6/);
  });

  test('InnerProduct: bottom axes before `axis`, then num_output; unknown bottom with axis 1 still known', () => {
    expect(one([1, 16, 5, 5], 'InnerProduct', { inner_product_param: { num_output: 10 } })).toEqual([10]);
    expect(one([1, 3, 4, 2], 'InnerProduct', { inner_product_param: { num_output: 5, axis: 2 } })).toEqual([3, 5]);
    expect(one([1, 3, 4, 2], 'InnerProduct', { inner_product_param: { num_output: 5, axis: -1 } })).toEqual([3, 4, 5]);
    expect(
      tops({
        ...net({}, [L('ip', 'InnerProduct', 'data', 'ip', { inner_product_param: { num_output: 7 } })]),
        inputs: [{ name: 'data', shape: undefined, from: 'x' }],
      })['ip'],
    ).toEqual([7]);
  });

  test('Concat, Slice, Split, Eltwise', () => {
    const cat = tops(net({ a: [1, 2, 3, 3], b: [1, 5, 3, 3] }, [L('c', 'Concat', ['a', 'b'], 'c')]));
    expect(cat['c']).toEqual([7, 3, 3]);
    const legacy = tops(net({ a: [1, 2, 1, 3], b: [1, 2, 4, 3] }, [L('c', 'Concat', ['a', 'b'], 'c', { concat_param: { concat_dim: 2 } })]));
    expect(legacy['c']).toEqual([2, 5, 3]);
    const sl = tops(net({ a: [1, 6, 2] }, [L('s', 'Slice', 'a', ['x', 'y', 'z'], { slice_param: { slice_point: [1, 3] } })]));
    expect([sl['x'], sl['y'], sl['z']]).toEqual([
      [1, 2],
      [2, 2],
      [3, 2],
    ]);
    const eq = tops(net({ a: [1, 2, 6] }, [L('s', 'Slice', 'a', ['x', 'y', 'z'], { slice_param: { slice_dim: 2 } })]));
    expect(eq['z']).toEqual([2, 2]);
    const sp = tops(net({ a: [1, 4] }, [L('s', 'Split', 'a', ['x', 'y'])]));
    expect([sp['x'], sp['y']]).toEqual([[4], [4]]);
    expect(tops(net({ a: [1, 4], b: [1, 4] }, [L('e', 'Eltwise', ['a', 'b'], 'e', { eltwise_param: { operation: 'MAX' } })]))['e']).toEqual([4]);
  });

  test('Flatten: axes [axis, end_axis] become one', () => {
    expect(one([1, 2, 3, 4], 'Flatten')).toEqual([24]);
    expect(one([1, 2, 3, 4, 5], 'Flatten', { flatten_param: { axis: 2, end_axis: 3 } })).toEqual([2, 12, 5]);
    expect(one([1, 2, 3, 4], 'Flatten', { flatten_param: { axis: -2 } })).toEqual([2, 12]);
    expect(one([1, 2, 3], 'Flatten', { flatten_param: { axis: 0, end_axis: 0 } })).toEqual([2, 3]);
  });

  test('Reshape: 0 copies, -1 infers, axis / num_axes select the axes replaced', () => {
    const r = (shape: number[], p: Params): RowShape => one(shape, 'Reshape', { reshape_param: p });
    expect(r([1, 2, 3, 4], { shape: { dim: [0, -1] } })).toEqual([24]);
    expect(r([1, 4, 9], { shape: { dim: [0, 2, -1, 3] } })).toEqual([2, 6, 3]);
    expect(r([1, 6, 4], { axis: 1, num_axes: 1, shape: { dim: [2, 3] } })).toEqual([2, 3, 4]);
    expect(r([1, 6, 4], { axis: 1, num_axes: 1, shape: { dim: [-1, 3] } })).toEqual([2, 3, 4]);
    expect(r([1, 3, 4], { shape: { dim: [-1, 12] } })).toEqual([12]); // the -1 is the batch
    expect(r([1, 3, 4], { axis: -1, num_axes: 0, shape: { dim: [1, 1] } })).toEqual([3, 4, 1, 1]);
    expect(r([1, 3, 4], { axis: 1, shape: { dim: [0, 2, 2] } })).toEqual([3, 2, 2]);
    expect(r([1, 2, 3, 4], { axis: -3, num_axes: 2, shape: { dim: [-1] } })).toEqual([2, 12]); // start = 4 - 3 + 1 = 2
    // Valid for Caffe at its declared batch (1 here, 64 below), not for any number of rows.
    const rows = (shape: number[], dims: number[]): string =>
      err(() => analyzeNet(net({ data: shape }, [L('l', 'Reshape', 'data', 'out', { reshape_param: { shape: { dim: dims } } })])));
    expect(rows([1, 3, 4], [3, 4])).toMatch(/^E_UNSUPPORTED: .*shape \{dim: 3 dim: 4\} \(axis 0, num_axes -1\) changes axis 0, the rows/);
    expect(rows([64, 12], [64, -1])).toMatch(/^E_UNSUPPORTED: .*changes axis 0, the rows/);
    expect(rows([1, 12], [0, 2, -1])).toBe('no error');
    expect(err(() => r([1, 3, 4], { shape: { dim: [0, 5] } }))).toMatch(/^E_MODEL: .*gives 5 values per row, the bottom \[N, 3, 4\] has 12/);
    expect(err(() => r([1, 3, 4], { shape: { dim: [0, -1, -1] } }))).toMatch(/^E_MODEL: .*more than one -1/);
  });

  test('element-wise layers keep the shape; PReLU, BatchNorm, Scale, Bias, Dropout, LRN too', () => {
    for (const t of ['ReLU', 'TanH', 'Sigmoid', 'AbsVal', 'ELU', 'Power', 'Exp', 'Log', 'Softmax', 'Dropout', 'PReLU', 'BatchNorm', 'Scale', 'Bias', 'LRN']) {
      expect(one([1, 3, 4, 5], t), t).toEqual([3, 4, 5]);
    }
  });

  test('an inconsistency that follows from a given input shape is E_INPUT, from the prototxt E_MODEL', () => {
    const n = net({ data: [1, 3, 8, 8] }, [L('c', 'Convolution', 'data', 'c', { convolution_param: { num_output: 2, kernel_size: [5] } })]);
    expect(err(() => analyzeNet(n, { inputShapes: { data: [3, 4, 4] } }, 'describe'))).toMatch(
      /^E_INPUT: layer 'c' \(Convolution\): its \(dilated\) kernel \[5, 5\] is larger than the padded bottom \[N, 3, 4, 4\]; this follows from the given input shape data=\[3, 4, 4\]/,
    );
    const m = net({ data: [1, 3, 4, 4] }, [L('c', 'Convolution', 'data', 'c', { convolution_param: { num_output: 2, kernel_size: [5] } })]);
    expect(err(() => analyzeNet(m, {}, 'describe'))).toMatch(/^E_MODEL: layer 'c' \(Convolution\): its \(dilated\) kernel/);
  });
});

describe('the weight blobs against the shapes Caffe allocates', () => {
  const w = (inShape: number[], layer: CaffeLayer): string => err(() => analyzeNet(net({ data: inShape }, [layer], 'present')));
  const ok = 'no error';

  test('Convolution: [out, in/group, kh, kw] + [out] (bias_term)', () => {
    const p = { convolution_param: { num_output: 6, group: 2, kernel_h: 3, kernel_w: 2 } };
    expect(w([1, 4, 8, 8], L('c', 'Convolution', 'data', 'c', p, [B([6, 2, 3, 2]), B([6])]))).toBe(ok);
    expect(w([1, 4, 8, 8], L('c', 'Convolution', 'data', 'c', p, [B([6, 4, 3, 2]), B([6])]))).toMatch(
      /blob 0 \(weights\) has shape \[6, 4, 3, 2\] in net.caffemodel, but the prototxt needs \[6, 2, 3, 2\]/,
    );
    expect(w([1, 4, 8, 8], L('c', 'Convolution', 'data', 'c', p, [B([6, 2, 3, 2]), B([3])]))).toMatch(/blob 1 \(bias\) has shape \[3\].*needs \[6\]/);
    expect(
      w([1, 4, 8, 8], L('c', 'Convolution', 'data', 'c', { convolution_param: { ...p.convolution_param, bias_term: false } }, [B([6, 2, 3, 2]), B([6])])),
    ).toMatch(/has 2 blobs in net.caffemodel; expected 1 \(weights: bias_term is false\)/);
    expect(w([1, 3, 8, 8], L('c', 'Convolution', 'data', 'c', p, [B([6, 1, 3, 2]), B([6])]))).toMatch(/^E_MODEL: .*3 channels, not a multiple of group 2/);
  });

  test('InnerProduct: [out, K] or, transposed, [K, out]; legacy (1, 1, out, K)', () => {
    const ip = (p: Params, blobs: CaffeBlob[]): CaffeLayer => L('ip', 'InnerProduct', 'data', 'ip', { inner_product_param: { num_output: 4, ...p } }, blobs);
    expect(w([1, 2, 3], ip({}, [B([4, 6]), B([4])]))).toBe(ok);
    expect(w([1, 2, 3], ip({ transpose: true }, [B([6, 4]), B([4])]))).toBe(ok);
    expect(w([1, 2, 3], ip({ transpose: true }, [B([4, 6]), B([4])]))).toMatch(/needs \[6, 4\]/);
    expect(w([1, 2, 3], ip({ axis: 2 }, [B([4, 3]), B([4])]))).toBe(ok);
    expect(w([1, 2, 3], ip({}, [B([1, 1, 4, 6], true), B([1, 1, 1, 4], true)]))).toBe(ok);
    expect(w([1, 2, 3], ip({}, [B([4, 6, 1, 1], true), B([4])]))).toMatch(/\[4, 6, 1, 1\] \(legacy num, channels, height, width\)/);
    // A non-legacy blob must match exactly (no padding with 1s).
    expect(w([1, 2, 3], ip({}, [B([1, 1, 4, 6]), B([4])]))).toMatch(/has shape \[1, 1, 4, 6\] in net.caffemodel, but the prototxt needs \[4, 6\]/);
  });

  test('PReLU [C] or [1]; BatchNorm [C], [C], [1]; Scale / Bias [bottom axes] (+ bias)', () => {
    expect(w([1, 3, 2, 2], L('p', 'PReLU', 'data', 'p', {}, [B([3])]))).toBe(ok);
    expect(w([1, 3, 2, 2], L('p', 'PReLU', 'data', 'p', { prelu_param: { channel_shared: true } }, [B([1])]))).toBe(ok);
    expect(w([1, 3, 2, 2], L('p', 'PReLU', 'data', 'p', { prelu_param: { channel_shared: true } }, [B([3])]))).toMatch(
      /blob 0 \(slopes\) has shape \[3\].*needs \[1\]/,
    );
    expect(w([1, 3, 2, 2], L('bn', 'BatchNorm', 'data', 'bn', {}, [B([3]), B([3]), B([1])]))).toBe(ok);
    expect(w([1, 3, 2, 2], L('bn', 'BatchNorm', 'data', 'bn', {}, [B([3]), B([3]), B([3])]))).toMatch(
      /blob 2 \(moving-average factor\) has shape \[3\].*needs \[1\]/,
    );
    expect(w([1, 3, 2, 2], L('s', 'Scale', 'data', 's', { scale_param: { bias_term: true } }, [B([3]), B([3])]))).toBe(ok);
    expect(w([1, 3, 2, 2], L('s', 'Scale', 'data', 's', { scale_param: { num_axes: -1 } }, [B([3, 2, 2])]))).toBe(ok);
    expect(w([1, 3, 2, 2], L('s', 'Scale', 'data', 's', { scale_param: { axis: 2, num_axes: 2 } }, [B([2, 2])]))).toBe(ok);
    expect(w([1, 3, 2, 2], L('s', 'Scale', 'data', 's', { scale_param: { num_axes: 0 } }, [B([])]))).toBe(ok);
    expect(w([1, 3, 2, 2], L('s', 'Scale', 'data', 's', { scale_param: { num_axes: 0 } }, [B([1, 1, 1, 1], true)]))).toBe(ok);
    expect(w([1, 3, 2, 2], L('s', 'Scale', 'data', 's', { scale_param: { bias_term: true } }, [B([3])]))).toMatch(
      /expected 2 \(scale, bias: bias_term is true\)/,
    );
    expect(w([1, 3, 2, 2], L('b', 'Bias', 'data', 'b', {}, [B([2])]))).toMatch(/blob 0 \(bias\) has shape \[2\].*needs \[3\]/);
  });

  test('data that does not fill the shape: E_MODEL (damaged)', () => {
    const bad: CaffeBlob = { shape: [4], legacy: false, data: new Float32Array(3) };
    expect(w([1, 4], L('p', 'PReLU', 'data', 'p', {}, [bad]))).toMatch(
      /^E_MODEL: .*blob 0 \(slopes\) in net.caffemodel has 3 values for its shape \[4\] \(4\); the file is damaged/,
    );
  });

  test('structure only (weights missing): no blob checks', () => {
    expect(
      err(() => analyzeNet(net({ data: [1, 4] }, [L('ip', 'InnerProduct', 'data', 'ip', { inner_product_param: { num_output: 2 } })]), {}, 'describe')),
    ).toBe(ok);
  });
});

describe('inputs', () => {
  const unknown = (layers: CaffeLayer[], weights: 'present' | 'missing', shape: (number | undefined)[] | undefined = [undefined, undefined]): CaffeNet => ({
    ...net({}, layers, weights),
    inputs: [{ name: 'data', shape, from: "HDF5Data layer 'data'" }],
  });

  test('an unknown input consumed only by an InnerProduct (axis 1) with weights: [N, K]', () => {
    const n = unknown([L('ip', 'InnerProduct', 'data', 'ip', { inner_product_param: { num_output: 3 } }, [B([3, 11]), B([3])])], 'present');
    expect(analyzeNet(n).inputs).toEqual([{ name: 'data', from: "HDF5Data layer 'data'", dims: [11], source: 'weights' }]);
    const t = unknown(
      [L('ip', 'InnerProduct', 'data', 'ip', { inner_product_param: { num_output: 3, transpose: true } }, [B([1, 1, 11, 3], true), B([3])])],
      'present',
      undefined,
    );
    expect(analyzeNet(t).inputs[0]!.dims).toEqual([11]);
  });

  test('not when it has another consumer, or the InnerProduct has axis 2: E_INPUT with the placeholders of its rank', () => {
    const two = unknown(
      [L('ip', 'InnerProduct', 'data', 'ip', { inner_product_param: { num_output: 3 } }, [B([3, 11]), B([3])]), L('r', 'ReLU', 'data', 'r')],
      'present',
    );
    expect(err(() => analyzeNet(two))).toBe(
      "E_INPUT: input 'data' (HDF5Data layer 'data'): its shape is not in the prototxt; give it (inputShapes { data: [K] }, command line --input-shape data=K)",
    );
    const four = unknown([L('c', 'ReLU', 'data', 'c')], 'present', [undefined, undefined, undefined, undefined]);
    expect(err(() => analyzeNet(four))).toMatch(/inputShapes \{ data: \[C, H, W\] \}, command line --input-shape data=C,H,W/);
    expect(analyzeNet(four, { inputShapes: { data: [3, 8, 8] } }).inputs[0]).toEqual({
      name: 'data',
      from: "HDF5Data layer 'data'",
      dims: [3, 8, 8],
      source: 'inputShapes',
    });
  });

  test('partially known dims stay partially known in describe mode', () => {
    const n = unknown([L('c', 'Convolution', 'data', 'c', { convolution_param: { num_output: 4, kernel_size: [3] } })], 'missing', [
      undefined,
      3,
      undefined,
      undefined,
    ]);
    const d = describeCaffe(n);
    expect(d.inputs).toEqual([{ name: 'data', from: "HDF5Data layer 'data'", dims: [3, undefined, undefined] }]);
    expect(d.layers[0]!.shapes).toEqual([[4, undefined, undefined]]);
  });
});

describe('describeCaffe', () => {
  const structure = (): CaffeNet => ({
    ...net(
      {},
      [
        L('ip1', 'InnerProduct', 'data', 'ip1', { inner_product_param: { num_output: 512 } }),
        L('relu1', 'ReLU', 'ip1', 'ip1'),
        L('drop1', 'Dropout', 'ip1', 'ip1', { dropout_param: { dropout_ratio: 0.1 } }),
        L('ip2', 'InnerProduct', 'ip1', 'ip2', { inner_product_param: { num_output: 10 } }),
        L('drop2', 'Dropout', 'ip2', 'd2', { dropout_param: { scale_train: false } }),
        L('deconv', 'Deconvolution', 'd2', 'up'),
        L('tanh', 'TanH', 'up', 'out'),
        L('prob', 'Softmax', 'd2', 'prob'),
      ],
      'missing',
    ),
    inputs: [{ name: 'data', shape: undefined, from: "HDF5Data layer 'data'" }],
  });

  test('without weights: unknown dims stay undefined, unsupported layers are listed, nothing thrown', () => {
    const d = describeCaffe(structure());
    expect(d.inputs).toEqual([{ name: 'data', from: "HDF5Data layer 'data'", dims: undefined }]);
    expect(d.sites).toEqual([
      { name: 'drop1', rate: 0.1, scaling: 'inverted' },
      { name: 'drop2', rate: 0.5, scaling: 'none' },
    ]);
    expect(d.layers.map((l) => [l.name, l.shapes])).toEqual([
      ['ip1', [[512]]],
      ['relu1', [[512]]],
      ['drop1', [[512]]],
      ['ip2', [[10]]],
      ['drop2', [[10]]],
      ['deconv', [undefined]],
      ['tanh', [undefined]],
      ['prob', [[10]]],
    ]);
    expect(d.layers[5]!.unsupported).toMatch(
      /^layer 'deconv' \(Deconvolution\): mcu cannot translate layers of type 'Deconvolution'; supported types: AbsVal, BatchNorm/,
    );
    expect(d.layers[0]!.unsupported).toBeUndefined();
    expect(d.outputs).toEqual([
      { name: 'out', dims: undefined },
      { name: 'prob', dims: [10] },
    ]);
  });

  test('outputs: in-place layers keep the name; Caffe-style "last event is a write"', () => {
    const d = describeCaffe(
      net({ data: [1, 6] }, [
        L('s', 'Slice', 'data', ['x', 'y'], { slice_param: { slice_point: [2] } }),
        L('r', 'ReLU', 'x', 'x'),
        L('t', 'TanH', 'y', 'z'),
        L('t2', 'Sigmoid', 'z', 'y'),
      ]),
    );
    expect(d.outputs).toEqual([
      { name: 'x', dims: [2] },
      { name: 'y', dims: [4] },
    ]);
  });

  test("an unused input is a warning, not an output; the net's warnings come first", () => {
    const n: CaffeNet = { ...net({ data: [1, 2], label: [1, 1] }, [L('r', 'ReLU', 'data', 'r')]), warnings: ['unknown field sample_weights_test'] };
    const d = describeCaffe(n);
    expect(d.outputs.map((o) => o.name)).toEqual(['r']);
    expect(d.warnings).toEqual(['unknown field sample_weights_test', "input 'label' (input_shape) is not used by any layer; the ONNX graph leaves it out"]);
  });

  test('with weights, the blobs are checked and an IP-only input is inferred', () => {
    const n: CaffeNet = {
      ...net({}, [L('ip', 'InnerProduct', 'data', 'ip', { inner_product_param: { num_output: 3 } }, [B([3, 7]), B([3])])], 'present'),
      inputs: [{ name: 'data', shape: undefined, from: "HDF5Data layer 'data'" }],
    };
    expect(describeCaffe(n).inputs[0]!.dims).toEqual([7]);
    const bad: CaffeNet = {
      ...net({ data: [1, 5] }, [L('ip', 'InnerProduct', 'data', 'ip', { inner_product_param: { num_output: 3 } }, [B([3, 7]), B([3])])], 'present'),
    };
    expect(err(() => describeCaffe(bad))).toMatch(
      /^E_MODEL: layer 'ip' \(InnerProduct\): blob 0 \(weights\) has shape \[3, 7\] in net.caffemodel, but the prototxt needs \[3, 5\]/,
    );
    expect(err(() => describeCaffe(bad, { inputShapes: { data: [6] } }))).toMatch(/^E_INPUT: .*needs \[3, 6\].*given input shape data=\[6\]/);
  });

  test('nets Caffe refuses are still E_MODEL in describe mode (a dangling bottom)', () => {
    expect(err(() => describeCaffe(net({ data: [1, 2] }, [L('r', 'ReLU', 'x', 'r')])))).toMatch(
      /^E_MODEL: layer 'r' \(ReLU\): its bottom 'x' is neither an input/,
    );
  });
});
