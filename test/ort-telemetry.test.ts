// onnxruntime-node ≥ 1.29 collects telemetry for Microsoft by default on Linux: at its first
// initialisation in a process it writes $TMPDIR/mat-debug-PID.log and a device id and event cache
// under $XDG_CACHE_HOME/Microsoft/DeveloperTools/.onnxruntime (measured with strace on 1.30).
// mcu opts out with ORT_DISABLE_TELEMETRY=1 unless the user has set the variable
// (packages/backend-onnx/src/runtime/telemetry.ts). The BUILT CLI runs here with a private
// TMPDIR, HOME and XDG_CACHE_HOME and without CI (onnxruntime itself stays quiet under CI):
// `mcu predict` and `mcu acquire` on two worker threads leave none of those files, and the
// positive control — ORT_DISABLE_TELEMETRY=0, the user keeping onnxruntime's default — shows
// that the probe sees them when telemetry is on. Needs `pnpm -r build` first.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MCU_BIN, REPO_ROOT, requireBuiltCli, tempDir } from './helpers/cli.js';
import { writeClassifier, writePool } from './helpers/redis-pool.js';

const EXAMPLE = path.join(REPO_ROOT, 'examples', 'co2_relu.preserve.onnx');
const EXAMPLE_CSV = path.join(REPO_ROOT, 'examples', 'co2-months.csv');

interface Traces {
  /** mat-debug-*.log files in the private TMPDIR. */
  debugLogs: string[];
  /** Whether onnxruntime's telemetry folder exists in the private cache. */
  telemetryFolder: boolean;
}

/** Run the CLI in a private environment; returns what onnxruntime's telemetry left there. */
function run(args: readonly string[], telemetryVariable?: string): Promise<Traces> {
  const root = tempDir('mcu-telemetry-');
  const tmp = path.join(root, 'tmp');
  const cache = path.join(root, 'cache');
  const home = path.join(root, 'home');
  for (const d of [tmp, cache, home]) fs.mkdirSync(d);
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp, XDG_CACHE_HOME: cache, HOME: home };
  for (const k of ['CI', 'ORT_DISABLE_TELEMETRY', 'ORT_RUNNING_UNIT_TESTS', 'NODE_OPTIONS', 'VITEST']) delete env[k];
  if (telemetryVariable !== undefined) env['ORT_DISABLE_TELEMETRY'] = telemetryVariable;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [MCU_BIN, ...args], { cwd: root, env, timeout: 60_000, encoding: 'utf8' }, (error, _stdout, stderr) => {
      if (error) {
        reject(new Error(`mcu ${args.join(' ')} failed: ${stderr}`));
        return;
      }
      resolve({
        debugLogs: fs.readdirSync(tmp).filter((f) => f.startsWith('mat-debug-')),
        telemetryFolder: fs.existsSync(path.join(cache, 'Microsoft', 'DeveloperTools', '.onnxruntime')),
      });
    });
  });
}

const predictArgs = ['predict', EXAMPLE, '--input', EXAMPLE_CSV, '--samples', '3', '--quiet', '--no-cache'];
let classifier: string;
let pool: string;

beforeAll(() => {
  requireBuiltCli();
  const dir = tempDir('mcu-telemetry-model-');
  classifier = writeClassifier(path.join(dir, 'model.onnx'), 3);
  pool = writePool(path.join(dir, 'pool.npy'), 256, 9, 4);
});

describe("onnxruntime's telemetry", () => {
  it('mcu predict leaves no telemetry files (ORT_DISABLE_TELEMETRY unset: mcu sets it)', async () => {
    expect(await run(predictArgs)).toEqual({ debugLogs: [], telemetryFolder: false });
  });

  it('positive control: with ORT_DISABLE_TELEMETRY=0 the user keeps onnxruntime default, and the probe sees its files', async () => {
    const traces = await run(predictArgs, '0');
    expect(traces.debugLogs).toHaveLength(1);
    expect(traces.telemetryFolder).toBe(true);
  });

  it('mcu acquire on two worker threads leaves none either (the opt-out is made on the main thread)', async () => {
    const args = ['acquire', classifier, '--pool', pool, '--k', '5', '--heuristic', 'bald', '--samples', '4', '--seed', '1'];
    expect(await run([...args, '--block-rows', '32', '--shard-rows', '64', '--workers', '2'])).toEqual({ debugLogs: [], telemetryFolder: false });
  });
});
