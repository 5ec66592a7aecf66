/**
 * Best-effort static shape inference, enough for mask shapes and FLOP counts: dims of the
 * common layers (Gemm, MatMul, Conv, pooling, Flatten, Reshape, elementwise ops, …) and the
 * values of small shape tensors (Shape → Slice/Gather → Concat → Reshape chains).
 *
 * A dim is a number, a symbolic name ('batch'), or '?' when unknown. Nothing here throws on
 * odd models: what cannot be inferred stays unknown.
 */
import { DataType } from '../proto/enums.js';
import type { GraphProto, NodeProto } from '../proto/types.js';
import { ConstantTable } from './constants.js';
import { attrInt, attrInts, attrString, isDefaultDomain, valueInfoDims, valueInfoElemType } from './proto-util.js';
import { tensorBigints } from './tensor-values.js';

export type Dim = number | string;

export interface ValueShape {
  elem?: number;
  dims?: Dim[];
  /** Values of a small 1-D / scalar integer tensor (dims as they would be used in a shape). */
  value?: Dim[];
}

const UNKNOWN = '?';

export function isKnown(d: Dim | undefined): d is number {
  return typeof d === 'number' && d >= 0;
}

function sameDim(a: Dim, b: Dim): boolean {
  return a === b && a !== UNKNOWN;
}

function broadcastDims(a: Dim[] | undefined, b: Dim[] | undefined): Dim[] | undefined {
  if (a === undefined || b === undefined) return undefined;
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i];
    const y = b[b.length - n + i];
    if (x === undefined) out.push(y!);
    else if (y === undefined) out.push(x);
    else if (x === 1) out.push(y);
    else if (y === 1) out.push(x);
    else if (sameDim(x, y)) out.push(x);
    else if (typeof x === 'number' && typeof y !== 'number') out.push(x);
    else if (typeof y === 'number' && typeof x !== 'number') out.push(y);
    else out.push(UNKNOWN);
  }
  return out;
}

function product(dims: Dim[]): Dim {
  let p = 1;
  let sym: string | undefined;
  for (const d of dims) {
    if (typeof d === 'number') p *= d;
    else {
      if (sym !== undefined || d === UNKNOWN) return UNKNOWN;
      sym = d;
    }
  }
  if (sym !== undefined) return p === 1 ? sym : UNKNOWN;
  return p;
}

function normAxis(axis: number, rank: number): number | undefined {
  const a = axis < 0 ? axis + rank : axis;
  return a >= 0 && a < rank ? a : undefined;
}

function poolOut(
  input: Dim,
  k: number,
  stride: number,
  dilation: number,
  padSum: number,
  ceil: boolean,
  autoPad: string | undefined,
): Dim {
  if (!isKnown(input)) return UNKNOWN;
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return Math.ceil(input / stride);
  const eff = dilation * (k - 1) + 1;
  const pad = autoPad === 'VALID' ? 0 : padSum;
  const x = (input + pad - eff) / stride;
  const out = (ceil ? Math.ceil(x) : Math.floor(x)) + 1;
  return out > 0 ? out : UNKNOWN;
}

const UNARY = new Set([
  'Relu', 'Tanh', 'Sigmoid', 'LeakyRelu', 'Elu', 'Selu', 'Softplus', 'Softsign', 'Exp', 'Log',
  'Abs', 'Neg', 'Sqrt', 'Reciprocal', 'Erf', 'Gelu', 'HardSigmoid', 'HardSwish', 'Clip', 'Floor',
  'Ceil', 'Round', 'Sign', 'Sin', 'Cos', 'Softmax', 'LogSoftmax', 'Identity', 'Dropout',
  'BatchNormalization', 'InstanceNormalization', 'LayerNormalization', 'LRN', 'Mish', 'ThresholdedRelu',
  'PRelu', 'Celu', 'Hardmax', 'Not', 'IsNaN', 'IsInf', 'Cast', 'CastLike', 'Atan', 'Asin', 'Acos', 'Tan',
  'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh', 'Shrink', 'MeanVarianceNormalization',
]);
const BINARY = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual',
  'And', 'Or', 'Xor', 'Max', 'Min', 'Sum', 'Mean', 'Where', 'Mod', 'BitShift',
]);
const BOOL_OUT = new Set(['Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'And', 'Or', 'Xor', 'Not', 'IsNaN', 'IsInf']);
const POOLS = new Set(['MaxPool', 'AveragePool', 'LpPool']);
const GLOBAL_POOLS = new Set(['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool']);

/**
 * Infer shapes for every tensor of `graph`. Graph inputs, initializers and `value_info`
 * seed the table; `value_info` wins where the exporter wrote a fully known shape.
 */
export function inferShapes(
  graph: GraphProto,
  opset: number,
  consts = new ConstantTable(graph),
  seeds?: ReadonlyMap<string, ValueShape>,
): Map<string, ValueShape> {
  const info = new Map<string, ValueShape>();
  for (const t of graph.initializer ?? []) {
    if (!t.name) continue;
    const dims = (t.dims ?? []).map((d) => Number(d));
    const v = (t.dims?.length ?? 0) <= 1 ? tensorBigints(t, 64) : undefined;
    info.set(t.name, { elem: t.data_type, dims, value: v?.map((x) => Number(x)) });
  }
  for (const vi of graph.input ?? []) {
    if (!vi.name || info.has(vi.name)) continue;
    info.set(vi.name, { elem: valueInfoElemType(vi), dims: valueInfoDims(vi) });
  }
  if (seeds) for (const [k, v] of seeds) info.set(k, v);
  const hints = new Map<string, ValueShape>();
  for (const vi of [...(graph.value_info ?? []), ...(graph.output ?? [])]) {
    if (vi.name) hints.set(vi.name, { elem: valueInfoElemType(vi), dims: valueInfoDims(vi) });
  }

  for (const node of graph.node ?? []) {
    let outs: ValueShape[] = [];
    try {
      outs = isDefaultDomain(node.domain) ? inferNode(node, opset, info, consts) : [];
    } catch {
      outs = [];
    }
    (node.output ?? []).forEach((name, i) => {
      if (!name) return;
      const inferred = outs[i] ?? {};
      const hint = hints.get(name);
      const merged: ValueShape = { ...inferred };
      if (hint?.elem !== undefined && merged.elem === undefined) merged.elem = hint.elem;
      if (hint?.dims !== undefined) {
        if (merged.dims === undefined || merged.dims.length !== hint.dims.length) {
          merged.dims = hint.dims;
        } else {
          merged.dims = merged.dims.map((d, k) => (isKnown(hint.dims![k]) ? hint.dims![k]! : d));
        }
      }
      info.set(name, merged);
    });
  }
  return info;
}

function inferNode(
  node: NodeProto,
  opset: number,
  info: Map<string, ValueShape>,
  consts: ConstantTable,
): ValueShape[] {
  const op = node.op_type ?? '';
  const ins = (node.input ?? []).map((n) => (n ? info.get(n) : undefined));
  const x = ins[0];
  const intValue = (k: number): Dim[] | undefined => {
    const name = node.input?.[k];
    if (!name) return undefined;
    const v = info.get(name)?.value;
    if (v !== undefined) return v;
    const t = consts.get(name);
    const b = t ? tensorBigints(t, 64) : undefined;
    return b?.map((z) => Number(z));
  };

  if (op === 'Constant') {
    for (const a of node.attribute ?? []) {
      if (a.name === 'value' && a.t) {
        const dims = (a.t.dims ?? []).map((d) => Number(d));
        const v = dims.length <= 1 ? tensorBigints(a.t, 64) : undefined;
        return [{ elem: a.t.data_type, dims, value: v?.map((z) => Number(z)) }];
      }
      if (a.name === 'value_int') return [{ elem: DataType.INT64, dims: [], value: [Number(a.i ?? 0n)] }];
      if (a.name === 'value_ints') {
        const v = (a.ints ?? []).map((z) => Number(z));
        return [{ elem: DataType.INT64, dims: [v.length], value: v }];
      }
      if (a.name === 'value_float') return [{ elem: DataType.FLOAT, dims: [] }];
      if (a.name === 'value_floats') return [{ elem: DataType.FLOAT, dims: [a.floats?.length ?? 0] }];
    }
    return [];
  }
  if (op === 'Dropout') {
    const maskElem = opset >= 10 ? DataType.BOOL : x?.elem;
    return [{ elem: x?.elem, dims: x?.dims, value: x?.value }, { elem: maskElem, dims: x?.dims }];
  }
  if (op === 'Cast') {
    return [{ elem: attrInt(node, 'to'), dims: x?.dims, value: x?.value }];
  }
  if (op === 'Identity') return [{ ...x }];
  if (op === 'BatchNormalization') return [{ elem: x?.elem, dims: x?.dims }];
  if (UNARY.has(op)) return [{ elem: BOOL_OUT.has(op) ? DataType.BOOL : x?.elem, dims: x?.dims }];
  if (BINARY.has(op)) {
    let dims = x?.dims;
    for (let k = 1; k < ins.length; k++) dims = broadcastDims(dims, ins[k]?.dims);
    const elem = BOOL_OUT.has(op) ? DataType.BOOL : op === 'Where' ? ins[1]?.elem : x?.elem;
    // Arithmetic on small shape values (e.g. Mul(Gather(shape), 2)) stays unknown.
    return [{ elem, dims }];
  }
  if (op === 'Shape') {
    if (x?.dims === undefined) return [{ elem: DataType.INT64, dims: ['?'] }];
    const r = x.dims.length;
    let start = attrInt(node, 'start') ?? 0;
    let end = attrInt(node, 'end') ?? r;
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = Math.max(0, Math.min(r, start));
    end = Math.max(0, Math.min(r, end));
    const value = x.dims.slice(start, Math.max(start, end));
    return [{ elem: DataType.INT64, dims: [value.length], value }];
  }
  if (op === 'Size') return [{ elem: DataType.INT64, dims: [] }];
  if (op === 'Gemm') {
    const a = x?.dims;
    const b = ins[1]?.dims;
    if (a?.length !== 2 || b?.length !== 2) return [{ elem: x?.elem }];
    const m = attrInt(node, 'transA') ? a[1]! : a[0]!;
    const n = attrInt(node, 'transB') ? b[0]! : b[1]!;
    return [{ elem: x?.elem, dims: [m, n] }];
  }
  if (op === 'MatMul') {
    const a = x?.dims;
    const b = ins[1]?.dims;
    if (a === undefined || b === undefined || a.length === 0 || b.length === 0) return [{ elem: x?.elem }];
    if (a.length === 1 && b.length === 1) return [{ elem: x?.elem, dims: [] }];
    if (b.length === 1) return [{ elem: x?.elem, dims: a.slice(0, -1) }];
    if (a.length === 1) return [{ elem: x?.elem, dims: [...b.slice(0, -2), b[b.length - 1]!] }];
    const batch = broadcastDims(a.slice(0, -2), b.slice(0, -2)) ?? [];
    return [{ elem: x?.elem, dims: [...batch, a[a.length - 2]!, b[b.length - 1]!] }];
  }
  if (op === 'Conv' || POOLS.has(op)) {
    const xd = x?.dims;
    if (xd === undefined || xd.length < 3) return [{ elem: x?.elem }];
    const spatial = xd.length - 2;
    const w = ins[1]?.dims;
    const kernel =
      attrInts(node, 'kernel_shape') ?? (op === 'Conv' && w !== undefined ? w.slice(2).map((d) => (isKnown(d) ? d : -1)) : undefined);
    if (kernel === undefined || kernel.length !== spatial || kernel.some((k) => k < 0)) return [{ elem: x?.elem }];
    const strides = attrInts(node, 'strides') ?? new Array<number>(spatial).fill(1);
    const dil = attrInts(node, 'dilations') ?? new Array<number>(spatial).fill(1);
    const pads = attrInts(node, 'pads') ?? new Array<number>(2 * spatial).fill(0);
    const ceil = (attrInt(node, 'ceil_mode') ?? 0) !== 0;
    const autoPad = attrString(node, 'auto_pad');
    const outSpatial = kernel.map((k, i) =>
      poolOut(xd[i + 2]!, k, strides[i] ?? 1, dil[i] ?? 1, (pads[i] ?? 0) + (pads[i + spatial] ?? 0), ceil, autoPad),
    );
    const channels = op === 'Conv' ? (w?.[0] ?? '?') : xd[1]!;
    const out: ValueShape = { elem: x?.elem, dims: [xd[0]!, channels, ...outSpatial] };
    return op === 'MaxPool' ? [out, { elem: DataType.INT64, dims: out.dims }] : [out];
  }
  if (GLOBAL_POOLS.has(op)) {
    const xd = x?.dims;
    if (xd === undefined || xd.length < 2) return [{ elem: x?.elem }];
    return [{ elem: x?.elem, dims: [xd[0]!, xd[1]!, ...xd.slice(2).map(() => 1)] }];
  }
  if (op === 'Flatten') {
    const xd = x?.dims;
    if (xd === undefined) return [{ elem: x?.elem }];
    const axis = normAxis(attrInt(node, 'axis') ?? 1, xd.length + 1);
    if (axis === undefined) return [{ elem: x?.elem }];
    return [{ elem: x?.elem, dims: [product(xd.slice(0, axis)), product(xd.slice(axis))] }];
  }
  if (op === 'Reshape') {
    const shape = opset >= 5 ? intValue(1) : attrInts(node, 'shape');
    if (shape === undefined) return [{ elem: x?.elem }];
    return [{ elem: x?.elem, dims: reshapeDims(x?.dims, shape, (attrInt(node, 'allowzero') ?? 0) !== 0), value: x?.value }];
  }
  if (op === 'Unsqueeze') {
    const axes = opset >= 13 ? intValue(1) : attrInts(node, 'axes');
    const xd = x?.dims;
    if (axes === undefined || xd === undefined || axes.some((a) => typeof a !== 'number')) return [{ elem: x?.elem }];
    const r = xd.length + axes.length;
    const norm = (axes as number[]).map((a) => (a < 0 ? a + r : a)).sort((p, q) => p - q);
    const dims = [...xd];
    for (const a of norm) dims.splice(a, 0, 1);
    const value = xd.length === 0 && x?.value !== undefined ? x.value : undefined;
    return [{ elem: x?.elem, dims, value }];
  }
  if (op === 'Squeeze') {
    const axes = opset >= 13 ? intValue(1) : attrInts(node, 'axes');
    const xd = x?.dims;
    if (xd === undefined) return [{ elem: x?.elem }];
    let dims: Dim[];
    if (axes === undefined) dims = xd.filter((d) => d !== 1);
    else {
      const norm = new Set((axes as number[]).map((a) => (a < 0 ? a + xd.length : a)));
      dims = xd.filter((_, i) => !norm.has(i));
    }
    const value = dims.length === 0 && x?.value?.length === 1 ? x.value : undefined;
    return [{ elem: x?.elem, dims, value }];
  }
  if (op === 'Concat') {
    const parts = ins.map((s) => s?.dims);
    const axisAttr = attrInt(node, 'axis') ?? 1;
    if (parts.some((p) => p === undefined) || parts.length === 0) return [{ elem: x?.elem }];
    const rank = parts[0]!.length;
    const axis = normAxis(axisAttr, rank);
    if (axis === undefined) return [{ elem: x?.elem }];
    const dims = [...parts[0]!];
    let total: Dim = 0;
    for (const p of parts) {
      const d = p![axis];
      total = typeof total === 'number' && typeof d === 'number' ? total + d : UNKNOWN;
    }
    dims[axis] = total;
    let value: Dim[] | undefined;
    if (rank === 1 && ins.every((s) => s?.value !== undefined)) value = ins.flatMap((s) => s!.value!);
    return [{ elem: x?.elem, dims, value }];
  }
  if (op === 'Gather') {
    const xd = x?.dims;
    const idx = ins[1];
    if (xd === undefined || idx?.dims === undefined) return [{ elem: x?.elem }];
    const axis = normAxis(attrInt(node, 'axis') ?? 0, xd.length);
    if (axis === undefined) return [{ elem: x?.elem }];
    const dims = [...xd.slice(0, axis), ...idx.dims, ...xd.slice(axis + 1)];
    let value: Dim[] | undefined;
    const iv = intValue(1);
    if (xd.length === 1 && x?.value !== undefined && iv !== undefined) {
      const vals = x.value;
      value = iv.map((i) => (typeof i === 'number' ? vals[i < 0 ? i + vals.length : i] ?? UNKNOWN : UNKNOWN));
    }
    return [{ elem: x?.elem, dims, value }];
  }
  if (op === 'Slice') {
    const xd = x?.dims;
    if (xd === undefined) return [{ elem: x?.elem }];
    const starts = opset >= 10 ? intValue(1) : attrInts(node, 'starts');
    const ends = opset >= 10 ? intValue(2) : attrInts(node, 'ends');
    const axesIn = opset >= 10 ? (node.input?.[3] ? intValue(3) : undefined) : attrInts(node, 'axes');
    const steps = opset >= 10 && node.input?.[4] ? intValue(4) : undefined;
    if (starts === undefined || ends === undefined) return [{ elem: x?.elem, dims: xd.map(() => UNKNOWN) }];
    const axes = axesIn ?? starts.map((_, i) => i);
    const dims = [...xd];
    let value = x?.value ? [...x.value] : undefined;
    for (let k = 0; k < starts.length; k++) {
      const ax = axes[k];
      const s0 = starts[k];
      const e0 = ends[k];
      const st = steps?.[k] ?? 1;
      if (typeof ax !== 'number' || typeof s0 !== 'number' || typeof e0 !== 'number' || typeof st !== 'number') return [{ elem: x?.elem }];
      const a = normAxis(ax, xd.length);
      if (a === undefined) return [{ elem: x?.elem }];
      const len = xd[a];
      if (!isKnown(len) || st !== 1) {
        dims[a] = UNKNOWN;
        value = undefined;
        continue;
      }
      const clamp = (v: number) => Math.max(0, Math.min(len, v < 0 ? v + len : v));
      const s = clamp(s0);
      const e = clamp(e0);
      dims[a] = Math.max(0, e - s);
      if (value !== undefined && a === 0) value = value.slice(s, Math.max(s, e));
    }
    return [{ elem: x?.elem, dims, value }];
  }
  if (op === 'Transpose') {
    const xd = x?.dims;
    if (xd === undefined) return [{ elem: x?.elem }];
    const perm = attrInts(node, 'perm') ?? xd.map((_, i) => xd.length - 1 - i);
    return [{ elem: x?.elem, dims: perm.map((p) => xd[p] ?? UNKNOWN) }];
  }
  if (op === 'Expand') {
    const shape = intValue(1);
    if (shape === undefined) return [{ elem: x?.elem }];
    return [{ elem: x?.elem, dims: broadcastDims(x?.dims, shape) }];
  }
  if (op === 'ConstantOfShape') {
    const shape = intValue(0);
    return [{ elem: DataType.FLOAT, dims: shape }];
  }
  return [];
}

function reshapeDims(input: Dim[] | undefined, shape: Dim[], allowZero: boolean): Dim[] {
  const out: Dim[] = shape.map((d, i) => {
    if (d === 0 && !allowZero) return input?.[i] ?? UNKNOWN;
    if (d === -1) return -1;
    return d;
  });
  const minus = out.indexOf(-1);
  if (minus < 0) return out;
  if (input === undefined) {
    out[minus] = UNKNOWN;
    return out;
  }
  // -1 = (product of input dims) / (product of the other target dims), symbolically.
  const num: Dim[] = [...input];
  const den = out.filter((_, i) => i !== minus);
  let pNum = 1;
  let pDen = 1;
  const syms: string[] = [];
  for (const d of num) {
    if (typeof d === 'number') pNum *= d;
    else syms.push(d);
  }
  for (const d of den) {
    if (typeof d === 'number') pDen *= d;
    else {
      const k = syms.indexOf(d);
      if (k < 0 || d === UNKNOWN) {
        out[minus] = UNKNOWN;
        return out;
      }
      syms.splice(k, 1);
    }
  }
  if (syms.includes(UNKNOWN) || syms.length > 1 || pDen === 0 || pNum % pDen !== 0) {
    out[minus] = UNKNOWN;
    return out;
  }
  const q = pNum / pDen;
  out[minus] = syms.length === 0 ? q : q === 1 ? syms[0]! : UNKNOWN;
  return out;
}
