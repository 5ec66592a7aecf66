// Bad TensorFlow.js layers models through the CLI (copies of examples/twin/model.json, broken one
// way each): shards missing or short, a layer class mcu does not run, a weight of the wrong
// shape, an ONNX operator outside the tfjs set — exit 2, one line naming the problem, nothing written.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from './helpers/cli.js';
import { expectRefusedInOneLine, mcu } from './helpers/in-process.js';
import { decodeModel, encodeModel } from '@mcu/backend-onnx';

const TWIN = path.join(REPO_ROOT, 'examples', 'twin');
let dir: string;
type Json = {
  modelTopology: { config: { layers: { class_name: string; config: Record<string, unknown> }[] } };
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[] }[] }[];
};

beforeAll(() => {
  dir = tempDir('mcu-tfjs-bad-');
});

/** A copy of the twin in its own folder, `edit` applied to model.json (and the folder). */
function variant(name: string, edit: (json: Json, folder: string) => void): string {
  const folder = path.join(dir, name);
  fs.mkdirSync(folder);
  fs.copyFileSync(path.join(TWIN, 'weights.bin'), path.join(folder, 'weights.bin'));
  const json = JSON.parse(fs.readFileSync(path.join(TWIN, 'model.json'), 'utf8')) as Json;
  edit(json, folder);
  fs.writeFileSync(path.join(folder, 'model.json'), JSON.stringify(json));
  return path.join(folder, 'model.json');
}

const refused = expectRefusedInOneLine;
const predict = (model: string, out: string, ...extra: string[]) =>
  mcu(['predict', model, '--input', path.join(TWIN, 'input.csv'), '--samples', '5', '-o', out, ...extra], dir);

describe('bad layers models and ONNX files on tfjs: exit 2, one line, no output', () => {
  it('a missing weight shard', async () => {
    const m = variant('missing', (_j, folder) => fs.rmSync(path.join(folder, 'weights.bin')));
    const out = path.join(dir, 'missing.json');
    refused(await predict(m, out), /weight shard 'weights\.bin' .*cannot be read \(ENOENT\)/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('a short weight shard', async () => {
    const m = variant('short', (_j, folder) => {
      const f = path.join(folder, 'weights.bin');
      fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 100));
    });
    const out = path.join(dir, 'short.json');
    refused(await predict(m, out), /weight shard 'weights\.bin' of .* (is|are) short: the manifest's \d+ weights need \d+ bytes, the shards hold 100/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('a layer class mcu does not run names it, its class and the alternative', async () => {
    const m = variant('unknown', (j) => {
      j.modelTopology.config.layers[1]!.class_name = 'Masking';
    });
    const out = path.join(dir, 'unknown.json');
    refused(await predict(m, out), /layer '.*' of class Masking is not supported.*export the model to ONNX/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('a weight of the wrong shape names the layer and both shapes', async () => {
    const m = variant('shape', (j) => {
      const w = j.weightsManifest[0]!.weights[0]!;
      w.shape = [w.shape[1]!, w.shape[0]!];
    });
    const out = path.join(dir, 'shape.json');
    refused(await predict(m, out), /Dense layer '.*' needs a \[4, 32\] kernel, but weight '.*kernel' has shape \[32, 4\]/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('an ONNX operator outside the tfjs set lists it and points to the onnx backend', async () => {
    const model = decodeModel(new Uint8Array(fs.readFileSync(path.join(TWIN, 'model.onnx'))));
    const g = model.graph!;
    const y = g.output![0]!.name!;
    const last = g.node!.find((n) => n.output?.includes(y))!;
    last.output = [`${y}_pre`];
    g.node!.push({ op_type: 'Hardmax', input: [`${y}_pre`], output: [y], name: 'odd' });
    const file = path.join(dir, 'hardmax.onnx');
    fs.writeFileSync(file, encodeModel(model));
    const out = path.join(dir, 'hardmax.json');
    refused(await predict(file, out, '--backend', 'tfjs'), /Hardmax.*onnx backend/);
    expect(fs.existsSync(out)).toBe(false);
  });
});
