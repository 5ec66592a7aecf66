// ONNX protobuf I/O: decode → encode → decode is lossless (every fixture, every message
// type, int64 extremes), and onnxruntime computes the same on re-encoded models.
import { describe, expect, test } from 'vitest';
import * as ort from 'onnxruntime-node';
import { fixtureBytes, fixtureFiles } from '../../../test/helpers/fixtures.js';
import { decodeModel, decodeTensor, encodeModel, encodeTensor } from '../src/proto/codec.js';
import type { ModelProto } from '../src/proto/types.js';
import { expectMcuError } from '../../../test/helpers/check.js';
import { protoDiff } from '../../../test/helpers/proto-diff.js';

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
const UINT64_MAX = 18446744073709551615n;

describe('every fixture model round-trips', () => {
  const models = fixtureFiles().filter((f) => f.endsWith('.onnx'));
  const irSeen = new Set<number>();
  test.each(models)('%s', (rel) => {
    const bytes = fixtureBytes(rel);
    const m1 = decodeModel(bytes, rel);
    irSeen.add(Number(m1.ir_version));
    const b1 = encodeModel(m1);
    const m2 = decodeModel(b1, rel);
    expect(protoDiff(m2, m1)).toBeUndefined();
    // Encoding is deterministic and the re-encoded model is a fixed point.
    expect(Buffer.from(encodeModel(m2)).equals(Buffer.from(b1))).toBe(true);
    // Our encoding is no bigger than the exporter's (packed repeated fields at most shrink it).
    expect(b1.byteLength).toBeLessThanOrEqual(bytes.byteLength);
  });
  test('the fixtures span IR versions 3, 5, 6, 7 and 10', () => {
    for (const ir of [3, 5, 6, 7, 10]) expect(irSeen.has(ir)).toBe(true);
  });
});

describe('onnxruntime gives identical outputs for original and re-encoded models', () => {
  const cases: { rel: string; feeds: () => Record<string, ort.Tensor> }[] = [
    { rel: 'pytorch-1.13/co2_relu.eval.onnx', feeds: () => ({ x: new ort.Tensor('float32', Float32Array.of(-1.5, 0, 0.25, 2), [4, 1]) }) },
    {
      rel: 'pytorch-2.11/lenet.eval.onnx',
      feeds: () => ({
        image: new ort.Tensor(
          'float32',
          Float32Array.from({ length: 2 * 784 }, (_, i) => (i % 29) / 29),
          [2, 1, 28, 28],
        ),
      }),
    },
    { rel: 'pytorch-1.13/co2_relu.opset7.onnx', feeds: () => ({ x: new ort.Tensor('float32', Float32Array.of(-1.5, 0, 0.25, 2), [4, 1]) }) },
    {
      rel: 'uci/yacht/split00.onnx',
      feeds: () => ({
        x: new ort.Tensor(
          'float32',
          Float32Array.from({ length: 3 * 6 }, (_, i) => i / 3),
          [3, 6],
        ),
      }),
    },
  ];
  test.each(cases.map((c) => [c.rel, c] as const))('%s', async (rel, c) => {
    const original = fixtureBytes(rel);
    const reencoded = encodeModel(decodeModel(original, rel));
    const outs: Float32Array[] = [];
    for (const bytes of [original, reencoded]) {
      const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
      const r = await s.run(c.feeds());
      outs.push(r[s.outputNames[0]!]!.data as Float32Array);
      await s.release();
    }
    expect(Array.from(outs[1]!)).toEqual(Array.from(outs[0]!));
  });
});

/** A model that uses every message type and every field kind of onnx.proto. */
function kitchenSink(): ModelProto {
  const kv = (key: string, value: string) => ({ key, value });
  const tensorType = { tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: 'N', denotation: 'DATA_BATCH' }, { dim_value: 3n }] } } };
  return {
    ir_version: 10n,
    opset_import: [
      { domain: '', version: 21n },
      { domain: 'local', version: 1n },
    ],
    producer_name: 'mcu-test',
    producer_version: '1',
    domain: 'ai.mcu',
    model_version: INT64_MAX,
    doc_string: 'every field',
    metadata_props: [kv('a', 'b')],
    graph: {
      name: 'g',
      doc_string: 'graph doc',
      node: [
        {
          input: ['x', ''],
          output: ['y'],
          name: 'n0',
          op_type: 'Custom',
          domain: 'local',
          overload: 'o1',
          doc_string: 'node doc',
          metadata_props: [kv('k', 'v')],
          attribute: [
            { name: 'f', type: 1, f: 0.5 },
            { name: 'i', type: 2, i: INT64_MIN },
            { name: 's', type: 3, s: new TextEncoder().encode('héllo') },
            { name: 'floats', type: 6, floats: [1.5, -2.25] },
            { name: 'ints', type: 7, ints: [INT64_MAX, INT64_MIN, -1n, 0n] },
            { name: 'strings', type: 8, strings: [new Uint8Array([0, 255]), new Uint8Array()] },
            { name: 'ref', type: 2, ref_attr_name: 'outer', doc_string: 'attr doc' },
            { name: 'tp', type: 13, tp: { sequence_type: { elem_type: tensorType } } },
            { name: 'tps', type: 14, type_protos: [{ map_type: { key_type: 7, value_type: tensorType } }, { optional_type: { elem_type: tensorType } }] },
            { name: 'g', type: 5, g: { name: 'sub', node: [{ op_type: 'Identity', input: ['x'], output: ['z'] }], output: [{ name: 'z' }] } },
            { name: 'gs', type: 10, graphs: [{ name: 'sub2' }] },
            {
              name: 'st',
              type: 11,
              sparse_tensor: {
                values: { dims: [2n], data_type: 1, float_data: [1, 2] },
                indices: { dims: [2n], data_type: 7, int64_data: [0n, 5n] },
                dims: [10n],
              },
            },
            { name: 'sts', type: 12, sparse_tensors: [{ dims: [1n] }] },
            { name: 'ts', type: 9, tensors: [{ data_type: 11, dims: [2n], double_data: [1e300, -0.5] }] },
          ],
          device_configurations: [{ configuration_id: 'c', pipeline_stage: 1 }],
        },
      ],
      initializer: [
        { name: 'w', data_type: 7, dims: [3n], int64_data: [INT64_MAX, INT64_MIN, 7n] },
        { name: 'u', data_type: 13, dims: [2n], uint64_data: [UINT64_MAX, 1n] },
        { name: 'i32', data_type: 6, dims: [2n], int32_data: [-2147483648, 2147483647] },
        { name: 'str', data_type: 8, dims: [1n], string_data: [new TextEncoder().encode('abc')] },
        { name: 'seg', data_type: 1, dims: [1n], segment: { begin: 0n, end: 1n }, float_data: [3] },
        {
          name: 'ext',
          data_type: 1,
          dims: [4n],
          data_location: 1,
          external_data: [kv('location', 'w.bin'), kv('offset', '0'), kv('length', '16')],
          metadata_props: [kv('m', 'n')],
        },
        { name: 'raw', data_type: 1, dims: [2n], raw_data: new Uint8Array(8), doc_string: 'raw doc' },
      ],
      sparse_initializer: [
        { values: { name: 'sp', dims: [1n], data_type: 1, float_data: [1] }, indices: { dims: [1n], data_type: 7, int64_data: [3n] }, dims: [9n] },
      ],
      input: [{ name: 'x', type: tensorType, doc_string: 'in', metadata_props: [kv('q', 'r')] }],
      output: [{ name: 'y', type: { sparse_tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 9n }] } }, denotation: 'TENSOR' } }],
      value_info: [{ name: 'v', type: { opaque_type: { domain: 'd', name: 'n' } } }],
      quantization_annotation: [{ tensor_name: 'x', quant_parameter_tensor_names: [kv('SCALE_TENSOR', 's')] }],
      metadata_props: [kv('gk', 'gv')],
    },
    training_info: [
      {
        initialization: { name: 'init' },
        algorithm: { name: 'algo' },
        initialization_binding: [kv('a', 'b')],
        update_binding: [kv('c', 'd')],
      },
    ],
    functions: [
      {
        name: 'Custom',
        domain: 'local',
        overload: 'o1',
        input: ['a'],
        output: ['b'],
        attribute: ['alpha'],
        attribute_proto: [{ name: 'beta', type: 1, f: 2 }],
        node: [{ op_type: 'Identity', input: ['a'], output: ['b'] }],
        doc_string: 'fn',
        opset_import: [{ domain: '', version: 21n }],
        value_info: [{ name: 'a', type: tensorType }],
        metadata_props: [kv('fk', 'fv')],
      },
    ],
    configuration: [{ name: 'mesh', num_devices: 2, device: ['gpu0', 'gpu1'] }],
  };
}

describe('every message type and int64 extreme survives', () => {
  test('kitchen-sink model: decode(encode(m)) deep-equals m', () => {
    const m = kitchenSink();
    const back = decodeModel(encodeModel(m));
    expect(back).toEqual(m);
    expect(protoDiff(back, m)).toBeUndefined();
    expect(back.graph!.initializer![0]!.int64_data).toEqual([INT64_MAX, INT64_MIN, 7n]);
    expect(back.graph!.initializer![1]!.uint64_data).toEqual([UINT64_MAX, 1n]);
    expect(typeof back.model_version).toBe('bigint');
  });

  test('numbers are accepted for int64 fields on encode; bigint comes back', () => {
    const m: ModelProto = { ir_version: 7 as unknown as bigint, graph: { name: 'g', initializer: [{ dims: [3 as unknown as bigint] }] } };
    const back = decodeModel(encodeModel(m));
    expect(back.ir_version).toBe(7n);
    expect(back.graph!.initializer![0]!.dims).toEqual([3n]);
  });

  test('an unsafe number for an int64 field is refused', () => {
    expectMcuError(() => encodeModel({ ir_version: (2 ** 60) as unknown as bigint }), 'E_MODEL', /ir_version/);
  });

  test('Slice with ends = INT64_MAX runs the same after a round trip', async () => {
    const raw = new Uint8Array(8);
    new DataView(raw.buffer).setBigInt64(0, INT64_MAX, true);
    const m: ModelProto = {
      ir_version: 8n,
      opset_import: [{ domain: '', version: 13n }],
      graph: {
        name: 'slice',
        node: [{ op_type: 'Slice', input: ['x', 'starts', 'ends'], output: ['y'] }],
        initializer: [
          { name: 'starts', data_type: 7, dims: [1n], int64_data: [1n] },
          { name: 'ends', data_type: 7, dims: [1n], raw_data: raw },
        ],
        input: [{ name: 'x', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 4n }] } } } }],
        output: [{ name: 'y', type: { tensor_type: { elem_type: 1 } } }],
      },
    };
    const back = decodeModel(encodeModel(m));
    expect(new DataView(back.graph!.initializer![1]!.raw_data!.buffer, back.graph!.initializer![1]!.raw_data!.byteOffset).getBigInt64(0, true)).toBe(INT64_MAX);
    const s = await ort.InferenceSession.create(encodeModel(back));
    const r = await s.run({ x: new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4), [4]) });
    expect(Array.from(r.y!.data as Float32Array)).toEqual([2, 3, 4]);
    await s.release();
  });

  test('TensorProto files (ONNX test data) round-trip', () => {
    const t = { name: 'x', data_type: 7, dims: [2n], int64_data: [INT64_MIN, INT64_MAX] };
    expect(decodeTensor(encodeTensor(t))).toEqual(t);
  });
});

describe('malformed input → McuError E_MODEL, never a raw protobufjs error', () => {
  test('random bytes', () => {
    expectMcuError(() => decodeModel(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 'junk.onnx'), 'E_MODEL', /junk\.onnx/);
  });
  test('empty input has no graph', () => {
    expectMcuError(() => decodeModel(new Uint8Array(), 'empty.onnx'), 'E_MODEL', /empty\.onnx.*no graph/);
  });
  test('a length prefix beyond the buffer', () => {
    // field 7 (graph), wire type 2, declared length 2^31 with 3 bytes present.
    expectMcuError(() => decodeModel(Uint8Array.from([0x3a, 0x80, 0x80, 0x80, 0x80, 0x08, 1, 2, 3]), 'big.onnx'), 'E_MODEL', /big\.onnx/);
  });
  test('a truncated real model', () => {
    const bytes = fixtureBytes('pytorch-1.13-small/co2_relu.train.onnx');
    expectMcuError(() => decodeModel(bytes.subarray(0, bytes.length - 100), 'cut.onnx'), 'E_MODEL', /cut\.onnx/);
  });
  test('messages nested beyond the limit', () => {
    // GraphProto → NodeProto → AttributeProto → GraphProto … 60 levels deep.
    let inner = new Uint8Array();
    const wrap = (tag: number, body: Uint8Array) => {
      const len: number[] = [];
      let n = body.length;
      do {
        len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
        n >>>= 7;
      } while (n > 0);
      return Uint8Array.from([tag, ...len, ...body]);
    };
    for (let i = 0; i < 60; i++) inner = wrap(0x0a /* node */, wrap(0x2a /* attribute */, wrap(0x32 /* g */, inner)));
    expectMcuError(() => decodeModel(wrap(0x3a, inner), 'deep.onnx'), 'E_MODEL', /deep\.onnx/);
  });
  test('not bytes at all', () => {
    expectMcuError(() => decodeModel('model.onnx' as unknown as Uint8Array), 'E_MODEL', /Uint8Array/);
  });
});
