/**
 * Bernoulli masks from Philox4x32-10 in WebAssembly: the same values as the JavaScript path in
 * seeded.ts, bit for bit, about twice as fast — WebAssembly multiplies 32×32 → 64 bits natively,
 * where JavaScript assembles the high word from 16-bit halves. Per-point masks (one per row and
 * sample) make mask generation the larger part of a run on wide networks, so this is their path.
 *
 * The module is small (under 2 KB) and is assembled here, instruction by instruction, from the
 * WebAssembly binary format (no build step, no binary file); it is compiled synchronously on
 * first use. Where WebAssembly is unavailable, {@link createBernoulliKernel} returns null and the
 * caller keeps its JavaScript path.
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
 * ⌈p·2³² − ½⌉ that is exactly the JavaScript rule (word + ½)·2⁻³² < p.
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
  i32LtU: 0x49,
  i32GeU: 0x4f,
  i32Add: 0x6a,
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
 * The module's bytes: a constant, assembled once on first use (≈5 ms; compiling them takes
 * ≈0.1 ms), never mutated. Only these immutable bytes are shared — every kernel compiles its own
 * instance with its own memory.
 */
let moduleBytes: Uint8Array<ArrayBuffer> | undefined;

function kernelBytes(): Uint8Array<ArrayBuffer> {
  moduleBytes ??= assemble();
  return moduleBytes;
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
  const params = [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, F32];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec([[0x60, ...vec(params.map((t) => [t])), 0]])), // type: (params) → ()
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x01]])), // import memory, min 1 page
    ...section(3, vec([[0]])), // one function of type 0
    ...section(7, vec([[...name('fill'), 0x00, 0]])), // export it
    ...section(10, vec([[...uleb(code.length), ...code]])),
  ]);
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
  /** Bytes of WebAssembly memory it holds (0 once disposed). */
  readonly memoryBytes: number;
  /** Drop its instance and memory (for the garbage collector); `fill` afterwards is E_INTERNAL. Safe twice. */
  dispose(): void;
}

function build(): BernoulliKernel {
  let memory: WebAssembly.Memory | null = new WebAssembly.Memory({ initial: 1 });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(kernelBytes()), { env: { memory } });
  let kernel: ((...args: number[]) => void) | null = instance.exports['fill'] as (...args: number[]) => void;
  const ensure = (mem: WebAssembly.Memory, floats: number): void => {
    const bytes = floats * 4;
    if (mem.buffer.byteLength < bytes) mem.grow(Math.ceil((bytes - mem.buffer.byteLength) / 65536));
  };
  return {
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
        ensure(mem, n);
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

/** A new kernel with its own memory; null where WebAssembly cannot run it (the caller keeps its JavaScript path). */
export function createBernoulliKernel(): BernoulliKernel | null {
  try {
    return typeof WebAssembly === 'object' ? build() : null;
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

  /** The kernel (built now if this is the first call), or null where WebAssembly cannot run or after dispose. */
  get(): BernoulliKernel | null {
    if (this.#disposed) return null;
    if (this.#kernel === undefined) this.#kernel = createBernoulliKernel();
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
