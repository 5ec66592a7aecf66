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
    await expectMcuRejection(Promise.resolve().then(() => prepareModel(m, { what: 'bytes' })), 'E_MODEL', /c1\.weight/, /loadModelFile/);
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
