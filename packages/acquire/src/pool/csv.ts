/**
 * A CSV (or whitespace-separated) pool, streamed. The rules are the CLI's table rules
 * (packages/cli/src/io/table.ts): comma-separated when any line has a comma, else split on
 * whitespace; double-quoted cells; blank lines ignored; the first row is a header when one of
 * its cells is not a number; every cell a finite number.
 *
 * Range access for shards: opening makes one streaming pass over the file that counts the
 * data rows and records the byte offset (and line number) of every {@link CSV_INDEX_STRIDE}-th
 * data row — 16 bytes per 1024 rows, so the index of a 2,000,000-row pool is 31 KiB. A read of
 * rows [start, end) seeks to the nearest indexed row at or before `start`, skips at most 1023
 * lines and parses just the rows asked for. Memory is bounded by the block; every process that
 * opens the pool (a worker thread, a queue worker) makes the pass once.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { McuError } from '@mcu/core';
import type { Pool } from '../types.js';
import { checkRange, fileReadError, statPool } from './common.js';
import { isNumericCell, NONFINITE_RE, NUM_RE, splitCsvLine } from './csv-cells.js';

/** Data rows between two indexed byte offsets. */
export const CSV_INDEX_STRIDE = 1024;
const CHUNK_BYTES = 1 << 20;

const isBlankByte = (b: number): boolean => b === 0x20 || b === 0x09 || b === 0x0b || b === 0x0c;

/** A line of the file: where it starts, its 1-based line number and its bytes (without the terminator). */
type OnLine = (start: number, line: number, bytes: Uint8Array) => boolean;

/**
 * Call `onLine` for every line from byte `from` (a line start) on, while it returns true, up to
 * the end of the file. Lines end at \n, \r\n or \r, as the CLI's split(/\r\n|\n|\r/).
 */
async function scanLines(fh: FileHandle, from: number, firstLine: number, onLine: OnLine, onBytes?: (chunk: Uint8Array) => void): Promise<void> {
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  let pos = from;
  let line = firstLine;
  let lineStart = from;
  let carry: Uint8Array | null = null; // a line's bytes from earlier chunks
  let skipLf = false; // the previous chunk ended in \r
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, CHUNK_BYTES, pos);
    if (bytesRead === 0) break;
    const chunk = buf.subarray(0, bytesRead);
    onBytes?.(chunk);
    let s = 0;
    let k = 0;
    if (skipLf) {
      skipLf = false;
      if (chunk[0] === 0x0a) {
        s = k = 1;
        lineStart = pos + 1;
      }
    }
    for (; k < bytesRead; k++) {
      const b = chunk[k]!;
      if (b !== 0x0a && b !== 0x0d) continue;
      let bytes: Uint8Array = chunk.subarray(s, k);
      if (carry !== null) {
        bytes = Buffer.concat([carry, bytes]);
        carry = null;
      }
      if (onLine(lineStart, line, bytes) === false) return;
      line++;
      if (b === 0x0d) {
        if (k + 1 < bytesRead) {
          if (chunk[k + 1] === 0x0a) k++;
        } else skipLf = true;
      }
      s = k + 1;
      lineStart = pos + k + 1;
    }
    if (s < bytesRead) carry = carry === null ? Uint8Array.from(chunk.subarray(s)) : Buffer.concat([carry, chunk.subarray(s)]);
    pos += bytesRead;
  }
  if (carry !== null && carry.length > 0) onLine(lineStart, line, carry);
}

function isBlank(bytes: Uint8Array, first: boolean): boolean {
  let k = first && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  for (; k < bytes.length; k++) if (!isBlankByte(bytes[k]!)) return false;
  return true;
}

const decoder = new TextDecoder('utf-8');

function describeCell(cell: string): string {
  return `'${cell.length > 40 ? `${cell.slice(0, 37)}...` : cell}'`;
}

export async function openCsvPool(path: string): Promise<Pool> {
  await statPool(path);
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw fileReadError(path, e);
  }
  try {
    // the pass: offsets of every STRIDE-th non-blank line, whether any line has a comma, the first two non-blank lines
    const offsets: number[] = [];
    const lineNos: number[] = [];
    let lines = 0;
    let comma = false;
    const head: { text: string; line: number; start: number }[] = [];
    try {
      await scanLines(
        fh,
        0,
        1,
        (start, line, bytes) => {
          if (isBlank(bytes, start === 0)) return true;
          if (head.length < 2) head.push({ text: decoder.decode(bytes), line, start });
          if (lines % CSV_INDEX_STRIDE === 0) {
            offsets.push(start);
            lineNos.push(line);
          }
          lines++;
          return true;
        },
        (chunk) => {
          if (!comma && chunk.includes(0x2c)) comma = true;
        },
      );
    } catch (e) {
      throw fileReadError(path, e);
    }
    if (lines === 0) throw new McuError('E_INPUT', `${path}: the pool is empty (no rows); give a pool with at least one row`);
    const split = (t: string): string[] => (comma ? splitCsvLine(t) : t.trim().split(/\s+/));
    const first = split(head[0]!.text.charCodeAt(0) === 0xfeff ? head[0]!.text.slice(1) : head[0]!.text);
    const header = first.some((c) => !isNumericCell(c)) ? first : undefined;
    const rows = lines - (header ? 1 : 0);
    if (rows === 0) throw new McuError('E_INPUT', `${path}: the pool has a header (${first.join(', ')}) but no data rows; give a pool with at least one row`);
    const width = header?.length ?? first.length;
    const skip = header ? 1 : 0; // data row r is non-blank line r + skip
    let closed = false;

    const parse = (text: string, row: number, line: number, out: Float32Array, at: number): void => {
      const cells = split(row === 0 && !header && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
      if (cells.length !== width) {
        throw new McuError(
          'E_INPUT',
          `${path}: row index ${row} (0-based): expected ${width} columns (as ${header ? 'the header' : 'the first row'}), got ${cells.length} (line ${line})`,
        );
      }
      for (let c = 0; c < width; c++) {
        const cell = cells[c]!;
        const where = `${path}: row index ${row} (0-based), column ${c + 1}`;
        const tail = ` (line ${line}${header ? `, column '${header[c]}'` : ''})`;
        if (cell === '') throw new McuError('E_INPUT', `${where}: expected a number, got an empty cell${tail}`);
        if (NONFINITE_RE.test(cell))
          throw new McuError('E_INPUT', `${where}: expected a finite number, got ${describeCell(cell)}${tail}; drop or impute that row`);
        if (!NUM_RE.test(cell)) throw new McuError('E_INPUT', `${where}: expected a number, got ${describeCell(cell)}${tail}`);
        const v = Number(cell);
        if (!Number.isFinite(v)) throw new McuError('E_INPUT', `${where}: expected a finite number, got ${describeCell(cell)} (overflows)${tail}`);
        out[at + c] = v;
        if (!Number.isFinite(out[at + c]!)) throw new McuError('E_INPUT', `${where}: ${describeCell(cell)} is outside float32's range${tail}`);
      }
    };

    return {
      rows,
      width,
      format: 'csv',
      async read(start: number, end: number): Promise<Float32Array> {
        checkRange(path, rows, start, end);
        if (closed) throw new McuError('E_INTERNAL', `pool ${path} was read after close()`);
        const out = new Float32Array((end - start) * width);
        const target = start + skip; // the non-blank line of data row `start`
        const slot = Math.floor(target / CSV_INDEX_STRIDE);
        let nonBlank = slot * CSV_INDEX_STRIDE;
        let row = start;
        try {
          await scanLines(fh, offsets[slot]!, lineNos[slot]!, (at, line, bytes) => {
            if (isBlank(bytes, at === 0)) return true;
            if (nonBlank++ < target) return true;
            parse(decoder.decode(bytes), row, line, out, (row - start) * width);
            row++;
            return row < end;
          });
        } catch (e) {
          throw fileReadError(path, e);
        }
        if (row !== end) throw new McuError('E_FILE', `pool file ${path} changed while it was read (rows ${row}–${end - 1} are gone)`);
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
