import { describe, expect, it } from 'vitest';
import { SeededSampler } from '@mcu/core';
import { argmax, band, DqnAgent, firstAbove, NUM_ACTIONS, openTf, runComparison, runExperiment, World, type LearnerOptions } from '../src/index.js';

// A reduced configuration: small batches, learning from the 40th transition, minibatches of 16.
const SMALL = { stepsPerBatch: 20, burnInBatches: 3, batches: 6 } as const;
const LEARNER: Omit<LearnerOptions, 'burnInSteps'> = { startLearnThreshold: 40, batchSize: 16 };

describe('runExperiment (reduced configuration)', () => {
  it('runs both policies end to end: one finite average reward per batch after burn-in, deterministic for a seed', async () => {
    for (const policy of ['thompson', 'epsilon-greedy'] as const) {
      const seen: number[] = [];
      const r = await runExperiment({ policy, seed: 5, ...SMALL, learner: LEARNER, onBatch: (p) => seen.push(p.batch) });
      expect(r.policy).toBe(policy);
      expect(['wasm', 'cpu']).toContain(r.backend);
      expect(seen).toEqual([-3, -2, -1, 1, 2, 3, 4, 5, 6]);
      expect(r.averageRewardPerBatch).toHaveLength(6);
      expect(r.burnInAverageRewardPerBatch).toHaveLength(3);
      expect(r.movingAverageReward).toHaveLength(6);
      for (const v of [...r.averageRewardPerBatch, ...r.movingAverageReward, ...r.burnInAverageRewardPerBatch]) expect(Number.isFinite(v)).toBe(true);
      expect(r.lossPerBatch.every((l) => l === null || (Number.isFinite(l) && l >= 0))).toBe(true);
      expect(r.lossPerBatch.at(-1)).not.toBeNull(); // it learned
      expect(r.firstBatchAbove1).toBe(firstAbove(r.averageRewardPerBatch));
      if (policy === 'thompson') expect(r.randomActionFraction.every((f) => f === 0)).toBe(true);
      else expect(r.randomActionFraction.every((f) => f > 0.5)).toBe(true); // ε ≈ 1 this early
      const again = await runExperiment({ policy, seed: 5, ...SMALL, learner: LEARNER });
      expect(again.averageRewardPerBatch).toEqual(r.averageRewardPerBatch);
      expect(again.lossPerBatch).toEqual(r.lossPerBatch);
    }
  });
});

describe('the two policies, step by step', () => {
  const burnInSteps = 30;

  async function drive(
    policy: 'thompson' | 'epsilon-greedy',
    steps: number,
    learner: Omit<LearnerOptions, 'burnInSteps'>,
    check: (ctx: { agent: DqnAgent; t: number; obs: Float32Array }) => (d: ReturnType<DqnAgent['act']>, rep: ReturnType<DqnAgent['learn']>) => void,
  ) {
    const rt = await openTf();
    const world = new World();
    let obs = world.reset(9);
    await rt.run(() => {
      const agent = new DqnAgent(rt.tf, { policy, seed: 9, observationSize: world.observationSize, numActions: NUM_ACTIONS, burnInSteps, ...learner });
      for (let t = 0; t < steps; t++) {
        const after = check({ agent, t, obs });
        const d = agent.act(obs);
        const s = world.step(d.action);
        const rep = agent.learn(s.reward, s.observation, { keepBatch: true });
        after(d, rep);
        obs = s.observation;
      }
      agent.dispose();
    });
  }

  it('Thompson sampling: one mask set per step (sample index = step), acts greedily under it, stores it, and replays transitions with their stored masks', async () => {
    const sampler = new SeededSampler({ seed: 9 });
    let replayed = 0;
    let greedy = 0;
    await drive('thompson', 120, LEARNER, ({ agent, t, obs }) => {
      const sites = agent.network.sites;
      const expected = sites.map((site, k) => sampler.sample({ site, siteIndex: k, firstSample: t, count: 1, rows: 1, scope: 'sample' }).data as Float32Array);
      const input = agent.netInput(obs);
      const q = input === null ? null : agent.network.q(input, 1, expected);
      return (d, rep) => {
        expect(d.step).toBe(t);
        expect(d.masks).toEqual(expected);
        if (t >= burnInSteps && q !== null) {
          expect(d.random).toBe(false);
          expect(d.action).toBe(argmax(q));
          greedy++;
        }
        if (rep.stored !== null) {
          // The stored mask set is the sampler's for this step.
          expect(agent.replay.steps[rep.stored]).toBe(t);
          expect(agent.replay.maskSet(rep.stored, agent.maskWidths)).toEqual(expected);
        }
        if (rep.trained) {
          const b = rep.batch!;
          expect(b.targetMasks).toBe(b.masks);
          const B = b.slots.length;
          agent.maskWidths.forEach((w, k) => {
            for (let i = 0; i < B; i++) {
              const slot = b.slots[i]!;
              const step = agent.replay.steps[slot]!;
              const fromSampler = sampler.sample({ site: agent.network.sites[k]!, siteIndex: k, firstSample: step, count: 1, rows: 1, scope: 'sample' }).data;
              expect(b.masks![k]!.subarray(i * w, (i + 1) * w)).toEqual(fromSampler);
            }
          });
          replayed++;
        }
      };
    });
    expect(greedy).toBe(120 - burnInSteps);
    expect(replayed).toBeGreaterThan(50);
    // Different steps draw different masks (p = 0.1 over 159 units: equal sets are ~impossible).
    const a = sampler.sample({
      site: { name: 'drop_in', kind: 'bernoulli', rate: 0.1, maskShape: [59] },
      siteIndex: 0,
      firstSample: 40,
      count: 2,
      rows: 1,
      scope: 'sample',
    }).data as Float32Array;
    expect(Array.from(a.subarray(0, 59))).not.toEqual(Array.from(a.subarray(59)));
  });

  it('ε-greedy: the argmax of the deterministic network (masks = 1) except on ε steps; trains with fresh sampler masks and deterministic targets', async () => {
    const sampler = new SeededSampler({ seed: 9 });
    let greedy = 0;
    let explored = 0;
    // learningStepsTotal 130: ε falls from 1 at step 30 to 0.05 by step 125, so both branches occur.
    await drive('epsilon-greedy', 160, { ...LEARNER, learningStepsTotal: 130 }, ({ agent, t, obs }) => {
      const input = agent.netInput(obs);
      const q = input === null ? null : agent.network.q(input, 1, null);
      const eps = agent.epsilon(t);
      return (d, rep) => {
        expect(d.masks).toBeNull();
        expect(d.epsilon).toBe(eps);
        if (t < burnInSteps) expect(d.random).toBe(true);
        else if (d.random) explored++;
        else {
          expect(d.action).toBe(argmax(q!));
          greedy++;
        }
        if (rep.trained) {
          const b = rep.batch!;
          expect(b.targetMasks).toBeNull();
          const B = b.slots.length;
          agent.network.sites.forEach((site, k) => {
            expect(b.masks![k]).toEqual(sampler.sample({ site, siteIndex: k, firstSample: t, count: 1, rows: B, scope: 'point' }).data);
          });
        }
      };
    });
    expect(greedy).toBeGreaterThan(40);
    expect(explored).toBeGreaterThan(10);
  });

  it('both policies start from the same network for a seed', async () => {
    const rt = await openTf();
    await rt.run(() => {
      const a = new DqnAgent(rt.tf, { policy: 'thompson', seed: 4, observationSize: 27, numActions: 5 });
      const b = new DqnAgent(rt.tf, { policy: 'epsilon-greedy', seed: 4, observationSize: 27, numActions: 5 });
      expect(a.network.parameters()).toEqual(b.network.parameters());
      a.dispose();
      b.dispose();
    });
  });
});

describe('runComparison', () => {
  it('summarises per policy and batch: mean, ±1 s.e. band, min/max, first batch above 1', async () => {
    const r = await runComparison({ seeds: [1, 2], ...SMALL, learner: LEARNER });
    expect(r.runs).toHaveLength(4);
    expect(r.config).toMatchObject({ seeds: [1, 2], batches: 6, stepsPerBatch: 20, burnInBatches: 3, parallel: 1 });
    for (const policy of ['thompson', 'epsilon-greedy'] as const) {
      const s = r.policies[policy];
      const runs = r.runs.filter((x) => x.policy === policy);
      expect(s.seeds).toEqual([1, 2]);
      expect(s.mean).toHaveLength(6);
      s.mean.forEach((m, j) => {
        expect(m).toBeCloseTo((runs[0]!.averageRewardPerBatch[j]! + runs[1]!.averageRewardPerBatch[j]!) / 2, 12);
        expect(s.lo[j]).toBeLessThanOrEqual(m);
        expect(s.hi[j]).toBeGreaterThanOrEqual(m);
        expect(s.min[j]).toBeLessThanOrEqual(s.lo[j]! + 1e-12);
        expect(s.max[j]).toBeGreaterThanOrEqual(s.hi[j]! - 1e-12);
      });
      expect(s.firstBatchAbove1).toBe(firstAbove(s.mean));
      expect(s.firstBatchAbove1PerSeed).toEqual(runs.map((x) => x.firstBatchAbove1));
    }
  });

  it('band: mean ± standard error over seeds', () => {
    const b = band([
      [1, 2],
      [3, 2],
      [5, 2],
    ]);
    expect(b.mean).toEqual([3, 2]);
    expect(b.standardError[0]).toBeCloseTo(2 / Math.sqrt(3), 12);
    expect(b.lo[1]).toBe(2);
    expect([b.min, b.max]).toEqual([
      [1, 2],
      [5, 2],
    ]);
    expect(firstAbove([0.5, 1, 1.2, 2])).toBe(3);
    expect(firstAbove([0.5])).toBeNull();
  });
});
