import { describe, expect, it } from 'vitest';
import { isMcuError } from '@mcu/core';
import { classSequenceSpec, compileSpec, renderSvg, softmaxRows, topClasses, type ClassSequenceData } from '../src/index.js';
import { markItems } from './svg.js';

// T passes over N inputs of C classes, with class 2 taking over from class 0 along the sequence.
const T = 7;
const N = 5;
const C = 4;
const logits = new Float32Array(T * N * C);
for (let t = 0; t < T; t++) {
  for (let i = 0; i < N; i++) {
    const o = (t * N + i) * C;
    logits[o] = 4 - 2 * i + 0.1 * t;
    logits[o + 1] = -1;
    logits[o + 2] = -4 + 2 * i - 0.1 * t;
    logits[o + 3] = 0.5 * Math.sin(t + i);
  }
}
const probs = softmaxRows(logits, C);
const meanProbs = Array.from({ length: N }, (_, i) =>
  Array.from({ length: C }, (_, c) => {
    let s = 0;
    for (let t = 0; t < T; t++) s += probs[(t * N + i) * C + c]!;
    return s / T;
  }),
);
const summary = {
  T,
  N,
  C,
  meanProbs,
  predicted: meanProbs.map((r) => r.indexOf(Math.max(...r))),
  entropy: meanProbs.map((r) => -r.reduce((s, p) => s + (p > 0 ? p * Math.log(p) : 0), 0)),
  mutualInformation: meanProbs.map(() => 0.1),
  variationRatio: meanProbs.map(() => 0.2),
};
const datasets = (spec: unknown) => (spec as { datasets: Record<string, { x: number; v: number; class?: string; measure?: string }[]> }).datasets;

function inputError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(isMcuError(e), String(e)).toBe(true);
    expect((e as { code: string }).code).toBe('E_INPUT');
    return (e as Error).message;
  }
  throw new Error('expected an McuError');
}

describe('classSequenceSpec', () => {
  it('the scatters hold T·N·k points each: softmax inputs and outputs of the top-k classes', async () => {
    const spec = classSequenceSpec({ ...summary, logits, probs, topK: 3 });
    const d = datasets(spec);
    expect(d['logits']).toHaveLength(T * N * 3);
    expect(d['probs']).toHaveLength(T * N * 3);
    expect(d['uncertainty']).toHaveLength(3 * N);
    // a point's value is its pass's: (t, i, c) at (t·N + i)·C + c; its x is input i, dodged by class
    const top = topClasses(meanProbs, 3);
    const first = d['logits']!.slice(0, 3);
    expect(first.map((p) => p.v)).toEqual(top.map((c) => logits[c]!));
    expect(first.map((p) => p.class)).toEqual(top.map((c) => `class ${c}`));
    for (const p of d['probs']!) {
      expect(Math.abs(p.x - Math.round(p.x))).toBeLessThan(0.5);
      expect(p.v).toBeGreaterThanOrEqual(0);
      expect(p.v).toBeLessThanOrEqual(1);
    }
    expect((await compileSpec(spec)).warnings).toEqual([]);
    const svg = await renderSvg(spec);
    // the two scatters, then the uncertainty panel's point markers (3 measures × N)
    expect(markItems(svg, 'symbol')).toEqual([T * N * 3, T * N * 3, 3 * N]);
    expect(svg).toContain('>softmax input, 7 passes<');
    expect(svg).toContain('>softmax output, 7 passes<');
    for (const m of ['predictive entropy', 'mutual information', 'variation ratio']) expect(svg).toContain(`>${m}<`);
    // the predicted class under each input's index
    expect(svg).toContain(`>→ ${summary.predicted[N - 1]}<`);
  });

  it('picks the top k classes by mean probability over the sequence (ties: the lower index)', () => {
    // averages 0.3, 0.4, 0.3: class 1, then the tie between 0 and 2 goes to 0
    expect(
      topClasses(
        [
          [0.5, 0.2, 0.3],
          [0.1, 0.6, 0.3],
        ],
        2,
      ),
    ).toEqual([1, 0]);
    expect(
      topClasses(
        [
          [0.5, 0.2, 0.3],
          [0.1, 0.6, 0.3],
        ],
        3,
      ),
    ).toEqual([1, 0, 2]);
    expect(topClasses([[0.25, 0.25, 0.5]], 1)).toEqual([2]);
    expect(topClasses([[0.25, 0.25, 0.5]], 3)).toEqual([2, 0, 1]);
  });

  it('draws the mean probabilities and the uncertainty panel when the passes are not given', async () => {
    const spec = classSequenceSpec({ ...summary, classNames: ['zero', 'one', 'two', 'three'], labels: ['a', 'b', 'c', 'd', 'e'] });
    const d = datasets(spec);
    expect(Object.keys(d).sort()).toEqual(['meanProbs', 'uncertainty']);
    expect(d['meanProbs']).toHaveLength(N * 3);
    const svg = await renderSvg(spec);
    expect(svg).toContain('>MC-averaged probability (T = 7)<');
    expect(svg).toContain('>class zero<');
    expect(svg).toContain('>e<');
    expect(markItems(svg, 'line')).toHaveLength(3 + 3); // a line per class, a line per measure
  });

  it('default top-k is 3 (at most C)', () => {
    expect(datasets(classSequenceSpec({ ...summary, probs }))['probs']).toHaveLength(T * N * 3);
    const two = { T: 1, N: 1, C: 2, meanProbs: [[0.3, 0.7]], predicted: [1], entropy: [0.6], mutualInformation: [0], variationRatio: [0] };
    expect(datasets(classSequenceSpec(two))['meanProbs']).toHaveLength(2);
  });

  it.each([
    ['logits of the wrong size', { ...summary, logits: logits.subarray(1) }, /logits \(T·N·C = 7·5·4\): expected 140 values \(one per input\), got 139/],
    [
      'a NaN among the probabilities',
      { ...summary, probs: Float32Array.from(probs, (p, j) => (j === 9 ? NaN : p)) },
      /probs \(T·N·C = 7·5·4\)\[9\]: expected a finite number, got NaN/,
    ],
    ['meanProbs with a row missing', { ...summary, meanProbs: meanProbs.slice(1) }, /meanProbs: expected 5 rows \(one per input\), got 4/],
    ['meanProbs with a short row', { ...summary, meanProbs: [[0.5], ...meanProbs.slice(1)] }, /meanProbs\[0\]: expected 4 values/],
    ['a predicted class out of range', { ...summary, predicted: [0, 0, 4, 0, 0] }, /predicted\[2\]: expected a class in 0\.\.3, got 4/],
    ['entropy of the wrong length', { ...summary, entropy: [1] }, /entropy: expected 5 values/],
    ['topK above C', { ...summary, topK: 5 }, /topK: expected an integer in 1\.\.4, got 5/],
    ['labels of the wrong length', { ...summary, labels: ['a'] }, /labels: expected 5 strings, got 1/],
    ['one class', { ...summary, C: 1 }, /C: expected an integer in 2\.\./],
  ])('%s is E_INPUT', (_name, data, message) => {
    expect(inputError(() => classSequenceSpec(data as unknown as ClassSequenceData))).toMatch(message);
  });
});
