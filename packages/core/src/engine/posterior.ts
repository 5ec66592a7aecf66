/**
 * One function from the approximate posterior: dropout with ONE fixed set of masks is one
 * network W_t (the paper's eq. 6 draws T of them). `sampleFunction(model, {seed, sample})`
 * fixes the masks of sample t of a seeded run — scope `sample`, shared by every input row — and
 * returns a deterministic callable. Thompson sampling (act greedily under one posterior draw),
 * consistent MC dropout across calls, and the RL agent all use it: the same seed and sample
 * index give the same function on every call, backend and batch size.
 */
import { McuError } from '../errors.js';
import type { StochasticModel } from '../model.js';
import { SeededSampler } from '../sampling/seeded.js';
import type { NamedTensors, TensorData } from '../tensor.js';
import { sitesFor } from './engine.js';

export interface SampleFunctionOptions {
  /** Seed of the counter-based masks (as McRunOptions.seed). */
  readonly seed: number;
  /** Which MC sample's masks (default 0): sample t of a run with this seed. */
  readonly sample?: number;
}

export interface PosteriorSample {
  readonly seed: number;
  readonly sample: number;
  /** The network under this sample's masks: outputs with N rows for feeds with N rows. */
  (feeds: NamedTensors): Promise<NamedTensors>;
}

export function sampleFunction(model: StochasticModel, options: SampleFunctionOptions): PosteriorSample {
  const sample = options.sample ?? 0;
  if (!Number.isSafeInteger(sample) || sample < 0) {
    throw new McuError('E_CONFIG', `sampleFunction: sample must be an integer ≥ 0, got ${String(options.sample)}`);
  }
  const sampler = new SeededSampler({ seed: options.seed });
  const f = async (feeds: NamedTensors): Promise<NamedTensors> => {
    const masks: Record<string, TensorData> = {};
    sitesFor(model, feeds).forEach((site, siteIndex) => {
      const rows = Object.values(feeds)[0]?.dims[0] ?? 1;
      masks[site.name] = sampler.sample({ site, siteIndex, firstSample: sample, count: 1, rows, scope: 'sample' });
    });
    return model.run(feeds, masks, { samples: 1, scope: 'sample' });
  };
  return Object.assign(f, { seed: sampler.seed, sample });
}
