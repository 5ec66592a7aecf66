import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInputFile, reshapeRows } from '../src/io/input.js';
import { writeNpy } from '../src/io/npy.js';
import { splitCsvLine } from '../src/io/table.js';
import { mcuErrorMessage } from '../../../test/helpers/check.js';

const err = (f: () => unknown, code = 'E_INPUT'): string => mcuErrorMessage(f, code);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mcu-input-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

describe('readInputFile: CSV and whitespace tables', () => {
  it('CSV without header', () => {
    const r = readInputFile(file('a.csv', '1,2,3\n4,5,6\n'));
    expect(r.dims).toEqual([2, 3]);
    expect(Array.from(r.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(r.columns).toBeUndefined();
    expect(r.data).toBeInstanceOf(Float32Array);
  });

  it('CSV with header (detected), CRLF, blank lines, spaces around cells, exponents', () => {
    const r = readInputFile(file('b.csv', 'x1, "x 2",x3\r\n\r\n1, 2.5e1, -3\r\n  \r\n.5,+6,7E-1\r\n'));
    expect(r.columns).toEqual(['x1', 'x 2', 'x3']);
    expect(r.dims).toEqual([2, 3]);
    expect(Array.from(r.data)).toEqual([1, 25, -3, 0.5, 6, Math.fround(0.7)]);
  });

  it('whitespace separated (spaces and tabs), with and without header', () => {
    expect(readInputFile(file('c.txt', '1 2\t3\n  4   5 6  \n')).dims).toEqual([2, 3]);
    const r = readInputFile(file('d.txt', 'a b\n1 2\n'));
    expect(r.columns).toEqual(['a', 'b']);
    expect(Array.from(r.data)).toEqual([1, 2]);
  });

  it('quoted CSV cells may hold commas', () => {
    expect(splitCsvLine('"a,b", c ,"say ""hi"""')).toEqual(['a,b', 'c', 'say "hi"']);
  });

  it('text, NaN, Infinity and empty cells name file, row and column', () => {
    const p = file('e.csv', 'x,y\n1,2\n3,4\n5,abc\n');
    expect(err(() => readInputFile(p))).toBe(`${p}: row 3, column 2: expected a number, got 'abc' (line 4, column 'y')`);
    const q = file('f.csv', '1,2\n3,NaN\n');
    expect(err(() => readInputFile(q))).toBe(`${q}: row 2, column 2: expected a finite number, got 'NaN' (line 2)`);
    expect(err(() => readInputFile(file('g.csv', '1,2\nInfinity,3\n')))).toMatch(/row 2, column 1: expected a finite number, got 'Infinity'/);
    expect(err(() => readInputFile(file('g2.csv', '1,2\n-inf,3\n')))).toMatch(/row 2, column 1: expected a finite number, got '-inf'/);
    expect(err(() => readInputFile(file('g3.csv', '1,2\n1e999,3\n')))).toMatch(/row 2, column 1: expected a finite number, got '1e999' \(overflows\)/);
    expect(err(() => readInputFile(file('h.csv', '1,2\n3,\n')))).toMatch(/row 2, column 2: expected a number, got an empty cell/);
    expect(err(() => readInputFile(file('h2.txt', '1 2\n3 x\n')))).toMatch(/row 2, column 2: expected a number, got 'x' \(line 2\)/);
  });

  it('ragged rows', () => {
    const p = file('i.csv', '1,2,3\n4,5\n');
    expect(err(() => readInputFile(p))).toBe(`${p}: row 2: expected 3 columns (as row 1), got 2 (line 2)`);
    expect(err(() => readInputFile(file('j.csv', 'a,b\n1,2,3\n')))).toMatch(/row 1: expected 2 columns \(as the header\), got 3/);
  });

  it('empty input', () => {
    expect(err(() => readInputFile(file('k.csv', '')))).toMatch(/k\.csv: the file is empty \(no rows\)/);
    expect(err(() => readInputFile(file('l.csv', '\n  \n')))).toMatch(/the file is empty/);
    expect(err(() => readInputFile(file('m.csv', 'a,b\n')))).toMatch(/has a header \(a, b\) but no data rows/);
  });
});

describe('readInputFile: JSON', () => {
  it('array of rows', () => {
    const r = readInputFile(file('a.json', '[[1, 2], [3, 4], [5, 6]]'));
    expect(r.dims).toEqual([3, 2]);
    expect(Array.from(r.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('array of numbers is one column', () => {
    const r = readInputFile(file('b.json', '[1, 2, 3]'));
    expect(r.dims).toEqual([3, 1]);
  });

  it('nested arrays keep their shape', () => {
    const r = readInputFile(
      file(
        'c.json',
        JSON.stringify([
          [
            [1, 2],
            [3, 4],
          ],
          [
            [5, 6],
            [7, 8],
          ],
        ]),
      ),
    );
    expect(r.dims).toEqual([2, 2, 2]);
    expect(Array.from(r.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('sniffs JSON without a .json extension', () => {
    expect(readInputFile(file('d.dat.in', ' [[1,2]]')).dims).toEqual([1, 2]);
  });

  it('errors name row and column', () => {
    const p = file('e.json', '[[1, 2], [3, "abc"]]');
    expect(err(() => readInputFile(p))).toBe(`${p}: row 2, column 2: expected a number, got "abc"`);
    expect(err(() => readInputFile(file('f.json', '[[1, 2], [3]]')))).toMatch(/row 2: expected 2 columns \(as row 1\), got 1/);
    expect(err(() => readInputFile(file('g.json', '[[1, 2], 3]')))).toMatch(/row 2: expected an array of 2 values, got 3/);
    expect(err(() => readInputFile(file('h.json', '[1, null]')))).toMatch(/row 2: expected a number, got null/);
    expect(err(() => readInputFile(file('i.json', '[]')))).toMatch(/the JSON array is empty/);
    expect(err(() => readInputFile(file('j.json', '{"x": [1]}')))).toMatch(/expected a JSON array of rows .* got object/);
    expect(err(() => readInputFile(file('k.json', '[[1,2],[3,4]')))).toMatch(
      /k\.json: invalid JSON at line 1, column 13 \(position 12\): unexpected end of file/,
    );
    expect(err(() => readInputFile(file('l.json', '[[]]')))).toMatch(/row 1 is empty/);
    expect(err(() => readInputFile(file('m.json', '[[[1],[2]],[[1],[2,3]]]')))).toMatch(
      /row 2, element \[1\]: expected 1 value \(as the first element\), got 2/,
    );
  });
});

describe('readInputFile: NPY', () => {
  it('reads float32 and float64 arrays, keeping their shape', () => {
    const r = readInputFile(file('a.npy', writeNpy({ dtype: 'float32', data: Float32Array.from([1, 2, 3, 4]), dims: [2, 2] })));
    expect(r.dims).toEqual([2, 2]);
    expect(Array.from(r.data)).toEqual([1, 2, 3, 4]);
    const s = readInputFile(file('b.npy', writeNpy({ data: [1, 2, 3], dims: [3] })));
    expect(s.dims).toEqual([3, 1]);
    const t = readInputFile(file('c.npy', writeNpy({ dtype: 'int32', data: Int32Array.from([7, 8]), dims: [1, 2] })));
    expect(Array.from(t.data)).toEqual([7, 8]);
  });

  it('sniffs NPY by magic and rejects NaN', () => {
    expect(readInputFile(file('d.bin', writeNpy({ data: [1, 2], dims: [1, 2] }))).dims).toEqual([1, 2]);
    const p = file('e.npy', writeNpy({ data: [1, 2, 3, NaN], dims: [2, 2] }));
    expect(err(() => readInputFile(p))).toBe(`${p}: row 2, column 2: expected a finite number, got NaN`);
    expect(err(() => readInputFile(file('f.npy', writeNpy({ data: [1], dims: [] }))))).toMatch(/scalar/);
  });
});

describe('reshapeRows and readInputFile with a model spec', () => {
  const mnist = { name: 'x', dims: ['N', 1, 28, 28] as (number | string)[] };

  it('784 columns → [N, 1, 28, 28]', () => {
    const data = new Float32Array(2 * 784).map((_, i) => i);
    const r = reshapeRows(data, 2, 784, mnist.dims, 'x');
    expect(r.dims).toEqual([2, 1, 28, 28]);
    expect(r.data).toBe(data);
    const rows = Array.from({ length: 2 }, (_, i) => Array.from({ length: 784 }, (_, j) => i * 784 + j).join(','));
    const viaFile = readInputFile(file('mnist.csv', rows.join('\n')), mnist);
    expect(viaFile.dims).toEqual([2, 1, 28, 28]);
    expect(viaFile.data[785]).toBe(785);
  });

  it('size mismatch message', () => {
    expect(err(() => reshapeRows(new Float32Array(6), 2, 3, mnist.dims, 'x'))).toBe("input 'x' expects 784 values per row ([N, 1, 28, 28]), got 3 columns");
    expect(err(() => reshapeRows(new Float32Array(6), 2, 3, [-1, 784], 'x'))).toBe("input 'x' expects 784 values per row ([N, 784]), got 3 columns");
    const three = file('three.csv', '1,2,3\n');
    expect(err(() => readInputFile(three, mnist))).toBe(`${three}: input 'x' expects 784 values per row ([N, 1, 28, 28]), got 3 columns`);
    expect(err(() => reshapeRows(new Float32Array(2), 2, 1, ['batch', 4]))).toBe('the model input expects 4 values per row ([N, 4]), got 1 column');
  });

  it('matching dims are kept; a free axis is inferred; 1-D inputs', () => {
    expect(reshapeRows(new Float32Array(6), 2, 3, ['N', 3]).dims).toEqual([2, 3]);
    expect(reshapeRows(new Float32Array(12), 2, 6, ['N', 'T', 3]).dims).toEqual([2, 2, 3]);
    expect(err(() => reshapeRows(new Float32Array(10), 2, 5, ['N', 'T', 3], 'seq'))).toMatch(
      /input 'seq' expects a multiple of 3 values per row \(\[N, \?, 3\]\), got 5 columns/,
    );
    expect(err(() => reshapeRows(new Float32Array(4), 2, 2, ['N', 'A', 'B']))).toMatch(/2 free axes/);
    expect(reshapeRows(new Float32Array(3), 3, 1, ['N']).dims).toEqual([3]);
    expect(err(() => reshapeRows(new Float32Array(1), 1, 1, []))).toMatch(/scalar/);
    const npy = readInputFile(file('img.npy', writeNpy({ dtype: 'float32', data: new Float32Array(784), dims: [1, 1, 28, 28] })), mnist);
    expect(npy.dims).toEqual([1, 1, 28, 28]);
    const flat = readInputFile(file('flat.npy', writeNpy({ dtype: 'float32', data: new Float32Array(784), dims: [1, 784] })), mnist);
    expect(flat.dims).toEqual([1, 1, 28, 28]);
  });
});

describe('file errors', () => {
  it('missing file and directory are E_FILE', () => {
    const missing = join(dir, 'nope.csv');
    expect(err(() => readInputFile(missing), 'E_FILE')).toBe(`cannot read input file '${missing}': no such file`);
    mkdirSync(join(dir, 'sub'));
    expect(err(() => readInputFile(join(dir, 'sub')), 'E_FILE')).toMatch(/it is a directory, not a file/);
  });
});
