import { describe, expect, it } from 'vitest';
import { McuError } from '@mcu/core';
import { formatNumber, formatResult, stringifyJson } from '../src/io/format.js';
import { readNpy } from '../src/io/npy.js';
import type { PredictResult } from '../src/io/result.js';

const meta = {
  backend: 'onnx',
  executionProvider: 'cpu',
  seed: 0,
  samples: 100,
  sites: [{ name: 'mask_0', kind: 'bernoulli' as const, rate: 0.1 }],
  tau: 2,
};

const regression: PredictResult = {
  meta,
  outputs: {
    y: {
      task: 'regression',
      mean: [
        [1.23456, 10],
        [2, 20],
      ],
      variance: [
        [0.25, 4],
        [1, 9],
      ],
      std: [
        [0.5, 2],
        [1, 3],
      ],
    },
  },
};

const classification: PredictResult = {
  meta: { ...meta, tau: null },
  outputs: {
    logits: {
      task: 'classification',
      probs: [
        [0.7, 0.2, 0.1],
        [0.1, 0.1, 0.8],
      ],
      predicted: [0, 2],
      entropy: [0.8018, 0.639],
      mutualInformation: [0.01, 0.002],
      variationRatio: [0.05, 0],
    },
  },
};

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(McuError);
    return `${(e as McuError).code}: ${(e as McuError).message}`;
  }
  throw new Error('did not throw');
}

describe('formatResult json', () => {
  it('is the contract, pretty with 2 spaces, numbers as is', () => {
    const text = formatResult(regression, 'json');
    expect(JSON.parse(text)).toEqual(regression);
    expect(text).toContain('\n  "meta": {\n    "backend": "onnx",');
    expect(text).toContain('[1.23456, 10]');
    expect(text.endsWith('}\n')).toBe(true);
    expect(JSON.parse(formatResult(classification, 'json'))).toEqual(classification);
  });

  it('stringifyJson handles empties and nesting', () => {
    expect(stringifyJson({ a: [], b: {}, c: [[1], [2]], d: undefined })).toBe('{\n  "a": [],\n  "b": {},\n  "c": [\n    [1],\n    [2]\n  ]\n}');
  });
});

describe('formatResult csv', () => {
  it('regression: row, <out>_mean_j.., <out>_std_j..', () => {
    expect(formatResult(regression, 'csv')).toBe('row,y_mean_0,y_mean_1,y_std_0,y_std_1\n0,1.23456,10,0.5,2\n1,2,20,1,3\n');
  });

  it('classification: predicted, entropy, mutual_information, variation_ratio, prob_k', () => {
    const lines = formatResult(classification, 'csv').trimEnd().split('\n');
    expect(lines[0]).toBe('row,logits_predicted,logits_entropy,logits_mutual_information,logits_variation_ratio,logits_prob_0,logits_prob_1,logits_prob_2');
    expect(lines[1]).toBe('0,0,0.8018,0.01,0.05,0.7,0.2,0.1');
    expect(lines).toHaveLength(3);
  });

  it('several outputs side by side; odd names quoted; different row counts refused', () => {
    const both: PredictResult = { meta, outputs: { 'a,b': regression.outputs['y']!, c: classification.outputs['logits']! } };
    const header = formatResult(both, 'csv').split('\n')[0]!;
    expect(header.startsWith('row,"a,b_mean_0",')).toBe(true);
    expect(header).toContain(',c_predicted,');
    const uneven: PredictResult = {
      meta,
      outputs: { y: regression.outputs['y']!, z: { task: 'regression', mean: [[1]], variance: [[1]], std: [[1]] } },
    };
    expect(code(() => formatResult(uneven, 'csv'))).toMatch(/^E_USAGE: --format csv prints one line per input row, .* \(y: 2, z: 1\); use --format json/);
  });
});

describe('formatResult table', () => {
  it('aligned columns, 4 significant digits', () => {
    const t = formatResult(regression, 'table');
    const lines = t.trimEnd().split('\n');
    expect(lines[0]).toBe('onnx (cpu), 100 samples, seed 0, 1 site (p = 0.1), τ = 2.000');
    expect(lines[2]).toBe("output 'y': regression, 2 rows");
    expect(lines[3]).toBe('row  mean_0   std_0  mean_1  std_1');
    expect(lines[4]).toBe('  0   1.235  0.5000   10.00  2.000');
    expect(lines[5]).toBe('  1   2.000   1.000   20.00  3.000');
    const widths = new Set(lines.slice(3).map((l) => l.length));
    expect(widths.size).toBe(1);
  });

  it('classification columns', () => {
    const t = formatResult(classification, 'table');
    expect(t).toContain('row  predicted  entropy  mutual_information  variation_ratio  prob_0  prob_1  prob_2');
    expect(t).toMatch(/\n {2}1 {10}2 {3}0\.6390/);
  });

  it('one-dimensional regression drops the _0 suffix', () => {
    const one: PredictResult = { meta, outputs: { y: { task: 'regression', mean: [[3]], variance: [[4]], std: [[2]] } } };
    expect(formatResult(one, 'table')).toContain('row   mean    std');
  });

  it('limits width and rows, saying what was left out', () => {
    const wide: PredictResult = {
      meta,
      outputs: {
        p: {
          task: 'classification',
          probs: Array.from({ length: 5 }, () => Array.from({ length: 30 }, () => 1 / 30)),
          predicted: [0, 0, 0, 0, 0],
          entropy: [3, 3, 3, 3, 3],
          mutualInformation: [0, 0, 0, 0, 0],
          variationRatio: [0, 0, 0, 0, 0],
        },
      },
    };
    const t = formatResult(wide, 'table', { maxWidth: 80, maxRows: 3 });
    const lines = t.trimEnd().split('\n');
    for (const l of lines.slice(3, 7)) expect(l.length).toBeLessThanOrEqual(80);
    expect(lines.at(-1)).toMatch(/^… 2 more rows and \d+ more columns not shown; use --format csv or json for everything$/);
  });

  it('formatNumber', () => {
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(1 / 3)).toBe('0.3333');
    expect(formatNumber(123456)).toBe('1.235e+5');
    expect(formatNumber(-1 / 7000)).toBe('-0.0001429');
    expect(formatNumber(NaN)).toBe('NaN');
  });
});

describe('formatResult npy', () => {
  it('regression: [2, N, D] = mean, std', () => {
    const a = readNpy(formatResult(regression, 'npy'));
    expect(a.dtype).toBe('float64');
    expect(a.dims).toEqual([2, 2, 2]);
    expect(Array.from(a.data as Float64Array)).toEqual([1.23456, 10, 2, 20, 0.5, 2, 1, 3]);
  });

  it('classification: probs [N, K]; field picks another array', () => {
    const a = readNpy(formatResult(classification, 'npy'));
    expect(a.dims).toEqual([2, 3]);
    const e = readNpy(formatResult(classification, 'npy', { field: 'entropy' }));
    expect(e.dims).toEqual([2]);
    const p = readNpy(formatResult(classification, 'npy', { field: 'predicted' }));
    expect(p.dtype).toBe('int32');
    expect(Array.from(p.data as Int32Array)).toEqual([0, 2]);
    const v = readNpy(formatResult(regression, 'npy', { field: 'variance' }));
    expect(Array.from(v.data as Float64Array)).toEqual([0.25, 4, 1, 9]);
    expect(code(() => formatResult(regression, 'npy', { field: 'probs' }))).toMatch(/E_USAGE: output 'y' is regression: it has no 'probs'/);
  });

  it('more than one output: E_USAGE telling to use json', () => {
    const two: PredictResult = { meta, outputs: { y: regression.outputs['y']!, p: classification.outputs['logits']! } };
    expect(code(() => formatResult(two, 'npy'))).toBe('E_USAGE: --format npy writes one array, but the result has 2 outputs (y, p); use --format json');
  });
});
