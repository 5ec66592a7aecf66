import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { thrown } from './helpers.js';
import { readCaffe } from '../src/net.js';
import type { CaffeNet, Message } from '../src/types.js';

const bin = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`./data/${name}`, import.meta.url)));
const txt = (name: string): string => readFileSync(new URL(`./data/${name}`, import.meta.url), 'utf8');
const fromText = (prototxt: string): CaffeNet => readCaffe({ prototxt, names: { prototxt: 'net.prototxt' } });

describe('readCaffe: prototxt + caffemodel', () => {
  const net = readCaffe({
    prototxt: txt('tiny_deploy.prototxt'),
    caffemodel: bin('tiny.caffemodel'),
    names: { prototxt: 'deploy.prototxt', caffemodel: 'w.caffemodel' },
  });

  it('takes the structure from the prototxt and the weights by layer name', () => {
    expect(net.name).toBe('tiny_deploy');
    expect(net.inputs).toEqual([{ name: 'data', shape: [1, 3], from: 'input_shape' }]);
    expect(net.layers.map((l) => [l.name, l.type, l.bottom, l.top, l.line])).toEqual([
      ['ip1', 'InnerProduct', ['data'], ['ip1'], 5],
      ['relu1', 'ReLU', ['ip1'], ['ip1'], 6],
      ['drop1', 'Dropout', ['ip1'], ['ip1'], 7],
      ['ip2', 'InnerProduct', ['ip1'], ['ip2'], 8],
      ['prob', 'Softmax', ['ip2'], ['prob'], 9],
    ]);
    const [w, b] = net.layers[0].blobs;
    expect(w).toEqual({ shape: [2, 3], legacy: false, data: new Float32Array([0.5, -1, 2, 0.25, 3, -0.125]) });
    expect(b.shape).toEqual([2]);
    expect(net.layers[1].blobs).toEqual([]);
    expect(net.layers[3].blobs.map((x) => Array.from(x.data))).toEqual([
      [1, 2, 3, 4],
      [0, 1.5],
    ]);
    expect((net.layers[2].param.dropout_param as Message).dropout_ratio).toBe(0.25);
    expect(net.weights).toBe('present');
    expect(net.dropped).toEqual([]);
    expect(net.files).toEqual({ prototxt: 'deploy.prototxt', caffemodel: 'w.caffemodel' });
  });

  it('lists the caffemodel layers that are not in the net in one warning', () => {
    expect(net.warnings).toEqual(["w.caffemodel: 2 caffemodel layers not in the net, ignored: 'data', 'old_scale'"]);
  });

  it('uses the prototxt definitions, so an ambiguous fork field in the caffemodel does not matter', () => {
    const deploy =
      'input: "data" input_dim: [1, 2, 1, 1]\nlayer { name: "drop1" type: "Dropout" bottom: "data" top: "out" dropout_param { dropout_ratio: 0.5 sample_weights_test: false } }';
    const r = readCaffe({ prototxt: deploy, caffemodel: bin('fork_false.caffemodel') });
    expect(r.layers.map((l) => l.type)).toEqual(['Dropout']);
    expect(r.warnings).toEqual(["prototxt:2: unknown field 'dropout_param.sample_weights_test' in layer 'drop1' (kept as a warning, ignored)"]);
  });

  it('refuses a blob whose value count does not match its shape', () => {
    const bad =
      'input: "x" input_dim: [1, 1, 1, 2]\nlayer { name: "ip" type: "InnerProduct" bottom: "x" top: "y" blobs { shape { dim: 2 dim: 2 } data: [1, 2, 3] } }';
    expect(thrown(() => readCaffe({ prototxt: bad, names: { prototxt: 'b.prototxt' } }))).toMatchObject({
      code: 'E_MODEL',
      message: "b.prototxt: expected 4 values for blob 0 of layer 'ip' (shape [2, 2]), got 3 in data; the file is corrupt or was written by a different net",
    });
    const legacy = 'layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y" blobs { num: 1 channels: 2 height: 1 width: 1 double_data: [1] } }';
    expect(thrown(() => fromText(legacy)).message).toBe(
      "net.prototxt: expected 2 values for blob 0 of layer 'ip' (shape [1, 2, 1, 1], legacy num/channels/height/width), got 1 in double_data; the file is corrupt or was written by a different net",
    );
  });
});

describe('readCaffe: a caffemodel alone', () => {
  it('uses its own layer definitions (Input layer → input), without line numbers', () => {
    const net = readCaffe({ caffemodel: bin('tiny.caffemodel') });
    expect(net.name).toBe('tiny');
    expect(net.inputs).toEqual([{ name: 'data', shape: [1, 3], from: "Input layer 'data'" }]);
    expect(net.dropped).toEqual([{ name: 'data', type: 'Input', why: "data layer: its top 'data' is a graph input" }]);
    expect(net.layers.map((l) => l.name)).toEqual(['ip1', 'relu1', 'drop1', 'ip2', 'old_scale', 'prob']);
    expect(net.layers.every((l) => l.line === undefined)).toBe(true);
    expect(net.layers[0].blobs[0].data).toEqual(new Float32Array([0.5, -1, 2, 0.25, 3, -0.125]));
    expect(net.warnings).toEqual([]);
    expect(net.files).toEqual({ caffemodel: 'caffemodel' });
  });

  it('upgrades a V1 caffemodel: enum types, legacy 4-D blobs, blobs_lr / weight_decay → param', () => {
    const net = readCaffe({ caffemodel: bin('v1.caffemodel'), names: { caffemodel: 'v1.caffemodel' } });
    expect(net.inputs).toEqual([{ name: 'data', shape: [1, 1, 3, 3], from: 'input_dim' }]);
    expect(net.layers.map((l) => l.type)).toEqual(['Convolution', 'ReLU', 'Dropout', 'InnerProduct', 'Softmax']);
    const conv = net.layers[0];
    expect(conv.blobs).toEqual([
      { shape: [1, 1, 2, 2], legacy: true, data: new Float32Array([1, 2, 3, 4]) },
      { shape: [1, 1, 1, 1], legacy: true, data: new Float32Array([0.5]) },
    ]);
    expect(conv.param.param).toEqual([
      { lr_mult: 1, decay_mult: 1 },
      { lr_mult: 2, decay_mult: 0 },
    ]);
    expect(conv.param.convolution_param).toEqual({ num_output: 1, kernel_size: [2] });
    expect(conv.param.blobs_lr).toBeUndefined();
    expect(net.warnings).toEqual(["v1.caffemodel: upgraded 5 V1 layers ('layers' with enum types) to the current format, as Caffe's upgrade_proto does"]);
  });

  it('converts double_data to float32', () => {
    const net = readCaffe({ caffemodel: bin('double.caffemodel') });
    expect(net.layers[0].blobs.map((b) => [b.shape, Array.from(b.data)])).toEqual([
      [
        [1, 2],
        [Math.fround(0.1), Infinity],
      ],
      [[1], [-2.5]],
    ]);
  });

  it('checks the fork field 2 of the Dropout layers it uses: 1 warns, 0 is refused', () => {
    const t = readCaffe({ caffemodel: bin('fork_true.caffemodel'), names: { caffemodel: 'f.caffemodel' } });
    expect(t.layers.map((l) => l.name)).toEqual(['ip1', 'drop1']);
    expect(t.warnings).toContain(
      "f.caffemodel: Dropout layer 'drop1' has fork field 2 of dropout_param = true (Gal's sample_weights_test or another fork's scale_train; harmless for mcu either way), ignored",
    );
    expect(t.warnings.filter((w) => w.includes('unknown field'))).toHaveLength(6);
    expect(thrown(() => readCaffe({ caffemodel: bin('fork_false.caffemodel') }))).toMatchObject({ code: 'E_UNSUPPORTED' });
  });
});

describe('readCaffe: a prototxt alone', () => {
  it('takes blobs written in the prototxt and says weights are missing', () => {
    const net = readCaffe({ prototxt: txt('tiny_trained.prototxt') });
    expect(net.weights).toBe('missing');
    expect(net.layers[0].blobs[0].shape).toEqual([2, 3]);
    expect(net.files).toEqual({ prototxt: 'prototxt' });
  });

  it('upgrades V1 text and keeps line numbers', () => {
    const net = readCaffe({ prototxt: txt('v1.prototxt') });
    expect(net.layers.map((l) => [l.name, l.type, l.line])).toEqual([
      ['conv1', 'Convolution', 9],
      ['relu1', 'ReLU', 22],
      ['drop1', 'Dropout', 23],
      ['ip1', 'InnerProduct', 24],
      ['prob', 'Softmax', 33],
    ]);
  });
});

const TRAIN_TEST = `name: "tt"
layer { name: "d" type: "Data" top: "data" top: "label" include { phase: TRAIN } data_param { batch_size: 64 } }
layer { name: "d" type: "Data" top: "data" top: "label" include { phase: TEST } data_param { batch_size: 100 } transform_param { crop_size: 28 } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" }
layer { name: "drop" type: "Dropout" bottom: "ip" top: "ip" }
layer { name: "only_train" type: "ReLU" bottom: "ip" top: "x" exclude { phase: TEST } }
layer { name: "lab" type: "Power" bottom: "label" top: "lab2" }
layer { name: "lab3" type: "Power" bottom: "lab2" top: "lab3" }
layer { name: "acc" type: "Accuracy" bottom: "ip" bottom: "label" top: "accuracy" include { phase: TEST } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" softmax_param { axis: 1 } }
layer { name: "eu" type: "EuclideanLoss" bottom: "ip" bottom: "label" top: "eu" }
layer { name: "after_loss" type: "Power" bottom: "eu" top: "z" }
layer { name: "silence" type: "Silence" bottom: "lab3" }
`;

describe('readCaffe: TEST-phase filtering, data and loss layers', () => {
  const net = fromText(TRAIN_TEST);

  it('keeps the TEST data layer top as the input and drops its label', () => {
    expect(net.inputs).toEqual([{ name: 'data', shape: [100, undefined, 28, 28], from: "Data layer 'd'" }]);
  });

  it('replaces SoftmaxWithLoss by a Softmax over its logits, with a warning', () => {
    expect(net.layers.map((l) => [l.name, l.type, l.bottom, l.top])).toEqual([
      ['ip', 'InnerProduct', ['data'], ['ip']],
      ['drop', 'Dropout', ['ip'], ['ip']],
      ['loss', 'Softmax', ['ip'], ['loss']],
    ]);
    expect(net.layers[2].param).toEqual({ name: 'loss', type: 'Softmax', bottom: ['ip'], top: ['loss'], softmax_param: { axis: 1 } });
    expect(net.layers[2].line).toBe(10);
    expect(net.warnings).toEqual(["net.prototxt:10: loss layer 'loss' (SoftmaxWithLoss) → Softmax over 'ip' as in a deploy net"]);
  });

  it('says why each other layer was dropped', () => {
    expect(net.dropped).toEqual([
      { name: 'd', type: 'Data', why: 'not in the TEST phase: include { phase: TRAIN }' },
      { name: 'only_train', type: 'ReLU', why: 'excluded from the TEST phase: exclude { phase: TEST }' },
      { name: 'd', type: 'Data', why: "data layer: its top 'data' is a graph input" },
      { name: 'lab', type: 'Power', why: "uses the label 'label'" },
      { name: 'lab3', type: 'Power', why: "uses 'lab2', computed from the label 'label'" },
      { name: 'acc', type: 'Accuracy', why: 'accuracy layer (evaluation only)' },
      { name: 'eu', type: 'EuclideanLoss', why: 'loss layer (training only)' },
      { name: 'after_loss', type: 'Power', why: "uses the loss 'eu'" },
      { name: 'silence', type: 'Silence', why: 'Silence layer (computes nothing)' },
    ]);
  });

  it('applies levels and stages as Caffe StateMeetsRule does (level 0, the file state stages)', () => {
    const src = `state { stage: "deploy" }
      layer { name: "a" type: "ReLU" bottom: "x" top: "a" include { min_level: 1 } }
      layer { name: "b" type: "ReLU" bottom: "x" top: "b" include { max_level: 0 stage: "deploy" } }
      layer { name: "c" type: "ReLU" bottom: "x" top: "c" include { stage: "other" } include { phase: TEST } }
      layer { name: "e" type: "ReLU" bottom: "x" top: "e" exclude { not_stage: "deploy" } }
      layer { name: "f" type: "ReLU" bottom: "x" top: "f" exclude { stage: "deploy" } }
      layer { name: "g" type: "ReLU" bottom: "x" top: "g" include { phase: TEST stage: "other" } }`;
    const r = fromText(src);
    expect(r.layers.map((l) => l.name)).toEqual(['b', 'c', 'e']);
    expect(r.dropped.map((d) => [d.name, d.why])).toEqual([
      ['a', 'not in the TEST phase: include { min_level: 1 }'],
      ['f', 'excluded from the TEST phase: exclude { stage: "deploy" }'],
      ['g', 'not in the TEST phase: include { phase: TEST stage: "other" }'],
    ]);
  });

  it("does not filter on a layer's own phase field, but warns about phase: TRAIN", () => {
    const r = fromText('layer { name: "d" type: "Dropout" bottom: "x" top: "y" phase: TRAIN }');
    expect(r.layers.map((l) => l.name)).toEqual(['d']);
    expect(r.warnings).toEqual([
      "net.prototxt:1: layer 'd' sets phase: TRAIN; mcu runs it as in the TEST phase (Dropout: a stochastic site either way; remove the field for ordinary test behaviour)",
    ]);
  });

  it('refuses a BatchNorm that phase: TRAIN would run on batch statistics (rows would mix)', () => {
    expect(() => fromText('layer { name: "bn" type: "BatchNorm" bottom: "x" top: "y" phase: TRAIN }')).toThrow(
      /BatchNorm layer 'bn' sets phase: TRAIN without use_global_stats, so Caffe would normalise it over the batch/,
    );
    expect(
      fromText('layer { name: "bn" type: "BatchNorm" bottom: "x" top: "y" phase: TRAIN batch_norm_param { use_global_stats: true } }').layers,
    ).toHaveLength(1);
  });

  it('uses a data layer of another phase when no TEST-phase layer declares its top (a training snapshot)', () => {
    const src = `layer { name: "mnist" type: "Data" top: "data" top: "label" include { phase: TRAIN } data_param { batch_size: 64 } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
layer { name: "unused" type: "Data" top: "other" include { phase: TRAIN } }`;
    const r = fromText(src);
    expect(r.inputs).toEqual([{ name: 'data', shape: [64, undefined, undefined, undefined], from: "Data layer 'mnist'" }]);
    expect(r.layers.map((l) => `${l.name}:${l.type}`)).toEqual(['ip:InnerProduct', 'loss:Softmax']);
    expect(r.dropped).toEqual([
      { name: 'unused', type: 'Data', why: 'not in the TEST phase: include { phase: TRAIN }' },
      { name: 'mnist', type: 'Data', why: "data layer: its top 'data' is a graph input" },
    ]);
    expect(r.warnings[0]).toBe(
      "net.prototxt:1: data layer 'mnist' (not in the TEST phase: include { phase: TRAIN }) is the only declaration of 'data'; its top is used as the graph input (a caffemodel saved during training holds the TRAIN net)",
    );
  });

  it('refuses include and exclude rules on one layer', () => {
    expect(thrown(() => fromText('\nlayer { name: "x" type: "ReLU" include { phase: TEST } exclude { phase: TRAIN } }'))).toMatchObject({
      code: 'E_MODEL',
      message: "net.prototxt:2: expected include or exclude rules on layer 'x', got both; specify one kind, as Caffe requires",
    });
  });
});

describe('readCaffe: data layer shapes', () => {
  const one = (layer: string): CaffeNet['inputs'] => fromText(`layer { name: "in" ${layer} }`).inputs;
  it('Input: a shape per top, or one shared, or none', () => {
    expect(one('type: "Input" top: "a" top: "b" input_param { shape { dim: 1 dim: 2 } shape { dim: 3 } }')).toEqual([
      { name: 'a', shape: [1, 2], from: "Input layer 'in'" },
      { name: 'b', shape: [3], from: "Input layer 'in'" },
    ]);
    expect(one('type: "Input" top: "a" top: "b" input_param { shape { dim: 5 } }').map((i) => i.shape)).toEqual([[5], [5]]);
    expect(one('type: "Input" top: "a"').map((i) => i.shape)).toEqual([undefined]);
    expect(thrown(() => one('type: "Input" top: "a" top: "b" top: "c" input_param { shape { dim: 1 } shape { dim: 2 } }')).message).toBe(
      "net.prototxt:1: expected 1 or 3 input_param shapes for Input layer 'in' (one per top), got 2; give one shape { dim: … } per top",
    );
  });
  it('MemoryData, DummyData, HDF5Data, ImageData, WindowData, Python', () => {
    expect(one('type: "MemoryData" top: "m" top: "l" memory_data_param { batch_size: 4 channels: 3 height: 8 width: 9 }')).toEqual([
      { name: 'm', shape: [4, 3, 8, 9], from: "MemoryData layer 'in'" },
    ]);
    expect(one('type: "MemoryData" top: "m" memory_data_param { channels: 3 }')[0].shape).toEqual([undefined, 3, undefined, undefined]);
    expect(one('type: "DummyData" top: "a" top: "b" dummy_data_param { shape { dim: 2 dim: 5 } shape { dim: 2 } }')[0].shape).toEqual([2, 5]);
    expect(one('type: "DummyData" top: "a" dummy_data_param { num: 2 channels: 3 height: 4 width: 5 }')[0].shape).toEqual([2, 3, 4, 5]);
    expect(one('type: "HDF5Data" top: "data" top: "label" hdf5_data_param { batch_size: 200 }')).toEqual([
      { name: 'data', shape: undefined, from: "HDF5Data layer 'in'" },
    ]);
    expect(one('type: "ImageData" top: "i" image_data_param { batch_size: 8 new_height: 30 new_width: 40 is_color: false }')[0].shape).toEqual([8, 1, 30, 40]);
    expect(one('type: "ImageData" top: "i" transform_param { crop_size: 24 } image_data_param { new_height: 30 new_width: 40 }')[0].shape).toEqual([
      1, 3, 24, 24,
    ]);
    expect(one('type: "Data" top: "i" data_param { crop_size: 16 }')[0].shape).toEqual([undefined, undefined, 16, 16]);
    expect(one('type: "WindowData" top: "w" window_data_param { batch_size: 2 crop_size: 227 }')[0].shape).toEqual([2, 3, 227, 227]);
    expect(one('type: "Python" top: "p" top: "q"')).toEqual([{ name: 'p', shape: undefined, from: "Python layer 'in'" }]);
  });
  it('keeps a Python layer with bottoms as an ordinary layer', () => {
    expect(fromText('input: "x" layer { name: "py" type: "Python" bottom: "x" top: "y" }').layers.map((l) => l.name)).toEqual(['py']);
  });
});

describe('readCaffe: legacy inputs', () => {
  it('reads input + input_dim (4 per input) and input + input_shape', () => {
    expect(fromText('input: "a" input: "b" input_dim: [1, 2, 3, 4, 5, 6, 7, 8]').inputs).toEqual([
      { name: 'a', shape: [1, 2, 3, 4], from: 'input_dim' },
      { name: 'b', shape: [5, 6, 7, 8], from: 'input_dim' },
    ]);
    expect(fromText('input: "a" input_shape { dim: [2, 7] }').inputs).toEqual([{ name: 'a', shape: [2, 7], from: 'input_shape' }]);
    expect(fromText('input: "a"').inputs).toEqual([{ name: 'a', shape: undefined, from: 'input' }]);
  });
  it('refuses mismatched counts, both forms, dims without names, and twice-declared inputs', () => {
    expect(thrown(() => fromText('input: "a" input_dim: [1, 2, 3]')).message).toBe(
      'net.prototxt: expected 4 input_dim per input (4 for 1 input), got 3; give num, channels, height, width for each, or use input_shape',
    );
    expect(thrown(() => fromText('input: "a" input: "b" input_shape { dim: 1 }')).message).toMatch(/expected one input_shape per input \(2\), got 1/);
    expect(thrown(() => fromText('input: "a" input_shape { dim: 1 } input_dim: [1, 1, 1, 1]')).message).toMatch(/expected input_dim or input_shape, got both/);
    expect(thrown(() => fromText('input_dim: [1, 1, 1, 1]')).message).toMatch(/expected an 'input: "name"' for the input_dim given, got none/);
    expect(thrown(() => fromText('input: "a" input_dim: [1, -1, 1, 1]')).message).toMatch(/expected non-negative input_dim for input 'a', got -1/);
    expect(thrown(() => fromText('input: "data"\nlayer { name: "in" type: "Input" top: "data" }')).message).toBe(
      "net.prototxt:2: expected each graph input declared once, got 'data' from Input layer 'in' and from input; keep one declaration",
    );
  });
});

describe('readCaffe: structural errors', () => {
  it('needs at least one source (E_USAGE)', () => {
    expect(thrown(() => readCaffe({}))).toMatchObject({ code: 'E_USAGE' });
  });
  it('refuses duplicate layer names in the TEST net, unnamed and untyped layers', () => {
    expect(thrown(() => fromText('layer { name: "a" type: "ReLU" }\nlayer { name: "a" type: "TanH" }'))).toMatchObject({
      code: 'E_MODEL',
      message:
        "net.prototxt:2: expected unique layer names in the TEST net, got a second layer 'a' (the first is at net.prototxt:1); rename one (weights are matched by layer name)",
    });
    expect(thrown(() => fromText('layer { type: "ReLU" }')).message).toBe(
      'net.prototxt:1: expected a name for layer 1 (ReLU), got none; add name: "…" (mcu matches weights and names Dropout sites by layer name)',
    );
    expect(thrown(() => fromText('layer { name: "t" }')).message).toBe('net.prototxt:1: expected a type for layer \'t\', got none; add type: "…"');
  });
  it('refuses a net with both layer and layers (as Caffe does)', () => {
    expect(thrown(() => fromText('layer { name: "a" type: "ReLU" } layers { name: "b" type: RELU }'))).toMatchObject({
      code: 'E_MODEL',
      message:
        "net.prototxt: expected layers in one format, got both 'layer' (1, current) and 'layers' (1, V1) entries; Caffe refuses such a net too: keep one (tools/upgrade_net_proto_text converts V1)",
    });
  });
  it('refuses a V1 layer without a type (e.g. a V0 net) as unsupported', () => {
    expect(thrown(() => fromText('layers { layer { name: "old" type: "conv" } }'))).toMatchObject({
      code: 'E_UNSUPPORTED',
      message:
        "net.prototxt: expected a type in V1 layer 1 (unnamed), got none; a V0 net ('layers { layer { … } }') is not supported: convert it with Caffe's tools/upgrade_net_proto_text",
    });
  });
  it('leaves unknown layer types to the translator', () => {
    expect(fromText('input: "x" layer { name: "n" type: "FancyNew" bottom: "x" top: "y" }').layers[0].type).toBe('FancyNew');
  });
  it('refuses a caffemodel with two weight sets under one name', () => {
    const layer = (n: string): number[] => {
      const name = [0x0a, n.length, ...Buffer.from(n)];
      const blob = [0x3a, 0];
      const body = [...name, ...blob];
      return [0xa2, 0x06, body.length, ...body];
    };
    expect(
      thrown(() => readCaffe({ prototxt: 'layer { name: "a" type: "ReLU" }', caffemodel: Uint8Array.from([...layer('a'), ...layer('a')]) })),
    ).toMatchObject({
      code: 'E_MODEL',
      message:
        "caffemodel: expected one set of weights per layer name, got two layers 'a' with blobs; the caffemodel is ambiguous (re-save it from a net with unique layer names)",
    });
  });
});
