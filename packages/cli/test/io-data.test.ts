import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLabeled, readTargets } from '../src/io/targets.js';
import { readUci, standardizeRows, uciNormalization } from '../src/io/uci.js';
import { readMasksFile, validateMasks } from '../src/io/masks.js';
import { mcuErrorMessage } from '../../../test/helpers/check.js';

const err = (f: () => unknown, code = 'E_INPUT'): string => mcuErrorMessage(f, code);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mcu-data-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const p = join(dir, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, content);
  return p;
}

describe('readTargets / readLabeled', () => {
  it('by header name, by index, default last column', () => {
    const p = file('t.csv', 'a,y,b\n1,10,2\n3,20,4\n');
    expect(Array.from(readTargets(p, 'y').values)).toEqual([10, 20]);
    expect(readTargets(p, 'y')).toMatchObject({ column: 1, name: 'y' });
    expect(Array.from(readTargets(p, 2).values)).toEqual([2, 4]);
    expect(readTargets(p).column).toBe(2);
    const l = readLabeled(p, 'y');
    expect(l.x.dims).toEqual([2, 2]);
    expect(Array.from(l.x.data)).toEqual([1, 2, 3, 4]);
    expect(l.x.columns).toEqual(['a', 'b']);
    expect(Array.from(l.y.values)).toEqual([10, 20]);
  });

  it('without a header; a one-column file works for targets only', () => {
    const p = file('n.txt', '1 2 5\n3 4 6\n');
    expect(Array.from(readTargets(p, 0).values)).toEqual([1, 3]);
    expect(err(() => readTargets(p, 'y'))).toMatch(/target column 'y' asks for a header name, but the file has no header/);
    const one = file('one.csv', '1\n2\n');
    expect(Array.from(readTargets(one).values)).toEqual([1, 2]);
    expect(err(() => readLabeled(one))).toMatch(/only the target column/);
  });

  it('reshapes features to a model input', () => {
    const p = file('img.csv', '1,2,3,4,9\n5,6,7,8,9\n');
    const l = readLabeled(p, 4, { name: 'x', dims: ['N', 1, 2, 2] });
    expect(l.x.dims).toEqual([2, 1, 2, 2]);
  });

  it('errors', () => {
    const p = file('e.csv', 'a,b\n1,2\n');
    expect(err(() => readTargets(p, 'c'))).toBe(`${p}: no column named 'c' (columns: a, b)`);
    expect(err(() => readTargets(p, 5))).toBe(`${p}: target column 5 is out of range: the file has 2 columns (0-based: 0..1)`);
    expect(err(() => readTargets(file('dup.csv', 'y,y\n1,2\n'), 'y'))).toMatch(/2 columns are named 'y'/);
    expect(err(() => readTargets(join(dir, 'missing.csv')), 'E_FILE')).toMatch(/no such file/);
  });
});

/** A tiny dataset in Gal's layout: 6 rows, columns f0 f1 f2 y; features 0 and 2. */
function makeUci(root: string, indicesAsFloats = false): void {
  const rows = [
    [1, 100, 10, 0.5],
    [2, 200, 20, 1.5],
    [3, 300, 30, 2.5],
    [4, 400, 40, 3.5],
    [5, 500, 50, 4.5],
    [6, 600, 60, 5.5],
  ];
  const fmt = (v: number) => (indicesAsFloats ? v.toExponential(18) : String(v));
  const d = join(root, 'data');
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'data.txt'), `${rows.map((r) => r.join(' ')).join('\n')}\n`);
  writeFileSync(join(d, 'index_features.txt'), `${[0, 2].map(fmt).join('\n')}\n`);
  writeFileSync(join(d, 'index_target.txt'), `${fmt(3)}\n`);
  writeFileSync(join(d, 'index_train_0.txt'), [0, 1, 2, 3].map(fmt).join('\n'));
  writeFileSync(join(d, 'index_test_0.txt'), [4, 5].map(fmt).join('\n'));
  writeFileSync(join(d, 'index_train_1.txt'), [5, 4, 3, 2].map(fmt).join('\n'));
  writeFileSync(join(d, 'index_test_1.txt'), [1, 0].map(fmt).join('\n'));
  writeFileSync(join(d, 'n_splits.txt'), '2\n');
  writeFileSync(join(d, 'tau_values.txt'), '0.25 0.5\n');
}

describe('readUci', () => {
  it('reads a split from the dataset folder or its data/ folder', () => {
    const root = join(dir, 'uci', 'tiny');
    makeUci(root);
    for (const where of [root, join(root, 'data')]) {
      const s = readUci(where, 0);
      expect(s.features).toEqual([0, 2]);
      expect(s.nFeatures).toBe(2);
      expect(s.target).toBe(3);
      expect(s.nTrain).toBe(4);
      expect(s.nTest).toBe(2);
      expect(Array.from(s.trainX)).toEqual([1, 10, 2, 20, 3, 30, 4, 40]);
      expect(Array.from(s.trainY)).toEqual([0.5, 1.5, 2.5, 3.5]);
      expect(Array.from(s.testX)).toEqual([5, 50, 6, 60]);
      expect(Array.from(s.testY)).toEqual([4.5, 5.5]);
      expect(s.nSplits).toBe(2);
      expect(s.tauValues).toEqual([0.25, 0.5]);
      expect(s.dropoutRates).toBeUndefined();
    }
    const s1 = readUci(root, 1);
    expect(Array.from(s1.testY)).toEqual([1.5, 0.5]);
  });

  it('accepts indices written as floats (numpy.savetxt)', () => {
    const root = join(dir, 'uci', 'floats');
    makeUci(root, true);
    expect(readUci(root, 0).features).toEqual([0, 2]);
  });

  it("normalisation statistics as in Gal's code", () => {
    const root = join(dir, 'uci', 'norm');
    makeUci(root);
    const s = readUci(root, 0);
    const n = uciNormalization(s);
    expect(Array.from(n.xMean)).toEqual([2.5, 25]);
    expect(n.xStd[0]).toBeCloseTo(Math.sqrt(1.25), 12);
    expect(n.yMean).toBe(2);
    const z = standardizeRows(s.trainX, n);
    expect(z[0]).toBeCloseTo(-1.5 / Math.sqrt(1.25), 6);
  });

  it('errors: missing split, not a dataset, bad indices', () => {
    const root = join(dir, 'uci', 'errs');
    makeUci(root);
    expect(err(() => readUci(root, 7), 'E_FILE')).toMatch(/split 7 not found: no .*index_train_7\.txt \(the dataset has 2 splits: 0\.\.1\)/);
    expect(err(() => readUci(join(dir, 'uci'), 0), 'E_FILE')).toMatch(/no data\.txt in it or in its data\/ folder/);
    expect(err(() => readUci(join(dir, 'nowhere'), 0), 'E_FILE')).toMatch(/no such directory/);
    writeFileSync(join(root, 'data', 'index_test_1.txt'), '1\n9\n');
    expect(err(() => readUci(root, 1))).toMatch(/index_test_1\.txt: entry 2: row 9 is not a 0-based index below 6/);
    writeFileSync(join(root, 'data', 'index_train_1.txt'), '1\nx\n');
    expect(err(() => readUci(root, 1))).toMatch(/index_train_1\.txt: entry 2: expected a number, got 'x'/);
    writeFileSync(join(root, 'data', 'data.txt'), '1 2 3 4\n1 2 3\n');
    expect(err(() => readUci(root, 0))).toMatch(/data\.txt: row 2: expected 4 columns/);
  });
});

describe('readMasksFile', () => {
  it('reads number[][][]', () => {
    const m = [
      [
        [0, 2],
        [2, 2],
      ],
      [[1.25, 0, 1.25]],
    ];
    expect(readMasksFile(file('m.json', JSON.stringify(m)))).toEqual(m);
  });

  it('errors name the position', () => {
    const bad = (v: unknown) => err(() => validateMasks(v, 'masks.json'), 'E_MASK');
    expect(bad({ a: [] })).toMatch(/masks\.json: expected a JSON array with one entry per dropout site/);
    expect(bad([])).toMatch(/no sites/);
    expect(bad([[[1]], 3])).toBe('masks.json: site 2: expected an array of mask rows, got 3');
    expect(bad([[]])).toMatch(/site 1: no mask rows/);
    expect(bad([[[1, 2], 'x']])).toMatch(/site 1, row 2: expected an array of numbers, got "x"/);
    expect(bad([[[1, 2], [1]]])).toBe('masks.json: site 1, row 2: expected 2 values (as row 1), got 1');
    expect(bad([[[1, null]]])).toBe('masks.json: site 1, row 1, element 2: expected a finite number, got null');
    expect(bad([[[]]])).toMatch(/empty mask row/);
    expect(err(() => readMasksFile(file('bad.json', '[[[1,]]]')), 'E_MASK')).toMatch(/invalid JSON at line 1, column 6 \(position 5\): near ']]]'/);
    expect(err(() => readMasksFile(join(dir, 'none.json')), 'E_FILE')).toMatch(/cannot read masks file/);
  });
});
