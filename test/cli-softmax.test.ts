import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from '@mcu/backend-onnx';
import { fixtureBytes, lenetRef } from './helpers/fixtures.js';
import { requireBuiltCli, runOk, tempDir, writeCsv } from './helpers/cli.js';

// Many classifiers are exported with their softmax. mcu must then average the network's own
// probabilities, not softmax them a second time: LeNet with a Softmax appended must give the
// same predictive distribution as LeNet's logits (same seed, so the same masks).
describe('mcu predict on a network that ends in Softmax', () => {
  beforeAll(() => requireBuiltCli());

  it('reports the same probabilities and uncertainty as the logits model (1e-5)', async () => {
    const dir = tempDir();
    const logitsPath = path.join(dir, 'lenet.onnx');
    writeFileSync(logitsPath, fixtureBytes('pytorch-1.13/lenet.preserve.onnx'));
    const m = decodeModel(fixtureBytes('pytorch-1.13/lenet.preserve.onnx'));
    const g = m.graph!;
    const out = g.output![0]!;
    const raw = `${out.name}_logits`;
    for (const n of g.node ?? []) n.output = (n.output ?? []).map((o) => (o === out.name ? raw : o));
    g.node!.push({ op_type: 'Softmax', input: [raw], output: [out.name!], name: 'appended_softmax', attribute: [{ name: 'axis', type: 2, i: 1n }] });
    const softmaxPath = path.join(dir, 'lenet-softmax.onnx');
    writeFileSync(softmaxPath, encodeModel(m));

    const images = writeCsv(path.join(dir, 'x.csv'), lenetRef('1.13').rotated.images);
    const args = (model: string) => ['predict', model, '--input', images, '--samples', '200', '--seed', '4', '--format', 'json'];
    // logits need --task classification (10 values per row could be 10 regression targets);
    // the Softmax output is detected as classification by --task auto (the default)
    const a = Object.values(JSON.parse((await runOk([...args(logitsPath), '--task', 'classification'])).stdout).outputs)[0] as Record<
      string,
      number[] | number[][]
    >;
    const b = Object.values(JSON.parse((await runOk(args(softmaxPath))).stdout).outputs)[0] as Record<string, number[] | number[][]>;
    expect(b['predicted']).toEqual(a['predicted']);
    for (const key of ['entropy', 'mutualInformation', 'variationRatio'] as const) {
      const x = a[key] as number[];
      const y = b[key] as number[];
      // float32 softmax inside onnxruntime vs float64 in the estimator: ~1e-7.
      x.forEach((v, i) => expect(Math.abs(v - y[i]!), `${key}[${i}]`).toBeLessThan(1e-5));
    }
    (a['probs'] as number[][]).forEach((row, i) => row.forEach((v, c) => expect(Math.abs(v - (b['probs'] as number[][])[i]![c]!)).toBeLessThan(1e-5)));
    // and the entropy is not that of a twice-softmaxed (flattened) distribution
    expect(Math.max(...(b['entropy'] as number[]))).toBeLessThan(Math.log(10) - 0.5);
  });
});
