// The paper-reproduction pipeline (scripts/reproduce/reproduce.mjs) in its reduced form: small T,
// one RL seed, few batches, 2 UCI splits per dataset — so that `pnpm reproduce` cannot rot. The
// full run writes docs/RESULTS.md; this writes to a temp folder. Needs `pnpm -r build` first.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT, requireBuiltCli, tempDir } from './helpers/cli.js';

const run = promisify(execFile);

describe('pnpm reproduce (--quick)', () => {
  test('writes RESULTS.md with every section and each figure as SVG and PNG', async () => {
    requireBuiltCli();
    const out = tempDir('mcu-reproduce-');
    const env = { ...process.env };
    delete env['NODE_OPTIONS'];
    delete env['VITEST'];
    await run(process.execPath, [path.join(REPO_ROOT, 'scripts/reproduce/reproduce.mjs'), '--quick', '--out', out], {
      cwd: REPO_ROOT,
      env,
      timeout: 300_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const md = fs.readFileSync(path.join(out, 'RESULTS.md'), 'utf8');
    for (const h of ['## Figure 2', '## Figure 3', '## Figure 4', '## Table 1', '## Figure 6']) expect(md).toContain(h);
    expect(md).toMatch(/--quick/);
    const figures = fs.readdirSync(path.join(out, 'figures'));
    const stems = [...new Set(figures.map((f) => f.replace(/\.(svg|png)$/, '')))];
    expect(stems.length).toBeGreaterThanOrEqual(6);
    for (const s of stems) {
      const svg = fs.readFileSync(path.join(out, 'figures', `${s}.svg`), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      const png = fs.readFileSync(path.join(out, 'figures', `${s}.png`));
      expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      expect(md).toContain(`figures/${s}.png`);
    }
    // the numbers are the script's: a table row per UCI dataset, with mcu, PyTorch and the paper
    for (const d of ['bostonHousing', 'concrete', 'energy', 'yacht']) expect(md).toMatch(new RegExp(`\\| ${d} \\| 2 \\| \\d+\\.\\d{3} ± \\d+\\.\\d{3} \\|`));
    expect(md).toMatch(/mcu predicts \[1 1 1 1 1 1 1 2 7 7 7 5\]/);
    expect(md).toMatch(/\| Thompson sampling \(dropout\) \|/);
  }, 300_000);
});
