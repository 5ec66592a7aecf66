import { describe, expect, it } from 'vitest';
import { FULL_RUN, parseArgs } from '../src/index.js';

describe('rl cli: parseArgs', () => {
  it('defaults to the full figure-6 comparison', () => {
    const o = parseArgs([])!;
    expect(o).toMatchObject({
      seeds: [...FULL_RUN.seeds],
      batches: FULL_RUN.batches,
      stepsPerBatch: 120,
      burnInBatches: 25,
      policies: ['thompson', 'epsilon-greedy'],
      proximityReward: 'linear',
    });
    expect(FULL_RUN.seeds.length).toBeGreaterThanOrEqual(5);
  });

  it('reads every flag', () => {
    const o = parseArgs([
      '--out',
      'x.json',
      '--seeds',
      '3,4',
      '--batches',
      '7',
      '--steps-per-batch',
      '10',
      '--burn-in',
      '2',
      '--parallel',
      '1',
      '--backend',
      'cpu',
      '--policies',
      'thompson',
      '--proximity',
      'clipped',
      '--quiet',
    ])!;
    expect(o).toEqual({
      out: 'x.json',
      seeds: [3, 4],
      batches: 7,
      stepsPerBatch: 10,
      burnInBatches: 2,
      parallel: 1,
      backend: 'cpu',
      policies: ['thompson'],
      proximityReward: 'clipped',
      quiet: true,
    });
    expect(parseArgs(['--help'])).toBeNull();
  });

  it('names the flag and the value it refuses', () => {
    expect(() => parseArgs(['--seeds', '1,x'])).toThrow(/--seeds expects comma-separated non-negative integers, got '1,x'/);
    expect(() => parseArgs(['--batches', '0'])).toThrow(/--batches expects an integer ≥ 1, got '0'/);
    expect(() => parseArgs(['--backend', 'gpu'])).toThrow(/--backend expects one of wasm, cpu, got 'gpu'/);
    expect(() => parseArgs(['--policies', 'ucb'])).toThrow(/--policies/);
    expect(() => parseArgs(['--nope', '1'])).toThrow(/unknown option '--nope'/);
    expect(() => parseArgs(['--out'])).toThrow(/--out needs a value/);
  });
});
