import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { co2Ref, fixturePath } from './helpers/fixtures.js';
import { requireBuiltCli, runOk, tempDir, writeCsv } from './helpers/cli.js';

// --batch-size splits the rows into several engine runs with the same seed; masks are drawn
// with global row indices, so the result must be identical to the unbatched run (both scopes).
describe('mcu predict --batch-size', () => {
  beforeAll(() => requireBuiltCli());

  for (const scope of ['sample', 'point'] as const) {
    it(`gives exactly the unbatched result (scope ${scope})`, async () => {
      const dir = tempDir();
      const ref = co2Ref('1.13-small', 'co2_relu');
      const input = writeCsv(
        path.join(dir, 'x.csv'),
        ref.x.slice(0, 10).map((v) => [v]),
      );
      const model = fixturePath('pytorch-1.13-small/co2_relu.preserve.onnx');
      const args = ['predict', model, '--input', input, '--samples', '50', '--seed', '3', '--mask-scope', scope, '--tau', '50'];
      const whole = JSON.parse((await runOk(args)).stdout);
      const batched = JSON.parse((await runOk([...args, '--batch-size', '3'])).stdout);
      expect(batched.outputs).toEqual(whole.outputs);
      expect(whole.outputs.y.mean).toHaveLength(10);
    });
  }
});
