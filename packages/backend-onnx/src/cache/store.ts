/**
 * The prepared-model disk cache (Node): one file per key in a folder, so that a second
 * `load` of the same model with the same preparation options skips the graph preparation
 * (decode, rewrite, measuring run) and opens its session on the cached bytes.
 *
 * - Key: sha256 of the entry format, the mcu version, the identity of this code (names, sizes
 *   and modification times of the package's code files, see {@link codeIdentity}), the backend,
 *   the name the model goes by in messages, every option of the preparation, and the source
 *   model's bytes. Session options (providers, threads, optimisation level) are not in it: they
 *   act on the prepared bytes.
 * - Models with external data are not cached (their weights live in other files).
 * - Writes are atomic (a temporary file in the folder, then rename), so concurrent writers of one
 *   key leave one whole entry; readers see the old file or the new one.
 * - Entries are checked when read (./entry.ts); a bad one is rebuilt and overwritten.
 * - Capped: on every write, entries not used for {@link MAX_AGE_DAYS} days are removed, then the
 *   least recently used ones while the folder holds more than {@link MAX_TOTAL_BYTES}.
 *   A hit refreshes its entry's modification time.
 * - A folder that cannot be created or written is a warning on the model (the run proceeds
 *   uncached), never a failure.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type Dirent, readdirSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION } from '@mcu/core';
import { BadEntry, type CachedPrepared, decodeEntry, ENTRY_FORMAT, encodeEntry, type Sha256 } from './entry.js';

/** Entries unused for this long are removed on the next write. */
export const MAX_AGE_DAYS = 30;
/** The folder's size above which the least recently used entries are removed on a write (2 GiB). */
export const MAX_TOTAL_BYTES = 2 * 1024 ** 3;
const SUFFIX = '.mcuprep';
const DAY_MS = 24 * 3600 * 1000;

const sha256: Sha256 = (parts) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

let identity: string | undefined;

/**
 * What identifies the code that prepares models: the names, sizes and modification times of
 * the code files next to this module (this package's dist/ or src/, or the CLI bundle's
 * folder, whose chunk names carry content hashes). A rebuild changes them, so entries of an
 * older build are not used. Read once per process, synchronously (a few dozen stats, ~1 ms:
 * awaiting each one cost ~20 ms of a CLI start).
 */
export function codeIdentity(): string {
  if (identity !== undefined) return identity;
  let root = dirname(fileURLToPath(import.meta.url));
  if (basename(root) === 'cache') root = dirname(root);
  const lines: string[] = [];
  const walk = (dir: string, depth: number): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    } catch {
      return;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (depth < 3 && e.name !== 'node_modules') walk(path, depth + 1);
      } else if (/\.(m?js|ts)$/.test(e.name) && !e.name.endsWith('.d.ts')) {
        try {
          const info = statSync(path);
          lines.push(`${relative(root, path)} ${info.size} ${info.mtimeMs}`);
        } catch {
          // gone while listing: not part of the code
        }
      }
    }
  };
  walk(root, 0);
  identity = createHash('sha256').update(lines.join('\n')).digest('hex');
  return identity;
}

/** Everything the preparation depends on besides the source bytes (see the module comment). */
export interface CacheKeyParts {
  readonly backend: string;
  readonly what?: string;
  readonly options: Readonly<Record<string, unknown>>;
}

/** JSON with object keys sorted, so equal options give equal keys whatever their order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** One cache folder. */
export class PreparedCache {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  /** The entry's key for a source model's bytes and what its preparation depends on. */
  async key(source: Uint8Array, parts: CacheKeyParts): Promise<string> {
    const head = canonical({ format: ENTRY_FORMAT, mcu: VERSION, code: codeIdentity(), ...parts });
    const h = createHash('sha256');
    h.update(head);
    h.update('\n');
    h.update(source);
    return h.digest('hex');
  }

  #path(key: string): string {
    return join(this.dir, `${key}${SUFFIX}`);
  }

  /** The entry of `key`, or undefined (none, unreadable, or bad: see entry.ts; the caller rebuilds it). */
  async read(key: string): Promise<CachedPrepared | undefined> {
    const path = this.#path(key);
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch {
      return undefined;
    }
    let entry: CachedPrepared;
    try {
      entry = decodeEntry(key, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), sha256);
    } catch (e) {
      if (e instanceof BadEntry) return undefined;
      throw e;
    }
    const now = new Date();
    await utimes(path, now, now).catch(() => undefined);
    return entry;
  }

  /**
   * Write the entry of `key` atomically, then prune the folder. Returns a warning (for the
   * model's warnings) when the folder cannot be written; never throws for the file system.
   */
  async write(key: string, entry: CachedPrepared): Promise<string | undefined> {
    const path = this.#path(key);
    const tmp = join(this.dir, `.${key}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await mkdir(this.dir, { recursive: true });
      await writeFile(tmp, encodeEntry(key, entry, sha256));
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      const code = (e as NodeJS.ErrnoException | undefined)?.code;
      return (
        `the prepared-model cache folder ${this.dir} cannot be written (${code ?? (e instanceof Error ? e.message : String(e))}); ` +
        'this load was not cached: give a writable folder (backendOptions.onnx.cacheDir, --cache-dir) or turn the cache off (--no-cache)'
      );
    }
    await this.prune(path).catch(() => undefined);
    return undefined;
  }

  /** Remove entries unused for MAX_AGE_DAYS, stale temporary files, then the oldest entries over MAX_TOTAL_BYTES (never `keep`). */
  async prune(keep?: string): Promise<void> {
    const now = Date.now();
    const entries: { path: string; size: number; mtime: number }[] = [];
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      const isEntry = name.endsWith(SUFFIX);
      if (!isEntry && !name.endsWith('.tmp')) continue;
      const info = await stat(path).catch(() => undefined);
      if (info === undefined || !info.isFile()) continue;
      const age = now - info.mtimeMs;
      if (isEntry ? age > MAX_AGE_DAYS * DAY_MS : age > DAY_MS) {
        await rm(path, { force: true }).catch(() => undefined);
      } else if (isEntry) {
        entries.push({ path, size: info.size, mtime: info.mtimeMs });
      }
    }
    let total = entries.reduce((a, e) => a + e.size, 0);
    for (const e of entries.sort((a, b) => a.mtime - b.mtime)) {
      if (total <= MAX_TOTAL_BYTES) break;
      if (e.path === keep) continue;
      await rm(e.path, { force: true }).catch(() => undefined);
      total -= e.size;
    }
  }
}
