// The codec is static code: nothing in it compiles code at run time (a Content-Security-Policy
// without 'unsafe-eval' would refuse that; test/web-csp.test.ts runs it in Chromium), it has
// no runtime dependency, and src/gen/onnx.ts is what the generator writes from onnx.proto.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));

describe('@mcu/onnx-proto is static code without dependencies', () => {
  test.each(sources(join(root, 'src')).map((f) => [f.slice(root.length), f] as const))('%s: no eval, Function, or import outside the package', (_, file) => {
    const text = readFileSync(file, 'utf8');
    expect(text).not.toMatch(/\beval\s*\(|\bFunction\s*\(|new\s+Function\b/);
    const imports = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gm)].map((m) => m[1]!);
    expect(imports.filter((s) => !s.startsWith('.'))).toEqual([]);
  });

  test('package.json declares no runtime dependency', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg.dependencies).toBeUndefined();
    expect(pkg.peerDependencies).toBeUndefined();
  });

  test('src/gen/onnx.ts is up to date with onnx.proto', () => {
    expect(() => execFileSync(process.execPath, [join(root, 'scripts/generate.mjs'), '--check'], { encoding: 'utf8', stdio: 'pipe' })).not.toThrow();
  });
});
