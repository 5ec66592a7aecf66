import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CSV_INDEX_STRIDE, openPool } from '../src/index.js';
import { mcuError, npyBytes, rng, tempDir, writeNpyFile } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

function randomRows(rows: number, width: number, seed: number): Float64Array {
  const r = rng(seed);
  return Float64Array.from({ length: rows * width }, () => (r() - 0.5) * 200);
}

describe('NPY pools', () => {
  const rows = 2500;
  const width = 3;
  const f64 = randomRows(rows, width, 1);
  const f32 = Float32Array.from(f64);

  it('reads any row range exactly as the whole file holds it (float32, float64, big-endian)', async () => {
    const be = new Uint8Array(f32.length * 4);
    const view = new DataView(be.buffer);
    f32.forEach((v, k) => view.setFloat32(4 * k, v, false));
    writeFileSync(join(tmp.dir, 'be.npy'), npyBytes('>f4', [rows, width], be));
    for (const path of [
      writeNpyFile(join(tmp.dir, 'a.npy'), f32, [rows, width]),
      writeNpyFile(join(tmp.dir, 'b.npy'), f64, [rows, width]),
      join(tmp.dir, 'be.npy'),
    ]) {
      const pool = await openPool({ path });
      expect([pool.rows, pool.width, pool.format]).toEqual([rows, width, 'npy']);
      // float64 pools become float32 as Float32Array.from rounds them (the model's input type)
      expect(await pool.read(0, rows)).toEqual(f32);
      for (const [s, e] of [
        [0, 1],
        [7, 1031],
        [1024, 2048],
        [rows - 1, rows],
      ] as const) {
        expect(await pool.read(s, e), `${path} [${s}, ${e})`).toEqual(f32.subarray(s * width, e * width));
      }
      await pool.close();
    }
  });

  it('takes [N, …] arrays as rows of prod(…) features', async () => {
    const pool = await openPool({ path: writeNpyFile(join(tmp.dir, 'img.npy'), f32.subarray(0, 24), [2, 1, 3, 4]) });
    expect([pool.rows, pool.width]).toEqual([2, 12]);
    await pool.close();
  });

  it('refuses what is not rows of float features, naming the fix', async () => {
    const p1 = writeNpyFile(join(tmp.dir, 'one.npy'), f32.subarray(0, 5), [5]);
    const e1 = await mcuError(openPool({ path: p1 }));
    expect([e1.code, e1.message]).toEqual(['E_INPUT', expect.stringMatching(/shape \(5,\); a pool is rows × features \(N, F\): .*reshape\(-1, 1\)/)]);
    writeFileSync(join(tmp.dir, 'int.npy'), npyBytes('<i4', [2, 2], new Int32Array(4)));
    const e2 = await mcuError(openPool({ path: join(tmp.dir, 'int.npy') }));
    expect([e2.code, e2.message]).toEqual(['E_INPUT', expect.stringMatching(/dtype is int32; .*astype\(np\.float32\)/)]);
    const e3 = await mcuError(openPool({ path: writeNpyFile(join(tmp.dir, 'empty.npy'), new Float32Array(0), [0, 9]) }));
    expect([e3.code, e3.message]).toEqual(['E_INPUT', expect.stringMatching(/the pool is empty \(shape \(0, 9\)\)/)]);
    const full = npyBytes('<f4', [4, 2], new Float32Array(8));
    writeFileSync(join(tmp.dir, 'short.npy'), full.subarray(0, full.length - 4));
    const e4 = await mcuError(openPool({ path: join(tmp.dir, 'short.npy') }));
    expect([e4.code, e4.message]).toEqual(['E_INPUT', expect.stringMatching(/truncated: shape \(4, 2\) needs 32 bytes, file has 28/)]);
    const e5 = await mcuError(openPool({ path: join(tmp.dir, 'missing.npy') }));
    expect([e5.code, e5.message]).toEqual(['E_FILE', expect.stringMatching(/missing\.npy does not exist/)]);
    const e6 = await mcuError(openPool({ path: tmp.dir, format: 'npy' }));
    expect(e6.code).toBe('E_FILE');
    const e7 = await mcuError(openPool({ path: join(tmp.dir, 'x.parquet') }));
    expect([e7.code, e7.message]).toEqual(['E_CONFIG', expect.stringMatching(/name it \.npy or \.csv/)]);
  });

  it('refuses a non-finite feature when its row is read, naming the row', async () => {
    const bad = Float32Array.from(f32.subarray(0, 30));
    bad[3 * 7 + 2] = Number.NaN;
    const pool = await openPool({ path: writeNpyFile(join(tmp.dir, 'nan.npy'), bad, [10, 3]) });
    expect((await pool.read(0, 7)).length).toBe(21);
    const e = await mcuError(pool.read(4, 10));
    expect([e.code, e.message]).toEqual(['E_INPUT', expect.stringMatching(/row index 7 \(0-based\), column 3: expected a finite number, got NaN/)]);
    await pool.close();
  });
});

describe('CSV pools', () => {
  const rows = 2 * CSV_INDEX_STRIDE + 300;
  const width = 4;
  // values exactly representable in decimal and float32, so text → float32 has one answer
  const r = rng(2);
  const values = Float64Array.from({ length: rows * width }, () => Math.round((r() - 0.5) * 8192) / 64 + 0); // + 0: no -0, which String() writes as 0

  function csvText(opts: { header?: boolean; eol?: string; sep?: string; blanks?: boolean; bom?: boolean }): string {
    const eol = opts.eol ?? '\n';
    const sep = opts.sep ?? ',';
    const lines: string[] = [];
    if (opts.header) lines.push(['a', 'b', '"c, d"', 'e'].join(sep === ',' ? ',' : ' '));
    for (let i = 0; i < rows; i++) {
      if (opts.blanks && i % 500 === 0) lines.push('   ');
      lines.push(Array.from(values.subarray(i * width, (i + 1) * width), String).join(sep));
    }
    return `${opts.bom ? '\ufeff' : ''}${lines.join(eol)}${eol}`;
  }

  it('streams rows as the CLI table rules read them: header, separators, quotes, blank lines, line ends', async () => {
    const cases = {
      plain: csvText({}),
      header: csvText({ header: true }),
      crlf: csvText({ header: true, eol: '\r\n', blanks: true, bom: true }),
      cr: csvText({ eol: '\r', blanks: true }),
      whitespace: csvText({ sep: '\t', blanks: true }),
    };
    const expected = Float32Array.from(values);
    for (const [name, text] of Object.entries(cases)) {
      const path = join(tmp.dir, `${name}.csv`);
      writeFileSync(path, text);
      const pool = await openPool({ path });
      expect([pool.rows, pool.width, pool.format], name).toEqual([rows, width, 'csv']);
      expect(await pool.read(0, rows), name).toEqual(expected);
      for (const [s, e] of [
        [0, 3],
        [CSV_INDEX_STRIDE - 1, CSV_INDEX_STRIDE + 1],
        [1500, 2100],
        [rows - 2, rows],
      ] as const) {
        expect(await pool.read(s, e), `${name} [${s}, ${e})`).toEqual(expected.subarray(s * width, e * width));
      }
      await pool.close();
    }
  });

  it('refuses bad cells naming the row index, the line and the column', async () => {
    const path = join(tmp.dir, 'bad.csv');
    writeFileSync(path, 'x,y\n1,2\n3,nan\n5\n');
    const pool = await openPool({ path });
    expect(pool.rows).toBe(3);
    const e1 = await mcuError(pool.read(1, 2));
    expect([e1.code, e1.message]).toEqual([
      'E_INPUT',
      expect.stringMatching(/row index 1 \(0-based\), column 2: expected a finite number, got 'nan' \(line 3, column 'y'\)/),
    ]);
    const e2 = await mcuError(pool.read(2, 3));
    expect(e2.message).toMatch(/row index 2 \(0-based\): expected 2 columns \(as the header\), got 1 \(line 4\)/);
    await pool.close();
    writeFileSync(join(tmp.dir, 'empty.csv'), '\n  \n');
    expect((await mcuError(openPool({ path: join(tmp.dir, 'empty.csv') }))).message).toMatch(/the pool is empty \(no rows\)/);
    writeFileSync(join(tmp.dir, 'head.csv'), 'a,b\n');
    expect((await mcuError(openPool({ path: join(tmp.dir, 'head.csv') }))).message).toMatch(/has a header \(a, b\) but no data rows/);
  });
});
