// Caffe nets on the command line: every network definition of the paper's authors
// (test/fixtures/caffe/gal, yaringal/DropoutUncertaintyCaffeModels) loads without weights —
// inspect shows its structure and says the weights are missing, predict refuses naming
// --weights — and bad Caffe input exits 2 with one line and writes nothing.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runMcu, tempDir, writeCsv } from './helpers/cli.js';
import { expectRefusedInOneLine, mcu, show, type InProcessRun } from './helpers/in-process.js';
import { TINY_PROTOTXT, encodeCaffemodel, tinyCaffemodel, writeTinyCaffe } from './helpers/caffe-net.js';

const GAL = path.join(REPO_ROOT, 'test', 'fixtures', 'caffe', 'gal');
const galFiles = (re: RegExp): string[] =>
  fs
    .readdirSync(GAL, { recursive: true, encoding: 'utf8' })
    .filter((f) => re.test(path.basename(f)))
    .sort();
const NETS = galFiles(/_(deploy|train_test)\.prototxt$/);

let dir: string;
let x: string;
let tiny: { prototxt: string; caffemodel: string; solver: string };

type InspectJson = {
  inputs: { name: string; dims: (number | string)[] }[];
  outputs: { name: string; dims: (number | string)[] }[];
  sites: { name: string; node: string; rate: number; scaling: string }[];
  warnings: string[];
  caffe: { weights: string; layers: number; dropped: { name: string; type: string }[] };
};

beforeAll(() => {
  dir = tempDir('mcu-caffe-');
  x = writeCsv(path.join(dir, 'x.csv'), [[0.1], [0.5], [-1.2]]);
  tiny = writeTinyCaffe(dir);
});

const ok = (r: InProcessRun) => {
  expect(r.code, show(r)).toBe(0);
  return r;
};
/** Exit 2, nothing on stdout, exactly one line on stderr matching `re`. */
const refused = expectRefusedInOneLine;
/** Dropout layers of a prototxt that are not TRAIN-only. */
const dropoutLayers = (text: string): string[] =>
  [...text.matchAll(/layers? \{\s*name: "([^"]+)"\s*type: (?:"Dropout"|DROPOUT)[\s\S]*?\n\}/g)].filter((m) => !/phase: TRAIN/.test(m[0])).map((m) => m[1]!);

describe("the paper authors' Caffe nets, structure only (no weights were published)", () => {
  it('finds all of them', () => {
    expect(NETS.length).toBe(56); // 26 deploy (13 of them sampleTest) + 30 train_test
    expect(NETS.filter((f) => f.includes('sampleTest_deploy')).length).toBeGreaterThanOrEqual(10);
  });

  it.each(NETS)('%s: inspect shows inputs, sites and that the weights are missing', async (rel) => {
    const file = path.join(GAL, rel);
    const r = ok(await mcu(['inspect', file], dir));
    const j = JSON.parse(r.stdout) as InspectJson;
    expect(j.caffe.weights).toBe('missing');
    expect(j.warnings[0]).toMatch(/no weights \(structure only\): give them with --weights NET\.caffemodel/);
    expect(j.sites.map((s) => s.node)).toEqual(dropoutLayers(fs.readFileSync(file, 'utf8')));
    expect(j.inputs.map((i) => i.name)).toEqual(['data']);
    if (rel.includes('deploy')) {
      // declared by input_dim: 1×28×28 digits, 3×32×32 CIFAR images, 1×1×1 (one feature) for the CO2 / solar MLPs
      expect(j.inputs[0]!.dims.slice(1)).toEqual(rel.startsWith('mnist') ? [1, 28, 28] : rel.startsWith('cifar') ? [3, 32, 32] : [1, 1, 1]);
    } else {
      // train_test: the TEST-phase data layer is the input; loss and accuracy layers are dropped
      expect(j.caffe.dropped.map((d) => d.type)).toEqual(expect.arrayContaining([expect.stringMatching(/Data$/)]));
      expect(j.caffe.dropped.some((d) => /Loss|Accuracy/.test(d.type))).toBe(true);
    }
    // Gal's own field (kept on in the sampleTest nets, commented out elsewhere): a warning, not an error
    if (/^\s*sample_weights_test:/m.test(fs.readFileSync(file, 'utf8'))) expect(j.warnings.join('\n')).toMatch(/sample_weights_test/);
  });

  it('the counts of the paper: 3 sites in lenet_all_dropout, 1 in lenet_dropout, 4 in the CO2 4×1024 MLP', async () => {
    const sites = async (rel: string) => (JSON.parse(ok(await mcu(['inspect', path.join(GAL, rel)], dir)).stdout) as InspectJson).sites;
    expect((await sites('mnist_uncertainty/lenet_all_dropout_deploy.prototxt')).map((s) => [s.node, s.rate])).toEqual([
      ['dropC1', 0.5],
      ['dropC2', 0.5],
      ['drop1', 0.5],
    ]);
    expect((await sites('mnist_uncertainty/lenet_dropout_deploy.prototxt')).length).toBe(1);
    expect((await sites('co2_regression/MLP1024x1024x1024x1024_dropout_sampleTest_deploy.prototxt')).length).toBe(4);
  });

  it.each(NETS)('%s: predict without weights refuses in one line naming --weights', async (rel) => {
    const r = await mcu(['predict', path.join(GAL, rel), '--input', x, '-o', path.join(dir, 'never.json')], dir);
    refused(r, /a network definition without weights cannot run: give its trained weights with --weights NET\.caffemodel/);
    expect(fs.existsSync(path.join(dir, 'never.json'))).toBe(false);
  });

  it('the solvers give their weight decay to eq. 7 (--solver)', async () => {
    const solver = path.join(GAL, 'co2_regression', 'MLP1024x1024x1024x1024_dropout_sampleTest_solver.prototxt');
    const lambda = Number(/weight_decay:\s*([0-9.eE+-]+)/.exec(fs.readFileSync(solver, 'utf8'))![1]);
    const r = ok(
      await mcu(
        [
          'predict',
          tiny.prototxt,
          '--weights',
          tiny.caffemodel,
          '--input-shape',
          '1,1,1',
          '--input',
          x,
          '--samples',
          '10',
          '--solver',
          solver,
          '--length-scale',
          '1',
          '--n-train',
          '272',
        ],
        dir,
      ),
    );
    const tau = (JSON.parse(r.stdout) as { meta: { tau: number } }).meta.tau;
    expect(tau).toBeCloseTo((0.8 * 1) / (2 * 272 * lambda), 10);
  });
});

describe('a Caffe net with weights (the tiny HDF5Data → Convolution → Dropout → InnerProduct net)', () => {
  it('runs, and its converted ONNX file gives the same answer', async () => {
    const run = (model: string, ...extra: string[]) => mcu(['predict', model, ...extra, '--input', x, '--samples', '50', '--seed', '3'], dir);
    const fromCaffe = ok(await run(tiny.prototxt, '--weights', tiny.caffemodel, '--input-shape', 'data=1,1,1'));
    const onnx = path.join(dir, 'tiny.onnx');
    const c = ok(await mcu(['convert', tiny.prototxt, '--weights', tiny.caffemodel, '--input-shape', '1,1,1', '-o', onnx], dir));
    expect(c.stderr).toMatch(/wrote .*tiny\.onnx: the ONNX equivalent of .*; 1 Dropout layer\(s\) as Dropout nodes: drop1 \(p=0\.2\)/);
    const fromOnnx = ok(await run(onnx));
    const a = JSON.parse(fromCaffe.stdout) as { outputs: unknown; meta: { sites: unknown } };
    const b = JSON.parse(fromOnnx.stdout) as { outputs: unknown; meta: { sites: unknown } };
    expect(a.outputs).toEqual(b.outputs);
    expect(a.meta.sites).toEqual([{ name: 'mcu_mask_1', kind: 'bernoulli', rate: 0.2 }]);
    // the unknown text field is a warning, the dropped layers are named
    expect(fromCaffe.stderr).toMatch(/sample_weights_test/);
  });

  it('inspect with weights runs the self-check and names the dropped layers', async () => {
    const r = ok(await mcu(['inspect', tiny.prototxt, '--weights', tiny.caffemodel, '--input-shape', 'data=1,1,1'], dir));
    const j = JSON.parse(r.stdout) as InspectJson & { selfCheck: { passed: boolean } };
    expect(j.selfCheck.passed).toBe(true);
    expect(j.sites.map((s) => [s.name, s.node, s.rate])).toEqual([['mcu_mask_1', 'drop1', 0.2]]);
    // the same sites as without weights
    const bare = JSON.parse(ok(await mcu(['inspect', tiny.prototxt, '--input-shape', 'data=1,1,1'], dir)).stdout) as InspectJson;
    expect(bare.sites.map((s) => [s.name, s.node, s.rate])).toEqual([['mcu_mask_1', 'drop1', 0.2]]);
    expect(bare.inputs).toEqual(j.inputs);
    expect(j.caffe).toMatchObject({ weights: 'present', layers: 4 });
    expect(j.caffe.dropped.map((d) => d.name).sort()).toEqual(['data', 'loss']);
    const t = ok(await mcu(['inspect', tiny.prototxt, '--weights', tiny.caffemodel, '--input-shape', 'data=1,1,1', '--format', 'table'], dir));
    expect(t.stdout).toMatch(/^ {2}1\. mcu_mask_1 {2}Dropout 'drop1' \(opset 13\) {2}bernoulli p=0\.2 {2}mask \[4, 1, 1\] per row$/m);
    expect(t.stdout.split('\n')[0]).toMatch(
      /^caffe net 'tiny': .*tiny_train_test\.prototxt \+ .*tiny\.caffemodel; 4 layer\(s\), dropped: .*; weights present$/,
    );
  });
});

describe('bad Caffe input: exit 2, one line, no stack, nothing written', () => {
  const out = () => path.join(dir, `out-${Math.random().toString(36).slice(2)}.json`);
  const predict = (prototxt: string, caffemodel: string, o: string) =>
    mcu(['predict', prototxt, '--weights', caffemodel, '--input-shape', '1,1,1', '--input', x, '--samples', '5', '-o', o], dir);

  it('a truncated caffemodel', async () => {
    const bytes = tinyCaffemodel();
    for (const cut of [1, 7, Math.floor(bytes.length / 2), bytes.length - 3]) {
      const f = path.join(dir, `trunc-${cut}.caffemodel`);
      fs.writeFileSync(f, bytes.subarray(0, cut));
      const o = out();
      refused(await predict(tiny.prototxt, f, o), /trunc-\d+\.caffemodel.*truncated/);
      expect(fs.existsSync(o)).toBe(false);
    }
  });

  it('a prototxt with a syntax error names line and column', async () => {
    const f = path.join(dir, 'syntax.prototxt');
    fs.writeFileSync(f, TINY_PROTOTXT.replace('num_output: 4 kernel_size: 1', 'num_output: 4 kernel_size 1'));
    const line = TINY_PROTOTXT.split('\n').findIndex((l) => l.includes('kernel_size: 1')) + 1;
    const o = out();
    refused(await predict(f, tiny.caffemodel, o), new RegExp(`syntax\\.prototxt:${line}:\\d+: .*expected`));
    expect(fs.existsSync(o)).toBe(false);
  });

  it('blob shapes that do not match the prototxt name the layer and both shapes', async () => {
    const f = path.join(dir, 'wider.prototxt');
    fs.writeFileSync(f, TINY_PROTOTXT.replace('num_output: 4', 'num_output: 5'));
    const o = out();
    refused(await predict(f, tiny.caffemodel, o), /conv1.*\[5, 1, 1, 1\].*\[4, 1, 1, 1\]|conv1.*\[4, 1, 1, 1\].*\[5, 1, 1, 1\]/);
    expect(fs.existsSync(o)).toBe(false);
  });

  it('a layer of an unsupported type names it, its type and the supported types', async () => {
    const f = path.join(dir, 'deconv.prototxt');
    fs.writeFileSync(f, TINY_PROTOTXT.replace('type: "ReLU"', 'type: "Deconvolution"'));
    const o = out();
    refused(await predict(f, tiny.caffemodel, o), /relu1.*Deconvolution.*(supported|Supported).*Convolution.*InnerProduct.*Pooling/);
    expect(fs.existsSync(o)).toBe(false);
  });

  it('weights of another net: a layer without its blobs', async () => {
    const f = path.join(dir, 'other.caffemodel');
    fs.writeFileSync(
      f,
      encodeCaffemodel([
        {
          name: 'conv1',
          type: 'Convolution',
          blobs: [
            { shape: [4, 1, 1, 1], data: [1, 1, 1, 1] },
            { shape: [4], data: [0, 0, 0, 0] },
          ],
        },
      ]),
    );
    refused(await predict(tiny.prototxt, f, out()), /ip1/);
  });

  it('through the built bin: one line on stderr, no stack trace', async () => {
    const f = path.join(dir, 'trunc-bin.caffemodel');
    fs.writeFileSync(f, tinyCaffemodel().subarray(0, 20));
    const r = await runMcu(['predict', tiny.prototxt, '--weights', f, '--input-shape', '1,1,1', '--input', x]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
  });

  it('flags that do not fit a Caffe net', async () => {
    refused(
      await mcu(['predict', x, '--weights', tiny.caffemodel, '--input', x], dir),
      /--weights .* gives the \.caffemodel of a Caffe MODEL\.prototxt, but MODEL .* is not a \.prototxt/,
    );
    refused(await mcu(['predict', tiny.caffemodel, '--weights', tiny.caffemodel, '--input', x], dir), /is already a \.caffemodel/);
    refused(
      await mcu(['predict', tiny.prototxt, '--weights', tiny.caffemodel, '--backend', 'tfjs', '--input', x], dir),
      /is a Caffe net, which mcu translates into an ONNX graph/,
    );
    refused(
      await mcu(['convert', tiny.prototxt, '--weights', tiny.caffemodel, '--input-shape', '1,1,1', '--insert-dropout', '0.1', '-o', out()], dir),
      /convert writes the ONNX equivalent of the Caffe net/,
    );
    refused(
      await mcu(['predict', tiny.prototxt, '--weights', tiny.caffemodel, '--input-shape', 'label=1', '--input', x], dir),
      /the net has no input 'label'; its inputs: data/,
    );
  });
});
