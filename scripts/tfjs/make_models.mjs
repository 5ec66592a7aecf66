// Writes the TensorFlow.js layers models of the tfjs ground truth with tfjs-layers itself, so that
// model.json / weights.bin are exactly what `model.save` writes (scripts/tfjs/README.md):
//
//   node scripts/tfjs/make_models.mjs --rnn  DIR   # DIR/<name>/{model.json,weights.bin}, the RNN fixtures
//   node scripts/tfjs/make_models.mjs --twin DIR   # DIR/{model.json,weights.bin}, the example twin
//   node scripts/tfjs/make_models.mjs --verify DIR # run tfjs-layers on DIR/<name> against ref.json
//   node scripts/tfjs/make_models.mjs --twin-predict DIR # tfjs predict on DIR/input.csv, as JSON
//
// Needs the built packages (`pnpm -r build`: the generator comes from @mcu/fixtures). Normally run
// by make_tfjs_fixtures.py (which then computes the answers with PyTorch). Every
// weight is seeded (xorshift32, the generator of scripts/caffe: exact float32 values), nothing
// depends on time or on Math.random, so the output is byte-identical from run to run.
// `gru_reset_after` cannot be built by tfjs-layers (its GRUCell throws on reset_after: true), so
// its model.json is written here as `tensorflowjs_converter --input_format keras` writes a Keras
// 2.x model (model_config wrapper, InputLayer, `gru/gru_cell/kernel` weight names).

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// @tensorflow/tfjs is a dependency of packages/backend-tfjs only (pnpm does not hoist it).
const require = createRequire(path.join(REPO, 'packages', 'backend-tfjs', 'package.json'));
const tf = require('@tensorflow/tfjs');
const TFJS_VERSION = require('@tensorflow/tfjs/package.json').version;

// ------------------------------------------------------------------ the seeded generator
// xorshift32 (13, 17, 5), exact float32 values: the one of the Caffe fixtures (@mcu/fixtures, built).
const { caffeGenFloats: genFloats } = await import('@mcu/fixtures');
/** FNV-1a of a string, never 0: the seed of one weight. */
function seedOf(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h || 1;
}
/** Value range of a weight: kernels ±0.5, recurrent kernels ±0.5, biases ±0.25. */
const expOf = (wname) => (/bias$/.test(wname) ? 2 : 1);

function seedWeights(model, tag) {
  for (const layer of model.layers) {
    const ws = layer.weights;
    if (ws.length === 0) continue;
    layer.setWeights(
      ws.map((w) => {
        const n = w.shape.reduce((a, b) => a * b, 1);
        return tf.tensor(genFloats(seedOf(`${tag}/${w.originalName}`), n, expOf(w.originalName)), w.shape, 'float32');
      }),
    );
  }
}

// ------------------------------------------------------------------ saving (as model.save writes it)
async function save(model, dir) {
  fs.mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      fs.writeFileSync(path.join(dir, 'weights.bin'), new Uint8Array(a.weightData));
      const json = {
        format: a.format,
        generatedBy: a.generatedBy,
        convertedBy: a.convertedBy ?? null,
        modelTopology: a.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
      };
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
    }),
  );
}

// ------------------------------------------------------------------ the RNN models
const T = 6;
const F = 5;
const U = 8;
const rnnCommon = { units: U, recurrentActivation: 'sigmoid' };

function sequentialRnn(name, rnn) {
  const m = tf.sequential({ name: `${name}_model` });
  m.add(rnn);
  m.add(tf.layers.dense({ units: 3, name: 'dense' }));
  return m;
}

const RNN_MODELS = {
  lstm: () => sequentialRnn('lstm', tf.layers.lstm({ ...rnnCommon, inputShape: [T, F], dropout: 0.25, recurrentDropout: 0.3, name: 'lstm' })),
  lstm_seq: () => {
    const inp = tf.input({ shape: [T, F], name: 'input' });
    const h = tf.layers.lstm({ ...rnnCommon, returnSequences: true, dropout: 0.25, recurrentDropout: 0.3, name: 'lstm' }).apply(inp);
    const out = tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 2, name: 'dense' }), name: 'time_distributed' }).apply(h);
    return tf.model({ inputs: inp, outputs: out, name: 'lstm_seq_model' });
  },
  gru_classic: () => sequentialRnn('gru_classic', tf.layers.gru({ ...rnnCommon, inputShape: [T, F], dropout: 0.25, recurrentDropout: 0.3, name: 'gru' })),
  simple_rnn: () =>
    sequentialRnn(
      'simple_rnn',
      tf.layers.simpleRNN({ units: U, activation: 'tanh', inputShape: [T, F], dropout: 0.2, recurrentDropout: 0.4, name: 'simple_rnn' }),
    ),
  lstm_backwards: () =>
    sequentialRnn(
      'lstm_backwards',
      tf.layers.lstm({ ...rnnCommon, inputShape: [T, F], goBackwards: true, dropout: 0.25, recurrentDropout: 0.3, name: 'lstm' }),
    ),
};

/** Keras 2.x (TF 2.11) GRU, reset_after: true, as tensorflowjs_converter writes it. */
function writeGruResetAfter(dir) {
  const tag = 'gru_reset_after';
  const init = (c) => ({ class_name: c, config: c === 'Orthogonal' ? { gain: 1.0, seed: null } : c === 'Zeros' ? {} : { seed: null } });
  const gru = {
    class_name: 'GRU',
    config: {
      name: 'gru',
      trainable: true,
      dtype: 'float32',
      return_sequences: false,
      return_state: false,
      go_backwards: false,
      stateful: false,
      unroll: false,
      time_major: false,
      units: U,
      activation: 'tanh',
      recurrent_activation: 'sigmoid',
      use_bias: true,
      kernel_initializer: init('GlorotUniform'),
      recurrent_initializer: init('Orthogonal'),
      bias_initializer: init('Zeros'),
      kernel_regularizer: null,
      recurrent_regularizer: null,
      bias_regularizer: null,
      activity_regularizer: null,
      kernel_constraint: null,
      recurrent_constraint: null,
      bias_constraint: null,
      dropout: 0.25,
      recurrent_dropout: 0.3,
      implementation: 2,
      reset_after: true,
    },
  };
  const dense = {
    class_name: 'Dense',
    config: {
      name: 'dense',
      trainable: true,
      dtype: 'float32',
      units: 3,
      activation: 'linear',
      use_bias: true,
      kernel_initializer: init('GlorotUniform'),
      bias_initializer: init('Zeros'),
      kernel_regularizer: null,
      bias_regularizer: null,
      activity_regularizer: null,
      kernel_constraint: null,
      bias_constraint: null,
    },
  };
  const input = { class_name: 'InputLayer', config: { batch_input_shape: [null, T, F], dtype: 'float32', sparse: false, ragged: false, name: 'gru_input' } };
  const specs = [
    { name: 'gru/gru_cell/kernel', shape: [F, 3 * U], dtype: 'float32' },
    { name: 'gru/gru_cell/recurrent_kernel', shape: [U, 3 * U], dtype: 'float32' },
    { name: 'gru/gru_cell/bias', shape: [2, 3 * U], dtype: 'float32' },
    { name: 'dense/kernel', shape: [U, 3], dtype: 'float32' },
    { name: 'dense/bias', shape: [3], dtype: 'float32' },
  ];
  const parts = specs.map((s) =>
    genFloats(
      seedOf(`${tag}/${s.name}`),
      s.shape.reduce((a, b) => a * b, 1),
      expOf(s.name),
    ),
  );
  const json = {
    format: 'layers-model',
    generatedBy: 'keras v2.11.0',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    modelTopology: {
      keras_version: '2.11.0',
      backend: 'tensorflow',
      model_config: { class_name: 'Sequential', config: { name: 'gru_reset_after_model', layers: [input, gru, dense] } },
    },
    weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
  };
  fs.mkdirSync(dir, { recursive: true });
  const bytes = Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
  fs.writeFileSync(path.join(dir, 'weights.bin'), bytes);
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
}

async function writeRnn(out) {
  for (const [name, make] of Object.entries(RNN_MODELS)) {
    const m = make();
    seedWeights(m, name);
    await save(m, path.join(out, name));
    m.dispose();
  }
  writeGruResetAfter(path.join(out, 'gru_reset_after'));
}

// ------------------------------------------------------------------ the example twin
async function writeTwin(out) {
  const m = tf.sequential({ name: 'twin' });
  m.add(tf.layers.dense({ units: 32, activation: 'relu', inputShape: [4], name: 'dense' }));
  m.add(tf.layers.dropout({ rate: 0.1, name: 'dropout' }));
  m.add(tf.layers.dense({ units: 32, activation: 'relu', name: 'dense_1' }));
  m.add(tf.layers.dropout({ rate: 0.1, name: 'dropout_1' }));
  m.add(tf.layers.dense({ units: 1, name: 'dense_2' }));
  seedWeights(m, 'twin');
  await save(m, out);
  m.dispose();
}

// ------------------------------------------------------------------ verify: tfjs-layers vs the PyTorch answers
function maskTensor(m) {
  const bits = Buffer.from(m.bits, 'base64');
  const [R, C] = m.shape;
  const d = new Float32Array(R * C);
  for (let i = 0; i < R * C; i++) d[i] = (bits[i >> 3] >> (i & 7)) & 1 ? Math.fround(m.scale) : 0;
  return tf.tensor(d, [R, C]);
}
const maxAbs = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

async function verify(dir) {
  let worst = 0;
  for (const name of fs.readdirSync(dir).sort()) {
    const refPath = path.join(dir, name, 'ref.json');
    if (!fs.existsSync(refPath)) continue;
    const ref = JSON.parse(fs.readFileSync(refPath, 'utf8'));
    const mj = JSON.parse(fs.readFileSync(path.join(dir, name, 'model.json'), 'utf8'));
    if (mj.modelTopology.model_config) {
      console.log(`${name}: not runnable by tfjs-layers ${TFJS_VERSION} (reset_after: true); PyTorch checks only`);
      continue;
    }
    const model = await loadDir(path.join(dir, name));
    const x = tf.tensor(ref.input.data, ref.input.dims);
    const outName = ref.output;
    const std = await model.predict(x).data();
    const dStd = maxAbs(std, ref.standard.outputs[outName].data);
    const dExact = [];
    for (const rec of ref.exact) {
      // tfjs-layers calls cell.dropoutFunc(ones, rate) for each gate mask it makes (count 1, 3 or 4)
      // and uses only the first; `ones` is [N, features] for the input mask, [N, units] for the
      // recurrent one. Hand it the recorded masks instead of random ones.
      const byLayer = {};
      for (const site of ref.sites) {
        const m = rec.masks.find((k) => k.site === site.name);
        (byLayer[site.layer] ??= {})[site.kind] = maskTensor(m);
      }
      for (const [ln, masks] of Object.entries(byLayer)) {
        model.getLayer(ln).cell.dropoutFunc = (ones) => (ones.shape[1] === masks.input.shape[1] ? masks.input : masks.recurrent).clone();
      }
      const y = await model.apply(x, { training: true }).data();
      dExact.push(maxAbs(y, rec.outputs[outName].data));
    }
    const d = Math.max(dStd, ...dExact);
    worst = Math.max(worst, d);
    console.log(`${name}: tfjs-layers vs PyTorch, standard ${dStd.toExponential(2)}, exact ${dExact.map((v) => v.toExponential(2)).join(' ')}`);
    model.dispose();
  }
  console.log(`worst ${worst.toExponential(2)}`);
  if (!(worst < 1e-5)) {
    console.error('tfjs-layers disagrees with the PyTorch answers');
    process.exit(1);
  }
}

async function loadDir(dir) {
  const mj = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const wb = fs.readFileSync(path.join(dir, 'weights.bin'));
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: mj.modelTopology,
      weightSpecs: mj.weightsManifest[0].weights,
      weightData: wb.buffer.slice(wb.byteOffset, wb.byteOffset + wb.length),
    }),
  );
}

async function twinPredict(dir) {
  const model = await loadDir(dir);
  const rows = fs
    .readFileSync(path.join(dir, 'input.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(',').map(Number));
  const y = await model.predict(tf.tensor(rows)).data();
  console.log(JSON.stringify(Array.from(y)));
}

// ------------------------------------------------------------------ main
const args = process.argv.slice(2);
const origWarn = console.warn;
console.warn = () => {};
tf.setBackend('cpu');
await tf.ready();
console.warn = origWarn;
for (let i = 0; i < args.length; i += 2) {
  const [flag, dir] = [args[i], args[i + 1]];
  if (!dir) throw new Error(`${flag}: missing DIR`);
  if (flag === '--rnn') await writeRnn(path.resolve(dir));
  else if (flag === '--twin') await writeTwin(path.resolve(dir));
  else if (flag === '--verify') await verify(path.resolve(dir));
  else if (flag === '--twin-predict') await twinPredict(path.resolve(dir));
  else throw new Error(`unknown flag ${flag}`);
}
