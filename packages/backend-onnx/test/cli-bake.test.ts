// mcu convert --bake T: the CLI parses and calls @mcu/backend-onnx's bakeModel. The written model,
// run by onnxruntime-node directly, gives `mcu predict --samples T --seed S` on the original
// model (1e-5: float32 sums over T in the graph, float64 in core's estimators); inspect
// recognises it; predict refuses it; bad --bake values name the flag.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixturePath, lenetRef } from '../../../test/helpers/fixtures.js';
import { REPO_ROOT, tempDir, writeCsv } from '../../../test/helpers/cli.js';
import { mcu, show, type InProcessRun } from '../../../test/helpers/in-process.js';

const CO2 = path.join(REPO_ROOT, 'examples', 'co2_relu.preserve.onnx');
const X = path.join(REPO_ROOT, 'examples', 'co2-months.csv');
let dir: string;
let cwd: string;

const ok = (r: InProcessRun): InProcessRun => {
  expect(r.code, show(r)).toBe(0);
  return r;
};
const refused = (r: InProcessRun, re: RegExp): void => {
  expect(r.code, show(r)).toBe(2);
  expect(r.stderr, show(r)).toMatch(re);
};

async function runOrt(file: string, feeds: Record<string, ort.Tensor>): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(readFileSync(file));
  try {
    const out = await session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
}

const maxDiff = (a: ArrayLike<number>, b: readonly number[]): number => {
  expect(a.length).toBe(b.length);
  let w = 0;
  for (let i = 0; i < b.length; i++) w = Math.max(w, Math.abs(a[i]! - b[i]!));
  return w;
};

beforeAll(() => {
  dir = tempDir('mcu-bake-');
  cwd = tempDir('mcu-bake-cwd-');
});

describe('mcu convert --bake', () => {
  it('regression: the baked model on onnxruntime equals mcu predict (T = 50, seed 5, τ 40)', async () => {
    const out = path.join(dir, 'co2.baked.onnx');
    const w = ok(await mcu(['convert', CO2, '-o', out, '--bake', '50', '--seed', '5', '--tau', '40'], cwd));
    expect(w.stderr).toMatch(/a baked model \(50 MC samples, seed 5, τ 40/);
    const x = readFileSync(X, 'utf8').trim().split('\n').slice(1).map(Number);
    const got = await runOrt(out, { x: new ort.Tensor('float32', Float32Array.from(x), [x.length, 1]) });
    const p = JSON.parse(ok(await mcu(['predict', CO2, '--input', X, '--samples', '50', '--seed', '5', '--tau', '40'], cwd)).stdout);
    const ref = Object.entries(p.outputs)[0]! as [string, { mean: number[][]; variance: number[][]; std: number[][] }];
    const [name, r] = ref;
    expect(maxDiff(got[`${name}_mean`]!, r.mean.flat())).toBeLessThanOrEqual(1e-5);
    expect(maxDiff(got[`${name}_variance`]!, r.variance.flat())).toBeLessThanOrEqual(1e-5);
    expect(maxDiff(got[`${name}_std`]!, r.std.flat())).toBeLessThanOrEqual(1e-5);

    // inspect recognises it (json and table)
    const i = JSON.parse(ok(await mcu(['inspect', out], cwd)).stdout);
    expect(i.baked).toMatchObject({ samples: 50, seed: 5, tau: 40, scope: 'sample', outputs: [{ name, task: 'regression' }] });
    expect(i.sites).toEqual([]);
    expect(i.inputs.map((v: { name: string }) => v.name)).toEqual(['x']);
    const t = ok(await mcu(['inspect', out, '--format', 'table'], cwd)).stdout;
    expect(t).toMatch(/^baked model \(mcu [\d.]+\): 50 MC samples, seed 5, scope sample, τ 40/);
    expect(t).toContain(`${name}_mean, ${name}_variance, ${name}_std`);

    // predict refuses it, naming why and what to do
    refused(
      await mcu(['predict', out, '--input', X], cwd),
      /is a baked model \(mcu convert --bake 50, seed 5\).*run it directly with any ONNX runtime.*or predict the original model/,
    );
  });

  it('classification: LeNet logits with --task classification (T = 20)', async () => {
    const lenet = fixturePath('pytorch-1.13/lenet.preserve.onnx');
    const images = lenetRef('1.13').rotated.images as number[][];
    const csv = writeCsv(path.join(dir, 'digits.csv'), images);
    const out = path.join(dir, 'lenet.baked.onnx');
    refused(await mcu(['convert', lenet, '-o', out, '--bake', '20'], cwd), /output 'logits' has 10 values per row .*--task classification/);
    ok(await mcu(['convert', lenet, '-o', out, '--bake', '20', '--seed', '9', '--task', 'classification'], cwd));
    const got = await runOrt(out, { image: new ort.Tensor('float32', Float32Array.from(images.flat()), [images.length, 1, 28, 28]) });
    const p = JSON.parse(ok(await mcu(['predict', lenet, '--input', csv, '--samples', '20', '--seed', '9', '--task', 'classification'], cwd)).stdout);
    const r = p.outputs.logits as { probs: number[][]; entropy: number[]; mutualInformation: number[] };
    expect(maxDiff(got['logits_probs']!, r.probs.flat())).toBeLessThanOrEqual(1e-5);
    expect(maxDiff(got['logits_entropy']!, r.entropy)).toBeLessThanOrEqual(1e-5);
    expect(maxDiff(got['logits_mutual_information']!, r.mutualInformation)).toBeLessThanOrEqual(1e-5);
  });

  it('bad --bake values are refused naming the flag', async () => {
    const out = path.join(dir, 'bad.onnx');
    for (const v of ['0', '1.5', 'ten', '-3', '99999999999']) refused(await mcu(['convert', CO2, '-o', out, '--bake', v], cwd), /--bake/);
    // fits the generator, not an ONNX file: E_CONFIG, with the largest T that fits
    const huge = await mcu(['convert', CO2, '-o', out, '--bake', '4000000000'], cwd);
    expect(huge.code, show(huge)).not.toBe(0);
    expect(huge.stderr).toMatch(/--bake 4000000000: the baked masks take \d+ bytes .*bake at most \d+ samples/);
  });

  it('--seed, --tau and --task on convert need --bake', async () => {
    const out = path.join(dir, 'plain.onnx');
    refused(await mcu(['convert', CO2, '-o', out, '--seed', '3'], cwd), /--seed applies to a baked model only; give --bake T/);
    refused(await mcu(['convert', CO2, '-o', out, '--task', 'regression'], cwd), /--task applies to a baked model only/);
  });
});
