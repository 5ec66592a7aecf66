import { describe, expect, it } from 'vitest';
import { isMcuError } from '@mcu/core';
import { bandPlotSpec, compileSpec, curvesSpec, pngMetadata, pngSize, renderPng, renderSvg, svgMetadata, type CurvesData } from '../src/index.js';
import { markItems } from './svg.js';

const xs = [1, 10, 100, 1000];
const series = (name: string, level: number) => ({
  name,
  x: xs,
  mean: xs.map((x) => level * Math.log10(x)),
  lo: xs.map((x) => level * Math.log10(x) - 0.1),
  hi: xs.map((x) => level * Math.log10(x) + 0.1),
});

function errorOf(f: () => unknown, code = 'E_INPUT'): string {
  try {
    f();
  } catch (e) {
    expect(isMcuError(e), String(e)).toBe(true);
    expect((e as { code: string }).code).toBe(code);
    return (e as Error).message;
  }
  throw new Error('expected an McuError');
}

describe('curvesSpec', () => {
  it('one band and one line per series, a log x axis, a reference line', async () => {
    const spec = curvesSpec({
      series: [series('MC dropout', 0.3), series('ε-greedy', 0.2)],
      logX: true,
      hline: 0.8,
      title: 'average reward',
      xLabel: 'batches',
      yLabel: 'reward',
    });
    expect((spec as { datasets: { curves: unknown[] } }).datasets.curves).toHaveLength(8);
    expect((await compileSpec(spec)).warnings).toEqual([]);
    const svg = await renderSvg(spec);
    expect(markItems(svg, 'area')).toEqual([1, 1]);
    expect(markItems(svg, 'line')).toEqual([1, 1]);
    expect(markItems(svg, 'rule')).toEqual([1]);
    for (const t of ['MC dropout', 'ε-greedy', 'batches', 'reward', '1,000']) expect(svg).toContain(`>${t}<`);
  });

  it.each([
    ['no series', { series: [] }, /curves: series: expected at least one series/],
    ['an unnamed series', { series: [{ ...series('a', 1), name: '' }] }, /series\[0\]\.name: expected a non-empty string/],
    ['a name twice', { series: [series('a', 1), series('a', 2)] }, /series 'a' is given twice/],
    ['lo above hi', { series: [{ ...series('a', 1), lo: [5, 5, 5, 5] }] }, /series 'a': lo\[0\] = 5 is above hi\[0\] = 0\.1/],
    ['x ≤ 0 on a log axis', { series: [{ ...series('a', 1), x: [0, 1, 2, 3] }], logX: true }, /x\[0\] = 0, but a log x axis needs every x > 0/],
    ['mean of another length', { series: [{ ...series('a', 1), mean: [1] }] }, /series 'a': mean: expected 4 values/],
    ['hline NaN', { series: [series('a', 1)], hline: NaN }, /curves: hline: expected a finite number, got NaN/],
  ])('%s is E_INPUT', (_name, data, message) => {
    expect(errorOf(() => curvesSpec(data as unknown as CurvesData))).toMatch(message);
  });
});

describe('renderers', () => {
  const spec = bandPlotSpec({ x: [0, 1, 2], mean: [0, 1, 0], std: [0.1, 0.2, 0.3], width: 300, height: 200 });

  it('renderSvg: a standalone SVG; metadata goes into <metadata id="mcu-run">', async () => {
    const svg = await renderSvg(spec);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(svgMetadata(svg)).toBeUndefined();
    const meta = { seed: 3, tau: 50, note: 'a <b> & "c"' };
    const withMeta = await renderSvg(spec, { metadata: meta });
    expect(svgMetadata(withMeta)).toEqual(meta);
    expect(withMeta.replace(/<metadata[\s\S]*?<\/metadata>/, '')).toBe(svg);
  });

  it('renderPng: a PNG (signature, IHDR size = spec size × scale), metadata as an iTXt chunk', async () => {
    const one = await renderPng(spec, { scale: 1 });
    expect([...one.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const s1 = pngSize(one);
    // the plot area plus axes, legend, title and padding
    expect(s1.width).toBeGreaterThan(300);
    expect(s1.width).toBeLessThan(600);
    expect(s1.height).toBeGreaterThan(200);
    expect(s1.height).toBeLessThan(400);
    const two = await renderPng(spec, { metadata: { τ: 50 } });
    const s2 = pngSize(two);
    expect(s2.width).toBe(2 * s1.width); // default scale 2
    expect(s2.height).toBe(2 * s1.height);
    expect(pngMetadata(two)).toEqual({ τ: 50 });
    expect(pngMetadata(one)).toBeUndefined();
    expect(two.length).toBeGreaterThan(5_000);
  });

  it('refuses a bad scale (E_CONFIG) and a spec Vega-Lite rejects (E_INPUT)', async () => {
    await expect(renderPng(spec, { scale: 0 })).rejects.toMatchObject({
      code: 'E_CONFIG',
      message: expect.stringMatching(/scale must be a number in \(0, 16\], got 0/),
    });
    await expect(renderSvg({ mark: 'nope' } as never)).rejects.toMatchObject({ code: 'E_INPUT', message: expect.stringMatching(/does not compile/) });
  });
});
