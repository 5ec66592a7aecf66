import { describe, expect, it } from 'vitest';
import { deterministicMaskValue, type StochasticSite } from '../src/model.js';
import { SeededSampler } from '../src/sampling/seeded.js';

const site = (kind: StochasticSite['kind'], extra: Partial<StochasticSite> = {}): StochasticSite => ({
  name: 'm',
  kind,
  rate: 0.25,
  maskShape: [64],
  ...extra,
});

describe('site kinds', () => {
  it('alpha sites draw keep indicators {0, 1} from the same counter walk as Bernoulli dropout', () => {
    const s = new SeededSampler({ seed: 3 });
    const req = { siteIndex: 0, firstSample: 0, count: 50, rows: 4, scope: 'point' as const };
    const a = s.sample({ ...req, site: site('alpha') }).data as Float32Array;
    const b = s.sample({ ...req, site: site('bernoulli') }).data as Float32Array;
    expect(new Set(a)).toEqual(new Set([0, 1]));
    // the same units are dropped: alpha = bernoulli · (1 − p)
    for (let i = 0; i < a.length; i++) expect(a[i]).toBe(b[i] === 0 ? 0 : 1);
    const kept = a.reduce((x, y) => x + y, 0) / a.length;
    expect(Math.abs(kept - 0.75)).toBeLessThan(6 * Math.sqrt((0.75 * 0.25) / a.length));
    // the JavaScript path gives the same
    const js = new SeededSampler({ seed: 3, wasm: false }).sample({ ...req, site: site('alpha') }).data;
    expect(Array.from(js)).toEqual(Array.from(a));
  });

  it('the deterministic ("standard dropout") mask: 1 inverted, 1 − p for {0,1} masks, −1 (eval mode) for alpha', () => {
    expect(deterministicMaskValue(site('bernoulli'))).toBe(1);
    expect(deterministicMaskValue(site('bernoulli', { scaling: 'none' }))).toBe(0.75);
    expect(deterministicMaskValue(site('gaussian'))).toBe(1);
    expect(deterministicMaskValue(site('alpha'))).toBe(-1);
  });
});
