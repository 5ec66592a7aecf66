// Task detection that cannot be silently wrong (README "Tasks"): under --task auto an output is
// classification only when it ends in Softmax/LogSoftmax, regression when it has one value per
// row, and anything else is an E_USAGE asking which it is. --task TASK / --task NAME=TASK / the
// config's "task" decide otherwise; classification needs [N, C] outputs. predict and evaluate
// follow the same rule. `main(argv, io)` in-process.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixturePath, lenetRef } from './helpers/fixtures.js';
import { REPO_ROOT, tempDir, writeCsv, writeJson } from './helpers/cli.js';
import { mcu, show, type InProcessRun } from './helpers/in-process.js';
import { writeKerasDense, writeSoftmaxModel, writeSymbolicOutputModel } from './helpers/flag-models.js';

let dir: string;
let cwd: string;
const F: Record<string, string> = {};
const T = ['--samples', '20', '--seed', '2'];

type Out = { task: string; mean?: number[][]; probs?: number[][]; predicted?: number[] };
const outputs = (r: InProcessRun): Record<string, Out> => {
  expect(r.code, show(r)).toBe(0);
  return (JSON.parse(r.stdout) as { outputs: Record<string, Out> }).outputs;
};
const refused = (r: InProcessRun, ...patterns: RegExp[]) => {
  expect(r.code, show(r)).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, show(r)).toHaveLength(1);
  for (const p of patterns) expect(lines[0], show(r)).toMatch(p);
};

beforeAll(() => {
  dir = tempDir('mcu-tasks-');
  cwd = tempDir('mcu-tasks-cwd-');
  F['reg2'] = writeKerasDense(path.join(dir, 'reg2'), { inputs: 3, hidden: 16, outputs: 2 });
  F['soft3'] = writeKerasDense(path.join(dir, 'soft3'), { inputs: 3, hidden: 16, outputs: 3, activation: 'softmax' });
  F['x3'] = writeCsv(path.join(dir, 'x3.csv'), [
    [0.1, -0.2, 0.3],
    [1, 0.5, -1],
    [-0.4, 0.2, 0.9],
    [0, 0, 0],
  ]);
  F['x3y'] = writeCsv(path.join(dir, 'x3y.csv'), [
    [0.1, -0.2, 0.3, 1],
    [1, 0.5, -1, 0],
    [-0.4, 0.2, 0.9, 1],
    [0, 0, 0, 0],
  ]);
  F['lenet'] = fixturePath('pytorch-1.13/lenet.preserve.onnx');
  F['lenetSymbolic'] = writeSymbolicOutputModel('pytorch-1.13/lenet.preserve.onnx', path.join(dir, 'lenet-classes.onnx'));
  F['lenetSoftmax'] = writeSoftmaxModel('pytorch-1.13/lenet.preserve.onnx', path.join(dir, 'lenet-softmax.onnx'));
  F['co2Symbolic'] = writeSymbolicOutputModel('pytorch-1.13-small/co2_relu.preserve.onnx', path.join(dir, 'co2-width.onnx'), 1, 'width');
  const ref = lenetRef('1.13');
  F['digits'] = writeCsv(
    path.join(dir, 'digits.csv'),
    ref.test_images_u8.slice(0, 3).map((img) => img.map((b) => b / 255)),
  );
  F['digitsLabelled'] = writeCsv(
    path.join(dir, 'digits-y.csv'),
    ref.test_images_u8.slice(0, 3).map((img, i) => [...img.map((b) => b / 255), ref.test_labels[i]!]),
  );
  F['co2'] = path.join(REPO_ROOT, 'examples', 'co2_relu.preserve.onnx');
  F['months'] = path.join(REPO_ROOT, 'examples', 'co2-months.csv');
  // ONNX's Dropout test model: y = dropout(x) with x [3, 4, 5], 20 values per row as [4, 5]
  F['grid'] = fixturePath('onnx-dropout-conformance/test_dropout_default/model.onnx');
  F['grid3'] = writeCsv(
    path.join(dir, 'grid.csv'),
    Array.from({ length: 3 }, (_, i) => Array.from({ length: 20 }, (_, j) => (i + 1) * 0.1 + j * 0.01)),
  );
}, 120_000);

describe('--task auto', () => {
  it('a 3→16→2 regression net (no Softmax) is refused, naming the output and its per-row size and both fixes', async () => {
    const r = await mcu(['predict', F['reg2']!, '--input', F['x3']!, ...T], cwd);
    refused(
      r,
      /output '\w+' has 2 values per row \(dims \[N, 2\]\)/,
      /does not end in Softmax or LogSoftmax/,
      /--task classification if it holds logits/,
      /--task regression/,
      /--task \w+=classification/,
    );
  });

  it('evaluate follows the same rule', async () => {
    refused(await mcu(['evaluate', F['reg2']!, '--data', F['x3y']!, ...T], cwd), /has 2 values per row/, /--task classification/);
    refused(await mcu(['evaluate', F['lenet']!, '--data', F['digitsLabelled']!, ...T], cwd), /output 'logits' has 10 values per row/);
  });

  it('an output that ends in Softmax is classification (tfjs and ONNX); its probabilities are used as they are', async () => {
    const k = Object.values(outputs(await mcu(['predict', F['soft3']!, '--input', F['x3']!, ...T], cwd)))[0]!;
    expect(k.task).toBe('classification');
    for (const p of k.probs!) expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    const o = outputs(await mcu(['predict', F['lenetSoftmax']!, '--input', F['digits']!, ...T], cwd))['logits']!;
    expect(o.task).toBe('classification');
    // the same distribution as the logits model under --task classification (same masks)
    const l = outputs(await mcu(['predict', F['lenet']!, '--input', F['digits']!, ...T, '--task', 'classification'], cwd))['logits']!;
    expect(o.predicted).toEqual(l.predicted);
    o.probs!.forEach((row, i) => row.forEach((v, c) => expect(Math.abs(v - l.probs![i]![c]!)).toBeLessThan(1e-5)));
  });

  it('one value per row is regression', async () => {
    expect(Object.values(outputs(await mcu(['predict', F['co2']!, '--input', F['months']!, ...T], cwd)))[0]!.task).toBe('regression');
  });

  it('a per-row size the model leaves symbolic is learnt from its deterministic pass', async () => {
    refused(await mcu(['predict', F['lenetSymbolic']!, '--input', F['digits']!, ...T], cwd), /output 'logits' has 10 values per row/);
    expect(outputs(await mcu(['predict', F['lenetSymbolic']!, '--input', F['digits']!, ...T, '--task', 'classification'], cwd))['logits']!.task).toBe(
      'classification',
    );
    expect(Object.values(outputs(await mcu(['predict', F['co2Symbolic']!, '--input', F['months']!, ...T], cwd)))[0]!.task).toBe('regression');
  });
});

describe('--task given', () => {
  it('--task regression: the mean and std of every value', async () => {
    const o = Object.values(outputs(await mcu(['predict', F['reg2']!, '--input', F['x3']!, ...T, '--task', 'regression'], cwd)))[0]!;
    expect(o.task).toBe('regression');
    expect(o.mean!.map((r) => r.length)).toEqual([2, 2, 2, 2]);
  });

  it('--task NAME=TASK per output; an unknown name lists the outputs', async () => {
    const name = Object.keys(outputs(await mcu(['predict', F['reg2']!, '--input', F['x3']!, ...T, '--task', 'regression'], cwd)))[0]!;
    const o = outputs(await mcu(['predict', F['reg2']!, '--input', F['x3']!, ...T, '--task', `${name}=classification`], cwd))[name]!;
    expect(o.task).toBe('classification');
    refused(
      await mcu(['predict', F['reg2']!, '--input', F['x3']!, ...T, '--task', 'nope=regression'], cwd),
      /--task nope=regression .*no output 'nope'; its outputs: /,
    );
  });

  it('mcu.config.json "task": a string or { output: task }', async () => {
    const c = tempDir('mcu-tasks-config-');
    writeJson(path.join(c, 'mcu.config.json'), { task: { logits: 'classification' } });
    expect(outputs(await mcu(['predict', F['lenet']!, '--input', F['digits']!, ...T], c))['logits']!.task).toBe('classification');
    fs.writeFileSync(path.join(c, 'mcu.config.json'), JSON.stringify({ task: 'regression' }));
    expect(outputs(await mcu(['predict', F['lenet']!, '--input', F['digits']!, ...T], c))['logits']!.task).toBe('regression');
    // a flag overrides the config
    expect(outputs(await mcu(['predict', F['lenet']!, '--input', F['digits']!, ...T, '--task', 'logits=classification'], c))['logits']!.task).toBe(
      'classification',
    );
  });

  it('classification needs [N, C]: per-position scores are refused (regression suggested); one value per row too', async () => {
    refused(
      await mcu(['predict', F['grid']!, '--input', F['grid3']!, ...T, '--task', 'classification'], cwd),
      /output 'y' is asked to be classification/,
      /dims \[4, 5\]/,
      /mcu classifies only \[N, C\] outputs/,
      /--task y=regression/,
    );
    const g = outputs(await mcu(['predict', F['grid']!, '--input', F['grid3']!, ...T, '--task', 'regression'], cwd))['y']!;
    expect(g.mean!.map((r) => r.length)).toEqual([20, 20, 20]);
    refused(await mcu(['predict', F['co2']!, '--input', F['months']!, ...T, '--task', 'classification'], cwd), /1 value per row/, /C ≥ 2/);
  });
});
