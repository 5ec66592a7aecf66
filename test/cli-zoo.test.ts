// The zoo through the CLI: `mcu inspect` lists exactly torch's dropout sites, `mcu predict
// --masks` replays torch's own masks to torch's outputs (≤ 1e-5 of the output scale), the
// transformer, GRU and LSTM classifiers run as exported (no pre-processing), and a 2-output
// regressor is never silently taken for a classifier.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { describeRun, requireBuiltCli, runMcu, tempDir } from './helpers/cli.js';
import { mcu, show } from './helpers/in-process.js';
import { zooInputFile, zooMasksJson, zooModelPath, zooNames, zooRef } from './helpers/zoo.js';

/** Extra flags per model: the eval export gets its Dropout2d sites back by insertion. */
const FLAGS: Record<string, string[]> = {
  'spatial_cnn.eval': ['--insert-dropout', '0.25', '--spatial', '--before', 'Conv'],
};

let dir: string;
const inputs: Record<string, string[]> = {};
beforeAll(() => {
  dir = tempDir('mcu-zoo-cli-');
  for (const name of zooNames()) inputs[name] = zooInputFile(name, dir).flatMap((a) => ['--input', a]);
});

interface InspectJson {
  layout: string;
  sites: { kind: string; rate: number; shape: number[]; rows: { axis: number; factor: number } }[];
  selfCheck: { passed: boolean | null };
}
type PredictJson = { meta: { samples: number; maskScope: string }; outputs: Record<string, { task: string; mean: number[][]; std: number[][] }> };

describe('mcu inspect lists exactly torch’s dropout sites', () => {
  for (const name of zooNames()) {
    test(name, async () => {
      const ref = zooRef(name);
      const r = await mcu(['inspect', zooModelPath(name), ...inputs[name]!, ...(FLAGS[name] ?? [])], dir);
      expect(r.code, show(r)).toBe(0);
      const rep = JSON.parse(r.stdout) as InspectJson;
      expect(rep.sites.map((s) => [s.kind, s.rate, s.shape])).toEqual(ref.sites.map((s) => [s.kind === 'alpha' ? 'alpha' : 'bernoulli', s.p, s.rowShape]));
      rep.sites.forEach((s, k) => {
        if (ref.sites[k]!.kind !== 'feature') expect([s.rows.axis, s.rows.factor]).toEqual([ref.sites[k]!.rowAxis, ref.sites[k]!.rowFactor]);
      });
      expect(rep.selfCheck.passed).toBe(true);
    });
  }
});

describe('mcu predict --masks replays torch’s masks to torch’s outputs', () => {
  for (const name of zooNames()) {
    test(name, async () => {
      const ref = zooRef(name);
      for (const k of [0, 1]) {
        const masks = path.join(dir, `${name}.masks${k}.json`);
        fs.writeFileSync(masks, JSON.stringify(zooMasksJson(name, k)));
        const r = await mcu(['predict', zooModelPath(name), ...inputs[name]!, ...(FLAGS[name] ?? []), '--masks', masks, '--task', 'regression'], dir);
        expect(r.code, show(r)).toBe(0);
        const out = JSON.parse(r.stdout) as PredictJson;
        expect(out.meta.samples).toBe(1);
        for (const [o, want] of Object.entries(ref.exact[k]!.outputs)) {
          const got = out.outputs[o]!.mean.flat();
          let [diff, scale] = [0, 0];
          for (let i = 0; i < want.data.length; i++) {
            diff = Math.max(diff, Math.abs(got[i]! - want.data[i]!));
            scale = Math.max(scale, Math.abs(want.data[i]!));
          }
          expect(diff / scale, `${name} ${o} record ${k}`).toBeLessThanOrEqual(1e-5);
        }
      }
    });
  }
});

describe('sequence models through the built CLI, as exported', () => {
  beforeAll(() => requireBuiltCli());
  for (const name of ['transformer_encoder', 'gru_text', 'lstm2_text', 'bert_like']) {
    test(`${name}: predict --task classification`, async () => {
      const ref = zooRef(name);
      const r = await runMcu(['predict', zooModelPath(name), ...inputs[name]!, '--samples', '50', '--task', 'classification', '--quiet']);
      expect(r.status, describeRun(r)).toBe(0);
      const out = JSON.parse(r.stdout) as { outputs: Record<string, { task: string; probs: number[][]; mutualInformation: number[] }> };
      const logits = out.outputs['logits']!;
      expect(logits.task).toBe('classification');
      expect(logits.probs).toHaveLength(ref.N);
      for (const p of logits.probs) expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(logits.mutualInformation.some((v) => v > 0)).toBe(true);
    });
  }
});

describe('a 2-output regressor is never silently a classifier', () => {
  test('without --task: exit 2 naming the output; with --task regression: mean and variance per target', async () => {
    const name = 'regressor2_training';
    const r = await mcu(['predict', zooModelPath(name), ...inputs[name]!, '--samples', '200'], dir);
    expect(r.code, show(r)).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/output 'y' has 2 values per row .*--task classification.*--task regression/);
    const ok = await mcu(
      ['predict', zooModelPath(name), ...inputs[name]!, '--samples', '500', '--mask-scope', 'point', '--seed', '3', '--task', 'regression'],
      dir,
    );
    expect(ok.code, show(ok)).toBe(0);
    const y = (JSON.parse(ok.stdout) as PredictJson).outputs['y']!;
    expect(y.task).toBe('regression');
    expect(y.mean).toHaveLength(8);
    for (const row of y.mean) expect(row).toHaveLength(2);
    // against torch's MC (T = 500 each): within 4 standard errors
    const mc = zooRef(name).mc.outputs['y']!;
    y.mean.flat().forEach((m, j) => {
      const se = Math.sqrt((2 * mc.std[j]! ** 2) / 500);
      expect(Math.abs(m - mc.mean[j]!)).toBeLessThanOrEqual(4 * se + 1e-6);
    });
  });
});
