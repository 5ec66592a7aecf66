/**
 * Best-effort static shape inference, enough for mask shapes and FLOP counts: dims of the
 * common layers (Gemm, MatMul, Conv, ConvTranspose, pooling, recurrent layers, reductions,
 * Reshape, elementwise ops, …) and the values of small shape tensors (Shape → Gather → Mul →
 * Unsqueeze → Concat → Reshape chains).
 *
 * A dim is a number, a symbolic name ('batch'), a symbolic product `${sym}*${k}` ('batch*4',
 * what nn.MultiheadAttention makes of [L, N, E] → [L, N·heads, head_dim]), or '?' when
 * unknown. Two dims are the same only when they are the same string ('?' is never the same as
 * anything). Nothing here throws on odd models: what cannot be inferred stays unknown.
 */
import { DataType } from '../proto/enums.js';
import type { GraphProto, NodeProto, TensorProto } from '../proto/types.js';
import { ConstantTable } from './constants.js';
import { attrInt, attrInts, attrString, getAttr, isDefaultDomain, valueInfoDims, valueInfoElemType } from './proto-util.js';
import { INTEGER_TYPES, tensorBigints, tensorNumbers } from './tensor-values.js';

export type Dim = number | string;

export interface ValueShape {
  elem?: number;
  dims?: Dim[];
  /** Values of a small 1-D / scalar integer tensor (dims as they would be used in a shape). */
  value?: Dim[];
}

const UNKNOWN = '?';
/** Longest `value` carried (shape tensors are short). */
const MAX_VALUE = 64;
/** Slice bounds at or beyond this mean "to the end" (exporters write INT32_MAX / INT64_MAX). */
const BIG = 2 ** 31 - 1;

export function isKnown(d: Dim | undefined): d is number {
  return typeof d === 'number' && d >= 0;
}

// ---------------------------------------------------------------------------------------------
// Symbolic dims: `sym` or `sym*k` (k ≥ 2).

const PRODUCT_RE = /^(.+)\*([1-9][0-9]*)$/;

/**
 * A symbolic dim as `sym · k`: 'batch' → { sym: 'batch', k: 1 }, 'batch*4' → { sym: 'batch', k: 4 }.
 * Undefined for numbers and '?'.
 */
export function parseSymbolicDim(d: Dim): { sym: string; k: number } | undefined {
  if (typeof d !== 'string' || d === UNKNOWN || d === '') return undefined;
  const m = PRODUCT_RE.exec(d);
  if (m) {
    const k = Number(m[2]);
    if (Number.isSafeInteger(k) && k >= 2 && m[1] !== UNKNOWN) return { sym: m[1]!, k };
  }
  return { sym: d, k: 1 };
}

/** The canonical dim for sym · k: `sym` for k = 1, `sym*k` otherwise (0 for k = 0). */
function symDim(sym: string, k: number): Dim {
  if (k === 0) return 0;
  if (!Number.isSafeInteger(k) || k < 0) return UNKNOWN;
  return k === 1 ? sym : `${sym}*${k}`;
}

/** d · k for an integer k: numbers multiply, 'batch' · 4 = 'batch*4', anything else is '?'. */
export function dimTimes(d: Dim, k: number): Dim {
  if (!Number.isSafeInteger(k)) return UNKNOWN;
  if (typeof d === 'number') {
    const p = d * k;
    return Number.isSafeInteger(p) ? p + 0 : UNKNOWN;
  }
  const s = parseSymbolicDim(d);
  if (s === undefined || k < 0) return UNKNOWN;
  return symDim(s.sym, s.k * k);
}

/** d / k when exact: 12 / 4 = 3, 'batch*4' / 2 = 'batch*2', 'batch*4' / 4 = 'batch'; '?' otherwise. */
export function dimDivide(d: Dim, k: number): Dim {
  if (!Number.isSafeInteger(k) || k === 0) return UNKNOWN;
  if (typeof d === 'number') return Number.isSafeInteger(d) && d % k === 0 ? d / k + 0 : UNKNOWN;
  const s = parseSymbolicDim(d);
  if (s === undefined || k < 0 || s.k % k !== 0) return UNKNOWN;
  return symDim(s.sym, s.k / k);
}

/** a · b where at most one is symbolic. */
function dimMul(a: Dim, b: Dim): Dim {
  if (typeof b === 'number') return dimTimes(a, b);
  if (typeof a === 'number') return dimTimes(b, a);
  return UNKNOWN;
}

/** a + b: numbers add, sym·k1 + sym·k2 = sym·(k1 + k2), x + 0 = x. */
function dimAdd(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (a === 0) return b === UNKNOWN ? UNKNOWN : b;
  if (b === 0) return a === UNKNOWN ? UNKNOWN : a;
  const x = parseSymbolicDim(a);
  const y = parseSymbolicDim(b);
  if (x && y && x.sym === y.sym) return symDim(x.sym, x.k + y.k);
  return UNKNOWN;
}

function dimSub(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (b === 0) return a === UNKNOWN ? UNKNOWN : a;
  const x = parseSymbolicDim(a);
  const y = parseSymbolicDim(b);
  if (x && y && x.sym === y.sym && x.k >= y.k) return symDim(x.sym, x.k - y.k);
  return UNKNOWN;
}

/** A product of dims as coef · Π sym^e; undefined when a '?' takes part. */
interface Monomial {
  coef: number;
  syms: Map<string, number>;
}

function monomial(dims: readonly Dim[]): Monomial | undefined {
  let coef = 1;
  const syms = new Map<string, number>();
  for (const d of dims) {
    if (typeof d === 'number') coef *= d;
    else {
      const s = parseSymbolicDim(d);
      if (s === undefined) return undefined;
      coef *= s.k;
      syms.set(s.sym, (syms.get(s.sym) ?? 0) + 1);
    }
  }
  return Number.isSafeInteger(coef) ? { coef, syms } : undefined;
}

function monomialDim(m: Monomial): Dim {
  if (m.coef === 0) return 0;
  const live = [...m.syms].filter(([, e]) => e !== 0);
  if (live.length === 0) return m.coef;
  if (live.length === 1 && live[0]![1] === 1 && m.coef > 0) return symDim(live[0]![0], m.coef);
  return UNKNOWN;
}

function product(dims: readonly Dim[]): Dim {
  const m = monomial(dims);
  if (m === undefined) return dims.includes(0) ? 0 : UNKNOWN;
  return monomialDim(m);
}

/** Π num / Π den when exact (symbols cancel by name). */
function quotient(num: readonly Dim[], den: readonly Dim[]): Dim {
  const a = monomial(num);
  const b = monomial(den);
  if (a === undefined || b === undefined || b.coef === 0 || a.coef % b.coef !== 0) return UNKNOWN;
  const syms = new Map(a.syms);
  for (const [s, e] of b.syms) {
    const left = (syms.get(s) ?? 0) - e;
    if (left < 0) return UNKNOWN;
    syms.set(s, left);
  }
  return monomialDim({ coef: a.coef / b.coef, syms });
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

/** The better known of two dims that must be equal. */
function unifyDim(a: Dim | undefined, b: Dim | undefined): Dim {
  if (a === undefined) return b ?? UNKNOWN;
  if (b === undefined) return a;
  if (a === UNKNOWN) return b;
  if (b === UNKNOWN) return a;
  if (typeof a !== 'number' && typeof b === 'number') return b;
  return a;
}

function normAxis(axis: number, rank: number): number | undefined {
  if (!Number.isInteger(axis)) return undefined;
  const a = axis < 0 ? axis + rank : axis;
  return a >= 0 && a < rank ? a : undefined;
}

function poolOut(input: Dim, k: number, stride: number, dilation: number, padSum: number, ceil: boolean, autoPad: string | undefined): Dim {
  const same = autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER';
  const eff = dilation * (k - 1) + 1;
  if (!isKnown(input)) {
    // A symbolic length survives a stride-1 window that pads to the same size.
    if (parseSymbolicDim(input) === undefined || stride !== 1) return UNKNOWN;
    if (same) return input;
    const pad = autoPad === 'VALID' ? 0 : padSum;
    return pad === eff - 1 ? input : UNKNOWN;
  }
  if (same) return Math.ceil(input / stride);
  const pad = autoPad === 'VALID' ? 0 : padSum;
  const x = (input + pad - eff) / stride;
  const out = (ceil ? Math.ceil(x) : Math.floor(x)) + 1;
  return out > 0 ? out : UNKNOWN;
}

// ---------------------------------------------------------------------------------------------
// Values of small shape tensors.

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);

/** The values of a scalar / 1-D tensor of integers (or of integral floats), when small. */
function tensorValue(t: TensorProto): Dim[] | undefined {
  if ((t.dims?.length ?? 0) > 1) return undefined;
  try {
    const b = tensorBigints(t, MAX_VALUE);
    if (b !== undefined) return b.map((z) => Number(z));
    if (t.data_type === undefined || !FLOAT_TYPES.has(t.data_type)) return undefined;
    const f = tensorNumbers(t, MAX_VALUE);
    return f?.every((v) => Number.isSafeInteger(v)) ? f : undefined;
  } catch {
    return undefined;
  }
}

/** Elementwise f over values with numpy broadcasting of 1-D / scalar operands. */
function mapValues(vals: (Dim[] | undefined)[], f: (xs: Dim[]) => Dim): Dim[] | undefined {
  if (vals.length === 0 || vals.some((v) => v === undefined)) return undefined;
  const n = Math.max(...vals.map((v) => v!.length));
  if (vals.some((v) => v!.length !== n && v!.length !== 1)) return undefined;
  if (vals.some((v) => v!.length === 0)) return n === 0 ? [] : undefined;
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) out.push(f(vals.map((v) => (v!.length === 1 ? v![0]! : v![i]!))));
  return out;
}

function valueDiv(a: Dim, b: Dim, integer: boolean): Dim {
  if (typeof a === 'number' && typeof b === 'number') {
    if (b === 0) return UNKNOWN;
    const q = a / b;
    if (Number.isInteger(q)) return q + 0;
    // Integer tensors divide with truncation (ONNX Div on int64); keep that only where
    // there is no sign ambiguity.
    return integer && a >= 0 && b > 0 ? Math.floor(q) : UNKNOWN;
  }
  if (typeof b === 'number') return dimDivide(a, b);
  if (a === b && a !== UNKNOWN) return 1;
  const x = parseSymbolicDim(a);
  const y = parseSymbolicDim(b);
  if (x && y && x.sym === y.sym && x.k % y.k === 0) return x.k / y.k;
  return UNKNOWN;
}

function valueMaxMin(a: Dim, b: Dim, max: boolean): Dim {
  if (typeof a === 'number' && typeof b === 'number') return max ? Math.max(a, b) : Math.min(a, b);
  if (a === b && a !== UNKNOWN) return a;
  // Dims are ≥ 0: max(d, 0) = d, min(d, 0) = 0.
  if (b === 0 && parseSymbolicDim(a)) return max ? a : 0;
  if (a === 0 && parseSymbolicDim(b)) return max ? b : 0;
  return UNKNOWN;
}

function valueEqual(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a === b ? 1 : 0;
  if (a === b && a !== UNKNOWN) return 1;
  // A symbolic dim is ≥ 0 and never -1 (the "infer" marker PyTorch compares shapes with).
  if ((typeof a === 'number' && a < 0 && parseSymbolicDim(b)) || (typeof b === 'number' && b < 0 && parseSymbolicDim(a))) {
    return 0;
  }
  return UNKNOWN;
}

// ---------------------------------------------------------------------------------------------
// Operator tables.

const UNARY = new Set([
  'Relu',
  'Tanh',
  'Sigmoid',
  'LeakyRelu',
  'Elu',
  'Selu',
  'Softplus',
  'Softsign',
  'Exp',
  'Log',
  'Abs',
  'Neg',
  'Sqrt',
  'Reciprocal',
  'Erf',
  'Gelu',
  'HardSigmoid',
  'HardSwish',
  'Clip',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'Sin',
  'Cos',
  'Softmax',
  'LogSoftmax',
  'Identity',
  'Dropout',
  'BatchNormalization',
  'InstanceNormalization',
  'LRN',
  'Mish',
  'ThresholdedRelu',
  'PRelu',
  'Celu',
  'Hardmax',
  'Not',
  'IsNaN',
  'IsInf',
  'Atan',
  'Asin',
  'Acos',
  'Tan',
  'Sinh',
  'Cosh',
  'Asinh',
  'Acosh',
  'Atanh',
  'Shrink',
  'MeanVarianceNormalization',
  'Trilu',
  'CumSum',
  'Swish',
  'LpNormalization',
  'GroupNormalization',
  'ReverseSequence',
  'Scatter',
  'ScatterElements',
  'ScatterND',
  'BitwiseNot',
  'Bernoulli',
  'RandomUniformLike',
  'RandomNormalLike',
  'DequantizeLinear',
  'QuantizeLinear',
  'DynamicQuantizeLinear',
]);
const BINARY = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Equal',
  'Greater',
  'Less',
  'GreaterOrEqual',
  'LessOrEqual',
  'And',
  'Or',
  'Xor',
  'Max',
  'Min',
  'Sum',
  'Mean',
  'Mod',
  'BitShift',
  'BitwiseAnd',
  'BitwiseOr',
  'BitwiseXor',
]);
const BOOL_OUT = new Set(['Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual', 'And', 'Or', 'Xor', 'Not', 'IsNaN', 'IsInf']);
const POOLS = new Set(['MaxPool', 'AveragePool', 'LpPool']);
const GLOBAL_POOLS = new Set(['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool']);
const REDUCES = new Set([
  'ReduceMean',
  'ReduceSum',
  'ReduceMax',
  'ReduceMin',
  'ReduceProd',
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSum',
  'ReduceLogSumExp',
  'ReduceSumSquare',
]);
const RECURRENT = new Set(['RNN', 'GRU', 'LSTM']);
/** PyTorch ATen fallbacks that keep their input's shape (the dropout family). */
const ATEN_SHAPE_PRESERVING = new Set(['dropout', 'feature_dropout', 'alpha_dropout', 'feature_alpha_dropout']);

/** The ATen operator of a node: op_type in domain org.pytorch.aten, or op 'ATen' with `operator`. */
function atenName(node: NodeProto): string | undefined {
  if (node.op_type === 'ATen') return attrString(node, 'operator');
  return node.domain === 'org.pytorch.aten' ? node.op_type : undefined;
}

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
    info.set(t.name, { elem: t.data_type, dims, value: tensorValue(t) });
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
      if (isDefaultDomain(node.domain) && node.op_type !== 'ATen') outs = inferNode(node, opset, info, consts).map(clean);
      else if (ATEN_SHAPE_PRESERVING.has(atenName(node) ?? '')) outs = [clean(info.get(node.input?.[0] ?? ''))];
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

/** Drops what does not fit the contract (bad dims, values of the wrong length). */
function clean(s: ValueShape | undefined): ValueShape {
  if (s === undefined) return {};
  const out: ValueShape = {};
  if (s.elem !== undefined) out.elem = s.elem;
  if (s.dims !== undefined) {
    out.dims = s.dims.map((d) => (typeof d === 'number' ? (Number.isSafeInteger(d) && d >= 0 ? d : UNKNOWN) : d === '' ? UNKNOWN : d));
  }
  const v = s.value;
  if (v !== undefined && v.length <= MAX_VALUE) {
    const rank = out.dims?.length;
    const len = rank === 0 ? 1 : rank === 1 ? out.dims![0] : undefined;
    if (rank === undefined || (len !== undefined && (len === v.length || !isKnown(len)))) {
      out.value = v.map((d) => (typeof d === 'number' && !Number.isFinite(d) ? UNKNOWN : d));
      // A 1-D value of known length fixes the dim.
      if (rank === 1 && !isKnown(len)) out.dims = [v.length];
    }
  }
  return out;
}

function inferNode(node: NodeProto, opset: number, info: Map<string, ValueShape>, consts: ConstantTable): ValueShape[] {
  const op = node.op_type ?? '';
  const ins = (node.input ?? []).map((n) => (n ? info.get(n) : undefined));
  const x = ins[0];
  const has = (k: number): boolean => !!node.input?.[k];
  const intValue = (k: number): Dim[] | undefined => {
    const name = node.input?.[k];
    if (!name) return undefined;
    const v = info.get(name)?.value;
    if (v !== undefined) return v;
    const t = consts.get(name);
    return t ? tensorValue(t) : undefined;
  };
  /** Constant numbers (floats too, for Resize scales). */
  const numbers = (k: number): number[] | undefined => {
    const name = node.input?.[k];
    if (!name) return undefined;
    const t = consts.get(name);
    const n = t ? tensorNumbers(t, MAX_VALUE) : undefined;
    if (n !== undefined) return n;
    const v = info.get(name)?.value;
    return v?.every((d) => typeof d === 'number') ? (v as number[]) : undefined;
  };
  const numberList = (v: Dim[] | undefined): number[] | undefined =>
    v?.every((d) => typeof d === 'number' && Number.isSafeInteger(d)) ? (v as number[]) : undefined;
  const elem = x?.elem;
  const xd = x?.dims;

  if (op === 'Constant') {
    for (const a of node.attribute ?? []) {
      if (a.name === 'value' && a.t) {
        const dims = (a.t.dims ?? []).map((d) => Number(d));
        return [{ elem: a.t.data_type, dims, value: tensorValue(a.t) }];
      }
      if (a.name === 'value_int') return [{ elem: DataType.INT64, dims: [], value: [Number(a.i ?? 0n)] }];
      if (a.name === 'value_ints') {
        const v = (a.ints ?? []).map((z) => Number(z));
        return [{ elem: DataType.INT64, dims: [v.length], value: v.length <= MAX_VALUE ? v : undefined }];
      }
      if (a.name === 'value_float') {
        const f = a.f ?? 0;
        return [{ elem: DataType.FLOAT, dims: [], value: Number.isSafeInteger(f) ? [f] : undefined }];
      }
      if (a.name === 'value_floats') return [{ elem: DataType.FLOAT, dims: [a.floats?.length ?? 0] }];
    }
    return [];
  }
  if (op === 'Dropout') {
    const maskElem = opset >= 10 ? DataType.BOOL : elem;
    return [
      { elem, dims: xd, value: x?.value },
      { elem: maskElem, dims: xd },
    ];
  }
  if (op === 'Cast' || op === 'CastLike') {
    const to = op === 'Cast' ? attrInt(node, 'to') : ins[1]?.elem;
    let value = x?.value;
    if (value !== undefined && to === DataType.BOOL) value = value.map((d) => (typeof d === 'number' ? (d !== 0 ? 1 : 0) : UNKNOWN));
    else if (value !== undefined && to !== undefined && !INTEGER_TYPES.has(to) && !FLOAT_TYPES.has(to)) value = undefined;
    return [{ elem: to, dims: xd, value }];
  }
  if (op === 'Identity') return [{ ...x }];
  if (op === 'LayerNormalization') {
    if (xd === undefined) return [{ elem }];
    const axis = normAxis(attrInt(node, 'axis') ?? -1, xd.length);
    const stash = attrInt(node, 'stash_type') ?? DataType.FLOAT;
    const reduced = axis === undefined ? undefined : xd.map((d, i) => (i < axis ? d : 1));
    return [
      { elem, dims: xd },
      { elem: stash, dims: reduced },
      { elem: stash, dims: reduced },
    ];
  }
  if (op === 'BatchNormalization') return [{ elem, dims: xd }];
  if (op === 'DequantizeLinear') return [{ elem: attrInt(node, 'output_dtype') || ins[1]?.elem || DataType.FLOAT, dims: xd }];
  if (op === 'QuantizeLinear') return [{ elem: ins[2]?.elem ?? DataType.UINT8, dims: xd }];
  if (op === 'Bernoulli' || op === 'RandomUniformLike' || op === 'RandomNormalLike' || op === 'EyeLike') {
    return [{ elem: attrInt(node, 'dtype') ?? elem, dims: xd }];
  }
  if (op === 'RandomUniform' || op === 'RandomNormal') {
    return [{ elem: attrInt(node, 'dtype') ?? DataType.FLOAT, dims: attrInts(node, 'shape') }];
  }
  if (op === 'Multinomial') {
    const dims = xd?.length === 2 ? [xd[0]!, attrInt(node, 'sample_size') ?? 1] : undefined;
    return [{ elem: attrInt(node, 'dtype') ?? DataType.INT32, dims }];
  }
  if (UNARY.has(op)) {
    let value: Dim[] | undefined;
    const v = x?.value;
    if (v !== undefined) {
      if (op === 'Neg') value = v.map((d) => (typeof d === 'number' ? -d + 0 : UNKNOWN));
      else if (op === 'Abs') value = v.map((d) => (typeof d === 'number' ? Math.abs(d) : parseSymbolicDim(d) ? d : UNKNOWN));
      else if (op === 'Relu') value = v.map((d) => (typeof d === 'number' ? Math.max(0, d) : parseSymbolicDim(d) ? d : UNKNOWN));
      else if (op === 'Sign') value = v.map((d) => (typeof d === 'number' ? Math.sign(d) + 0 : UNKNOWN));
      // Values are integers: rounding keeps them.
      else if (op === 'Floor' || op === 'Ceil' || op === 'Round') value = v;
    }
    return [{ elem: BOOL_OUT.has(op) ? DataType.BOOL : elem, dims: xd, value }];
  }
  if (BINARY.has(op)) {
    let dims = xd;
    for (let k = 1; k < ins.length; k++) dims = broadcastDims(dims, ins[k]?.dims);
    const outElem = BOOL_OUT.has(op) ? DataType.BOOL : elem;
    const vals = ins.map((s) => s?.value);
    const integer = elem !== undefined && INTEGER_TYPES.has(elem);
    let value: Dim[] | undefined;
    if (ins.length >= 1 && (dims === undefined || dims.length <= 1)) {
      switch (op) {
        case 'Add':
        case 'Sum':
          value = mapValues(vals, (xs) => xs.reduce((p, q) => dimAdd(p, q)));
          break;
        case 'Sub':
          if (vals.length === 2) value = mapValues(vals, ([p, q]) => dimSub(p!, q!));
          break;
        case 'Mul':
          if (vals.length === 2) value = mapValues(vals, ([p, q]) => dimMul(p!, q!));
          break;
        case 'Div':
          if (vals.length === 2) value = mapValues(vals, ([p, q]) => valueDiv(p!, q!, integer));
          break;
        case 'Max':
        case 'Min':
          value = mapValues(vals, (xs) => xs.reduce((p, q) => valueMaxMin(p, q, op === 'Max')));
          break;
        case 'Equal':
          if (vals.length === 2) value = mapValues(vals, ([p, q]) => valueEqual(p!, q!));
          break;
        default:
          break;
      }
    }
    return [{ elem: outElem, dims, value }];
  }
  if (op === 'Where') {
    const dims = broadcastDims(broadcastDims(xd, ins[1]?.dims), ins[2]?.dims);
    let value: Dim[] | undefined;
    if (dims === undefined || dims.length <= 1) {
      value = mapValues([x?.value, ins[1]?.value, ins[2]?.value], ([c, a, b]) => (typeof c === 'number' ? (c !== 0 ? a! : b!) : a === b ? a! : UNKNOWN));
    }
    return [{ elem: ins[1]?.elem ?? ins[2]?.elem, dims, value }];
  }
  if (op === 'Shape') {
    if (xd === undefined) return [{ elem: DataType.INT64, dims: [UNKNOWN] }];
    const r = xd.length;
    let start = attrInt(node, 'start') ?? 0;
    let end = attrInt(node, 'end') ?? r;
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = Math.max(0, Math.min(r, start));
    end = Math.max(0, Math.min(r, end));
    const value = xd.slice(start, Math.max(start, end));
    return [{ elem: DataType.INT64, dims: [value.length], value }];
  }
  if (op === 'Size') {
    return [{ elem: DataType.INT64, dims: [], value: xd !== undefined ? [product(xd)] : undefined }];
  }
  if (op === 'Gemm') {
    const a = xd;
    const b = ins[1]?.dims;
    if (a?.length !== 2 || b?.length !== 2) return [{ elem }];
    const m = attrInt(node, 'transA') ? a[1]! : a[0]!;
    const n = attrInt(node, 'transB') ? b[0]! : b[1]!;
    return [{ elem, dims: [m, n] }];
  }
  if (op === 'MatMul' || op === 'MatMulInteger' || op === 'QLinearMatMul') {
    const a = xd;
    const b = op === 'QLinearMatMul' ? ins[3]?.dims : ins[1]?.dims;
    const outElem = op === 'MatMulInteger' ? DataType.INT32 : op === 'QLinearMatMul' ? ins[7]?.elem : elem;
    if (a === undefined || b === undefined || a.length === 0 || b.length === 0) return [{ elem: outElem }];
    if (a.length === 1 && b.length === 1) return [{ elem: outElem, dims: [] }];
    if (b.length === 1) return [{ elem: outElem, dims: a.slice(0, -1) }];
    if (a.length === 1) return [{ elem: outElem, dims: [...b.slice(0, -2), b[b.length - 1]!] }];
    const batch = broadcastDims(a.slice(0, -2), b.slice(0, -2)) ?? [];
    return [{ elem: outElem, dims: [...batch, a[a.length - 2]!, b[b.length - 1]!] }];
  }
  if (op === 'Conv' || POOLS.has(op)) {
    if (xd === undefined || xd.length < 3) return [{ elem }];
    const spatial = xd.length - 2;
    const w = ins[1]?.dims;
    const kernel = attrInts(node, 'kernel_shape') ?? (op === 'Conv' && w !== undefined ? w.slice(2).map((d) => (isKnown(d) ? d : -1)) : undefined);
    const channels = op === 'Conv' ? (w?.[0] ?? UNKNOWN) : xd[1]!;
    if (kernel === undefined || kernel.length !== spatial || kernel.some((k) => k < 0)) {
      return [{ elem, dims: [xd[0]!, channels, ...xd.slice(2).map(() => UNKNOWN)] }];
    }
    const strides = attrInts(node, 'strides') ?? new Array<number>(spatial).fill(1);
    const dil = attrInts(node, 'dilations') ?? new Array<number>(spatial).fill(1);
    const pads = attrInts(node, 'pads') ?? new Array<number>(2 * spatial).fill(0);
    const ceil = (attrInt(node, 'ceil_mode') ?? 0) !== 0;
    const autoPad = attrString(node, 'auto_pad');
    const outSpatial = kernel.map((k, i) => poolOut(xd[i + 2]!, k, strides[i] ?? 1, dil[i] ?? 1, (pads[i] ?? 0) + (pads[i + spatial] ?? 0), ceil, autoPad));
    const out: ValueShape = { elem, dims: [xd[0]!, channels, ...outSpatial] };
    return op === 'MaxPool' ? [out, { elem: DataType.INT64, dims: out.dims }] : [out];
  }
  if (op === 'ConvTranspose') return [convTranspose(node, xd, ins[1]?.dims, elem)];
  if (GLOBAL_POOLS.has(op)) {
    if (xd === undefined || xd.length < 2) return [{ elem }];
    return [{ elem, dims: [xd[0]!, xd[1]!, ...xd.slice(2).map(() => 1)] }];
  }
  if (op === 'Flatten') {
    if (xd === undefined) return [{ elem }];
    const axis = normAxis(attrInt(node, 'axis') ?? 1, xd.length + 1);
    if (axis === undefined) return [{ elem }];
    return [{ elem, dims: [product(xd.slice(0, axis)), product(xd.slice(axis))] }];
  }
  if (op === 'Reshape') {
    const shape = opset >= 5 ? intValue(1) : attrInts(node, 'shape');
    if (shape === undefined) {
      const n = ins[1]?.dims?.[0];
      return [{ elem, dims: opset >= 5 && isKnown(n) && n <= MAX_VALUE ? new Array<Dim>(n).fill(UNKNOWN) : undefined }];
    }
    const dims = reshapeDims(xd, shape, (attrInt(node, 'allowzero') ?? 0) !== 0);
    const value = dims.length <= 1 && x?.value !== undefined ? x.value : undefined;
    return [{ elem, dims, value }];
  }
  if (op === 'Unsqueeze') {
    const axes = numberList(opset >= 13 ? intValue(1) : attrInts(node, 'axes'));
    if (axes === undefined || xd === undefined) return [{ elem }];
    const r = xd.length + axes.length;
    const norm = axes.map((a) => (a < 0 ? a + r : a)).sort((p, q) => p - q);
    if (norm.some((a, i) => a < 0 || a >= r || (i > 0 && a === norm[i - 1]))) return [{ elem }];
    const dims = [...xd];
    for (const a of norm) dims.splice(a, 0, 1);
    const value = xd.length === 0 && x?.value !== undefined ? x.value : undefined;
    return [{ elem, dims, value }];
  }
  if (op === 'Squeeze') {
    if (xd === undefined) return [{ elem }];
    const axesRaw = opset >= 13 ? (has(1) ? intValue(1) : undefined) : attrInts(node, 'axes');
    if (opset >= 13 && has(1) && axesRaw === undefined) return [{ elem }];
    const axes = numberList(axesRaw);
    if (axesRaw !== undefined && axes === undefined) return [{ elem }];
    let dims: Dim[];
    if (axes === undefined || axes.length === 0) dims = xd.filter((d) => d !== 1);
    else {
      const norm = new Set(axes.map((a) => (a < 0 ? a + xd.length : a)));
      dims = xd.filter((_, i) => !norm.has(i));
    }
    const value = dims.length <= 1 && x?.value !== undefined && x.value.length <= 1 ? x.value : undefined;
    return [{ elem, dims, value }];
  }
  if (op === 'Concat') {
    const parts = ins.map((s) => s?.dims);
    const axisAttr = attrInt(node, 'axis') ?? 1;
    if (parts.length === 0) return [{ elem }];
    const known = parts.find((p) => p !== undefined);
    if (known === undefined) return [{ elem }];
    const rank = known.length;
    const axis = normAxis(axisAttr, rank);
    if (axis === undefined || parts.some((p) => p !== undefined && p.length !== rank)) return [{ elem }];
    const dims: Dim[] = [];
    for (let i = 0; i < rank; i++) {
      if (i === axis) {
        let total: Dim = 0;
        for (const p of parts) total = p === undefined ? UNKNOWN : dimAdd(total, p[axis]!);
        dims.push(total);
      } else {
        let d: Dim = UNKNOWN;
        for (const p of parts) d = unifyDim(d, p?.[i]);
        dims.push(d);
      }
    }
    let value: Dim[] | undefined;
    if (rank === 1 && ins.every((s) => s?.value !== undefined)) value = ins.flatMap((s) => s!.value!);
    return [{ elem, dims, value }];
  }
  if (op === 'Split') return split(node, opset, x, intValue);
  if (op === 'Gather') {
    const idx = ins[1];
    if (xd === undefined || idx?.dims === undefined) return [{ elem }];
    const axis = normAxis(attrInt(node, 'axis') ?? 0, xd.length);
    if (axis === undefined) return [{ elem }];
    const dims = [...xd.slice(0, axis), ...idx.dims, ...xd.slice(axis + 1)];
    let value: Dim[] | undefined;
    const iv = intValue(1);
    if (xd.length === 1 && x?.value !== undefined && iv !== undefined && idx.dims.length <= 1) {
      const vals = x.value;
      value = iv.map((i) => {
        if (typeof i !== 'number') return UNKNOWN;
        const j = i < 0 ? i + vals.length : i;
        return j >= 0 && j < vals.length ? vals[j]! : UNKNOWN;
      });
    }
    return [{ elem, dims, value }];
  }
  if (op === 'GatherElements') return [{ elem, dims: ins[1]?.dims }];
  if (op === 'GatherND') {
    const id = ins[1]?.dims;
    const b = attrInt(node, 'batch_dims') ?? 0;
    const last = id?.[id.length - 1];
    if (xd === undefined || id === undefined || id.length === 0 || !isKnown(last)) return [{ elem }];
    return [{ elem, dims: [...id.slice(0, -1), ...xd.slice(b + last)] }];
  }
  if (op === 'Slice') return [slice(node, opset, x, intValue)];
  if (op === 'Transpose') {
    if (xd === undefined) return [{ elem }];
    const perm = attrInts(node, 'perm') ?? xd.map((_, i) => xd.length - 1 - i);
    if (perm.length !== xd.length) return [{ elem }];
    return [{ elem, dims: perm.map((p) => xd[p] ?? UNKNOWN) }];
  }
  if (op === 'Expand') {
    const shape = intValue(1);
    if (shape === undefined) {
      const n = ins[1]?.dims?.[0];
      if (xd === undefined || !isKnown(n)) return [{ elem }];
      return [{ elem, dims: new Array<Dim>(Math.max(n, xd.length)).fill(UNKNOWN) }];
    }
    const dims = broadcastDims(xd, shape);
    let value: Dim[] | undefined;
    const len = dims?.length === 0 ? 1 : dims?.length === 1 ? dims[0] : undefined;
    if (x?.value !== undefined && isKnown(len) && len <= MAX_VALUE) {
      if (x.value.length === len) value = x.value;
      else if (x.value.length === 1) value = new Array<Dim>(len).fill(x.value[0]!);
    }
    return [{ elem, dims, value }];
  }
  if (op === 'ConstantOfShape') {
    const shape = intValue(0);
    const t = getAttr(node, 'value')?.t;
    const outElem = t?.data_type ?? DataType.FLOAT;
    if (shape === undefined) {
      const n = x?.dims?.[0];
      return [{ elem: outElem, dims: isKnown(n) && n <= MAX_VALUE ? new Array<Dim>(n).fill(UNKNOWN) : undefined }];
    }
    let value: Dim[] | undefined;
    const fill = t ? tensorValue(t) : [0];
    const len = shape.length === 0 ? 1 : shape.length === 1 ? shape[0] : undefined;
    if (fill?.length === 1 && isKnown(len) && len <= MAX_VALUE) value = new Array<Dim>(len).fill(fill[0]!);
    return [{ elem: outElem, dims: shape, value }];
  }
  if (op === 'Tile') {
    const reps = intValue(1);
    if (xd === undefined) return [{ elem }];
    if (reps === undefined || reps.length !== xd.length) return [{ elem, dims: xd.map(() => UNKNOWN) }];
    const dims = xd.map((d, i) => dimMul(d, reps[i]!));
    let value: Dim[] | undefined;
    const r0 = reps[0];
    if (xd.length === 1 && x?.value !== undefined && typeof r0 === 'number' && r0 >= 0 && x.value.length * r0 <= MAX_VALUE) {
      value = [];
      for (let i = 0; i < r0; i++) value.push(...x.value);
    }
    return [{ elem, dims, value }];
  }
  if (op === 'Pad') return [pad(node, opset, x, intValue)];
  if (op === 'Range') return [range(intValue(0), intValue(1), intValue(2), elem)];
  if (op === 'NonZero') return [{ elem: DataType.INT64, dims: [xd?.length ?? UNKNOWN, UNKNOWN] }];
  if (op === 'Compress' || op === 'Unique') {
    const axis = xd !== undefined ? normAxis(attrInt(node, 'axis') ?? Number.NaN, xd.length) : undefined;
    return [{ elem, dims: axis === undefined ? [UNKNOWN] : xd!.map((d, i) => (i === axis ? UNKNOWN : d)) }];
  }
  if (op === 'Einsum')
    return [
      {
        elem,
        dims: einsum(
          attrString(node, 'equation'),
          ins.map((s) => s?.dims),
        ),
      },
    ];
  if (REDUCES.has(op)) return [reduce(node, op, opset, x, has(1), intValue)];
  if (op === 'ArgMax' || op === 'ArgMin') {
    if (xd === undefined) return [{ elem: DataType.INT64 }];
    const axis = normAxis(attrInt(node, 'axis') ?? 0, xd.length);
    if (axis === undefined) return [{ elem: DataType.INT64 }];
    const keep = (attrInt(node, 'keepdims') ?? 1) !== 0;
    const dims = keep ? xd.map((d, i) => (i === axis ? 1 : d)) : xd.filter((_, i) => i !== axis);
    return [{ elem: DataType.INT64, dims }];
  }
  if (op === 'TopK') {
    if (xd === undefined) return [{ elem }, { elem: DataType.INT64 }];
    const axis = normAxis(attrInt(node, 'axis') ?? -1, xd.length);
    if (axis === undefined) return [{ elem }, { elem: DataType.INT64 }];
    const kv = opset >= 10 ? intValue(1) : [attrInt(node, 'k') ?? UNKNOWN];
    const k = kv?.length === 1 ? kv[0]! : UNKNOWN;
    const dims = xd.map((d, i) => (i === axis ? (typeof k === 'number' && k < 0 ? UNKNOWN : k) : d));
    return [
      { elem, dims },
      { elem: DataType.INT64, dims },
    ];
  }
  if (op === 'Resize' || op === 'Upsample') return [resize(node, op, opset, x, intValue, numbers)];
  if (op === 'DepthToSpace' || op === 'SpaceToDepth') {
    const b = attrInt(node, 'blocksize');
    if (xd === undefined || xd.length !== 4 || b === undefined || b < 1) return [{ elem }];
    const [n, c, h, w] = xd as [Dim, Dim, Dim, Dim];
    const dims = op === 'DepthToSpace' ? [n, dimDivide(c, b * b), dimTimes(h, b), dimTimes(w, b)] : [n, dimTimes(c, b * b), dimDivide(h, b), dimDivide(w, b)];
    return [{ elem, dims }];
  }
  if (op === 'OneHot') {
    const depth = numbers(1);
    if (xd === undefined) return [{ elem: ins[2]?.elem }];
    const axis = normAxis(attrInt(node, 'axis') ?? -1, xd.length + 1);
    if (axis === undefined) return [{ elem: ins[2]?.elem }];
    const d: Dim = depth?.length === 1 && Number.isSafeInteger(depth[0]) ? depth[0]! : UNKNOWN;
    const dims = [...xd];
    dims.splice(axis, 0, d);
    return [{ elem: ins[2]?.elem, dims }];
  }
  if (RECURRENT.has(op))
    return recurrent(
      node,
      op,
      ins.map((s) => s?.dims),
      elem,
    );
  return [];
}

// ---------------------------------------------------------------------------------------------
// Operators with more to them.

type IntValue = (k: number) => Dim[] | undefined;

function reshapeDims(input: Dim[] | undefined, shape: Dim[], allowZero: boolean): Dim[] {
  const out: Dim[] = shape.map((d, i) => {
    if (d === 0 && !allowZero) return input?.[i] ?? UNKNOWN;
    if (d === -1) return -1;
    if (typeof d === 'number' && d < 0) return UNKNOWN;
    return d;
  });
  const minus = out.indexOf(-1);
  if (minus < 0) return out;
  if (out.indexOf(-1, minus + 1) >= 0 || input === undefined) {
    out[minus] = UNKNOWN;
    return out;
  }
  // -1 = (product of input dims) / (product of the other target dims), symbolically.
  out[minus] = quotient(
    input,
    out.filter((_, i) => i !== minus),
  );
  return out;
}

function slice(node: NodeProto, opset: number, x: ValueShape | undefined, intValue: IntValue): ValueShape {
  const elem = x?.elem;
  const xd = x?.dims;
  if (xd === undefined) return { elem };
  const starts = opset >= 10 ? intValue(1) : attrInts(node, 'starts');
  const ends = opset >= 10 ? intValue(2) : attrInts(node, 'ends');
  const hasAxes = opset >= 10 ? !!node.input?.[3] : attrInts(node, 'axes') !== undefined;
  const axesIn = opset >= 10 ? (hasAxes ? intValue(3) : undefined) : attrInts(node, 'axes');
  const steps = opset >= 10 && node.input?.[4] ? intValue(4) : undefined;
  if (opset >= 10 && node.input?.[4] && steps === undefined) return { elem, dims: xd.map(() => UNKNOWN) };
  if (hasAxes && axesIn === undefined) return { elem, dims: xd.map(() => UNKNOWN) };
  const n = starts?.length ?? ends?.length;
  const axes = axesIn ?? (n !== undefined ? Array.from({ length: n }, (_, i) => i) : undefined);
  if (axes === undefined) return { elem, dims: xd.map(() => UNKNOWN) };
  const dims = [...xd];
  let value = x?.value ? [...x.value] : undefined;
  for (let k = 0; k < axes.length; k++) {
    const ax = axes[k];
    if (typeof ax !== 'number') return { elem, dims: xd.map(() => UNKNOWN) };
    const a = normAxis(ax, xd.length);
    if (a === undefined) return { elem };
    const s0 = starts?.[k];
    const e0 = ends?.[k];
    const st = steps?.[k] ?? 1;
    const len = xd[a]!;
    if (typeof s0 !== 'number' || typeof e0 !== 'number' || typeof st !== 'number' || st === 0) {
      dims[a] = UNKNOWN;
      if (a === 0) value = undefined;
      continue;
    }
    if (!isKnown(len)) {
      // The whole of a symbolic axis, forwards or backwards.
      const whole = st === 1 ? s0 === 0 && e0 >= BIG : st === -1 && (s0 === -1 || s0 >= BIG) && e0 <= -BIG;
      dims[a] = whole && parseSymbolicDim(len) ? len : UNKNOWN;
      if (a === 0) value = whole && st === 1 ? value : undefined;
      continue;
    }
    let s: number;
    let e: number;
    if (st > 0) {
      s = Math.max(0, Math.min(len, s0 < 0 ? s0 + len : s0));
      e = Math.max(0, Math.min(len, e0 < 0 ? e0 + len : e0));
    } else {
      s = Math.max(-1, Math.min(len - 1, s0 < 0 ? s0 + len : s0));
      e = Math.max(-1, Math.min(len - 1, e0 < 0 ? e0 + len : e0));
    }
    const count = st > 0 ? Math.max(0, Math.ceil((e - s) / st)) : Math.max(0, Math.ceil((s - e) / -st));
    dims[a] = count;
    if (value !== undefined && a === 0) {
      if (value.length !== len) value = undefined;
      else {
        const picked: Dim[] = [];
        for (let i = 0; i < count; i++) picked.push(value[s + i * st]!);
        value = picked;
      }
    }
  }
  return { elem, dims, value };
}

function split(node: NodeProto, opset: number, x: ValueShape | undefined, intValue: IntValue): ValueShape[] {
  const elem = x?.elem;
  const xd = x?.dims;
  const n = node.output?.length ?? 0;
  if (xd === undefined || n === 0) return [];
  const axis = normAxis(attrInt(node, 'axis') ?? 0, xd.length);
  if (axis === undefined) return [];
  let sizes: Dim[] | undefined;
  if (opset >= 13 && node.input?.[1]) {
    sizes = intValue(1);
    if (sizes === undefined) sizes = new Array<Dim>(n).fill(UNKNOWN);
  } else if (opset < 13) {
    sizes = attrInts(node, 'split');
  }
  const d = xd[axis]!;
  if (sizes === undefined || sizes.length === 0) {
    const parts = opset >= 18 ? (attrInt(node, 'num_outputs') ?? n) : n;
    if (isKnown(d) && opset >= 18 && d % parts !== 0) {
      const chunk = Math.ceil(d / parts);
      const last = d - chunk * (parts - 1);
      sizes = Array.from({ length: parts }, (_, i) => (i < parts - 1 ? chunk : last >= 0 ? last : UNKNOWN));
    } else {
      sizes = new Array<Dim>(parts).fill(dimDivide(d, parts));
    }
  }
  let offset: Dim = 0;
  return sizes.slice(0, n).map((s) => {
    const size = typeof s === 'number' && s < 0 ? UNKNOWN : s;
    const dims = xd.map((v, i) => (i === axis ? size : v));
    let value: Dim[] | undefined;
    if (xd.length === 1 && x?.value !== undefined && x.value.length === d && typeof offset === 'number' && typeof size === 'number') {
      value = x.value.slice(offset, offset + size);
    }
    offset = dimAdd(offset, size);
    return { elem, dims, value };
  });
}

function pad(node: NodeProto, opset: number, x: ValueShape | undefined, intValue: IntValue): ValueShape {
  const elem = x?.elem;
  const xd = x?.dims;
  if (xd === undefined) return { elem };
  const r = xd.length;
  const pads = opset >= 11 ? intValue(1) : (attrInts(node, opset < 2 ? 'paddings' : 'pads') ?? attrInts(node, 'pads'));
  if (pads === undefined) return { elem, dims: xd.map(() => UNKNOWN) };
  let axes: Dim[] = xd.map((_, i) => i);
  if (opset >= 18 && node.input?.[3]) {
    const given = intValue(3);
    if (given === undefined) return { elem, dims: xd.map(() => UNKNOWN) };
    axes = given;
  }
  if (pads.length !== 2 * axes.length) return { elem, dims: xd.map(() => UNKNOWN) };
  const dims = [...xd];
  axes.forEach((ax, k) => {
    const a = typeof ax === 'number' ? normAxis(ax, r) : undefined;
    if (a === undefined) return;
    dims[a] = dimAdd(dimAdd(dims[a]!, pads[k]!), pads[k + axes.length]!);
    if (typeof dims[a] === 'number' && (dims[a] as number) < 0) dims[a] = UNKNOWN;
  });
  return { elem, dims };
}

function range(start: Dim[] | undefined, limit: Dim[] | undefined, delta: Dim[] | undefined, elem: number | undefined): ValueShape {
  const s = start?.length === 1 ? start[0] : undefined;
  const l = limit?.length === 1 ? limit[0] : undefined;
  const d = delta?.length === 1 ? delta[0] : undefined;
  if (typeof s === 'number' && typeof l === 'number' && typeof d === 'number' && d !== 0) {
    const n = Math.max(0, Math.ceil((l - s) / d));
    if (!Number.isSafeInteger(n)) return { elem, dims: [UNKNOWN] };
    const value = n <= MAX_VALUE ? Array.from({ length: n }, (_, i) => s + i * d) : undefined;
    return { elem, dims: [n], value };
  }
  // range(0, n, 1) has n elements, whatever n is.
  if (s === 0 && d === 1 && l !== undefined && parseSymbolicDim(l)) return { elem, dims: [l] };
  return { elem, dims: [UNKNOWN] };
}

function reduce(node: NodeProto, op: string, opset: number, x: ValueShape | undefined, hasAxesInput: boolean, intValue: IntValue): ValueShape {
  const elem = x?.elem;
  const xd = x?.dims;
  if (xd === undefined) return { elem };
  const keep = (attrInt(node, 'keepdims') ?? 1) !== 0;
  const fromInput = opset >= 18 || (op === 'ReduceSum' && opset >= 13);
  let axes: Dim[] | undefined;
  if (fromInput) {
    axes = hasAxesInput ? intValue(1) : [];
    if (axes === undefined) return keep ? { elem, dims: xd.map(() => UNKNOWN) } : { elem };
  } else {
    axes = attrInts(node, 'axes') ?? [];
  }
  const noop = fromInput && (attrInt(node, 'noop_with_empty_axes') ?? 0) !== 0;
  if (axes.length === 0 && noop) return { elem, dims: xd, value: x?.value };
  const set = new Set<number>();
  if (axes.length === 0) xd.forEach((_, i) => set.add(i));
  for (const a of axes) {
    const n = typeof a === 'number' ? normAxis(a, xd.length) : undefined;
    if (n === undefined) return keep ? { elem, dims: xd.map(() => UNKNOWN) } : { elem };
    set.add(n);
  }
  const dims = keep ? xd.map((d, i) => (set.has(i) ? 1 : d)) : xd.filter((_, i) => !set.has(i));
  let value: Dim[] | undefined;
  if (xd.length === 1 && x?.value !== undefined && set.has(0)) {
    if (op === 'ReduceProd') value = [product(x.value)];
    else if (op === 'ReduceSum') value = [x.value.reduce((p, q) => dimAdd(p, q), 0 as Dim)];
  }
  return { elem, dims, value };
}

function resize(
  node: NodeProto,
  op: string,
  opset: number,
  x: ValueShape | undefined,
  intValue: IntValue,
  numbers: (k: number) => number[] | undefined,
): ValueShape {
  const elem = x?.elem;
  const xd = x?.dims;
  if (xd === undefined) return { elem };
  const r = xd.length;
  const unknown = { elem, dims: xd.map(() => UNKNOWN) };
  let axes = xd.map((_, i) => i);
  if (op === 'Resize' && opset >= 18) {
    const given = attrInts(node, 'axes');
    if (given !== undefined) {
      const norm = given.map((a) => normAxis(a, r));
      if (norm.some((a) => a === undefined)) return unknown;
      axes = norm as number[];
    }
  }
  const dims = [...xd];
  const sizesIdx = op === 'Resize' && opset >= 11 ? 3 : -1;
  const scalesIdx = op === 'Resize' ? (opset >= 11 ? 2 : 1) : 1;
  if (sizesIdx > 0 && node.input?.[sizesIdx]) {
    const sizes = intValue(sizesIdx);
    if (sizes === undefined || sizes.length !== axes.length) return unknown;
    const policy = attrString(node, 'keep_aspect_ratio_policy') ?? 'stretch';
    if (policy !== 'stretch') return unknown;
    axes.forEach((a, k) => (dims[a] = sizes[k]!));
    return { elem, dims };
  }
  let scales: number[] | undefined;
  if (op === 'Upsample' && opset < 9) scales = getAttr(node, 'scales')?.floats;
  else if (node.input?.[scalesIdx]) scales = numbers(scalesIdx);
  if (scales === undefined || scales.length !== axes.length) return unknown;
  axes.forEach((a, k) => {
    const s = scales![k]!;
    const d = dims[a]!;
    if (s === 1) dims[a] = d;
    else if (isKnown(d)) dims[a] = Math.floor(d * s + 1e-9);
    else if (Number.isSafeInteger(s) && s > 0) dims[a] = dimTimes(d, s);
    else dims[a] = UNKNOWN;
  });
  return { elem, dims };
}

function convTranspose(node: NodeProto, xd: Dim[] | undefined, w: Dim[] | undefined, elem: number | undefined): ValueShape {
  if (xd === undefined || xd.length < 3) return { elem };
  const spatial = xd.length - 2;
  const group = attrInt(node, 'group') ?? 1;
  const channels = w !== undefined && w.length >= 2 ? dimTimes(w[1]!, group) : UNKNOWN;
  const unknownSpatial = { elem, dims: [xd[0]!, channels, ...xd.slice(2).map(() => UNKNOWN)] };
  const outputShape = attrInts(node, 'output_shape');
  if (outputShape !== undefined) {
    const sp = outputShape.length === spatial + 2 ? outputShape.slice(2) : outputShape;
    if (sp.length !== spatial) return unknownSpatial;
    return { elem, dims: [xd[0]!, channels, ...sp] };
  }
  const kernel = attrInts(node, 'kernel_shape') ?? (w !== undefined && w.length === xd.length ? w.slice(2).map((d) => (isKnown(d) ? d : -1)) : undefined);
  if (kernel === undefined || kernel.length !== spatial || kernel.some((k) => k < 0)) return unknownSpatial;
  const strides = attrInts(node, 'strides') ?? new Array<number>(spatial).fill(1);
  const dil = attrInts(node, 'dilations') ?? new Array<number>(spatial).fill(1);
  const outPad = attrInts(node, 'output_padding') ?? new Array<number>(spatial).fill(0);
  const autoPad = attrString(node, 'auto_pad') ?? 'NOTSET';
  const pads = attrInts(node, 'pads') ?? new Array<number>(2 * spatial).fill(0);
  const out = kernel.map((k, i): Dim => {
    const d = xd[i + 2]!;
    const s = strides[i] ?? 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return dimTimes(d, s);
    const eff = (k - 1) * (dil[i] ?? 1) + 1;
    const padSum = autoPad === 'VALID' ? 0 : (pads[i] ?? 0) + (pads[i + spatial] ?? 0);
    const extra = (outPad[i] ?? 0) + eff - padSum - s;
    // stride·(in − 1) + output_padding + eff − pads = stride·in + extra
    const o = dimAdd(dimTimes(d, s), extra);
    return typeof o === 'number' && o <= 0 ? UNKNOWN : o;
  });
  return { elem, dims: [xd[0]!, channels, ...out] };
}

function recurrent(node: NodeProto, op: string, dims: (Dim[] | undefined)[], elem: number | undefined): ValueShape[] {
  const [xd, w, r, , , h0, c0] = dims;
  const direction = attrString(node, 'direction') ?? 'forward';
  const numDir: Dim = direction === 'bidirectional' ? 2 : direction === 'forward' || direction === 'reverse' ? 1 : UNKNOWN;
  const layout = attrInt(node, 'layout') ?? 0;
  const gates = op === 'LSTM' ? 4 : op === 'GRU' ? 3 : 1;
  let hidden: Dim = attrInt(node, 'hidden_size') ?? UNKNOWN;
  if (hidden === UNKNOWN && r?.length === 3) hidden = r[2]!;
  if (hidden === UNKNOWN && r?.length === 3) hidden = dimDivide(r[1]!, gates);
  if (hidden === UNKNOWN && w?.length === 3) hidden = dimDivide(w[1]!, gates);
  let seq: Dim = UNKNOWN;
  let batch: Dim = UNKNOWN;
  if (xd?.length === 3) {
    seq = layout === 0 ? xd[0]! : xd[1]!;
    batch = layout === 0 ? xd[1]! : xd[0]!;
  }
  // The batch can also be read off initial_h / initial_c.
  for (const s of [h0, c0]) {
    if (s?.length === 3) batch = unifyDim(batch, layout === 0 ? s[1] : s[0]);
  }
  const y: Dim[] = layout === 0 ? [seq, numDir, batch, hidden] : [batch, seq, numDir, hidden];
  const yh: Dim[] = layout === 0 ? [numDir, batch, hidden] : [batch, numDir, hidden];
  const outs: ValueShape[] = [
    { elem, dims: y },
    { elem, dims: yh },
  ];
  if (op === 'LSTM') outs.push({ elem, dims: [...yh] });
  return outs;
}

/** Einsum with an explicit or implicit equation of letters (and '...'). */
function einsum(equation: string | undefined, inputs: (Dim[] | undefined)[]): Dim[] | undefined {
  if (equation === undefined) return undefined;
  const eq = equation.replace(/\s+/g, '');
  const arrow = eq.indexOf('->');
  const lhs = arrow >= 0 ? eq.slice(0, arrow) : eq;
  const terms = lhs.split(',');
  if (terms.length !== inputs.length) return undefined;
  const letters = new Map<string, Dim>();
  const counts = new Map<string, number>();
  let ellipsis: Dim[] | undefined;
  for (let t = 0; t < terms.length; t++) {
    const term = terms[t]!;
    const dims = inputs[t];
    if (dims === undefined) return undefined;
    const dot = term.indexOf('...');
    const before = dot >= 0 ? term.slice(0, dot) : term;
    const after = dot >= 0 ? term.slice(dot + 3) : '';
    if (!/^[A-Za-z]*$/.test(before) || !/^[A-Za-z]*$/.test(after)) return undefined;
    const named = before.length + after.length;
    if (dot < 0 ? named !== dims.length : named > dims.length) return undefined;
    const pairs: [string, Dim][] = [
      ...[...before].map((c, i): [string, Dim] => [c, dims[i]!]),
      ...[...after].map((c, i): [string, Dim] => [c, dims[dims.length - after.length + i]!]),
    ];
    for (const [c, d] of pairs) {
      counts.set(c, (counts.get(c) ?? 0) + 1);
      const old = letters.get(c);
      letters.set(c, old === undefined || old === 1 || old === UNKNOWN ? d : d === 1 ? old : unifyDim(old, d));
    }
    if (dot >= 0) {
      const mid = dims.slice(before.length, dims.length - after.length);
      ellipsis = ellipsis === undefined ? mid : broadcastDims(ellipsis, mid);
    }
  }
  let rhs: string;
  if (arrow >= 0) rhs = eq.slice(arrow + 2);
  else
    rhs =
      (ellipsis !== undefined ? '...' : '') +
      [...counts]
        .filter(([, n]) => n === 1)
        .map(([c]) => c)
        .sort()
        .join('');
  const out: Dim[] = [];
  for (let i = 0; i < rhs.length; i++) {
    if (rhs.startsWith('...', i)) {
      out.push(...(ellipsis ?? []));
      i += 2;
      continue;
    }
    const d = letters.get(rhs[i]!);
    if (d === undefined) return undefined;
    out.push(d);
  }
  return out;
}
