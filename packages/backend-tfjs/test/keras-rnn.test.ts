// Recurrent layers (LSTM, GRU with reset_after false and true, SimpleRNN, Bidirectional) with
// input and recurrent dropout: the deterministic pass equals tfjs-layers' predict, and with
// random masks the graph equals a plain JS time loop that applies one mask per sequence at every
// step (inputs·m before the kernel, h_{t−1}·m_h before the recurrent kernel — and in GRU's update).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadLayersModelFile } from '../src/keras-node.js';
import { deterministicMasks, graphMasks, predict, relErr, runGraph, saveLayersModel, tempDir, wave, type Rows } from './helpers.js';

tf.env().set('IS_TEST', true);
beforeAll(async () => {
  await tf.setBackend('cpu');
});

type Cell = 'LSTM' | 'GRU' | 'SimpleRNN';
type Fn = (v: number) => number;
const sigmoid: Fn = (v) => 1 / (1 + Math.exp(-v));
const hardSigmoid: Fn = (v) => Math.min(1, Math.max(0, 0.2 * v + 0.5));

interface RnnWeights {
  readonly kernel: Float32Array; // [D, g·u]
  readonly rec: Float32Array; // [u, g·u]
  readonly bias: Float32Array | null; // [g·u], or [2, 3u] for GRU reset_after
}

/** One sequence x [T·D] through a Keras RNN, masks fixed over time; returns every step's h. */
function rnnRef(
  cell: Cell,
  x: ArrayLike<number>,
  steps: number,
  inDim: number,
  units: number,
  w: RnnWeights,
  opts: { mx?: ArrayLike<number>; mh?: ArrayLike<number>; recAct: Fn; backwards?: boolean; resetAfter?: boolean },
): number[][] {
  const g = (cell === 'LSTM' ? 4 : cell === 'GRU' ? 3 : 1) * units;
  let h = new Array<number>(units).fill(0);
  let c = new Array<number>(units).fill(0);
  const out: number[][] = [];
  for (let k = 0; k < steps; k++) {
    const t = opts.backwards ? steps - 1 - k : k;
    const xt = Array.from({ length: inDim }, (_, d) => x[t * inDim + d]! * (opts.mx?.[d] ?? 1));
    const hm = h.map((v, j) => v * (opts.mh?.[j] ?? 1));
    const xw = Array.from({ length: g }, (_, j) => xt.reduce((a, v, d) => a + v * w.kernel[d * g + j]!, 0) + (w.bias ? w.bias[j]! : 0));
    const hu = (hv: number[], from: number, to: number) =>
      Array.from(
        { length: to - from },
        (_, j) => hv.reduce((a, v, i) => a + v * w.rec[i * g + from + j]!, 0) + (opts.resetAfter && w.bias ? w.bias[g + from + j]! : 0),
      );
    if (cell === 'LSTM') {
      const z = hu(hm, 0, g).map((v, j) => v + xw[j]!);
      const gate = (q: number, f: Fn) => Array.from({ length: units }, (_, j) => f(z[q * units + j]!));
      const [i, f, cc, o] = [gate(0, opts.recAct), gate(1, opts.recAct), gate(2, Math.tanh), gate(3, opts.recAct)];
      c = c.map((v, j) => f[j]! * v + i[j]! * cc[j]!);
      h = c.map((v, j) => o[j]! * Math.tanh(v));
    } else if (cell === 'GRU') {
      const inner = hu(hm, 0, opts.resetAfter ? g : 2 * units);
      const z = Array.from({ length: units }, (_, j) => opts.recAct(xw[j]! + inner[j]!));
      const r = Array.from({ length: units }, (_, j) => opts.recAct(xw[units + j]! + inner[units + j]!));
      const recH = opts.resetAfter
        ? r.map((v, j) => v * inner[2 * units + j]!)
        : hu(
            hm.map((v, j) => v * r[j]!),
            2 * units,
            g,
          );
      const hh = Array.from({ length: units }, (_, j) => Math.tanh(xw[2 * units + j]! + recH[j]!));
      h = hm.map((v, j) => z[j]! * v + (1 - z[j]!) * hh[j]!);
    } else {
      const z = hu(hm, 0, g);
      h = z.map((v, j) => Math.tanh(v + xw[j]!));
    }
    out.push(h);
  }
  return out;
}

function denseRef(h: number[], kernel: Float32Array, bias: Float32Array): number[] {
  const units = bias.length;
  return Array.from({ length: units }, (_, o) => h.reduce((a, v, i) => a + v * kernel[i * units + o]!, bias[o]!));
}

/** Row r of S·N rows (sample-major) of a mask [S, 1|N, k]. */
function maskRow(m: Rows, r: number, n: number): Float32Array {
  const k = m.data.length / (m.dims[0]! * m.dims[1]!);
  const s = Math.floor(r / n);
  const i = m.dims[1] === 1 ? 0 : r % n;
  return m.data.subarray((s * m.dims[1]! + i) * k, (s * m.dims[1]! + i + 1) * k);
}

const STEPS = 5;
const IN = 3;
const UNITS = 4;

describe.each([
  ['LSTM', false, false],
  ['LSTM', true, true],
  ['GRU', false, true],
  ['GRU', true, false],
  ['SimpleRNN', true, false],
  ['SimpleRNN', false, true],
] as const)('%s (return_sequences %s, go_backwards %s) with dropout and recurrent_dropout', (cell, returnSequences, goBackwards) => {
  it('sites, the deterministic pass = predict, random masks = a JS time loop', async () => {
    const args = { units: UNITS, dropout: 0.3, recurrentDropout: 0.25, returnSequences, goBackwards, inputShape: [STEPS, IN], name: 'rnn' };
    const layer =
      cell === 'LSTM' ? tf.layers.lstm(args) : cell === 'GRU' ? tf.layers.gru({ ...args, recurrentActivation: 'sigmoid' }) : tf.layers.simpleRNN(args);
    const m = tf.sequential();
    m.add(layer);
    m.add(tf.layers.dense({ units: 2, name: 'out' }));
    // Non-zero biases.
    const rw = layer.getWeights();
    layer.setWeights([rw[0]!, rw[1]!, tf.tidy(() => tf.mul(tf.randomNormal(rw[2]!.shape, 0, 1, 'float32', 3), 0.5))]);
    const n = 2;
    const x = { data: wave(n * STEPS * IN), dims: [n, STEPS, IN] };
    const [want] = predict(m, [x]);
    const path = await saveLayersModel(m, tempDir());
    const graph = await loadLayersModelFile(path);
    expect(graph.sites.map((s) => [s.name, s.kind, s.rate, [...s.maskShape], s.origin])).toEqual([
      ['rnn/dropout', 'bernoulli', 0.3, [IN], { op: cell, node: 'rnn' }],
      ['rnn/recurrent_dropout', 'bernoulli', 0.25, [UNITS], { op: cell, node: 'rnn' }],
    ]);
    const node = graph.nodes.find((nd) => nd.name === 'rnn')!;
    expect(node.sites).toEqual(['rnn/dropout', 'rnn/recurrent_dropout']);
    expect(graph.outputs[0]!.dims).toEqual(returnSequences ? [STEPS, 2] : [2]);

    const [det] = runGraph(graph, { rnn_input: x }, deterministicMasks(graph));
    expect(relErr(det!.data, want!)).toBeLessThan(1e-5);

    const s = 3;
    for (const scope of ['sample', 'point'] as const) {
      const masks = graphMasks(graph, s, n, scope, 5);
      const [got] = runGraph(graph, { rnn_input: x }, masks, s);
      const [k, r, b] = layer.getWeights().map((t) => t.dataSync() as Float32Array);
      const [dk, db] = m
        .getLayer('out')
        .getWeights()
        .map((t) => t.dataSync() as Float32Array);
      const ref: number[] = [];
      for (let row = 0; row < s * n; row++) {
        const seq = x.data.subarray((row % n) * STEPS * IN, ((row % n) + 1) * STEPS * IN);
        const hs = rnnRef(
          cell,
          seq,
          STEPS,
          IN,
          UNITS,
          { kernel: k!, rec: r!, bias: b! },
          {
            mx: maskRow(masks['rnn/dropout']!, row, n),
            mh: maskRow(masks['rnn/recurrent_dropout']!, row, n),
            recAct: cell === 'GRU' ? sigmoid : hardSigmoid,
            backwards: goBackwards,
          },
        );
        for (const h of returnSequences ? hs : [hs.at(-1)!]) ref.push(...denseRef(h, dk!, db!));
      }
      expect(got!.dims).toEqual([s * n, ...(returnSequences ? [STEPS, 2] : [2])]);
      expect(relErr(got!.data, ref)).toBeLessThan(1e-5);
      // Masks really drop something, and a dropped input changes the output.
      expect(masks['rnn/dropout']!.data.some((v) => v === 0)).toBe(true);
    }
    m.dispose();
  });
});

describe('GRU with reset_after (Keras 2/3 default, written by Keras: tfjs-layers cannot build it)', () => {
  it('bias [2, 3u]: input and recurrent bias; masks as Keras applies them', async () => {
    const dir = tempDir();
    const g = 3 * UNITS;
    const kernel = wave(IN * g, 0.7, 0.2).map((v) => v * 0.5);
    const rec = wave(UNITS * g, 0.3, 1.7).map((v) => v * 0.5);
    const bias = wave(2 * g, 1.1, 0.4).map((v) => v * 0.3);
    const dk = wave(UNITS * 2, 0.9, 0.5);
    const db = Float32Array.of(0.1, -0.2);
    const all = [kernel, rec, bias, dk, db];
    const bin = new Float32Array(all.reduce((a, w) => a + w.length, 0));
    let o = 0;
    for (const w of all) {
      bin.set(w, o);
      o += w.length;
    }
    writeFileSync(join(dir, 'group1-shard1of1.bin'), new Uint8Array(bin.buffer));
    const layers = [
      { class_name: 'InputLayer', config: { name: 'seq', batch_input_shape: [null, STEPS, IN], dtype: 'float32' } },
      {
        class_name: 'GRU',
        config: {
          name: 'gru',
          units: UNITS,
          activation: 'tanh',
          recurrent_activation: 'sigmoid',
          use_bias: true,
          dropout: 0.2,
          recurrent_dropout: 0.4,
          reset_after: true,
          return_sequences: false,
          implementation: 2,
        },
      },
      { class_name: 'Dense', config: { name: 'head', units: 2, activation: 'linear' } },
    ];
    const manifest = [
      ['gru/gru_cell/kernel', [IN, g]],
      ['gru/gru_cell/recurrent_kernel', [UNITS, g]],
      ['gru/gru_cell/bias', [2, g]],
      ['head/kernel', [UNITS, 2]],
      ['head/bias', [2]],
    ].map(([name, shape]) => ({ name, shape, dtype: 'float32' }));
    writeFileSync(
      join(dir, 'model.json'),
      JSON.stringify({
        format: 'layers-model',
        modelTopology: { keras_version: '2.15.0', backend: 'tensorflow', model_config: { class_name: 'Sequential', config: { name: 'sequential', layers } } },
        weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: manifest }],
      }),
    );
    const graph = await loadLayersModelFile(join(dir, 'model.json'));
    expect(graph.nodes.find((n) => n.name === 'gru')!.attrs['resetAfter']).toBe(true);
    const n = 3;
    const s = 2;
    const x = { data: wave(n * STEPS * IN, 0.5, 0.9), dims: [n, STEPS, IN] };
    for (const masks of [deterministicMasks(graph), graphMasks(graph, s, n, 'point', 9)]) {
      const samples = masks['gru/dropout']!.dims[0]!;
      const [got] = runGraph(graph, { seq: x }, masks, samples);
      const ref: number[] = [];
      for (let row = 0; row < samples * n; row++) {
        const hs = rnnRef(
          'GRU',
          x.data.subarray((row % n) * STEPS * IN, ((row % n) + 1) * STEPS * IN),
          STEPS,
          IN,
          UNITS,
          { kernel, rec, bias },
          {
            mx: samples === 1 ? undefined : maskRow(masks['gru/dropout']!, row, n),
            mh: samples === 1 ? undefined : maskRow(masks['gru/recurrent_dropout']!, row, n),
            recAct: sigmoid,
            resetAfter: true,
          },
        );
        ref.push(...denseRef(hs.at(-1)!, dk, db));
      }
      expect(relErr(got!.data, ref)).toBeLessThan(1e-5);
    }
  });
});

describe('Bidirectional', () => {
  it.each(['concat', 'sum', 'ave', 'mul'] as const)('LSTM with dropout, merge_mode %s: predict and masks', async (mergeMode) => {
    const inner = tf.layers.lstm({ units: UNITS, dropout: 0.2, recurrentDropout: 0.3, returnSequences: true, name: 'l' }) as tf.RNN;
    const m = tf.sequential();
    m.add(tf.layers.bidirectional({ layer: inner, mergeMode, inputShape: [STEPS, IN], name: 'bi' }));
    m.add(tf.layers.dense({ units: 2, name: 'out' }));
    const n = 2;
    const x = { data: wave(n * STEPS * IN), dims: [n, STEPS, IN] };
    const [want] = predict(m, [x]);
    const graph = await loadLayersModelFile(await saveLayersModel(m, tempDir()));
    expect(graph.sites.map((s) => s.name)).toEqual([
      'bi/forward/dropout',
      'bi/forward/recurrent_dropout',
      'bi/backward/dropout',
      'bi/backward/recurrent_dropout',
    ]);
    const [det] = runGraph(graph, { bi_input: x }, deterministicMasks(graph));
    expect(relErr(det!.data, want!)).toBeLessThan(1e-5);

    const s = 2;
    const masks = graphMasks(graph, s, n, 'point', 3);
    const [got] = runGraph(graph, { bi_input: x }, masks, s);
    const w = m
      .getLayer('bi')
      .getWeights()
      .map((t) => t.dataSync() as Float32Array);
    const [dk, db] = m
      .getLayer('out')
      .getWeights()
      .map((t) => t.dataSync() as Float32Array);
    const ref: number[] = [];
    for (let row = 0; row < s * n; row++) {
      const seq = x.data.subarray((row % n) * STEPS * IN, ((row % n) + 1) * STEPS * IN);
      const run = (k: number, dir: 'forward' | 'backward') =>
        rnnRef(
          'LSTM',
          seq,
          STEPS,
          IN,
          UNITS,
          { kernel: w[k]!, rec: w[k + 1]!, bias: w[k + 2]! },
          {
            mx: maskRow(masks[`bi/${dir}/dropout`]!, row, n),
            mh: maskRow(masks[`bi/${dir}/recurrent_dropout`]!, row, n),
            recAct: hardSigmoid,
            backwards: dir === 'backward',
          },
        );
      const f = run(0, 'forward');
      const b = run(3, 'backward').reverse();
      for (let t = 0; t < STEPS; t++) {
        const merged =
          mergeMode === 'concat'
            ? [...f[t]!, ...b[t]!]
            : f[t]!.map((v, j) => (mergeMode === 'sum' ? v + b[t]![j]! : mergeMode === 'mul' ? v * b[t]![j]! : (v + b[t]![j]!) / 2));
        ref.push(...denseRef(merged, dk!, db!));
      }
    }
    expect(relErr(got!.data, ref)).toBeLessThan(1e-5);
    m.dispose();
  });
});

describe('recurrent layers: what is refused', () => {
  it('stateful and dropout ≥ 1', async () => {
    const m = tf.sequential();
    m.add(tf.layers.simpleRNN({ units: 2, inputShape: [3, 2], name: 's' }));
    const path = await saveLayersModel(m, tempDir());
    m.dispose();
    const { readFileSync } = await import('node:fs');
    const edit = (f: (c: Record<string, unknown>) => void) => {
      const json = JSON.parse(readFileSync(path, 'utf8'));
      f(json.modelTopology.config.layers[0].config);
      writeFileSync(path, JSON.stringify(json));
    };
    edit((c) => (c['stateful'] = true));
    await expect(loadLayersModelFile(path)).rejects.toMatchObject({ code: 'E_UNSUPPORTED', message: expect.stringMatching(/SimpleRNN layer 's' is stateful/) });
    edit((c) => {
      c['stateful'] = false;
      c['dropout'] = 1;
    });
    await expect(loadLayersModelFile(path)).rejects.toMatchObject({ code: 'E_SITE', message: expect.stringMatching(/'s' needs dropout in \[0, 1\)/) });
  });
});
