import { describe, expect, it } from 'vitest';
import type { MaskScope, StochasticSite } from '../src/model.js';
import { ReplaySampler, replayFromRows, SeededSampler, type MaskRequest } from '../src/sampling/index.js';
import type { TensorData } from '../src/tensor.js';
import { expectMcuError } from '../../../test/helpers/check.js';

const dense: StochasticSite = { name: 'fc1.drop', kind: 'bernoulli', rate: 0.5, maskShape: [3] };
const chan: StochasticSite = { name: 'conv.drop', kind: 'bernoulli', rate: 0.5, maskShape: [2, 1, 1] };
const gauss: StochasticSite = { name: 'noise', kind: 'gaussian', rate: 0.5, maskShape: [2] };

function req(site: StochasticSite, firstSample: number, count: number, scope: MaskScope = 'sample', rows = 1, siteIndex = 0): MaskRequest {
  return { site, siteIndex, firstSample, count, rows, scope };
}

/** Values 0..n-1 scaled, so each position is recognisable. */
function ramp(n: number, scale = 1): number[] {
  return Array.from({ length: n }, (_, k) => k * scale);
}

function f32(values: number[], dims: number[]): TensorData {
  return { dtype: 'float32', data: Float32Array.from(values), dims };
}

function f64(values: number[], dims: number[]): TensorData {
  return { dtype: 'float64', data: Float64Array.from(values), dims };
}

describe('ReplaySampler: replaying', () => {
  it('returns samples [first, first+count) per site in the sample layout, as float32', () => {
    // dense: T=4, R=1, [3]; chan: T=4, R=1, [2,1,1] given as float64
    const r = new ReplaySampler({ 'fc1.drop': f32(ramp(12), [4, 1, 3]), 'conv.drop': f64(ramp(8, 0.5), [4, 1, 2, 1, 1]) }, [dense, chan]);
    expect(r.samples).toBe(4);
    expect(r.description).toMatch(/replay/);
    const a = r.sample(req(dense, 1, 2));
    expect(a.dtype).toBe('float32');
    expect(a.data).toBeInstanceOf(Float32Array);
    expect(a.dims).toEqual([2, 1, 3]);
    expect([...a.data]).toEqual([3, 4, 5, 6, 7, 8]);
    const b = r.sample(req(chan, 3, 1, 'sample', 1, 1));
    expect(b.dtype).toBe('float32');
    expect(b.dims).toEqual([1, 1, 2, 1, 1]);
    expect([...b.data]).toEqual([3, 3.5]);
  });

  it('broadcasts per-sample masks (R = 1) to every row when asked for scope point', () => {
    const r = new ReplaySampler({ 'fc1.drop': f32(ramp(9), [3, 1, 3]) }, [dense]);
    const out = r.sample(req(dense, 1, 2, 'point', 2));
    expect(out.dims).toEqual([2, 2, 3]);
    expect([...out.data]).toEqual([3, 4, 5, 3, 4, 5, 6, 7, 8, 6, 7, 8]);
  });

  it('returns per-row masks (R = N) for scope point', () => {
    // T=2, R=3 rows, [3]
    const r = new ReplaySampler({ 'fc1.drop': f64(ramp(18), [2, 3, 3]) }, [dense]);
    const out = r.sample(req(dense, 1, 1, 'point', 3));
    expect(out.dims).toEqual([1, 3, 3]);
    expect([...out.data]).toEqual(ramp(9).map((v) => v + 9));
  });

  it('refuses per-row masks for scope sample, explaining that they need scope point', () => {
    const r = new ReplaySampler({ 'fc1.drop': f32(ramp(18), [2, 3, 3]) }, [dense]);
    expectMcuError(() => r.sample(req(dense, 0, 1, 'sample')), 'E_MASK', /fc1\.drop/, /per-row/, /scope "point"/, /\[2, 3, 3\]/);
  });

  it('refuses R that is neither 1 nor the number of rows, naming expected and received dims', () => {
    const r = new ReplaySampler({ 'fc1.drop': f32(ramp(18), [2, 3, 3]) }, [dense]);
    expectMcuError(() => r.sample(req(dense, 0, 1, 'point', 4)), 'E_MASK', /fc1\.drop/, /\[2, 3, 3\]/, /\[2, 1 or 4, 3\]/, /4 input rows/);
  });

  it('refuses samples beyond T', () => {
    const r = new ReplaySampler({ 'fc1.drop': f32(ramp(9), [3, 1, 3]) }, [dense]);
    expect(() => r.sample(req(dense, 0, 3))).not.toThrow();
    expectMcuError(() => r.sample(req(dense, 2, 2)), 'E_MASK', /samples 2\.\.3/, /only 3 mask samples/, /at most 3/);
    expectMcuError(() => r.sample(req(dense, 5, 1)), 'E_MASK', /fc1\.drop/);
  });

  it('refuses a site it holds no masks for, or one whose shape changed', () => {
    const r = new ReplaySampler({ 'fc1.drop': f32(ramp(3), [1, 1, 3]) }, [dense]);
    expectMcuError(() => r.sample(req(chan, 0, 1)), 'E_MASK', /conv\.drop/, /fc1\.drop/);
    expectMcuError(() => r.sample(req({ ...dense, maskShape: [4] }, 0, 1)), 'E_MASK', /\[4\]/, /\[3\]/);
  });

  it('copies the masks: later changes to the caller’s buffers change nothing, nor do edits to a returned tensor', () => {
    const t = f32([1, 2, 3], [1, 1, 3]);
    const r = new ReplaySampler({ 'fc1.drop': t }, [dense]);
    (t.data as Float32Array)[0] = 99;
    const first = r.sample(req(dense, 0, 1));
    (first.data as Float32Array)[1] = 77;
    expect([...r.sample(req(dense, 0, 1)).data]).toEqual([1, 2, 3]);
  });

  it('reproduces a SeededSampler draw exactly when fed its masks (sample and point scope)', () => {
    const seeded = new SeededSampler({ seed: 11 });
    const sites = [dense, gauss];
    const T = 6;
    const rows = 4;
    const perRow = seeded.sample(req(dense, 0, T, 'point', rows, 0));
    const perSample = seeded.sample(req(gauss, 0, T, 'sample', 1, 1));
    const r = new ReplaySampler({ 'fc1.drop': perRow, noise: perSample }, sites);
    expect(r.samples).toBe(T);
    expect(r.sample(req(dense, 2, 3, 'point', rows))).toEqual(seeded.sample(req(dense, 2, 3, 'point', rows, 0)));
    expect(r.sample(req(gauss, 0, T, 'sample'))).toEqual(perSample);
  });
});

describe('ReplaySampler: validation at construction', () => {
  const good = () => ({ 'fc1.drop': f32([0, 2, 2], [1, 1, 3]), 'conv.drop': f32([2, 0], [1, 1, 2, 1, 1]) });

  it('accepts well-formed masks', () => {
    expect(new ReplaySampler(good(), [dense, chan]).samples).toBe(1);
  });

  it('refuses a missing site, naming it, the expected dims and the sites', () => {
    const { 'conv.drop': _omit, ...rest } = good();
    expectMcuError(() => new ReplaySampler(rest, [dense, chan]), 'E_MASK', /no masks given for site "conv\.drop"/, /\[T, 1 or N, 2, 1, 1\]/, /add an entry/);
  });

  it('refuses an extra name, listing the sites', () => {
    expectMcuError(
      () => new ReplaySampler({ ...good(), 'fc2.drop': f32([1], [1, 1, 1]) }, [dense, chan]),
      'E_MASK',
      /"fc2\.drop"/,
      /not a stochastic site/,
      /"fc1\.drop", "conv\.drop"/,
    );
    // names inherited from Object.prototype are not masks
    expectMcuError(() => new ReplaySampler({}, [{ ...dense, name: 'constructor' }]), 'E_MASK', /site "constructor"/);
  });

  it('refuses a wrong mask shape or rank, naming expected and received dims', () => {
    expectMcuError(
      () => new ReplaySampler({ ...good(), 'fc1.drop': f32(ramp(4), [1, 1, 4]) }, [dense, chan]),
      'E_MASK',
      /fc1\.drop/,
      /\[T, 1 or N, 3\]/,
      /got \[1, 1, 4\]/,
      /reshape/,
    );
    expectMcuError(() => new ReplaySampler({ ...good(), 'fc1.drop': f32(ramp(3), [1, 3]) }, [dense, chan]), 'E_MASK', /got \[1, 3\]/);
    expectMcuError(() => new ReplaySampler({ ...good(), 'conv.drop': f32(ramp(2), [1, 1, 2]) }, [dense, chan]), 'E_MASK', /conv\.drop/, /\[2, 1, 1\]/);
  });

  it('refuses empty T or R, a data length that does not match the dims, and non-float dtypes', () => {
    expectMcuError(() => new ReplaySampler({ 'fc1.drop': f32([], [0, 1, 3]) }, [dense]), 'E_MASK', /at least one sample/);
    expectMcuError(() => new ReplaySampler({ 'fc1.drop': f32([1, 1], [1, 1, 3]) }, [dense]), 'E_MASK', /need 3 values/, /hold 2/);
    expectMcuError(
      () => new ReplaySampler({ 'fc1.drop': { dtype: 'int32', data: Int32Array.from([1, 1, 1]), dims: [1, 1, 3] } }, [dense]),
      'E_MASK',
      /float32 or float64/,
      /int32/,
    );
  });

  it('refuses non-finite values, naming the site, the position and the value', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const v = [1, 1, 1, 1, 1, 1];
      v[4] = bad;
      expectMcuError(
        () => new ReplaySampler({ 'fc1.drop': f64(v, [1, 2, 3]) }, [dense]),
        'E_MASK',
        /fc1\.drop/,
        new RegExp(`value ${bad}`),
        /sample 0, row 1, element 1/,
        /not finite/,
      );
    }
    // finite in float64 but not in float32
    expectMcuError(() => new ReplaySampler({ 'fc1.drop': f64([1e39, 1, 1], [1, 1, 3]) }, [dense]), 'E_MASK', /overflows float32/);
  });

  it('refuses negative values for Bernoulli sites but accepts them for Gaussian noise', () => {
    expectMcuError(() => new ReplaySampler({ 'fc1.drop': f32([2, -2, 0], [1, 1, 3]) }, [dense]), 'E_MASK', /fc1\.drop/, /value -2/, /negative/, /≥ 0/);
    const r = new ReplaySampler({ noise: f32([-0.5, 2.5], [1, 1, 2]) }, [gauss]);
    expect([...r.sample(req(gauss, 0, 1)).data]).toEqual([-0.5, 2.5]);
  });

  it('refuses sites with different numbers of samples', () => {
    expectMcuError(
      () => new ReplaySampler({ 'fc1.drop': f32(ramp(6), [2, 1, 3]), 'conv.drop': f32(ramp(6), [3, 1, 2, 1, 1]) }, [dense, chan]),
      'E_MASK',
      /"conv\.drop" has masks for 3 samples/,
      /"fc1\.drop" has 2/,
    );
  });

  it('refuses a non-object', () => {
    expectMcuError(() => new ReplaySampler(null as unknown as Record<string, TensorData>, [dense]), 'E_MASK', /object mapping each site name/);
  });
});

describe('replayFromRows (the CLI JSON shape)', () => {
  it('builds T = 1, R = N masks, one entry per site in site order', () => {
    const r = replayFromRows(
      [dense, chan],
      [
        [
          [0, 2, 2],
          [2, 0, 2],
        ],
        [
          [2, 0],
          [0, 2],
        ],
      ],
    );
    expect(r.samples).toBe(1);
    const a = r.sample(req(dense, 0, 1, 'point', 2));
    expect(a.dims).toEqual([1, 2, 3]);
    expect([...a.data]).toEqual([0, 2, 2, 2, 0, 2]);
    const b = r.sample(req(chan, 0, 1, 'point', 2, 1));
    expect(b.dims).toEqual([1, 2, 2, 1, 1]);
    expect([...b.data]).toEqual([2, 0, 0, 2]);
    expectMcuError(() => r.sample(req(dense, 0, 1, 'sample')), 'E_MASK', /scope "point"/);
  });

  it('refuses the wrong number of entries, naming the sites', () => {
    expectMcuError(
      () => replayFromRows([dense, chan], [[[1, 1, 1]]]),
      'E_MASK',
      /one entry per stochastic site/,
      /\(2: "fc1\.drop", "conv\.drop"\)/,
      /got 1 entries/,
    );
    expectMcuError(() => replayFromRows([dense], {} as unknown as number[][][]), 'E_MASK', /got \{\}/);
  });

  it('refuses rows of the wrong length, non-numbers, empty entries and differing row counts', () => {
    expectMcuError(() => replayFromRows([dense], [[[1, 1]]]), 'E_MASK', /row 0 of site "fc1\.drop"/, /3 numbers/, /got 2 values/);
    expectMcuError(() => replayFromRows([dense], [[[1, '1', 1] as unknown as number[]]]), 'E_MASK', /element 1 must be a number/, /"1"/);
    expectMcuError(() => replayFromRows([dense], [[]]), 'E_MASK', /non-empty list of mask rows/);
    expectMcuError(
      () =>
        replayFromRows(
          [dense, chan],
          [
            [[1, 1, 1]],
            [
              [1, 1],
              [1, 1],
            ],
          ],
        ),
      'E_MASK',
      /"conv\.drop" \(entry 1\) have 2 rows/,
      /"fc1\.drop" has 1/,
    );
  });

  it('applies the same value checks as the constructor', () => {
    expectMcuError(() => replayFromRows([dense], [[[1, -1, 1]]]), 'E_MASK', /negative/);
    expectMcuError(() => replayFromRows([dense], [[[1, Number.NaN, 1]]]), 'E_MASK', /not finite/);
  });
});
