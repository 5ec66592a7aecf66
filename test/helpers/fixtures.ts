// Loader for the repo's compact copy of the reference fixtures (test/fixtures/).
//
// Files are named by their path in the full fixture set (/work/shared/fixtures), e.g.
// 'pytorch-1.13/co2_relu.opset6.onnx'. Models are stored as skeletons plus deduplicated
// weight blobs (see test/fixtures/README.md); every reconstruction is checked against
// the sha256 of the original PyTorch export, recorded by scripts/fixtures/build.mjs.
// Node built-ins only.

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

/** Root of the stored fixtures (test/fixtures). */
export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

// ------------------------------------------------------------------ manifest
type Piece = { skel: number } | { blob: string; transpose?: [number, number] };
interface ManifestFile {
  size: number;
  sha256: string;
  source: string;
  kind: 'copy' | 'skel';
  file?: string;
  skel?: string;
  pieces?: Piece[];
  companions?: string[];
}
interface Manifest {
  format: number;
  files: Record<string, ManifestFile>;
  blobs: Record<string, { sha256: string; size: number; file: string; encoding: 'shuffle4+brotli' }>;
  refs: Record<string, string>;
}

let manifestCache: { m: Manifest; sha: string } | undefined;
function manifest(): { m: Manifest; sha: string } {
  if (!manifestCache) {
    const raw = fs.readFileSync(path.join(FIXTURES_DIR, 'manifest.json'));
    manifestCache = { m: JSON.parse(raw.toString('utf8')) as Manifest, sha: sha256Hex(raw) };
  }
  return manifestCache;
}

function sha256Hex(b: Uint8Array): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}
const readStored = (rel: string): Buffer => fs.readFileSync(path.join(FIXTURES_DIR, rel));

/** All stored files (paths relative to the fixture root), in manifest order. */
export function fixtureFiles(): string[] {
  return Object.keys(manifest().m.files);
}

/** The sha256 of the original file, as recorded by the build script. */
export function fixtureSha256(rel: string): string {
  return entry(rel).sha256;
}

function entry(rel: string): ManifestFile {
  const f = manifest().m.files[rel];
  if (!f) throw new Error(`no stored fixture '${rel}' (see test/fixtures/manifest.json for what is kept)`);
  return f;
}

// ------------------------------------------------------------------ blobs
const blobCache = new Map<string, Buffer>();
function blob(id: string): Buffer {
  let b = blobCache.get(id);
  if (!b) {
    const meta = manifest().m.blobs[id];
    if (!meta) throw new Error(`fixture blob ${id} missing from manifest`);
    if (meta.encoding !== 'shuffle4+brotli') throw new Error(`unknown blob encoding ${meta.encoding}`);
    const shuffled = zlib.brotliDecompressSync(readStored(meta.file));
    // undo the byte-plane split: plane k holds byte k of every 4-byte element
    const n = shuffled.length / 4;
    b = Buffer.allocUnsafe(shuffled.length);
    for (let k = 0; k < 4; k++) {
      const base = k * n;
      for (let i = 0; i < n; i++) b[4 * i + k] = shuffled[base + i];
    }
    if (b.length !== meta.size || sha256Hex(b) !== meta.sha256) throw new Error(`fixture blob ${id} is corrupt`);
    blobCache.set(id, b);
  }
  return b;
}

/** rows x cols matrix of 4-byte elements -> its transpose (cols x rows). */
function transpose4(src: Buffer, rows: number, cols: number): Buffer {
  const s = new Uint32Array(src.buffer.slice(src.byteOffset, src.byteOffset + src.length));
  const out = new Uint32Array(s.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = s[r * cols + c];
  return Buffer.from(out.buffer);
}

// ------------------------------------------------------------------ files
const bytesCache = new Map<string, Uint8Array>();

/**
 * The original bytes of a stored fixture file (byte-exact, sha256-verified). The
 * reconstruction is cached; each call returns its own copy, so callers may mutate it.
 */
export function fixtureBytes(rel: string): Uint8Array {
  const cached = bytesCache.get(rel);
  if (cached) return cached.slice();
  const f = entry(rel);
  let bytes: Buffer;
  if (f.kind === 'copy') bytes = readStored(f.file!);
  else {
    const skel = readStored(f.skel!);
    const parts: Buffer[] = [];
    let sp = 0;
    for (const pc of f.pieces!) {
      if ('skel' in pc) {
        parts.push(skel.subarray(sp, sp + pc.skel));
        sp += pc.skel;
      } else {
        const b = blob(pc.blob);
        parts.push(pc.transpose ? transpose4(b, pc.transpose[0], pc.transpose[1]) : b);
      }
    }
    if (sp !== skel.length) throw new Error(`fixture '${rel}': skeleton length mismatch`);
    bytes = Buffer.concat(parts);
  }
  if (bytes.length !== f.size || sha256Hex(bytes) !== f.sha256)
    throw new Error(`fixture '${rel}': reconstruction does not match the original's sha256 ${f.sha256}`);
  const out = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  bytesCache.set(rel, out);
  return out.slice();
}

let materialDir: string | undefined;
const pathCache = new Map<string, string>();

/** Directory under os.tmpdir() where fixtures are materialised (keyed by the manifest hash). */
function materialRoot(): string {
  if (!materialDir) materialDir = path.join(os.tmpdir(), `mcu-fixtures-${manifest().sha.slice(0, 12)}`);
  return materialDir;
}

function materialise(rel: string): string {
  const cached = pathCache.get(rel);
  if (cached) return cached;
  const f = entry(rel);
  const target = path.join(materialRoot(), ...rel.split('/'));
  let ok = false;
  try {
    const st = fs.statSync(target);
    ok = st.size === f.size && sha256Hex(fs.readFileSync(target)) === f.sha256;
  } catch {
    ok = false;
  }
  if (!ok) {
    const bytes = fixtureBytes(rel);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const tmp = `${target}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, target); // atomic: concurrent test workers never see a partial file
  }
  pathCache.set(rel, target);
  return target;
}

/**
 * Writes the fixture (and, for a model with external data, its `.data` sibling) into a
 * folder under os.tmpdir() with the same relative layout, and returns its absolute path.
 */
export function fixturePath(rel: string): string {
  const p = materialise(rel);
  for (const c of entry(rel).companions ?? []) materialise(c);
  return p;
}

// ------------------------------------------------------------------ refs
interface PackedMask {
  shape: [number, number];
  p: number;
  scale: number;
  bits: string;
}
/** Bernoulli mask stored as bits (row-major, LSB first) -> rows of 0 / scale (= float32(1/(1-p))). */
function unpackMask(m: PackedMask): number[][] {
  const bits = Buffer.from(m.bits, 'base64');
  const [R, C] = m.shape;
  const rows: number[][] = new Array(R);
  for (let r = 0; r < R; r++) {
    const row: number[] = new Array(C);
    for (let c = 0; c < C; c++) {
      const i = r * C + c;
      row[c] = (bits[i >> 3] >> (i & 7)) & 1 ? m.scale : 0;
    }
    rows[r] = row;
  }
  return rows;
}

const refText = new Map<string, string>();
function refJson<T>(key: string): T {
  let t = refText.get(key);
  if (t === undefined) {
    const file = manifest().m.refs[key];
    if (!file) throw new Error(`no stored reference '${key}'`);
    t = readStored(file).toString('utf8');
    refText.set(key, t);
  }
  return JSON.parse(t) as T;
}

export interface Co2Exact {
  /** indices into x */
  rows: number[];
  /** masks[site][row][unit], site = dropout before weight layer 2..5; values 0 or float32(1/(1-p)) */
  masks: number[][][];
  /** the network's output for x[rows] under these masks */
  y: number[];
}
export interface Co2Ref {
  set: '1.13' | '1.13-small';
  model: 'co2_relu' | 'co2_tanh';
  /** the shared file this was trimmed from, and its sha256 */
  source: string;
  source_sha256: string;
  meta: { torch: string; device: string };
  files: Record<string, string>;
  p: number;
  hidden: number;
  layers: number;
  activation: 'relu' | 'tanh';
  l: number;
  tau: number;
  weight_decay: number;
  n_train: number;
  /** standardised inputs / targets of all 741 months */
  x: number[];
  y: number[];
  t_years: number[];
  norm: { t_mean: number; t_std: number; y_mean: number; y_std: number };
  /** eval-mode output (standard dropout) */
  deterministic: number[];
  mc_T: number;
  mc_mean: number[];
  mc_std: number[];
  exact: Co2Exact[];
}

/** PyTorch's answers for a co2 network (fresh object each call). */
export function co2Ref(set: '1.13' | '1.13-small', model: 'co2_relu' | 'co2_tanh'): Co2Ref {
  type Stored = {
    source: string;
    source_sha256: string;
    meta: Co2Ref['meta'];
    models: Record<string, Omit<Co2Ref, 'set' | 'model' | 'source' | 'source_sha256' | 'meta' | 'exact'> & {
      exact: { rows: number[]; masks: PackedMask[]; y: number[] }[];
    }>;
  };
  const s = refJson<Stored>(`co2-${set}`);
  const m = s.models[model];
  if (!m) throw new Error(`no co2 model '${model}' in set ${set}`);
  return {
    set,
    model,
    source: s.source,
    source_sha256: s.source_sha256,
    meta: s.meta,
    ...m,
    exact: m.exact.map((e) => ({ rows: e.rows, masks: e.masks.map(unpackMask), y: e.y })),
  };
}

export interface LenetRotated {
  angles: number[];
  /** 12 images [784], floats in [0, 1] */
  images: number[][];
  /** [12][500], values 0 or float32(1/(1-p)) = 2 */
  exact_mask: number[][];
  exact_logits: number[][];
  T: number;
  mean_probs: number[][];
  predicted: number[];
  entropy: number[];
  mutual_information: number[];
  variation_ratio: number[];
  logits_mean: number[][];
  logits_std: number[][];
}
export interface LenetRef {
  set: '1.13' | '2.11';
  source: string;
  source_sha256: string;
  meta: { torch: string; device: string };
  files: Record<string, string>;
  p: number;
  acc_standard: number;
  acc_mc100: number;
  /** 200 test digits, 784 bytes each (/255 to get the input) */
  test_images_u8: number[][];
  test_labels: number[];
  rotated: LenetRotated;
}

/** PyTorch's answers for LeNet (fresh object each call). */
export function lenetRef(set: '1.13' | '2.11'): LenetRef {
  type Stored = Omit<LenetRef, 'set' | 'test_images_u8' | 'rotated'> & {
    test_images_u8: { file: string; count: number; size: number; sha256: string };
    rotated: Omit<LenetRotated, 'exact_mask'> & { exact_mask: PackedMask };
  };
  const s = refJson<Stored>(`lenet-${set}`);
  const ti = s.test_images_u8;
  const imgs = Buffer.from(readStored(ti.file).toString('utf8'), 'base64');
  if (imgs.length !== ti.count * ti.size || sha256Hex(imgs) !== ti.sha256) throw new Error(`${ti.file} is corrupt`);
  const test_images_u8 = Array.from({ length: ti.count }, (_, i) => Array.from(imgs.subarray(i * ti.size, (i + 1) * ti.size)));
  return {
    ...s,
    set,
    test_images_u8,
    rotated: { ...s.rotated, exact_mask: unpackMask(s.rotated.exact_mask) },
  };
}

// ------------------------------------------------------------------ UCI (Gal's splits)
export const UCI_DATASETS = ['bostonHousing', 'concrete', 'energy', 'yacht'] as const;
export type UciDataset = (typeof UCI_DATASETS)[number];
export interface UciSplitRef {
  split: number;
  onnx: string;
  p: number;
  tau: number;
  n_train: number;
  n_test: number;
  torch_rmse_standard: number;
  torch_rmse_mc: number;
  torch_test_ll: number;
}
export interface UciReference {
  dataset: string;
  torch: string;
  device: string;
  T: number;
  hidden: number;
  epochs: number;
  batch: number;
  length_scale: number;
  grid: { p: number[]; tau: number[] };
  rmse_mc: { mean: number; stderr: number };
  rmse_standard: { mean: number; stderr: number };
  test_ll: { mean: number; stderr: number };
  /** all 20 splits' numbers */
  splits: UciSplitRef[];
  [k: string]: unknown;
}
export interface UciFixture {
  dataset: UciDataset;
  /** materialised uci/<dataset> folder (reference.json, data/, split00.onnx … split19.onnx) */
  dir: string;
  reference: UciReference;
  /** rows of data/data.txt */
  data: number[][];
  featureIndex: number[];
  targetIndex: number;
  /** the splits whose model is stored, with their (0-based) row indices */
  splits: (UciSplitRef & { modelPath: string; trainIndex: number[]; testIndex: number[] })[];
}

const parseNumbers = (rel: string): number[] =>
  Buffer.from(fixtureBytes(rel)).toString('utf8').trim().split(/\s+/).map(Number);

/** A UCI dataset: reference numbers, raw data, split indices and the 20 split models. */
export function uciFixture(dataset: UciDataset = 'yacht'): UciFixture {
  const base = `uci/${dataset}`;
  for (const rel of fixtureFiles()) if (rel.startsWith(`${base}/`)) materialise(rel);
  const reference = JSON.parse(Buffer.from(fixtureBytes(`${base}/reference.json`)).toString('utf8')) as UciReference;
  const data = Buffer.from(fixtureBytes(`${base}/data/data.txt`))
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.trim().split(/\s+/).map(Number));
  const stored = new Set(fixtureFiles());
  const splits = reference.splits
    .filter((s) => stored.has(`${base}/${s.onnx}`))
    .map((s) => ({
      ...s,
      modelPath: fixturePath(`${base}/${s.onnx}`),
      trainIndex: parseNumbers(`${base}/data/index_train_${s.split}.txt`),
      testIndex: parseNumbers(`${base}/data/index_test_${s.split}.txt`),
    }));
  return {
    dataset,
    dir: path.join(materialRoot(), ...base.split('/')),
    reference,
    data,
    featureIndex: parseNumbers(`${base}/data/index_features.txt`),
    targetIndex: parseNumbers(`${base}/data/index_target.txt`)[0],
    splits,
  };
}

// ------------------------------------------------------------------ ONNX Dropout conformance
export interface ConformanceCase {
  /** folder name, e.g. 'test_training_dropout_mask' */
  name: string;
  modelPath: string;
  /** raw TensorProto bytes of input_K.pb / output_K.pb, in K order */
  inputs: Uint8Array[];
  outputs: Uint8Array[];
}

/** ONNX's own Dropout node tests (onnx 1.12), one entry per folder. */
export function conformanceCases(): ConformanceCase[] {
  const base = 'onnx-dropout-conformance/';
  const names = new Set<string>();
  for (const rel of fixtureFiles()) if (rel.startsWith(base) && rel.endsWith('/model.onnx')) names.add(rel.slice(base.length, -'/model.onnx'.length));
  const pbs = (name: string, kind: 'input' | 'output'): Uint8Array[] => {
    const re = new RegExp(`^${base}${name}/test_data_set_0/${kind}_(\\d+)\\.pb$`);
    return fixtureFiles()
      .map((rel) => [rel, re.exec(rel)] as const)
      .filter(([, m]) => m)
      .sort((a, b) => Number(a[1]![1]) - Number(b[1]![1]))
      .map(([rel]) => fixtureBytes(rel));
  };
  return [...names].sort().map((name) => ({
    name,
    modelPath: fixturePath(`${base}${name}/model.onnx`),
    inputs: pbs(name, 'input'),
    outputs: pbs(name, 'output'),
  }));
}
