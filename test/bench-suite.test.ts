// bench/suite.mjs --tiny end to end (built packages, as a user runs it): the report has every
// section, the machine it ran on, and no NaN / undefined. No timing assertions. Once with the
// PyTorch side as this machine has it, once with the interpreter missing (as on CI).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, requireBuiltCli, tempDir } from './helpers/cli.js';

const HEADINGS = [
  '# mcu benchmark results',
  '## Machine',
  '## 1. mcu vs PyTorch CPU',
  '## 2. Overhead of an MC run against plain onnxruntime-node',
  '## 3. Fixed cost, memory and scaling',
  '### Fixed cost',
  '### Memory',
  '### Scaling with T',
  '### Scaling with N',
  '## 4. Targets of issue 14',
];

function runSuite(env: NodeJS.ProcessEnv): string {
  requireBuiltCli();
  const out = path.join(tempDir('mcu-bench-suite-'), 'RESULTS.md');
  const r = spawnSync(process.execPath, ['bench/suite.mjs', '--tiny', '--out', out], {
    cwd: REPO_ROOT,
    // never the workplace's shared fixtures (a newcomer's clone has none): the suite's test/fixtures rows only
    env: { ...process.env, MCU_BENCH_SHARED: tempDir('mcu-bench-no-shared-'), ...env },
    encoding: 'utf8',
    // the tiny run takes ~15 s on a quiet 2-core machine; the margin is for a loaded one
    timeout: 120_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return fs.readFileSync(out, 'utf8');
}

function checkReport(md: string): void {
  const lines = md.split('\n');
  const at = HEADINGS.map((h) => lines.indexOf(h));
  expect(
    at.every((i) => i >= 0),
    `every heading in ${JSON.stringify(HEADINGS)}`,
  ).toBe(true);
  expect([...at].sort((a, b) => a - b)).toEqual(at);
  for (const line of ['- CPU: ', '- Memory: ', '- OS: ', '- Node v', 'onnxruntime-node ']) expect(md).toContain(line);
  expect(md).toMatch(/- (PyTorch \d|PyTorch: not available)/);
  expect(md).toMatch(/(sgemm rate of that BLAS .*GFLOP\/s|sgemm rate: not available)/);
  expect(md).toMatch(/\| co2_relu 4×128 \(bundled example\) \|/);
  expect(md).toMatch(/\| LeNet /);
  // the rows of issue 14: the paper's co2 width, a UCI model at its own T, a zoo CNN
  expect(md).toMatch(/\| co2_relu 4×1024 /);
  expect(md).toMatch(/\| UCI bostonHousing split 0, 1×50 \(test\/fixtures, PyTorch 1\.13\) \| 50 \| 51 \|/);
  expect(md).toMatch(/\| mobilenet_v3_small 3×64×64, dropout only in the head/);
  for (const what of ['no cache', 'cache cold', 'cache warm']) expect(md).toContain(`13 rows, T = 1, ${what} |`);
  expect(md).not.toMatch(/NaN|undefined|Infinity/);
}

describe('bench/suite.mjs --tiny', () => {
  it('writes every section with the machine description', { timeout: 120_000 }, () => {
    const md = runSuite({});
    checkReport(md);
    // where PyTorch ran, its rebuild of each network agrees with onnxruntime (2 rows, dropout
    // off) to float32 rounding: 1e-4 of the largest output is far above the ~1e-6 that summation
    // order gives and far below what a wrong operator gives
    const checks = [...md.matchAll(/\| (\d\.\de[+-]\d+) \((\d\.\de[+-]\d+)\) \|$/gm)];
    // one check per network of section 2: without the shared fixtures, co2 4×128, LeNet (test/fixtures),
    // co2 4×1024, UCI and mobilenet
    const section2 = md.slice(md.indexOf('## 2.'), md.indexOf('## 3.'));
    const networks = section2.split('\n').filter((l) => l.startsWith('| ')).length - 1; // less the header (the |---| line starts '|-')
    expect(networks).toBe(5);
    // section 2 times mcu and plain onnxruntime interleaved: a ratio and the range of the pairs per network, each a target of section 4
    expect([...section2.matchAll(/\| (\d+\.\d\d)× \| (\d+\.\d\d)–(\d+\.\d\d)× \(1 pair\) \|/g)]).toHaveLength(networks);
    expect([...md.matchAll(/: mcu engine ÷ plain onnxruntime-node ≤ 1\.10 \| \d+\.\d\d× \| (yes|no) \|/g)]).toHaveLength(networks);
    expect(md).toMatch(/\| LeNet \(test\/fixtures via @mcu\/fixtures, PyTorch 1\.13\) \|/);
    expect(md).toContain('is absent: the co2 4×512 rows are left out.');
    if (!md.includes('- PyTorch: not available')) expect(checks.length).toBe(networks);
    for (const [, diff, largest] of checks) expect(Number(diff)).toBeLessThanOrEqual(1e-4 * Math.max(1, Number(largest)));
  });

  it('completes with the PyTorch columns "not available" when the interpreter is missing', { timeout: 120_000 }, () => {
    const md = runSuite({ MCU_BENCH_PYTHON: path.join(REPO_ROOT, 'no-such-python3') });
    checkReport(md);
    expect(md).toContain('- PyTorch: not available');
    expect(md).toMatch(/\| not available \|/);
    expect(md).toMatch(/≤ 0\.3 × PyTorch batched \| not available \| not available \|/);
  });
});
