export { readFileBytes, readFileText, writeFileAtomic } from './files.js';
export { jsonErrorOffset, lineColumn, parseJsonText } from './json.js';
export { isNpy, readNpy, writeNpy, type NpyArray, type NpyWritable } from './npy.js';
export { parseNumericTable, splitCsvLine, isNumericCell, type NumericTable, type TableOptions } from './table.js';
export {
  readInputFile,
  reshapeRows,
  loadNumericFile,
  parseJsonArray,
  type InputData,
  type InputSpecLike,
  type InputFormat,
  type LoadedArray,
} from './input.js';
export { readTargets, readLabeled, type Targets, type LabeledData } from './targets.js';
export {
  readUci,
  resolveUciDir,
  uciNormalization,
  standardizeRows,
  type UciSplit,
  type UciNormalization,
} from './uci.js';
export { readMasksFile, validateMasks } from './masks.js';
export { formatResult, formatNumber, stringifyJson, type FormatOptions, type NpyField } from './format.js';
export type {
  PredictResult,
  PredictMeta,
  SiteMeta,
  OutputResult,
  RegressionOutput,
  ClassificationOutput,
} from './result.js';
