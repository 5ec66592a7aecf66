import { describe, expect, it } from 'vitest';
import { DEMO_LEARNER, DqnAgent, epsilonAt, netInputSize, openTf, Prng, QNetwork, ReplayBuffer, resolveLearner, type RlTf } from '../src/index.js';

let rt: RlTf | undefined;
async function tfjs(): Promise<RlTf> {
  rt ??= await openTf();
  return rt;
}

function randomArray(rng: Prng, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rng.float() * 2 - 1) * scale;
  return a;
}

function bernoulliMask(rng: Prng, n: number, p = 0.1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.float() < p ? 0 : 1 / (1 - p);
  return a;
}

describe('QNetwork', () => {
  it('is the demo network: 59 → 50 ReLU → 50 ReLU → 5, one p = 0.1 dropout site before each weight layer, N(0, 1/fan-in) weights, biases 0.1 / 0.1 / 0', async () => {
    const { tf, run } = await tfjs();
    await run(() => {
      const net = new QNetwork(tf, { inputSize: 59, hiddenSizes: [50, 50], outputSize: 5, seed: 3, dropoutRate: 0.1 });
      expect(net.widths).toEqual([59, 50, 50, 5]);
      expect(net.sites.map((s) => [s.name, s.kind, s.rate, s.maskShape])).toEqual([
        ['drop_in', 'bernoulli', 0.1, [59]],
        ['drop_h1', 'bernoulli', 0.1, [50]],
        ['drop_h2', 'bernoulli', 0.1, [50]],
      ]);
      const [W1, b1, W2, b2, W3, b3] = net.parameters();
      const sd = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
      expect(sd(W1!)).toBeCloseTo(Math.sqrt(1 / 59), 1);
      expect(sd(W2!)).toBeCloseTo(Math.sqrt(1 / 50), 1);
      expect(W3!.length).toBe(250);
      expect([...b1!].every((v) => Math.abs(v - 0.1) < 1e-7) && [...b2!].every((v) => Math.abs(v - 0.1) < 1e-7)).toBe(true);
      expect([...b3!]).toEqual([0, 0, 0, 0, 0]);
      const again = new QNetwork(tf, { inputSize: 59, hiddenSizes: [50, 50], outputSize: 5, seed: 3, dropoutRate: 0.1 });
      expect(again.parameters()).toEqual(net.parameters());
      const other = new QNetwork(tf, { inputSize: 59, hiddenSizes: [50, 50], outputSize: 5, seed: 4, dropoutRate: 0.1 });
      expect(other.parameters()[0]).not.toEqual(W1);
      [net, again, other].forEach((n) => n.dispose());
    });
  });

  it('masks are explicit inputs: all-ones masks = the deterministic pass; a zero input mask = a zero input', async () => {
    const { tf, run } = await tfjs();
    await run(() => {
      const net = new QNetwork(tf, { inputSize: 7, hiddenSizes: [6, 4], outputSize: 3, seed: 1, dropoutRate: 0.1 });
      const rng = new Prng(1, 1);
      const x = randomArray(rng, 2 * 7);
      const ones = net.widths.slice(0, -1).map((w) => new Float32Array(2 * w).fill(1));
      const det = net.q(x, 2, null);
      expect(net.q(x, 2, ones)).toEqual(det);
      const zeroIn = [new Float32Array(2 * 7), ones[1]!, ones[2]!];
      expect(net.q(x, 2, zeroIn)).toEqual(net.q(new Float32Array(14), 2, null));
      // One row of masks broadcasts over every row.
      const m = net.widths.slice(0, -1).map((w) => bernoulliMask(rng, w));
      const rowwise = m.map((mk) => new Float32Array([...mk, ...mk]));
      expect(net.q(x, 2, m)).toEqual(net.q(x, 2, rowwise));
      net.dispose();
    });
  });

  it("train() is one SGD step on ½(Q(s,a) − y)² with the batch's masks, y = r + γ max Q(s′) under the target masks, as tf.grads computes it", async () => {
    const { tf, run } = await tfjs();
    await run(() => {
      const spec = { inputSize: 9, hiddenSizes: [8, 6], outputSize: 4, seed: 11, dropoutRate: 0.1 };
      const net = new QNetwork(tf, spec);
      const rng = new Prng(2, 2);
      const B = 16;
      const widths = net.widths.slice(0, -1);
      const batch = {
        rows: B,
        states: randomArray(rng, B * 9, 2),
        nextStates: randomArray(rng, B * 9, 2),
        actions: Int32Array.from({ length: B }, () => rng.int(0, 4)),
        rewards: randomArray(rng, B, 3),
        masks: widths.map((w) => bernoulliMask(rng, B * w, 0.3)),
        targetMasks: widths.map((w) => bernoulliMask(rng, B * w, 0.3)),
      };
      const sgd = { learningRate: 0.05, l2Decay: 0.01, gamma: 0.7 };
      const before = net.parameters();

      // Expected: autograd on the same loss, weight decay λ·W (not on biases), both / B.
      const expected = tf.tidy(() => {
        const m2 = (ms: Float32Array[]) => ms.map((m, k) => tf.tensor2d(m, [B, widths[k]!]));
        const q1 = net.forwardTensors(tf.tensor2d(batch.nextStates, [B, 9]), m2(batch.targetMasks)).q;
        const y = tf.add(tf.tensor1d(batch.rewards), tf.mul(tf.max(q1, 1), sgd.gamma));
        const onehot = tf.cast(tf.oneHot(tf.tensor1d(batch.actions, 'int32'), 4), 'float32');
        const x = tf.tensor2d(batch.states, [B, 9]);
        const masks = m2(batch.masks);
        const vars = net.variables();
        const { grads } = tf.variableGrads(() => {
          const q = net.forwardTensors(x, masks).q;
          return tf.mul(tf.sum(tf.square(tf.sub(tf.sum(tf.mul(q, onehot), 1), y))), 0.5) as ReturnType<typeof tf.scalar>;
        }, vars);
        return vars.map((v, i) => {
          const g = grads[v.name]!;
          const decay = i % 2 === 0 ? tf.mul(v, sgd.l2Decay) : tf.zerosLike(v);
          return tf
            .sub(v, tf.mul(tf.div(tf.add(g, decay), B), sgd.learningRate))
            .dataSync()
            .slice() as Float32Array;
        });
      });
      const loss = net.train(batch, sgd, true);
      const after = net.parameters();
      expect(loss).toBeGreaterThan(0);
      after.forEach((p, i) => {
        expect(p.length).toBe(expected[i]!.length);
        let maxDiff = 0;
        let maxStep = 0;
        for (let j = 0; j < p.length; j++) {
          maxDiff = Math.max(maxDiff, Math.abs(p[j]! - expected[i]![j]!));
          maxStep = Math.max(maxStep, Math.abs(p[j]! - before[i]![j]!));
        }
        expect(maxDiff).toBeLessThan(1e-6);
        expect(maxStep).toBeGreaterThan(1e-6); // the step actually moved every parameter tensor
      });
      net.dispose();
    });
  });
});

describe('learner pieces', () => {
  it("ε follows the demo's schedule: 1 through burn-in, linear to 0.05 at learning_steps_total", () => {
    const o = { burnInSteps: 3000, learningStepsTotal: 200000, epsilonMin: 0.05 };
    expect(epsilonAt(0, o)).toBe(1);
    expect(epsilonAt(3000, o)).toBe(1);
    expect(epsilonAt(3000 + 98500, o)).toBeCloseTo(0.5, 12);
    expect(epsilonAt(190000, o)).toBeCloseTo(1 - 187000 / 197000, 12);
    expect(epsilonAt(199000, o)).toBe(0.05);
    expect(epsilonAt(10 ** 7, o)).toBe(0.05);
  });

  it('has the demo settings and refuses unknown or bad ones', () => {
    expect(DEMO_LEARNER).toMatchObject({
      gamma: 0.7,
      learningRate: 0.001,
      batchSize: 64,
      l2Decay: 0.01,
      experienceSize: 30000,
      startLearnThreshold: 1000,
      dropoutRate: 0.1,
      temporalWindow: 1,
    });
    expect(netInputSize(27, 5, 1)).toBe(59);
    expect(() => resolveLearner({ gama: 1 } as never)).toThrow(/unknown learner option 'gama'/);
    expect(() => resolveLearner({ dropoutRate: 1 })).toThrow(/dropoutRate must be below 1/);
    expect(() => resolveLearner({ hiddenSizes: [] })).toThrow(/hiddenSizes/);
  });

  it('replay keeps transitions and their mask sets; when full, a random slot is replaced', () => {
    const rng = new Prng(1, 3);
    const buf = new ReplayBuffer(3, 2, 3);
    for (let t = 0; t < 3; t++) {
      const slot = buf.add(
        new Float32Array([t, t]),
        t % 2,
        t / 10,
        new Float32Array([t + 1, t + 1]),
        [new Float32Array([t]), new Float32Array([t, -t])],
        t,
        rng,
      );
      expect(slot).toBe(t);
    }
    expect(buf.maskSet(2, [1, 2])).toEqual([new Float32Array([2]), new Float32Array([2, -2])]);
    const slot = buf.add(new Float32Array([9, 9]), 1, 9, new Float32Array([9, 9]), [new Float32Array([9]), new Float32Array([9, 9])], 9, rng);
    expect(buf.size).toBe(3);
    expect(buf.steps[slot]).toBe(9);
    expect(Array.from(buf.states.subarray(slot * 2, slot * 2 + 2))).toEqual([9, 9]);
  });

  it("builds the demo's state: [x_t, x_(t−1), one-of-k(a_(t−1)) × observation size]", async () => {
    const { tf, run } = await tfjs();
    await run(() => {
      const agent = new DqnAgent(tf, { policy: 'epsilon-greedy', seed: 1, observationSize: 3, numActions: 2, hiddenSizes: [4] });
      const x0 = new Float32Array([0.1, 0.2, 0.3]);
      const x1 = new Float32Array([0.4, 0.5, 0.6]);
      expect(agent.netInput(x0)).toBeNull();
      const d = agent.act(x0);
      expect(d.random).toBe(true);
      agent.learn(0, x1);
      const s = agent.netInput(x1)!;
      const onehot = [0, 0];
      onehot[d.action] = 3;
      expect(Array.from(s)).toEqual(Array.from(new Float32Array([...x1, ...x0, ...onehot])));
      agent.dispose();
    });
  });
});
