// `mcu acquire` on one machine, the BUILT CLI as a user runs it: the selection on stdout without
// --out and the same bytes in the --out file; CSV output; a CSV pool scoring as the NPY pool of the
// same float32 values; and the bad inputs of issue 15 — k larger than the pool, an empty pool, a
// pool of the wrong width — each one line on stderr, exit 2, and no output file (not even a
// temporary one). `mcu --help` lists acquire and worker. Needs `pnpm -r build` first.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeRun, listDir, requireBuiltCli, runMcu, runOk, tempDir } from './helpers/cli.js';
import { seeded, writeClassifier, writePool } from './helpers/redis-pool.js';

let dir: string;
const F: Record<string, string> = {};
const RUN = (pool: string) => ['--pool', pool, '--k', '7', '--heuristic', 'entropy', '--samples', '6', '--seed', '2', '--block-rows', '32'];

/** One line on stderr, exit 2, nothing written in the output's folder. */
async function refused(argv: string[], message: RegExp): Promise<void> {
  const outDir = tempDir('mcu-acquire-out-');
  const r = await runMcu([...argv, '-o', path.join(outDir, 'sel.json')]);
  expect(r.status, describeRun(r)).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  expect(lines, describeRun(r)).toHaveLength(1);
  expect(lines[0]).toMatch(message);
  expect(listDir(outDir)).toEqual([]);
}

beforeAll(() => {
  requireBuiltCli();
  dir = tempDir('mcu-cli-acquire-');
  F['model'] = writeClassifier(path.join(dir, 'model.onnx'), 3);
  F['pool'] = writePool(path.join(dir, 'pool.npy'), 300, 9, 4);
  // the same float32 values as CSV (String of each float32 value parses back to it exactly)
  const r = seeded(4);
  const rows = Array.from({ length: 300 }, () => Array.from({ length: 9 }, () => String(Math.fround(r() * 4 - 2))).join(','));
  F['csv'] = path.join(dir, 'pool.csv');
  fs.writeFileSync(F['csv'], `${rows.join('\n')}\n`);
  F['empty'] = writePool(path.join(dir, 'empty.npy'), 0, 9, 1);
  F['wide'] = writePool(path.join(dir, 'wide.npy'), 50, 12, 1);
});

describe('mcu acquire on one machine', () => {
  it('prints the selection on stdout without --out, the same bytes as the --out file', async () => {
    const out = path.join(dir, 'sel.json');
    const printed = await runOk(['acquire', F['model']!, ...RUN(F['pool']!), '--workers', '1']);
    await runOk(['acquire', F['model']!, ...RUN(F['pool']!), '--workers', '1', '-o', out]);
    expect(fs.readFileSync(out, 'utf8')).toBe(printed.stdout);
    const sel = JSON.parse(printed.stdout) as { heuristic: string; k: number; poolRows: number; selected: { index: number; score: number }[] };
    expect(sel).toMatchObject({ heuristic: 'entropy', k: 7, poolRows: 300 });
    expect(sel.selected).toHaveLength(7);
    // best first: scores descending, ties by the lower row index
    for (let i = 1; i < sel.selected.length; i++) {
      const [a, b] = [sel.selected[i - 1]!, sel.selected[i]!];
      expect(a.score > b.score || (a.score === b.score && a.index < b.index)).toBe(true);
    }
  });

  it('a CSV pool of the same float32 values selects the same rows with the same scores', async () => {
    const npy = await runOk(['acquire', F['model']!, ...RUN(F['pool']!), '--workers', '1']);
    const csv = await runOk(['acquire', F['model']!, ...RUN(F['csv']!), '--workers', '1']);
    expect(csv.stdout).toBe(npy.stdout);
  });

  it('--format csv writes the selection as CSV, the rows of the JSON', async () => {
    const json = JSON.parse((await runOk(['acquire', F['model']!, ...RUN(F['pool']!), '--workers', '1'])).stdout) as {
      selected: { index: number; score: number }[];
    };
    const csv = (await runOk(['acquire', F['model']!, ...RUN(F['pool']!), '--workers', '1', '--format', 'csv'])).stdout;
    const lines = csv.trim().split('\n');
    expect(lines).toHaveLength(json.selected.length + 1);
    const body = lines.slice(1).map((l) => l.split(',').map(Number));
    expect(lines[0]).toBe('rank,index,score');
    expect(body.map((c) => c[0])).toEqual(json.selected.map((_, i) => i + 1));
    expect(body.map((c) => c[1])).toEqual(json.selected.map((s) => s.index));
    expect(body.map((c) => c[2])).toEqual(json.selected.map((s) => s.score));
  });
});

describe('mcu acquire: bad input, one line, exit 2, no output', () => {
  it('k larger than the pool', () => refused(['acquire', F['model']!, '--pool', F['pool']!, '--k', '301', '--workers', '1'], /^mcu: .*301.*300/));
  it('an empty pool', () => refused(['acquire', F['model']!, '--pool', F['empty']!, '--k', '1', '--workers', '1'], /^mcu: .*(empty|0 rows|no rows)/i));
  it('a pool of the wrong width', () =>
    refused(['acquire', F['model']!, '--pool', F['wide']!, '--k', '3', '--workers', '1'], /^mcu: .*\b12\b.*\b9\b|^mcu: .*\b9\b.*\b12\b/));
  it('a pool that does not exist', () =>
    refused(['acquire', F['model']!, '--pool', path.join(dir, 'nope.npy'), '--k', '3', '--workers', '1'], /^mcu: .*nope\.npy/));
  it('a flag of another command', () =>
    refused(['acquire', F['model']!, '--pool', F['pool']!, '--k', '3', '--input', 'x.csv'], /^mcu: --input is not an option of 'acquire'/));
});

describe('help', () => {
  it('mcu --help lists acquire and worker; each command has its help', async () => {
    const all = await runOk(['--help']);
    expect(all.stdout).toMatch(/\n {2}acquire {5}Active learning/);
    expect(all.stdout).toMatch(/\n {2}worker {6}Score the shards/);
    expect((await runOk(['acquire', '--help'])).stdout).toMatch(/^Usage: mcu acquire MODEL --pool FILE --k K/);
    expect((await runOk(['worker', '--help'])).stdout).toMatch(/^Usage: mcu worker MODEL --queue redis:\/\/HOST:PORT/);
  });
});
