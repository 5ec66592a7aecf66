/**
 * `@mcu/acquire`: active learning with MC dropout over pools too big for one process — score a
 * pool streamed from disk with BALD, entropy, variation ratio, margin, std or BatchBALD and pick
 * the top k, in one thread, on worker threads or on a Redis job queue, with the same bytes out.
 */
export * from './types.js';
export { modelHash } from './hash.js';
export { shardsOf, blocksOf, type RowRange } from './shards.js';
export { TopK, byRank, ranksBefore } from './topk.js';
export { formatSelection, writeSelection, type SelectionFormat } from './format.js';
export { encodeShardResult, decodeShardResult } from './codec.js';
export { openPool, poolFormat } from './pool/index.js';
export { CSV_INDEX_STRIDE } from './pool/csv.js';
export { isNpy, parseNpyHeader, npyHeaderEnd, NPY_PREAMBLE_BYTES, type NpyHeader, type NpyDescr } from './pool/npy-header.js';
export { resolveScoreOptions, CLASSIFICATION_HEURISTICS, type ResolvedScoreOptions } from './options.js';
export { ShardScorer, scoreShard, mcuFor, ACQUIRE_MEMORY_BUDGET_BYTES } from './score.js';
export { baldOf, batchBald, EXACT_JOINT_BUDGET, MC_CONFIGURATIONS, type BatchBaldOptions } from './batchbald.js';
export { mergeShards, selectionMeta } from './merge.js';
export { acquire, defaultShardRows, threadsPerWorker, workerExecArgv, workerThreadFile } from './acquire.js';
// the Redis job queue (Engineer Q's src/queue/**): acquireOnQueue for mcu acquire --queue, runWorker for mcu worker
export * from './queue/index.js';
