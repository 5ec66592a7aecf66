/**
 * An NPY pool read by byte ranges: opening reads the header alone, `read(start, end)` reads
 * just those rows' bytes through a file handle, so memory is bounded by the block whatever the
 * file's size. float32 and float64 (converted to float32, the model's input type; a value
 * outside float32's range is refused as non-finite) in either byte order; integer arrays are
 * refused (a cast to float32 can change large integers, so the conversion is the user's call).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { McuError, sizeOf } from '@mcu/core';
import type { Pool } from '../types.js';
import { checkFinite, checkRange, fileReadError, statPool } from './common.js';
import { NPY_PREAMBLE_BYTES, npyHeaderEnd, parseNpyHeader } from './npy-header.js';

const littleEndianHost = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

async function readAt(fh: FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buf : buf.subarray(0, done);
}

export async function openNpyPool(path: string): Promise<Pool> {
  const info = await statPool(path);
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw fileReadError(path, e);
  }
  try {
    const pre = await readAt(fh, Math.min(NPY_PREAMBLE_BYTES, info.size), 0);
    const end = npyHeaderEnd(pre, path);
    const header = parseNpyHeader(await readAt(fh, Math.min(end, info.size), 0), path);
    const { descr, dims, dataOffset } = header;
    if (descr.kind !== 'f') {
      throw new McuError(
        'E_INPUT',
        `${path}: the pool's dtype is ${descr.kind === 'b' ? 'bool' : `${descr.kind === 'i' ? 'int' : 'uint'}${descr.size * 8}`}; a pool holds float32 or float64 features: save a.astype(np.float32)`,
      );
    }
    if (dims.length < 2) {
      throw new McuError(
        'E_INPUT',
        `${path}: the pool has shape (${dims.join(', ')}${dims.length === 1 ? ',' : ''}); a pool is rows × features (N, F): for N rows of one feature save a.reshape(-1, 1), for one row a.reshape(1, -1)`,
      );
    }
    const rows = dims[0]!;
    const width = sizeOf(dims.slice(1));
    if (rows === 0 || width === 0) throw new McuError('E_INPUT', `${path}: the pool is empty (shape (${dims.join(', ')})); give a pool with at least one row`);
    const need = dataOffset + rows * width * descr.size;
    if (info.size < need) {
      throw new McuError(
        'E_INPUT',
        `${path}: NPY data is truncated: shape (${dims.join(', ')}) needs ${need - dataOffset} bytes, file has ${Math.max(0, info.size - dataOffset)}`,
      );
    }
    const item = descr.size;
    const little = descr.little;
    let closed = false;
    return {
      rows,
      width,
      format: 'npy',
      async read(start: number, stop: number): Promise<Float32Array> {
        checkRange(path, rows, start, stop);
        if (closed) throw new McuError('E_INTERNAL', `pool ${path} was read after close()`);
        const count = (stop - start) * width;
        let buf: Buffer;
        try {
          buf = await readAt(fh, count * item, dataOffset + start * width * item);
        } catch (e) {
          throw fileReadError(path, e);
        }
        if (buf.length !== count * item) throw new McuError('E_FILE', `pool file ${path} changed while it was read (it is shorter than its header says)`);
        const out = new Float32Array(count);
        if (item === 4 && little === littleEndianHost) {
          new Uint8Array(out.buffer).set(buf);
        } else {
          const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
          if (item === 4) for (let k = 0; k < count; k++) out[k] = view.getFloat32(4 * k, little);
          else for (let k = 0; k < count; k++) out[k] = view.getFloat64(8 * k, little);
        }
        checkFinite(path, out, start, width);
        return out;
      },
      async close(): Promise<void> {
        if (closed) return;
        closed = true;
        await fh.close();
      },
    };
  } catch (e) {
    await fh.close();
    throw e;
  }
}
