import { describe, expect, it } from 'vitest';
import { McEngine } from '../src/engine/engine.js';
import { sampleFunction } from '../src/engine/posterior.js';
import { SampleCollector } from '../src/estimators/samples.js';
import { ReferenceBackend } from '../src/reference/backend.js';
import { randomMlp } from '../src/reference/mlp.js';
import { createSeededSampler } from '../src/sampling/index.js';
import type { NamedTensors } from '../src/tensor.js';

const engine = () => new McEngine(createSeededSampler, {});
const spec = randomMlp({ sizes: [2, 16, 16, 3], rates: [0.3, 0.3], seed: 5 });
const x = (rows: number[][]): NamedTensors => ({ x: { dtype: 'float32', data: Float32Array.from(rows.flat()), dims: [rows.length, 2] } });
const rows = [
  [0.5, 1],
  [1, -1],
  [1.5, 0.25],
  [-2, 0],
];

describe('sampleFunction: one function of the approximate posterior', () => {
  it('is sample t of a seeded run (scope sample): the same masks for every row and call', async () => {
    const model = await new ReferenceBackend().load({ kind: 'object', value: spec });
    const col = new SampleCollector({ output: 'y' });
    await engine().run(model, x(rows), { samples: 6, seed: 9, scope: 'sample', estimators: [col], selfCheck: false });
    const all = col.result();
    expect([all.samples, all.rows, all.rest]).toEqual([6, 4, [3]]);
    for (const t of [0, 3, 5]) {
      const f = sampleFunction(model, { seed: 9, sample: t });
      const y = (await f(x(rows)))['y']!.data as Float32Array;
      expect(Array.from(y)).toEqual(Array.from(all.values.subarray(t * 12, t * 12 + 12)));
      // deterministic, and row by row the same function
      expect(Array.from((await f(x(rows)))['y']!.data as Float32Array)).toEqual(Array.from(y));
      const one = (await f(x([rows[2]!])))['y']!.data as Float32Array;
      expect(Array.from(one)).toEqual(Array.from(y.subarray(6, 9)));
    }
    const other = sampleFunction(model, { seed: 9, sample: 1 });
    expect(Array.from((await other(x(rows)))['y']!.data as Float32Array)).not.toEqual(Array.from(all.values.subarray(0, 12)));
  });

  it('SampleCollector keeps every pass, bounded by maxValues', async () => {
    const model = await new ReferenceBackend().load({ kind: 'object', value: spec });
    const col = new SampleCollector({ output: 'y', maxValues: 30 });
    await expect(engine().run(model, x(rows), { samples: 5, chunkSamples: 1, estimators: [col], selfCheck: false })).rejects.toThrow(/exceeds maxValues 30/);
  });
});
