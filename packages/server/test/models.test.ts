// Which files of a models directory are served, under which names.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isModelName, modelFiles } from '../src/index.js';

const dirWith = (files: readonly string[]): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-models-'));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), '');
  }
  return dir;
};

describe('modelFiles', () => {
  it('names *.onnx by stem and a TensorFlow.js model.json by its folder (or "model" at the top)', () => {
    const dir = dirWith(['co2.onnx', 'co2_relu.preserve.onnx', 'lenet/model.json', 'lenet/group1-shard1of1.bin', 'model.json', 'notes.txt', 'empty/readme.md']);
    expect(modelFiles(dir)).toEqual({
      co2: path.join(dir, 'co2.onnx'),
      'co2_relu.preserve': path.join(dir, 'co2_relu.preserve.onnx'),
      lenet: path.join(dir, 'lenet', 'model.json'),
      model: path.join(dir, 'model.json'),
    });
  });

  it('refuses two models of one name, a name that cannot be one, and a directory without models', () => {
    const clash = dirWith(['model.onnx', 'model.json']);
    expect(() => modelFiles(clash)).toThrow(
      `two models are named 'model': ${path.join(clash, 'model.json')} and ${path.join(clash, 'model.onnx')}; rename one`,
    );
    const bad = dirWith(['a b.onnx']);
    expect(() => modelFiles(bad)).toThrow(/'a b' cannot name a model .*: rename the file/);
    expect(() => modelFiles(dirWith(['x.txt']))).toThrow(/holds no \*\.onnx or model\.json file/);
    expect(() => modelFiles(path.join(bad, 'missing'))).toThrow(/does not exist: give a directory of \*\.onnx or model\.json files/);
  });

  it('accepts names, never paths', () => {
    expect(['co2', 'co2_relu.preserve', 'a-b', '_x'].map(isModelName)).toEqual([true, true, true, true]);
    expect(['../x', 'a/b', '..', '.hidden', 'a..b', '', 'a b', 'a\\b'].map(isModelName)).toEqual([false, false, false, false, false, false, false, false]);
  });
});
