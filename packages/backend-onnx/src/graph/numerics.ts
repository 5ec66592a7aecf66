/**
 * Constants that make a graph numerically fragile in float32 — the case that motivated it: a
 * regression model bakes its input standardisation into the graph, Div(Sub(x, mean), std),
 * and one feature was constant in the training data, so its std is float64 rounding noise
 * (2.4e-13). A 1-ulp difference of that input then becomes ≈ 1e5 after the division, and
 * every float32 runtime scores the model far worse than float64 does.
 *
 * Looked for (default-domain nodes, float constants of up to MAX_ELEMENTS elements):
 * - Div whose divisor (input 1) is a constant with an element equal to 0 (any size), or,
 *   for constants of ≥ 2 elements, with |c_j| < 1e-6 × median(|c|);
 * - Mul by Reciprocal(constant) with such a constant;
 * - Mul with a constant operand of ≥ 2 elements where |c_j| > 1e6 × median(|c|).
 * One-element constants other than a zero divisor (attention scales, epsilons, masks times
 * -10000 or -3.4e38) and constants whose median magnitude is 0 are not judged: there is no
 * scale to compare with.
 */
import { DataType } from '../proto/enums.js';
import type { GraphProto, NodeProto } from '../proto/types.js';
import type { ConstantTable } from './constants.js';
import { isDefaultDomain, nodeLabel } from './proto-util.js';
import { tensorNumbers } from './tensor-values.js';

/** Larger constants (weights, not standardisation vectors) are not read. */
const MAX_ELEMENTS = 1 << 16;
const SMALL = 1e-6;
const LARGE = 1e6;
const FIX = 'Fix: standardise in float64 outside the graph, or give a constant feature std 1 (its x − mean is then 0 exactly)';

const FLOAT_TYPES: Record<number, { name: string; mantissa: number }> = {
  [DataType.FLOAT]: { name: 'float32', mantissa: 23 },
  [DataType.DOUBLE]: { name: 'float64', mantissa: 52 },
  [DataType.FLOAT16]: { name: 'float16', mantissa: 10 },
  [DataType.BFLOAT16]: { name: 'bfloat16', mantissa: 7 },
};

interface Values {
  name: string;
  values: number[];
  dims: number[];
  type: { name: string; mantissa: number };
}

function readConstant(consts: ConstantTable, name: string | undefined): Values | undefined {
  const tensor = consts.get(name);
  if (!tensor || !name) return undefined;
  const type = FLOAT_TYPES[tensor.data_type ?? -1];
  if (type === undefined) return undefined;
  const values = tensorNumbers(tensor, MAX_ELEMENTS);
  if (values === undefined || values.length === 0) return undefined;
  return { name, values, dims: (tensor.dims ?? []).map((d) => Number(d)), type };
}

function medianMagnitude(values: readonly number[]): number {
  const a = values
    .filter((v) => Number.isFinite(v))
    .map((v) => Math.abs(v))
    .sort((p, q) => p - q);
  if (a.length === 0) return 0;
  const m = a.length >> 1;
  return a.length % 2 === 1 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
}

/** Spacing of the floating-point numbers of `type` at |x| (one unit in the last place). */
function ulp(x: number, type: { mantissa: number }): number {
  const a = Math.abs(x);
  if (!Number.isFinite(a) || a === 0) return 2 ** -type.mantissa;
  return 2 ** (Math.floor(Math.log2(a)) - type.mantissa);
}

function fmt(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a >= 1e-3 && a < 1e5 ? String(Number(v.toPrecision(4))) : v.toExponential(2);
}

function multiIndex(flat: number, dims: readonly number[]): number[] {
  const idx = new Array<number>(dims.length).fill(0);
  let r = flat;
  for (let k = dims.length - 1; k >= 0; k--) {
    const d = dims[k]! > 0 ? dims[k]! : 1;
    idx[k] = r % d;
    r = Math.floor(r / d);
  }
  return idx;
}

function elementText(c: Values, j: number): string {
  return c.dims.length > 1 ? `element ${j} (index [${multiIndex(j, c.dims).join(', ')}])` : `element ${j}`;
}

function othersText(c: Values, flagged: readonly number[], worst: number): string {
  const rest = flagged.filter((j) => j !== worst);
  if (rest.length === 0) return '';
  const shown = rest.slice(0, 5).map((j) => (c.dims.length > 1 ? `[${multiIndex(j, c.dims).join(', ')}]` : String(j)));
  return ` (and ${rest.length} more like it: ${shown.join(', ')}${rest.length > 5 ? ', …' : ''})`;
}

/**
 * |x| at element j of the other operand, when it is Sub(x, mean) with a constant mean of as
 * many elements (the standardisation pattern): |mean_j| is what x is near. Else undefined.
 */
function magnitudeHint(
  name: string | undefined,
  j: number,
  count: number,
  producers: ReadonlyMap<string, NodeProto>,
  consts: ConstantTable,
): { value: number; text: string } | undefined {
  const p = name ? producers.get(name) : undefined;
  if (p?.op_type !== 'Sub' || !isDefaultDomain(p.domain)) return undefined;
  const mean = readConstant(consts, p.input?.[1]);
  if (mean === undefined || mean.values.length !== count) return undefined;
  const m = Math.abs(mean.values[j]!);
  if (!Number.isFinite(m) || m === 0) return undefined;
  return { value: m, text: `|x| ≈ |${mean.name}[${j}]| = ${fmt(m)}` };
}

/** Elements of a divisor that are 0, or tiny next to the median (≥ 2 elements). */
function smallDivisor(c: Values): { flagged: number[]; worst: number; median: number } | undefined {
  const median = c.values.length >= 2 ? medianMagnitude(c.values) : 0;
  const flagged: number[] = [];
  c.values.forEach((v, j) => {
    if (v === 0 || (median > 0 && Number.isFinite(v) && Math.abs(v) < SMALL * median)) flagged.push(j);
  });
  if (flagged.length === 0) return undefined;
  let worst = flagged[0]!;
  for (const j of flagged) if (Math.abs(c.values[j]!) < Math.abs(c.values[worst]!)) worst = j;
  return { flagged, worst, median };
}

/** Elements of a multiplier (≥ 2 elements) that are huge next to the median. */
function largeMultiplier(c: Values): { flagged: number[]; worst: number; median: number } | undefined {
  if (c.values.length < 2) return undefined;
  const median = medianMagnitude(c.values);
  if (!(median > 0)) return undefined;
  const flagged: number[] = [];
  c.values.forEach((v, j) => {
    if (Number.isFinite(v) && Math.abs(v) > LARGE * median) flagged.push(j);
  });
  if (flagged.length === 0) return undefined;
  let worst = flagged[0]!;
  for (const j of flagged) if (Math.abs(c.values[j]!) > Math.abs(c.values[worst]!)) worst = j;
  return { flagged, worst, median };
}

export function float32Pitfalls(graph: GraphProto, consts: ConstantTable, what = 'model'): string[] {
  const producers = new Map<string, NodeProto>();
  for (const n of graph.node ?? []) for (const o of n.output ?? []) if (o) producers.set(o, n);
  const warnings: string[] = [];

  const divisionWarning = (node: NodeProto, how: string, c: Values, numerator: string | undefined): void => {
    const hit = smallDivisor(c);
    if (hit === undefined) return;
    const { flagged, worst, median } = hit;
    const v = c.values[worst]!;
    const scale = c.values.length >= 2 ? `, while the median magnitude of its ${c.values.length} elements is ${fmt(median)}` : '';
    let effect: string;
    if (v === 0) {
      effect = 'x / 0 is ±Infinity, and NaN where x is 0 too (x − mean of a constant feature)';
    } else {
      const hint = magnitudeHint(numerator, worst, c.values.length, producers, consts);
      const mag = hint?.value ?? 1;
      const u = ulp(mag, c.type);
      effect =
        `in ${c.type.name} a 1-ulp change of the input (${fmt(u)} for ${hint?.text ?? '|x| ≈ 1'}) becomes ≈ ${fmt(u / Math.abs(v))} ` +
        `after the division, so rounding noise decides that value — a divisor this small is usually the rounding-noise std of a feature that was constant in the training data`;
    }
    warnings.push(
      `${what}: ${nodeLabel(node)} ${how} constant '${c.name}' whose ${elementText(c, worst)} is ${fmt(v)}${scale}` +
        `${othersText(c, flagged, worst)}: ${effect}. ${FIX}.`,
    );
  };

  for (const node of graph.node ?? []) {
    if (!isDefaultDomain(node.domain)) continue;
    const ins = node.input ?? [];
    if (node.op_type === 'Div') {
      const c = readConstant(consts, ins[1]);
      if (c) divisionWarning(node, 'divides by', c, ins[0]);
      continue;
    }
    if (node.op_type !== 'Mul' || ins.length !== 2) continue;
    for (let k = 0; k < 2; k++) {
      const other = ins[1 - k];
      const c = readConstant(consts, ins[k]);
      if (c === undefined) {
        const r = ins[k] ? producers.get(ins[k]!) : undefined;
        if (r?.op_type === 'Reciprocal' && isDefaultDomain(r.domain)) {
          const rc = readConstant(consts, r.input?.[0]);
          if (rc) divisionWarning(node, `multiplies by ${nodeLabel(r)} of`, rc, other);
        }
        continue;
      }
      const hit = largeMultiplier(c);
      if (hit === undefined) continue;
      const { flagged, worst, median } = hit;
      const v = c.values[worst]!;
      const hint = magnitudeHint(other, worst, c.values.length, producers, consts);
      const u = ulp(hint?.value ?? 1, c.type);
      warnings.push(
        `${what}: ${nodeLabel(node)} multiplies by constant '${c.name}' whose ${elementText(c, worst)} is ${fmt(v)}, ` +
          `while the median magnitude of its ${c.values.length} elements is ${fmt(median)}${othersText(c, flagged, worst)}: ` +
          `in ${c.type.name} a 1-ulp change of the input (${fmt(u)} for ${hint?.text ?? '|x| ≈ 1'}) becomes ≈ ${fmt(u * Math.abs(v))} ` +
          'after the multiplication, so rounding noise decides that value — a factor this large is usually 1 / std of a feature that was constant in the training data. ' +
          `${FIX}.`,
      );
    }
  }
  return warnings;
}
