// prepareModel's decisions: sites, rates, options, metadata round trip, legacy opsets,
// BatchNorm, warnings with fixes, FLOP counts.
import { describe, expect, test } from 'vitest';
import * as ort from 'onnxruntime-node';
import { fixtureBytes } from '../../../test/helpers/fixtures.js';
import { decodeModel, encodeModel } from '../src/proto/codec.js';
import type { ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../src/proto/types.js';
import { prepareModel, type PrepareOptions } from '../src/graph/prepare.js';
import { inspectModel } from '../src/graph/inspect.js';
import { countFlops } from '../src/graph/flops.js';
import { expectMcuError } from '../../../test/helpers/check.js';
import { f32, vi } from './builders.js';

const load = (rel: string) => decodeModel(fixtureBytes(rel), rel);

async function run(model: ModelProto, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const s = await ort.InferenceSession.create(encodeModel(model), { logSeverityLevel: 3 });
  try {
    return (await s.run(feeds)) as Record<string, ort.Tensor>;
  } finally {
    await s.release();
  }
}

const ones = (n: number) => new Float32Array(n).fill(1);

function graphModel(opset: number, nodes: NodeProto[], inits: TensorProto[], inputs: ValueInfoProto[], outputs: ValueInfoProto[], ir = 7n): ModelProto {
  return {
    ir_version: ir,
    opset_import: [{ domain: '', version: BigInt(opset) }],
    graph: { name: 'g', node: nodes, initializer: inits, input: inputs, output: outputs },
  };
}

describe('sites found in each export style', () => {
  test('uci yacht: dropout on the (standardised) input and the hidden layer', async () => {
    const p = prepareModel(load('uci/yacht/split00.onnx'));
    expect(p.sites.map((s) => s.maskShape)).toEqual([[6], [50]]);
    expect(p.inputs.map((i) => [i.name, i.dims])).toEqual([['x', ['batch', 6]]]);
    // All-ones masks = the deterministic (standard dropout) pass of the original model.
    const x = Float32Array.from({ length: 3 * 6 }, (_, i) => (i * 7) % 11);
    const original = await run(load('uci/yacht/split00.onnx'), { x: new ort.Tensor('float32', x, [3, 6]) });
    const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', x, [3, 6]) };
    for (const s of p.sites) feeds[s.name] = new ort.Tensor('float32', ones(s.maskShape[0]!), [1, 1, ...s.maskShape]);
    const got = await run(p.model, feeds);
    expect(Array.from(got.y!.data as Float32Array)).toEqual(Array.from(original.y!.data as Float32Array));
  });

  test('an eval export without dropout: no sites and a warning with the fix', () => {
    const p = prepareModel(load('pytorch-1.13-small/co2_relu.eval.onnx'));
    expect(p.sites).toEqual([]);
    expect(p.warnings.join('\n')).toMatch(/TrainingMode\.PRESERVE/);
    expect(p.warnings.join('\n')).toMatch(/--insert-dropout P --before Gemm,MatMul,Conv/);
  });

  test('masked inputs not declared: treated as data, with a hint to declare them', () => {
    const p = prepareModel(load('pytorch-1.13-small/co2_relu.masked.onnx'));
    expect(p.sites).toEqual([]);
    expect(p.inputs.map((i) => i.name)).toEqual(['x', 'mask1', 'mask2', 'mask3', 'mask4']);
    expect(p.warnings.join('\n')).toMatch(/'mask1' looks like a dropout mask.*maskInputs/);
  });

  test("lenet eval: insertion before 'Gemm' skipping the first gives exactly one site (before f2)", () => {
    const p = prepareModel(load('pytorch-1.13/lenet.eval.onnx'), { insertDropout: { rate: 0.5, before: ['Gemm'] } });
    expect(p.sites.map((s) => [s.origin?.node, s.maskShape])).toEqual([['/f2/Gemm', [500]]]);
    expect(p.warnings.join('\n')).toMatch(/only valid where the network was TRAINED with dropout/);
  });

  test('lenet eval: insertion before Conv and Gemm shapes the masks per layer', async () => {
    const p = prepareModel(load('pytorch-1.13/lenet.eval.onnx'), { insertDropout: { rate: 0.25, before: ['Conv', 'Gemm'] } });
    expect(p.sites.map((s) => [s.origin?.node, s.maskShape])).toEqual([
      ['/c2/Conv', [20, 12, 12]],
      ['/f1/Gemm', [800]],
      ['/f2/Gemm', [500]],
    ]);
    const feeds: Record<string, ort.Tensor> = { image: new ort.Tensor('float32', new Float32Array(2 * 784).fill(0.3), [2, 1, 28, 28]) };
    for (const s of p.sites) {
      const n = s.maskShape.reduce((a, b) => a * b, 1);
      feeds[s.name] = new ort.Tensor('float32', ones(3 * n), [3, 1, ...s.maskShape]);
    }
    const out = await run(p.model, feeds);
    expect(out.logits!.dims).toEqual([6, 10]);
    const eval_ = await run(load('pytorch-1.13/lenet.eval.onnx'), { image: feeds.image! });
    const y = out.logits!.data as Float32Array;
    const e = eval_.logits!.data as Float32Array;
    for (let i = 0; i < 60; i++) expect(Math.abs(y[i]! - e[i % 20]!)).toBeLessThan(1e-4);
  });

  test('insertDropout validates its options', () => {
    expectMcuError(() => prepareModel(load('pytorch-1.13-small/co2_relu.eval.onnx'), { insertDropout: { rate: 0.1, before: ['Relu'] } }), 'E_CONFIG', /'Relu'/);
    expectMcuError(
      () => prepareModel(load('pytorch-1.13-small/co2_relu.eval.onnx'), { insertDropout: { rate: 1, before: ['Gemm'] } }),
      'E_SITE',
      /outside \[0, 1\)/,
    );
  });

  test('maskInputs validates names and rates', () => {
    expectMcuError(() => prepareModel(load('pytorch-1.13-small/co2_relu.masked.onnx'), { maskInputs: { nope: 0.1 } }), 'E_SITE', /'nope'/, /mask1/);
    expectMcuError(() => prepareModel(load('pytorch-1.13-small/co2_relu.masked.onnx'), { maskInputs: { mask1: -0.1 } }), 'E_SITE', /-0\.1/);
  });

  test('masked-sample models get the sample-axis layout; their masks take [S, 1|N, ...]', () => {
    const masks = { mask1: 0.1, mask2: 0.1, mask3: 0.1, mask4: 0.1 };
    const p = prepareModel(load('pytorch-1.13-small/co2_relu.masked-sample.onnx'), { maskInputs: masks });
    expect(p.layout).toBe('sample-axis');
    expect(p.inputs.map((i) => [i.name, i.dims])).toEqual([['x', ['samples', 'batch', 1]]]);
    expect(p.sites.map((s) => s.maskShape)).toEqual([[128], [128], [128], [128]]);
    expect(p.changes.join('\n')).toMatch(/sample axis/);
    const plain = prepareModel(load('pytorch-1.13-small/co2_relu.masked.onnx'), { maskInputs: masks });
    expect(plain.layout).toBe('broadcast');
  });

  test('rate-0 dropout stays a site; scaling is recorded', () => {
    const m = graphModel(
      13,
      [
        { op_type: 'Constant', output: ['r'], attribute: [{ name: 'value', type: 4, t: f32('', [], [0]) }] },
        { op_type: 'Dropout', input: ['x', 'r'], output: ['y'] },
      ],
      [],
      [vi('x', ['N', 3])],
      [vi('y', ['N', 3])],
    );
    const p = prepareModel(m, { scaling: 'none' });
    expect(p.sites.map((s) => [s.rate, s.scaling])).toEqual([[0, 'none']]);
  });

  test('a ratio reached through Constant → Identity is read', () => {
    const m = graphModel(
      13,
      [
        { op_type: 'Constant', output: ['c'], attribute: [{ name: 'value_float', type: 1, f: 0.3 }] },
        { op_type: 'Identity', input: ['c'], output: ['c2'] },
        { op_type: 'Dropout', input: ['x', 'c2'], output: ['y'] },
      ],
      [],
      [vi('x', ['N', 3])],
      [vi('y', ['N', 3])],
    );
    expect(prepareModel(m).sites.map((s) => s.rate)).toEqual([0.3]);
  });

  test('Dropout inside a subgraph is reported, not silently ignored', () => {
    const body = {
      name: 'then',
      node: [{ op_type: 'Dropout', input: ['x'], output: ['t'] }],
      output: [vi('t', ['N', 3])],
    };
    const m = graphModel(
      13,
      [
        { op_type: 'Constant', output: ['cond'], attribute: [{ name: 'value', type: 4, t: { data_type: 9, dims: [], int32_data: [1] } }] },
        {
          op_type: 'If',
          input: ['cond'],
          output: ['y'],
          name: 'branch',
          attribute: [
            { name: 'then_branch', type: 5, g: body },
            { name: 'else_branch', type: 5, g: { ...body, name: 'else' } },
          ],
        },
      ],
      [],
      [vi('x', ['N', 3])],
      [vi('y', ['N', 3])],
    );
    const p = prepareModel(m);
    expect(p.sites).toEqual([]);
    expect(p.warnings.join('\n')).toMatch(/If node 'branch' has 2 Dropout nodes in its subgraph/);
  });

  test('a ratio given by a graph input needs `rates`; out-of-range rates are refused', () => {
    const m = graphModel(
      13,
      [{ op_type: 'Dropout', input: ['x', 'ratio', 'training'], output: ['y'] }],
      [],
      [vi('x', ['N', 3]), vi('ratio', [], 1), vi('training', [], 9)],
      [vi('y', ['N', 3])],
    );
    expectMcuError(() => prepareModel(m), 'E_SITE', /'ratio'/, /--rate ratio=P/);
    expectMcuError(() => prepareModel(m, { rates: { ratio: 1.5 } }), 'E_SITE', /1\.5/);
    const p = prepareModel(m, { rates: { ratio: 0.3 } });
    expect(p.sites[0]!.rate).toBe(0.3);
    expect(p.inputs.map((i) => i.name)).toEqual(['x']);
    expect(p.model.graph!.input!.map((v) => v.name)).toEqual(['x', p.sites[0]!.name]);
  });
});

describe('a prepared model describes itself (metadata round trip)', () => {
  const styles: [string, PrepareOptions][] = [
    ['pytorch-1.13-small/co2_relu.train.onnx', {}],
    ['pytorch-1.13-small/co2_relu.masked.onnx', { maskInputs: { mask1: 0.1, mask2: 0.1, mask3: 0.1, mask4: 0.1 } }],
    ['pytorch-1.13-small/co2_relu.masked-sample.onnx', { maskInputs: { mask1: 0.1, mask2: 0.1, mask3: 0.1, mask4: 0.1 } }],
    ['pytorch-1.13/lenet.eval.onnx', { insertDropout: { rate: 0.5, before: ['Gemm'] }, scaling: 'none' }],
  ];
  test.each(styles)('%s', (rel, options) => {
    const first = prepareModel(load(rel), options);
    const bytes = encodeModel(first.model);
    const again = prepareModel(decodeModel(bytes));
    expect(again.sites).toEqual(first.sites);
    expect(again.inputs).toEqual(first.inputs);
    expect(again.outputs).toEqual(first.outputs);
    expect(again.layout).toBe(first.layout);
    expect(again.sampledOutputs).toEqual(first.sampledOutputs);
    expect(again.model.graph!.node!.length).toBe(first.model.graph!.node!.length);
    expect(again.changes.join('\n')).toMatch(/already prepared by mcu/);
    const meta = JSON.parse(first.model.metadata_props!.find((p) => p.key === 'mcu.sites')!.value!);
    expect(meta[0]).toMatchObject({ name: first.sites[0]!.name, kind: 'bernoulli', rate: first.sites[0]!.rate, maskShape: first.sites[0]!.maskShape });
  });

  test('broken metadata is E_MODEL', () => {
    const p = prepareModel(load('pytorch-1.13-small/co2_relu.train.onnx'));
    const bad = (value: string) => ({ ...p.model, metadata_props: [{ key: 'mcu.sites', value }] });
    expectMcuError(() => prepareModel(bad('{')), 'E_MODEL', /mcu\.sites/);
    expectMcuError(() => prepareModel(bad('[{"name":"mcu_mask_1","kind":"bernoulli","rate":2,"maskShape":[128]}]')), 'E_MODEL', /rate/);
    expectMcuError(() => prepareModel(bad('[{"name":"nope","kind":"bernoulli","rate":0.1,"maskShape":[128]}]')), 'E_MODEL', /'nope'/);
  });
});

describe('legacy opsets', () => {
  test('opset 6 → 7: Gemm/Add broadcast translated, BatchNorm is_test=0 switched, is_test=1 Dropout still a site', async () => {
    const W = [1, 2, 3, 4, 5, 6];
    const m = graphModel(
      6,
      [
        {
          op_type: 'Gemm',
          input: ['x', 'W', 'c'],
          output: ['h'],
          attribute: [
            { name: 'broadcast', type: 2, i: 1n },
            { name: 'transB', type: 2, i: 1n },
          ],
        },
        {
          op_type: 'Add',
          input: ['h', 'b'],
          output: ['a'],
          attribute: [
            { name: 'broadcast', type: 2, i: 1n },
            { name: 'axis', type: 2, i: 1n },
          ],
        },
        {
          op_type: 'BatchNormalization',
          input: ['a', 'g', 'be', 'mu', 'var'],
          output: ['n'],
          attribute: [
            { name: 'is_test', type: 2, i: 0n },
            { name: 'epsilon', type: 1, f: 0 },
          ],
        },
        {
          op_type: 'Dropout',
          input: ['n'],
          output: ['y'],
          attribute: [
            { name: 'is_test', type: 2, i: 1n },
            { name: 'ratio', type: 1, f: 0.2 },
          ],
        },
      ],
      [
        f32('W', [3, 2], W),
        f32('c', [1], [0.5]),
        f32('b', [3], [1, 1, 1]),
        f32('g', [3], [2, 2, 2]),
        f32('be', [3], [0, 0, 1]),
        f32('mu', [3], [1, 0, 0]),
        f32('var', [3], [1, 4, 1]),
      ],
      [vi('x', ['N', 2])],
      [vi('y', ['N', 3])],
      3n,
    );
    const p = prepareModel(m);
    expect(p.opset).toBe(7);
    const log = p.changes.join('\n');
    expect(log).toMatch(/opset 6 → 7/);
    expect(log).toMatch(/Gemm\.broadcast/);
    expect(log).toMatch(/is_test=1/);
    expect(p.warnings.join('\n')).toMatch(/BatchNormalization.*training mode/);
    expect(p.sites.map((s) => [s.rate, s.maskShape])).toEqual([[0.2, [3]]]);
    const x = [1, -1];
    const out = await run(p.model, {
      x: new ort.Tensor('float32', Float32Array.from(x), [1, 2]),
      [p.sites[0]!.name]: new ort.Tensor('float32', Float32Array.of(1, 0, 1.25), [1, 1, 3]),
    });
    const h = [0, 1, 2].map((o) => x[0]! * W[o * 2]! + x[1]! * W[o * 2 + 1]! + 0.5 + 1);
    const n = h.map((v, i) => (2 * (v - [1, 0, 0][i]!)) / Math.sqrt([1, 4, 1][i]!) + [0, 0, 1][i]!);
    const want = [n[0]! * 1, 0, n[2]! * 1.25];
    const got = Array.from(out.y!.data as Float32Array);
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
  });

  test('opset 1: consumed_inputs dropped, Reshape shape attribute → input, Dropout is_test=0 a site', async () => {
    const m = graphModel(
      1,
      [
        { op_type: 'Relu', input: ['x'], output: ['r'], attribute: [{ name: 'consumed_inputs', type: 7, ints: [0n] }] },
        {
          op_type: 'Dropout',
          input: ['r'],
          output: ['d'],
          attribute: [
            { name: 'ratio', type: 1, f: 0.5 },
            { name: 'is_test', type: 2, i: 0n },
          ],
        },
        { op_type: 'Reshape', input: ['d'], output: ['y'], attribute: [{ name: 'shape', type: 7, ints: [0n, 2n, 2n] }] },
      ],
      [],
      [vi('x', ['N', 4])],
      [vi('y', ['N', 2, 2])],
      3n,
    );
    const p = prepareModel(m);
    expect(p.opset).toBe(7);
    expect(p.changes.join('\n')).toMatch(/Reshape\.shape→input/);
    expect(p.sites.map((s) => [s.rate, s.maskShape])).toEqual([[0.5, [4]]]);
    const out = await run(p.model, {
      x: new ort.Tensor('float32', Float32Array.of(1, -2, 3, 4), [1, 4]),
      [p.sites[0]!.name]: new ort.Tensor('float32', Float32Array.of(2, 2, 0, 2, 0, 0, 2, 2), [2, 1, 4]),
    });
    expect(out.y!.dims).toEqual([2, 2, 2]);
    expect(Array.from(out.y!.data as Float32Array)).toEqual([2, 0, 0, 8, 0, 0, 6, 8]);
  });

  test('opset 6 Add broadcasting from a leading axis is refused, naming it', () => {
    const m = graphModel(
      6,
      [
        {
          op_type: 'Add',
          input: ['x', 'b'],
          output: ['y'],
          name: 'lead',
          attribute: [
            { name: 'broadcast', type: 2, i: 1n },
            { name: 'axis', type: 2, i: 0n },
          ],
        },
      ],
      [f32('b', [2], [1, 2])],
      [vi('x', [2, 3])],
      [vi('y', [2, 3])],
      3n,
    );
    expectMcuError(() => prepareModel(m), 'E_UNSUPPORTED', /Add node 'lead'/, /axis 0/);
  });

  test('an operator that changed meaning before opset 7 is refused, naming it', () => {
    const m = graphModel(6, [{ op_type: 'Upsample', input: ['x'], output: ['y'] }], [], [vi('x', ['N', 3])], [vi('y', ['N', 3])], 3n);
    expectMcuError(() => prepareModel(m), 'E_UNSUPPORTED', /Upsample/, /opset/);
  });
});

describe('BatchNormalization exported in training mode', () => {
  test('opset 15 training_mode=1 is switched to inference and reported', async () => {
    const m = graphModel(
      15,
      [
        {
          op_type: 'BatchNormalization',
          input: ['x', 'g', 'b', 'mu', 'var'],
          output: ['n', 'rm', 'rv'],
          name: 'bn',
          attribute: [
            { name: 'training_mode', type: 2, i: 1n },
            { name: 'epsilon', type: 1, f: 0 },
          ],
        },
        { op_type: 'Constant', output: ['r'], attribute: [{ name: 'value', type: 4, t: f32('', [], [0.5]) }] },
        { op_type: 'Dropout', input: ['n', 'r'], output: ['y'] },
      ],
      [f32('g', [2], [1, 1]), f32('b', [2], [0, 0]), f32('mu', [2], [10, 20]), f32('var', [2], [4, 4])],
      [vi('x', ['N', 2])],
      [vi('y', ['N', 2])],
    );
    const p = prepareModel(m);
    expect(p.changes.join('\n')).toMatch(/BatchNormalization 'bn'.*inference/);
    expect(p.warnings.join('\n')).toMatch(/TrainingMode\.PRESERVE/);
    const bn = p.model.graph!.node!.find((n) => n.op_type === 'BatchNormalization')!;
    expect(bn.output).toEqual(['n']);
    const out = await run(p.model, {
      x: new ort.Tensor('float32', Float32Array.of(12, 24, 14, 16), [2, 2]),
      [p.sites[0]!.name]: new ort.Tensor('float32', ones(2), [1, 1, 2]),
    });
    expect(Array.from(out.y!.data as Float32Array)).toEqual([1, 2, 2, -2]);
  });
});

describe('inspect and FLOPs', () => {
  test('inspectModel lists sites with op, opset, rate, mask shape', () => {
    const i = inspectModel(load('pytorch-2.11/lenet.train.onnx'));
    expect(i.sites).toEqual([{ name: 'mcu_mask_1', op: 'Dropout', opset: 13, node: '/drop/Dropout', rate: 0.5, maskShape: [500] }]);
    expect(i.inputs.map((x) => x.name)).toEqual(['image']);
    expect(i.layout).toBe('broadcast');
  });

  test('LeNet: 99.8 % of the FLOPs come before its only dropout', () => {
    const f = countFlops(prepareModel(load('pytorch-1.13/lenet.train.onnx')));
    expect(f.complete).toBe(true);
    expect(f.perRow).toBe(2 * (20 * 25 * 24 * 24 + 50 * 20 * 25 * 8 * 8 + 800 * 500 + 500 * 10));
    expect(f.afterFirstSite).toBe(2 * 500 * 10);
    expect(f.shareBeforeFirstSite).toBeCloseTo(0.9978, 4);
    expect(f.forSamples(100)).toBe(f.beforeFirstSite + 100 * f.afterFirstSite);
  });

  test('co2 MLP: only the first layer comes before the first site; sample-axis computes everything S times', () => {
    const f = countFlops(prepareModel(load('pytorch-1.13-small/co2_relu.train.onnx')));
    expect(f.perRow).toBe(2 * (128 + 3 * 128 * 128 + 128));
    expect(f.beforeFirstSite).toBe(2 * 128);
    const masks = { mask1: 0.1, mask2: 0.1, mask3: 0.1, mask4: 0.1 };
    const s = countFlops(prepareModel(load('pytorch-1.13-small/co2_relu.masked-sample.onnx'), { maskInputs: masks }));
    expect(s.perRow).toBe(f.perRow);
    expect(s.forSamples(10)).toBe(10 * s.perRow);
  });
});
