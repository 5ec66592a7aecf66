// Running the BUILT `mcu` CLI as a subprocess, as a user would: `node packages/cli/bin/mcu.js …`.
// The CLI is compiled by `pnpm -r build` (packages/cli/dist); tests that use this helper call
// `requireBuiltCli()` first, which fails with a clear message when the build is missing.
// Node built-ins only.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The launcher a user runs (the package's `bin`). */
export const MCU_BIN = path.join(REPO_ROOT, 'packages', 'cli', 'bin', 'mcu.js');
/** The compiled entry point the launcher imports. */
export const MCU_DIST_MAIN = path.join(REPO_ROOT, 'packages', 'cli', 'dist', 'main.js');

/** Throws (failing the test suite) unless the CLI has been built. */
export function requireBuiltCli(): void {
  if (!fs.existsSync(MCU_DIST_MAIN)) {
    throw new Error(`the CLI is not built (${path.relative(REPO_ROOT, MCU_DIST_MAIN)} is missing): run \`npx -y pnpm@12.4.2 -r build\` first`);
  }
}

export interface RunResult {
  /** Exit status (null when killed by a signal). */
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time in ms. */
  readonly ms: number;
  /** The command line, for failure messages. */
  readonly command: string;
}

export interface RunOptions {
  /** Working directory (default: a fresh empty temp dir, so no mcu.config.json is picked up). */
  readonly cwd?: string;
  /** Kill after this many ms (default 60 s). */
  readonly timeoutMs?: number;
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>;
  /** Run this executable instead of `node MCU_BIN` (e.g. node_modules/.bin/mcu). */
  readonly executable?: string;
}

let defaultCwd: string | undefined;

/** A fresh temporary directory (removed at process exit). */
export function tempDir(prefix = 'mcu-cli-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanup.push(dir);
  return dir;
}
const cleanup: string[] = [];
process.on('exit', () => {
  for (const d of cleanup) {
    try {
      fs.rmSync(d, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
});

/** Run `mcu ARGS…` and collect its exit status, stdout and stderr. Never throws on a non-zero exit. */
export function runMcu(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const cwd = options.cwd ?? (defaultCwd ??= tempDir('mcu-cwd-'));
  const [file, argv] = options.executable ? [options.executable, [...args]] : [process.execPath, [MCU_BIN, ...args]];
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  // The child must not inherit test-runner switches that change its behaviour.
  delete env['NODE_OPTIONS'];
  delete env['VITEST'];
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      file,
      argv,
      { cwd, env, timeout: options.timeoutMs ?? 60_000, maxBuffer: 256 * 1024 * 1024, encoding: 'utf8', killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        const e = error as (NodeJS.ErrnoException & { code?: number | string; signal?: NodeJS.Signals }) | null;
        const status = e === null ? 0 : typeof e.code === 'number' ? e.code : null;
        resolve({
          status,
          signal: e?.signal ?? null,
          stdout,
          stderr,
          ms: Date.now() - started,
          command: `mcu ${args.join(' ')}`,
        });
      },
    );
  });
}

/** A short description of a run, for assertion messages. */
export function describeRun(r: RunResult): string {
  const cut = (s: string) => (s.length > 2000 ? `${s.slice(0, 2000)}… (${s.length} chars)` : s);
  return `${r.command}\n  exit ${r.status}${r.signal ? ` (signal ${r.signal})` : ''} after ${r.ms} ms\n  stderr: ${cut(r.stderr)}\n  stdout: ${cut(r.stdout)}`;
}

/** Run and require exit 0; returns the result (throws with stderr on failure). */
export async function runOk(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const r = await runMcu(args, options);
  if (r.status !== 0) throw new Error(`expected exit 0:\n${describeRun(r)}`);
  return r;
}

/** Write a numeric CSV (no header) of rows; returns the path. */
export function writeCsv(file: string, rows: readonly (readonly number[])[]): string {
  fs.writeFileSync(file, `${rows.map((r) => r.map((v) => String(v)).join(',')).join('\n')}\n`);
  return file;
}

/** Write a JSON file; returns the path. */
export function writeJson(file: string, value: unknown): string {
  fs.writeFileSync(file, JSON.stringify(value));
  return file;
}

/** Parse a CSV that `mcu predict --format csv` wrote: header cells and numeric rows. */
export function parseCsv(text: string): { header: string[]; rows: number[][] } {
  const lines = text.split('\n').filter((l) => l !== '');
  const header = lines[0]!.split(',');
  return { header, rows: lines.slice(1).map((l) => l.split(',').map(Number)) };
}

/** Files in a directory (for checking that nothing partial was left). */
export function listDir(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

/** `mcu evaluate --format json` of a regression model (the fields the tests read). */
export interface EvaluateRegressionJson {
  task: 'regression';
  n: number;
  samples: number;
  seed: number;
  maskScope: string;
  tau: number;
  tauFitted: boolean;
  rmse: number;
  rmseMcError: number;
  rmseStandard: number;
  logLikelihood: number;
  logLikelihoodMcError: number;
  logLikelihoodMinEffectiveSamples: number;
  logLikelihoodStandard: number;
}
