/**
 * A binary protobuf decoder (caffemodel, binaryproto) driven by the Caffe schema (schema.ts).
 *
 * Wire types 0 (varint), 1 (fixed64), 2 (length-delimited), 5 (fixed32); groups (3/4) of unknown
 * fields are skipped. Any repeated scalar is accepted packed and unpacked (and both mixed), as
 * protobuf parsers do. Packed float / double runs are copied into a Float32Array / Float64Array
 * with one memcpy (little-endian hosts; a DataView loop elsewhere), so a 100 MB caffemodel decodes
 * in a fraction of a second. A singular message given twice is merged and a singular scalar given
 * twice keeps the last value, as protobuf does. Values: see {@link Message}; a singular `float` is
 * the exact float32 value.
 *
 * Unknown fields are skipped and reported once per (message path, field number). An enum number
 * the schema does not know is dropped like an unknown field (proto2), with a warning.
 *
 * DropoutParameter field 2 is not in the schema: Gal's fork uses it for `sample_weights_test`
 * and other forks for `scale_train`. Value 1 (true) is harmless for mcu under both meanings
 * (warning); value 0 is ambiguous (Gal: ordinary inverted dropout; the others: masks not rescaled)
 * and is refused, E_UNSUPPORTED, unless the check is deferred ({@link DecodeOptions}) — net.ts
 * defers it and checks only the Dropout layers it takes from the caffemodel (see
 * {@link checkDropoutField2}).
 */
import { McuError } from '@mcu/core';
import { CAFFE_SCHEMA, fieldsByNumber, type FieldSpec } from './schema.js';
import type { Message } from './types.js';

/** The result of {@link decodeBinary}: the decoded message and one line per warning. */
export interface DecodedBinary {
  readonly message: Message;
  readonly warnings: string[];
}

/** Options of {@link decodeBinary}. */
export interface DecodeOptions {
  /**
   * Do not check DropoutParameter field 2 while decoding; its value is kept for
   * {@link checkDropoutField2} instead. Default false: value 0 throws, value 1 warns.
   */
  readonly deferDropoutCheck?: boolean;
}

const dropoutField2Values = new WeakMap<object, number>();

/** The raw value of DropoutParameter field 2 (a fork field) in a message decoded by {@link decodeBinary}; undefined when absent. */
export function dropoutField2(dropoutParam: Message | undefined): number | undefined {
  return dropoutParam === undefined ? undefined : dropoutField2Values.get(dropoutParam);
}

/**
 * Check the fork field 2 of a decoded DropoutParameter of layer `layerName`: absent → undefined;
 * 1 (true) → a warning line (harmless under both fork meanings); 0 (false) → throws
 * E_UNSUPPORTED, explaining the ambiguity and that the prototxt resolves it.
 */
export function checkDropoutField2(dropoutParam: Message | undefined, fileName: string, layerName: string): string | undefined {
  const v = dropoutField2(dropoutParam);
  if (v === undefined) return undefined;
  if (v !== 0) {
    return `${fileName}: Dropout layer '${layerName}' has fork field 2 of dropout_param = true (Gal's sample_weights_test or another fork's scale_train; harmless for mcu either way), ignored`;
  }
  throw new McuError(
    'E_UNSUPPORTED',
    `${fileName}: Dropout layer '${layerName}' has fork field 2 of dropout_param = false, which is ambiguous in a caffemodel: Gal's fork means sample_weights_test: false (ordinary inverted dropout), other forks mean scale_train: false (masks not rescaled by 1/(1-p)); give the prototxt too, whose field names tell which`,
  );
}

/**
 * Decode `bytes` (binary protobuf) as the schema message `messageName` ('NetParameter',
 * 'BlobProto', …). `fileName` prefixes every message and warning. Throws E_MODEL for a truncated
 * or malformed file ("FILE: truncated caffemodel: field N (name) of MESSAGE at byte OFFSET needs K
 * bytes, only M remain") and for a known field with the wrong wire type.
 */
export function decodeBinary(bytes: Uint8Array, messageName: string, fileName: string, options: DecodeOptions = {}): DecodedBinary {
  if (CAFFE_SCHEMA.messages[messageName] === undefined) {
    throw new McuError('E_INTERNAL', `decodeBinary: no message ${messageName} in the Caffe schema`);
  }
  const d = new Decoder(bytes, fileName, options.deferDropoutCheck === true);
  const message = d.decodeMessage(messageName, {}, bytes.length, messageName, 0, undefined) as Message;
  return { message, warnings: d.finish() };
}

// ---------------------------------------------------------------------------------------------

type Mutable = Record<string, unknown>;
type FloatPart = Float32Array | Float64Array | number;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const MAX_DEPTH = 100;
const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32'];
const utf8 = new TextDecoder('utf-8');

interface Unknown {
  count: number;
  readonly wireType: number;
}

class Decoder {
  private readonly view: DataView;
  private pos = 0;
  /** The two 32-bit halves of the last varint read. */
  private lo = 0;
  private hi = 0;
  private readonly unknown = new Map<string, Unknown>();
  private readonly badEnums = new Map<string, number>();
  private readonly dropoutChecks: { readonly param: Mutable; readonly layer: Mutable | undefined }[] = [];

  constructor(
    private readonly bytes: Uint8Array,
    private readonly file: string,
    private readonly deferDropout: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  finish(): string[] {
    const warnings: string[] = [];
    for (const [key, u] of this.unknown) {
      warnings.push(
        `${this.file}: unknown field ${key} (wire type ${u.wireType}, ${WIRE_NAMES[u.wireType]}) skipped${u.count > 1 ? `, ${u.count} times` : ''}`,
      );
    }
    for (const [key, count] of this.badEnums) {
      warnings.push(`${this.file}: ${key} not in the schema, field ignored${count > 1 ? `, ${count} times` : ''}`);
    }
    if (!this.deferDropout) {
      for (const { param, layer } of this.dropoutChecks) {
        const name = typeof layer?.name === 'string' ? layer.name : '(unnamed)';
        const w = checkDropoutField2(param as Message, this.file, name);
        if (w !== undefined) warnings.push(w);
      }
    }
    return warnings;
  }

  private fail(message: string): McuError {
    return new McuError('E_MODEL', `${this.file}: ${message}`);
  }

  private truncated(what: string, at: number, need: number | undefined, end: number): McuError {
    const remain = Math.max(0, end - at);
    const scope = end === this.bytes.length ? '' : ' in the enclosing message';
    const needs = need === undefined ? 'needs more bytes' : `needs ${need} bytes`;
    return this.fail(`truncated caffemodel: ${what} at byte ${at} ${needs}, only ${remain} remain${scope}; the file is cut short or corrupt (copy it again)`);
  }

  /** Read a varint into lo/hi; `what` names it for a truncation message. */
  private varint(end: number, what: () => string): void {
    const b = this.bytes;
    const start = this.pos;
    let p = this.pos;
    let lo = 0;
    let hi = 0;
    let byte: number;
    for (let shift = 0; shift < 28; shift += 7) {
      if (p >= end) throw this.truncated(what(), start, undefined, end);
      byte = b[p++];
      lo |= (byte & 127) << shift;
      if (byte < 128) {
        this.pos = p;
        this.lo = lo >>> 0;
        this.hi = 0;
        return;
      }
    }
    if (p >= end) throw this.truncated(what(), start, undefined, end);
    byte = b[p++];
    lo |= (byte & 127) << 28;
    hi = (byte & 127) >> 4;
    if (byte >= 128) {
      for (let shift = 3; ; shift += 7) {
        if (shift > 31) throw this.fail(`malformed caffemodel: ${what()} at byte ${start} is a varint longer than 10 bytes`);
        if (p >= end) throw this.truncated(what(), start, undefined, end);
        byte = b[p++];
        hi |= (byte & 127) << shift;
        if (byte < 128) break;
      }
    }
    this.pos = p;
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  /**
   * Decode the fields of `messageName` from `pos` to `end` into `obj` (a merge when obj already
   * holds fields). `path` names the message for unknown-field warnings ('NetParameter.layer.blobs').
   */
  decodeMessage(messageName: string, obj: Mutable, end: number, path: string, depth: number, layer: Mutable | undefined): Mutable {
    if (depth > MAX_DEPTH) throw this.fail(`malformed caffemodel: messages nested deeper than ${MAX_DEPTH} at byte ${this.pos}`);
    const fields = fieldsByNumber(messageName);
    const isLayer = messageName === 'LayerParameter' || messageName === 'V1LayerParameter';
    const here = isLayer ? obj : layer;
    let floats: Map<string, FloatPart[]> | undefined;
    while (this.pos < end) {
      const tagAt = this.pos;
      this.varint(end, () => `a field tag of ${messageName}`);
      if (this.hi !== 0) throw this.fail(`malformed caffemodel: field tag of ${messageName} at byte ${tagAt} is out of range`);
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      if (no === 0) throw this.fail(`malformed caffemodel: field number 0 in ${messageName} at byte ${tagAt} (not a protobuf message, or corrupt)`);
      const entry = fields.get(no);
      if (entry === undefined) {
        if (messageName === 'DropoutParameter' && no === 2 && wt === 0) {
          this.varint(end, () => `field 2 (fork field) of DropoutParameter`);
          const v = this.lo !== 0 || this.hi !== 0 ? 1 : 0;
          dropoutField2Values.set(obj, v);
          this.dropoutChecks.push({ param: obj, layer: here });
          continue;
        }
        this.skip(no, wt, tagAt, end, messageName);
        const key = `${no} of ${messageName} (in ${path})`;
        const u = this.unknown.get(key);
        if (u === undefined) this.unknown.set(key, { count: 1, wireType: wt });
        else u.count++;
        continue;
      }
      const [name, spec] = entry;
      const what = (): string => `field ${no} (${name}) of ${messageName}`;
      if (spec.type === 'message') {
        if (wt !== 2) throw this.wrongWire(what(), tagAt, wt, 2);
        const len = this.length(end, what);
        const sub = spec.messageName ?? '';
        const subPath = `${path}.${name}`;
        if (spec.label === 'repeated') {
          const arr = (obj[name] as Mutable[] | undefined) ?? [];
          obj[name] = arr;
          const child: Mutable = {};
          arr.push(child);
          this.decodeMessage(sub, child, this.pos + len, subPath, depth + 1, here);
        } else {
          const child = (obj[name] as Mutable | undefined) ?? {};
          obj[name] = child;
          this.decodeMessage(sub, child, this.pos + len, subPath, depth + 1, here);
        }
        continue;
      }
      if (spec.type === 'string' || spec.type === 'bytes') {
        if (wt !== 2) throw this.wrongWire(what(), tagAt, wt, 2);
        const len = this.length(end, what);
        const raw = this.bytes.subarray(this.pos, this.pos + len);
        this.pos += len;
        const value = spec.type === 'string' ? utf8.decode(raw) : raw.slice();
        if (spec.label === 'repeated') pushTo(obj, name, value);
        else obj[name] = value;
        continue;
      }
      if (spec.type === 'float' || spec.type === 'double') {
        const size = spec.type === 'float' ? 4 : 8;
        const scalarWire = size === 4 ? 5 : 1;
        if (wt === scalarWire) {
          if (end - this.pos < size) throw this.truncated(what(), this.pos, size, end);
          const v = size === 4 ? this.view.getFloat32(this.pos, true) : this.view.getFloat64(this.pos, true);
          this.pos += size;
          if (spec.label === 'repeated') {
            floats ??= new Map();
            addPart(floats, name, v);
          } else obj[name] = v;
        } else if (wt === 2 && spec.label === 'repeated') {
          const len = this.length(end, what);
          if (len % size !== 0) {
            throw this.fail(`malformed caffemodel: packed ${what()} at byte ${tagAt} has ${len} bytes, not a multiple of ${size}`);
          }
          floats ??= new Map();
          addPart(floats, name, this.copyFloats(size, len));
        } else {
          throw this.wrongWire(what(), tagAt, wt, scalarWire, spec.label === 'repeated');
        }
        continue;
      }
      // varint types: int32, int64, uint32, uint64, bool, enum
      if (wt === 0) {
        this.varint(end, what);
        this.storeVarint(obj, name, spec, what, tagAt, path);
      } else if (wt === 2 && spec.label === 'repeated') {
        const len = this.length(end, what);
        const stop = this.pos + len;
        const arr = (obj[name] as unknown[] | undefined) ?? [];
        obj[name] = arr;
        while (this.pos < stop) {
          const at = this.pos;
          this.varint(stop, what);
          this.storeVarint(obj, name, spec, what, at, path);
        }
      } else {
        throw this.wrongWire(what(), tagAt, wt, 0, spec.label === 'repeated');
      }
    }
    if (floats !== undefined) for (const [name, parts] of floats) obj[name] = joinFloats(obj[name], parts, floatType(messageName, name));
    return obj;
  }

  private storeVarint(obj: Mutable, name: string, spec: FieldSpec, what: () => string, at: number, path: string): void {
    const { lo, hi } = this;
    let value: number | boolean | string;
    switch (spec.type) {
      case 'int32':
        value = lo | 0;
        break;
      case 'uint32':
        value = lo;
        break;
      case 'bool':
        value = lo !== 0 || hi !== 0;
        break;
      case 'int64':
      case 'uint64': {
        const negative = spec.type === 'int64' && hi >= 0x80000000;
        const mag = negative ? (~hi >>> 0) * 4294967296 + (~lo >>> 0) + 1 : hi * 4294967296 + lo;
        if (!Number.isSafeInteger(mag)) {
          throw this.fail(
            `${what()} at byte ${at} is ${spec.type === 'int64' ? 'an int64' : 'a uint64'} beyond ±2^53 − 1, which mcu cannot represent exactly; the file is corrupt or not a caffemodel`,
          );
        }
        value = negative ? -mag : mag;
        break;
      }
      case 'enum': {
        const values = CAFFE_SCHEMA.enums[spec.enumName ?? ''] ?? {};
        const n = lo | 0;
        const found = Object.keys(values).find((k) => values[k] === n);
        if (found === undefined) {
          const key = `enum value ${n} of ${path}.${name} (${spec.enumName})`;
          this.badEnums.set(key, (this.badEnums.get(key) ?? 0) + 1);
          return;
        }
        value = found;
        break;
      }
      default:
        throw this.fail(`${what()}: internal schema type ${spec.type} read as a varint`);
    }
    if (spec.label === 'repeated') pushTo(obj, name, value);
    else obj[name] = value;
  }

  /** A length varint, checked against the bytes left before `end`; leaves pos at the payload. */
  private length(end: number, what: () => string): number {
    const at = this.pos;
    this.varint(end, what);
    const len = this.hi * 4294967296 + this.lo;
    if (len > end - this.pos) throw this.truncated(what(), at, len + (this.pos - at), end);
    return len;
  }

  private copyFloats(size: 4 | 8, len: number): Float32Array | Float64Array {
    const n = len / size;
    const out = size === 4 ? new Float32Array(n) : new Float64Array(n);
    if (LITTLE_ENDIAN) {
      new Uint8Array(out.buffer).set(this.bytes.subarray(this.pos, this.pos + len));
    } else {
      const v = this.view;
      for (let i = 0, p = this.pos; i < n; i++, p += size) out[i] = size === 4 ? v.getFloat32(p, true) : v.getFloat64(p, true);
    }
    this.pos += len;
    return out;
  }

  private wrongWire(what: string, at: number, got: number, want: number, packedToo = false): McuError {
    const alt = packedToo ? ` or 2 (packed)` : '';
    return this.fail(
      `malformed caffemodel: ${what} at byte ${at} has wire type ${got} (${WIRE_NAMES[got] ?? 'invalid'}), expected ${want} (${WIRE_NAMES[want]})${alt}; the file does not follow caffe.proto`,
    );
  }

  /** Skip the payload of an unknown field (groups included, without recursion). */
  private skip(no: number, wt: number, tagAt: number, end: number, messageName: string): void {
    const what = (): string => `field ${no} (unknown) of ${messageName}`;
    const groups: number[] = [];
    let fieldNo = no;
    let wire = wt;
    for (;;) {
      switch (wire) {
        case 0:
          this.varint(end, what);
          break;
        case 1:
        case 5: {
          const size = wire === 1 ? 8 : 4;
          if (end - this.pos < size) throw this.truncated(what(), this.pos, size, end);
          this.pos += size;
          break;
        }
        case 2: {
          const len = this.length(end, what);
          this.pos += len;
          break;
        }
        case 3:
          groups.push(fieldNo);
          break;
        case 4:
          if (groups.pop() !== fieldNo) {
            throw this.fail(`malformed caffemodel: unexpected end of group ${fieldNo} in ${messageName} at byte ${tagAt}`);
          }
          break;
        default:
          throw this.fail(
            `malformed caffemodel: invalid wire type ${wire} for field ${fieldNo} of ${messageName} at byte ${tagAt}; the file is corrupt or not a caffemodel`,
          );
      }
      if (groups.length === 0) return;
      const at = this.pos;
      if (at >= end) throw this.truncated(`group ${groups[groups.length - 1]} of ${messageName}`, at, undefined, end);
      this.varint(end, () => `a field tag inside group ${groups[groups.length - 1]} of ${messageName}`);
      fieldNo = this.lo >>> 3;
      wire = this.lo & 7;
      tagAt = at;
    }
  }
}

function pushTo(obj: Mutable, name: string, value: unknown): void {
  const arr = obj[name] as unknown[] | undefined;
  if (arr === undefined) obj[name] = [value];
  else arr.push(value);
}

function addPart(map: Map<string, FloatPart[]>, name: string, part: FloatPart): void {
  const parts = map.get(name);
  if (parts === undefined) map.set(name, [part]);
  else parts.push(part);
}

function floatType(messageName: string, name: string): 'float' | 'double' {
  return CAFFE_SCHEMA.messages[messageName]?.[name]?.type === 'double' ? 'double' : 'float';
}

/** Concatenate packed runs and single values (after what a merged message already held). */
function joinFloats(existing: unknown, parts: FloatPart[], type: 'float' | 'double'): Float32Array | Float64Array {
  const all: FloatPart[] = existing instanceof Float32Array || existing instanceof Float64Array ? [existing, ...parts] : parts;
  if (all.length === 1 && typeof all[0] !== 'number') return all[0];
  let n = 0;
  for (const p of all) n += typeof p === 'number' ? 1 : p.length;
  const out = type === 'float' ? new Float32Array(n) : new Float64Array(n);
  let at = 0;
  for (const p of all) {
    if (typeof p === 'number') out[at++] = p;
    else {
      out.set(p, at);
      at += p.length;
    }
  }
  return out;
}
