/**
 * Layers models from the file system (Node): model.json by path, its weight shards read from
 * the files next to it — never outside that folder (no absolute paths, URLs, `..` or symlinks out).
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { McuError } from '@mcu/core';
import type { ExecGraph } from './graph.js';
import { parseLayersModelJson } from './keras.js';

/** A shard reader for the files in `baseDir` (model.json's folder). */
export function folderShardReader(baseDir: string, label: string): (path: string) => Promise<Uint8Array> {
  return async (p) => {
    const file = await shardPath(baseDir, p, label);
    try {
      return new Uint8Array(await readFile(file));
    } catch (e) {
      throw new McuError('E_FILE', `weight shard '${p}' of '${label}' cannot be read (${(e as { code?: string }).code ?? String(e)})`, { cause: e });
    }
  };
}

/** Read a layers model from a model.json path (or a folder that holds model.json). */
export async function loadLayersModelFile(path: string): Promise<ExecGraph> {
  let file = path;
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch {
    throw new McuError('E_FILE', `model file '${path}' does not exist`);
  }
  if (info.isDirectory()) file = join(path, 'model.json');
  if (/\.(h5|hdf5|keras)$/i.test(file)) {
    throw new McuError(
      'E_UNSUPPORTED',
      `'${path}' is a Keras ${/\.keras$/i.test(file) ? '.keras archive' : 'HDF5 file'}; the tfjs backend reads TensorFlow.js layers models — convert it: tensorflowjs_converter --input_format keras ${path} out_dir/ (then give out_dir/model.json)`,
    );
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new McuError(
      'E_FILE',
      `cannot read '${file}' (${(e as { code?: string }).code ?? String(e)})${info.isDirectory() ? ': the folder has no model.json' : ''}`,
      { cause: e },
    );
  }
  return parseLayersModelJson(text, { label: file, readShard: folderShardReader(dirname(resolve(file)), file) });
}

/** A shard path must stay inside the model's folder (no absolute paths, URLs or `..`). */
async function shardPath(baseDir: string, p: string, label: string): Promise<string> {
  if (isAbsolute(p) || /^[a-z][a-z0-9+.-]*:/i.test(p) || p.startsWith('\\')) {
    throw new McuError('E_MODEL', `weight shard path '${p}' in '${label}' is absolute or a URL; shards must be files next to model.json`);
  }
  const inside = (dir: string, file: string) => {
    const rel = relative(dir, file);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  };
  const full = resolve(baseDir, p);
  if (!inside(resolve(baseDir), full)) {
    throw new McuError('E_MODEL', `weight shard path '${p}' in '${label}' escapes the model's folder; shards must be files next to model.json`);
  }
  let real: string;
  let realDir: string;
  try {
    [real, realDir] = await Promise.all([realpath(full), realpath(baseDir)]);
  } catch (e) {
    throw new McuError(
      'E_FILE',
      `weight shard '${p}' of '${label}' cannot be read (${(e as { code?: string }).code ?? String(e)}): it must lie next to model.json`,
      { cause: e },
    );
  }
  if (!inside(realDir, real)) {
    throw new McuError('E_MODEL', `weight shard '${p}' in '${label}' links outside the model's folder; shards must be files next to model.json`);
  }
  return real;
}
