import { McuError } from '../errors.js';
import type { StochasticSite } from '../model.js';
import { formatDims, sizeOf, type TensorData } from '../tensor.js';
import type { MaskRequest, Sampler } from './sampler.js';
import { describeValue, validateRequest } from './seeded.js';

interface StoredMasks {
  readonly site: StochasticSite;
  /** Values converted to float32 (and copied, so later edits by the caller change nothing). */
  readonly data: Float32Array;
  /** Masks per sample: 1 (shared by every row) or N (one per row). */
  readonly perSample: number;
  /** prod(maskShape). */
  readonly size: number;
  readonly dims: readonly number[];
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function expectedDims(site: StochasticSite, t: string = 'T'): string {
  return formatDims([t, '1 or N', ...site.maskShape]);
}

/**
 * Replays masks given by the user instead of drawing them: for each site a tensor of dims
 * [T, R, ...maskShape] with R = 1 (one mask per sample, shared by every row) or R = N (one mask
 * per input row), float32 or float64. Every site must have the same T.
 *
 * Bernoulli masks must be finite and ≥ 0; Gaussian masks (multiplicative noise N(1, σ²), which
 * is negative with positive probability) must be finite.
 */
export class ReplaySampler implements Sampler {
  /** T: how many MC samples the masks hold. 0 when there are no sites. */
  readonly samples: number;
  readonly description: string;
  readonly #bySite = new Map<string, StoredMasks>();

  constructor(masks: Readonly<Record<string, TensorData>>, sites: readonly StochasticSite[]) {
    if (masks === null || typeof masks !== 'object' || Array.isArray(masks)) {
      throw new McuError('E_MASK', `masks must be an object mapping each site name to a tensor, got ${describeValue(masks)}`);
    }
    const siteNames = sites.map((s) => s.name);
    const list = siteNames.length > 0 ? siteNames.map((n) => `"${n}"`).join(', ') : '(none)';
    for (const name of Object.keys(masks)) {
      if (!siteNames.includes(name)) {
        throw new McuError(
          'E_MASK',
          `masks given for "${name}", which is not a stochastic site of this model; ` +
            `expected masks for exactly the sites ${list} — remove or rename "${name}"`,
        );
      }
    }
    let samples: number | undefined;
    let firstSite = '';
    for (const site of sites) {
      const t = Object.hasOwn(masks, site.name) ? masks[site.name] : undefined;
      if (t === undefined) {
        throw new McuError(
          'E_MASK',
          `no masks given for site "${site.name}": expected a tensor of dims ${expectedDims(site)} ` +
            `for each of the sites ${list}; add an entry for "${site.name}"`,
        );
      }
      const stored = ReplaySampler.#check(site, t);
      const tCount = stored.dims[0]!;
      if (samples === undefined) {
        samples = tCount;
        firstSite = site.name;
      } else if (tCount !== samples) {
        throw new McuError(
          'E_MASK',
          `site "${site.name}" has masks for ${tCount} samples but site "${firstSite}" has ${samples}; ` +
            `every site needs the same number of samples T (the first dimension)`,
        );
      }
      this.#bySite.set(site.name, stored);
    }
    this.samples = samples ?? 0;
    this.description = `replay of ${this.samples} user-given mask sample${this.samples === 1 ? '' : 's'} for ${sites.length} site${sites.length === 1 ? '' : 's'}`;
  }

  static #check(site: StochasticSite, t: TensorData): StoredMasks {
    const name = site.name;
    if (t === null || typeof t !== 'object' || !Array.isArray(t.dims) || t.data === undefined) {
      throw new McuError(
        'E_MASK',
        `masks of site "${name}" must be a tensor { dtype, data, dims } of dims ${expectedDims(site)}, ` + `got ${describeValue(t)}`,
      );
    }
    if (t.dtype !== 'float32' && t.dtype !== 'float64') {
      throw new McuError('E_MASK', `masks of site "${name}" must be float32 or float64, got ${describeValue(t.dtype)}; convert them to floats`);
    }
    const dims = t.dims;
    const rank = site.maskShape.length + 2;
    if (dims.length !== rank || !dims.every((d) => Number.isSafeInteger(d) && d >= 0) || !sameShape(dims.slice(2), site.maskShape)) {
      throw new McuError(
        'E_MASK',
        `masks of site "${name}" must have dims ${expectedDims(site)} (T samples, R = 1 mask per sample ` +
          `or N = one per input row, then the site's mask shape ${formatDims(site.maskShape)}), ` +
          `got ${formatDims(dims)}; reshape them to match`,
      );
    }
    if (dims[0]! < 1 || dims[1]! < 1) {
      throw new McuError(
        'E_MASK',
        `masks of site "${name}" must hold at least one sample and one row (dims ${expectedDims(site)} ` + `with T ≥ 1 and R ≥ 1), got ${formatDims(dims)}`,
      );
    }
    const n = sizeOf(dims);
    if (t.data.length !== n) {
      throw new McuError('E_MASK', `masks of site "${name}" have dims ${formatDims(dims)}, which need ${n} values, but hold ${t.data.length}`);
    }
    const data = new Float32Array(n);
    const src = t.data as Float32Array | Float64Array;
    const size = sizeOf(site.maskShape);
    const rowsPer = dims[1]!;
    const allowNegative = site.kind === 'gaussian' || site.kind === 'additive';
    for (let k = 0; k < n; k++) {
      const v = src[k]!;
      const f = Math.fround(v);
      if (!Number.isFinite(f) || (!allowNegative && v < 0)) {
        const where = size === 0 ? k : k % size;
        const r = Math.floor(k / size) % rowsPer;
        const s = Math.floor(k / (size * rowsPer));
        const problem = !Number.isFinite(v) ? 'is not finite' : !Number.isFinite(f) ? 'overflows float32' : 'is negative';
        throw new McuError(
          'E_MASK',
          `masks of site "${name}": value ${v} at sample ${s}, row ${r}, element ${where} ${problem}; ` +
            `expected finite ${allowNegative ? 'values' : 'values ≥ 0 (a dropout mask is 0 for a dropped unit, the keep scale otherwise)'} — fix that entry`,
        );
      }
      data[k] = f;
    }
    return { site, data, perSample: rowsPer, size, dims: [...dims] };
  }

  sample(req: MaskRequest): TensorData {
    validateRequest(req);
    const name = req.site.name;
    const stored = this.#bySite.get(name);
    if (stored === undefined) {
      throw new McuError(
        'E_MASK',
        `no replayed masks for site "${name}"; masks were given for ${[...this.#bySite.keys()].map((n) => `"${n}"`).join(', ') || 'no sites'}`,
      );
    }
    if (!sameShape(req.site.maskShape, stored.site.maskShape)) {
      throw new McuError(
        'E_MASK',
        `site "${name}" asks for masks of shape ${formatDims(req.site.maskShape)}, but the replayed masks ` + `have shape ${formatDims(stored.site.maskShape)}`,
      );
    }
    const { firstSample, count, scope } = req;
    if (firstSample + count > this.samples) {
      throw new McuError(
        'E_MASK',
        `asked for samples ${firstSample}..${firstSample + count - 1} of site "${name}", but only ` +
          `${this.samples} mask sample${this.samples === 1 ? ' was' : 's were'} given; run with at most ` +
          `${this.samples} samples or give more masks`,
      );
    }
    const { size, perSample, data } = stored;
    if (scope === 'sample') {
      if (perSample !== 1) {
        throw new McuError(
          'E_MASK',
          `site "${name}" was given per-row masks (dims ${formatDims(stored.dims)}, R = ${perSample}), which ` +
            `need mask scope "point"; use scope "point", or give masks of dims ${formatDims([stored.dims[0]!, 1, ...stored.site.maskShape])}`,
        );
      }
      const out = data.slice(firstSample * size, (firstSample + count) * size);
      return { dtype: 'float32', data: out, dims: [count, 1, ...stored.site.maskShape] };
    }
    const rows = req.rows;
    const dims = [count, rows, ...stored.site.maskShape];
    if (perSample === rows) {
      const out = data.slice(firstSample * rows * size, (firstSample + count) * rows * size);
      return { dtype: 'float32', data: out, dims };
    }
    if (perSample !== 1) {
      throw new McuError(
        'E_MASK',
        `site "${name}" was given ${perSample} masks per sample (dims ${formatDims(stored.dims)}), but this run ` +
          `has ${rows} input row${rows === 1 ? '' : 's'}: expected dims ${formatDims([stored.dims[0]!, `1 or ${rows}`, ...stored.site.maskShape])}; ` +
          `give one mask per input row, or one per sample`,
      );
    }
    // R = 1 asked for as `point`: broadcast each sample's mask to every row.
    const out = new Float32Array(count * rows * size);
    for (let c = 0; c < count; c++) {
      const src = data.subarray((firstSample + c) * size, (firstSample + c + 1) * size);
      for (let i = 0; i < rows; i++) out.set(src, (c * rows + i) * size);
    }
    return { dtype: 'float32', data: out, dims };
  }
}

/**
 * Build a {@link ReplaySampler} from the CLI's JSON shape: one entry per site, in site order;
 * each entry an array of mask rows (one per input row), each row the flat values of that row's
 * mask (length prod(maskShape)). Gives T = 1 sample and R = N masks per sample.
 */
export function replayFromRows(sites: readonly StochasticSite[], rowsPerSite: number[][][]): ReplaySampler {
  if (!Array.isArray(rowsPerSite) || rowsPerSite.length !== sites.length) {
    const got = Array.isArray(rowsPerSite) ? `${rowsPerSite.length} entries` : describeValue(rowsPerSite);
    throw new McuError(
      'E_MASK',
      `masks must be a list with one entry per stochastic site, in site order ` +
        `(${sites.length}: ${sites.map((s) => `"${s.name}"`).join(', ') || 'none'}), got ${got}`,
    );
  }
  const masks: Record<string, TensorData> = {};
  let rowsSeen: number | undefined;
  sites.forEach((site, s) => {
    const entry: unknown = rowsPerSite[s];
    const size = sizeOf(site.maskShape);
    if (!Array.isArray(entry) || entry.length === 0) {
      throw new McuError(
        'E_MASK',
        `masks for site "${site.name}" (entry ${s}) must be a non-empty list of mask rows, one per input row, ` +
          `each a list of ${size} numbers; got ${describeValue(entry)}`,
      );
    }
    if (rowsSeen === undefined) rowsSeen = entry.length;
    else if (entry.length !== rowsSeen) {
      throw new McuError(
        'E_MASK',
        `masks for site "${site.name}" (entry ${s}) have ${entry.length} rows, but site "${sites[0]!.name}" has ` +
          `${rowsSeen}; give one mask row per input row for every site`,
      );
    }
    const values = new Float64Array(entry.length * size);
    entry.forEach((row: unknown, i: number) => {
      if (!Array.isArray(row) || row.length !== size) {
        const got = Array.isArray(row) ? `${row.length} values` : describeValue(row);
        throw new McuError(
          'E_MASK',
          `mask row ${i} of site "${site.name}" must be a flat list of ${size} numbers ` + `(mask shape ${formatDims(site.maskShape)} flattened), got ${got}`,
        );
      }
      row.forEach((v: unknown, j: number) => {
        if (typeof v !== 'number') {
          throw new McuError('E_MASK', `mask row ${i} of site "${site.name}": element ${j} must be a number, got ${describeValue(v)}`);
        }
        values[i * size + j] = v;
      });
    });
    masks[site.name] = { dtype: 'float64', data: values, dims: [1, entry.length, ...site.maskShape] };
  });
  return new ReplaySampler(masks, sites);
}
