/**
 * The model's identity for a run: every shard result is tied to the model file it was scored
 * with, so a queue worker holding a different file refuses the job instead of merging scores of
 * another model into the selection.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { decodeModel, encodeModel, hasExternalData, loadModelFile } from '@mcu/backend-onnx';
import { McuError } from '@mcu/core';
import type { ModelSpec } from './types.js';

function fileError(path: string, e: unknown): McuError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const why = code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? String(e)})`;
  return new McuError('E_FILE', `model file ${path} ${why}; give the path of an .onnx file`, { cause: e });
}

/**
 * 'sha256:<hex>' of the model file's bytes; an ONNX model with external data also hashes the
 * model with that data inlined (so changing a weights file changes the hash). A model file that
 * is not ONNX (e.g. a tfjs model.json) is hashed by its bytes alone.
 */
export async function modelHash(model: ModelSpec): Promise<string> {
  let bytes: Buffer;
  try {
    const info = await stat(model.path);
    if (!info.isFile()) throw Object.assign(new Error('not a file'), { code: info.isDirectory() ? 'EISDIR' : 'ENOTFILE' });
    bytes = await readFile(model.path);
  } catch (e) {
    throw fileError(model.path, e);
  }
  const h = createHash('sha256').update(bytes);
  if (model.path.toLowerCase().endsWith('.onnx')) {
    const proto = decodeModel(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), model.path);
    if (hasExternalData(proto)) h.update(encodeModel(await loadModelFile(model.path), model.path));
  }
  return `sha256:${h.digest('hex')}`;
}
