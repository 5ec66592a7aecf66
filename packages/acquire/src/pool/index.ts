/** Opening a pool by its format: NPY read by byte ranges, CSV streamed with a row index. */
import { extname } from 'node:path';
import { McuError } from '@mcu/core';
import type { Pool, PoolSpec } from '../types.js';
import { openCsvPool } from './csv.js';
import { openNpyPool } from './npy.js';

/** The pool's format: `spec.format`, else by extension (.npy; .csv, .tsv, .txt, .dat as tables). */
export function poolFormat(spec: PoolSpec): 'npy' | 'csv' {
  if (spec.format !== undefined) {
    if (spec.format !== 'npy' && spec.format !== 'csv') throw new McuError('E_CONFIG', `pool format must be 'npy' or 'csv', got '${String(spec.format)}'`);
    return spec.format;
  }
  const ext = extname(spec.path).toLowerCase();
  if (ext === '.npy') return 'npy';
  if (ext === '.csv' || ext === '.tsv' || ext === '.txt' || ext === '.dat') return 'csv';
  throw new McuError(
    'E_CONFIG',
    `pool ${spec.path}: cannot tell its format from the extension '${ext}'; name it .npy or .csv, or give the format ('npy' or 'csv')`,
  );
}

/** Open a pool: { rows, width, read(start, end), close() }; E_FILE / E_INPUT / E_CONFIG naming the file. */
export async function openPool(spec: PoolSpec): Promise<Pool> {
  return poolFormat(spec) === 'npy' ? openNpyPool(spec.path) : openCsvPool(spec.path);
}
