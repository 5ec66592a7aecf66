/**
 * Bernoulli masks from Philox4x32-10 in WebAssembly: the same values as the JavaScript path in
 * seeded.ts, bit for bit. Per-point masks (one per row and sample) make mask generation the
 * larger part of a run on wide networks, and a UCI model at T = 10,000 draws 630,000 masks per
 * run, so this is their path. Two builds of one kernel:
 *
 * - SIMD (the default where WebAssembly has it: Node ≥ 16, current browsers): four rows
 *   (sample, row pairs) per pass, one per lane — i64x2 extended multiplies give the 64-bit
 *   products, the four blocks are mapped to floats and transposed so each lane's row gets one
 *   16-byte store. Measured here: 2.3–3.2× the scalar build on the UCI model's 630,000 masks
 *   (13 and 50 wide), 1.6–1.9× on 30 M per-point values (bench/sampler.mjs), where writing the
 *   output array itself takes much of the time.
 * - Scalar: one block at a time; WebAssembly multiplies 32×32 → 64 bits natively, where
 *   JavaScript assembles the high word from 16-bit halves (about twice as fast as JavaScript).
 *
 * The modules are small (6 KB and 2 KB) and are assembled here, instruction by instruction, from
 * the WebAssembly binary format (no build step, no binary file); the one used is assembled and
 * compiled synchronously on first use (≈ 3 ms for the SIMD build). Where WebAssembly is
 * unavailable, {@link createBernoulliKernel} returns null and the caller keeps its JavaScript path.
 *
 * Nothing here is shared by the process: each kernel has its own memory (grown to the largest
 * chunk it wrote) and belongs to whoever made it — an engine (one per `createMcu`, freed by
 * `Mcu.dispose()`) or a sampler made on its own. A {@link BernoulliKernelSlot} builds one on
 * first use and frees it on dispose.
 *
 * Kernel `fill(out, m, rows, firstRow, firstSample, count, site, k0, k1, threshold, keep)`
 * writes count·rows·m float32 at byte offset `out`: element j of row i of sample c is word
 * j mod 4 of Philox4x32-10(counter [⌊j/4⌋, firstRow + i, firstSample + c, site], key [k0, k1]),
 * mapped to 0 when word < threshold (unsigned) and to `keep` otherwise. With threshold =
 * ⌈p·2³² − ½⌉ that is exactly the JavaScript rule (word + ½)·2⁻³² < p. The SIMD build also
 * writes up to 3·m + 3 floats past them (the lanes past the last row, the last block whole), in
 * room its caller leaves in its own memory; they are not copied out.
 */
import { McuError } from '../errors.js';

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

// ---- encoding helpers (LEB128, vectors, sections) ----------------------------------------
function uleb(v: number): number[] {
  const out: number[] = [];
  let x = v >>> 0;
  do {
    let b = x & 0x7f;
    x >>>= 7;
    if (x !== 0) b |= 0x80;
    out.push(b);
  } while (x !== 0);
  return out;
}

/** Signed LEB128 of an integer that fits in 64 bits (as a bigint, for i64 constants too). */
function sleb(value: number | bigint): number[] {
  let v = BigInt.asIntN(64, BigInt(value));
  const out: number[] = [];
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => vec([...s].map((c) => [c.charCodeAt(0)]));
const section = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes];

// ---- instructions used ---------------------------------------------------------------------
const I32 = 0x7f;
const I64 = 0x7e;
const F32 = 0x7d;
const OP = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  select: 0x1b,
  get: 0x20,
  set: 0x21,
  f32Store: 0x38,
  i32Const: 0x41,
  i64Const: 0x42,
  f32Const: 0x43,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32LtU: 0x49,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Mul: 0x6c,
  i32And: 0x71,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrU: 0x76,
  i64Mul: 0x7e,
  i64ShrU: 0x88,
  i32WrapI64: 0xa7,
  i64ExtendI32U: 0xad,
} as const;
const VOID = 0x40;

// params
const OUT = 0;
const M = 1;
const ROWS = 2;
const FIRST_ROW = 3;
const FIRST_SAMPLE = 4;
const COUNT = 5;
const SITE = 6;
const K0 = 7;
const K1 = 8;
const THRESHOLD = 9;
const KEEP = 10;
// locals (i32 unless noted)
const C = 11;
const I = 12;
const B = 13;
const FULL = 14;
const A0 = 15;
const A1 = 16;
const A2 = 17;
const A3 = 18;
const KK0 = 19;
const KK1 = 20;
const PTR = 21;
const TAIL = 22;
const P0 = 23; // i64
const P1 = 24; // i64

const get = (x: number): number[] => [OP.get, x];
const set = (x: number): number[] => [OP.set, x];
const i32 = (v: number): number[] => [OP.i32Const, ...sleb(v | 0)];
const inc = (x: number, by: number): number[] => [...get(x), ...i32(by), OP.i32Add, ...set(x)];

/** Philox4x32-10 of counter [block, firstRow + i, firstSample + c, site] into A0..A3. */
function philox(block: number[]): number[] {
  const round = [
    ...get(A0),
    OP.i64ExtendI32U,
    OP.i64Const,
    ...sleb(M0),
    OP.i64Mul,
    ...set(P0),
    ...get(A2),
    OP.i64ExtendI32U,
    OP.i64Const,
    ...sleb(M1),
    OP.i64Mul,
    ...set(P1),
    // A0 ← hi(P1) ^ A1 ^ k0;  A2 ← hi(P0) ^ A3 ^ k1;  A1 ← lo(P1);  A3 ← lo(P0)
    ...get(P1),
    OP.i64Const,
    32,
    OP.i64ShrU,
    OP.i32WrapI64,
    ...get(A1),
    OP.i32Xor,
    ...get(KK0),
    OP.i32Xor,
    ...set(A0),
    ...get(P0),
    OP.i64Const,
    32,
    OP.i64ShrU,
    OP.i32WrapI64,
    ...get(A3),
    OP.i32Xor,
    ...get(KK1),
    OP.i32Xor,
    ...set(A2),
    ...get(P1),
    OP.i32WrapI64,
    ...set(A1),
    ...get(P0),
    OP.i32WrapI64,
    ...set(A3),
  ];
  const bump = [...get(KK0), ...i32(W0), OP.i32Add, ...set(KK0), ...get(KK1), ...i32(W1), OP.i32Add, ...set(KK1)];
  return [
    ...block,
    ...set(A0),
    ...get(FIRST_ROW),
    ...get(I),
    OP.i32Add,
    ...set(A1),
    ...get(FIRST_SAMPLE),
    ...get(C),
    OP.i32Add,
    ...set(A2),
    ...get(SITE),
    ...set(A3),
    ...get(K0),
    ...set(KK0),
    ...get(K1),
    ...set(KK1),
    ...Array.from({ length: 10 }, (_, r) => [...(r > 0 ? bump : []), ...round]).flat(),
  ];
}

/** f32 at PTR + offset: 0 when word < threshold, else keep. */
const store = (word: number, offset: number): number[] => [
  ...get(PTR),
  OP.f32Const,
  0,
  0,
  0,
  0,
  ...get(KEEP),
  ...get(word),
  ...get(THRESHOLD),
  OP.i32LtU,
  OP.select,
  OP.f32Store,
  2,
  ...uleb(offset),
];

/** `for (x = 0; x < limit; x++) { body }` */
const forLoop = (x: number, limit: number[], body: number[]): number[] => [
  ...i32(0),
  ...set(x),
  OP.block,
  VOID,
  OP.loop,
  VOID,
  ...get(x),
  ...limit,
  OP.i32GeU,
  OP.brIf,
  1,
  ...body,
  ...inc(x, 1),
  OP.br,
  0,
  OP.end,
  OP.end,
];

/**
 * The scalar module's bytes: a constant, assembled once on first use (≈5 ms; compiling them takes
 * ≈0.1 ms), never mutated. Only these immutable bytes are shared — every kernel compiles its own
 * instance with its own memory.
 */
let moduleBytes: Uint8Array<ArrayBuffer> | undefined;
/** The SIMD module's bytes, or null where this WebAssembly does not validate them (no SIMD). */
let simdBytes: Uint8Array<ArrayBuffer> | null | undefined;

function kernelBytes(): Uint8Array<ArrayBuffer> {
  moduleBytes ??= assemble();
  return moduleBytes;
}

function simdKernelBytes(): Uint8Array<ArrayBuffer> | null {
  if (simdBytes === undefined) {
    const bytes = assembleSimd();
    simdBytes = WebAssembly.validate(bytes) ? bytes : null;
  }
  return simdBytes;
}

function assemble(): Uint8Array<ArrayBuffer> {
  const words = [A0, A1, A2, A3];
  const row = [
    // full blocks: four stores each
    ...forLoop(B, get(FULL), [...philox(get(B)), ...words.flatMap((w, k) => store(w, 4 * k)), ...inc(PTR, 16)]),
    // the last, partial block: TAIL (1–3) stores
    OP.block,
    VOID,
    ...get(TAIL),
    OP.i32Eqz,
    OP.brIf,
    0, // no partial block
    ...philox(get(FULL)),
    ...store(A0, 0),
    OP.block,
    VOID,
    ...get(TAIL),
    ...i32(2),
    OP.i32LtU,
    OP.brIf,
    0,
    ...store(A1, 4),
    OP.block,
    VOID,
    ...get(TAIL),
    ...i32(3),
    OP.i32LtU,
    OP.brIf,
    0,
    ...store(A2, 8),
    OP.end,
    OP.end,
    ...get(PTR),
    ...get(TAIL),
    ...i32(2),
    OP.i32Shl,
    OP.i32Add,
    ...set(PTR),
    OP.end,
  ];
  const body = [
    ...get(OUT),
    ...set(PTR),
    ...get(M),
    ...i32(2),
    OP.i32ShrU,
    ...set(FULL),
    ...get(M),
    ...i32(3),
    OP.i32And,
    ...set(TAIL),
    ...forLoop(C, get(COUNT), forLoop(I, get(ROWS), row)),
  ];
  const locals = vec([
    [...uleb(12), I32],
    [...uleb(2), I64],
  ]);
  const code = [...locals, ...body, OP.end];
  return moduleOf(code);
}

/** A module of one exported function `fill` (the kernel's parameters, no result) with this body, importing its memory. */
function moduleOf(code: readonly number[]): Uint8Array<ArrayBuffer> {
  const params = [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, F32];
  const head = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec(params.map((t) => [t])), 0]])), // type: (params) → ()
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x01]])), // import memory, min 1 page
    ...section(3, vec([[0]])), // one function of type 0
    ...section(7, vec([[...name('fill'), 0x00, 0]])), // export it
  ];
  // the code section: one body of code.length bytes (copied in whole: spreading thousands of
  // bytes through arrays took ≈ 6 ms of a cold start)
  const bodySize = uleb(code.length);
  const codeSection = [10, ...uleb(1 + bodySize.length + code.length), 1, ...bodySize];
  const out = new Uint8Array(head.length + codeSection.length + code.length);
  out.set(head);
  out.set(codeSection, head.length);
  out.set(code, head.length + codeSection.length);
  return out;
}

// ---- the SIMD build: four rows (sample, row pairs) per pass, one per lane --------------------
const V128 = 0x7b;
/** SIMD instructions (prefix 0xfd, then the opcode as unsigned LEB128). */
const simd = (op: number): number[] => [0xfd, ...uleb(op)];
/** Nested instruction bytes, flattened once when the module is put together (spreading each level was 2× slower to assemble). */
type Code = number | readonly Code[];

const SIMD = {
  store: simd(0x0b),
  const: simd(0x0c),
  shuffle: simd(0x0d),
  i32x4Splat: simd(0x11),
  f32x4Splat: simd(0x13),
  i32x4ReplaceLane: simd(0x1c),
  i32x4GeU: simd(0x40),
  and: simd(0x4e),
  xor: simd(0x51),
  i32x4Mul: simd(0xb5),
  i64x2ExtmulLowI32x4U: simd(0xde),
  i64x2ExtmulHighI32x4U: simd(0xdf),
} as const;

/** i8x16.shuffle of two vectors by 32-bit lanes (0–3: the first, 4–7: the second). */
const shuffle32 = (lanes: readonly number[]): number[] => [...SIMD.shuffle, ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3])];
/** The high words of two i64x2 products (lanes 0, 1 and 2, 3 of an i32x4 product). */
const HIGH_WORDS = shuffle32([1, 3, 5, 7]);
const v128Splat = (v: number): number[] => {
  const b = new Uint8Array(16);
  const view = new DataView(b.buffer);
  for (let k = 0; k < 4; k++) view.setUint32(4 * k, v >>> 0, true);
  return [...SIMD.const, ...b];
};

// params as the scalar kernel's; locals
const SC = 11; // sample of lane 0 (relative to firstSample)
const SI = 12; // row of lane 0 (relative to firstRow)
const SB = 13; // block
const SFULL = 14;
const STAIL = 15;
const SPTR = 16; // the group's first row
const SQ = 17; // rows of the group done (×4)
const STOTAL = 18; // count · rows
const SKK0 = 19;
const SKK1 = 20;
const SWRAP = 21;
const SSTRIDE = 22; // bytes per row: 4·m
const SBOFF = 23; // 16·block
const SROWS_AT = 24; // R0 … R3: the lanes' rows (byte addresses), 4 locals
const SI32_LOCALS = SROWS_AT + 4 - SC; // SC … R3
const X0 = SROWS_AT + 4; // v128 locals from here
const X1 = X0 + 1;
const X2 = X0 + 2;
const X3 = X0 + 3;
const XL0 = X0 + 4;
const XL1 = X0 + 5;
const XH0 = X0 + 6;
const XH1 = X0 + 7;
const XROW = X0 + 8; // the lanes' row counters (firstRow + i)
const XSAMPLE = X0 + 9; // the lanes' sample counters (firstSample + c)
const XF = X0 + 10; // F0 … F3 (10 – 13), then the transposed T0 … T3 (14 – 17)
const V128_LOCALS = XF + 8 - X0; // X0 … T3

/** Philox4x32-10 of the lanes' counters [block, row, sample, site] into X0..X3. */
function philoxX4(): Code {
  const m0 = v128Splat(M0);
  const m1 = v128Splat(M1);
  const round = [
    // XH0, XL0 ← hi, lo of X0·M0;  XH1, XL1 ← of X2·M1
    get(X0),
    m0,
    SIMD.i64x2ExtmulLowI32x4U,
    get(X0),
    m0,
    SIMD.i64x2ExtmulHighI32x4U,
    HIGH_WORDS,
    set(XH0),
    get(X2),
    m1,
    SIMD.i64x2ExtmulLowI32x4U,
    get(X2),
    m1,
    SIMD.i64x2ExtmulHighI32x4U,
    HIGH_WORDS,
    set(XH1),
    get(X0),
    m0,
    SIMD.i32x4Mul,
    set(XL0),
    get(X2),
    m1,
    SIMD.i32x4Mul,
    set(XL1),
    // X0 ← hi1 ^ X1 ^ k0;  X2 ← hi0 ^ X3 ^ k1;  X1 ← lo1;  X3 ← lo0
    get(XH1),
    get(X1),
    SIMD.xor,
    get(SKK0),
    SIMD.i32x4Splat,
    SIMD.xor,
    set(X0),
    get(XH0),
    get(X3),
    SIMD.xor,
    get(SKK1),
    SIMD.i32x4Splat,
    SIMD.xor,
    set(X2),
    get(XL1),
    set(X1),
    get(XL0),
    set(X3),
  ];
  const bump = [get(SKK0), i32(W0), OP.i32Add, set(SKK0), get(SKK1), i32(W1), OP.i32Add, set(SKK1)];
  return [
    get(SB),
    SIMD.i32x4Splat,
    set(X0),
    get(XROW),
    set(X1),
    get(XSAMPLE),
    set(X2),
    get(SITE),
    SIMD.i32x4Splat,
    set(X3),
    get(K0),
    set(SKK0),
    get(K1),
    set(SKK1),
    Array.from({ length: 10 }, (_, r) => [r > 0 ? bump : [], round]),
  ];
}

/**
 * The block in X0..X3 (word k of lane ℓ in Xk) as floats (0 where word < threshold, else keep),
 * transposed so that lane ℓ's four words are one vector, stored at its row + SBOFF, lanes in order.
 */
function storeX4(): Code {
  const f = (k: number) => XF + k;
  const t = (k: number) => XF + 4 + k;
  const map = [0, 1, 2, 3].map((k) => [get(X0 + k), get(THRESHOLD), SIMD.i32x4Splat, SIMD.i32x4GeU, get(KEEP), SIMD.f32x4Splat, SIMD.and, set(f(k))]);
  // 4×4 transpose: pairs (F0, F1) and (F2, F3) interleaved, then their halves joined
  const transpose = (
    [
      [0, 1, [0, 4, 1, 5]],
      [2, 3, [0, 4, 1, 5]],
      [0, 1, [2, 6, 3, 7]],
      [2, 3, [2, 6, 3, 7]],
    ] as const
  ).map(([a, b, lanes], k) => [get(f(a)), get(f(b)), shuffle32(lanes), set(t(k))]);
  const rows = [
    [t(0), t(1), [0, 1, 4, 5]],
    [t(0), t(1), [2, 3, 6, 7]],
    [t(2), t(3), [0, 1, 4, 5]],
    [t(2), t(3), [2, 3, 6, 7]],
  ] as const;
  const stores = rows.map(([a, b, lanes], l) => [get(SROWS_AT + l), get(SBOFF), OP.i32Add, get(a), get(b), shuffle32(lanes), SIMD.store, 0, 0]);
  return [map, transpose, stores];
}

function assembleSimd(): Uint8Array<ArrayBuffer> {
  // lane ℓ's counters and row address, then the next row (a row past the last wraps to the next sample)
  const lane = (l: number): Code => [
    get(XROW),
    get(FIRST_ROW),
    get(SI),
    OP.i32Add,
    SIMD.i32x4ReplaceLane,
    l,
    set(XROW),
    get(XSAMPLE),
    get(FIRST_SAMPLE),
    get(SC),
    OP.i32Add,
    SIMD.i32x4ReplaceLane,
    l,
    set(XSAMPLE),
    get(SPTR),
    set(SROWS_AT + l),
    get(SPTR),
    get(SSTRIDE),
    OP.i32Add,
    set(SPTR),
    inc(SI, 1),
    get(SI),
    get(ROWS),
    OP.i32Eq,
    set(SWRAP),
    i32(0),
    get(SI),
    get(SWRAP),
    OP.select,
    set(SI),
    get(SC),
    get(SWRAP),
    OP.i32Add,
    set(SC),
  ];
  const group = [
    [0, 1, 2, 3].map(lane),
    // the partial last block first: its store runs past the row's end into the next row's first
    // block, written after it (by this group's full blocks, a later lane or the next group)
    OP.block,
    VOID,
    get(STAIL),
    OP.i32Eqz,
    OP.brIf,
    0,
    get(SFULL),
    set(SB),
    get(SFULL),
    i32(4),
    OP.i32Shl,
    set(SBOFF),
    philoxX4(),
    storeX4(),
    OP.end,
    i32(0),
    set(SBOFF),
    forLoop(SB, get(SFULL), [philoxX4(), storeX4(), inc(SBOFF, 16)].flat(Infinity as 1) as number[]),
    inc(SQ, 4),
  ];
  const body = [
    get(OUT),
    set(SPTR),
    get(M),
    i32(2),
    OP.i32ShrU,
    set(SFULL),
    get(M),
    i32(3),
    OP.i32And,
    set(STAIL),
    get(M),
    i32(2),
    OP.i32Shl,
    set(SSTRIDE),
    get(COUNT),
    get(ROWS),
    OP.i32Mul,
    set(STOTAL),
    i32(0),
    set(SQ),
    OP.block,
    VOID,
    OP.loop,
    VOID,
    get(SQ),
    get(STOTAL),
    OP.i32GeU,
    OP.brIf,
    1,
    group,
    OP.br,
    0,
    OP.end,
    OP.end,
  ];
  const locals = vec([
    [...uleb(SI32_LOCALS), I32],
    [...uleb(V128_LOCALS), V128],
  ]);
  return moduleOf([locals, body, OP.end].flat(Infinity as 1) as number[]);
}

/** Floats written per kernel call at most (4 MiB of wasm memory), unless one row is longer. */
const CHUNK_FLOATS = 1 << 20;

/** A compiled kernel with its own memory; free it with {@link BernoulliKernel.dispose}. */
export interface BernoulliKernel {
  /**
   * Masks for samples firstSample… (count) × rows firstRow… (rows) × m elements into `out`
   * (row-major), with the JavaScript sampler's values. `threshold` = ⌈p·2³² − ½⌉ < 2³².
   */
  fill(
    out: Float32Array,
    m: number,
    rows: number,
    firstRow: number,
    firstSample: number,
    count: number,
    site: number,
    k0: number,
    k1: number,
    threshold: number,
    keep: number,
  ): void;
  /** Whether it is the SIMD build (four rows a pass) rather than the scalar one. */
  readonly simd: boolean;
  /** Bytes of WebAssembly memory it holds (0 once disposed). */
  readonly memoryBytes: number;
  /** Drop its instance and memory (for the garbage collector); `fill` afterwards is E_INTERNAL. Safe twice. */
  dispose(): void;
}

function build(bytes: Uint8Array<ArrayBuffer>, simd: boolean): BernoulliKernel {
  // the SIMD build writes whole groups of four rows and whole last blocks: up to 3 rows and 3
  // floats past the request, in its own memory (not copied out)
  const slack = (m: number): number => (simd ? 3 * m + 4 : 0);
  let memory: WebAssembly.Memory | null = new WebAssembly.Memory({ initial: 1 });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  let kernel: ((...args: number[]) => void) | null = instance.exports['fill'] as (...args: number[]) => void;
  const ensure = (mem: WebAssembly.Memory, floats: number): void => {
    const bytes = floats * 4;
    if (mem.buffer.byteLength < bytes) mem.grow(Math.ceil((bytes - mem.buffer.byteLength) / 65536));
  };
  return {
    simd,
    get memoryBytes() {
      return memory?.buffer.byteLength ?? 0;
    },
    dispose() {
      memory = null;
      kernel = null;
    },
    fill(out, m, rows, firstRow, firstSample, count, site, k0, k1, threshold, keep) {
      const mem = memory;
      const run1 = kernel;
      if (mem === null || run1 === null) {
        throw new McuError(
          'E_INTERNAL',
          'the WebAssembly Bernoulli kernel was used after dispose(); draw masks through a live sampler (a disposed Mcu cannot run)',
        );
      }
      if (m === 0 || rows === 0 || count === 0) return;
      const perSample = rows * m;
      let o = 0;
      const run = (r0: number, nRows: number, c0: number, nSamples: number): void => {
        const n = nRows * nSamples * m;
        ensure(mem, n + slack(m));
        run1(0, m, nRows, firstRow + r0, firstSample + c0, nSamples, site, k0, k1, threshold | 0, keep);
        out.set(new Float32Array(mem.buffer, 0, n), o);
        o += n;
      };
      if (perSample <= CHUNK_FLOATS) {
        const step = Math.floor(CHUNK_FLOATS / perSample);
        for (let c = 0; c < count; c += step) run(0, rows, c, Math.min(step, count - c));
      } else {
        const step = Math.max(1, Math.floor(CHUNK_FLOATS / m));
        for (let c = 0; c < count; c++) for (let r = 0; r < rows; r += step) run(r, Math.min(step, rows - r), c, 1);
      }
    },
  };
}

/**
 * A new kernel with its own memory: the SIMD build where this WebAssembly has SIMD (unless
 * `simd: false`), else the scalar one; null where WebAssembly cannot run either (the caller keeps
 * its JavaScript path). Both give the same values.
 */
export function createBernoulliKernel(options: { readonly simd?: boolean } = {}): BernoulliKernel | null {
  if (typeof WebAssembly !== 'object') return null;
  try {
    const simd = options.simd === false ? null : simdKernelBytes();
    if (simd !== null) return build(simd, true);
  } catch {
    // no SIMD build here: the scalar one
  }
  try {
    return build(kernelBytes(), false);
  } catch {
    return null;
  }
}

/**
 * One kernel, built on first use and owned by the holder of the slot (an engine shares its slot
 * with the samplers it makes; a sampler made on its own has its own slot). After `dispose()` the
 * slot frees the kernel and gives null, so a late caller takes the JavaScript path (same values).
 */
export class BernoulliKernelSlot {
  #kernel: BernoulliKernel | null | undefined;
  #disposed = false;
  readonly #options: { readonly simd?: boolean };

  /** `simd: false`: the scalar build even where SIMD runs (to compare the two; same values). */
  constructor(options: { readonly simd?: boolean } = {}) {
    this.#options = options;
  }

  /** The kernel (built now if this is the first call), or null where WebAssembly cannot run or after dispose. */
  get(): BernoulliKernel | null {
    if (this.#disposed) return null;
    if (this.#kernel === undefined) this.#kernel = createBernoulliKernel(this.#options);
    return this.#kernel;
  }

  /** Whether a kernel has been built (and not disposed). */
  get built(): boolean {
    return this.#kernel != null;
  }

  /** Bytes of WebAssembly memory its kernel holds (0 before first use and after dispose). */
  get memoryBytes(): number {
    return this.#kernel?.memoryBytes ?? 0;
  }

  /** Free the kernel; later `get()` calls give null. Safe twice. */
  dispose(): void {
    this.#disposed = true;
    this.#kernel?.dispose();
    this.#kernel = null;
  }
}

/** ⌈p·2³² − ½⌉: a uint32 word w maps to "dropped" exactly when w < it, i.e. (w + ½)·2⁻³² < p. */
export function bernoulliThreshold(p: number): number {
  return Math.ceil(p * 4294967296 - 0.5);
}
