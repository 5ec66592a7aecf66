/**
 * Raising a legacy (opset < 7) model to opset 7 — onnxruntime has no Gemm-6 kernel and
 * mcu's rewrite emits numpy-broadcasting Mul — for graphs whose every operator means the
 * same at opset 7, directly or after a mechanical translation that keeps its meaning
 * exactly (checked against the ONNX operator changelog, versions 1–7):
 * - `consumed_inputs` (opset 1 memory hints) is dropped everywhere;
 * - Dropout-1/6: `is_test` is dropped (mcu turns every Dropout into a site anyway);
 * - BatchNormalization-1/6 in test mode (prepare switches training-mode nodes first): `is_test`
 *   is dropped; the statistics outputs, unused in test mode, are dropped too (at opset 7 their
 *   presence would mean training mode); `spatial = 0` with 1-D parameters is dropped (in test
 *   mode it normalises per channel exactly like spatial = 1; BatchNormalization-7 with
 *   spatial = 0 wants C×D1×…×Dn parameters); anything else is refused;
 * - Gemm-1/6: `broadcast` is dropped (Gemm-7 broadcasts C unidirectionally, a superset);
 * - Add/Sub/Mul/Div/Pow/And/Or/Xor/Equal/Greater/Less with `broadcast = 1` become numpy
 *   broadcasting when B aligns with A's trailing axes (no `axis`, or axis = rank A − rank B)
 *   or B has one element and no higher rank than A; any other `axis` is refused;
 * - Reshape-1 moves its `shape` attribute to an initializer input; Concat-1 gets its
 *   default axis = 1 written out;
 * - Cast-1 names its target type as a string: it becomes the DataType number;
 * - Selu-1's defaults (alpha 1.6732, gamma 1.0507) differ from Selu-6's (1.67326…, 1.05070…):
 *   absent ones are written out;
 * - Clip-1 without min / max has no bound there; Clip-6 defaults to ∓3.402823e38: absent
 *   bounds are written out as ∓Infinity;
 * - Tile-1 (input, tiles, axis) becomes Tile-6 (input, repeats) when tiles and axis are
 *   constants and the input's rank is known;
 * - Split-1's optional `split` input becomes the `split` attribute when it is a constant;
 *   Split-1 without `axis` (no default; Split-2 defaults to 0) is refused;
 * - Pad-1's `paddings` becomes Pad-2's `pads` when the list reads the same in both layouts
 *   Pad-1's documentation uses (its text: [x1_begin, x2_begin, …, x1_end, …]; its example:
 *   [x1_begin, x1_end, …]) and has no negative entry; otherwise it is refused.
 * Unchanged from opset 1 to 7: the other operators of SAME_AT_7, including AveragePool-1
 * (excludes padding, as AveragePool-7's default count_include_pad = 0), MaxPool-1 (changed
 * at 8), Sum/Max/Min/Mean-6 (broadcasting came at 8), InstanceNormalization, Slice-1,
 * Flatten-1, Softmax-1, Squeeze/Unsqueeze-1, LRN-1.
 * Any operator outside the table (e.g. Upsample, PRelu, RNN/GRU/LSTM, experimental ones)
 * → McuError('E_UNSUPPORTED') naming it.
 *
 * Everything is checked first: the graph is modified only when the whole of it can be raised.
 */
import { McuError } from '@mcu/core';
import { AttributeType, DataType } from '../proto/enums.js';
import type { GraphProto, ModelProto, NodeProto, TensorProto } from '../proto/types.js';
import { ConstantTable } from './constants.js';
import {
  attrInt,
  attrInts,
  attrString,
  getAttr,
  int64Tensor,
  intAttr,
  intsAttr,
  isDefaultDomain,
  Namer,
  nodeLabel,
  removeAttr,
  setDefaultOpset,
} from './proto-util.js';
import { inferShapes } from './shapes.js';
import { tensorNumbers } from './tensor-values.js';

/** Operators whose meaning does not change up to opset 7 (modulo the translations above). */
const SAME_AT_7 = new Set([
  'Relu',
  'Tanh',
  'Sigmoid',
  'LeakyRelu',
  'Elu',
  'Selu',
  'HardSigmoid',
  'Softplus',
  'Softsign',
  'Neg',
  'Abs',
  'Exp',
  'Log',
  'Sqrt',
  'Reciprocal',
  'Floor',
  'Ceil',
  'Clip',
  'Identity',
  'Dropout',
  'BatchNormalization',
  'Reshape',
  'Flatten',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'Conv',
  'ConvTranspose',
  'Softmax',
  'LogSoftmax',
  'Concat',
  'Transpose',
  'Squeeze',
  'Unsqueeze',
  'MatMul',
  'Gemm',
  'LRN',
  'Gather',
  'Shape',
  'Size',
  'Slice',
  'Constant',
  'Sum',
  'Max',
  'Min',
  'Mean',
  'Not',
  'Split',
  'Tile',
  'Pad',
  'ReduceMean',
  'ReduceSum',
  'ReduceMax',
  'ReduceMin',
  'ReduceProd',
  'ArgMax',
  'ArgMin',
  'InstanceNormalization',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'And',
  'Or',
  'Xor',
  'Equal',
  'Greater',
  'Less',
  'Cast',
  'Hardmax',
  'DepthToSpace',
  'SpaceToDepth',
]);
const LEGACY_BROADCAST = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'And', 'Or', 'Xor', 'Equal', 'Greater', 'Less']);

/** Cast-1's `to` names (T2 of Cast-1: no strings, no complex). */
const CAST1_TYPES: Record<string, number> = {
  FLOAT16: DataType.FLOAT16,
  FLOAT: DataType.FLOAT,
  DOUBLE: DataType.DOUBLE,
  INT8: DataType.INT8,
  INT16: DataType.INT16,
  INT32: DataType.INT32,
  INT64: DataType.INT64,
  UINT8: DataType.UINT8,
  UINT16: DataType.UINT16,
  UINT32: DataType.UINT32,
  UINT64: DataType.UINT64,
  BOOL: DataType.BOOL,
};

/** Selu-1's attribute defaults (Selu-6 changed them to the float32 values of the exact constants). */
const SELU1_ALPHA = 1.6732;
const SELU1_GAMMA = 1.0507;

export interface OpsetUpgrade {
  from: number;
  to: number;
  changes: string[];
}

const floatAttr = (name: string, f: number) => ({ name, type: AttributeType.FLOAT, f });

function setAttr(node: NodeProto, attr: NonNullable<NodeProto['attribute']>[number]): void {
  removeAttr(node, attr.name ?? '');
  (node.attribute ??= []).push(attr);
}

/**
 * Initializers among `names` that nothing reads any more are removed, with their graph input
 * entry (IR < 4 lists initializers as inputs; onnxruntime refuses an IR 3 initializer that is
 * neither read nor an input).
 */
function dropOrphanedInitializers(graph: GraphProto, names: ReadonlySet<string>): void {
  if (names.size === 0) return;
  const used = new Set<string>();
  for (const n of graph.node ?? []) for (const i of n.input ?? []) if (i) used.add(i);
  for (const o of graph.output ?? []) if (o.name) used.add(o.name);
  const inits = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const orphan = new Set([...names].filter((n) => !used.has(n) && inits.has(n)));
  if (orphan.size === 0) return;
  graph.initializer = (graph.initializer ?? []).filter((t) => !orphan.has(t.name ?? ''));
  graph.input = (graph.input ?? []).filter((v) => !orphan.has(v.name ?? ''));
}

const show = (v: readonly (number | string)[]) => `[${v.join(', ')}]`;

export function raiseLegacyOpset(model: ModelProto, opset: number, what: string): OpsetUpgrade | undefined {
  if (opset >= 7) return undefined;
  const graph = model.graph!;
  function refuse(_node: NodeProto, why: string): never {
    throw new McuError(
      'E_UNSUPPORTED',
      `${what} uses opset ${opset}; mcu runs it at opset 7, but ${why}. Re-export the model with opset ≥ 7 (torch.onnx.export(..., opset_version=13)).`,
    );
  }
  for (const node of graph.node ?? []) {
    const op = node.op_type ?? '';
    if (!isDefaultDomain(node.domain)) continue;
    if (!SAME_AT_7.has(op)) refuse(node, `operator ${op} (${nodeLabel(node)}) changed meaning between opset ${opset} and 7`);
    if ((node.attribute ?? []).some((a) => a.g !== undefined || (a.graphs?.length ?? 0) > 0)) {
      refuse(node, `${nodeLabel(node)} has a subgraph`);
    }
  }
  const consts = new ConstantTable(graph);
  const shapes = inferShapes(graph, opset, consts);
  const namer = new Namer(graph);
  const counts = new Map<string, number>();
  const count = (k: string) => counts.set(k, (counts.get(k) ?? 0) + 1);
  const newInits: TensorProto[] = [];
  // Planned modifications: nothing is applied before every node has been checked.
  const edits: (() => void)[] = [];
  /** Inputs that translations stop reading (Tile-1's tiles / axis, Split-1's split). */
  const dropped = new Set<string>();
  const edit = (key: string, fn: () => void) => {
    count(key);
    edits.push(fn);
  };
  const consumed = new Set<string>();
  for (const n of graph.node ?? []) for (const i of n.input ?? []) if (i) consumed.add(i);
  for (const o of graph.output ?? []) if (o.name) consumed.add(o.name);
  const rankOf = (name: string | undefined): number | undefined => {
    if (!name) return undefined;
    const t = consts.get(name);
    if (t) return t.dims?.length ?? 0;
    return shapes.get(name)?.dims?.length;
  };
  /** A constant input's values when they are all integers (float or integer tensor). */
  const constInts = (name: string | undefined): number[] | undefined => {
    const t = consts.get(name);
    const v = t ? tensorNumbers(t) : undefined;
    return v?.every((x) => Number.isSafeInteger(x)) ? v : undefined;
  };

  for (const node of graph.node ?? []) {
    if (!isDefaultDomain(node.domain)) continue;
    const op = node.op_type ?? '';
    const label = nodeLabel(node);
    if (getAttr(node, 'consumed_inputs')) edit(`${op}.consumed_inputs`, () => removeAttr(node, 'consumed_inputs'));

    if (op === 'Dropout' && getAttr(node, 'is_test')) edit('Dropout.is_test', () => removeAttr(node, 'is_test'));

    if (op === 'BatchNormalization') {
      const isTest = (attrInt(node, 'is_test') ?? 0) !== 0;
      if (!isTest) {
        refuse(
          node,
          `${label} runs in training mode (is_test = 0), which opset 7 expresses by its outputs instead; prepareModel switches such nodes to inference before raising`,
        );
      }
      if (getAttr(node, 'is_test')) edit('BatchNormalization.is_test', () => removeAttr(node, 'is_test'));
      const extra = (node.output ?? []).slice(1).filter((o) => o !== '');
      if (extra.length > 0) {
        const used = extra.find((o) => consumed.has(o));
        if (used !== undefined) {
          refuse(node, `${label} is in test mode but its statistics output '${used}' is used; at opset 7 that output would mean training mode`);
        }
        edit('BatchNormalization.statistics-outputs', () => {
          node.output = (node.output ?? []).slice(0, 1);
        });
      }
      const spatial = attrInt(node, 'spatial');
      if (spatial !== undefined && spatial !== 1) {
        const ranks = (node.input ?? []).slice(1, 5).map((i) => rankOf(i));
        if (spatial !== 0 || ranks.length !== 4 || ranks.some((r) => r !== 1)) {
          refuse(
            node,
            `${label} has spatial = ${spatial} with parameter ranks ${show(ranks.map((r) => r ?? '?'))}; ` +
              'BatchNormalization-7 reads spatial = 0 as per-activation (C×D1×…×Dn) parameters, which this model does not have',
          );
        }
        edit('BatchNormalization.spatial', () => removeAttr(node, 'spatial'));
      }
    }

    if (op === 'Gemm' && getAttr(node, 'broadcast')) edit('Gemm.broadcast', () => removeAttr(node, 'broadcast'));

    if (LEGACY_BROADCAST.has(op)) {
      const bc = attrInt(node, 'broadcast') ?? 0;
      const axis = attrInt(node, 'axis');
      if (bc !== 0) {
        const a = shapes.get(node.input?.[0] ?? '')?.dims;
        const b = shapes.get(node.input?.[1] ?? '')?.dims;
        const ra = a?.length;
        const rb = b?.length;
        const oneElement = b?.every((d) => d === 1) === true;
        if (ra !== undefined && rb !== undefined && rb > ra) {
          refuse(
            node,
            `${label} broadcasts a rank-${rb} second input onto a rank-${ra} first one; numpy broadcasting (opset 7) would change the output's rank`,
          );
        }
        if (axis !== undefined) {
          const trailing = ra !== undefined && rb !== undefined && (axis === ra - rb || axis === -rb);
          if (!trailing && !(oneElement && ra !== undefined)) {
            refuse(
              node,
              `${label} broadcasts its second input from axis ${axis}` +
                (ra === undefined || rb === undefined ? ' (input ranks unknown)' : ` (ranks ${ra} and ${rb})`) +
                ', which numpy broadcasting (opset 7) cannot express',
            );
          }
        }
      }
      if (getAttr(node, 'broadcast')) edit(`${op}.broadcast`, () => removeAttr(node, 'broadcast'));
      if (axis !== undefined) edit(`${op}.axis`, () => removeAttr(node, 'axis'));
    }

    if (op === 'Reshape' && opset < 5) {
      const shape = attrInts(node, 'shape');
      if (shape === undefined) refuse(node, `${label} has no shape attribute`);
      const name = namer.fresh(`${node.output?.[0] ?? 'reshape'}_shape`);
      edit('Reshape.shape→input', () => {
        newInits.push(
          int64Tensor(
            name,
            shape!.map((d) => BigInt(d)),
          ),
        );
        node.input = [node.input?.[0] ?? '', name];
        removeAttr(node, 'shape');
      });
    }

    if (op === 'Concat' && opset < 4 && attrInt(node, 'axis') === undefined) {
      edit('Concat.axis', () => (node.attribute ??= []).push(intAttr('axis', 1)));
    }

    if (op === 'Cast' && opset < 6) {
      const a = getAttr(node, 'to');
      if (a === undefined || a.i === undefined) {
        const to = attrString(node, 'to');
        const code = to === undefined ? undefined : CAST1_TYPES[to.toUpperCase()];
        if (code === undefined) {
          refuse(
            node,
            `Cast-1 ${label} has 'to' = ${to === undefined ? '(none)' : JSON.stringify(to)}, which is not one of ${Object.keys(CAST1_TYPES).join(', ')}`,
          );
        }
        edit('Cast.to→enum', () => setAttr(node, intAttr('to', code!)));
      }
    }

    if (op === 'Selu' && opset < 6) {
      if (!getAttr(node, 'alpha')) edit('Selu.alpha-1-default', () => setAttr(node, floatAttr('alpha', SELU1_ALPHA)));
      if (!getAttr(node, 'gamma')) edit('Selu.gamma-1-default', () => setAttr(node, floatAttr('gamma', SELU1_GAMMA)));
    }

    if (op === 'Clip' && opset < 6) {
      if (!getAttr(node, 'min')) edit('Clip.min-unbounded', () => setAttr(node, floatAttr('min', -Infinity)));
      if (!getAttr(node, 'max')) edit('Clip.max-unbounded', () => setAttr(node, floatAttr('max', Infinity)));
    }

    if (op === 'Tile' && opset < 6) planTile(node, label);
    if (op === 'Split' && opset < 2) planSplit(node, label);
    if (op === 'Pad' && opset < 2) planPad(node, label);
  }

  function planTile(node: NodeProto, label: string): void {
    const [x, tilesName, axisName] = node.input ?? [];
    if (!tilesName || !axisName || (node.input?.length ?? 0) !== 3) {
      refuse(node, `Tile-1 ${label} needs inputs (input, tiles, axis), got ${show((node.input ?? []).map((i) => `'${i}'`))}`);
    }
    const tiles = constInts(tilesName);
    const axisV = constInts(axisName);
    if (tiles?.length !== 1 || axisV?.length !== 1) {
      refuse(
        node,
        `Tile-1 ${label} repeats along one axis given by inputs 'tiles' = '${tilesName}' and 'axis' = '${axisName}'; ` +
          'Tile-6 takes one repeat count per axis, so both must be one-element integer constants (initializers or Constant nodes) for a translation',
      );
    }
    const rank = rankOf(x);
    const t = tiles![0]!;
    const axis = axisV![0]!;
    if (rank === undefined) refuse(node, `Tile-1 ${label}: the rank of its input '${x}' is unknown, so its repeats cannot be written per axis`);
    if (t < 0) refuse(node, `Tile-1 ${label} has tiles = ${t} (< 0)`);
    if (axis < 0 || axis >= rank!) refuse(node, `Tile-1 ${label} tiles along axis ${axis}, outside [0, ${rank! - 1}] for its rank-${rank} input`);
    const repeats = Array.from({ length: rank! }, (_, i) => BigInt(i === axis ? t : 1));
    const name = namer.fresh(`${node.output?.[0] ?? 'tile'}_repeats`);
    dropped.add(tilesName!);
    dropped.add(axisName!);
    edit('Tile(tiles,axis)→repeats', () => {
      newInits.push(int64Tensor(name, repeats));
      node.input = [x ?? '', name];
    });
  }

  function planSplit(node: NodeProto, label: string): void {
    if (attrInt(node, 'axis') === undefined) {
      refuse(node, `Split-1 ${label} has no 'axis' (Split-1 defines no default; Split-2 defaults to 0, while Caffe2-era exporters meant the channel axis 1)`);
    }
    const splitInput = node.input?.[1];
    if (!splitInput) {
      if ((node.input?.length ?? 0) > 1) {
        edit('Split.empty-input', () => {
          node.input = [node.input?.[0] ?? ''];
        });
      }
      return;
    }
    const lengths = constInts(splitInput);
    if (lengths === undefined || lengths.some((v) => v < 0) || rankOf(splitInput) !== 1) {
      refuse(
        node,
        `Split-1 ${label} takes its split lengths from input '${splitInput}', which is not a constant 1-D list of non-negative integers; ` +
          'Split-2 takes them only as an attribute',
      );
    }
    const attr = attrInts(node, 'split');
    if (attr !== undefined && (attr.length !== lengths!.length || attr.some((v, i) => v !== lengths![i]))) {
      refuse(node, `Split-1 ${label} has both a 'split' attribute ${show(attr)} and a different 'split' input ${show(lengths!)}`);
    }
    dropped.add(splitInput);
    edit('Split.split-input→attribute', () => {
      setAttr(node, intsAttr('split', lengths!));
      node.input = [node.input?.[0] ?? ''];
    });
  }

  function planPad(node: NodeProto, label: string): void {
    const p = attrInts(node, 'paddings');
    if (p === undefined) {
      if (attrInts(node, 'pads') !== undefined) return;
      refuse(node, `Pad-1 ${label} has no 'paddings' attribute`);
    }
    const r = p!.length / 2;
    const rank = rankOf(node.input?.[0]);
    if (!Number.isInteger(r) || (rank !== undefined && rank !== r)) {
      refuse(node, `Pad-1 ${label} has ${p!.length} paddings for a rank-${rank ?? '?'} input`);
    }
    if (p!.some((v) => v < 0)) refuse(node, `Pad-1 ${label} has negative paddings ${show(p!)}, which Pad-1 does not define`);
    // The documented layout [b1, b2, …, e1, e2, …] vs the example's [b1, e1, b2, e2, …].
    const same = Array.from({ length: r }, (_, i) => p![i] === p![2 * i] && p![r + i] === p![2 * i + 1]).every(Boolean);
    if (!same) {
      refuse(
        node,
        `Pad-1 ${label} has paddings ${show(p!)}, which reads differently in the layout Pad-1's text documents ` +
          '([x1_begin, x2_begin, …, x1_end, x2_end, …]) and the one its example uses ([x1_begin, x1_end, x2_begin, …]); ' +
          "Pad-2 'pads' uses the first, and which one the exporter meant cannot be told",
      );
    }
    edit('Pad.paddings→pads', () => {
      removeAttr(node, 'paddings');
      setAttr(node, intsAttr('pads', p!));
    });
  }

  for (const e of edits) e();
  if (newInits.length > 0) graph.initializer = [...(graph.initializer ?? []), ...newInits];
  dropOrphanedInitializers(graph, dropped);
  setDefaultOpset(model, 7);
  const detail = [...counts].map(([k, n]) => `${k} ×${n}`).join(', ');
  return {
    from: opset,
    to: 7,
    changes: [
      `raised the ONNX opset ${opset} → 7 (onnxruntime has no kernels for some opset-${opset} operators, e.g. Gemm-6)` +
        (detail ? `: translated ${detail}` : ''),
    ],
  };
}
