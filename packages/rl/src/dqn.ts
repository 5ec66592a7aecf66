import { McuError, SeededSampler, type StochasticSite } from '@mcu/core';
import type { Tf } from '@mcu/backend-tfjs';
import { checkSeed, Prng, STREAMS } from './prng.js';

type Tensor = ReturnType<Tf['tensor']>;
type Tensor2D = ReturnType<Tf['tensor2d']>;
type Variable = ReturnType<Tf['variable']>;

/*
 * A deep Q-learner after ConvNetJS's deepqlearn.Brain with the settings of the rldemo page
 * (the paper's §5.4): state = the current observation, then for each of `temporalWindow` earlier
 * steps its observation and its action as a one-of-k vector scaled by the observation size;
 * Q-network = fc 50 ReLU → fc 50 ReLU → fc (one output per action), initial weights
 * N(0, 1/fan-in), biases 0.1 before ReLUs and 0 at the output; experience replay of 30 000
 * transitions (a random one replaced when full); learning once more than 1000 are stored, one
 * minibatch of 64 (drawn with replacement) per step, target r + γ max_a Q(s′, a) with γ = 0.7,
 * loss ½(Q(s, a) − target)² on the taken action, plain SGD (learning rate 0.001, momentum 0) with
 * L2 decay 0.01 on weights (not biases) — convnetjs's trainer divides the summed gradient and the
 * decay term by the batch size; ε-greedy: ε = min(1, max(0.05, 1 − (t − burn-in)/(200 000 − burn-in))).
 *
 * Dropout (the paper's addition): p = 0.1 before every weight layer, as explicit mask inputs
 * multiplied into the layer's input. Every mask comes from @mcu/core's counter-based sampler,
 * so it is a function of (seed, sample index, site, row):
 *  - Thompson sampling: at step t ONE mask set, sample index t (scope `sample`), gives one
 *    sampled Q-function; the agent acts greedily under it, and the transition keeps those masks:
 *    replaying it (the target's forward pass, the forward and the backward pass) uses them again.
 *  - ε-greedy: acts under the deterministic network (masks = their mean, 1); its training
 *    minibatch at step t takes fresh masks, sample index t, scope `point`, row = minibatch slot;
 *    its targets use the deterministic network (the demo's target is a test-mode pass).
 */

export type Policy = 'thompson' | 'epsilon-greedy';
export const POLICIES: readonly Policy[] = ['thompson', 'epsilon-greedy'];

/** The demo's learner settings (convnetjs rldemo.html; dropout from the paper). */
export const DEMO_LEARNER = {
  hiddenSizes: [50, 50] as readonly number[],
  temporalWindow: 1,
  dropoutRate: 0.1,
  gamma: 0.7,
  learningRate: 0.001,
  l2Decay: 0.01,
  batchSize: 64,
  experienceSize: 30000,
  startLearnThreshold: 1000,
  learningStepsTotal: 200000,
  epsilonMin: 0.05,
  /** The demo's learning_steps_burnin: random moves before the policy acts. */
  burnInSteps: 3000,
} as const;

export interface LearnerOptions {
  readonly hiddenSizes?: readonly number[];
  readonly temporalWindow?: number;
  readonly dropoutRate?: number;
  readonly gamma?: number;
  readonly learningRate?: number;
  readonly l2Decay?: number;
  readonly batchSize?: number;
  readonly experienceSize?: number;
  readonly startLearnThreshold?: number;
  readonly learningStepsTotal?: number;
  readonly epsilonMin?: number;
  /** Steps of random moves before either policy acts (and where ε's schedule starts). */
  readonly burnInSteps?: number;
}

export type ResolvedLearner = { -readonly [K in keyof typeof DEMO_LEARNER]: (typeof DEMO_LEARNER)[K] extends readonly number[] ? readonly number[] : number };

export function resolveLearner(o: LearnerOptions = {}): ResolvedLearner {
  const r: ResolvedLearner = { ...DEMO_LEARNER };
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    if (!(k in DEMO_LEARNER)) throw new McuError('E_CONFIG', `unknown learner option '${k}'; known: ${Object.keys(DEMO_LEARNER).join(', ')}`);
    if (k === 'hiddenSizes') {
      if (!Array.isArray(v) || v.length === 0 || !v.every((n) => Number.isInteger(n) && n > 0)) {
        throw new McuError('E_CONFIG', `learner option hiddenSizes must be a non-empty list of positive integers, got ${JSON.stringify(v)}`);
      }
    } else if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new McuError('E_CONFIG', `learner option ${k} must be a finite number ≥ 0, got ${String(v)}`);
    }
    (r as Record<string, unknown>)[k] = v;
  }
  if (!(r.dropoutRate < 1)) throw new McuError('E_CONFIG', `learner option dropoutRate must be below 1, got ${r.dropoutRate}`);
  for (const k of ['temporalWindow', 'batchSize', 'experienceSize', 'startLearnThreshold', 'learningStepsTotal', 'burnInSteps'] as const) {
    if (!Number.isInteger(r[k])) throw new McuError('E_CONFIG', `learner option ${k} must be an integer, got ${r[k]}`);
  }
  if (r.batchSize < 1 || r.experienceSize < 1) throw new McuError('E_CONFIG', 'learner options batchSize and experienceSize must be ≥ 1');
  return r;
}

/** The demo's ε schedule at step t (t = the number of steps taken so far). */
export function epsilonAt(t: number, o: Pick<ResolvedLearner, 'burnInSteps' | 'learningStepsTotal' | 'epsilonMin'>): number {
  const span = Math.max(1, o.learningStepsTotal - o.burnInSteps);
  return Math.min(1, Math.max(o.epsilonMin, 1 - (t - o.burnInSteps) / span));
}

/** Network input size: observation·window + actions·window + observation (deepqlearn's net_inputs). */
export function netInputSize(observationSize: number, numActions: number, temporalWindow: number): number {
  return observationSize * temporalWindow + numActions * temporalWindow + observationSize;
}

export interface QNetworkSpec {
  readonly inputSize: number;
  readonly hiddenSizes: readonly number[];
  readonly outputSize: number;
  /** Seed of the initial weights. */
  readonly seed: number;
  readonly dropoutRate: number;
}

/** One replayed minibatch: rows × input states, masks per site (rows × width), null = mean masks. */
export interface TrainBatch {
  readonly rows: number;
  readonly states: Float32Array;
  readonly actions: Int32Array;
  readonly rewards: Float32Array;
  readonly nextStates: Float32Array;
  readonly masks: readonly Float32Array[] | null;
  readonly targetMasks: readonly Float32Array[] | null;
}

export interface SgdSettings {
  readonly learningRate: number;
  readonly l2Decay: number;
  readonly gamma: number;
}

/**
 * The Q-network in TensorFlow.js: dense layers x·W + b, ReLU between them, and one dropout site
 * (a mask input multiplied into the layer's input) before every weight layer. Gradients are
 * written out (the backward pass of this small MLP is a dozen ops, the masks entering as the
 * same constants as in the forward pass); a test checks them against tf.grads. Every method is
 * synchronous and must run where the tfjs engine has this network's backend active.
 */
export class QNetwork {
  readonly tf: Tf;
  readonly inputSize: number;
  readonly outputSize: number;
  /** Layer widths: [input, ...hidden, output]. */
  readonly widths: readonly number[];
  /** Dropout sites, one before each weight layer: maskShape [width of that layer's input]. */
  readonly sites: readonly StochasticSite[];
  readonly #weights: Variable[] = [];
  readonly #biases: Variable[] = [];
  #disposed = false;

  constructor(tf: Tf, spec: QNetworkSpec) {
    this.tf = tf;
    this.inputSize = spec.inputSize;
    this.outputSize = spec.outputSize;
    this.widths = [spec.inputSize, ...spec.hiddenSizes, spec.outputSize];
    const names = ['drop_in', ...spec.hiddenSizes.map((_, k) => `drop_h${k + 1}`)];
    this.sites = names.map((name, k) => ({
      name,
      kind: 'bernoulli',
      rate: spec.dropoutRate,
      maskShape: [this.widths[k]!],
      origin: { op: 'dropout', node: `before dense${k + 1}` },
    }));
    const rng = new Prng(checkSeed(spec.seed), STREAMS.weights);
    for (let k = 0; k + 1 < this.widths.length; k++) {
      const fanIn = this.widths[k]!;
      const out = this.widths[k + 1]!;
      const w = new Float32Array(fanIn * out);
      const scale = Math.sqrt(1 / fanIn);
      // convnetjs draws neuron by neuron (a filter of fanIn weights each); W[i, o] is filter o's weight i.
      for (let o = 0; o < out; o++) for (let i = 0; i < fanIn; i++) w[i * out + o] = rng.normal() * scale;
      const last = k + 2 === this.widths.length;
      // A variable shares its initial tensor's data (reference-counted): drop the initial handles.
      const wt = tf.tensor2d(w, [fanIn, out]);
      const bt = tf.fill([out], last ? 0 : 0.1);
      this.#weights.push(tf.variable(wt));
      this.#biases.push(tf.variable(bt));
      wt.dispose();
      bt.dispose();
    }
  }

  get layers(): number {
    return this.#weights.length;
  }

  /** Q-values for `rows` states (rows × inputSize); masks per site (rows × width, or one row broadcast), null: means. */
  q(states: Float32Array, rows: number, masks: readonly Float32Array[] | null = null): Float32Array {
    this.#check();
    const tf = this.tf;
    return tf.tidy(() => {
      const x = tf.tensor2d(states, [rows, this.inputSize]);
      const m = masks === null ? null : this.#maskTensors(masks, rows);
      return this.#forward(x, m).q.dataSync() as Float32Array;
    });
  }

  /**
   * One SGD step on a minibatch, convnetjs's way: the gradient of Σ_rows ½(Q(s,a) − y)² plus
   * λ·W, divided by the batch size, times the learning rate. y = r + γ max_a′ Q(s′, a′) is a
   * constant (computed first, under `targetMasks`). Returns the mean loss when asked (one read-back).
   */
  train(batch: TrainBatch, sgd: SgdSettings, wantLoss = false): number | undefined {
    this.#check();
    const tf = this.tf;
    const B = batch.rows;
    const L = this.layers;
    let loss: number | undefined;
    tf.tidy(() => {
      const s1 = tf.tensor2d(batch.nextStates, [B, this.inputSize]);
      const mt = batch.targetMasks === null ? null : this.#maskTensors(batch.targetMasks, B);
      const q1 = this.#forward(s1, mt).q;
      const y = tf.add(tf.tensor1d(batch.rewards), tf.mul(tf.max(q1, 1), sgd.gamma));
      const x = tf.tensor2d(batch.states, [B, this.inputSize]);
      const m = batch.masks === null ? null : this.#maskTensors(batch.masks, B);
      const f = this.#forward(x, m);
      // Built here: tfjs-wasm 4.22's OneHot with dtype float32 writes integer bit patterns (1 → 1.4e-45).
      const oh = new Float32Array(B * this.outputSize);
      for (let i = 0; i < B; i++) oh[i * this.outputSize + batch.actions[i]!] = 1;
      const onehot = tf.tensor2d(oh, [B, this.outputSize]);
      const diff = tf.sub(tf.sum(tf.mul(f.q, onehot), 1), y);
      if (wantLoss) loss = (tf.mean(tf.square(diff)).dataSync()[0]! as number) / 2;
      // dz of the output layer, with lr/B folded in: every gradient below comes out as its update.
      let dz: Tensor2D = tf.mul(onehot, tf.reshape(tf.mul(diff, sgd.learningRate / B), [B, 1]));
      const decay = 1 - (sgd.learningRate * sgd.l2Decay) / B;
      for (let k = L - 1; k >= 0; k--) {
        const W = this.#weights[k]!;
        const b = this.#biases[k]!;
        const h = f.inputs[k]!;
        // tfjs-wasm's transposed matMul is ~5× slower than an explicit transpose then matMul.
        const dW = tf.matMul(tf.transpose(h), dz);
        const db = tf.sum(dz, 0);
        if (k > 0) {
          let dh: Tensor2D = tf.matMul(dz, tf.transpose(W));
          if (m !== null) dh = tf.mul(dh, m[k]!);
          dz = tf.mul(dh, tf.step(f.activations[k - 1]!));
        }
        W.assign(tf.sub(decay === 1 ? W : tf.mul(W, decay), dW));
        b.assign(tf.sub(b, db));
      }
    });
    return loss;
  }

  /** Copies of the parameters [W1, b1, W2, b2, …] (row-major W[i, o]). */
  parameters(): Float32Array[] {
    this.#check();
    const out: Float32Array[] = [];
    for (let k = 0; k < this.layers; k++) {
      out.push(this.#weights[k]!.dataSync().slice() as Float32Array, this.#biases[k]!.dataSync().slice() as Float32Array);
    }
    return out;
  }

  /** Set the parameters (as parameters() returns them). */
  setParameters(params: readonly Float32Array[]): void {
    this.#check();
    for (let k = 0; k < this.layers; k++) {
      const W = this.#weights[k]!;
      const b = this.#biases[k]!;
      this.tf.tidy(() => {
        W.assign(this.tf.tensor2d(params[2 * k]!, W.shape as [number, number]));
        b.assign(this.tf.tensor1d(params[2 * k + 1]!));
      });
    }
  }

  /** The (weight, bias) variables, for tests that differentiate the forward pass with tf.grads. */
  variables(): Variable[] {
    const v: Variable[] = [];
    for (let k = 0; k < this.layers; k++) v.push(this.#weights[k]!, this.#biases[k]!);
    return v;
  }

  /** Forward pass on tensors (inside a tidy): the Q-values and every layer's masked input and activation. */
  forwardTensors(x: Tensor2D, masks: readonly Tensor2D[] | null): { q: Tensor2D; inputs: Tensor2D[]; activations: Tensor2D[] } {
    return this.#forward(x, masks);
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const v of [...this.#weights, ...this.#biases]) v.dispose();
  }

  #check(): void {
    if (this.#disposed) throw new McuError('E_INTERNAL', 'QNetwork used after dispose()');
  }

  #maskTensors(masks: readonly Float32Array[], rows: number): Tensor2D[] {
    if (masks.length !== this.sites.length) {
      throw new McuError('E_INTERNAL', `expected ${this.sites.length} mask arrays (one per site), got ${masks.length}`);
    }
    return masks.map((m, k) => {
      const width = this.widths[k]!;
      if (m.length === width) return this.tf.tensor2d(m, [1, width]);
      if (m.length !== rows * width)
        throw new McuError('E_INTERNAL', `site '${this.sites[k]!.name}': mask of ${m.length} values, expected ${width} or ${rows}×${width}`);
      return this.tf.tensor2d(m, [rows, width]);
    });
  }

  #forward(x: Tensor2D, masks: readonly Tensor2D[] | null): { q: Tensor2D; inputs: Tensor2D[]; activations: Tensor2D[] } {
    const tf = this.tf;
    const inputs: Tensor2D[] = [];
    const activations: Tensor2D[] = [];
    let a: Tensor2D = x;
    for (let k = 0; k < this.layers; k++) {
      const h: Tensor2D = masks === null ? a : tf.mul<Tensor2D>(a, masks[k]!);
      inputs.push(h);
      const last = k + 1 === this.layers;
      a = tf.fused.matMul({ a: h, b: this.#weights[k]! as Tensor as Tensor2D, bias: this.#biases[k]!, activation: last ? 'linear' : 'relu' }) as Tensor2D;
      if (!last) activations.push(a);
    }
    return { q: a, inputs, activations };
  }
}

/** Index of the largest value (the first on ties, as the demo). */
export function argmax(values: ArrayLike<number>, offset = 0, count = values.length - offset): number {
  let best = 0;
  let max = values[offset]!;
  for (let k = 1; k < count; k++) {
    const v = values[offset + k]!;
    if (v > max) {
      max = v;
      best = k;
    }
  }
  return best;
}

/**
 * Experience replay: (s, a, r, s′) and, for Thompson sampling, the transition's mask set and the
 * step it was drawn at. Full → a uniformly chosen slot is overwritten (the demo's finite memory).
 */
export class ReplayBuffer {
  readonly capacity: number;
  readonly inputSize: number;
  /** Values of one mask set (Σ site widths), 0 when no masks are kept. */
  readonly maskSize: number;
  readonly states: Float32Array;
  readonly nextStates: Float32Array;
  readonly actions: Int32Array;
  readonly rewards: Float32Array;
  readonly masks: Float32Array;
  /** The step at which each stored transition was taken (= its masks' sample index). */
  readonly steps: Float64Array;
  #size = 0;

  constructor(capacity: number, inputSize: number, maskSize: number) {
    this.capacity = capacity;
    this.inputSize = inputSize;
    this.maskSize = maskSize;
    this.states = new Float32Array(capacity * inputSize);
    this.nextStates = new Float32Array(capacity * inputSize);
    this.actions = new Int32Array(capacity);
    this.rewards = new Float32Array(capacity);
    this.masks = new Float32Array(capacity * maskSize);
    this.steps = new Float64Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Store a transition; returns its slot. `rng` picks the slot to replace once full. */
  add(state: Float32Array, action: number, reward: number, next: Float32Array, masks: readonly Float32Array[] | null, step: number, rng: Prng): number {
    const slot = this.#size < this.capacity ? this.#size++ : rng.int(0, this.capacity);
    this.states.set(state, slot * this.inputSize);
    this.nextStates.set(next, slot * this.inputSize);
    this.actions[slot] = action;
    this.rewards[slot] = reward;
    this.steps[slot] = step;
    if (this.maskSize > 0) {
      if (masks === null) throw new McuError('E_INTERNAL', 'this replay buffer keeps mask sets: add() needs one');
      let o = slot * this.maskSize;
      for (const m of masks) {
        this.masks.set(m, o);
        o += m.length;
      }
    }
    return slot;
  }

  /** The stored mask set of a slot, split per site. */
  maskSet(slot: number, widths: readonly number[]): Float32Array[] {
    let o = slot * this.maskSize;
    return widths.map((w) => {
      const m = this.masks.slice(o, o + w);
      o += w;
      return m;
    });
  }
}

export interface AgentOptions extends LearnerOptions {
  readonly policy: Policy;
  /** Seeds the initial weights, the agent's random choices and the dropout masks. */
  readonly seed: number;
  readonly observationSize: number;
  readonly numActions: number;
}

export interface Decision {
  readonly step: number;
  readonly action: number;
  /** True when the action was random (burn-in, history still filling, or an ε step). */
  readonly random: boolean;
  /** ε at this step (ε-greedy), 0 for Thompson sampling. */
  readonly epsilon: number;
  /** The network input the action was chosen on (null while the temporal window fills). */
  readonly input: Float32Array | null;
  /** Thompson sampling: this step's mask set (sample index = step), one array per site. */
  readonly masks: readonly Float32Array[] | null;
}

export interface LearnReport {
  readonly stored: number | null;
  readonly trained: boolean;
  readonly loss?: number;
  /** The minibatch's replay slots and the masks it was trained with (when `keepBatch`). */
  readonly batch?: { readonly slots: Int32Array; readonly masks: readonly Float32Array[] | null; readonly targetMasks: readonly Float32Array[] | null };
}

/**
 * The agent: builds the demo's state vector, picks actions by its policy, stores transitions and
 * learns one minibatch per step. Call act(observation) then learn(reward, nextObservation) once
 * per step; both are synchronous (run them where the tfjs backend is active).
 */
export class DqnAgent {
  readonly policy: Policy;
  readonly seed: number;
  readonly learner: ResolvedLearner;
  readonly network: QNetwork;
  readonly replay: ReplayBuffer;
  readonly sampler: SeededSampler;
  readonly observationSize: number;
  readonly numActions: number;
  readonly inputSize: number;
  readonly #rng: Prng;
  readonly #pastObs: Float32Array[] = [];
  readonly #pastActions: number[] = [];
  #step = 0;
  #pending: Decision | null = null;
  #obs: Float32Array | null = null;

  constructor(tf: Tf, options: AgentOptions) {
    if (options.policy !== 'thompson' && options.policy !== 'epsilon-greedy') {
      throw new McuError('E_CONFIG', `policy must be 'thompson' or 'epsilon-greedy', got ${String(options.policy)}`);
    }
    this.policy = options.policy;
    this.seed = checkSeed(options.seed);
    const { policy: _p, seed: _s, observationSize, numActions, ...learner } = options;
    this.learner = resolveLearner(learner);
    this.observationSize = observationSize;
    this.numActions = numActions;
    this.inputSize = netInputSize(observationSize, numActions, this.learner.temporalWindow);
    this.network = new QNetwork(tf, {
      inputSize: this.inputSize,
      hiddenSizes: this.learner.hiddenSizes,
      outputSize: numActions,
      seed: this.seed,
      dropoutRate: this.learner.dropoutRate,
    });
    const maskSize = this.policy === 'thompson' ? this.network.widths.slice(0, -1).reduce((a, b) => a + b, 0) : 0;
    this.replay = new ReplayBuffer(this.learner.experienceSize, this.inputSize, maskSize);
    this.sampler = new SeededSampler({ seed: this.seed });
    this.#rng = new Prng(this.seed, STREAMS.agent);
  }

  /** Steps completed (the index of the next step). */
  get step(): number {
    return this.#step;
  }

  /** Widths of the dropout sites' masks (the network's layer inputs). */
  get maskWidths(): readonly number[] {
    return this.network.widths.slice(0, -1);
  }

  /** The mask set of sample `step` (Thompson sampling's masks at that step): one array per site. */
  masksForStep(step: number): Float32Array[] {
    return this.network.sites.map(
      (site, k) => this.sampler.sample({ site, siteIndex: k, firstSample: step, count: 1, rows: 1, scope: 'sample' }).data as Float32Array,
    );
  }

  /** Fresh minibatch masks of step `step` (ε-greedy's training): row i = minibatch slot i. */
  minibatchMasks(step: number, rows: number): Float32Array[] {
    return this.network.sites.map(
      (site, k) => this.sampler.sample({ site, siteIndex: k, firstSample: step, count: 1, rows, scope: 'point' }).data as Float32Array,
    );
  }

  /** The network input for observation x_t given the history, or null while it is too short. */
  netInput(observation: Float32Array): Float32Array | null {
    const tw = this.learner.temporalWindow;
    if (this.#pastObs.length < tw) return null;
    const n = this.observationSize;
    const out = new Float32Array(this.inputSize);
    out.set(observation, 0);
    let o = n;
    for (let k = 0; k < tw; k++) {
      const back = this.#pastObs.length - 1 - k;
      out.set(this.#pastObs[back]!, o);
      o += n;
      // The demo scales the one-of-k action by the observation size, so that weight decay does
      // not undervalue an input that appears once.
      out[o + this.#pastActions[back]!] = n;
      o += this.numActions;
    }
    return out;
  }

  /** The demo's ε at step t (ε-greedy's schedule; Thompson sampling never uses it). */
  epsilon(t = this.#step): number {
    return epsilonAt(t, this.learner);
  }

  /** Choose the action for observation x_t. */
  act(observation: Float32Array): Decision {
    if (this.#pending !== null) throw new McuError('E_INTERNAL', 'DqnAgent.act twice without learn()');
    if (observation.length !== this.observationSize) {
      throw new McuError('E_CONFIG', `observation has ${observation.length} values, expected ${this.observationSize}`);
    }
    const t = this.#step;
    const input = this.netInput(observation);
    const burnIn = t < this.learner.burnInSteps || input === null;
    let action: number;
    let random = burnIn;
    let masks: Float32Array[] | null = null;
    let epsilon = 0;
    if (this.policy === 'thompson') {
      masks = this.masksForStep(t);
      action = burnIn ? this.#rng.int(0, this.numActions) : argmax(this.network.q(input!, 1, masks));
    } else {
      epsilon = this.epsilon(t);
      if (burnIn) action = this.#rng.int(0, this.numActions);
      else if (this.#rng.float() < epsilon) {
        action = this.#rng.int(0, this.numActions);
        random = true;
      } else action = argmax(this.network.q(input!, 1, null));
    }
    const d: Decision = { step: t, action, random, epsilon, input, masks };
    this.#pending = d;
    this.#obs = observation.slice();
    return d;
  }

  /** Store the transition of the pending action and learn one minibatch (once enough is stored). */
  learn(reward: number, nextObservation: Float32Array, opts: { wantLoss?: boolean; keepBatch?: boolean } = {}): LearnReport {
    const d = this.#pending;
    if (d === null || this.#obs === null) throw new McuError('E_INTERNAL', 'DqnAgent.learn without act()');
    this.#pending = null;
    const tw = this.learner.temporalWindow;
    this.#pastObs.push(this.#obs);
    this.#pastActions.push(d.action);
    if (this.#pastObs.length > Math.max(tw, 1)) {
      this.#pastObs.shift();
      this.#pastActions.shift();
    }
    const next = this.netInput(nextObservation);
    let stored: number | null = null;
    if (d.input !== null && next !== null) stored = this.replay.add(d.input, d.action, reward, next, d.masks, d.step, this.#rng);
    this.#step++;
    if (this.replay.size <= this.learner.startLearnThreshold) return { stored, trained: false };

    const B = this.learner.batchSize;
    const R = this.replay;
    const n = this.inputSize;
    const slots = new Int32Array(B);
    const states = new Float32Array(B * n);
    const nextStates = new Float32Array(B * n);
    const actions = new Int32Array(B);
    const rewards = new Float32Array(B);
    for (let i = 0; i < B; i++) {
      const s = this.#rng.int(0, R.size);
      slots[i] = s;
      states.set(R.states.subarray(s * n, (s + 1) * n), i * n);
      nextStates.set(R.nextStates.subarray(s * n, (s + 1) * n), i * n);
      actions[i] = R.actions[s]!;
      rewards[i] = R.rewards[s]!;
    }
    let masks: Float32Array[];
    let targetMasks: Float32Array[] | null;
    if (this.policy === 'thompson') {
      // Each replayed transition brings the mask set it was acted under.
      const widths = this.maskWidths;
      masks = widths.map((w) => new Float32Array(B * w));
      for (let i = 0; i < B; i++) {
        let o = slots[i]! * R.maskSize;
        widths.forEach((w, k) => {
          masks[k]!.set(R.masks.subarray(o, o + w), i * w);
          o += w;
        });
      }
      targetMasks = masks;
    } else {
      masks = this.minibatchMasks(d.step, B);
      targetMasks = null;
    }
    const loss = this.network.train(
      { rows: B, states, actions, rewards, nextStates, masks, targetMasks },
      { learningRate: this.learner.learningRate, l2Decay: this.learner.l2Decay, gamma: this.learner.gamma },
      opts.wantLoss ?? false,
    );
    return {
      stored,
      trained: true,
      ...(loss !== undefined ? { loss } : {}),
      ...(opts.keepBatch ? { batch: { slots, masks, targetMasks } } : {}),
    };
  }

  dispose(): void {
    this.network.dispose();
  }
}
