// Site kinds beyond plain Dropout: exporter-marked feature dropout, spatial insertion, ATen
// dropout layers (torch.onnx ONNX_FALLTHROUGH), and the float32 pitfall warning in prepare.
import { describe, expect, test } from 'vitest';
import type { McuError } from '@mcu/core';
import { prepareModel } from '../src/graph/prepare.js';
import type { ModelProto, NodeProto, TensorProto } from '../src/proto/types.js';
import { f32 } from './builders.js';

const dbl = (name: string, v: number): TensorProto => {
  const raw = new Uint8Array(8);
  new DataView(raw.buffer).setFloat64(0, v, true);
  return { name, data_type: 11, dims: [], raw_data: raw };
};
const conv = (x: string, w: string, y: string): NodeProto => ({ op_type: 'Conv', input: [x, w], output: [y], name: `conv_${y}` });

/** x [N, 2, 6, 6] → Conv(2→3) → (middle) → Conv(3→1) → y */
function convNet(middle: NodeProto[], _mid = 'c1', last = 'c1', extra: TensorProto[] = []): ModelProto {
  return {
    ir_version: 8n,
    opset_import: [{ domain: '', version: 13n }],
    graph: {
      name: 'g',
      node: [conv('x', 'w1', 'c1'), ...middle, conv(last, 'w2', 'y')],
      initializer: [f32('w1', [3, 2, 3, 3], new Array(54).fill(0.1)), f32('w2', [1, 3, 3, 3], new Array(27).fill(0.1)), ...extra],
      input: [
        { name: 'x', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: 'N' }, { dim_value: 2n }, { dim_value: 6n }, { dim_value: 6n }] } } } },
      ],
      output: [{ name: 'y', type: { tensor_type: { elem_type: 1 } } }],
    },
  };
}

describe('channel-wise (feature) dropout', () => {
  test('a Dropout node the exporter names as feature dropout gets one mask value per channel', () => {
    const p = prepareModel(
      convNet([{ op_type: 'Dropout', name: '/features/Dropout2d_1', input: ['c1', 'r'], output: ['d'] }], 'c1', 'd', [f32('r', [], [0.3])]),
    );
    expect(p.sites.map((s) => [s.rate, [...s.maskShape]])).toEqual([[0.3, [3, 1, 1]]]);
    expect(p.changes.join('\n')).toMatch(/named as feature \(channel-wise\) dropout/);
  });

  test('a plain Dropout node stays elementwise', () => {
    const p = prepareModel(convNet([{ op_type: 'Dropout', name: '/features/Dropout', input: ['c1', 'r'], output: ['d'] }], 'c1', 'd', [f32('r', [], [0.3])]));
    expect(p.sites.map((s) => [...s.maskShape])).toEqual([[3, 4, 4]]);
  });

  test('--insert-dropout --spatial inserts channel masks before Conv, and refuses layers without spatial axes', () => {
    const p = prepareModel(convNet([]), { insertDropout: { rate: 0.2, before: ['Conv'], spatial: true } });
    expect(p.sites.map((s) => [s.rate, [...s.maskShape]])).toEqual([[0.2, [3, 1, 1]]]);
    const mlp: ModelProto = {
      ir_version: 8n,
      opset_import: [{ domain: '', version: 13n }],
      graph: {
        name: 'g',
        node: [
          { op_type: 'Gemm', input: ['x', 'w', 'b'], output: ['h'] },
          { op_type: 'Gemm', input: ['h', 'w', 'b'], output: ['y'] },
        ],
        initializer: [f32('w', [4, 4], new Array(16).fill(0.1)), f32('b', [4], [0, 0, 0, 0])],
        input: [{ name: 'x', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: 'N' }, { dim_value: 4n }] } } } }],
        output: [{ name: 'y', type: { tensor_type: { elem_type: 1 } } }],
      },
    };
    let err: unknown;
    try {
      prepareModel(mlp, { insertDropout: { rate: 0.2, before: ['Gemm'], spatial: true } });
    } catch (e) {
      err = e;
    }
    expect((err as McuError).code).toBe('E_USAGE');
    expect((err as Error).message).toMatch(/no spatial axes.*--before Conv/);
  });
});

describe('ATen dropout layers (ONNX_FALLTHROUGH)', () => {
  const aten = (op: string, train: boolean): ModelProto =>
    convNet([{ op_type: op, domain: 'org.pytorch.aten', name: `/d/${op}`, input: ['c1', 'p', 't'], output: ['d'] }], 'c1', 'd', [
      dbl('p', 0.2),
      { name: 't', data_type: 9, dims: [], raw_data: Uint8Array.of(train ? 1 : 0) },
    ]);
  test.each([
    ['dropout', 'bernoulli', [3, 4, 4]],
    ['feature_dropout', 'bernoulli', [3, 1, 1]],
    ['alpha_dropout', 'alpha', [3, 4, 4]],
    ['feature_alpha_dropout', 'alpha', [3, 1, 1]],
  ])('aten::%s → a %s site with per-row mask %j, rate from its double constant', (op, kind, shape) => {
    const p = prepareModel(aten(op, true));
    expect(p.sites.map((s) => [s.kind, s.rate, [...s.maskShape]])).toEqual([[kind, 0.2, shape]]);
    expect(p.model.graph!.node!.some((n) => n.domain === 'org.pytorch.aten')).toBe(false);
  });
  test('exported with train = false it is still a layer of the trained network: a site, and said so', () => {
    const p = prepareModel(aten('dropout', false));
    expect(p.sites).toHaveLength(1);
    expect(p.changes.join('\n')).toMatch(/train=false/);
  });
});

describe('float32 pitfalls are reported by prepare', () => {
  test('a standardisation that divides a constant feature by rounding noise is named', () => {
    const m: ModelProto = {
      ir_version: 8n,
      opset_import: [{ domain: '', version: 13n }],
      graph: {
        name: 'g',
        node: [
          { op_type: 'Sub', input: ['x', 'mean'], output: ['c'] },
          { op_type: 'Div', input: ['c', 'std'], output: ['z'], name: 'standardise' },
          { op_type: 'Dropout', input: ['z', 'r'], output: ['d'] },
          { op_type: 'Gemm', input: ['d', 'w', 'b'], output: ['y'], attribute: [{ name: 'transB', type: 2, i: 1n }] },
        ],
        initializer: [f32('mean', [3], [1, 2, 0.5]), f32('std', [3], [2, 2.4e-13, 1]), f32('r', [], [0.1]), f32('w', [1, 3], [1, 1, 1]), f32('b', [1], [0])],
        input: [{ name: 'x', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: 'N' }, { dim_value: 3n }] } } } }],
        output: [{ name: 'y', type: { tensor_type: { elem_type: 1 } } }],
      },
    };
    const p = prepareModel(m);
    expect(p.warnings.join('\n')).toMatch(/'standardise'.*'std'.*element 1.*2\.40e-13/s);
  });
});

describe('rates (--rate NAME=P) name Dropout ratio inputs only', () => {
  test('a rate for a name that is no Dropout ratio input is refused, not ignored', () => {
    let err: unknown;
    try {
      prepareModel(convNet([{ op_type: 'Dropout', name: 'd', input: ['c1', 'r'], output: ['d'] }], 'c1', 'd', [f32('r', [], [0.3])]), {
        rates: { foo: 0.2 },
        what: 'm.onnx',
      });
    } catch (e) {
      err = e;
    }
    expect((err as McuError).code).toBe('E_USAGE');
    expect((err as Error).message).toMatch(
      /--rate foo=0\.2: 'foo' is not the ratio input of a Dropout node of 'm\.onnx' \(its Dropout ratios given as graph inputs: none\)/,
    );
  });
});
