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
import type { ModelProto } from '../proto/types.js';
import { allTensors } from './all-tensors.js';
import { bytesPerElement, tensorElementCount } from './tensor-values.js';

function fileError(path: string, e: unknown, role: string): McuError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const why =
    code === 'ENOENT' ? 'does not exist' :
    code === 'EACCES' || code === 'EPERM' ? 'cannot be read (permission denied)' :
    code === 'EISDIR' ? 'is a directory' :
    `cannot be read (${code ?? (e instanceof Error ? e.message : String(e))})`;
  return new McuError('E_FILE', `${role} ${path} ${why}`, { cause: e });
}

/** Read an ONNX model file; external data is read and inlined. */
export async function loadModelFile(path: string): Promise<ModelProto> {
  if (typeof path !== 'string' || path === '') throw new McuError('E_FILE', 'no model file given');
  const abs = resolve(path);
  let info;
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
  const model = decodeModel(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
  await inlineExternalData(model, dirname(abs), path);
  return model;
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
        'external data must be a file inside the model\'s folder',
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

/**
 * Replace external data by raw_data. `baseDir` is the model's folder (undefined when the
 * model came as bytes without one: then external data is an error).
 */
export async function inlineExternalData(model: ModelProto, baseDir: string | undefined, what = 'model'): Promise<number> {
  const tensors = allTensors(model).filter((t) => t.data_location === DataLocation.EXTERNAL);
  if (tensors.length === 0) return 0;
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
      const buf = Buffer.alloc(Number(length));
      let done = 0;
      while (done < buf.length) {
        const { bytesRead } = await file.fh.read(buf, done, buf.length - done, Number(offset) + done);
        if (bytesRead === 0) throw new McuError('E_FILE', `data file ${full} ended early while reading tensor '${name}'`);
        done += bytesRead;
      }
      t.raw_data = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      delete t.data_location;
      delete t.external_data;
    }
  } finally {
    await Promise.all([...handles.values()].map((h) => h.fh.close().catch(() => undefined)));
  }
  return tensors.length;
}
