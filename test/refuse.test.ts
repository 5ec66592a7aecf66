// Models that cannot be made stochastic correctly — random operators mcu cannot seed (what
// torch exports for dropout written with torch.rand, noise injection, torch.bernoulli,
// torch.multinomial), ATen fallthroughs no runtime runs, custom domains — are refused at load
// (library), and by `mcu inspect` / `mcu predict` with exit 2 and ONE line naming the node and
// the fix. None of them yields a number.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { createMcu, isMcuError } from '@mcu/core';
import { encodeModel, onnxModule, type ModelProto, type NodeProto } from '@mcu/backend-onnx';
import { describeRun, requireBuiltCli, runMcu, tempDir, writeCsv } from './helpers/cli.js';
import { zooModelPath, zooRefusedNames, zooRefusedRef } from './helpers/zoo.js';

/** x [N, 4] → Relu → (node) → y: one small graph per refused construct. */
function handBuilt(node: NodeProto, opset = 13, extraOpsets: { domain: string; version: bigint }[] = []): ModelProto {
  const vi = (name: string) => ({ name, type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: 'N' }, { dim_value: 4n }] } } } });
  return {
    ir_version: 8n,
    opset_import: [{ domain: '', version: BigInt(opset) }, ...extraOpsets],
    graph: {
      name: 'g',
      node: [{ op_type: 'Relu', input: ['x'], output: ['h'], name: 'relu' }, node],
      input: [vi('x')],
      output: [vi('y')],
    },
  };
}

const subgraphRandom: NodeProto = {
  name: 'cond',
  op_type: 'If',
  input: ['c'],
  output: ['y'],
  attribute: [
    {
      name: 'then_branch',
      type: 5,
      g: {
        name: 't',
        node: [
          { name: 'noise', op_type: 'RandomNormalLike', input: ['h'], output: ['n'] },
          { op_type: 'Add', input: ['h', 'n'], output: ['ty'] },
        ],
        output: [{ name: 'ty' }],
      },
    },
    { name: 'else_branch', type: 5, g: { name: 'e', node: [{ op_type: 'Identity', input: ['h'], output: ['ey'] }], output: [{ name: 'ey' }] } },
  ],
};

const HAND_BUILT: Record<string, { model: ModelProto; pattern: RegExp }> = {
  'aten::rrelu (fallthrough)': {
    model: handBuilt({ name: '/act/rrelu', op_type: 'rrelu', domain: 'org.pytorch.aten', input: ['h'], output: ['y'] }, 13, [
      { domain: 'org.pytorch.aten', version: 1n },
    ]),
    pattern: /'\/act\/rrelu' is the PyTorch operator aten::rrelu.*fallthrough/,
  },
  'ATen node (ONNX_ATEN_FALLBACK)': {
    model: handBuilt({
      name: '/x/aten',
      op_type: 'ATen',
      domain: '',
      input: ['h'],
      output: ['y'],
      attribute: [{ name: 'operator', type: 3, s: new TextEncoder().encode('cdist') }],
    }),
    pattern: /aten::cdist/,
  },
  'RandomNormalLike inside an If branch': {
    model: (() => {
      const m = handBuilt(subgraphRandom);
      m.graph!.initializer = [{ name: 'c', data_type: 9, dims: [], raw_data: Uint8Array.of(1) }];
      return m;
    })(),
    pattern: /'noise'.*inside a subgraph.*RandomNormalLike/,
  },
  'a custom-domain operator': {
    model: handBuilt({ name: 'custom', op_type: 'FancyNorm', domain: 'com.example', input: ['h'], output: ['y'] }, 13, [
      { domain: 'com.example', version: 1n },
    ]),
    pattern: /FancyNorm of domain 'com\.example'/,
  },
};

describe('refused in the library, at load', () => {
  for (const name of zooRefusedNames()) {
    test(name, async () => {
      const ops = zooRefusedRef(name).ops;
      const random = Object.keys(ops).find((op) => /^Random|Bernoulli|Multinomial/.test(op))!;
      const mcu = createMcu({ backends: ['onnx'], modules: [onnxModule] });
      const err = await mcu.load({ kind: 'path', path: zooModelPath(name) }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isMcuError(err) && err.code).toBe('E_UNSUPPORTED');
      expect((err as Error).message).toMatch(new RegExp(`draws its own random numbers \\(${random}\\)`));
      expect((err as Error).message).toMatch(/Fix: export with those layers in eval mode/);
    });
  }
  for (const [what, { model, pattern }] of Object.entries(HAND_BUILT)) {
    test(what, async () => {
      const mcu = createMcu({ backends: ['onnx'], modules: [onnxModule] });
      const err = await mcu.load({ kind: 'bytes', bytes: encodeModel(model) }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isMcuError(err) && err.code).toBe('E_UNSUPPORTED');
      expect((err as Error).message).toMatch(pattern);
    });
  }
});

describe('refused by the CLI: exit 2, one line, no numbers', () => {
  let dir: string;
  let input: string;
  const files: Record<string, string> = {};
  beforeAll(() => {
    requireBuiltCli();
    dir = tempDir('mcu-refuse-');
    input = writeCsv(path.join(dir, 'x.csv'), [
      [0.1, 0.2, 0.3, 0.4],
      [1, 2, 3, 4],
    ]);
    for (const name of zooRefusedNames()) files[name] = zooModelPath(name);
    for (const [what, { model }] of Object.entries(HAND_BUILT)) {
      const f = path.join(dir, `${what.replace(/\W+/g, '_')}.onnx`);
      fs.writeFileSync(f, encodeModel(model));
      files[what] = f;
    }
  });
  for (const name of [...zooRefusedNames(), ...Object.keys(HAND_BUILT)]) {
    for (const command of ['inspect', 'predict'] as const) {
      test(`${command} ${name}`, async () => {
        const args = command === 'predict' ? ['predict', files[name]!, '--input', input, '--samples', '10', '--task', 'regression'] : ['inspect', files[name]!];
        const r = await runMcu(args);
        expect(r.status, describeRun(r)).toBe(2);
        expect(r.stdout).toBe('');
        const lines = r.stderr.trim().split('\n');
        expect(lines, describeRun(r)).toHaveLength(1);
        expect(lines[0]).toMatch(/^mcu: .*(node|operator).*(Fix|export)/i);
      });
    }
  }
});
