/**
 * The contract of `@mcu/acquire`: what the pool readers, the shard scorer, the merge, the
 * worker threads and the queue (src/queue/**) exchange. Everything a shard needs is
 * serialisable, so a worker thread or a worker process on another machine loads the model and
 * opens the pool itself, and scores exactly what the coordinating process would have scored.
 *
 * Determinism (README "Determinism"): rows are always scored in globally aligned blocks of
 * `blockRows` rows (block b = rows [b·B, min((b+1)·B, poolRows))) with samples per backend call
 * fixed by (B, T, scope and the model) alone, and point-scope masks drawn by global row index,
 * so a row's score is bit-identical whoever scores it; ties rank the lower row index first.
 */
import type { Mcu } from '@mcu/core';

/** How a row's informativeness is scored; higher is always more informative (README "Heuristics"). */
export type Heuristic = 'bald' | 'entropy' | 'variation-ratio' | 'margin' | 'std' | 'batchbald';

/** The heuristics, in documentation order. */
export const HEURISTICS: readonly Heuristic[] = ['bald', 'entropy', 'variation-ratio', 'margin', 'std', 'batchbald'];

/** Serialisable: a worker thread or a worker process on another machine loads the model itself. */
export interface ModelSpec {
  /** The model file (ONNX; external data files next to it are part of its hash). */
  readonly path: string;
  /** Backend name (default: 'onnx'). */
  readonly backend?: string;
  /** Options of that backend (for onnx: `intraOpNumThreads`, `executionProviders`, …). */
  readonly backendOptions?: Record<string, unknown>;
  /** Which output to score; default: the only one, else E_CONFIG naming the outputs. */
  readonly output?: string;
}

/** Serialisable: where the pool is. */
export interface PoolSpec {
  readonly path: string;
  /** Default: by extension (.npy, .csv); anything else E_CONFIG. */
  readonly format?: 'npy' | 'csv';
}

/** An open pool: `rows` × `width` float32 features, read by row range. */
export interface Pool {
  readonly rows: number;
  readonly width: number;
  readonly format: 'npy' | 'csv';
  /** Rows [start, end) as float32, row-major [end − start, width]. */
  read(start: number, end: number): Promise<Float32Array>;
  close(): Promise<void>;
}

/** How to score; identical options give identical selections for any sharding. */
export interface ScoreOptions {
  readonly heuristic: Heuristic;
  /** Rows to select, 1 ≤ k ≤ pool rows. */
  readonly k: number;
  /** T, Monte Carlo samples per row. */
  readonly samples: number;
  readonly seed: number;
  /**
   * Mask scope (default 'sample', core's default: sample t is one network for every row — what
   * batchbald needs; 'point': each row its own masks, drawn by global row index).
   */
  readonly scope?: 'sample' | 'point';
  /** Model precision τ for `std` (variance + τ⁻¹); refused for classification heuristics. */
  readonly tau?: number;
  /** B: rows per engine call, the alignment of every block and shard (default {@link DEFAULT_BLOCK_ROWS}). */
  readonly blockRows?: number;
  /** batchbald: candidate pool size m (default max(10·k, 100), capped by the pool). */
  readonly candidates?: number;
}

/** Default B. */
export const DEFAULT_BLOCK_ROWS = 1024;

/** A row and its score. */
export interface Scored {
  readonly index: number;
  readonly score: number;
}

/** A batchbald candidate: its per-sample class probabilities, float32 row-major [T, C]. */
export interface Candidate {
  readonly index: number;
  /** BALD score of the row (the candidate ranking). */
  readonly score: number;
  readonly probs: Float32Array;
}

/** What scoring one shard gives: its top-k (or, for batchbald, its top-m candidates). */
export interface ShardResult {
  readonly start: number;
  readonly end: number;
  /** The shard's best rows, best first (score descending, then index ascending), at most k (batchbald: m). */
  readonly top: readonly Scored[];
  /** batchbald only: the shard's top-m candidates by BALD with their per-sample class probabilities. */
  readonly candidates?: readonly Candidate[];
}

/** {@link ShardResult} as JSON (for the queue): Float32Array probabilities as base64 of their little-endian bytes. */
export interface EncodedShardResult {
  readonly start: number;
  readonly end: number;
  readonly top: readonly Scored[];
  readonly candidates?: readonly { readonly index: number; readonly score: number; readonly probs: string }[];
}

/** The answer: the selected rows, best first, and what it was computed from. */
export interface Selection {
  readonly heuristic: Heuristic;
  readonly k: number;
  readonly samples: number;
  readonly seed: number;
  readonly scope: 'sample' | 'point';
  readonly blockRows: number;
  readonly modelHash: string;
  readonly poolRows: number;
  /** Best first (batchbald: in greedy order, each with a_BatchBALD of the batch up to and including it). */
  readonly selected: readonly Scored[];
}

/** The selection's metadata, known before any row is scored. */
export type SelectionMeta = Omit<Selection, 'selected'>;

/** Progress of an {@link AcquireOptions} run. */
export interface AcquireProgress {
  readonly rowsDone: number;
  readonly rowsTotal: number;
}

/** Options of `acquire()`. */
export interface AcquireOptions extends ScoreOptions {
  readonly model: ModelSpec;
  readonly pool: PoolSpec;
  /**
   * Workers (default: os.availableParallelism()): 1 scores in this thread, N ≥ 2 on N worker
   * threads (piscina), each with its own Mcu and backend session. onnxruntime intra-op threads
   * per worker: max(1, floor(cores / workers)) unless `model.backendOptions` sets them.
   */
  readonly workers?: number;
  /** Rows per shard, a multiple of blockRows (default: about 4 shards per worker, aligned). */
  readonly shardRows?: number;
  /** Single-thread runs only: the Mcu to load the model with (default: one with the onnx backend). */
  readonly mcu?: Mcu;
  readonly onProgress?: (progress: AcquireProgress) => void;
  readonly signal?: AbortSignal;
}

/** What `scoreShard` may be given besides the spec. */
export interface ScoreContext {
  /** The Mcu to load the model with (a worker keeps one per thread/process); default: a new one, disposed after. */
  readonly mcu?: Mcu;
  readonly signal?: AbortSignal;
  /** Called after each block with the rows it scored. */
  readonly onRows?: (rows: number) => void;
}

/** The library's functions (implemented in the modules index.ts re-exports). */
export interface AcquireApi {
  /** 'sha256:<hex>' of the model file's bytes (+ its external data files). */
  modelHash(model: ModelSpec): Promise<string>;
  openPool(pool: PoolSpec): Promise<Pool>;
  /** Shards of [0, rows): boundaries multiples of blockRows; shardRows must be a multiple of blockRows (E_CONFIG otherwise). */
  shardsOf(rows: number, shardRows: number, blockRows: number): { start: number; end: number }[];
  /** The metadata of a run (hash, pool rows, defaults resolved) after every check that can refuse it (loads the model once). */
  selectionMeta(model: ModelSpec, pool: PoolSpec, options: ScoreOptions, context?: Pick<ScoreContext, 'mcu'>): Promise<SelectionMeta>;
  scoreShard(model: ModelSpec, pool: PoolSpec, range: { start: number; end: number }, options: ScoreOptions, context?: ScoreContext): Promise<ShardResult>;
  /** Merges shard results covering [0, poolRows) exactly once (E_INTERNAL otherwise). */
  mergeShards(results: readonly ShardResult[], meta: SelectionMeta, options: ScoreOptions): Selection;
  acquire(options: AcquireOptions): Promise<Selection>;
  /** THE bytes written — byte-identical however the selection was computed. */
  formatSelection(selection: Selection, format: 'json' | 'csv'): string;
  /** Atomic: a temp file in the same directory, then rename; nothing left behind on failure. */
  writeSelection(path: string, selection: Selection, format: 'json' | 'csv'): Promise<void>;
  encodeShardResult(result: ShardResult): EncodedShardResult;
  decodeShardResult(encoded: EncodedShardResult): ShardResult;
}
