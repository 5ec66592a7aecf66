/**
 * The paper authors' own Caffe files (Yarin Gal's "DropoutUncertaintyCaffeModels", MIT; copied
 * into test/fixtures/caffe/gal/): every deploy, sampleTest deploy, train_test and solver prototxt.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readCaffe } from '../src/net.js';
import { readSolver } from '../src/solver.js';
import type { CaffeNet } from '../src/types.js';

const root = new URL('../../../test/fixtures/caffe/gal/', import.meta.url);
const dirs = ['cifar10_uncertainty', 'co2_regression', 'mnist_uncertainty', 'solar_regression'];
const all = dirs.flatMap((d) => readdirSync(new URL(`${d}/`, root)).map((f) => `${d}/${f}`)).sort();
const read = (f: string): string => readFileSync(new URL(f, root), 'utf8');
const net = (f: string): CaffeNet => readCaffe({ prototxt: read(f), names: { prototxt: f } });

const deploys = all.filter((f) => f.endsWith('_deploy.prototxt'));
const trainTests = all.filter((f) => f.endsWith('_train_test.prototxt'));
const solvers = all.filter((f) => /_solver(_\w+)?\.prototxt$/.test(f));

const MNIST = [10, 1, 28, 28];
const CIFAR = [100, 3, 32, 32];
const REGRESSION = [100, 1, 1, 1];
/** Deploy net (sampleTest or not) → [declared input shape, Dropout layers]. */
const DEPLOY: Record<string, [number[], number]> = {
  'cifar10_uncertainty/lenet_all_dropout': [CIFAR, 3],
  'cifar10_uncertainty/lenet': [CIFAR, 0],
  'cifar10_uncertainty/lenet_dropout': [CIFAR, 1],
  'co2_regression/MLP1024x1024x1024_dropout': [REGRESSION, 3],
  'co2_regression/MLP1024x1024x1024x1024_dropout': [REGRESSION, 4],
  'co2_regression/MLP1024x1024x1024x1024_tanh_2_dropout': [REGRESSION, 4],
  'co2_regression/MLP1024x1024x1024x1024_tanh_dropout': [REGRESSION, 4],
  'mnist_uncertainty/MLP1024x1024_dropout': [MNIST, 2],
  'mnist_uncertainty/MLP1024x1024x1024x1024_dropout': [MNIST, 4],
  'mnist_uncertainty/MLP2048x2048x2048x2048_dropout': [MNIST, 4],
  'mnist_uncertainty/MLP800x800_all_dropout': [MNIST, 2],
  'mnist_uncertainty/lenet_all_dropout': [MNIST, 3],
  'mnist_uncertainty/lenet': [MNIST, 0],
  'mnist_uncertainty/lenet_dropout': [MNIST, 1],
  'solar_regression/MLP1024x1024x1024_dropout': [REGRESSION, 3],
  'solar_regression/MLP1024x1024x1024x1024_dropout': [REGRESSION, 4],
};
const stem = (f: string): string => f.replace(/(_sampleTest)?_deploy\.prototxt$/, '').replace(/(_sampleTest)?_train_test\.prototxt$/, '');
const dropouts = (n: CaffeNet): number => n.layers.filter((l) => l.type === 'Dropout').length;

/** Solver → weight_decay as written. */
const WEIGHT_DECAY: Record<string, number> = {
  'co2_regression/MLP1024x1024x1024_dropout_sampleTest_solver.prototxt': 1e-6,
  'co2_regression/MLP1024x1024x1024x1024_dropout_sampleTest_solver.prototxt': 1e-6,
  'co2_regression/MLP1024x1024x1024x1024_tanh_2_dropout_sampleTest_solver.prototxt': 0,
  'co2_regression/MLP1024x1024x1024x1024_tanh_dropout_sampleTest_solver.prototxt': 5e-7,
  'mnist_uncertainty/MLP800x800_all_dropout_solver.prototxt': 1e-4,
  'solar_regression/MLP1024x1024x1024_dropout_sampleTest_solver.prototxt': 3e-6,
  'solar_regression/MLP1024x1024x1024x1024_dropout_sampleTest_solver.prototxt': 5e-6,
};

describe("Gal's Caffe files", () => {
  it('are all there', () => {
    expect(deploys).toHaveLength(26);
    expect(trainTests).toHaveLength(30);
    expect(solvers).toHaveLength(34);
    expect(Object.keys(DEPLOY).sort()).toEqual([...new Set(deploys.map(stem))].sort());
  });

  describe.each(deploys)('%s', (f) => {
    it('parses with its declared input shape and Dropout layers', () => {
      const n = net(f);
      const [shape, drops] = DEPLOY[stem(f)];
      expect(n.inputs).toEqual([{ name: 'data', shape, from: 'input_dim' }]);
      expect(dropouts(n)).toBe(drops);
      expect(n.dropped).toEqual([]);
      expect(n.weights).toBe('missing');
      expect(n.layers.every((l) => typeof l.line === 'number' && l.line > 0)).toBe(true);
      const dropoutLines = n.layers.filter((l) => l.type === 'Dropout');
      if (f.includes('_sampleTest_')) {
        // Gal's fork field, one warning per Dropout layer, naming file, line and layer.
        expect(n.warnings).toEqual(
          dropoutLines.map((l) =>
            expect.stringMatching(
              new RegExp(`^${f}:\\d+: unknown field 'dropout_param\\.sample_weights_test' in layer '${l.name}' \\(kept as a warning, ignored\\)$`),
            ),
          ),
        );
        for (const [i, w] of n.warnings.entries()) {
          const line = Number(/:(\d+):/.exec(w)?.[1]);
          expect(read(f).split('\n')[line - 1]).toMatch(/^\s*sample_weights_test: true/);
          expect(line).toBeGreaterThan(dropoutLines[i].line ?? 0);
        }
      } else {
        expect(n.warnings).toEqual([]);
      }
    });
  });

  it('mnist lenet_all_dropout, lenet_dropout and co2 MLP1024x1024x1024x1024 have 3, 1 and 4 Dropout layers', () => {
    expect(dropouts(net('mnist_uncertainty/lenet_all_dropout_deploy.prototxt'))).toBe(3);
    expect(dropouts(net('mnist_uncertainty/lenet_dropout_deploy.prototxt'))).toBe(1);
    expect(dropouts(net('co2_regression/MLP1024x1024x1024x1024_dropout_deploy.prototxt'))).toBe(4);
    expect(dropouts(net('co2_regression/MLP1024x1024x1024x1024_dropout_sampleTest_deploy.prototxt'))).toBe(4);
    const lenet = net('mnist_uncertainty/lenet_all_dropout_sampleTest_deploy.prototxt');
    expect(lenet.layers.map((l) => `${l.name}:${l.type}`)).toEqual([
      'conv1:Convolution',
      'dropC1:Dropout',
      'pool1:Pooling',
      'conv2:Convolution',
      'dropC2:Dropout',
      'pool2:Pooling',
      'ip1:InnerProduct',
      'relu1:ReLU',
      'drop1:Dropout',
      'ip2:InnerProduct',
      'softmax:Softmax',
    ]);
    expect(lenet.layers[1].param.dropout_param).toEqual({ dropout_ratio: 0.5 });
  });

  describe.each(trainTests)('%s', (f) => {
    it('keeps the TEST data layer top as the input and drops data, loss and accuracy layers', () => {
      const n = net(f);
      const regression = f.startsWith('co2_') || f.startsWith('solar_');
      expect(n.inputs).toEqual([
        regression
          ? { name: 'data', shape: undefined, from: "HDF5Data layer 'data'" }
          : { name: 'data', shape: [100, undefined, undefined, undefined], from: expect.stringMatching(/^Data layer '(mnist|cifar)'$/) },
      ]);
      const types = new Set(n.layers.map((l) => l.type));
      for (const t of ['Data', 'HDF5Data', 'Accuracy', 'EuclideanLoss', 'SoftmaxWithLoss']) expect(types.has(t), t).toBe(false);
      const dataType = regression ? 'HDF5Data' : 'Data';
      expect(n.dropped.filter((d) => d.type === dataType).map((d) => d.why)).toEqual([
        'not in the TEST phase: include { phase: TRAIN }',
        "data layer: its top 'data' is a graph input",
      ]);
      if (regression) {
        expect(n.dropped.filter((d) => d.type === 'EuclideanLoss').map((d) => d.why)).toEqual(['loss layer (training only)']);
        expect(n.warnings).toEqual([]);
        expect(n.layers[n.layers.length - 1].type).toBe('InnerProduct');
      } else {
        expect(n.dropped.find((d) => d.type === 'Accuracy')?.why).toBe('accuracy layer (evaluation only)');
        const last = n.layers[n.layers.length - 1];
        expect(last).toMatchObject({ name: 'loss', type: 'Softmax', top: ['loss'] });
        expect(n.warnings).toEqual([
          expect.stringMatching(new RegExp(`^${f}:\\d+: loss layer 'loss' \\(SoftmaxWithLoss\\) → Softmax over '${last.bottom[0]}' as in a deploy net$`)),
        ]);
      }
      const deploy = `${stem(f)}`;
      if (DEPLOY[deploy] !== undefined) expect(dropouts(n)).toBe(DEPLOY[deploy][1]);
      else expect(dropouts(n)).toBe((read(f).match(/type: "Dropout"/g) ?? []).length);
      expect(n.layers.every((l) => !l.bottom.includes('label'))).toBe(true);
    });
  });

  describe.each(solvers)('%s', (f) => {
    it('gives its weight decay and the train_test net it trains', () => {
      const s = readSolver(read(f), f);
      expect(s.warnings).toEqual([]);
      expect(s.weightDecay).toBe(WEIGHT_DECAY[f] ?? 0.0005);
      expect(s.regularizationType).toBe('L2');
      expect(s.net).toMatch(/_train_test\.prototxt$/);
      expect(s.solverMode).toBe('GPU');
      expect(s.momentum).toBe(0.9);
      expect(s.testIter).toEqual([100]);
      expect(s.type).toBe('SGD');
    });
  });

  it('solvers point at train_test nets that are here (except two that name the upstream examples folder)', () => {
    const missing = solvers.filter((f) => !all.includes(readSolver(read(f), f).net ?? ''));
    expect(missing).toEqual([
      'mnist_uncertainty/MLP1024x1024x1024x1024_dropout_solver.prototxt',
      'mnist_uncertainty/MLP2048x2048x2048x2048_dropout_solver.prototxt',
    ]);
  });
});
