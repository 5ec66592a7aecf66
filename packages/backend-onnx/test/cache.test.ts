// The prepared-model disk cache (backendOptions.onnx.cacheDir) on real onnxruntime sessions:
// a miss prepares and writes one entry, a hit opens the session without preparing, and the
// two give bit-identical outputs to a load without the cache (co2 example, LeNet). Options
// of the preparation key their own entries; bad entries are rebuilt, never used; a folder that
// cannot be written is a warning; concurrent loads into one empty folder leave one whole entry.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { createMcu, predict, type NamedTensors, type StochasticModel, type TensorData } from '@mcu/core';
import { fixturePath } from '../../../test/helpers/fixtures.js';
import { OnnxNodeBackend, OnnxWebNodeBackend } from '../src/backend.js';
import { BadEntry, decodeEntry, encodeEntry } from '../src/cache/entry.js';
import { defaultCacheDir } from '../src/cache/dir.js';
import { PreparedCache } from '../src/cache/store.js';
import { countFlops } from '../src/graph/flops.js';
import { onnxModule } from '../src/module.js';
import { encodeModel } from '../src/proto/codec.js';
import type { SessionModel } from '../src/runtime/session-model.js';
// a deterministic generator, so every load sees the same feeds and masks
import { mulberry32 as rng } from '../../../test/helpers/check.js';

const CO2 = fixturePath('pytorch-1.13-small/co2_relu.preserve.onnx');
const LENET = fixturePath('pytorch-1.13/lenet.preserve.onnx');
const LENET_EVAL = fixturePath('pytorch-1.13/lenet.eval.onnx');
/** A model whose weights are in an external data file (not cached). */
const EXTERNAL = fixturePath('pytorch-2.11/lenet.dynamo-eval.onnx');

const freshDir = () => mkdtempSync(join(tmpdir(), 'mcu-cache-'));
const entries = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.mcuprep'));

afterEach(() => {
  vi.restoreAllMocks();
});

/** Feeds of `rows` rows for every input (free dims → rows on axis 0, 1 elsewhere) and dropout masks of S samples, per row. */
function feedsAndMasks(model: StochasticModel, rows: number, samples: number): { feeds: NamedTensors; masks: NamedTensors } {
  const r = rng(7);
  const feeds: Record<string, TensorData> = {};
  for (const spec of model.inputs) {
    const dims = spec.dims.map((d, k) => (k === 0 ? rows : typeof d === 'number' && d > 0 ? d : 1));
    const n = dims.reduce((a, b) => a * b, 1);
    feeds[spec.name] = { dtype: 'float32', data: Float32Array.from({ length: n }, () => r() * 2 - 1), dims };
  }
  const masks: Record<string, TensorData> = {};
  for (const site of model.sites) {
    const dims = [samples, rows, ...site.maskShape];
    const n = dims.reduce((a, b) => a * b, 1);
    const keep = 1 / (1 - site.rate);
    masks[site.name] = { dtype: 'float32', data: Float32Array.from({ length: n }, () => (r() < site.rate ? 0 : keep)), dims };
  }
  return { feeds, masks };
}

/** Every output's bytes for one run on fixed feeds and masks. */
async function outputBytes(model: StochasticModel): Promise<Record<string, string>> {
  const { feeds, masks } = feedsAndMasks(model, 3, 4);
  const out = await model.run(feeds, masks, { samples: 4, scope: 'point' });
  const r: Record<string, string> = {};
  for (const [k, t] of Object.entries(out)) {
    const d = t.data as Float32Array;
    r[k] = `${t.dims.join('x')}:${Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('hex')}`;
  }
  return r;
}

/** What a loaded model says about itself, for hit / miss / uncached comparisons. */
function described(m: StochasticModel) {
  const s = m as SessionModel;
  const p = s.prepared!;
  return {
    inputs: s.inputs,
    outputs: s.outputs,
    sites: s.sites,
    layout: s.layout,
    warnings: s.warnings,
    hash: s.hash,
    share: s.shareBeforeFirstSite,
    prepared: {
      inputs: p.inputs,
      outputs: p.outputs,
      sites: p.sites,
      layout: p.layout,
      warnings: p.warnings,
      changes: p.changes,
      opset: p.opset,
      inputDims: p.inputDims,
      sampledOutputs: p.sampledOutputs,
    },
    modelBytes: Buffer.from(encodeModel(p.model)).toString('base64'),
    flops: (({ forSamples, ...rest }) => ({ ...rest, for100: forSamples(100) }))(countFlops(p)),
  };
}

async function loadWith(path: string, options: Record<string, unknown>, backend = new OnnxNodeBackend()) {
  const spy = vi.spyOn(backend, 'prepare');
  const model = await backend.load({ kind: 'path', path }, options);
  return { model, prepared: spy.mock.calls.length };
}

describe('the prepared-model disk cache', () => {
  test.each([
    ['co2 example', CO2, {}],
    ['LeNet', LENET, {}],
    ['LeNet eval + insertDropout', LENET_EVAL, { insertDropout: { rate: 0.25 } }],
  ])('%s: a miss prepares and writes one entry; a hit does not prepare; outputs bit-identical to no cache', async (_name, path, extra) => {
    const dir = freshDir();
    const plain = await loadWith(path, extra);
    const miss = await loadWith(path, { ...extra, cacheDir: dir });
    const hit = await loadWith(path, { ...extra, cacheDir: dir });
    try {
      expect(plain.prepared).toBe(1);
      expect(miss.prepared).toBe(1);
      expect(hit.prepared).toBe(0);
      expect(entries(dir)).toHaveLength(1);
      const ref = await outputBytes(plain.model);
      expect(Object.keys(ref).length).toBeGreaterThan(0);
      expect(await outputBytes(miss.model)).toEqual(ref);
      expect(await outputBytes(hit.model)).toEqual(ref);
      const d = described(plain.model);
      expect(described(miss.model)).toEqual(d);
      expect(described(hit.model)).toEqual(d);
    } finally {
      await Promise.all([plain, miss, hit].map((x) => x.model.dispose()));
    }
  });

  test("the engine's predictions (T = 50, seed 3) are bit-identical with and without the cache", async () => {
    const dir = freshDir();
    const mcu = createMcu({ backends: ['onnx'], modules: [onnxModule] });
    const x = Array.from({ length: 20 }, (_, i) => [-1 + i / 10]);
    const run = async (load: Record<string, unknown>) => (await predict(CO2, x, { mcu, samples: 50, seed: 3, load })).outputs;
    const ref = await run({});
    expect(await run({ cacheDir: dir })).toEqual(ref); // miss
    expect(entries(dir)).toHaveLength(1);
    expect(await run({ cacheDir: dir })).toEqual(ref); // hit
  });

  test('an option of the preparation keys its own entry; session options and key order do not', async () => {
    const dir = freshDir();
    const loads: { model: StochasticModel; prepared: number }[] = [];
    const expectEntries = async (options: Record<string, unknown>, path: string, count: number, prepared: number) => {
      const l = await loadWith(path, { ...options, cacheDir: dir });
      loads.push(l);
      expect(l.prepared).toBe(prepared);
      expect(entries(dir)).toHaveLength(count);
    };
    try {
      await expectEntries({}, CO2, 1, 1);
      await expectEntries({ scaling: 'none' }, CO2, 2, 1);
      await expectEntries({ rewrite: 'tiled' }, CO2, 3, 1);
      await expectEntries({ intraOpNumThreads: 1, graphOptimizationLevel: 'basic', executionProviders: ['cpu'] }, CO2, 3, 0);
      await expectEntries({ insertDropout: { rate: 0.1 } }, LENET_EVAL, 4, 1);
      await expectEntries({ insertDropout: { rate: 0.2 } }, LENET_EVAL, 5, 1);
      await expectEntries({ insertDropout: { rate: 0.2, before: ['Conv'], spatial: true } }, LENET_EVAL, 6, 1);
      await expectEntries({ insertDropout: { rate: 0.2 } }, LENET_EVAL, 6, 0);
    } finally {
      await Promise.all(loads.map((l) => l.model.dispose()));
    }
    const cache = new PreparedCache(dir);
    const bytes = new Uint8Array([1, 2, 3]);
    const key = (options: Record<string, unknown>, what?: string) => cache.key(bytes, { backend: 'onnx', ...(what ? { what } : {}), options });
    expect(await key({ rates: { a: 0.1, b: 0.2 } })).toBe(await key({ rates: { b: 0.2, a: 0.1 } }));
    expect(await key({ rates: { a: 0.1 } })).not.toBe(await key({ rates: { a: 0.2 } }));
    expect(await key({ maskInputs: { m: 0.5 } })).not.toBe(await key({}));
    expect(await key({}, 'a.onnx')).not.toBe(await key({}, 'b.onnx'));
    expect(await cache.key(new Uint8Array([1, 2, 4]), { backend: 'onnx', options: {} })).not.toBe(await key({}));
  });

  test('onnx-web (Node) caches too, under its own entries', async () => {
    const dir = freshDir();
    await (await loadWith(CO2, { cacheDir: dir })).model.dispose();
    const miss = await loadWith(CO2, { cacheDir: dir }, new OnnxWebNodeBackend());
    const hit = await loadWith(CO2, { cacheDir: dir }, new OnnxWebNodeBackend());
    const plain = await loadWith(CO2, {}, new OnnxWebNodeBackend());
    try {
      expect([miss.prepared, hit.prepared]).toEqual([1, 0]);
      expect(entries(dir)).toHaveLength(2);
      expect(await outputBytes(hit.model)).toEqual(await outputBytes(plain.model));
    } finally {
      await Promise.all([miss, hit, plain].map((x) => x.model.dispose()));
    }
  });

  test.each([
    ['truncated', (b: Buffer) => b.subarray(0, b.length - 10)],
    ['cut to its header', (b: Buffer) => b.subarray(0, 20)],
    ['a payload byte flipped', (b: Buffer) => Buffer.from(b.map((x, i) => (i === b.length - 100 ? x ^ 1 : x)))],
    ['a meta byte flipped', (b: Buffer) => Buffer.from(b.map((x, i) => (i === 60 ? x ^ 1 : x)))],
    ['bad magic', (b: Buffer) => Buffer.concat([Buffer.from('NOTMCU!\n'), b.subarray(8)])],
    ['empty', () => Buffer.alloc(0)],
  ])('an entry %s is not used: the model is prepared again and the entry rewritten', async (_what, damage) => {
    const dir = freshDir();
    await (await loadWith(CO2, { cacheDir: dir })).model.dispose();
    const [name] = entries(dir);
    const file = join(dir, name!);
    const good = readFileSync(file);
    writeFileSync(file, damage(good));
    const again = await loadWith(CO2, { cacheDir: dir });
    const plain = await loadWith(CO2, {});
    try {
      expect(again.prepared).toBe(1);
      expect(await outputBytes(again.model)).toEqual(await outputBytes(plain.model));
      expect(readFileSync(file).equals(good)).toBe(true);
      expect(entries(dir)).toEqual([name]);
    } finally {
      await Promise.all([again, plain].map((x) => x.model.dispose()));
    }
  });

  test("another key's entry under this key's name (a foreign entry) is not used", async () => {
    const dir = freshDir();
    await (await loadWith(LENET, { cacheDir: dir })).model.dispose();
    const [lenetEntry] = entries(dir);
    await (await loadWith(CO2, { cacheDir: dir })).model.dispose();
    const co2Entry = entries(dir).find((e) => e !== lenetEntry)!;
    writeFileSync(join(dir, co2Entry), readFileSync(join(dir, lenetEntry!)));
    const again = await loadWith(CO2, { cacheDir: dir });
    try {
      expect(again.prepared).toBe(1);
      expect(again.model.inputs.map((i) => i.name)).toEqual(['x']);
    } finally {
      await again.model.dispose();
    }
  });

  test('a model file replaced at the same path is a new entry, not the old one', async () => {
    const dir = freshDir();
    const file = join(freshDir(), 'model.onnx');
    writeFileSync(file, readFileSync(CO2));
    const first = await loadWith(file, { cacheDir: dir });
    writeFileSync(file, readFileSync(LENET));
    const second = await loadWith(file, { cacheDir: dir });
    try {
      expect([first.prepared, second.prepared]).toEqual([1, 1]);
      expect(second.model.inputs.map((i) => i.dims)).toEqual([['batch', 1, 28, 28]]);
      expect(entries(dir)).toHaveLength(2);
    } finally {
      await Promise.all([first, second].map((x) => x.model.dispose()));
    }
  });

  test('a path that is not a model file fails as without the cache', async () => {
    const dir = freshDir();
    const backend = new OnnxNodeBackend();
    await expect(backend.load({ kind: 'path', path: dir }, { cacheDir: dir })).rejects.toMatchObject({ code: 'E_FILE', message: /is a directory/ });
    await expect(backend.load({ kind: 'path', path: join(dir, 'none.onnx') }, { cacheDir: dir })).rejects.toMatchObject({
      code: 'E_FILE',
      message: /does not exist/,
    });
    expect(entries(dir)).toEqual([]);
  });

  test('decodeEntry refuses what is not exactly the entry of its key', () => {
    const sha = () => new Uint8Array(32).fill(7);
    const prepared = { inputs: [], outputs: [], sites: [], layout: 'broadcast', warnings: [], changes: [], opset: 13, inputDims: {}, sampledOutputs: [] };
    const bytes = encodeEntry('k1', { bytes: new Uint8Array([9, 9]), prepared: { ...prepared, model: {} } as never }, sha);
    expect(decodeEntry('k1', bytes, sha).bytes).toEqual(new Uint8Array([9, 9]));
    expect(() => decodeEntry('k2', bytes, sha)).toThrow(BadEntry);
    expect(() => decodeEntry('k1', bytes, () => new Uint8Array(32))).toThrow(/digest mismatch/);
    const otherFormat = Uint8Array.from(bytes);
    otherFormat[8] = 99;
    expect(() => decodeEntry('k1', otherFormat, sha)).toThrow(/entry format 99/);
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(() => decodeEntry('k1', longer, sha)).toThrow(/header says/);
  });

  test('a hit hashes the model once: the check of the entry gives the model hash (no second digest of the bytes)', async () => {
    const dir = freshDir();
    const plain = await loadWith(LENET, {});
    await (await loadWith(LENET, { cacheDir: dir })).model.dispose();
    const digest = vi.spyOn(globalThis.crypto.subtle, 'digest');
    const hit = await loadWith(LENET, { cacheDir: dir });
    try {
      expect(hit.prepared).toBe(0);
      expect(digest).not.toHaveBeenCalled();
      expect((hit.model as SessionModel).hash).toBe((plain.model as SessionModel).hash);
      expect((hit.model as SessionModel).hash).toMatch(/^sha256:[0-9a-f]{64}@cpu$/);
    } finally {
      await Promise.all([plain, hit].map((x) => x.model.dispose()));
    }
  });

  test('an entry with one byte changed in its meta or its payload is refused (each has its digest)', () => {
    const sha: (parts: readonly Uint8Array[]) => Uint8Array = (parts) => {
      const h = createHash('sha256');
      for (const p of parts) h.update(p);
      return new Uint8Array(h.digest());
    };
    const prepared = { inputs: [], outputs: [], sites: [], layout: 'broadcast', warnings: [], changes: [], opset: 13, inputDims: {}, sampledOutputs: [] };
    const payload = new Uint8Array([1, 2, 3, 4, 5]);
    const bytes = encodeEntry('k1', { bytes: payload, prepared: { ...prepared, model: {} } as never }, sha);
    expect(decodeEntry('k1', bytes, sha).bytesSha256).toBe(createHash('sha256').update(payload).digest('hex'));
    for (const at of [bytes.length - 1, bytes.length - payload.length - 2]) {
      const changed = Uint8Array.from(bytes);
      changed[at]! ^= 1;
      expect(() => decodeEntry('k1', changed, sha)).toThrow(/digest mismatch/);
    }
  });

  test('a cache folder that cannot be written is a warning; the load proceeds uncached', async () => {
    const file = join(freshDir(), 'a-file');
    writeFileSync(file, 'not a folder');
    const l = await loadWith(CO2, { cacheDir: join(file, 'cache') });
    const plain = await loadWith(CO2, {});
    try {
      expect(l.model.warnings.join('\n')).toMatch(/prepared-model cache folder .*a-file.cache cannot be written \(ENOTDIR\).*not cached/);
      expect(await outputBytes(l.model)).toEqual(await outputBytes(plain.model));
    } finally {
      await Promise.all([l, plain].map((x) => x.model.dispose()));
    }
  });

  test('concurrent loads into one empty folder leave one whole entry and agree', async () => {
    const dir = join(freshDir(), 'not-yet');
    const loads = await Promise.all(Array.from({ length: 4 }, () => loadWith(LENET, { cacheDir: dir })));
    try {
      expect(entries(dir)).toHaveLength(1);
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      const ref = await outputBytes(loads[0]!.model);
      for (const l of loads.slice(1)) expect(await outputBytes(l.model)).toEqual(ref);
    } finally {
      await Promise.all(loads.map((l) => l.model.dispose()));
    }
    const after = await loadWith(LENET, { cacheDir: dir });
    expect(after.prepared).toBe(0);
    await after.model.dispose();
  });

  test('models with external data are not cached', async () => {
    const dir = freshDir();
    const l = await loadWith(EXTERNAL, { cacheDir: dir });
    const w = await loadWith(EXTERNAL, { cacheDir: dir }, new OnnxWebNodeBackend());
    try {
      expect(l.prepared).toBe(1);
      expect(w.prepared).toBe(1);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      await Promise.all([l, w].map((x) => x.model.dispose()));
    }
  });

  test('pruning removes entries unused for 30 days and stale temporary files', async () => {
    const dir = freshDir();
    const old = new Date(Date.now() - 31 * 24 * 3600 * 1000);
    const { utimesSync } = await import('node:fs');
    writeFileSync(join(dir, 'a.mcuprep'), 'x');
    writeFileSync(join(dir, 'b.mcuprep'), 'y');
    writeFileSync(join(dir, '.c.1.tmp'), 'z');
    writeFileSync(join(dir, 'unrelated.txt'), 'keep');
    utimesSync(join(dir, 'a.mcuprep'), old, old);
    utimesSync(join(dir, '.c.1.tmp'), old, old);
    await new PreparedCache(dir).prune();
    expect(readdirSync(dir).sort()).toEqual(['b.mcuprep', 'unrelated.txt']);
    expect(statSync(join(dir, 'b.mcuprep')).size).toBe(1);
  });

  test('defaultCacheDir: $XDG_CACHE_HOME/mcu, else ~/.cache/mcu', () => {
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache', HOME: '/home/u' })).toBe(join('/x/cache', 'mcu'));
    expect(defaultCacheDir({ XDG_CACHE_HOME: '', HOME: '/home/u' })).toBe(join('/home/u', '.cache', 'mcu'));
    expect(defaultCacheDir({ HOME: '/home/u' })).toBe(join('/home/u', '.cache', 'mcu'));
  });
});
