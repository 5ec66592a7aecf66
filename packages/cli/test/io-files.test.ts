import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../src/io/files.js';
import { mcuErrorMessage } from '../../../test/helpers/check.js';

const fileError = (f: () => unknown): string => mcuErrorMessage(f, 'E_FILE');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mcu-files-'));
});
afterEach(() => {
  chmodSync(dir, 0o755);
  rmSync(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('writes text and bytes, replacing an existing file, leaving no temp file', () => {
    const p = join(dir, 'out.json');
    writeFileAtomic(p, '{"a": 1}\n');
    expect(readFileSync(p, 'utf8')).toBe('{"a": 1}\n');
    writeFileAtomic(p, Uint8Array.from([1, 2, 3]));
    expect(Array.from(readFileSync(p))).toEqual([1, 2, 3]);
    expect(readdirSync(dir)).toEqual(['out.json']);
  });

  it('missing directory: E_FILE naming the path, nothing written', () => {
    const p = join(dir, 'no', 'such', 'out.json');
    expect(fileError(() => writeFileAtomic(p, 'x'))).toBe(`cannot write '${p}': directory '${join(dir, 'no', 'such')}' does not exist`);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('parent is a file: E_FILE', () => {
    writeFileSync(join(dir, 'f'), 'x');
    const p = join(dir, 'f', 'out.json');
    expect(fileError(() => writeFileAtomic(p, 'x'))).toMatch(/cannot write '.*f\/out\.json': '.*f' is not a directory/);
    expect(readdirSync(dir)).toEqual(['f']);
  });

  it('target is a directory: the rename fails, the temp file is removed', () => {
    const p = join(dir, 'target');
    mkdirSync(p);
    expect(fileError(() => writeFileAtomic(p, 'data'))).toMatch(new RegExp(`cannot write '${p}': `));
    expect(readdirSync(dir)).toEqual(['target']);
    expect(readdirSync(p)).toEqual([]);
  });

  it.skipIf(process.getuid?.() === 0)('unwritable directory: E_FILE, no file left', () => {
    const sub = join(dir, 'ro');
    mkdirSync(sub);
    chmodSync(sub, 0o555);
    const p = join(sub, 'out.json');
    expect(fileError(() => writeFileAtomic(p, 'x'))).toBe(`cannot write '${p}': permission denied`);
    expect(readdirSync(sub)).toEqual([]);
    chmodSync(sub, 0o755);
  });

  it('a failure while writing removes the temp file and keeps the old content', () => {
    const p = join(dir, 'keep.json');
    writeFileSync(p, 'old');
    const notBytes = { length: 5 } as unknown as Uint8Array; // writeSync rejects it after the temp file exists
    expect(fileError(() => writeFileAtomic(p, notBytes))).toMatch(new RegExp(`cannot write '${p}'`));
    expect(readFileSync(p, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['keep.json']);
  });

  it.skipIf(!existsSync('/sys/kernel'))('a directory nobody may create files in (/sys): E_FILE, nothing left', () => {
    const p = '/sys/mcu-test-out.json';
    expect(fileError(() => writeFileAtomic(p, 'x'))).toMatch(/^cannot write '\/sys\/mcu-test-out\.json': /);
    expect(readdirSync('/sys').filter((n) => n.includes('mcu-test'))).toEqual([]);
  });
});
