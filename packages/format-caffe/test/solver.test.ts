import { describe, expect, it } from 'vitest';
import { thrown } from './helpers.js';
import { readSolver } from '../src/solver.js';

describe('readSolver', () => {
  it('reads the settings of a solver prototxt', () => {
    const s = readSolver(
      `# comment
      net: "x_train_test.prototxt"
      test_iter: 100
      test_interval: 500
      base_lr: 0.01
      momentum: 0.9
      weight_decay: 0.0005
      regularization_type: "L1"
      lr_policy: "multistep"
      gamma: 0.05
      power: 0.75
      stepsize: 7
      stepvalue: 50000
      stepvalue: 100000
      display: 100
      max_iter: 200000
      snapshot: 1000
      snapshot_prefix: "snap/x"
      solver_mode: CPU
      device_id: 1
      random_seed: 42
      test_initialization: false
      iter_size: 2
      average_loss: 10
      type: "Adam"`,
      'solver.prototxt',
    );
    expect(s).toMatchObject({
      net: 'x_train_test.prototxt',
      testIter: [100],
      testInterval: 500,
      baseLr: 0.01,
      momentum: 0.9,
      weightDecay: 0.0005,
      regularizationType: 'L1',
      lrPolicy: 'multistep',
      gamma: 0.05,
      power: 0.75,
      stepsize: 7,
      stepvalue: [50000, 100000],
      display: 100,
      maxIter: 200000,
      snapshot: 1000,
      snapshotPrefix: 'snap/x',
      solverMode: 'CPU',
      deviceId: 1,
      randomSeed: 42,
      testInitialization: false,
      iterSize: 2,
      averageLoss: 10,
      type: 'Adam',
      warnings: [],
    });
  });

  it('leaves weight_decay undefined when absent (not 0) and applies caffe.proto defaults', () => {
    const s = readSolver('base_lr: 0.1', 's');
    expect(s.weightDecay).toBeUndefined();
    expect(s.momentum).toBeUndefined();
    expect(s).toMatchObject({
      regularizationType: 'L2',
      solverMode: 'GPU',
      type: 'SGD',
      randomSeed: -1,
      iterSize: 1,
      averageLoss: 1,
      testInterval: 0,
      testInitialization: true,
      snapshot: 0,
      deviceId: 0,
      testIter: [],
      stepvalue: [],
      testNet: [],
    });
    expect(readSolver('weight_decay: 0', 's').weightDecay).toBe(0);
  });

  it('upgrades the legacy solver_type enum as Caffe does, and refuses a conflicting type', () => {
    expect(readSolver('solver_type: NESTEROV', 's').type).toBe('Nesterov');
    expect(readSolver('solver_type: ADAGRAD type: "AdaGrad"', 's').type).toBe('AdaGrad');
    expect(thrown(() => readSolver('solver_type: ADAM type: "SGD"', 's.prototxt'))).toMatchObject({
      code: 'E_MODEL',
      message: 's.prototxt: expected one solver type, got type: "SGD" and solver_type: ADAM; remove solver_type (the legacy field)',
    });
  });

  it('warns about unknown fields and reports syntax errors with line:column', () => {
    const s = readSolver('test_forward_mc_iter: 1000\nbase_lr: 1e-2', 'fork_solver.prototxt');
    expect(s.baseLr).toBe(0.01);
    expect(s.warnings).toEqual(["fork_solver.prototxt:1: unknown field 'test_forward_mc_iter' in SolverParameter (kept as a warning, ignored)"]);
    expect(thrown(() => readSolver('base_lr: 0.1\nmax_iter: 1.5', 's.prototxt'))).toMatchObject({
      code: 'E_MODEL',
      message: "s.prototxt:2:11: expected an integer for 'max_iter' (int32) in SolverParameter, got '1.5'; write a whole number (decimal, 0x hex or 0 octal)",
    });
  });

  it('keeps the whole message for other fields', () => {
    expect(readSolver('clip_gradients: 10 net_param { name: "inline" }', 's').message).toEqual({ clip_gradients: 10, net_param: { name: 'inline' } });
  });
});
