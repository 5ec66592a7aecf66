/**
 * Reading a model file and its external data (TensorProto.data_location = EXTERNAL, with
 * `external_data` keys location / offset / length), and inlining that data into raw_data so
 * the prepared model is self-contained.
 *
 * A location must name a file inside the model's folder: absolute paths, `..` segments and
 * anything that resolves (symlinks included) outside the folder are refused. The declared
 * offset + length is checked against the data file's size before anything is allocated.
 */
import { open, realpath, readFile, stat, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep, win32 } from 'node:path';
import { McuError } from '@mcu/core';
import { decodeModel } from '../proto/codec.js';
import { DataLocation } from '../proto/enums.js';
import type { ModelProto, TensorProto } from '../proto/types.js';
import { allTensors } from './all-tensors.js';
import { bytesPerElement, tensorElementCount } from './tensor-values.js';

function fileError(path: string, e: unknown, role: string): McuError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const why =
    code === 'ENOENT'
      ? 'does not exist'
      : code === 'EACCES' || code === 'EPERM'
        ? 'cannot be read (permission denied)'
        : code === 'EISDIR'
          ? 'is a directory'
          : `cannot be read (${code ?? (e instanceof Error ? e.message : String(e))})`;
  return new McuError('E_FILE', `${role} ${path} ${why}`, { cause: e });
}

/** Read an ONNX model file; external data is read and inlined. */
export async function loadModelFile(path: string): Promise<ModelProto> {
  const model = await decodeModelFile(path);
  await inlineExternalData(model, dirname(resolve(path)), path);
  return model;
}

async function decodeModelFile(path: string): Promise<ModelProto> {
  if (typeof path !== 'string' || path === '') throw new McuError('E_FILE', 'no model file given');
  const abs = resolve(path);
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(abs);
  } catch (e) {
    throw fileError(path, e, 'model file');
  }
  if (info.isDirectory()) throw new McuError('E_FILE', `model file ${path} is a directory, not an ONNX file`);
  if (!info.isFile()) throw new McuError('E_FILE', `model file ${path} is not a regular file`);
  let bytes: Buffer;
  try {
    bytes = await readFile(abs);
  } catch (e) {
    throw fileError(path, e, 'model file');
  }
  return decodeModel(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

export { allTensors };

export function hasExternalData(model: ModelProto): boolean {
  return allTensors(model).some((t) => t.data_location === DataLocation.EXTERNAL);
}

function checkLocation(location: string, baseDir: string, what: string, tensor: string): string {
  const bad = (why: string): never => {
    throw new McuError(
      'E_MODEL',
      `${what}: tensor '${tensor}' keeps its data at external location '${location}', which ${why}; ` +
        "external data must be a file inside the model's folder",
    );
  };
  if (location === '' || location.includes('\0')) bad('is empty or invalid');
  if (isAbsolute(location) || win32.isAbsolute(location) || /^[a-zA-Z]:/.test(location)) bad('is an absolute path');
  if (location.split(/[\\/]/).includes('..')) bad("has a '..' segment");
  const full = resolve(baseDir, location);
  const rel = relative(baseDir, full);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) bad('resolves outside the model folder');
  return full;
}

function parseOffset(v: string | undefined, key: string, what: string, tensor: string, location: string): bigint | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,19}$/.test(v)) {
    throw new McuError('E_MODEL', `${what}: tensor '${tensor}' has external data ${key} '${v}' for '${location}', not a non-negative integer`);
  }
  return BigInt(v);
}

interface ExternalRef {
  tensor: TensorProto;
  name: string;
  location: string;
  full: string;
  offset: bigint;
  length: bigint;
}

/**
 * Check every external-data reference of `model` against the files in `baseDir` — inside the
 * folder (links included), regular files, declared bytes within the file, length matching the
 * dims — and call `each` with each reference and its open file.
 */
async function walkExternal(
  model: ModelProto,
  baseDir: string | undefined,
  what: string,
  each: (ref: ExternalRef, fh: FileHandle) => Promise<void>,
): Promise<{ count: number; files: string[]; bytes: bigint; folder?: string }> {
  const tensors = allTensors(model).filter((t) => t.data_location === DataLocation.EXTERNAL);
  if (tensors.length === 0) return { count: 0, files: [], bytes: 0n };
  if (baseDir === undefined) {
    throw new McuError(
      'E_MODEL',
      `${what}: tensor '${tensors[0]!.name ?? '?'}' keeps its data in an external file; load the model from its path (or give its folder) so mcu can read it`,
    );
  }
  const base = resolve(baseDir);
  let realBase: string;
  try {
    realBase = await realpath(base);
  } catch (e) {
    throw fileError(base, e, 'model folder');
  }
  const handles = new Map<string, { fh: FileHandle; size: bigint }>();
  let bytes = 0n;
  try {
    for (const t of tensors) {
      const name = t.name ?? '?';
      const entries = new Map((t.external_data ?? []).map((e) => [e.key ?? '', e.value ?? '']));
      const location = entries.get('location');
      if (location === undefined) {
        throw new McuError('E_MODEL', `${what}: tensor '${name}' is marked EXTERNAL but names no location`);
      }
      const full = checkLocation(location, base, what, name);
      let file = handles.get(full);
      if (file === undefined) {
        let real: string;
        try {
          real = await realpath(full);
        } catch (e) {
          throw fileError(`${full} (external data '${location}' of tensor '${name}')`, e, 'data file');
        }
        if (!(real === realBase || real.startsWith(realBase + sep))) {
          throw new McuError('E_MODEL', `${what}: external data location '${location}' of tensor '${name}' resolves outside the model folder (via a link)`);
        }
        let fh: FileHandle;
        try {
          fh = await open(real, 'r');
        } catch (e) {
          throw fileError(`${full} (external data '${location}')`, e, 'data file');
        }
        const st = await fh.stat();
        if (!st.isFile()) {
          await fh.close();
          throw new McuError('E_FILE', `data file ${full} (external data '${location}') is not a regular file`);
        }
        file = { fh, size: BigInt(st.size) };
        handles.set(full, file);
      }
      const offset = parseOffset(entries.get('offset'), 'offset', what, name, location) ?? 0n;
      const declared = parseOffset(entries.get('length'), 'length', what, name, location);
      const count = tensorElementCount(t);
      const bpe = bytesPerElement(t.data_type);
      const expected = count !== undefined && bpe !== undefined ? BigInt(count) * BigInt(bpe) : undefined;
      if (declared !== undefined && expected !== undefined && declared !== expected) {
        throw new McuError(
          'E_MODEL',
          `${what}: tensor '${name}' needs ${expected} bytes for dims [${(t.dims ?? []).join(', ')}] but its external data in '${location}' declares length ${declared}`,
        );
      }
      const length = declared ?? expected ?? (file.size > offset ? file.size - offset : 0n);
      if (offset + length > file.size) {
        throw new McuError(
          'E_MODEL',
          `${what}: tensor '${name}' declares external data bytes [${offset}, ${offset + length}) in '${location}', ` +
            `but that file has only ${file.size} bytes (truncated or wrong file)`,
        );
      }
      bytes += length;
      await each({ tensor: t, name, location, full, offset, length }, file.fh);
    }
  } finally {
    await Promise.all([...handles.values()].map((h) => h.fh.close().catch(() => undefined)));
  }
  return { count: tensors.length, files: [...handles.keys()], bytes, folder: base };
}

/**
 * Replace external data by raw_data. `baseDir` is the model's folder (undefined when the
 * model came as bytes without one: then external data is an error).
 */
export async function inlineExternalData(model: ModelProto, baseDir: string | undefined, what = 'model'): Promise<number> {
  const r = await walkExternal(model, baseDir, what, async (ref, fh) => {
    if (ref.length > BigInt(MAX_INLINE_BYTES)) {
      throw new McuError(
        'E_UNSUPPORTED',
        `${what}: tensor '${ref.name}' has ${ref.length} bytes of external data, more than one ONNX protobuf can hold (2 GiB); ` +
          'load the model from its path (mcu keeps such weights in their file)',
      );
    }
    const buf = Buffer.alloc(Number(ref.length));
    let done = 0;
    while (done < buf.length) {
      const { bytesRead } = await fh.read(buf, done, buf.length - done, Number(ref.offset) + done);
      if (bytesRead === 0) throw new McuError('E_FILE', `data file ${ref.full} ended early while reading tensor '${ref.name}'`);
      done += bytesRead;
    }
    ref.tensor.raw_data = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    delete ref.tensor.data_location;
    delete ref.tensor.external_data;
  });
  return r.count;
}

/** Protobuf messages cannot exceed 2 GiB; inlined weights must stay well below. */
export const MAX_INLINE_BYTES = 1.5 * 1024 ** 3;

export interface ModelFile {
  readonly model: ModelProto;
  /** Where the external data files are (the model's folder), when it has any; the runtime reads them from there. */
  readonly externalFolder?: string;
  /** Bytes of external data, all files together. */
  readonly externalBytes: bigint;
}

/**
 * Read a model file and CHECK its external data without reading it: the weights stay in
 * their files (so models over protobuf's 2 GiB limit load) and the runtime reads them from
 * `externalFolder` (onnxruntime's session option model_external_initializers_file_folder_path).
 */
export async function readModelFile(path: string): Promise<ModelFile> {
  const model = await decodeModelFile(path);
  const folder = dirname(resolve(path));
  const r = await walkExternal(model, folder, path, async () => undefined);
  return { model, externalBytes: r.bytes, ...(r.count > 0 ? { externalFolder: r.folder! } : {}) };
}

/** Check external data references against `baseDir` without reading them (see readModelFile). */
export async function checkExternalData(model: ModelProto, baseDir: string | undefined, what = 'model'): Promise<{ folder?: string; bytes: bigint }> {
  const r = await walkExternal(model, baseDir, what, async () => undefined);
  return { bytes: r.bytes, ...(r.count > 0 ? { folder: r.folder! } : {}) };
}
