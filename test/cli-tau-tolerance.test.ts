// --fit-tau at the edge of its search range, and --tolerance over row batches and for
// classification: what predict's meta and evaluate's report say about the whole run.
// `main(argv, io)` in-process. The runs keep chunks small (--memory-budget) so that the
// stopping rule is checked often, whatever the engine's own chunk cap.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { co2Ref, fixturePath, lenetRef } from './helpers/fixtures.js';
import { REPO_ROOT, tempDir, writeCsv } from './helpers/cli.js';
import { mcu, show, type InProcessRun } from './helpers/in-process.js';

let dir: string;
const F: Record<string, string> = {};
type Meta = Record<string, unknown> & { samples: number; tau: number | null };
const ok = <T>(r: InProcessRun): T => {
  expect(r.code, show(r)).toBe(0);
  return JSON.parse(r.stdout) as T;
};
const meta = (r: InProcessRun) => ok<{ meta: Meta }>(r).meta;

beforeAll(() => {
  dir = tempDir('mcu-tau-tol-');
  const ref = co2Ref('1.13-small', 'co2_relu');
  const rows = [10, 60, 120, 220, 330, 430];
  // targets 1000 standard deviations away: the likelihood keeps rising as τ falls
  fs.writeFileSync(path.join(dir, 'far.csv'), `${['x,y', ...rows.map((i) => `${ref.x[i]},1000`)].join('\n')}\n`);
  F['far'] = path.join(dir, 'far.csv');
  fs.writeFileSync(path.join(dir, 'val.csv'), `${['x,y', ...rows.map((i) => `${ref.x[i]},${ref.y[i]}`)].join('\n')}\n`);
  F['val'] = path.join(dir, 'val.csv');
  F['co2'] = path.join(REPO_ROOT, 'examples', 'co2_relu.preserve.onnx');
  F['months'] = path.join(REPO_ROOT, 'examples', 'co2-months.csv');
  const lenet = lenetRef('1.13');
  F['digits'] = writeCsv(
    path.join(dir, 'digits.csv'),
    lenet.test_images_u8.slice(0, 6).map((img, i) => [...img.map((b) => b / 255), lenet.test_labels[i]!]),
  );
  F['lenet'] = fixturePath('pytorch-1.13/lenet.preserve.onnx');
});

describe('--fit-tau at the edge of the search range', () => {
  const warning =
    /^mcu: warning: --fit-tau .*far\.csv: the validation log-likelihood is highest at the lower end of the searched range \[0\.001, 1000000\] \(τ = 0\.001\).*not a fitted optimum.*"boundary"/m;

  it('predict: warns naming the range and reports tauFitted "boundary" (with the range)', async () => {
    const r = await mcu(['predict', F['co2']!, '--input', F['months']!, '--samples', '30', '--fit-tau', F['far']!], dir);
    const m = meta(r);
    expect(m.tau).toBe(0.001);
    expect(m['tauFitted']).toBe('boundary');
    expect(m['tauFitRange']).toEqual([0.001, 1e6]);
    expect(r.stderr).toMatch(warning);
    // --quiet drops the warning, never the marker
    const q = await mcu(['predict', F['co2']!, '--input', F['months']!, '--samples', '30', '--fit-tau', F['far']!, '--quiet'], dir);
    expect(q.stderr).toBe('');
    expect(meta(q)['tauFitted']).toBe('boundary');
  });

  it('evaluate: the same', async () => {
    const r = await mcu(['evaluate', F['co2']!, '--data', F['val']!, '--samples', '30', '--fit-tau', F['far']!], dir);
    const rep = ok<Record<string, unknown>>(r);
    expect([rep['tau'], rep['tauFitted'], rep['tauFitRange']]).toEqual([0.001, 'boundary', [0.001, 1e6]]);
    expect(r.stderr).toMatch(warning);
  });

  it('an interior optimum is reported as fitted (true), without a range', async () => {
    const m = meta(await mcu(['predict', F['co2']!, '--input', F['months']!, '--samples', '30', '--fit-tau', F['val']!], dir));
    expect(m['tauFitted']).toBe(true);
    expect(m['tauFitRange']).toBeUndefined();
    expect(m.tau).toBeGreaterThan(0.001);
    expect(m.tau).toBeLessThan(1e6);
  });
});

describe('--tolerance with --batch-size: meta describes every batch', () => {
  const run = (extra: string[], input = F['months']!) => mcu(['predict', F['co2']!, '--input', input, '--memory-budget', '0.05', '--seed', '5', ...extra], dir);

  it('samples per batch, the most of them as samples, converged only when every batch did, the largest standard error', async () => {
    const whole = meta(await run(['--samples', '400', '--tolerance', '0.05', '--batch-size', '5']));
    const b = whole['batches'] as { size: number; count: number; samples: number[] };
    expect([b.size, b.count]).toEqual([5, 3]);
    expect(whole.samples).toBe(Math.max(...b.samples));
    expect(whole['converged']).toBe(true);
    expect(whole['maxStandardError'] as number).toBeLessThanOrEqual(0.05);
    // each batch is the run of its rows alone (scope sample: the same masks)
    const months = fs.readFileSync(F['months']!, 'utf8').trim().split('\n').slice(1);
    const alone: Meta[] = [];
    for (let k = 0; k < 3; k++) {
      const file = writeCsv(
        path.join(dir, `batch-${k}.csv`),
        months.slice(k * 5, k * 5 + 5).map((v) => [Number(v)]),
      );
      alone.push(meta(await run(['--samples', '400', '--tolerance', '0.05'], file)));
    }
    expect(b.samples).toEqual(alone.map((m) => m.samples));
    expect(whole['maxStandardError']).toBe(Math.max(...alone.map((m) => m['maxStandardError'] as number)));
  });

  it('one batch that does not converge makes the run not converged', async () => {
    // interior months converge within 60 samples at 0.05; months far beyond the data (std ≈ 0.5) do not
    const m = meta(await run(['--samples', '60', '--tolerance', '0.05', '--batch-size', '5']));
    const b = m['batches'] as { samples: number[] };
    expect(Math.min(...b.samples)).toBeLessThan(60);
    expect(b.samples).toContain(60);
    expect(m['converged']).toBe(false);
    expect(m['maxStandardError'] as number).toBeGreaterThan(0.05);
  });
});

describe('--tolerance on classification evaluate', () => {
  it('stops once the largest standard error of the class probabilities is below it', async () => {
    const args = ['evaluate', F['lenet']!, '--data', F['digits']!, '--task', 'classification', '--samples', '400', '--memory-budget', '0.5', '--seed', '1'];
    const fixed = ok<Record<string, unknown>>(await mcu(args, dir));
    expect(fixed['samples']).toBe(400);
    expect(fixed['tolerance']).toBeUndefined();
    const adaptive = ok<Record<string, unknown>>(await mcu([...args, '--tolerance', '0.05'], dir));
    expect(adaptive['tolerance']).toBe(0.05);
    expect(adaptive['converged']).toBe(true);
    expect(adaptive['samples'] as number).toBeLessThan(400);
    expect(adaptive['maxStandardError'] as number).toBeLessThanOrEqual(0.05);
  });
});
