import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CAFFE_SCHEMA, TEXT_EXTENSIONS, field, fieldsByNumber } from '../src/schema.js';

/**
 * An independent reading of schema/caffe.proto (a line parser for the subset of proto2 it uses),
 * so that schema.ts and the .proto file cannot drift apart.
 */
function parseProto(text: string): { messages: Record<string, Record<string, unknown>>; enums: Record<string, Record<string, number>> } {
  const scalars = new Set(['int32', 'int64', 'uint32', 'uint64', 'float', 'double', 'bool', 'string', 'bytes']);
  const raw: { message: string; label: string; type: string; name: string; no: number; options: string }[] = [];
  const messageNames = new Set<string>();
  const enums: Record<string, Record<string, number>> = {};
  const stack: { kind: string; name: string }[] = [];
  const qualified = (name: string): string => [...stack.map((s) => s.name), name].join('.');
  text.split('\n').forEach((line, i) => {
    const l = line.replace(/\/\/.*$/, '').trim();
    if (l === '' || /^(syntax|package) /.test(l)) return;
    let m = /^(message|enum) (\w+) \{$/.exec(l);
    if (m) {
      const q = qualified(m[2]);
      if (m[1] === 'message') messageNames.add(q);
      else enums[q] = {};
      stack.push({ kind: m[1], name: m[2] });
      return;
    }
    if (l === '}') {
      stack.pop();
      return;
    }
    const top = stack[stack.length - 1];
    if (top?.kind === 'enum') {
      m = /^(\w+) = (-?\d+);$/.exec(l);
      if (!m) throw new Error(`caffe.proto:${i + 1}: not an enum value: ${l}`);
      enums[stack.map((s) => s.name).join('.')][m[1]] = Number(m[2]);
      return;
    }
    m = /^(optional|repeated|required) (\w+) (\w+) = (\d+)(?: \[(.*)\])?;$/.exec(l);
    if (!m || top === undefined) throw new Error(`caffe.proto:${i + 1}: not a field: ${l}`);
    raw.push({ message: stack.map((s) => s.name).join('.'), label: m[1], type: m[2], name: m[3], no: Number(m[4]), options: m[5] ?? '' });
  });
  const resolve = (type: string, scope: string): { kind: 'enum' | 'message'; name: string } => {
    const parts = scope.split('.');
    for (let k = parts.length; k >= 0; k--) {
      const q = [...parts.slice(0, k), type].join('.');
      if (enums[q] !== undefined) return { kind: 'enum', name: q };
      if (messageNames.has(q)) return { kind: 'message', name: q };
    }
    throw new Error(`caffe.proto: unknown type ${type} in ${scope}`);
  };
  const messages: Record<string, Record<string, unknown>> = {};
  for (const name of messageNames) messages[name] = {};
  for (const f of raw) {
    const spec: Record<string, unknown> = { no: f.no, label: f.label };
    let enumName: string | undefined;
    if (scalars.has(f.type)) spec.type = f.type;
    else {
      const r = resolve(f.type, f.message);
      spec.type = r.kind;
      if (r.kind === 'enum') enumName = r.name;
      spec[r.kind === 'enum' ? 'enumName' : 'messageName'] = r.name;
    }
    for (const opt of f.options.split(',').filter((o) => o.trim() !== '')) {
      const [k, v] = opt.split('=').map((s) => s.trim());
      if (k === 'packed') spec.packed = v === 'true';
      else if (k === 'default') {
        if (enumName !== undefined) {
          expect(Object.keys(enums[enumName]), `default of ${f.message}.${f.name}`).toContain(v);
          spec.default = v;
        } else if (f.type === 'bool') spec.default = v === 'true';
        else if (f.type === 'string') spec.default = v.replace(/^["']|["']$/g, '');
        else spec.default = Number(v);
      } else throw new Error(`caffe.proto: unexpected option ${k}`);
    }
    messages[f.message][f.name] = spec;
  }
  return { messages, enums };
}

const proto = readFileSync(new URL('../schema/caffe.proto', import.meta.url), 'utf8');

describe('schema.ts matches schema/caffe.proto', () => {
  const parsed = parseProto(proto);

  it('has exactly the same messages, fields, numbers, types, labels, packing and defaults', () => {
    expect(Object.keys(CAFFE_SCHEMA.messages).sort()).toEqual(Object.keys(parsed.messages).sort());
    for (const [name, fields] of Object.entries(parsed.messages)) {
      expect({ [name]: CAFFE_SCHEMA.messages[name] }).toEqual({ [name]: fields });
    }
  });

  it('has exactly the same enums and values', () => {
    expect(CAFFE_SCHEMA.enums).toEqual(parsed.enums);
  });

  it('has no required fields and no duplicate field numbers', () => {
    expect(proto).not.toMatch(/^\s*required /m);
    for (const [name, fields] of Object.entries(CAFFE_SCHEMA.messages)) {
      const numbers = Object.values(fields).map((f) => f.no);
      expect(new Set(numbers).size, name).toBe(numbers.length);
      expect(fieldsByNumber(name).size).toBe(numbers.length);
    }
  });

  it('follows BVLC for the facts mcu relies on', () => {
    const m = CAFFE_SCHEMA.messages;
    expect(m.NetParameter.layer).toMatchObject({ no: 100, label: 'repeated', messageName: 'LayerParameter' });
    expect(m.NetParameter.layers).toMatchObject({ no: 2, messageName: 'V1LayerParameter' });
    expect(m.BlobProto.data).toEqual({ no: 5, type: 'float', label: 'repeated', packed: true });
    expect(m.BlobProto.double_data).toEqual({ no: 8, type: 'double', label: 'repeated', packed: true });
    expect(m.BlobShape.dim).toEqual({ no: 1, type: 'int64', label: 'repeated', packed: true });
    expect(Object.keys(m.DropoutParameter)).toEqual(['dropout_ratio']);
    expect(m.DropoutParameter.dropout_ratio).toEqual({ no: 1, type: 'float', label: 'optional', default: 0.5 });
    expect(m.LayerParameter.dropout_param.no).toBe(108);
    expect(m.V1LayerParameter.dropout_param.no).toBe(12);
    expect(m.SolverParameter.weight_decay).toEqual({ no: 12, type: 'float', label: 'optional' });
    expect(m.SolverParameter.regularization_type.default).toBe('L2');
    expect(CAFFE_SCHEMA.enums['V1LayerParameter.LayerType'].SOFTMAX_LOSS).toBe(21);
    expect(CAFFE_SCHEMA.enums.Phase).toEqual({ TRAIN: 0, TEST: 1 });
  });

  it('declares the layer parameters of every layer kind the reader covers', () => {
    const params = [
      'convolution_param',
      'inner_product_param',
      'pooling_param',
      'relu_param',
      'tanh_param',
      'sigmoid_param',
      'prelu_param',
      'elu_param',
      'power_param',
      'exp_param',
      'log_param',
      'softmax_param',
      'lrn_param',
      'concat_param',
      'slice_param',
      'eltwise_param',
      'flatten_param',
      'reshape_param',
      'batch_norm_param',
      'scale_param',
      'bias_param',
      'dropout_param',
      'input_param',
      'data_param',
      'hdf5_data_param',
      'hdf5_output_param',
      'image_data_param',
      'memory_data_param',
      'dummy_data_param',
      'transform_param',
      'loss_param',
      'accuracy_param',
      'threshold_param',
    ];
    for (const p of params) expect(CAFFE_SCHEMA.messages.LayerParameter[p], p).toBeDefined();
  });

  it('keeps the fork fields out of the proto', () => {
    expect(proto).not.toMatch(/sample_weights_test\s*=|scale_train\s*=/);
    expect(TEXT_EXTENSIONS.DropoutParameter.scale_train).toEqual({ type: 'bool', label: 'optional', default: true });
  });
});

describe('field()', () => {
  it('returns the value when present', () => {
    expect(field({ dropout_ratio: 0.3 }, 'DropoutParameter', 'dropout_ratio')).toBe(0.3);
  });
  it('returns declared defaults, proto2 implicit defaults, empty repeated fields', () => {
    expect(field({}, 'DropoutParameter', 'dropout_ratio')).toBe(0.5);
    expect(field(undefined, 'ConvolutionParameter', 'bias_term')).toBe(true);
    expect(field({}, 'PoolingParameter', 'pool')).toBe('MAX');
    expect(field({}, 'NetStateRule', 'phase')).toBe('TRAIN');
    expect(field({}, 'ConvolutionParameter', 'num_output')).toBe(0);
    expect(field({}, 'LayerParameter', 'name')).toBe('');
    expect(field({}, 'ConvolutionParameter', 'kernel_size')).toEqual([]);
    expect(field({}, 'BlobProto', 'data')).toBeInstanceOf(Float32Array);
    expect(field({}, 'BlobProto', 'double_data')).toBeInstanceOf(Float64Array);
    expect(field({}, 'LayerParameter', 'convolution_param')).toBeUndefined();
    expect(field({}, 'SolverParameter', 'random_seed')).toBe(-1);
    expect(field({}, 'SolverParameter', 'delta')).toBe(1e-8);
    expect(field({}, 'DropoutParameter', 'scale_train')).toBe(true);
  });
  it('throws E_INTERNAL for a field the schema lacks', () => {
    expect(() => field({}, 'DropoutParameter', 'sample_weights_test')).toThrow(expect.objectContaining({ code: 'E_INTERNAL' }));
    expect(() => field({}, 'NoSuchMessage', 'x')).toThrow(expect.objectContaining({ code: 'E_INTERNAL' }));
  });
});
