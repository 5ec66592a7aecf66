// Loader for the dropout "zoo" (test/fixtures/zoo/): PyTorch 1.13 exports of common
// architectures with PyTorch's own answers, written by scripts/zoo/make_zoo.py.
//
// Each model NAME is stored as NAME.skel.gz (the ONNX bytes with the hash-generated weight
// tensors cut out, gzipped) and NAME.json = { model: { size, sha256, pieces }, ref }. The
// model is rebuilt by walking the pieces ({skel: n}: the next n skeleton bytes; {gen: …}:
// n float32 values from the counter-based hash below) and checked against the sha256 of
// the original export — which also checks that this hash agrees with numpy's bit for bit.
// See test/fixtures/zoo/README.md. Node built-ins only.

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

/** Root of the stored zoo (test/fixtures/zoo). */
export const ZOO_DIR = fileURLToPath(new URL('../fixtures/zoo/', import.meta.url));

// ------------------------------------------------------------------ the shared hash
/** Hash parameters of a generated tensor (or float input): n values from seed. */
export interface GenSpec {
  seed: number;
  n: number;
  /** float32 values, stored as JSON doubles */
  scale: number;
  offset: number;
}

/**
 * n float32 values of the hash with this seed, as make_zoo.py's gen_values:
 *   x = k·0x9E3779B1 + s·0x85EBCA77 + 0x27D4EB2F (mod 2^32), lowbias32(x),
 *   u = (x >>> 8) / 2^24,  value = float32(offset + (2u − 1)·scale)  (float64 arithmetic).
 */
export function zooHashFloats(g: GenSpec): Float32Array {
  const { seed, n, scale, offset } = g;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`zoo hash: bad seed ${seed}`);
  if (!Number.isInteger(n) || n < 0) throw new Error(`zoo hash: bad count ${n}`);
  const base = (Math.imul(seed | 0, 0x85ebca77) + 0x27d4eb2f) >>> 0;
  const out = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    let x = (Math.imul(k, 0x9e3779b1) + base) >>> 0;
    x ^= x >>> 16;
    x = Math.imul(x, 0x7feb352d) >>> 0;
    x ^= x >>> 15;
    x = Math.imul(x, 0x846ca68b) >>> 0;
    x ^= x >>> 16;
    const u = (x >>> 8) / 16777216;
    out[k] = offset + (2 * u - 1) * scale; // the store rounds to float32 (= Math.fround)
  }
  return out;
}

/** float32 array → little-endian bytes. */
function f32Bytes(a: Float32Array): Buffer {
  const b = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  if (os.endianness() === 'LE') return b;
  const c = Buffer.from(b);
  c.swap32();
  return c;
}

/** base64 of float32 little-endian → Float32Array (its own buffer). */
function decodeF32(b64: string, what: string): Float32Array {
  const b = Buffer.from(b64, 'base64');
  if (b.length % 4 !== 0) throw new Error(`${what}: ${b.length} bytes is not a whole number of float32 values`);
  const c = Buffer.from(b); // aligned copy
  if (os.endianness() !== 'LE') c.swap32();
  return new Float32Array(c.buffer, c.byteOffset, c.length / 4);
}

const sha256Hex = (b: Uint8Array): string => crypto.createHash('sha256').update(b).digest('hex');
const prod = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

// ------------------------------------------------------------------ stored json
type Piece = { skel: number } | { gen: GenSpec };
type StoredInput =
  | { dtype: 'float32' | 'int64'; dims: number[]; gen: Omit<GenSpec, 'n'> }
  | { dtype: 'float32' | 'int64'; dims: number[]; data: number[] };
interface StoredRef {
  name: string;
  source: string;
  style: string;
  opset: number;
  note: string | null;
  inputs: Record<string, StoredInput>;
  outputs: string[];
  sites: ZooSite[];
  exact: {
    masks: { rowShape: number[]; p: number; bits: string }[];
    outputs: Record<string, { dims: number[]; data: string }>;
  }[];
  mc: { T: number; scope: 'point'; outputs: Record<string, { dims: number[]; mean: string; std: string; m4: string }> };
  deterministic: Record<string, string>;
  ops: Record<string, number>;
}
interface StoredRefused {
  name: string;
  refuse: true;
  ops: Record<string, number>;
  opset: number;
}
interface Stored {
  model: { size: number; sha256: string; pieces: Piece[] };
  ref: StoredRef | StoredRefused;
}

let catalogCache: { names: string[]; sha: string } | undefined;
/** All stored names (NAME.json files), sorted, and the hash of their jsons. */
function catalog(): { names: string[]; sha: string } {
  if (!catalogCache) {
    const names = fs
      .readdirSync(ZOO_DIR)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length))
      .sort();
    const h = crypto.createHash('sha256');
    for (const n of names) h.update(`${n}\0`).update(fs.readFileSync(path.join(ZOO_DIR, `${n}.json`))).update('\0');
    catalogCache = { names, sha: h.digest('hex') };
  }
  return catalogCache;
}

const storedCache = new Map<string, string>();
/** The parsed NAME.json (fresh object each call). */
function stored(name: string): Stored {
  let t = storedCache.get(name);
  if (t === undefined) {
    if (!catalog().names.includes(name)) {
      throw new Error(`no zoo model '${name}' (stored: ${catalog().names.join(', ')})`);
    }
    t = fs.readFileSync(path.join(ZOO_DIR, `${name}.json`), 'utf8');
    storedCache.set(name, t);
  }
  return JSON.parse(t) as Stored;
}
const isRefused = (r: Stored['ref']): r is StoredRefused => (r as StoredRefused).refuse === true;

/** The zoo's models (those with PyTorch answers), sorted; refusal models excluded. */
export function zooNames(): string[] {
  return catalog().names.filter((n) => !n.startsWith('refuse.'));
}

/** Models mcu must refuse (stochastic ops other than Dropout: RandomUniformLike, …), sorted. */
export function zooRefusedNames(): string[] {
  return catalog().names.filter((n) => n.startsWith('refuse.'));
}

/** Size and sha256 of the original export, as recorded by make_zoo.py. */
export function zooModelInfo(name: string): { size: number; sha256: string; pieces: number; generated: number } {
  const m = stored(name).model;
  const gens = m.pieces.filter((p): p is { gen: GenSpec } => 'gen' in p);
  return { size: m.size, sha256: m.sha256, pieces: m.pieces.length, generated: gens.reduce((a, p) => a + 4 * p.gen.n, 0) };
}

// ------------------------------------------------------------------ models
const bytesCache = new Map<string, Uint8Array>();

/**
 * The original ONNX bytes of a zoo (or refusal) model, byte-exact and sha256-verified. The
 * reconstruction is cached; each call returns its own copy, so callers may mutate it.
 */
export function zooModelBytes(name: string): Uint8Array {
  const cached = bytesCache.get(name);
  if (cached) return cached.slice();
  const { model } = stored(name);
  const skel = zlib.gunzipSync(fs.readFileSync(path.join(ZOO_DIR, `${name}.skel.gz`)));
  const parts: Buffer[] = [];
  let sp = 0;
  for (const pc of model.pieces) {
    if ('skel' in pc) {
      if (sp + pc.skel > skel.length) throw new Error(`zoo model '${name}': skeleton too short`);
      parts.push(skel.subarray(sp, sp + pc.skel));
      sp += pc.skel;
    } else {
      parts.push(f32Bytes(zooHashFloats(pc.gen)));
    }
  }
  if (sp !== skel.length) throw new Error(`zoo model '${name}': skeleton length mismatch (${sp} of ${skel.length} bytes used)`);
  const bytes = Buffer.concat(parts);
  if (bytes.length !== model.size || sha256Hex(bytes) !== model.sha256) {
    throw new Error(
      `zoo model '${name}': the rebuild (${bytes.length} bytes, sha256 ${sha256Hex(bytes)}) does not match the original (${model.size} bytes, ${model.sha256})`,
    );
  }
  const out = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  bytesCache.set(name, out);
  return out.slice();
}

let materialDir: string | undefined;
const pathCache = new Map<string, string>();

/** Directory under os.tmpdir() where zoo models are materialised (keyed by the hash of the jsons). */
export function zooMaterialDir(): string {
  if (!materialDir) materialDir = path.join(os.tmpdir(), `mcu-zoo-${catalog().sha.slice(0, 12)}`);
  return materialDir;
}

/**
 * The model written to os.tmpdir()/mcu-zoo-<hash>/NAME.onnx (atomically, once; a file already
 * there is reused when its size and sha256 match), as an absolute path.
 */
export function zooModelPath(name: string): string {
  const cached = pathCache.get(name);
  if (cached) return cached;
  const { size, sha256 } = stored(name).model;
  const target = path.join(zooMaterialDir(), `${name}.onnx`);
  let ok = false;
  try {
    ok = fs.statSync(target).size === size && sha256Hex(fs.readFileSync(target)) === sha256;
  } catch {
    ok = false;
  }
  if (!ok) {
    const bytes = zooModelBytes(name);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const tmp = `${target}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, target); // atomic: concurrent test workers never see a partial file
  }
  pathCache.set(name, target);
  return target;
}

// ------------------------------------------------------------------ refs
export type ZooSiteKind = 'dropout' | 'feature' | 'alpha';

/** One dropout call of torch's forward, in forward order. */
export interface ZooSite {
  kind: ZooSiteKind;
  p: number;
  /** the torch tensor's shape at the recorded batch N */
  shape: number[];
  /** the axis of `shape` that carries the batch, and its factor k (shape[rowAxis] = k·N) */
  rowAxis: number;
  rowFactor: number;
  /** mcu's per-row mask shape: [k, ...shape without rowAxis] (k omitted when 1); [C, 1, …] for 'feature' */
  rowShape: number[];
}

export interface ZooInput {
  dtype: 'float32' | 'int64';
  dims: number[];
  data: Float32Array | BigInt64Array;
}

export interface ZooTensor {
  dims: number[];
  data: Float32Array;
}

export interface ZooMask {
  kind: ZooSiteKind;
  p: number;
  rowShape: number[];
  /** [N, ...rowShape] flat: Math.fround(1/(1−p)) ('dropout', 'feature') or 1 ('alpha') where kept, 0 where dropped */
  values: Float32Array;
  /** number of kept units */
  kept: number;
}

export interface ZooExact {
  /** one per site, in forward order */
  masks: ZooMask[];
  /** torch's outputs under these masks */
  outputs: Record<string, ZooTensor>;
}

export interface ZooMcStats {
  dims: number[];
  mean: Float32Array;
  /** ddof 0 */
  std: Float32Array;
  /** 4th central moment */
  m4: Float32Array;
}

export interface ZooRef {
  name: string;
  source: string;
  style: string;
  opset: number;
  note: string | null;
  /** the batch (rows) of every input */
  N: number;
  inputs: Record<string, ZooInput>;
  /** the same values as plain numbers, flat row-major (for writing CSV / JSON input files) */
  inputNumbers: Record<string, number[]>;
  /** output names, in order */
  outputs: string[];
  sites: ZooSite[];
  /** 2 forwards with recorded masks */
  exact: ZooExact[];
  /** T forwards with torch's own dropout, independent per row (mcu's `point` scope) */
  mc: { T: number; scope: 'point'; outputs: Record<string, ZooMcStats> };
  /** eval-mode outputs */
  deterministic: Record<string, Float32Array>;
  ops: Record<string, number>;
}

/** Mask value of a kept unit. */
export function zooKeepValue(kind: ZooSiteKind, p: number): number {
  return kind === 'alpha' ? 1 : Math.fround(1 / (1 - p));
}

/** PyTorch's answers for a zoo model, decoded (fresh object each call). */
export function zooRef(name: string): ZooRef {
  const ref = stored(name).ref;
  if (isRefused(ref)) throw new Error(`zoo model '${name}' is a refusal model: it has no reference answers`);
  const where = (s: string): string => `zoo model '${name}': ${s}`;

  const inputs: Record<string, ZooInput> = {};
  const inputNumbers: Record<string, number[]> = {};
  let N = -1;
  for (const [k, inp] of Object.entries(ref.inputs)) {
    const n = prod(inp.dims);
    let nums: number[];
    if ('gen' in inp) {
      nums = Array.from(zooHashFloats({ ...inp.gen, n }));
    } else {
      nums = inp.data.slice();
      if (nums.length !== n) throw new Error(where(`input '${k}' holds ${nums.length} values for dims [${inp.dims}]`));
    }
    if (inp.dtype === 'int64') {
      if (!nums.every(Number.isSafeInteger)) throw new Error(where(`int64 input '${k}' holds a non-integer`));
      inputs[k] = { dtype: 'int64', dims: inp.dims.slice(), data: BigInt64Array.from(nums, (v) => BigInt(v)) };
    } else {
      inputs[k] = { dtype: 'float32', dims: inp.dims.slice(), data: Float32Array.from(nums) };
    }
    inputNumbers[k] = nums;
    if (N < 0) N = inp.dims[0];
    else if (inp.dims[0] !== N) throw new Error(where(`inputs disagree on the batch (${N} vs ${inp.dims[0]})`));
  }

  const tensor = (t: { dims: number[]; data: string }, what: string): ZooTensor => {
    const data = decodeF32(t.data, where(what));
    if (data.length !== prod(t.dims)) throw new Error(where(`${what}: ${data.length} values for dims [${t.dims}]`));
    return { dims: t.dims.slice(), data };
  };

  const exact: ZooExact[] = ref.exact.map((e, r) => {
    if (e.masks.length !== ref.sites.length) throw new Error(where(`exact[${r}] has ${e.masks.length} masks for ${ref.sites.length} sites`));
    const masks = e.masks.map((m, s): ZooMask => {
      const site = ref.sites[s];
      const count = N * prod(m.rowShape);
      const bits = Buffer.from(m.bits, 'base64');
      if (bits.length !== Math.ceil(count / 8)) {
        throw new Error(where(`exact[${r}] site ${s}: ${bits.length} mask bytes for ${count} units ([${N}, ${m.rowShape}])`));
      }
      const keep = zooKeepValue(site.kind, m.p);
      const values = new Float32Array(count);
      let kept = 0;
      for (let i = 0; i < count; i++) {
        if ((bits[i >> 3] >> (i & 7)) & 1) {
          values[i] = keep;
          kept++;
        }
      }
      return { kind: site.kind, p: m.p, rowShape: m.rowShape.slice(), values, kept };
    });
    const outputs: Record<string, ZooTensor> = {};
    for (const [k, t] of Object.entries(e.outputs)) outputs[k] = tensor(t, `exact[${r}] output '${k}'`);
    return { masks, outputs };
  });

  const mcOut: Record<string, ZooMcStats> = {};
  for (const [k, s] of Object.entries(ref.mc.outputs)) {
    const n = prod(s.dims);
    const stat = (b64: string, what: string): Float32Array => {
      const a = decodeF32(b64, where(`mc '${k}' ${what}`));
      if (a.length !== n) throw new Error(where(`mc '${k}' ${what}: ${a.length} values for dims [${s.dims}]`));
      return a;
    };
    mcOut[k] = { dims: s.dims.slice(), mean: stat(s.mean, 'mean'), std: stat(s.std, 'std'), m4: stat(s.m4, 'm4') };
  }
  const deterministic: Record<string, Float32Array> = {};
  for (const [k, b64] of Object.entries(ref.deterministic)) deterministic[k] = decodeF32(b64, where(`deterministic '${k}'`));

  return {
    name: ref.name,
    source: ref.source,
    style: ref.style,
    opset: ref.opset,
    note: ref.note ?? null,
    N,
    inputs,
    inputNumbers,
    outputs: ref.outputs.slice(),
    sites: ref.sites.map((s) => ({ ...s, shape: s.shape.slice(), rowShape: s.rowShape.slice() })),
    exact,
    mc: { T: ref.mc.T, scope: ref.mc.scope, outputs: mcOut },
    deterministic,
    ops: { ...ref.ops },
  };
}

/** What make_zoo.py recorded about a refusal model: its op counts and opset. */
export function zooRefusedRef(name: string): { name: string; ops: Record<string, number>; opset: number } {
  const ref = stored(name).ref;
  if (!isRefused(ref)) throw new Error(`zoo model '${name}' is not a refusal model`);
  return { name: ref.name, ops: { ...ref.ops }, opset: ref.opset };
}

/**
 * An exact record's masks as `mcu predict --masks FILE` takes them: one entry per site (forward
 * order), each N rows (one per input row), each row the flat per-row mask ([...rowShape]).
 */
export function zooMasksJson(name: string, record: number | ZooExact): number[][][] {
  let e: ZooExact;
  if (typeof record === 'number') {
    const ref = zooRef(name);
    if (!ref.exact[record]) throw new Error(`zoo model '${name}' has no exact record ${record} (it has ${ref.exact.length})`);
    e = ref.exact[record];
  } else e = record;
  return e.masks.map((m) => {
    const w = prod(m.rowShape);
    const rows = m.values.length / w;
    return Array.from({ length: rows }, (_, r) => Array.from(m.values.subarray(r * w, (r + 1) * w)));
  });
}

/** flat row-major values → nested arrays of dims (dims.length ≥ 1). */
function nest(values: readonly number[], dims: readonly number[]): unknown[] {
  const build = (at: number, d: number): unknown[] => {
    const len = dims[d];
    const stride = prod(dims.slice(d + 1));
    const out: unknown[] = new Array(len);
    for (let i = 0; i < len; i++) out[i] = d === dims.length - 1 ? values[at + i] : build(at + i * stride, d + 1);
    return out;
  };
  return build(0, 0);
}

/**
 * Writes each model input to DIR/<model>.<input>.json as nested JSON arrays of the input's full
 * dims ([N][…], the CLI takes the shape from the nesting; int64 ids as integers) and returns
 * the `--input` values, `INPUT=FILE`, in the model's input order.
 */
export function zooInputFile(name: string, dir: string): string[] {
  const ref = zooRef(name);
  fs.mkdirSync(dir, { recursive: true });
  return Object.entries(ref.inputs).map(([k, inp]) => {
    const file = path.join(dir, `${name}.${k}.json`);
    const dims = inp.dims.length === 1 ? [inp.dims[0], 1] : inp.dims;
    fs.writeFileSync(file, JSON.stringify(nest(ref.inputNumbers[k], dims)));
    return `${k}=${file}`;
  });
}
