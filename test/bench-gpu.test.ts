// bench/gpu-prepare.mjs and the bench/gpu.mjs bundle it writes, end to end on the cpu EP with
// --tiny (built packages, as the GPU session runs them): the folder is self-contained, the bundle
// finds onnxruntime-node through NODE_PATH (as .gpu/enter.sh sets it), every section is in the
// report, and torch_bench.py reads the JSON graphs as it reads the .onnx files. No timing
// assertions: the GPU figures exist only on a GPU machine.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, requireBuiltCli, tempDir } from './helpers/cli.js';

const SYSTEM_PYTHON = '/usr/bin/python3';
const python = fs.existsSync(SYSTEM_PYTHON) ? SYSTEM_PYTHON : undefined;
/** Whether `python` imports these modules, and why not. */
function probe(modules: string): { ok: boolean; why: string } {
  if (python === undefined) return { ok: false, why: `${SYSTEM_PYTHON} does not exist` };
  const r = spawnSync(python, ['-c', `import ${modules}`], { encoding: 'utf8' });
  return r.status === 0 ? { ok: true, why: '' } : { ok: false, why: `${python}: ${(r.stderr || String(r.error)).trim().split('\n').pop()}` };
}
const torch = probe('torch, numpy');
const torchOnnx = probe('torch, numpy, onnx');

// where onnxruntime-node lives: the bundle keeps it external, as on the GPU machine (.gpu/node_modules)
const ortPackage = createRequire(path.join(REPO_ROOT, 'packages/backend-onnx/package.json')).resolve('onnxruntime-node/package.json');
const NODE_PATH = path.dirname(path.dirname(ortPackage));

let folder: string | undefined;
/** The tiny folder gpu-prepare writes (once per file). */
function prepared(): string {
  if (folder !== undefined) return folder;
  requireBuiltCli();
  const dir = path.join(tempDir('mcu-bench-gpu-'), 'gpu-bench');
  const r = spawnSync(process.execPath, ['bench/gpu-prepare.mjs', '--tiny', '--out', dir], {
    cwd: REPO_ROOT,
    // never the workplace's shared fixtures (a newcomer's clone has none): LeNet from test/fixtures
    env: { ...process.env, MCU_BENCH_SHARED: tempDir('mcu-gpu-no-shared-') },
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toContain('../shared/gpu/prepare.sh');
  expect(r.stdout).toContain('--ep webgpu --out $OUT/gpu.json --md $OUT/gpu.md');
  expect(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).toContain('test/fixtures (@mcu/fixtures)/pytorch-1.13/lenet.preserve.onnx');
  folder = dir;
  return dir;
}

interface Report {
  models: Record<string, GpuModel>;
  torch: { why?: string; device?: string; onnx?: string; spec?: { cases: { model: string }[] } };
  targets: { model: string; value: number | null; met: boolean | null }[];
}
interface GpuModel {
  mcu: { error?: string; modes: { key: string; medianMs?: number; error?: string; reference?: { maxRelDiff?: number; error?: string } }[] };
  plain: { medianMs?: number; check?: number[]; error?: string };
  torch: { check: number[] } | null;
  check?: { maxAbsDiff: number; largest: number; relative: number };
}

/** `node <folder>/gpu.mjs --ep cpu --tiny`: its JSON and Markdown. */
function runBundle(env: NodeJS.ProcessEnv): { report: Report; md: string } {
  const dir = prepared();
  const out = tempDir('mcu-bench-gpu-out-');
  const r = spawnSync(
    process.execPath,
    [path.join(dir, 'gpu.mjs'), '--data', dir, '--ep', 'cpu', '--tiny', '--runs', '1', '--out', path.join(out, 'r.json'), '--md', path.join(out, 'r.md')],
    // a folder outside the repository: only NODE_PATH leads to onnxruntime-node
    { cwd: out, env: { ...process.env, NODE_PATH, ...env }, encoding: 'utf8', timeout: 120_000 },
  );
  expect(r.status, r.stderr).toBe(0);
  return { report: JSON.parse(fs.readFileSync(path.join(out, 'r.json'), 'utf8')), md: fs.readFileSync(path.join(out, 'r.md'), 'utf8') };
}
let cpuRun: { report: Report; md: string } | undefined;
const withPython = () => (cpuRun ??= runBundle(python !== undefined ? { MCU_GPU_PYTHON: python } : {}));

const TARGETS = [
  /^\| co2_relu 4×1024: mcu engine \(cpu\) ÷ PyTorch batched \((cpu|not available)\) ≤ 1\.5 \| (\d+\.\d\d×|not available) \| (yes|no|not available) \|$/m,
  /^\| LeNet: mcu engine \(cpu\) ÷ PyTorch batched \((cpu|not available)\) < 1\.0 \| (\d+\.\d\d×|not available) \| (yes|no|not available) \|$/m,
];

function checkReport({ report, md }: { report: Report; md: string }): void {
  expect(Object.keys(report.models).sort()).toEqual(['co2-1024', 'lenet']);
  for (const [key, m] of Object.entries(report.models)) {
    expect(m.mcu.error, key).toBeUndefined();
    expect(m.mcu.modes.map((x) => x.key)).toEqual(['auto', 'on', 'off', 'budget-1g']);
    for (const mode of m.mcu.modes) {
      expect(mode.error, `${key} ${mode.key}`).toBeUndefined();
      expect(mode.medianMs, `${key} ${mode.key}`).toBeGreaterThan(0);
      // the cpu EP against itself with the same seed: the same masks, the same numbers
      expect(mode.reference?.error, `${key} ${mode.key}`).toBeUndefined();
      expect(mode.reference?.maxRelDiff, `${key} ${mode.key}`).toBeLessThanOrEqual(1e-6);
    }
    expect(m.plain.error, key).toBeUndefined();
    expect(m.plain.medianMs, key).toBeGreaterThan(0);
    expect(m.plain.check?.length, key).toBe(key === 'lenet' ? 20 : 2); // 2 rows of 10 logits / of 1 value
  }
  expect(report.targets.map((t) => t.model)).toEqual(['co2-1024', 'lenet']);
  for (const heading of ['## Machine', '## Targets (issue 14 item 4)', '## 1. mcu engine on cpu', '## 2. Plain onnxruntime-node on cpu', '## 4. PyTorch']) {
    expect(md).toContain(heading);
  }
  for (const line of ['- GPU: ', '- CPU: ', '- Node v', 'onnxruntime-node ']) expect(md).toContain(line);
  for (const t of TARGETS) expect(md).toMatch(t);
  expect(md).not.toMatch(/NaN|undefined|Infinity/);
}

describe('bench/gpu-prepare.mjs and the gpu.mjs bundle (--tiny, cpu EP)', () => {
  it('writes a self-contained folder whose bundle runs every section', { timeout: 120_000 }, () => {
    const dir = prepared();
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.models.map((m: { key: string }) => m.key)).toEqual(['co2-1024', 'lenet']);
    for (const f of ['gpu.mjs', 'torch_bench.py', 'lenet.preserve.onnx', 'lenet.preserve.json', 'examples/co2_relu.preserve.onnx']) {
      expect(fs.existsSync(path.join(dir, f)), f).toBe(true);
    }
    const run = withPython();
    checkReport(run);
    // co2 4×1024 was rebuilt there, byte for byte (gpu.mjs checks the hash)
    expect(fs.existsSync(path.join(dir, 'generated', 'co2_relu_4x1024.json'))).toBe(true);
    if (!torch.ok) {
      expect(run.md).toContain('- PyTorch: not available');
      return;
    }
    // PyTorch ran on the JSON graphs (no onnx package needed) and rebuilt each network:
    // 2 rows with dropout off against the plain session, to float32 rounding
    const t = run.report.torch;
    expect(t.why).toBeUndefined();
    expect(t.device).toBe('cpu');
    expect(t.onnx).toBe('not used');
    expect(t.spec?.cases.every((c) => c.model.endsWith('.json'))).toBe(true);
    for (const [key, m] of Object.entries(run.report.models)) {
      expect(m.torch?.check.length, key).toBe(m.plain.check?.length);
      expect(m.check?.maxAbsDiff, key).toBeLessThanOrEqual(1e-4 * Math.max(1, m.check?.largest ?? 0));
    }
    expect(run.md).toMatch(/^- PyTorch \d\S* \(numpy \S+, onnx not used\) on cpu/m);
  });

  it('completes with the PyTorch columns "not available" when the interpreter is missing', { timeout: 120_000 }, () => {
    const run = runBundle({ MCU_GPU_PYTHON: path.join(REPO_ROOT, 'no-such-python3') });
    checkReport(run);
    expect(run.report.torch.why).toContain('no-such-python3');
    expect(run.md).toContain('- PyTorch: not available');
    expect(run.md).toMatch(/ ÷ PyTorch batched \(not available\) ≤ 1\.5 \| not available \| not available \|/);
    expect(run.md).toMatch(/^\| LeNet \| not available \| not available \| not available \|/m);
  });

  it.skipIf(!torchOnnx.ok)(
    `torch_bench.py gives the same check on a JSON graph as on the .onnx file${torchOnnx.ok ? '' : ` (skipped: ${torchOnnx.why})`}`,
    { timeout: 120_000 },
    () => {
      const dir = prepared();
      withPython(); // co2 4×1024 is rebuilt into generated/ by the bundle's run
      const networks = [
        { name: 'lenet', base: path.join(dir, 'lenet.preserve'), input: path.join(dir, 'lenet-20.npy') },
        { name: 'co2', base: path.join(dir, 'generated', 'co2_relu_4x1024'), input: path.join(dir, 'co2-1024-50.npy') },
      ];
      const run = (ext: string) => {
        const spec = path.join(tempDir('mcu-bench-gpu-spec-'), 'spec.json');
        const cases = networks.map((n) => ({ name: n.name, model: `${n.base}${ext}`, input: n.input, samples: 2, repeats: 1 }));
        fs.writeFileSync(spec, JSON.stringify({ threads: 1, sgemm_repeats: 5, cases }));
        const r = spawnSync(python!, [path.join(dir, 'torch_bench.py'), spec], { encoding: 'utf8', timeout: 120_000 });
        expect(r.status, r.stderr).toBe(0);
        return JSON.parse(r.stdout) as { onnx: string; cases: { name: string; check: number[] }[] };
      };
      const fromOnnx = run('.onnx');
      const fromJson = run('.json');
      expect(fromJson.onnx).toBe('not used');
      expect(fromOnnx.onnx).toMatch(/^\d/);
      // the same weights and attributes, the same torch calls: the same floats
      expect(fromJson.cases.map((c) => c.check)).toEqual(fromOnnx.cases.map((c) => c.check));
      expect(fromJson.cases.every((c) => c.check.length > 0)).toBe(true);
    },
  );
});
