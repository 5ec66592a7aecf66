/** File reading and atomic writing with E_FILE errors that name the path. */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { McuError } from '@mcu/core/errors';

function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'it is a directory';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on the device';
    default:
      return e instanceof Error ? e.message : String(e);
  }
}

/** Read a whole file; a missing file, a directory or an unreadable file is E_FILE naming it. */
export function readFileBytes(path: string, what = 'file'): Buffer {
  try {
    if (statSync(path).isDirectory()) {
      throw new McuError('E_FILE', `cannot read ${what} '${path}': it is a directory, not a file`);
    }
    return readFileSync(path);
  } catch (e) {
    if (e instanceof McuError) throw e;
    throw new McuError('E_FILE', `cannot read ${what} '${path}': ${reason(e)}`, { cause: e });
  }
}

/** Read a file as UTF-8 text. */
export function readFileText(path: string, what = 'file'): string {
  return readFileBytes(path, what).toString('utf8');
}

/**
 * Write `data` to `path` atomically: into a temporary file in the same directory, flushed,
 * then renamed over `path`. On any failure the temporary file is removed and the target is
 * left as it was (absent or the old content): never a partial file. Errors are E_FILE naming
 * the path.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  try {
    const st = statSync(dir);
    if (!st.isDirectory()) throw new McuError('E_FILE', `cannot write '${path}': '${dir}' is not a directory`);
  } catch (e) {
    if (e instanceof McuError) throw e;
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : reason(e);
    throw new McuError('E_FILE', `cannot write '${path}': directory '${dir}' ${why}`, { cause: e });
  }
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fd: number | undefined;
  let created = false;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    created = true;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
    created = false;
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        /* already failing */
      }
    }
    if (created) {
      try {
        unlinkSync(tmp);
      } catch {
        /* nothing left to clean */
      }
    }
    throw new McuError('E_FILE', `cannot write '${path}': ${reason(e)}`, { cause: e });
  }
}
