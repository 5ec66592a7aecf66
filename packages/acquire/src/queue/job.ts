/**
 * What a shard job carries: everything a worker on another machine needs to score the shard
 * exactly as the coordinator would have — the model's hash (a worker holding another file
 * refuses), the backend and its options, the pool's identity, the row range and the resolved
 * score options (blockRows, scope and candidates included, so no worker picks its own default).
 */
import { McuError } from '@mcu/core';
import type { EncodedShardResult, ModelSpec, PoolSpec, ScoreOptions } from '../types.js';

/** Bumped when the job layout changes: a worker refuses a job of another version. */
export const JOB_VERSION = 1;

/** The BullMQ job name of a shard. */
export const SHARD_JOB = 'shard';

export interface PoolIdentity extends PoolSpec {
  readonly rows: number;
  readonly width: number;
  /** The file's size in bytes (a pool of the same shape but other contents almost always differs in it). */
  readonly bytes: number;
}

export interface ShardJobData {
  readonly version: number;
  /** The run (one `mcu acquire … --queue`): its jobs are `<run>-<start>`. */
  readonly run: string;
  readonly modelHash: string;
  /** The model without its path: each worker has its own file (checked by hash). */
  readonly model: Omit<ModelSpec, 'path'>;
  readonly pool: PoolIdentity;
  readonly range: { readonly start: number; readonly end: number };
  readonly options: ScoreOptions;
}

/** The job id of a shard: deterministic, so adding a shard twice does not duplicate it. */
export function shardJobId(run: string, start: number): string {
  return `${run}-${start}`;
}

/** A failed shard's reason: `[CODE] message`, so the coordinator re-throws the worker's McuError with its code. */
export function failureReason(e: unknown): string {
  const code =
    typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string' ? (e as { code: string }).code : 'E_RUNTIME';
  const message = e instanceof Error ? e.message : String(e);
  return `[${code}] ${message.replace(/\s*\n\s*/g, ' ')}`;
}

const CODE_RE = /^\[(E_[A-Z_]+)\] ([\s\S]*)$/;

/** The McuError of a failed shard's reason (E_QUEUE when the reason is not one of ours, e.g. a stalled job BullMQ failed). */
export function errorOfReason(reason: string, range: { start: number; end: number }): McuError {
  const m = CODE_RE.exec(reason);
  if (m !== null) return new McuError(m[1] as McuError['code'], m[2]!);
  return new McuError(
    'E_QUEUE',
    `shard [${range.start}, ${range.end}) failed on the queue: ${reason} (a job whose workers died more than the allowed times, or that was removed by hand: run again)`,
  );
}

function isRange(v: unknown): v is { start: number; end: number } {
  const r = v as { start?: unknown; end?: unknown } | null;
  return typeof r === 'object' && r !== null && Number.isSafeInteger(r.start) && Number.isSafeInteger(r.end);
}

/** Check a job's data before scoring (a job of another mcu version, or not ours, is refused by name). */
export function parseJobData(id: string | undefined, data: unknown): ShardJobData {
  const d = data as Partial<ShardJobData> | null;
  if (typeof d !== 'object' || d === null || d.version !== JOB_VERSION) {
    throw new McuError(
      'E_QUEUE',
      `job ${id ?? '?'} is not an mcu acquire shard of job version ${JOB_VERSION} (got version ${String(d?.version)}): the coordinator and the workers must run the same mcu version`,
    );
  }
  if (
    typeof d.run !== 'string' ||
    typeof d.modelHash !== 'string' ||
    typeof d.model !== 'object' ||
    typeof d.pool?.path !== 'string' ||
    !Number.isSafeInteger(d.pool.rows) ||
    !Number.isSafeInteger(d.pool.width) ||
    !Number.isSafeInteger(d.pool.bytes) ||
    !isRange(d.range) ||
    typeof d.options?.heuristic !== 'string'
  ) {
    throw new McuError('E_QUEUE', `job ${id ?? '?'} has malformed data (expected run, modelHash, model, pool, range, options)`);
  }
  return d as ShardJobData;
}

/** A completed job's return value as an encoded shard result of its range (E_QUEUE otherwise). */
export function parseReturn(id: string, value: unknown, range: { start: number; end: number }): EncodedShardResult {
  const r = value as Partial<EncodedShardResult> | null;
  if (typeof r !== 'object' || r === null || r.start !== range.start || r.end !== range.end || !Array.isArray(r.top)) {
    throw new McuError(
      'E_QUEUE',
      `job ${id} completed without the result of shard [${range.start}, ${range.end}) (got ${JSON.stringify(value)?.slice(0, 80)})`,
    );
  }
  return r as EncodedShardResult;
}
