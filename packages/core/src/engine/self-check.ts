/**
 * The self-check that makes silent sample mixing impossible: before a model's first real run,
 * run it once on 2 rows × 2 samples (independent masks for every sample and row) and compare
 * every sample-row pair with that same sample and row run alone. A graph that lets samples
 * or rows interact — a rewrite that reshapes samples into rows, an exporter's fixed batch
 * size, a layer that normalises over the batch — gives different numbers and is refused
 * before it yields any statistics.
 */
import { McuError } from '../errors.js';
import type { MixingProbe, StochasticModel, StochasticSite } from '../model.js';
import type { BernoulliKernelSlot } from '../sampling/bernoulli-wasm.js';
import { SeededSampler } from '../sampling/seeded.js';
import { sizeOf, type NamedTensors, type TensorData } from '../tensor.js';

/** Relative to the largest magnitude of an output (plus {@link ABSOLUTE_TOLERANCE}): float noise between batch sizes is ~1e-7 of it; mixing is O(1). */
export const RELATIVE_TOLERANCE = 1e-4;
export const ABSOLUTE_TOLERANCE = 1e-6;
const CHECK_SEED = 0x5e1f;
const SAMPLES = 2;
const ROWS = 2;

export interface SelfCheckReport {
  readonly passed: true;
  /** Rows and samples of the joint run. */
  readonly rows: number;
  readonly samples: number;
  /** Largest |joint − alone| over all outputs and pairs, and the tolerance of that output. */
  readonly maxDifference: number;
  readonly tolerance: number;
  /** True when an earlier check of the same prepared model (hash) and input shapes is reused. */
  readonly cached: boolean;
}

/**
 * The checks that passed, by prepared model (its hash, so that two loads of one file share a
 * check) and input shapes. One per engine — so one per `createMcu` — never per process: two Mcu
 * instances check for themselves, and disposing one forgets its checks.
 */
export class SelfCheckMemo {
  readonly #byHash = new Map<string, SelfCheckReport>();
  #byModel = new WeakMap<StochasticModel, Map<string, SelfCheckReport>>();

  /** The passed check of `model` (or of a model with the same hash) on inputs shaped as `feeds`. */
  get(model: StochasticModel, feeds: NamedTensors): SelfCheckReport | undefined {
    const sig = signature(feeds);
    return (model.hash !== undefined ? this.#byHash.get(`${model.hash}|${sig}`) : undefined) ?? this.#byModel.get(model)?.get(sig);
  }

  /** Remember a passed check of `model` on inputs shaped as `feeds`. */
  set(model: StochasticModel, feeds: NamedTensors, report: SelfCheckReport): void {
    const sig = signature(feeds);
    if (model.hash !== undefined) this.#byHash.set(`${model.hash}|${sig}`, report);
    let m = this.#byModel.get(model);
    if (!m) this.#byModel.set(model, (m = new Map()));
    m.set(sig, report);
  }

  /** Checks remembered by hash (models without a hash are held weakly and not counted). */
  get size(): number {
    return this.#byHash.size;
  }

  /** Forget every check. */
  clear(): void {
    this.#byHash.clear();
    this.#byModel = new WeakMap();
  }
}

/** Options of {@link selfCheck}. */
export interface SelfCheckOptions {
  /** Where passed checks are remembered and looked up; omitted: the check always runs. */
  readonly memo?: SelfCheckMemo;
  /** false: run even when `memo` holds a passed check (default true). */
  readonly cache?: boolean;
  /** The WebAssembly kernel for the check's masks (an engine passes its own). */
  readonly kernel?: BernoulliKernelSlot;
}

/** The check depends on the prepared graph and the inputs' per-row shapes, not on their values. */
function signature(feeds: NamedTensors): string {
  return Object.keys(feeds)
    .sort()
    .map((k) => `${k}:${feeds[k]!.dtype}[${feeds[k]!.dims.slice(1).join(',')}]`)
    .join(';');
}

function rowsOf(t: TensorData, pick: readonly number[]): TensorData {
  const n = t.dims[0]!;
  const per = n === 0 ? 0 : t.data.length / n;
  type Indexed = { [i: number]: number | bigint };
  const Ctor = t.data.constructor as new (len: number) => TensorData['data'];
  const out = new Ctor(pick.length * per);
  const src = t.data as unknown as Indexed;
  const dst = out as unknown as Indexed;
  pick.forEach((r, k) => {
    for (let j = 0; j < per; j++) dst[k * per + j] = src[r * per + j]!;
  });
  return { dtype: t.dtype, data: out, dims: [pick.length, ...t.dims.slice(1)] };
}

function pickFeeds(feeds: NamedTensors, pick: readonly number[]): NamedTensors {
  const out: NamedTensors = {};
  for (const [k, t] of Object.entries(feeds)) out[k] = rowsOf(t, pick);
  return out;
}

/** Masks of sample t, row i out of a [S, R, ...] point-scope mask: [1, 1, ...]. */
function maskOf(m: TensorData, t: number, i: number, rows: number): TensorData {
  const per = sizeOf(m.dims.slice(2));
  const start = (t * rows + i) * per;
  return { dtype: 'float32', data: (m.data as Float32Array).slice(start, start + per), dims: [1, 1, ...m.dims.slice(2)] };
}

/** Check masks: every sample and row gets its own, with drop rate ½ so that they differ a lot. */
function checkSites(sites: readonly StochasticSite[]): StochasticSite[] {
  return sites.map((s) => (s.kind === 'gaussian' || s.kind === 'additive' ? s : { ...s, rate: 0.5 }));
}

function compare(a: TensorData, b: TensorData, offset: number, per: number): { diff: number; scale: number } {
  let diff = 0;
  let scale = 0;
  for (let j = 0; j < per; j++) {
    const x = Number(a.data[offset + j]);
    const y = Number(b.data[j]);
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    const d = Math.abs(x - y);
    if (!(d <= diff)) diff = Number.isNaN(d) ? Infinity : d;
    if (Math.abs(x) > scale) scale = Math.abs(x);
  }
  return { diff, scale };
}

/**
 * Run the self-check for `model` on (up to) the first two rows of `feeds` — the only row is
 * used twice when there is one: its two copies still get different masks, so mixing shows.
 * Throws McuError('E_UNSUPPORTED') naming the output, the pair and, where the backend can tell,
 * the first node where samples mix. With `options.memo`, a passed check is remembered there per
 * prepared model (its hash) and input shapes, and reused (`cached: true`).
 */
export async function selfCheck(
  model: StochasticModel,
  feeds: NamedTensors,
  sites: readonly StochasticSite[],
  options: SelfCheckOptions = {},
): Promise<SelfCheckReport> {
  const hit = (options.cache ?? true) ? options.memo?.get(model, feeds) : undefined;
  if (hit) return { ...hit, cached: true };

  const n = Object.values(feeds)[0]?.dims[0] ?? 0;
  const pick = n >= ROWS ? [0, 1] : [0, 0];
  const joint = pickFeeds(feeds, pick);
  const sampler = new SeededSampler({ seed: CHECK_SEED, kernel: options.kernel });
  const masks: Record<string, TensorData> = {};
  checkSites(sites).forEach((site, siteIndex) => {
    masks[site.name] = sampler.sample({ site, siteIndex, firstSample: 0, count: SAMPLES, rows: ROWS, scope: 'point' });
  });
  const out = await model.run(joint, masks, { samples: SAMPLES, scope: 'point' });
  const singles: { sample: number; row: number; feeds: NamedTensors; masks: NamedTensors }[] = [];
  for (let t = 0; t < SAMPLES; t++) {
    for (let i = 0; i < ROWS; i++) {
      const m: Record<string, TensorData> = {};
      for (const site of sites) m[site.name] = maskOf(masks[site.name]!, t, i, ROWS);
      singles.push({ sample: t, row: i, feeds: pickFeeds(joint, [i]), masks: m });
    }
  }
  let maxDifference = 0;
  let worstTolerance = ABSOLUTE_TOLERANCE;
  for (const single of singles) {
    const alone = await model.run(single.feeds, single.masks, { samples: 1, scope: 'point' });
    for (const spec of model.outputs) {
      const a = out[spec.name];
      const b = alone[spec.name];
      if (a === undefined || b === undefined) continue;
      const rowsA = a.dims[0]!;
      if (rowsA !== SAMPLES * ROWS || b.dims[0] !== 1 || a.data.length !== rowsA * b.data.length) {
        throw new McuError(
          'E_UNSUPPORTED',
          `self-check: output '${spec.name}' has dims [${a.dims.join(', ')}] for ${SAMPLES} samples × ${ROWS} rows and [${b.dims.join(', ')}] for one; ` +
            `expected ${SAMPLES * ROWS} and 1 leading rows of the same size — the prepared graph does not keep samples and rows apart`,
        );
      }
      const per = b.data.length;
      const { diff, scale } = compare(a, b, (single.sample * ROWS + single.row) * per, per);
      const tol = RELATIVE_TOLERANCE * scale + ABSOLUTE_TOLERANCE;
      if (diff > tol) {
        const probe: MixingProbe = { feeds: joint, masks, samples: SAMPLES, rows: ROWS, singles };
        let where: string | undefined;
        try {
          where = await model.locateMixing?.(probe);
        } catch {
          where = undefined;
        }
        throw new McuError(
          'E_UNSUPPORTED',
          `self-check failed: output '${spec.name}' of sample ${single.sample + 1}, row ${single.row + 1} in a joint run of ${SAMPLES} samples × ${ROWS} rows ` +
            `differs from that sample and row run alone by ${diff.toPrecision(3)} (tolerance ${tol.toPrecision(3)}): the Monte Carlo samples (or rows) mix in the prepared graph` +
            `${where ? `, first at ${where}` : ''}, so its statistics would be wrong and mcu refuses to run it. ` +
            'Fix: export the model with a dynamic batch axis and no operation across the batch (see `mcu inspect`), or report it with the model attached.',
        );
      }
      if (diff / tol > maxDifference / worstTolerance) {
        maxDifference = diff;
        worstTolerance = tol;
      }
    }
  }
  const report: SelfCheckReport = { passed: true, rows: ROWS, samples: SAMPLES, maxDifference, tolerance: worstTolerance, cached: false };
  options.memo?.set(model, feeds, report);
  return report;
}
