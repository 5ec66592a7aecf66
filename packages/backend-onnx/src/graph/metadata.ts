/**
 * A prepared model describes itself: `metadata_props` holds
 * - `mcu.sites`: JSON [{name, kind, rate, maskShape, scaling, op, opset, node}] — one entry
 *   per mask input, in graph order;
 * - `mcu.layout`: 'broadcast' | 'tiled' | 'sample-axis' ('tiled' runs as 'broadcast').
 * Loading a model with this metadata (and those mask inputs) gives the same sites without
 * rewriting it again.
 */
import { McuError, type DropoutScaling, type SiteKind, type StochasticSite } from '@mcu/core';
import type { ModelProto } from '../proto/types.js';

export const SITES_KEY = 'mcu.sites';
export const LAYOUT_KEY = 'mcu.layout';
/** The record of a baked model (mcu convert --bake T; graph/bake.ts). */
export const BAKED_KEY = 'mcu.baked';

export type Layout = 'broadcast' | 'tiled' | 'sample-axis';

interface SiteRecord {
  name: string;
  kind: SiteKind;
  rate: number;
  maskShape: number[];
  scaling: DropoutScaling;
  op?: string;
  opset?: number;
  node?: string;
  rowLayout?: { axis: number; factor: number };
  dims?: (number | string)[];
}

export function writeSiteMetadata(model: ModelProto, sites: readonly StochasticSite[], layout: Layout): void {
  const records: SiteRecord[] = sites.map((s) => ({
    name: s.name,
    kind: s.kind,
    rate: s.rate,
    maskShape: [...s.maskShape],
    scaling: s.scaling ?? 'inverted',
    ...(s.origin?.op !== undefined ? { op: s.origin.op } : {}),
    ...(s.origin?.opset !== undefined ? { opset: s.origin.opset } : {}),
    ...(s.origin?.node !== undefined ? { node: s.origin.node } : {}),
    ...(s.rowLayout ? { rowLayout: { axis: s.rowLayout.axis, factor: s.rowLayout.factor } } : {}),
    ...(s.dims ? { dims: [...s.dims] } : {}),
  }));
  const props = (model.metadata_props ?? []).filter((p) => p.key !== SITES_KEY && p.key !== LAYOUT_KEY);
  props.push({ key: SITES_KEY, value: JSON.stringify(records) });
  props.push({ key: LAYOUT_KEY, value: layout });
  model.metadata_props = props;
}

/** The sites recorded in the model's metadata, or undefined when it has none. */
export function readSiteMetadata(model: ModelProto, what: string): { sites: StochasticSite[]; layout: Layout } | undefined {
  const props = model.metadata_props ?? [];
  const raw = props.find((p) => p.key === SITES_KEY)?.value;
  if (raw === undefined) return undefined;
  const bad = (why: string): never => {
    throw new McuError('E_MODEL', `${what}: metadata '${SITES_KEY}' is invalid (${why}); remove it or re-convert the model`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return bad('not JSON');
  }
  if (!Array.isArray(parsed) || parsed.length > 100_000) return bad('expected a JSON array');
  const sites: StochasticSite[] = [];
  const names = new Set<string>();
  parsed.forEach((r: unknown, i) => {
    if (r === null || typeof r !== 'object') bad(`entry ${i} is not an object`);
    const o = r as Record<string, unknown>;
    if (typeof o.name !== 'string' || o.name === '') bad(`entry ${i} has no name`);
    if (names.has(o.name as string)) bad(`mask input '${String(o.name)}' is listed twice`);
    names.add(o.name as string);
    if (o.kind !== 'bernoulli' && o.kind !== 'gaussian' && o.kind !== 'alpha') bad(`entry ${i} has kind ${JSON.stringify(o.kind)}`);
    if (typeof o.rate !== 'number' || !(o.rate >= 0 && o.rate < 1)) bad(`entry ${i} has rate ${JSON.stringify(o.rate)} outside [0, 1)`);
    if (!Array.isArray(o.maskShape) || o.maskShape.length > 16 || !o.maskShape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      bad(`entry ${i} has maskShape ${JSON.stringify(o.maskShape)}`);
    }
    const scaling = o.scaling ?? 'inverted';
    if (scaling !== 'inverted' && scaling !== 'none') bad(`entry ${i} has scaling ${JSON.stringify(o.scaling)}`);
    const origin: { op?: string; opset?: number; node?: string } = {};
    if (typeof o.op === 'string') origin.op = o.op;
    if (typeof o.opset === 'number') origin.opset = o.opset;
    if (typeof o.node === 'string') origin.node = o.node;
    const rl = o.rowLayout as { axis?: unknown; factor?: unknown } | undefined;
    if (
      rl !== undefined &&
      !(
        rl !== null &&
        typeof rl === 'object' &&
        Number.isSafeInteger(rl.axis) &&
        (rl.axis as number) >= 0 &&
        Number.isSafeInteger(rl.factor) &&
        (rl.factor as number) >= 1
      )
    ) {
      bad(`entry ${i} has rowLayout ${JSON.stringify(o.rowLayout)}`);
    }
    const dims = o.dims;
    if (
      dims !== undefined &&
      !(Array.isArray(dims) && dims.length <= 16 && dims.every((d) => (Number.isSafeInteger(d) && (d as number) >= 0) || (typeof d === 'string' && d !== '')))
    ) {
      bad(`entry ${i} has dims ${JSON.stringify(o.dims)}`);
    }
    sites.push({
      name: o.name as string,
      kind: o.kind as SiteKind,
      rate: o.rate as number,
      maskShape: [...(o.maskShape as number[])],
      scaling: scaling as DropoutScaling,
      origin,
      ...(rl ? { rowLayout: { axis: rl.axis as number, factor: rl.factor as number } } : {}),
      ...(dims ? { dims: [...(dims as (number | string)[])] } : {}),
    });
  });
  const layoutRaw = props.find((p) => p.key === LAYOUT_KEY)?.value ?? 'broadcast';
  if (layoutRaw !== 'broadcast' && layoutRaw !== 'tiled' && layoutRaw !== 'sample-axis') {
    throw new McuError('E_MODEL', `${what}: metadata '${LAYOUT_KEY}' is ${JSON.stringify(layoutRaw)}, expected 'broadcast', 'tiled' or 'sample-axis'`);
  }
  return { sites, layout: layoutRaw };
}
