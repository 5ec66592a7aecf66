/**
 * A Caffe solver prototxt (SolverParameter) → the training settings mcu cares about, chiefly
 * the weight decay, which with the dropout rate and the data size sets the prior length-scale
 * of MC dropout (Gal & Ghahramani).
 */
import { McuError } from '@mcu/core';
import { field } from './schema.js';
import { parseText } from './text.js';
import type { Message } from './types.js';

/** SolverParameter.SolverType (legacy enum) → the `type` string Caffe's UpgradeSolverType gives it. */
const SOLVER_TYPES: Readonly<Record<string, string>> = {
  SGD: 'SGD',
  NESTEROV: 'Nesterov',
  ADAGRAD: 'AdaGrad',
  RMSPROP: 'RMSProp',
  ADADELTA: 'AdaDelta',
  ADAM: 'Adam',
};

/**
 * The settings of a solver prototxt. Optional fields without a caffe.proto default are
 * undefined when the file does not give them — notably `weightDecay`: absent means "not given"
 * (Caffe then trains with no decay), which is not the same statement as an explicit 0.
 */
export interface CaffeSolver {
  /** `net` (train_test prototxt path, as written). */
  readonly net?: string;
  readonly trainNet?: string;
  readonly testNet: readonly string[];
  readonly testIter: readonly number[];
  readonly testInterval: number;
  readonly testInitialization: boolean;
  readonly baseLr?: number;
  readonly lrPolicy?: string;
  readonly gamma?: number;
  readonly power?: number;
  readonly stepsize?: number;
  readonly stepvalue: readonly number[];
  readonly momentum?: number;
  /** `weight_decay`; undefined when absent (not 0). */
  readonly weightDecay?: number;
  /** `regularization_type` ('L2' by default, or 'L1'). */
  readonly regularizationType: string;
  readonly maxIter?: number;
  readonly iterSize: number;
  readonly averageLoss: number;
  readonly display?: number;
  readonly snapshot: number;
  readonly snapshotPrefix?: string;
  /** 'CPU' or 'GPU'. */
  readonly solverMode: string;
  readonly deviceId: number;
  /** -1: Caffe seeds from the clock. */
  readonly randomSeed: number;
  /** The solver type: `type`, or the legacy `solver_type` enum upgraded as Caffe does ('SGD', 'Nesterov', 'AdaGrad', 'RMSProp', 'AdaDelta', 'Adam'). */
  readonly type: string;
  /** The whole SolverParameter as parsed, for anything else. */
  readonly message: Message;
  /** Unknown fields and the like, one line each. */
  readonly warnings: readonly string[];
}

/**
 * Parse a solver prototxt. E_MODEL for syntax / type errors (FILE:LINE:COL) and for `type` and
 * `solver_type` both given with different meanings (Caffe refuses that too).
 */
export function readSolver(text: string, fileName: string): CaffeSolver {
  const { message: m, warnings } = parseText(text, 'SolverParameter', fileName);
  const get = (name: string): Message[string] => field(m, 'SolverParameter', name);
  const opt = <T>(name: string): T | undefined => m[name] as T | undefined;
  let type = get('type') as string;
  if (m.solver_type !== undefined) {
    const legacy = SOLVER_TYPES[m.solver_type as string] ?? String(m.solver_type);
    if (m.type !== undefined && m.type !== legacy) {
      throw new McuError(
        'E_MODEL',
        `${fileName}: expected one solver type, got type: "${String(m.type)}" and solver_type: ${String(m.solver_type)}; remove solver_type (the legacy field)`,
      );
    }
    type = legacy;
  }
  return {
    net: opt<string>('net'),
    trainNet: opt<string>('train_net'),
    testNet: get('test_net') as readonly string[],
    testIter: get('test_iter') as readonly number[],
    testInterval: get('test_interval') as number,
    testInitialization: get('test_initialization') as boolean,
    baseLr: opt<number>('base_lr'),
    lrPolicy: opt<string>('lr_policy'),
    gamma: opt<number>('gamma'),
    power: opt<number>('power'),
    stepsize: opt<number>('stepsize'),
    stepvalue: get('stepvalue') as readonly number[],
    momentum: opt<number>('momentum'),
    weightDecay: opt<number>('weight_decay'),
    regularizationType: get('regularization_type') as string,
    maxIter: opt<number>('max_iter'),
    iterSize: get('iter_size') as number,
    averageLoss: get('average_loss') as number,
    display: opt<number>('display'),
    snapshot: get('snapshot') as number,
    snapshotPrefix: opt<string>('snapshot_prefix'),
    solverMode: get('solver_mode') as string,
    deviceId: get('device_id') as number,
    randomSeed: get('random_seed') as number,
    type,
    message: m,
    warnings,
  };
}
