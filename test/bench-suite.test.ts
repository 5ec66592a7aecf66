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
];

function runSuite(env: NodeJS.ProcessEnv): string {
  requireBuiltCli();
  const out = path.join(tempDir('mcu-bench-suite-'), 'RESULTS.md');
  const r = spawnSync(process.execPath, ['bench/suite.mjs', '--tiny', '--out', out], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
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
  expect(md).not.toMatch(/NaN|undefined|Infinity/);
}

describe('bench/suite.mjs --tiny', () => {
  it('writes every section with the machine description', { timeout: 60_000 }, () => {
    checkReport(runSuite({}));
  });

  it('completes with the PyTorch columns "not available" when the interpreter is missing', { timeout: 60_000 }, () => {
    const md = runSuite({ MCU_BENCH_PYTHON: path.join(REPO_ROOT, 'no-such-python3') });
    checkReport(md);
    expect(md).toContain('- PyTorch: not available');
    expect(md).toMatch(/\| not available \|/);
  });
});
