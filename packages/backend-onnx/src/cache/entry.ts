/**
 * A prepared model as one cache entry, and back. Node-free: the backends' shared code reads the
 * entry's types; the file store (./store.ts) is Node's.
 *
 * Layout (little-endian):
 *
 *   magic 'MCUPREP\n' (8 bytes) · format u32 · meta length u32 · payload length u32 ·
 *   sha256 of the payload (32 bytes) · sha256 of the meta (32 bytes) · meta (UTF-8 JSON) ·
 *   payload (the prepared ONNX bytes)
 *
 * The payload's digest is kept apart from the meta's so that a hit hashes the model once: the
 * check of the entry is also the session's model hash (SessionModelInit.bytesSha256).
 *
 * The meta holds the entry's key, the mcu version and every field of {@link PreparedModel}
 * but the model itself (which is the payload), plus the share of FLOPs before the first site.
 * An entry that does not decode exactly (magic, format, lengths, digest, key, version) is
 * refused by {@link decodeEntry} with the reason, and the caller rebuilds it: a cache entry is
 * never trusted further than its digest.
 */
import { VERSION } from '@mcu/core';
import type { PreparedModel } from '../graph/prepare.js';
import { decodeModel } from '../proto/codec.js';
import type { ModelProto } from '../proto/types.js';

const MAGIC = new TextEncoder().encode('MCUPREP\n');
/** Bumped whenever the layout or the meta's fields change. */
export const ENTRY_FORMAT = 2;
const DIGESTS = MAGIC.length + 12;
const HEADER = DIGESTS + 64;

/** What a cache entry gives back: everything `load` needs, the model still as bytes. */
export interface CachedPrepared {
  /** The prepared ONNX bytes (what the session runs; encodeModel(prepared.model) on a miss). */
  readonly bytes: Uint8Array;
  /** The preparation; its `model` is decoded from `bytes` on first access (inspect, convert, bake, diagnose). */
  readonly prepared: PreparedModel;
  /** SessionModelInit.shareBeforeFirstSite (from the FLOP count), when the uncached load has one. */
  readonly shareBeforeFirstSite?: number;
  /** sha256 of `bytes` (hex), checked on reading an entry back. */
  readonly bytesSha256?: string;
}

interface Meta {
  readonly key: string;
  readonly version: string;
  readonly prepared: Omit<PreparedModel, 'model'>;
  readonly shareBeforeFirstSite?: number;
}

/** sha256, given by the caller (node:crypto in the store): this module stays Node-free. */
export type Sha256 = (parts: readonly Uint8Array[]) => Uint8Array;

/** The entry's bytes for this preparation under `key`. */
export function encodeEntry(key: string, entry: CachedPrepared, sha256: Sha256): Uint8Array {
  const { model: _model, ...rest } = entry.prepared;
  void _model;
  const meta: Meta = {
    key,
    version: VERSION,
    prepared: rest,
    ...(entry.shareBeforeFirstSite !== undefined ? { shareBeforeFirstSite: entry.shareBeforeFirstSite } : {}),
  };
  const metaBytes = new TextEncoder().encode(JSON.stringify(meta));
  const out = new Uint8Array(HEADER + metaBytes.length + entry.bytes.length);
  out.set(MAGIC, 0);
  const view = new DataView(out.buffer);
  view.setUint32(MAGIC.length, ENTRY_FORMAT, true);
  view.setUint32(MAGIC.length + 4, metaBytes.length, true);
  view.setUint32(MAGIC.length + 8, entry.bytes.length, true);
  out.set(sha256([entry.bytes]), DIGESTS);
  out.set(sha256([metaBytes]), DIGESTS + 32);
  out.set(metaBytes, HEADER);
  out.set(entry.bytes, HEADER + metaBytes.length);
  return out;
}

/** Why an entry was not used (for tests and debugging); the caller rebuilds it. */
export class BadEntry extends Error {}

/** The preparation in an entry read back, checked against `key`; {@link BadEntry} when anything is off. */
export function decodeEntry(key: string, data: Uint8Array, sha256: Sha256): CachedPrepared {
  if (data.length < HEADER) throw new BadEntry(`truncated: ${data.length} bytes, shorter than the header`);
  for (let i = 0; i < MAGIC.length; i++) if (data[i] !== MAGIC[i]) throw new BadEntry('not an mcu cache entry (bad magic)');
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const format = view.getUint32(MAGIC.length, true);
  if (format !== ENTRY_FORMAT) throw new BadEntry(`entry format ${format}, expected ${ENTRY_FORMAT}`);
  const metaLength = view.getUint32(MAGIC.length + 4, true);
  const payloadLength = view.getUint32(MAGIC.length + 8, true);
  if (data.length !== HEADER + metaLength + payloadLength) {
    throw new BadEntry(`${data.length} bytes, the header says ${HEADER + metaLength + payloadLength}`);
  }
  const metaBytes = data.subarray(HEADER, HEADER + metaLength);
  const bytes = data.subarray(HEADER + metaLength);
  const bytesDigest = sha256([bytes]);
  for (const [got, at] of [
    [bytesDigest, DIGESTS],
    [sha256([metaBytes]), DIGESTS + 32],
  ] as const) {
    const want = data.subarray(at, at + 32);
    if (got.length !== want.length || got.some((b, i) => b !== want[i])) throw new BadEntry('digest mismatch (the entry was altered or cut)');
  }
  let meta: Meta;
  try {
    meta = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(metaBytes)) as Meta;
  } catch (e) {
    throw new BadEntry(`meta is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (meta.key !== key) throw new BadEntry(`entry of key ${String(meta.key).slice(0, 16)}…, not ${key.slice(0, 16)}…`);
  if (meta.version !== VERSION) throw new BadEntry(`written by mcu ${meta.version}, this is ${VERSION}`);
  return {
    bytes,
    prepared: lazyModel(meta.prepared, bytes),
    ...(meta.shareBeforeFirstSite !== undefined ? { shareBeforeFirstSite: meta.shareBeforeFirstSite } : {}),
    bytesSha256: Array.from(bytesDigest, (b) => b.toString(16).padStart(2, '0')).join(''),
  };
}

/** The preparation with its model decoded from the cached bytes when first read (a hit that only runs decodes nothing). */
function lazyModel(rest: Omit<PreparedModel, 'model'>, bytes: Uint8Array): PreparedModel {
  let model: ModelProto | undefined;
  return {
    ...rest,
    get model(): ModelProto {
      model ??= decodeModel(bytes, 'the cached prepared model');
      return model;
    },
    set model(m: ModelProto) {
      model = m;
    },
  };
}
