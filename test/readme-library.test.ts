// README's library example runs as written: the block between <!-- library-example:begin/end -->
// is executed by Node from the repository root (against the built packages, as a user's project
// would import them), and its numbers are those of `mcu predict` with the same seed and samples.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, requireBuiltCli, tempDir, writeCsv } from './helpers/cli.js';
import { mcu, show } from './helpers/in-process.js';

describe("README's library example", () => {
  it('runs as written and prints what mcu predict prints', async () => {
    requireBuiltCli();
    const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const m = /<!-- library-example:begin -->\n```js\n([\s\S]*?)```\n<!-- library-example:end -->/.exec(readme);
    expect(m, 'README.md needs the library example between <!-- library-example:begin --> and <!-- library-example:end -->').not.toBeNull();
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', m![1]!], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    const printed = /^(\S+) (\d+) \[([^\]]*)\] \[([^\]]*)\]$/m.exec(stdout.replace(/\s+$/, '').split('\n').pop()!.replace(/\[ /g, '[').replace(/ \]/g, ']'));
    expect(printed, stdout).not.toBeNull();
    const [, backend, samples, means, stds] = printed!;
    const mean = means!.split(',').map(Number);
    const std = stds!.split(',').map(Number);
    expect([backend, Number(samples), mean.length]).toEqual(['onnx', 1000, 3]);

    // the same rows through the CLI
    const dir = tempDir('mcu-readme-');
    const x = writeCsv(path.join(dir, 'x.csv'), [[-1.75], [0.5], [4]]);
    const r = await mcu(
      ['predict', path.join(REPO_ROOT, 'examples', 'co2_relu.preserve.onnx'), '--input', x, '--samples', '1000', '--seed', '1', '--tau', '50'],
      dir,
    );
    expect(r.code, show(r)).toBe(0);
    const y = (JSON.parse(r.stdout) as { outputs: { y: { mean: number[][]; std: number[][] } } }).outputs.y;
    expect(mean).toEqual(y.mean.map((row) => row[0]));
    expect(std).toEqual(y.std.map((row) => row[0]));
  }, 120_000);
});
