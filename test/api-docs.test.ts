// The API reference is generated from the types (TypeDoc, typedoc.json: every public package's
// src/index.ts): it must build without errors, hold each package's main entry points, and carry
// their doc comments. `pnpm docs` writes the HTML to docs/api (not committed).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from './helpers/cli.js';

interface Reflection {
  name: string;
  children?: Reflection[];
  signatures?: { comment?: { summary?: { text: string }[] } }[];
  comment?: { summary?: { text: string }[] };
}

describe('API reference (TypeDoc)', () => {
  it('builds from the public packages and documents their entry points', async () => {
    const dir = tempDir('mcu-api-docs-');
    const json = path.join(dir, 'api.json');
    const bin = path.join(REPO_ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc');
    const r = await promisify(execFile)(process.execPath, [bin, '--json', json, '--out', path.join(dir, 'html')], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 180_000,
    });
    expect(r.stdout + r.stderr).toMatch(/Found 0 errors/);
    const root = JSON.parse(fs.readFileSync(json, 'utf8')) as Reflection;
    const modules = new Map((root.children ?? []).map((m) => [m.name, m]));
    expect([...modules.keys()].sort()).toEqual([
      '@mcu/backend-onnx',
      '@mcu/backend-tfjs',
      '@mcu/cli',
      '@mcu/core',
      '@mcu/format-caffe',
      '@mcu/onnx-proto',
      '@mcu/plot',
      '@mcu/server',
    ]);
    const wanted: Record<string, string[]> = {
      '@mcu/core': ['predict', 'evaluate', 'inspect', 'createMcu', 'RegressionEstimator', 'ClassificationEstimator', 'McuError'],
      '@mcu/backend-onnx': ['onnxModule', 'OnnxNodeBackend'],
      '@mcu/backend-tfjs': ['tfjsModule', 'TfjsBackend'],
      '@mcu/format-caffe': ['openCaffe', 'readCaffe', 'caffeToOnnx'],
      '@mcu/plot': ['renderSvg', 'bandPlotSpec'],
      '@mcu/cli': ['main'],
      '@mcu/onnx-proto': ['decodeModelProto', 'encodeModelProto', 'OnnxWireError'],
      '@mcu/server': ['createServer', 'modelFiles', 'errorAnswer', 'predictResponse', 'openApiDocument', 'HttpError'],
    };
    const summary = (x: Reflection) => (x.comment?.summary ?? x.signatures?.[0]?.comment?.summary ?? []).map((p) => p.text).join('');
    for (const [pkg, names] of Object.entries(wanted)) {
      const exported = new Map((modules.get(pkg)!.children ?? []).map((c) => [c.name, c]));
      for (const n of names) {
        expect(exported.has(n), `${pkg} exports ${n}`).toBe(true);
        expect(summary(exported.get(n)!).length, `${pkg}.${n} has a doc comment`).toBeGreaterThan(10);
      }
    }
  }, 240_000);
});
