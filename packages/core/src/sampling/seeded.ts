import { McuError } from '../errors.js';
import type { DropoutScaling, StochasticSite } from '../model.js';
import { formatDims, sizeOf, type TensorData } from '../tensor.js';
import { BernoulliKernelSlot, bernoulliThreshold } from './bernoulli-wasm.js';
import { philox4x32Fill, TWO_POW_M32 } from './philox.js';
import type { MaskRequest, Sampler, SamplerFactory, SamplerOptions } from './sampler.js';

const TWO_POW_32 = 4294967296;
const TWO_PI = 2 * Math.PI;

/** Render a value received from a user (config, JSON) for an error message. */
export function describeValue(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return JSON.stringify(v);
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    return String(v);
  }
}

/**
 * Check that a seed is a non-negative safe integer (0 ≤ seed < 2^53) and split it into the
 * Philox key [low 32 bits, high 21 bits].
 */
export function seedToKey(seed: unknown): [number, number] {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw new McuError(
      'E_CONFIG',
      `seed must be a non-negative integer below 2^53 (0 ≤ seed ≤ ${Number.MAX_SAFE_INTEGER}), ` +
        `got ${describeValue(seed)}${typeof seed === 'number' ? '' : ` (a ${typeof seed})`}; ` +
        `pass a whole number such as --seed 42`,
    );
  }
  return [(seed % TWO_POW_32) >>> 0, Math.floor(seed / TWO_POW_32) >>> 0];
}

/**
 * Check what a sampler needs of a site: a known kind and scaling, rate p ∈ [0, 1) and a mask
 * shape of non-negative integers. Throws McuError('E_SITE').
 */
export function validateSite(site: StochasticSite): void {
  const name = typeof site?.name === 'string' ? site.name : describeValue(site?.name);
  if (site.kind !== 'bernoulli' && site.kind !== 'gaussian' && site.kind !== 'alpha' && site.kind !== 'additive') {
    throw new McuError('E_SITE', `site "${name}": kind must be "bernoulli", "gaussian", "alpha" or "additive", got ${describeValue(site.kind)}`);
  }
  if (site.kind === 'additive' && !(typeof site.stddev === 'number' && Number.isFinite(site.stddev) && site.stddev > 0)) {
    throw new McuError('E_SITE', `site "${name}": an additive (Gaussian noise) site needs stddev σ > 0, got ${describeValue(site.stddev)}`);
  }
  const p = site.rate;
  if (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p >= 1) {
    throw new McuError(
      'E_SITE',
      `site "${name}": rate must be a number in [0, 1) (the drop probability p), got ${describeValue(p)}; ` +
        `a rate of 1 would drop every unit — use a rate below 1`,
    );
  }
  if (site.scaling !== undefined && site.scaling !== 'inverted' && site.scaling !== 'none') {
    throw new McuError('E_SITE', `site "${name}": scaling must be "inverted" or "none", got ${describeValue(site.scaling)}`);
  }
  const shape = site.maskShape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new McuError(
      'E_SITE',
      `site "${name}": maskShape must be a list of non-negative integers (the mask of one input row, ` +
        `without the batch axis, e.g. [512] or [64, 1, 1]), got ${describeValue(shape)}`,
    );
  }
}

/** Check the integer fields of a request (a malformed request is a bug in the caller). */
export function validateRequest(req: MaskRequest): void {
  for (const key of ['siteIndex', 'firstSample', 'count', 'rows'] as const) {
    const v = req[key];
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new McuError('E_INTERNAL', `mask request for site "${req.site?.name}": ${key} must be a non-negative integer, got ${describeValue(v)}`);
    }
  }
  if (req.scope !== 'sample' && req.scope !== 'point') {
    throw new McuError('E_INTERNAL', `mask request for site "${req.site?.name}": scope must be "sample" or "point", got ${describeValue(req.scope)}`);
  }
}

/** keep value of a Bernoulli site: 1/(1−p) for `inverted`, 1 for `none`. */
export function keepValue(rate: number, scaling: DropoutScaling | undefined): number {
  return (scaling ?? 'inverted') === 'none' ? 1 : 1 / (1 - rate);
}

/**
 * Masks from Philox4x32-10, keyed by the seed. Element j (flat index within one row's mask) of
 * row i (0 for scope `sample`; global row index for `point`), global sample t and site s takes
 * k consecutive words of the block with counter [⌊j·k/4⌋, i, t, s], starting at word (j·k) mod 4
 * (k = 1 for Bernoulli, 2 for Gaussian: every word of a block is used). So a value never depends
 * on chunking, call order or backend, and the `sample`-scope mask of sample t is the
 * `point`-scope mask of (t, row 0).
 *
 * - Bernoulli: u = (w + 0.5)/2^32; mask = u < p ? 0 : keep (keep = 1/(1−p), or 1 for `none`).
 * - Alpha: the same draw with keep = 1 (keep indicators; the backend applies the affine correction).
 * - Gaussian: mask = 1 + σz, σ² = p/(1−p), z = sqrt(−2 ln u1)·cos(2π u2) from the word pair.
 * - rate 0: all ones.
 */
export class SeededSampler implements Sampler {
  readonly seed: number;
  readonly description: string;
  readonly #k0: number;
  readonly #k1: number;
  readonly #useWasm: boolean;
  readonly #kernel: BernoulliKernelSlot;

  constructor(options: SamplerOptions) {
    const seed: unknown = (options as SamplerOptions | undefined)?.seed;
    [this.#k0, this.#k1] = seedToKey(seed);
    this.seed = seed as number;
    this.description = `philox4x32-10 (seed ${this.seed})`;
    this.#useWasm = options.wasm ?? true;
    this.#kernel = options.kernel ?? new BernoulliKernelSlot();
  }

  sample(req: MaskRequest): TensorData {
    validateRequest(req);
    const site = req.site;
    validateSite(site);
    const { firstSample, count, siteIndex, scope } = req;
    const rows = scope === 'point' ? req.rows : 1;
    // Row counters are global (firstRow + i), so a run split into row batches draws the same masks.
    const firstRow = scope === 'point' ? (req.firstRow ?? 0) : 0;
    if (!(Number.isInteger(firstRow) && firstRow >= 0)) {
      throw new McuError('E_INTERNAL', `firstRow must be an integer ≥ 0, got ${firstRow}`);
    }
    const m = sizeOf(site.maskShape);
    const dims = [count, rows, ...site.maskShape];
    if (firstSample + count > TWO_POW_32 || firstRow + rows > TWO_POW_32 || m > TWO_POW_32 || siteIndex >= TWO_POW_32) {
      throw new McuError(
        'E_CONFIG',
        `site "${site.name}": masks of dims ${formatDims(dims)} from sample ${firstSample} exceed the ` +
          `generator's counter range (each of sample index, row, element and site index must stay below 2^32); ` +
          `use fewer samples or rows`,
      );
    }
    const out = new Float32Array(count * rows * m);
    const p = site.rate;
    if (site.kind === 'additive') {
      this.#gaussian(out, site.stddev!, m, rows, firstRow, firstSample, count, siteIndex, 0);
      return { dtype: 'float32', data: out, dims };
    }
    if (p === 0) {
      out.fill(1);
      return { dtype: 'float32', data: out, dims };
    }
    // Alpha sites take keep indicators {0, 1}: the backend applies AlphaDropout's affine correction.
    if (site.kind === 'bernoulli' || site.kind === 'alpha') {
      this.#bernoulli(out, p, site.kind === 'alpha' ? 1 : keepValue(p, site.scaling), m, rows, firstRow, firstSample, count, siteIndex);
    } else this.#gaussian(out, Math.sqrt(p / (1 - p)), m, rows, firstRow, firstSample, count, siteIndex);
    return { dtype: 'float32', data: out, dims };
  }

  /**
   * The one counter walk: for every (sample, row) fill `words` with the Philox blocks
   * [0 … ⌈m·k/4⌉), counter [block, firstRow + i, t, s]; element j reads its k words from
   * position j·k (all four words of a block are used).
   */
  #walk(
    m: number,
    k: number,
    rows: number,
    firstRow: number,
    firstSample: number,
    count: number,
    s: number,
    each: (words: Uint32Array, o: number) => void,
  ): void {
    const blocks = Math.ceil((m * k) / 4);
    const words = new Uint32Array(blocks * 4);
    let o = 0;
    for (let c = 0; c < count; c++) {
      for (let i = 0; i < rows; i++) {
        philox4x32Fill(words, blocks, 0, firstRow + i, firstSample + c, s, this.#k0, this.#k1);
        each(words, o);
        o += m;
      }
    }
  }

  #bernoulli(out: Float32Array, p: number, keep: number, m: number, rows: number, firstRow: number, firstSample: number, count: number, s: number): void {
    // The WebAssembly kernel gives the same values (tested bit for bit); JS where it cannot run.
    const threshold = bernoulliThreshold(p);
    const wasm = this.#useWasm && threshold < TWO_POW_32 ? this.#kernel.get() : null;
    if (wasm !== null) {
      wasm.fill(out, m, rows, firstRow, firstSample, count, s, this.#k0, this.#k1, threshold, keep);
      return;
    }
    // u < p  ⇔  (w + 0.5)·2^−32 < p; compare on u exactly as specified.
    this.#walk(m, 1, rows, firstRow, firstSample, count, s, (w, o) => {
      for (let j = 0; j < m; j++) out[o + j] = (w[j]! + 0.5) * TWO_POW_M32 < p ? 0 : keep;
    });
  }

  /** Box–Muller from two counter words per element: `centre + σ·z` (1 for multiplicative noise, 0 for additive). */
  #gaussian(out: Float32Array, sigma: number, m: number, rows: number, firstRow: number, firstSample: number, count: number, s: number, centre = 1): void {
    this.#walk(m, 2, rows, firstRow, firstSample, count, s, (w, o) => {
      for (let j = 0; j < m; j++) {
        const u1 = (w[2 * j]! + 0.5) * TWO_POW_M32;
        const u2 = (w[2 * j + 1]! + 0.5) * TWO_POW_M32;
        out[o + j] = centre + sigma * Math.sqrt(-2 * Math.log(u1)) * Math.cos(TWO_PI * u2);
      }
    });
  }
}

/** The default {@link SamplerFactory}: a {@link SeededSampler} for the given seed. */
export const createSeededSampler: SamplerFactory = (options: SamplerOptions): Sampler => new SeededSampler(options);
