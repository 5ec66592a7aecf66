/**
 * The models a server answers for: found in one directory at start-up, loaded and inspected
 * once, then addressed by name only (a request never names a path).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { inspect, McuError, type InspectResult, type Mcu, type StochasticModel } from '@mcu/core';

/** A model name: letters, digits, `_`, `-` and `.`, not starting with `.` and without `..` (so never a path). */
export const MODEL_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;

/** True when `name` can name a model (see {@link MODEL_NAME}). */
export function isModelName(name: string): boolean {
  return MODEL_NAME.test(name) && !name.includes('..');
}

/** A model ready to serve: its name, the loaded model and what inspect said about it at start-up. */
export interface ServedModel {
  readonly name: string;
  readonly file: string;
  readonly model: StochasticModel;
  readonly summary: InspectResult;
}

/**
 * The model files of `dir` by name: every `NAME.onnx`, and every TensorFlow.js `model.json`
 * (`dir/model.json` is `model`, `dir/NAME/model.json` is NAME). Two files with one name, a
 * name that cannot be one, or no model at all are E_CONFIG.
 */
export function modelFiles(dir: string): Record<string, string> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new McuError(
      'E_CONFIG',
      `models directory '${dir}' ${existsSync(dir) ? 'is not a directory' : 'does not exist'}: give a directory of *.onnx or model.json files`,
    );
  }
  const found: Record<string, string> = {};
  const add = (name: string, file: string) => {
    if (!isModelName(name)) {
      throw new McuError('E_CONFIG', `${file}: '${name}' cannot name a model (letters, digits, '_', '-', '.', no '..'): rename the file`);
    }
    if (found[name] !== undefined) throw new McuError('E_CONFIG', `two models are named '${name}': ${found[name]} and ${file}; rename one`);
    found[name] = file;
  };
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const file = path.join(dir, entry.name);
    if (entry.isFile() && entry.name.endsWith('.onnx')) add(entry.name.slice(0, -'.onnx'.length), file);
    else if (entry.isFile() && entry.name === 'model.json') add('model', file);
    else if (entry.isDirectory() && existsSync(path.join(file, 'model.json'))) add(entry.name, path.join(file, 'model.json'));
  }
  if (Object.keys(found).length === 0)
    throw new McuError('E_CONFIG', `models directory '${dir}' holds no *.onnx or model.json file: put the models to serve there`);
  return found;
}

/** Load and inspect every model once (a failure disposes those already loaded and names the file). */
export async function loadModels(mcu: Mcu, files: Readonly<Record<string, string>>): Promise<Map<string, ServedModel>> {
  const served = new Map<string, ServedModel>();
  try {
    for (const [name, file] of Object.entries(files)) {
      if (!isModelName(name)) throw new McuError('E_CONFIG', `'${name}' cannot name a model (letters, digits, '_', '-', '.', no '..')`);
      let model: StochasticModel;
      try {
        model = await mcu.load({ kind: 'path', path: file });
      } catch (e) {
        if (e instanceof McuError && !e.message.includes(file)) throw new McuError(e.code, `model '${name}' (${file}): ${e.message}`, { cause: e });
        throw e;
      }
      served.set(name, { name, file, model, summary: await inspect(model, { mcu }) });
    }
  } catch (e) {
    for (const s of served.values()) await s.model.dispose();
    throw e;
  }
  return served;
}
