// Shared by the tfjs backend's Keras tests: temp folders, saving a tfjs-layers model the way
// tfjs / tensorflowjs_converter lay it out, masks from the seeded sampler, comparisons.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, expect } from 'vitest';
import { createSeededSampler, deterministicMaskValue, type StochasticModel, type TensorData } from '@mcu/core';
import { forwardGraph } from '../src/executor.js';
import type { ExecGraph } from '../src/graph.js';

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

// ---------------------------------------------------------------------------------------
// Running an ExecGraph straight through the executor (no TfjsModel): constants uploaded,
// feeds with N rows, masks [S, 1|N, ...maskShape] — S·N output rows, sample-major.

export interface Rows {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

export function graphMasks(graph: ExecGraph, s: number, rows: number, scope: 'sample' | 'point', seed = 17): Record<string, Rows> {
  const sampler = createSeededSampler({ seed });
  const out: Record<string, Rows> = {};
  graph.sites.forEach((site, siteIndex) => {
    const m = sampler.sample({ site, siteIndex, firstSample: 0, count: s, rows, scope });
    out[site.name] = { data: m.data as Float32Array, dims: m.dims };
  });
  return out;
}

/** Masks that make every site the identity (1; 0 for additive noise; −1 for AlphaDropout). */
export function deterministicMasks(graph: ExecGraph): Record<string, Rows> {
  const out: Record<string, Rows> = {};
  for (const site of graph.sites) {
    const n = site.maskShape.reduce((a, b) => a * b, 1);
    out[site.name] = { data: new Float32Array(n).fill(deterministicMaskValue(site)), dims: [1, 1, ...site.maskShape] };
  }
  return out;
}

export function runGraph(graph: ExecGraph, feeds: Record<string, Rows>, masks: Record<string, Rows>, s = 1): Rows[] {
  const n = Object.values(feeds)[0]!.dims[0]!;
  return tf.tidy(() => {
    const constants = new Map([...graph.constants].map(([k, c]) => [k, tf.tensor(c.data, [...c.dims], c.dtype)]));
    const feedTensors = new Map(Object.entries(feeds).map(([k, v]) => [k, tf.tensor(v.data, [...v.dims], 'float32')]));
    const outs = forwardGraph(tf as never, graph, constants, feedTensors, new Map(Object.entries(masks)), s, n);
    return outs.map((t) => ({ data: Float32Array.from(t.dataSync() as Float32Array), dims: t.shape }));
  });
}

/** Deterministic, smooth test data. */
export function wave(n: number, a = 0.37, b = 1.3): Float32Array {
  return Float32Array.from({ length: n }, (_, k) => Math.sin(k * a) + 0.3 * Math.cos(k * b));
}

/** max |a − b| / max(1, max |b|). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let scale = 1;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  return maxDiff(a, b) / scale;
}

/** tfjs-layers' own predict on the same inputs, in output order. */
export function predict(model: tf.LayersModel, feeds: readonly Rows[]): Float32Array[] {
  return tf.tidy(() => {
    const ins = feeds.map((f) => tf.tensor(f.data, [...f.dims]));
    const out = model.predict(ins.length === 1 ? ins[0]! : ins);
    return (Array.isArray(out) ? out : [out]).map((t) => Float32Array.from(t.dataSync() as Float32Array));
  });
}
