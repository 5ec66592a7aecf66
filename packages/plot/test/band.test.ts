import { describe, expect, it } from 'vitest';
import { isMcuError } from '@mcu/core';
import { markItems } from './svg.js';
import { BAND_COUNT, bandHalfWidth, bandLabel, bandPlotSpec, compileSpec, renderSvg, type BandPlotData, type BandRow } from '../src/index.js';

const curveOf = (spec: unknown): BandRow[] => (spec as { datasets: { curve: BandRow[] } }).datasets.curve;
const layersOf = (spec: unknown) => (spec as { layer: { mark: { type: string } }[] }).layer;

const base: BandPlotData = {
  x: [2, 0, 1, 3],
  mean: [4, 0, 2, 6],
  std: [0.4, 0.1, 0.2, 0.8],
};

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

describe('bandPlotSpec: geometry', () => {
  it('the ±2σ band (k = 4 at scale 1) spans mean ± 2·std, each band k spans mean ± k·std/2', () => {
    const curve = curveOf(bandPlotSpec(base));
    expect(curve.map((r) => r.x)).toEqual([0, 1, 2, 3]); // sorted by x
    for (const r of curve) {
      expect(r['lo4']).toBeCloseTo(r.mean - 2 * r.std, 12);
      expect(r['hi4']).toBeCloseTo(r.mean + 2 * r.std, 12);
      for (let k = 1; k <= BAND_COUNT; k++) {
        expect(r[`hi${k}`] - r.mean).toBeCloseTo((k * r.std) / 2, 12);
        expect(r.mean - r[`lo${k}`]).toBeCloseTo((k * r.std) / 2, 12);
      }
    }
  });

  it('sigmaScale K stretches every band: the widest spans mean ± 2·std·K (K = 4: ±8σ, figure 2d)', () => {
    const curve = curveOf(bandPlotSpec({ ...base, sigmaScale: 4 }));
    for (const r of curve) {
      expect(r['hi4']).toBeCloseTo(r.mean + 2 * r.std * 4, 12);
      expect(r['lo1']).toBeCloseTo(r.mean - 0.5 * r.std * 4, 12);
    }
    expect(bandHalfWidth(4, 4)).toBe(8);
  });

  it('labels the bands in half standard deviations', () => {
    expect([1, 2, 3, 4].map((k) => bandLabel(k))).toEqual(['±½σ', '±σ', '±1½σ', '±2σ']);
    expect([1, 2, 3, 4].map((k) => bandLabel(k, 4))).toEqual(['±2σ', '±4σ', '±6σ', '±8σ']);
    expect(bandLabel(1, 1.5)).toBe('±0.75σ');
  });

  it('has four band layers, then the optional points, mean, standard-dropout curve and train-end rule', () => {
    expect(layersOf(bandPlotSpec(base)).map((l) => l.mark.type)).toEqual(['area', 'area', 'area', 'area', 'line']);
    const full = bandPlotSpec({ ...base, standard: [4, 0, 2, 6], points: { x: [0, 1], y: [0.1, 2.2] }, trainEnd: 1.5 });
    expect(layersOf(full).map((l) => l.mark.type)).toEqual(['area', 'area', 'area', 'area', 'point', 'line', 'line', 'rule', 'text']);
  });

  it('compiles without Vega-Lite warnings and draws 4 bands, the mean, the points and one rule', async () => {
    const spec = bandPlotSpec({
      ...base,
      standard: [4.1, 0, 2, 6],
      points: { x: [0, 1, 2], y: [0.1, 2.2, 3.9] },
      trainEnd: 1.5,
      title: 'T',
      xLabel: 'months',
      yLabel: 'ppm',
    });
    expect((await compileSpec(spec)).warnings).toEqual([]);
    const svg = await renderSvg(spec);
    expect(markItems(svg, 'area')).toEqual([1, 1, 1, 1]);
    expect(markItems(svg, 'line')).toHaveLength(2); // mean, standard dropout
    expect(markItems(svg, 'symbol')).toEqual([3]);
    expect(markItems(svg, 'rule')).toEqual([1]);
    for (const label of ['±½σ', '±σ', '±1½σ', '±2σ', 'predictive mean', 'standard dropout', 'data', 'training data ends', 'months', 'ppm']) {
      expect(svg).toContain(`>${label}<`);
    }
  });
});

describe('bandPlotSpec: bad data is E_INPUT naming the field', () => {
  it.each([
    ['mean shorter than x', { ...base, mean: [1, 2, 3] }, /band plot: mean: expected 4 values \(one per input\), got 3/],
    ['a NaN in std', { ...base, std: [0.1, NaN, 0.1, 0.1] }, /band plot: std\[1\]: expected a finite number, got NaN/],
    ['a negative std', { ...base, std: [0.1, -1, 0.1, 0.1] }, /band plot: std\[1\]: expected a value ≥ 0, got -1/],
    ['an infinite x', { ...base, x: [0, Infinity, 2, 3] }, /band plot: x\[1\]: expected a finite number, got Infinity/],
    ['no rows', { x: [], mean: [], std: [] }, /band plot: x: expected at least one row, got 0/],
    ['x not an array', { ...base, x: 'abc' }, /band plot: x: expected an array of numbers, got string "abc"/],
    ['standard of another length', { ...base, standard: [1] }, /band plot: standard: expected 4 values/],
    ['sigmaScale 0', { ...base, sigmaScale: 0 }, /band plot: sigmaScale: expected a finite number > 0, got 0/],
    ['trainEnd NaN', { ...base, trainEnd: NaN }, /band plot: trainEnd: expected a finite number, got NaN/],
    ['points of unequal length', { ...base, points: { x: [1, 2], y: [1] } }, /band plot: points\.y: expected 2 values \(one per points\.x\), got 1/],
  ])('%s', (_name, data, message) => {
    expect(inputError(() => bandPlotSpec(data as unknown as BandPlotData))).toMatch(message);
  });

  it('takes typed arrays', () => {
    const curve = curveOf(bandPlotSpec({ x: Float32Array.of(1, 0), mean: Float64Array.of(1, 2), std: Float64Array.of(0, 1) }));
    expect(curve.map((r) => [r.x, r['hi4']])).toEqual([
      [0, 4],
      [1, 1],
    ]);
  });
});
