/**
 * An ONNX file from disk for the tfjs backend (Node only): its bytes, and external data read
 * from files inside the model's folder (a location with `..` or an absolute path is refused).
 */
import { openSync, readSync, closeSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { McuError } from '@mcu/core';
import type { ExecGraph } from './graph.js';

export async function readOnnxFile(path: string): Promise<ExecGraph> {
  let bytes: Uint8Array;
  try {
    if (statSync(path).isDirectory()) throw new McuError('E_FILE', `model '${path}' is a directory, not an ONNX file`);
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    if (e instanceof McuError) throw e;
    throw new McuError('E_FILE', `cannot read model '${path}' (${(e as { code?: string }).code ?? String(e)})`, { cause: e });
  }
  const folder = dirname(path);
  const readExternal = (location: string, offset: number, length: number | undefined): Uint8Array => {
    const rel = normalize(location);
    if (isAbsolute(location) || rel === '..' || rel.startsWith(`..${sep}`)) {
      throw new McuError('E_MODEL', `${path}: external data location '${location}' is outside the model's folder`);
    }
    const file = join(folder, rel);
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (e) {
      throw new McuError('E_FILE', `${path}: its external data file '${file}' cannot be read (${(e as { code?: string }).code ?? String(e)})`, { cause: e });
    }
    try {
      const size = statSync(file).size;
      const len = length ?? size - offset;
      if (offset < 0 || offset + len > size) {
        throw new McuError('E_MODEL', `${path}: external data '${location}' holds ${size} bytes, but a tensor needs bytes ${offset}…${offset + len}`);
      }
      const out = new Uint8Array(len);
      let got = 0;
      while (got < len) {
        const k = readSync(fd, out, got, len - got, offset + got);
        if (k === 0) break;
        got += k;
      }
      return out;
    } finally {
      closeSync(fd);
    }
  };
  const { onnxToGraph } = await import('./onnx/index.js');
  return onnxToGraph(bytes, { label: path, readExternal });
}
