/**
 * The protobuf wire format, by hand: the reader and writer the generated codec
 * (./gen/onnx.ts) calls. Varints are read as two 32-bit halves and only become a bigint for
 * 64-bit fields; fixed32/fixed64 go through a DataView; length-delimited fields are
 * subarray views of the input (a 100 MB raw_data is never copied).
 */

/** Every failure of @mcu/onnx-proto: bad bytes on decode, bad values on encode or check. */
export class OnnxWireError extends Error {
  override name = 'OnnxWireError';
  /** Byte offset in the input where decoding failed (decode errors only). */
  readonly offset: number | undefined;
  /** Path of the bad field ('ModelProto.graph.node[3].name'), where one is known. */
  readonly path: string | undefined;
  constructor(message: string, where: { offset?: number; path?: string } = {}) {
    super(message);
    this.offset = where.offset;
    this.path = where.path;
  }
}

/** Messages nest at most this deep (as protobuf's own parsers do). */
export const MAX_DEPTH = 100;

const WIRE_NAMES = ['varint', '64-bit', 'length-delimited', 'start group', 'end group', '32-bit'];

/** Wire type names, for messages. */
export function wireTypeName(wt: number): string {
  return WIRE_NAMES[wt] ?? `invalid wire type ${wt}`;
}

let textDecoder: TextDecoder | undefined;
let textEncoder: TextEncoder | undefined;

export class Reader {
  readonly buf: Uint8Array;
  private readonly view: DataView;
  pos = 0;
  /** End of the message being read (nested messages narrow it). */
  end: number;
  /** Low and high 32 bits of the last varint (unsigned). */
  private lo = 0;
  private hi = 0;

  constructor(buf: Uint8Array) {
    if (!(buf instanceof Uint8Array)) {
      throw new OnnxWireError(`expected bytes (Uint8Array), got ${buf === null ? 'null' : typeof buf}`);
    }
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.end = buf.length;
  }

  fail(message: string, at = this.pos): never {
    throw new OnnxWireError(`at byte ${at}: ${message}`, { offset: at });
  }

  private byte(start: number): number {
    if (this.pos >= this.end) this.fail('truncated varint', start);
    return this.buf[this.pos++]!;
  }

  /** Reads a varint of up to 10 bytes into lo/hi. */
  private varint(): void {
    const start = this.pos;
    if (start < this.end) {
      const b0 = this.buf[start]!;
      if (b0 < 0x80) {
        this.pos = start + 1;
        this.lo = b0;
        this.hi = 0;
        return;
      }
    }
    let lo = 0;
    let b = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      b = this.byte(start);
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.lo = lo >>> 0;
        this.hi = 0;
        return;
      }
    }
    b = this.byte(start);
    lo |= (b & 0x0f) << 28;
    let hi = (b & 0x7f) >> 4;
    if (b < 0x80) {
      this.lo = lo >>> 0;
      this.hi = hi;
      return;
    }
    for (let shift = 3; shift < 32; shift += 7) {
      b = this.byte(start);
      hi |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.lo = lo >>> 0;
        this.hi = hi >>> 0;
        return;
      }
    }
    this.fail('varint longer than 10 bytes', start);
  }

  /** A varint's low 32 bits, unsigned (tags, lengths, uint32). */
  uint32(): number {
    const p = this.pos;
    if (p < this.end) {
      const b = this.buf[p]!;
      if (b < 0x80) {
        this.pos = p + 1;
        return b;
      }
    }
    this.varint();
    return this.lo;
  }

  int32(): number {
    return this.uint32() | 0;
  }

  sint32(): number {
    const n = this.uint32();
    return (n >>> 1) ^ -(n & 1);
  }

  bool(): boolean {
    this.varint();
    return this.lo !== 0 || this.hi !== 0;
  }

  uint64(): bigint {
    this.varint();
    return this.hi === 0 ? BigInt(this.lo) : (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  int64(): bigint {
    this.varint();
    if (this.hi === 0) return BigInt(this.lo);
    if (this.hi < 0x200000) return BigInt(this.hi * 0x100000000 + this.lo);
    return BigInt.asIntN(64, (BigInt(this.hi) << 32n) | BigInt(this.lo));
  }

  sint64(): bigint {
    const u = this.uint64();
    return (u >> 1n) ^ -(u & 1n);
  }

  private need(n: number): number {
    const p = this.pos;
    if (p + n > this.end) this.fail(`a ${n}-byte value runs past the end of its message (byte ${this.end})`);
    this.pos = p + n;
    return p;
  }

  float(): number {
    return this.view.getFloat32(this.need(4), true);
  }

  double(): number {
    return this.view.getFloat64(this.need(8), true);
  }

  fixed32(): number {
    return this.view.getUint32(this.need(4), true);
  }

  sfixed32(): number {
    return this.view.getInt32(this.need(4), true);
  }

  fixed64(): bigint {
    return this.view.getBigUint64(this.need(8), true);
  }

  sfixed64(): bigint {
    return this.view.getBigInt64(this.need(8), true);
  }

  /**
   * The elements of a packed float (`size` 4) or double (8) field, up to the current end
   * (`enterPacked` set it), appended to `a` or in a new array. One DataView loop; a new array
   * is allocated at its final length (pushing 25 M floats one by one is 3× slower).
   */
  packedFloats(a: number[] | undefined, size: 4 | 8): number[] {
    const e = this.end;
    let p = this.pos;
    if ((e - p) % size !== 0) this.fail(`a packed field of ${size}-byte values has ${e - p} bytes`);
    const view = this.view;
    const n = (e - p) / size;
    this.pos = e;
    if (a === undefined) {
      const out = new Array<number>(n);
      if (size === 4) for (let k = 0; k < n; k++, p += 4) out[k] = view.getFloat32(p, true);
      else for (let k = 0; k < n; k++, p += 8) out[k] = view.getFloat64(p, true);
      return out;
    }
    if (size === 4) for (; p < e; p += 4) a.push(view.getFloat32(p, true));
    else for (; p < e; p += 8) a.push(view.getFloat64(p, true));
    return a;
  }

  /** Reads a length prefix; returns the end of the field, checked against the message end. */
  ld(): number {
    const at = this.pos;
    this.varint();
    const len = this.lo;
    if (this.hi !== 0 || len > this.end - this.pos) {
      const declared = this.hi === 0 ? String(len) : String((BigInt(this.hi) << 32n) | BigInt(this.lo));
      this.fail(
        `a field declares ${declared} bytes but its message ends at byte ${this.end} (${this.end - this.pos} left); the data is truncated or is not this message`,
        at,
      );
    }
    return this.pos + len;
  }

  bytes(): Uint8Array {
    const e = this.ld();
    const v = this.buf.subarray(this.pos, e);
    this.pos = e;
    return v;
  }

  string(): string {
    const e = this.ld();
    const p = this.pos;
    this.pos = e;
    const buf = this.buf;
    // Short ASCII strings (names, op types) without a TextDecoder call.
    if (e - p <= 32) {
      let s = '';
      for (let k = p; k < e; k++) {
        const c = buf[k]!;
        if (c >= 0x80) return (textDecoder ??= new TextDecoder()).decode(buf.subarray(p, e));
        s += String.fromCharCode(c);
      }
      return s;
    }
    return (textDecoder ??= new TextDecoder()).decode(buf.subarray(p, e));
  }

  /** Enter a nested message: returns the enclosing end, to give back to `leave`. */
  enter(depth: number): number {
    if (depth > MAX_DEPTH) this.fail(`messages nested more than ${MAX_DEPTH} deep`);
    const outer = this.end;
    this.end = this.ld();
    return outer;
  }

  /** Enter a packed repeated field: returns the enclosing end, to give back to `leave`. */
  enterPacked(): number {
    const outer = this.end;
    this.end = this.ld();
    return outer;
  }

  leave(outer: number): void {
    this.end = outer;
  }

  /** A known field arrived with the wrong wire type. */
  wrongWire(message: string, field: string, got: number, want: string): never {
    this.fail(`${message}.${field} expects wire type ${want}, got ${wireTypeName(got)}`);
  }

  /** Skip an unknown field of wire type `wt` (its tag already read). */
  skip(wt: number, field: number, depth: number): void {
    if (field === 0) this.fail('invalid field number 0');
    switch (wt) {
      case 0:
        this.varint();
        return;
      case 1:
        this.need(8);
        return;
      case 2:
        this.pos = this.ld();
        return;
      case 5:
        this.need(4);
        return;
      case 3: {
        if (depth > MAX_DEPTH) this.fail(`groups nested more than ${MAX_DEPTH} deep`);
        for (;;) {
          if (this.pos >= this.end) this.fail(`group ${field} has no end`);
          const tag = this.uint32();
          if ((tag & 7) === 4) {
            if (tag >>> 3 !== field) this.fail(`group ${field} ends with the end of group ${tag >>> 3}`);
            return;
          }
          this.skip(tag & 7, tag >>> 3, depth + 1);
        }
      }
      default:
        this.fail(wt === 4 ? `end of group ${field} without its start` : `invalid wire type ${wt} (field ${field})`);
    }
  }
}

export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  pos = 0;
  private readonly starts: number[] = [];

  constructor(initial = 1024) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** The bytes written (a view of the writer's buffer). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  uint32(v: number): void {
    this.ensure(5);
    const buf = this.buf;
    let n = v >>> 0;
    while (n > 0x7f) {
      buf[this.pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[this.pos++] = n;
  }

  tag(field: number, wt: number): void {
    this.uint32(((field << 3) | wt) >>> 0);
  }

  /** Varint of the 64-bit value hi:lo (both unsigned 32-bit). */
  private varint64(lo: number, hi: number): void {
    if (hi === 0) {
      this.uint32(lo);
      return;
    }
    this.ensure(10);
    const buf = this.buf;
    while (hi > 0 || lo > 0x7f) {
      buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[this.pos++] = lo;
  }

  int32(v: number): void {
    if (v >= 0) this.uint32(v);
    else this.varint64(v >>> 0, 0xffffffff);
  }

  sint32(v: number): void {
    this.uint32(((v << 1) ^ (v >> 31)) >>> 0);
  }

  bool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  /** Any 64-bit value as an unsigned 64-bit bigint (two's complement). */
  private u64(v: bigint): void {
    this.varint64(Number(v & 0xffffffffn), Number(v >> 32n));
  }

  int64(v: bigint | number): void {
    if (typeof v === 'number') {
      if (v >= 0 && v <= 0xffffffff) this.uint32(v);
      else this.u64(BigInt.asUintN(64, BigInt(v)));
    } else if (v >= 0n && v <= 0xffffffffn) this.uint32(Number(v));
    else this.u64(BigInt.asUintN(64, v));
  }

  uint64(v: bigint | number): void {
    this.int64(v);
  }

  sint64(v: bigint | number): void {
    const b = BigInt(v);
    this.u64(BigInt.asUintN(64, (b << 1n) ^ (b < 0n ? -1n : 0n)));
  }

  float(v: number): void {
    this.ensure(4);
    this.view.setFloat32(this.pos, v, true);
    this.pos += 4;
  }

  double(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  fixed32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v >>> 0, true);
    this.pos += 4;
  }

  sfixed32(v: number): void {
    this.ensure(4);
    this.view.setInt32(this.pos, v | 0, true);
    this.pos += 4;
  }

  fixed64(v: bigint | number): void {
    this.ensure(8);
    this.view.setBigUint64(this.pos, BigInt.asUintN(64, BigInt(v)), true);
    this.pos += 8;
  }

  sfixed64(v: bigint | number): void {
    this.fixed64(v);
  }

  bytes(v: Uint8Array): void {
    this.uint32(v.length);
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  string(v: string): void {
    // Pure-ASCII strings in one pass; anything else through TextEncoder.
    const n = v.length;
    if (n <= 127) {
      this.ensure(1 + n);
      const buf = this.buf;
      const at = this.pos;
      let k = 0;
      for (; k < n; k++) {
        const c = v.charCodeAt(k);
        if (c >= 0x80) break;
        buf[at + 1 + k] = c;
      }
      if (k === n) {
        buf[at] = n;
        this.pos = at + 1 + n;
        return;
      }
    }
    this.bytes((textEncoder ??= new TextEncoder()).encode(v));
  }

  /** Start a length-delimited field (its tag already written); `ldelim` closes it. */
  fork(): void {
    this.ensure(1);
    this.starts.push(this.pos);
    this.pos += 1; // room for a one-byte length, the common case
  }

  ldelim(): void {
    const start = this.starts.pop()!;
    const len = this.pos - start - 1;
    if (len <= 0x7f) {
      this.buf[start] = len;
      return;
    }
    let size = 1;
    for (let n = len; n > 0x7f; n >>>= 7) size++;
    this.ensure(size - 1);
    this.buf.copyWithin(start + size, start + 1, this.pos);
    this.pos = start;
    this.uint32(len);
    this.pos = start + size + len;
  }
}
