/** ShardResult ⇄ JSON for the queue: Float32Array probabilities as base64 of their little-endian bytes (bit-exact). */
import { McuError } from '@mcu/core';
import type { EncodedShardResult, ShardResult } from './types.js';

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function toBase64(a: Float32Array): string {
  if (!littleEndian) throw new McuError('E_UNSUPPORTED', 'shard results are encoded on little-endian machines only');
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

function fromBase64(s: string, what: string): Float32Array {
  if (!littleEndian) throw new McuError('E_UNSUPPORTED', 'shard results are decoded on little-endian machines only');
  const b = Buffer.from(s, 'base64');
  if (b.byteLength % 4 !== 0) throw new McuError('E_INPUT', `${what}: ${b.byteLength} bytes of probabilities is not a whole number of float32 values`);
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

export function encodeShardResult(result: ShardResult): EncodedShardResult {
  return {
    start: result.start,
    end: result.end,
    top: result.top.map((s) => ({ index: s.index, score: s.score })),
    ...(result.candidates ? { candidates: result.candidates.map((c) => ({ index: c.index, score: c.score, probs: toBase64(c.probs) })) } : {}),
  };
}

export function decodeShardResult(encoded: EncodedShardResult): ShardResult {
  const what = `shard result [${encoded?.start}, ${encoded?.end})`;
  if (
    typeof encoded !== 'object' ||
    encoded === null ||
    !Number.isSafeInteger(encoded.start) ||
    !Number.isSafeInteger(encoded.end) ||
    !Array.isArray(encoded.top)
  ) {
    throw new McuError('E_INPUT', `${what} is not an encoded shard result (expected { start, end, top[, candidates] })`);
  }
  for (const s of encoded.top) {
    if (!Number.isSafeInteger(s?.index) || typeof s?.score !== 'number') throw new McuError('E_INPUT', `${what}: an entry of top is not { index, score }`);
  }
  return {
    start: encoded.start,
    end: encoded.end,
    top: encoded.top.map((s) => ({ index: s.index, score: s.score })),
    ...(encoded.candidates ? { candidates: encoded.candidates.map((c) => ({ index: c.index, score: c.score, probs: fromBase64(c.probs, what) })) } : {}),
  };
}
