import { describe, expect, it } from 'vitest';
import { ClassificationEstimator, createMcu, ReferenceBackend, RegressionEstimator, type NamedTensors } from '@mcu/core';
import { randomMlp } from '@mcu/core/testing';
import { collectSamples, parseSavedPrediction, plotPrediction, predictionSpec, svgMetadata, type PlotInput, type SavedPrediction } from '../src/index.js';
import { markItems } from './svg.js';

const regression: SavedPrediction = {
  meta: { backend: 'onnx', executionProvider: 'cpu', seed: 3, samples: 50, tau: 50, maskScope: 'sample', sites: [] },
  outputs: { y: { task: 'regression', mean: [[0], [1], [2]], variance: [[0.04], [0.09], [0.16]], std: [[0.2], [0.3], [0.4]] } },
};
const classification: SavedPrediction = {
  meta: { samples: 20 },
  outputs: {
    p: {
      task: 'classification',
      probs: [
        [0.9, 0.05, 0.05],
        [0.2, 0.7, 0.1],
      ],
      predicted: [0, 1],
      entropy: [0.39, 0.8],
      mutualInformation: [0.01, 0.2],
      variationRatio: [0, 0.3],
    },
  },
};
const x3 = { data: [0, 0.5, 1], dims: [3, 1], source: 'x.csv' };
const result = (r: SavedPrediction, inputs = x3): PlotInput => ({ kind: 'result', result: r, inputs, source: 'r.json' });

const curve = (spec: unknown) => (spec as { datasets: { curve: { x: number; mean: number; hi4: number }[] } }).datasets.curve;

describe('parseSavedPrediction', () => {
  it('accepts what mcu predict --format json writes', () => {
    expect(parseSavedPrediction(JSON.parse(JSON.stringify(regression)), 'r.json')).toEqual(regression);
    expect(parseSavedPrediction(JSON.parse(JSON.stringify(classification)))).toEqual(classification);
  });

  it.each([
    ['an array', [], /r\.json is not a result of 'mcu predict --format json' \(expected a JSON object with "meta" and "outputs", got an array\)/],
    ['an evaluate report', { n: 3, rmse: 1 }, /\(no "meta" object; its keys: n, rmse\)/],
    ['no outputs', { meta: { samples: 2 }, outputs: {} }, /no "outputs" object/],
    ['no samples', { meta: {}, outputs: regression.outputs }, /"meta\.samples" should be the number of MC samples, got undefined/],
    [
      'an unknown task',
      { meta: { samples: 2 }, outputs: { y: { task: 'ranking' } } },
      /"outputs\.y\.task" should be "regression" or "classification", got "ranking"/,
    ],
    [
      'ragged rows',
      { meta: { samples: 2 }, outputs: { y: { ...regression.outputs['y'], std: [[0.1], [0.2, 0.3], [0.1]] } } },
      /r\.json: outputs\.y\.std\[1\]: expected 1 value/,
    ],
    [
      'rows that disagree',
      { meta: { samples: 2 }, outputs: { y: { ...regression.outputs['y'], std: [[0.1]] } } },
      /mean, variance and std should have one row per input; they have 3, 3 and 1/,
    ],
    [
      'a NaN',
      { meta: { samples: 2 }, outputs: { y: { ...regression.outputs['y'], mean: [[0], [null], [1]] } } },
      /outputs\.y\.mean\[1\]\[0\]: expected a finite number, got null/,
    ],
    [
      'a class out of range',
      { meta: { samples: 2 }, outputs: { p: { ...classification.outputs['p'], predicted: [0, 3] } } },
      /outputs\.p\.predicted\[1\]: expected a class in 0\.\.2, got 3/,
    ],
  ])('refuses %s (E_INPUT)', (_name, value, message) => {
    expect(() => parseSavedPrediction(value, 'r.json')).toThrow(message);
    try {
      parseSavedPrediction(value, 'r.json');
    } catch (e) {
      expect((e as { code: string }).code).toBe('E_INPUT');
    }
  });
});

describe('predictionSpec from a saved result', () => {
  it('a regression result and its x values give a band plot', () => {
    const fig = predictionSpec(result(regression), { trainEnd: 0.5, sigmaScale: 2 });
    expect(fig.task).toBe('regression');
    const c = curve(fig.spec);
    expect(c.map((r) => r.x)).toEqual([0, 0.5, 1]);
    expect(c.map((r) => r.hi4)).toEqual([0 + 2 * 0.2 * 2, 1 + 2 * 0.3 * 2, 2 + 2 * 0.4 * 2].map((v) => expect.closeTo(v, 12)));
    expect(fig.metadata).toMatchObject({
      output: 'y',
      task: 'regression',
      result: 'r.json',
      figure: { bands: [1, 2, 3, 4], trainEnd: 0.5, standard: false, rows: 3 },
    });
    expect(JSON.stringify(fig.spec)).toContain('T = 50 MC dropout samples · seed 3 · mask scope sample · τ = 50 · onnx (cpu) · from r.json');
  });

  it('a classification result gives the mean-probability plot', async () => {
    const fig = await plotPrediction(result(classification, { data: [1, 2, 3, 4], dims: [2, 2] }), { topK: 2 });
    if (fig.format !== 'svg') throw new Error('expected svg');
    expect(svgMetadata(fig.svg)).toMatchObject({ output: 'p', task: 'classification', figure: { classes: [0, 1], topK: 2, passes: false } });
    expect(markItems(fig.svg, 'line')).toHaveLength(2 + 3);
  });

  it.each([
    [
      'band options on a classification output',
      () => predictionSpec(result(classification, { data: [1, 2], dims: [2, 1] }), { trainEnd: 1, sigmaScale: 2 }),
      /trainEnd, sigmaScale draw on a band plot of a regression output, but output 'p' is classification/,
    ],
    [
      'top-k on a regression output',
      () => predictionSpec(result(regression), { topK: 2 }),
      /topK applies to a classification plot, but output 'y' is regression/,
    ],
    [
      'flag names in messages',
      () => predictionSpec(result(regression), { topK: 2, optionNames: { topK: '--top-k' } }),
      /^--top-k applies to a classification plot/,
    ],
    [
      'top-k above the classes',
      () => predictionSpec(result(classification, { data: [1, 2], dims: [2, 1] }), { topK: 4 }),
      /topK 4: output 'p' has 3 classes; give 1\.\.3/,
    ],
    ['an unknown output', () => predictionSpec(result(regression), { output: 'z' }), /output z: 'r\.json' has no output 'z'; its outputs: y/],
    [
      'a figure file given as the output',
      () => predictionSpec(result(regression), { output: 'fig.svg', optionNames: { output: '--output' } }),
      /--output names a model output; the figure's file is -o FILE/,
    ],
    [
      'two outputs, none chosen',
      () => predictionSpec(result({ meta: regression.meta, outputs: { ...regression.outputs, ...classification.outputs } })),
      /'r\.json' has 2 outputs \(y, p\): choose the one to plot with output NAME/,
    ],
    [
      'inputs with 2 features for a band plot',
      () => predictionSpec(result(regression, { data: [0, 1, 2, 3, 4, 5], dims: [3, 2], source: 'x2.csv' })),
      /a band plot needs exactly one input feature \(its x axis\), but 'x2\.csv' has 2 per row \(dims \[3, 2\]\)/,
    ],
    [
      'fewer input rows than result rows',
      () => predictionSpec(result(regression, { data: [0, 1], dims: [2, 1], source: 'x.csv' })),
      /output 'y' of 'r\.json' holds 3 rows, but inputs 'x\.csv' has 2 rows/,
    ],
    [
      'standard dropout from a saved result',
      () => predictionSpec(result(regression), { standard: true }),
      /standard draws the deterministic \("standard dropout"\) pass of the model, which a saved result does not hold/,
    ],
    [
      'a multi-value regression output',
      () =>
        predictionSpec(
          result(
            { meta: { samples: 2 }, outputs: { y: { task: 'regression', mean: [[0, 1]], variance: [[1, 1]], std: [[1, 1]] } } },
            { data: [0], dims: [1, 1] },
          ),
        ),
      /a band plot draws one value per row, but output 'y' of 'r\.json' has 2 values per row/,
    ],
  ])('refuses %s', (_name, f, message) => {
    expect(f).toThrow(message);
  });
});

describe('collectSamples (reference backend) → plotPrediction', () => {
  const mcu = createMcu();
  const backend = new ReferenceBackend();
  const xs = Float32Array.from({ length: 9 }, (_, i) => i / 4 - 1);
  const feeds: NamedTensors = { x: { dtype: 'float32', data: xs, dims: [9, 1] } };
  const inputs = { data: xs, dims: [9, 1] };

  it('regression: the engine’s mean and σ (with τ⁻¹), and the deterministic pass', async () => {
    const model = await backend.load({ kind: 'object', value: randomMlp({ sizes: [1, 16, 16, 1], rates: [0.2], seed: 4 }) });
    const s = await collectSamples(mcu, model, feeds, { output: 'y', task: 'regression', samples: 40, seed: 9, tau: 25, standard: true });
    const est = new RegressionEstimator({ output: 'y', tau: 25 });
    await mcu.engine.run(model, feeds, { samples: 40, seed: 9, estimators: [est] });
    if (s.task !== 'regression') throw new Error('expected regression');
    expect(Array.from(s.mean)).toEqual(Array.from(est.result().mean));
    expect(Array.from(s.std)).toEqual(Array.from(est.result().std));
    expect(Array.from(s.standard!)).toEqual(Array.from((await mcu.engine.deterministic(model, feeds))['y']!.data as Float32Array));
    expect(s.run).toMatchObject({ backend: 'reference', samples: 40, seed: 9, scope: 'sample', tau: 25 });
    const fig = await plotPrediction({ kind: 'samples', samples: s, inputs }, { standard: true, trainEnd: 0 });
    if (fig.format !== 'svg') throw new Error('expected svg');
    expect(markItems(fig.svg, 'area')).toEqual([1, 1, 1, 1]);
    expect(markItems(fig.svg, 'line')).toHaveLength(2);
    expect(markItems(fig.svg, 'rule')).toEqual([1]);
    expect(svgMetadata(fig.svg)).toMatchObject({ run: { samples: 40, seed: 9, tau: 25 }, figure: { standard: true, trainEnd: 0, rows: 9 } });
    await expect(plotPrediction({ kind: 'samples', samples: { ...s, standard: undefined } as typeof s, inputs }, { standard: true })).rejects.toThrow(
      /the samples hold no deterministic pass; collect them with standard: true/,
    );
  });

  it('classification: the T passes (T·N·C, sample-major) agree with the estimator’s mean probabilities', async () => {
    const model = await backend.load({ kind: 'object', value: randomMlp({ sizes: [1, 12, 4], rates: [0.3], seed: 2 }) });
    const T = 30;
    const s = await collectSamples(mcu, model, feeds, { output: 'y', task: 'classification', samples: T, seed: 1, scope: 'point' });
    if (s.task !== 'classification') throw new Error('expected classification');
    expect(s.logits).toHaveLength(T * 9 * 4);
    expect(s.probs).toHaveLength(T * 9 * 4);
    const est = new ClassificationEstimator({ output: 'y' });
    await mcu.engine.run(model, feeds, { samples: T, seed: 1, scope: 'point', estimators: [est] });
    expect(Array.from(s.meanProbs)).toEqual(Array.from(est.result().probs));
    for (let i = 0; i < 9; i++) {
      for (let c = 0; c < 4; c++) {
        let m = 0;
        for (let t = 0; t < T; t++) m += s.probs![(t * 9 + i) * 4 + c]!;
        expect(m / T).toBeCloseTo(s.meanProbs[i * 4 + c]!, 5);
      }
    }
    const fig = await plotPrediction({ kind: 'samples', samples: s, inputs }, { topK: 2, format: 'png', scale: 1 });
    expect(fig.format).toBe('png');
    const svg = await plotPrediction({ kind: 'samples', samples: s, inputs }, { topK: 2 });
    if (svg.format !== 'svg') throw new Error('expected svg');
    expect(markItems(svg.svg, 'symbol').slice(0, 2)).toEqual([T * 9 * 2, T * 9 * 2]);
    await expect(collectSamples(mcu, model, feeds, { output: 'y', task: 'classification', samples: 2, tau: 1 })).rejects.toThrow(
      /tau applies to regression outputs/,
    );
    await expect(collectSamples(mcu, model, feeds, { output: 'z', task: 'classification', samples: 2 })).rejects.toThrow(
      /the model has no output 'z'; its outputs: y/,
    );
  });
});
