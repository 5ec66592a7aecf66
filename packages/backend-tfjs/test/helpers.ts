// Shared by the tfjs backend's Keras tests: temp folders, saving a tfjs-layers model the way
// tfjs / tensorflowjs_converter lay it out, masks from the seeded sampler, comparisons.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, expect } from 'vitest';
import { createSeededSampler, type StochasticModel, type TensorData } from '@mcu/core';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'mcu-tfjs-'));
  dirs.push(d);
  return d;
}

export async function saveLayersModel(model: tf.LayersModel, dir: string, shards = 1): Promise<string> {
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const bytes = new Uint8Array(artifacts.weightData as ArrayBuffer);
      // Split into several shard files to exercise concatenation.
      const paths: string[] = [];
      const step = Math.ceil(bytes.length / shards);
      for (let k = 0; k < shards; k++) {
        const name = shards === 1 ? 'weights.bin' : `group1-shard${k + 1}of${shards}.bin`;
        writeFileSync(join(dir, name), bytes.subarray(k * step, Math.min(bytes.length, (k + 1) * step)));
        paths.push(name);
      }
      const json = {
        format: 'layers-model',
        generatedBy: 'mcu test',
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths, weights: artifacts.weightSpecs }],
      };
      writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return join(dir, 'model.json');
}

export function masksFor(model: StochasticModel, s: number, rows: number, scope: 'sample' | 'point', seed = 17): Record<string, TensorData> {
  const sampler = createSeededSampler({ seed });
  const masks: Record<string, TensorData> = {};
  model.sites.forEach((site, siteIndex) => {
    masks[site.name] = sampler.sample({ site, siteIndex, firstSample: 0, count: s, rows, scope });
  });
  return masks;
}

export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

export async function expectCode(p: Promise<unknown> | (() => unknown), code: string, message?: RegExp): Promise<void> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).toBeDefined();
  expect((err as { code?: string }).code).toBe(code);
  if (message) expect((err as Error).message).toMatch(message);
}

