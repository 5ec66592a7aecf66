// External data: read and inlined for files inside the model's folder; anything else refused
// before a byte is allocated.
import { mkdtempSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import * as ort from 'onnxruntime-node';
import { fixturePath } from '../../../test/helpers/fixtures.js';
import { decodeModel, encodeModel } from '../src/proto/codec.js';
import type { ModelProto } from '../src/proto/types.js';
import { hasExternalData, inlineExternalData, loadModelFile } from '../src/graph/external.js';
import { prepareModel } from '../src/graph/prepare.js';
import { expectMcuRejection } from '../../../test/helpers/check.js';

const REL = 'pytorch-2.11/lenet.dynamo-eval.onnx';

/** A copy of the dynamo export in a fresh folder, its first external tensor edited by `edit`. */
function craftedCopy(edit: (m: ModelProto, dir: string) => void, withData = true): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcu-ext-'));
  const src = fixturePath(REL);
  const model = decodeModel(readFileSync(src), REL);
  edit(model, dir);
  writeFileSync(join(dir, 'lenet.onnx'), encodeModel(model));
  if (withData) writeFileSync(join(dir, 'lenet.dynamo-eval.onnx.data'), readFileSync(`${src}.data`));
  return join(dir, 'lenet.onnx');
}

function firstExternal(m: ModelProto) {
  const t = m.graph!.initializer!.find((x) => x.data_location === 1)!;
  const entry = (k: string) => t.external_data!.find((e) => e.key === k)!;
  return { t, entry };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('loading external data', () => {
  test('the dynamo export loads self-contained and runs (fixed batch 2 freed)', async () => {
    const raw = decodeModel(readFileSync(fixturePath(REL)), REL);
    expect(hasExternalData(raw)).toBe(true);
    const m = await loadModelFile(fixturePath(REL));
    expect(hasExternalData(m)).toBe(false);
    const p = prepareModel(m, { what: REL });
    expect(p.sites).toEqual([]);
    expect(p.warnings.join('\n')).toMatch(/no dropout.*--insert-dropout/s);
    expect(p.changes.join('\n')).toMatch(/fixed batch size 2/);
    const s = await ort.InferenceSession.create(encodeModel(p.model), { logSeverityLevel: 3 });
    const r = await s.run({ image: new ort.Tensor('float32', new Float32Array(5 * 784).fill(0.5), [5, 1, 28, 28]) });
    expect(r.logits!.dims).toEqual([5, 10]);
    await s.release();
  });

  test('external data without a folder to read it from is refused', async () => {
    const m = decodeModel(readFileSync(fixturePath(REL)), REL);
    await expectMcuRejection(inlineExternalData(m, undefined, 'bytes'), 'E_MODEL', /external file/, /c1\.weight/);
    // prepareModel never hands a runtime a model whose data it would look up elsewhere.
    await expectMcuRejection(
      Promise.resolve().then(() => prepareModel(m, { what: 'bytes' })),
      'E_MODEL',
      /c1\.weight/,
      /loadModelFile/,
    );
    // Given the folder, the same bytes work.
    await inlineExternalData(m, dirname(fixturePath(REL)), REL);
    expect(prepareModel(m).inputs.map((i) => i.name)).toEqual(['image']);
  });
});

describe('hostile or broken external data', () => {
  const locations = ['../evil.data', '/etc/passwd', 'sub/../../evil.data', '..\\evil.data', 'C:\\Windows\\win.ini'];
  test.each(locations)("location '%s' is refused, naming it", async (loc) => {
    const path = craftedCopy((m) => {
      firstExternal(m).entry('location').value = loc;
    });
    await expectMcuRejection(loadModelFile(path), 'E_MODEL', `'${loc}'`, /model's folder|outside|absolute|'\.\.'/);
  });

  test('a link inside the folder that points outside is refused', async () => {
    const path = craftedCopy((m, dir) => {
      mkdirSync(join(dir, 'sub'));
      symlinkSync('/etc/hostname', join(dir, 'sub', 'w.data'));
      firstExternal(m).entry('location').value = 'sub/w.data';
    });
    await expectMcuRejection(loadModelFile(path), 'E_MODEL', /sub\/w\.data/, /outside/);
  });

  test('offset + length beyond the data file: refused before allocating', async () => {
    const path = craftedCopy((m) => {
      const { t, entry } = firstExternal(m);
      t.dims = [1_000_000n, 1_000_000n];
      entry('length').value = String(4_000_000_000_000);
    });
    const alloc = vi.spyOn(Buffer, 'alloc');
    const allocUnsafe = vi.spyOn(Buffer, 'allocUnsafe');
    await expectMcuRejection(loadModelFile(path), 'E_MODEL', /has only \d+ bytes/, /lenet\.dynamo-eval\.onnx\.data/);
    for (const call of [...alloc.mock.calls, ...allocUnsafe.mock.calls]) expect(call[0]).toBeLessThan(2_000_000);
  });

  test('a truncated data file is refused', async () => {
    const path = craftedCopy(() => undefined, false);
    const full = readFileSync(`${fixturePath(REL)}.data`);
    writeFileSync(path.replace('lenet.onnx', 'lenet.dynamo-eval.onnx.data'), full.subarray(0, full.length >> 1));
    await expectMcuRejection(loadModelFile(path), 'E_MODEL', /has only/);
  });

  test('a length that does not match the tensor dims is refused', async () => {
    const path = craftedCopy((m) => {
      firstExternal(m).entry('length').value = '4';
    });
    await expectMcuRejection(loadModelFile(path), 'E_MODEL', /needs \d+ bytes/);
  });

  test('a non-numeric offset is refused', async () => {
    const path = craftedCopy((m) => {
      firstExternal(m).entry('offset').value = '-1';
    });
    await expectMcuRejection(loadModelFile(path), 'E_MODEL', /offset '-1'/);
  });

  test('a missing data file is E_FILE', async () => {
    const path = craftedCopy(() => undefined, false);
    await expectMcuRejection(loadModelFile(path), 'E_FILE', /lenet\.dynamo-eval\.onnx\.data/, /does not exist/);
  });
});

describe('model file errors', () => {
  test('missing file', async () => {
    await expectMcuRejection(loadModelFile(join(tmpdir(), 'no-such-mcu-model.onnx')), 'E_FILE', /no-such-mcu-model\.onnx/, /does not exist/);
  });
  test('a directory', async () => {
    await expectMcuRejection(loadModelFile(tmpdir()), 'E_FILE', /is a directory/);
  });
  test('not a model', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcu-ext-'));
    writeFileSync(join(dir, 'x.onnx'), 'hello, world — not protobuf\n');
    await expectMcuRejection(loadModelFile(join(dir, 'x.onnx')), 'E_MODEL', /x\.onnx/);
  });
});

describe('external data kept in its file (models over protobuf’s 2 GiB)', () => {
  test('the onnx backend reads it from the model folder: same numbers as inlined, from any working directory', async () => {
    const { createMcu } = await import('@mcu/core');
    const { onnxModule } = await import('../src/module.js');
    const { readModelFile } = await import('../src/graph/external.js');
    const f = await readModelFile(fixturePath(REL));
    expect(f.externalFolder).toBe(dirname(fixturePath(REL)));
    expect(f.externalBytes).toBeGreaterThan(1_000_000n);
    expect(hasExternalData(f.model)).toBe(true); // checked, not read
    const mcu = createMcu({
      backends: ['onnx'],
      modules: [onnxModule],
      backendOptions: { onnx: { insertDropout: { rate: 0.5, before: ['Gemm', 'MatMul'] } } },
    });
    const cwd = process.cwd();
    process.chdir(tmpdir());
    try {
      const kept = await mcu.load({ kind: 'path', path: fixturePath(REL) });
      const prepared = (kept as unknown as { prepared: { model: ModelProto } }).prepared.model;
      expect(hasExternalData(prepared)).toBe(true);
      const inlined = await mcu.load({ kind: 'object', value: await loadModelFile(fixturePath(REL)) });
      const feeds = { image: { dtype: 'float32' as const, data: Float32Array.from({ length: 3 * 784 }, (_, i) => (i % 97) / 97), dims: [3, 1, 28, 28] } };
      const masks = Object.fromEntries(
        kept.sites.map((s) => [
          s.name,
          {
            dtype: 'float32' as const,
            data: Float32Array.from({ length: 2 * 3 * s.maskShape.reduce((a, b) => a * b, 1) }, (_, i) => (i % 3 === 0 ? 0 : 2)),
            dims: [2, 3, ...s.maskShape],
          },
        ]),
      );
      const a = await kept.run(feeds, masks, { samples: 2, scope: 'point' });
      const b = await inlined.run(feeds, masks, { samples: 2, scope: 'point' });
      expect(Array.from(a.logits!.data as Float32Array)).toEqual(Array.from(b.logits!.data as Float32Array));
      await kept.dispose();
      await inlined.dispose();
    } finally {
      process.chdir(cwd);
    }
  });

  test('a tensor too large for one protobuf is checked without reading it, and inlining it is refused', async () => {
    const { readModelFile } = await import('../src/graph/external.js');
    const { truncateSync } = await import('node:fs');
    const dir = mkdtempSync(join(tmpdir(), 'mcu-ext-big-'));
    // 1 × 2^29 float32 = 2 GiB of (sparse) external data
    const big: ModelProto = {
      ir_version: 8n,
      opset_import: [{ domain: '', version: 13n }],
      graph: {
        name: 'g',
        node: [{ op_type: 'Gather', input: ['W', 'i'], output: ['y'] }],
        initializer: [
          {
            name: 'W',
            data_type: 1,
            dims: [1n, 536870912n],
            data_location: 1,
            external_data: [
              { key: 'location', value: 'w.bin' },
              { key: 'offset', value: '0' },
              { key: 'length', value: String(2 ** 31) },
            ],
          },
        ],
        input: [{ name: 'i', type: { tensor_type: { elem_type: 7, shape: { dim: [{ dim_param: 'N' }] } } } }],
        output: [{ name: 'y', type: { tensor_type: { elem_type: 1 } } }],
      },
    };
    writeFileSync(join(dir, 'big.onnx'), encodeModel(big));
    writeFileSync(join(dir, 'w.bin'), '');
    truncateSync(join(dir, 'w.bin'), 2 ** 31);
    const f = await readModelFile(join(dir, 'big.onnx'));
    expect(f.externalBytes).toBe(2n ** 31n);
    await expectMcuRejection(loadModelFile(join(dir, 'big.onnx')), 'E_UNSUPPORTED', /more than one ONNX protobuf can hold/);
  });
});
