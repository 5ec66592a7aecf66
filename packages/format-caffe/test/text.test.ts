import { describe, expect, it } from 'vitest';
import { thrown } from './helpers.js';
import { parseText, textPosition } from '../src/text.js';
import type { Message } from '../src/types.js';

const net = (text: string): ReturnType<typeof parseText> => parseText(text, 'NetParameter', 'net.prototxt');
const layers = (m: Message): Message[] => m.layer as Message[];

describe('parseText: syntax', () => {
  it('reads fields, nested messages in { } and < >, optional colons and separators', () => {
    const { message, warnings } = net(`
      # a comment
      name: "n"   # trailing comment
      layer { name: "a"; type: "ReLU", bottom: "x" top: "y" }
      layer: { name: "b" type: "Pooling" pooling_param < pool: AVE kernel_size: 3 > }
      state: < phase: TRAIN level: 2 stage: "s1" stage: 's2' >
    `);
    expect(warnings).toEqual([]);
    expect(message.name).toBe('n');
    expect(layers(message).map((l) => l.name)).toEqual(['a', 'b']);
    expect(layers(message)[0]).toEqual({ name: 'a', type: 'ReLU', bottom: ['x'], top: ['y'] });
    expect(layers(message)[1].pooling_param).toEqual({ pool: 'AVE', kernel_size: 3 });
    expect(message.state).toEqual({ phase: 'TRAIN', level: 2, stage: ['s1', 's2'] });
  });

  it('reads repeated fields given several times and as [a, b] lists, messages too', () => {
    const { message } = net(`
      input: "a" input: ["b", "c"] input: []
      input_dim: [1, 2] input_dim: 3
      layer [ { name: "x" }, { name: "y" } ]
      layer: [ { name: "z" } ]
    `);
    expect(message.input).toEqual(['a', 'b', 'c']);
    expect(message.input_dim).toEqual([1, 2, 3]);
    expect(layers(message).map((l) => l.name)).toEqual(['x', 'y', 'z']);
  });

  it('decodes string escapes and concatenates adjacent strings', () => {
    const { message } = net(String.raw`name: "a\n\t\\\"" 'b\'' "\101\x42\u00e9\U0001F600" "" 'ü'`);
    expect(message.name).toBe('a\n\t\\"b\'AB\u00e9\u{1F600}ü');
  });

  it('reads numbers: ints, hex, octal, negative, floats, exponents, f suffix, inf and nan', () => {
    const { message } = net(`
      input_dim: 0x1F input_dim: 017 input_dim: -5 input_dim: 0 input_dim: - 3
      layer { loss_weight: [1.5, -2e-3, .25, 3f, 1.f, 1e+2, inf, -Infinity, nan, -NAN, 7] }
    `);
    expect(message.input_dim).toEqual([31, 15, -5, 0, -3]);
    const lw = layers(message)[0].loss_weight as Float32Array;
    expect(lw).toBeInstanceOf(Float32Array);
    expect(Array.from(lw.slice(0, 8))).toEqual([1.5, Math.fround(-2e-3), 0.25, 3, 1, 100, Infinity, -Infinity]);
    expect(Number.isNaN(lw[8]) && Number.isNaN(lw[9])).toBe(true);
    expect(lw[10]).toBe(7);
  });

  it('keeps a singular float as written and makes repeated double a Float64Array', () => {
    const { message } = net('layer { dropout_param { dropout_ratio: 0.3 } blobs { double_data: [0.1, 2] data: 0.1 } }');
    const l = layers(message)[0];
    expect((l.dropout_param as Message).dropout_ratio).toBe(0.3);
    const blob = (l.blobs as Message[])[0];
    expect(blob.double_data).toEqual(new Float64Array([0.1, 2]));
    expect(blob.data).toEqual(new Float32Array([0.1]));
  });

  it('reads bools in every spelling and enums by name or number', () => {
    const { message } = net(`
      force_backward: t debug_info: 1
      layer { propagate_down: [true, false, True, False, t, f, 1, 0] phase: 1 }
      layer { pooling_param { pool: 2 } phase: TRAIN }
    `);
    expect(message.force_backward).toBe(true);
    expect(message.debug_info).toBe(true);
    expect(layers(message)[0].propagate_down).toEqual([true, false, true, false, true, false, true, false]);
    expect(layers(message)[0].phase).toBe('TEST');
    expect((layers(message)[1].pooling_param as Message).pool).toBe('STOCHASTIC');
    expect(layers(message)[1].phase).toBe('TRAIN');
  });

  it('reads int64 as a number, and V1 enum layer types', () => {
    const { message } = net('input_shape { dim: 9007199254740991 dim: -1 } layers { type: SOFTMAX_LOSS name: "l" }');
    expect((message.input_shape as Message[])[0].dim).toEqual([9007199254740991, -1]);
    expect((message.layers as Message[])[0].type).toBe('SOFTMAX_LOSS');
  });

  it('keeps the last value of a singular field given twice, with a warning', () => {
    const { message, warnings } = net('layer {\n  name: "d"\n  dropout_param { dropout_ratio: 0.1\n dropout_ratio: 0.7 }\n}');
    expect((layers(message)[0].dropout_param as Message).dropout_ratio).toBe(0.7);
    expect(warnings).toEqual([
      "net.prototxt:4: field 'dropout_param.dropout_ratio' in layer 'd' is given again (first on line 3); the last value is used (Caffe's own parser refuses this: keep one)",
    ]);
  });

  it('records the line and column of messages', () => {
    const { message } = net('name: "x"\n\nlayer {\n  name: "a"\n}\n  layer { name: "b" convolution_param { } }');
    const [a, b] = layers(message);
    expect(textPosition(a)).toEqual({ line: 3, column: 1 });
    expect(textPosition(b)).toEqual({ line: 6, column: 3 });
    expect(textPosition(b.convolution_param as Message)).toEqual({ line: 6, column: 21 });
    expect(textPosition(message)).toEqual({ line: 1, column: 1 });
    expect(textPosition({})).toBeUndefined();
  });

  it('handles CRLF line ends, a BOM and an empty file', () => {
    expect(textPosition(layers(net('\ufeffname: "x"\r\nlayer {\r\n}\r\n').message)[0])).toEqual({ line: 2, column: 1 });
    expect(net('').message).toEqual({});
    expect(net('# only a comment').message).toEqual({});
  });
});

describe('parseText: unknown fields and fork extensions', () => {
  it('skips an unknown field with one warning naming the file, line, path and layer', () => {
    const { message, warnings } = net(`layer {
  name: "drop1"
  type: "Dropout"
  dropout_param {
    dropout_ratio: 0.5
    sample_weights_test: true
  }
}`);
    expect(layers(message)[0].dropout_param as Message).toEqual({ dropout_ratio: 0.5 });
    expect(warnings).toEqual(["net.prototxt:6: unknown field 'dropout_param.sample_weights_test' in layer 'drop1' (kept as a warning, ignored)"]);
  });

  it('names the layer even when its name comes after the unknown field', () => {
    const { warnings } = net('layer { dropout_param { sample_weights_test: false } name: "late" }');
    expect(warnings).toEqual(["net.prototxt:1: unknown field 'dropout_param.sample_weights_test' in layer 'late' (kept as a warning, ignored)"]);
  });

  it('skips unknown blocks, lists, negative numbers, strings and enum-like values: one warning each', () => {
    const { message, warnings } = net(`
      mystery { a: 1 inner < b: [1, { c: "}" }] > }
      odd: [1, 2, { x: 3 }]
      neg: -4.5
      str: "a" "b"
      word: SOME_ENUM
      colon_block: { y: 1 }
      [some.extension] { z: 1 }
      layer { mvn_param { normalize_variance: false } name: "m" }
      layer { }
      layer { weird: 1 }
      name: "after"
    `);
    expect(message.name).toBe('after');
    expect(warnings.map((w) => w.replace(/ \(kept as a warning, ignored\)$/, ''))).toEqual([
      "net.prototxt:2: unknown field 'mystery' in NetParameter",
      "net.prototxt:3: unknown field 'odd' in NetParameter",
      "net.prototxt:4: unknown field 'neg' in NetParameter",
      "net.prototxt:5: unknown field 'str' in NetParameter",
      "net.prototxt:6: unknown field 'word' in NetParameter",
      "net.prototxt:7: unknown field 'colon_block' in NetParameter",
      "net.prototxt:8: unknown field '[some.extension]' in NetParameter",
      "net.prototxt:9: unknown field 'mvn_param' in layer 'm'",
      "net.prototxt:11: unknown field 'weird' in layer 3 (unnamed)",
    ]);
  });

  it('reads the fork extension scale_train in dropout_param (default true)', () => {
    const { message, warnings } = net('layer { name: "d" dropout_param { dropout_ratio: 0.2 scale_train: false } }');
    expect(warnings).toEqual([]);
    expect(layers(message)[0].dropout_param).toEqual({ dropout_ratio: 0.2, scale_train: false });
  });

  it('does not accept scale_train outside dropout_param', () => {
    const { warnings } = net('layer { name: "c" convolution_param { scale_train: false } }');
    expect(warnings).toEqual(["net.prototxt:1: unknown field 'convolution_param.scale_train' in layer 'c' (kept as a warning, ignored)"]);
  });

  it('names the V1 layer of an unknown field', () => {
    const { warnings } = net('layers { name: "v" type: DROPOUT dropout_param { sample_weights_test: true } }');
    expect(warnings).toEqual(["net.prototxt:1: unknown field 'dropout_param.sample_weights_test' in V1 layer 'v' (kept as a warning, ignored)"]);
  });
});

describe('parseText: errors', () => {
  const cases: [string, string, string][] = [
    ['layer { name: "a"', "net.prototxt:1:18: expected '}' to close 'layer', got the end of the file", 'unclosed block'],
    ['layer }', "net.prototxt:1:7: expected '{' to open 'layer' (a LayerParameter message), got '}'", 'missing brace'],
    ['name "x"', "net.prototxt:1:6: expected ':' after 'name' (a string field), got \"x\"", 'missing colon'],
    ['}', "net.prototxt:1:1: expected a field name, got '}'", 'stray close'],
    [
      'name: "abc',
      'net.prototxt:1:7: expected the closing " of this string, got the end of the file; strings cannot span lines (write "…" "…" to concatenate)',
      'open string',
    ],
    ['name: "a\\qb"', "net.prototxt:1:9: expected an escape (\\n \\t \\r \\\\ \\' \\\" \\ooo \\xHH \\uXXXX), got '\\q'", 'bad escape'],
    ['input_dim: 12abc', "net.prototxt:1:12: expected a number, got '12a…': remove the stray character or quote the value", 'junk after number'],
    ['input_dim: [1, 2', "net.prototxt:1:17: expected ',' or ']' in the list, got the end of the file", 'open list'],
    ['name: ["a"]', "net.prototxt:1:7: expected a single value for 'name' (not repeated) in NetParameter, got a list '['; give one value", 'list for singular'],
    ['mystery { a: 1 ', "net.prototxt:1:16: expected '}' to close the block, got the end of the file", 'unknown open block'],
    ['mystery { a: [1 } ]', "net.prototxt:1:17: expected ']' to close the block, got '}'", 'unknown mismatched'],
    ['@', "net.prototxt:1:1: expected a field name, value or one of { } < > [ ] : , ;  got '@'", 'bad char'],
  ];
  for (const [text, message, title] of cases) {
    it(`syntax: ${title}`, () => {
      expect(thrown(() => net(text))).toMatchObject({ code: 'E_MODEL', message });
    });
  }

  it('type errors name line:column, the field, its layer and the fix', () => {
    const src = 'layer {\n  name: "conv1"\n  convolution_param {\n    num_output: 1.5\n  }\n}';
    expect(thrown(() => net(src))).toMatchObject({
      code: 'E_MODEL',
      message:
        "net.prototxt:4:17: expected an integer for 'convolution_param.num_output' (uint32) in layer 'conv1', got '1.5'; write a whole number (decimal, 0x hex or 0 octal)",
    });
    expect(thrown(() => net('name: 5')).message).toBe(
      "net.prototxt:1:7: expected a quoted string for 'name' (string) in NetParameter, got '5'; quote it: \"…\"",
    );
    expect(thrown(() => net('input_dim: "3"')).message).toMatch(/^net\.prototxt:1:12: expected an integer for 'input_dim' \(int32\) in NetParameter, got "3"/);
    expect(thrown(() => net('layer { name: "p" pooling_param { pool: MAXIMUM } }')).message).toBe(
      "net.prototxt:1:41: expected a value of enum PoolingParameter.PoolMethod for 'pooling_param.pool' (MAX, AVE, STOCHASTIC) in layer 'p', got 'MAXIMUM'; use one of those names",
    );
    expect(thrown(() => net('layer { phase: 7 }')).message).toMatch(/^net\.prototxt:1:16: expected a value of enum Phase .* got the number 7, which none has/);
    expect(thrown(() => net('layer { phase: "TEST" }')).message).toMatch(/^net\.prototxt:1:16: expected a value of enum Phase \(TRAIN, TEST\) for 'phase'/);
    expect(thrown(() => net('force_backward: yes')).message).toBe(
      "net.prototxt:1:17: expected true or false for 'force_backward' (bool) in NetParameter, got 'yes'; write true or false",
    );
    expect(thrown(() => net('layer { dropout_param { dropout_ratio: high } }')).message).toMatch(
      /^net\.prototxt:1:40: expected a number for 'dropout_param\.dropout_ratio' \(float\)/,
    );
    expect(thrown(() => net('layer { convolution_param { num_output: -1 } }')).message).toBe(
      "net.prototxt:1:41: expected an integer in [0, 4294967295] for 'convolution_param.num_output' (uint32) in layer 1 (unnamed), got -1; give a value in range",
    );
    expect(thrown(() => net('input_dim: 2147483648')).message).toMatch(/expected an integer in \[-2147483648, 2147483647\]/);
    expect(thrown(() => net('input_shape { dim: 9007199254740992 }')).message).toMatch(/^net\.prototxt:1:20: expected a safe integer/);
    expect(thrown(() => net('input_dim: 1e3')).code).toBe('E_MODEL');
  });

  it('skips deeply nested unknown blocks without recursion', () => {
    const deep = `${'mystery { '.repeat(5000)}${'} '.repeat(5000)}name: "ok"`;
    const { message, warnings } = net(deep);
    expect(message.name).toBe('ok');
    expect(warnings).toHaveLength(1);
  });

  it('never throws anything but E_MODEL on garbage', () => {
    const samples = ['{', '<', '[', ':', 'a:', 'a: [', 'layer {{', 'layer { name: }', '"x"', '-', 'input_dim: -', "'\\x'", '"\\u12"'];
    for (const s of samples) expect(thrown(() => net(s)).code, s).toBe('E_MODEL');
  });
});
