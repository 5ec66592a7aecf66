/**
 * ONNX → ExecGraph (layout 'tiled'): the graph's nodes become tfjs ops (./ops.ts), its Dropout
 * nodes become stochastic sites, initializers and Constant nodes become constants, and the
 * input-independent shape arithmetic (Constant → Unsqueeze → Concat …) is folded at translation.
 *
 * Shapes are inferred statically by running the shape rules twice, for two row counts (R1, R2
 * below, distinct primes): an axis whose size differs between the two holds the rows (R·k: k
 * entries per row, as attention weights [N·heads, L, L] have), every other axis is fixed. That
 * gives each site its per-row mask shape and where its rows are, without symbolic algebra;
 * values computed from shapes (Shape → Gather → Concat → Reshape) are tracked the same way.
 */
import { McuError, type StochasticSite } from '@mcu/core';
import type { ExecGraph, GraphConstant, GraphInput, GraphNode, GraphOutput } from '../graph.js';
import { attr, DataType, dataTypeName, decodeModel, type OnnxModel, type OnnxNode, type OnnxTensor, type ReadExternal } from './decode.js';
import { broadcastShapes, ONNX_OPS, poolOutSize, reshapeDims, resolvePads, sliceRange, unsqueezeDims } from './ops.js';

export interface OnnxToGraphOptions {
  /** Names the model in messages (e.g. its path). */
  readonly label: string;
  /** Reads tensors kept in external files (see decode.ts). */
  readonly readExternal?: ReadExternal;
  /** Dropout ratios given as graph inputs: input name → rate. */
  readonly rates?: Readonly<Record<string, number>>;
}

/** The ONNX operators (default domain) the translation runs. */
export const SUPPORTED_ONNX_OPS: readonly string[] = [
  ...Object.keys(ONNX_OPS)
    .filter((k) => k !== 'onnx.SiteRows')
    .map((k) => k.slice('onnx.'.length)),
  'Dropout',
  'Constant',
].sort();

const RANDOM_OPS = new Set(['RandomUniform', 'RandomUniformLike', 'RandomNormal', 'RandomNormalLike', 'Bernoulli', 'Multinomial']);

/** Row counts of the two shape-inference passes. */
const R1 = 7;
const R2 = 11;
/** Values (shape vectors, scalars) are tracked up to this many elements. */
const VALUE_LIMIT = 4096;

type Dt = 'float32' | 'int32' | 'bool';

/** What one pass knows about a value. */
interface Val {
  dims?: number[];
  /** The elements, row-major, when small and computable. */
  value?: number[];
  dtype: Dt;
}

interface Info {
  /** Depends on a graph input. */
  dep: boolean;
  /** Pass R1, pass R2. */
  at: [Val, Val];
  /** Full data of constants (initializers, Constant nodes, folded values). */
  data?: Float32Array | Float64Array;
}

/** Names exporters give to Dropout nodes of channel-wise (feature / spatial) dropout (the onnx backend uses the same rule). */
const FEATURE_DROPOUT_NAME = /(^|[/_.:])(feature_dropout|dropout[123]d|spatial_?dropout[123]d)([/_.:]|$)/i;

const isDefaultDomain = (d: string): boolean => d === '' || d === 'ai.onnx';
const prod = (d: readonly number[]): number => d.reduce((a, b) => a * b, 1);
const normAxis = (a: number, rank: number): number => (a < 0 ? a + rank : a);

function onnxDt(t: number): Dt | undefined {
  if (t === DataType.FLOAT || t === DataType.DOUBLE || t === DataType.FLOAT16 || t === DataType.BFLOAT16) return 'float32';
  if (t === DataType.BOOL) return 'bool';
  if ([DataType.INT64, DataType.INT32, DataType.INT16, DataType.INT8, DataType.UINT8, DataType.UINT16, DataType.UINT32].includes(t as never)) return 'int32';
  return undefined;
}

/** Strides of row-major dims. */
function stridesOf(dims: readonly number[]): number[] {
  const s = Array(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1]! * dims[i + 1]!;
  return s;
}

/** out[i] = f(a[ia], b[ib]) with numpy broadcasting. */
function broadcastEval(a: Val, b: Val, f: (x: number, y: number) => number): number[] | undefined {
  if (!a.value || !b.value || !a.dims || !b.dims) return undefined;
  const out = broadcastShapes(a.dims, b.dims);
  const n = prod(out);
  if (n > VALUE_LIMIT) return undefined;
  const ra = [...Array(out.length - a.dims.length).fill(1), ...a.dims];
  const rb = [...Array(out.length - b.dims.length).fill(1), ...b.dims];
  const sa = stridesOf(ra);
  const sb = stridesOf(rb);
  const so = stridesOf(out);
  const res: number[] = [];
  for (let i = 0; i < n; i++) {
    let ia = 0;
    let ib = 0;
    for (let k = 0; k < out.length; k++) {
      const c = Math.floor(i / so[k]!) % out[k]!;
      if (ra[k] !== 1) ia += c * sa[k]!;
      if (rb[k] !== 1) ib += c * sb[k]!;
    }
    res.push(f(a.value[ia]!, b.value[ib]!));
  }
  return res;
}

/** Elements of x at output positions, gathered by a per-position source index function. */
function gatherEval(x: Val, outDims: number[], src: (coord: number[]) => number): number[] | undefined {
  if (!x.value) return undefined;
  const n = prod(outDims);
  if (n > VALUE_LIMIT) return undefined;
  const so = stridesOf(outDims);
  const res: number[] = [];
  for (let i = 0; i < n; i++) {
    const coord = outDims.map((d, k) => Math.floor(i / so[k]!) % d);
    res.push(x.value[src(coord)]!);
  }
  return res;
}

function castValue(v: number, to: Dt): number {
  if (to === 'bool') return v !== 0 ? 1 : 0;
  if (to === 'int32') return Math.trunc(v);
  return Math.fround(v);
}

class Translation {
  readonly what: string;
  readonly opset: number;
  readonly infos = new Map<string, Info>();
  readonly nodes: GraphNode[] = [];
  readonly sites: StochasticSite[] = [];
  readonly warnings: string[] = [];
  readonly usedRates = new Set<string>();
  readonly names = new Set<string>();
  readonly producers = new Map<string, OnnxNode>();
  /** Graph inputs that are Dropout parameters (see dropoutParamInputs). */
  readonly paramInputs = new Map<string, 'ratio' | 'training_mode'>();
  maskCount = 0;

  constructor(
    readonly model: OnnxModel,
    readonly options: OnnxToGraphOptions,
  ) {
    this.what = options.label;
    this.opset = defaultOpset(model, this.what);
  }

  fail(code: 'E_UNSUPPORTED' | 'E_MODEL' | 'E_SITE', msg: string): never {
    throw new McuError(code, `${this.what}: ${msg}`);
  }

  info(name: string, node: OnnxNode): Info | undefined {
    if (name === '') return undefined;
    const i = this.infos.get(name);
    if (i === undefined)
      this.fail(
        'E_MODEL',
        `node '${node.name || node.outputs[0]}' (${node.opType}) reads '${name}', which no earlier node, initializer or input produces (the graph must be topologically sorted)`,
      );
    return i;
  }

  /** A constant's value (pass-independent), or undefined when it is computed from the inputs or too large. */
  constValue(i: Info | undefined): number[] | undefined {
    if (i === undefined || i.dep) return undefined;
    return i.at[0].value;
  }

  addConstant(name: string, t: OnnxTensor): void {
    const dtype = onnxDt(t.dataType);
    if (dtype === undefined) this.fail('E_UNSUPPORTED', `tensor '${name}' has element type ${dataTypeName(t.dataType)}; run the model on the onnx backend`);
    const val: Val = { dims: [...t.dims], dtype, ...(t.data.length <= VALUE_LIMIT ? { value: Array.from(t.data) } : {}) };
    this.infos.set(name, { dep: false, at: [val, val], data: t.data });
  }

  run(): ExecGraph {
    const g = this.model.graph;
    this.refuseOps();
    for (const n of g.nodes) for (const o of n.outputs) if (o) this.producers.set(o, n);
    for (const v of [...g.inputs, ...g.outputs, ...g.valueInfo]) this.names.add(v.name);
    for (const n of g.nodes) for (const x of [...n.inputs, ...n.outputs]) this.names.add(x);

    for (const t of g.initializers) this.addConstant(t.name, t);
    const inputs: GraphInput[] = [];
    const initNames = new Set(g.initializers.map((t) => t.name));
    this.dropoutParamInputs(initNames);
    for (const v of g.inputs) {
      if (initNames.has(v.name) || this.paramInputs.has(v.name)) continue;
      const dtype = v.elemType === undefined ? 'float32' : onnxDt(v.elemType);
      if (dtype === undefined || dtype === 'bool')
        this.fail(
          'E_UNSUPPORTED',
          `input '${v.name}' has element type ${dataTypeName(v.elemType ?? 0)}; the tfjs backend takes float and integer inputs — run the model on the onnx backend`,
        );
      if (v.dims === undefined || v.dims.length === 0)
        this.fail('E_UNSUPPORTED', `input '${v.name}' has ${v.dims === undefined ? 'no declared shape' : 'rank 0'}; mcu needs the rows on its axis 0`);
      const rest = v.dims.slice(1);
      if (!rest.every((d): d is number => typeof d === 'number')) {
        this.fail(
          'E_UNSUPPORTED',
          `input '${v.name}' has dims [${v.dims.map((d) => d ?? '?').join(', ')}]: the tfjs backend needs every dim but the rows (axis 0) fixed. Fix: export with fixed sizes, or run the model on the onnx backend`,
        );
      }
      if (typeof v.dims[0] === 'number' && v.dims[0] !== 1) {
        this.warnings.push(`input '${v.name}' declares a fixed batch of ${v.dims[0]}; its axis 0 is taken as the rows`);
      }
      inputs.push({ name: v.name, dims: rest, dtype: dtype === 'int32' ? 'int32' : 'float32' });
      const at = (r: number): Val => ({ dims: [r, ...rest], dtype });
      this.infos.set(v.name, { dep: true, at: [at(R1), at(R2)] });
    }

    for (const node of g.nodes) this.translateNode(node);

    const unusedRates = Object.keys(this.options.rates ?? {}).filter((k) => !this.usedRates.has(k));
    if (unusedRates.length > 0) {
      throw new McuError(
        'E_USAGE',
        `--rate ${unusedRates.map((k) => `${k}=${this.options.rates![k]}`).join(' --rate ')}: '${unusedRates[0]}' is not the ratio input of a Dropout node of '${this.what}'`,
      );
    }
    if (this.sites.length === 0) {
      this.warnings.push(
        `${this.what} has no dropout: no Dropout node — every MC sample will be identical. Fix: export with torch.onnx.TrainingMode.PRESERVE, or run it on the onnx backend with --insert-dropout`,
      );
    }

    const outputs: GraphOutput[] = g.outputs.map((o) => {
      const i = this.info(o.name, { name: 'graph output', opType: 'output', inputs: [], outputs: [], domain: '', attributes: [], docString: '' } as OnnxNode)!;
      const d1 = i.at[0].dims;
      const d2 = i.at[1].dims;
      const perRow = d1 && d2 && d1[0] === R1 && d2[0] === R2 && d1.slice(1).every((d, k) => d === d2[k + 1]) ? d1.slice(1) : undefined;
      if (!i.dep) this.fail('E_UNSUPPORTED', `output '${o.name}' does not depend on the inputs (a constant); mcu needs outputs with one row per input row`);
      const activation = this.outputActivation(o.name);
      return { name: o.name, ...(perRow ? { dims: perRow } : {}), ...(activation ? { activation } : {}) };
    });

    // constants the emitted nodes read
    const constants = new Map<string, GraphConstant>();
    for (const n of this.nodes) {
      for (const x of n.inputs) {
        if (x === '' || constants.has(x)) continue;
        const i = this.infos.get(x)!;
        if (i.dep) continue;
        constants.set(x, this.graphConstant(x, i));
      }
    }
    return {
      inputs,
      outputs,
      nodes: this.nodes,
      constants,
      sites: this.sites,
      layout: 'tiled',
      warnings: this.warnings,
      ops: ONNX_OPS,
    };
  }

  graphConstant(name: string, i: Info): GraphConstant {
    const v = i.at[0];
    const raw = i.data ?? (v.value ? Float64Array.from(v.value) : undefined);
    if (raw === undefined || v.dims === undefined) this.fail('E_UNSUPPORTED', `the constant '${name}' could not be computed at translation`);
    if (v.dtype === 'float32') return { dims: v.dims, dtype: 'float32', data: raw instanceof Float32Array ? raw : Float32Array.from(raw) };
    const out = new Int32Array(raw.length);
    for (let k = 0; k < raw.length; k++) {
      const x = raw[k]!;
      if (x > 2147483647 || x < -2147483648) {
        this.fail(
          'E_UNSUPPORTED',
          `the integer constant '${name}' holds ${x}, outside int32 (tfjs computes integers in int32); run the model on the onnx backend`,
        );
      }
      out[k] = x;
    }
    return { dims: v.dims, dtype: 'int32', data: out };
  }

  outputActivation(name: string): GraphOutput['activation'] {
    let node = this.producers.get(name);
    for (let hops = 0; node?.opType === 'Identity' && hops < 64; hops++) node = this.producers.get(node.inputs[0] ?? '');
    if (node === undefined || !isDefaultDomain(node.domain)) return undefined;
    return node.opType === 'Softmax' ? 'softmax' : node.opType === 'LogSoftmax' ? 'log-softmax' : undefined;
  }

  /** One E_UNSUPPORTED naming every operator the tfjs backend lacks (with counts), or the random ones. */
  refuseOps(): void {
    const g = this.model.graph;
    if (g.sparseInitializers > 0)
      this.fail('E_UNSUPPORTED', 'the graph has sparse initializers, which the tfjs backend does not read; run the model on the onnx backend');
    const supported = new Set(SUPPORTED_ONNX_OPS);
    const missing = new Map<string, number>();
    for (const n of g.nodes) {
      const key = isDefaultDomain(n.domain) ? n.opType : `${n.domain}::${n.opType}`;
      if (isDefaultDomain(n.domain) && RANDOM_OPS.has(n.opType)) {
        this.fail(
          'E_UNSUPPORTED',
          `node '${n.name || n.outputs[0]}' draws its own random numbers (${n.opType}), which mcu can neither seed nor treat as a dropout site. ` +
            'Fix: export with those layers in eval mode (model.eval(), then .train() only on the nn.Dropout modules), or write the layer with nn.Dropout',
        );
      }
      if (!isDefaultDomain(n.domain) || !supported.has(n.opType)) missing.set(key, (missing.get(key) ?? 0) + 1);
    }
    if (missing.size > 0) {
      const list = [...missing].map(([k, c]) => `${k} ×${c}`).join(', ');
      this.fail(
        'E_UNSUPPORTED',
        `the tfjs backend cannot run operator${missing.size === 1 ? '' : 's'} ${list}. Fix: run the model on the onnx backend (--backend onnx)`,
      );
    }
  }

  /**
   * Graph inputs that only feed Dropout's ratio (opset ≥ 12, value from options.rates) or
   * training_mode (ignored: MC dropout keeps it on): not data inputs of the translated graph.
   */
  dropoutParamInputs(initNames: ReadonlySet<string>): void {
    if (this.opset < 12) return;
    const g = this.model.graph;
    const graphInputs = new Set(g.inputs.map((v) => v.name).filter((n) => !initNames.has(n)));
    const candidates = new Map<string, 'ratio' | 'training_mode'>();
    for (const n of g.nodes) {
      if (n.opType !== 'Dropout' || !isDefaultDomain(n.domain)) continue;
      if (n.inputs[1] && graphInputs.has(n.inputs[1])) candidates.set(n.inputs[1], 'ratio');
      if (n.inputs[2] && graphInputs.has(n.inputs[2])) candidates.set(n.inputs[2], 'training_mode');
    }
    for (const [name, role] of candidates) {
      const elsewhere =
        g.nodes.some((n) => n.inputs.some((x, k) => x === name && !(n.opType === 'Dropout' && (k === 1 || k === 2)))) || g.outputs.some((o) => o.name === name);
      if (elsewhere) continue;
      this.paramInputs.set(name, role);
      const v: number[] | undefined = role === 'training_mode' ? [1] : this.options.rates?.[name] !== undefined ? [this.options.rates[name]!] : undefined;
      const val: Val = { dims: [], dtype: role === 'ratio' ? 'float32' : 'bool', ...(v ? { value: v } : {}) };
      this.infos.set(name, { dep: false, at: [val, val] });
    }
  }

  freshMaskName(): string {
    let name: string;
    do name = `mcu_mask_${++this.maskCount}`;
    while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  emit(node: OnnxNode, op: string, inputs: string[], attrs: Record<string, unknown>, sites?: string[]): void {
    this.nodes.push({
      op,
      name: node.name || node.outputs[0] || `#${this.nodes.length}`,
      inputs,
      outputs: node.outputs.filter((o, k) => o !== '' || k === 0),
      attrs,
      ...(sites ? { sites } : {}),
    });
  }

  translateNode(node: OnnxNode): void {
    const label = `node '${node.name || node.outputs[0]}' (${node.opType})`;
    if (node.attributes.some((a) => a.g !== undefined))
      this.fail('E_UNSUPPORTED', `${label} has a subgraph, which the tfjs backend does not run; run the model on the onnx backend`);
    const ins = node.inputs.map((x) => this.info(x, node));
    if (node.opType === 'Constant') {
      this.constantNode(node);
      return;
    }
    if (node.opType === 'Dropout') {
      this.dropout(node, ins, label);
      return;
    }

    const { attrs, inputs } = this.normalise(node, ins, label);
    const dep = ins.some((i) => i?.dep === true);
    const outs = ([0, 1] as const).map((p) => {
      const vals = inputs.map((x) => (x === '' ? undefined : this.infos.get(x)!.at[p]));
      try {
        return inferOp(node.opType, attrs, vals, node.outputs.length, this.opset);
      } catch (e) {
        if (e instanceof McuError) throw new McuError(e.code, `${this.what}: ${label}: ${e.message}`);
        throw e;
      }
    });
    const foldable = !dep && outs[0].every((v) => v.value !== undefined && v.dims !== undefined);
    node.outputs.forEach((o, k) => {
      if (o === '') return;
      const a = outs[0][k] ?? { dtype: 'float32' };
      const b = outs[1][k] ?? { dtype: 'float32' };
      this.infos.set(o, { dep, at: [a, b] });
    });
    if (foldable) return;
    // MaxPool's Indices output is not computed
    if (node.opType === 'MaxPool' && node.outputs[1])
      this.fail('E_UNSUPPORTED', `${label} returns indices, which the tfjs backend does not compute; run the model on the onnx backend`);
    this.emit(node, `onnx.${node.opType}`, inputs, attrs);
  }

  constantNode(node: OnnxNode): void {
    const a = node.attributes[0];
    const out = node.outputs[0]!;
    if (a === undefined) this.fail('E_MODEL', `Constant '${node.name || out}' has no value`);
    let t: OnnxTensor;
    switch (a.name) {
      case 'value':
        t = a.t!;
        break;
      case 'value_float':
        t = { name: out, dims: [], dataType: DataType.FLOAT, data: Float32Array.of(a.f ?? 0) };
        break;
      case 'value_floats':
        t = { name: out, dims: [a.floats?.length ?? 0], dataType: DataType.FLOAT, data: Float32Array.from(a.floats ?? []) };
        break;
      case 'value_int':
        t = { name: out, dims: [], dataType: DataType.INT64, data: Float64Array.of(a.i ?? 0) };
        break;
      case 'value_ints':
        t = { name: out, dims: [a.ints?.length ?? 0], dataType: DataType.INT64, data: Float64Array.from(a.ints ?? []) };
        break;
      default:
        this.fail('E_UNSUPPORTED', `Constant '${node.name || out}' holds a ${a.name}, which the tfjs backend does not read; run the model on the onnx backend`);
    }
    if (t === undefined) this.fail('E_MODEL', `Constant '${node.name || out}' has no tensor`);
    this.addConstant(out, t);
  }

  dropout(node: OnnxNode, ins: (Info | undefined)[], label: string): void {
    const x = ins[0];
    const out = node.outputs[0];
    if (x === undefined || !out) this.fail('E_MODEL', `${label} has no data input or output`);
    let rate = 0.5;
    if (this.opset < 12) {
      const r = attr(node, 'ratio')?.f;
      if (r !== undefined) rate = Number(r.toPrecision(7));
    } else if (node.inputs[1]) {
      const r = node.inputs[1];
      const ri = ins[1]!;
      const isGraphInput = this.model.graph.inputs.some((v) => v.name === r) && !this.model.graph.initializers.some((t) => t.name === r);
      if (isGraphInput) {
        const given = this.options.rates?.[r];
        if (given === undefined) {
          this.fail(
            'E_SITE',
            `the ratio of ${label} is the graph input '${r}'; mcu cannot guess it. Give its value: option rates { '${r}': P } (command line: --rate ${r}=P)`,
          );
        }
        this.usedRates.add(r);
        rate = given;
      } else if (ri.dep) {
        this.fail(
          'E_SITE',
          `the ratio of ${label} ('${r}') is computed by the graph, not a constant; mcu needs a fixed rate. Fix: export the ratio as a constant`,
        );
      } else {
        const v = this.constValue(ri);
        if (v === undefined || v.length !== 1) this.fail('E_SITE', `the ratio of ${label} ('${r}') is not one constant value; mcu needs a fixed rate`);
        rate = Number(v[0]!.toPrecision(7));
      }
    }
    if (!(rate >= 0 && rate < 1)) this.fail('E_SITE', `${label}: dropout rate ${rate} is outside [0, 1)`);
    const maskOut = node.outputs[1];
    if (maskOut) {
      const used = this.model.graph.nodes.some((n) => n.inputs.includes(maskOut)) || this.model.graph.outputs.some((o) => o.name === maskOut);
      if (used)
        this.fail(
          'E_UNSUPPORTED',
          `${label}: its mask output '${maskOut}' is used by the graph, which the tfjs backend does not provide; run the model on the onnx backend`,
        );
    }
    if (!x.dep)
      this.fail(
        'E_UNSUPPORTED',
        `${label} drops out '${node.inputs[0]}', which does not depend on the model's inputs (a constant); mcu only supports dropout on activations`,
      );
    const [d1, d2] = [x.at[0].dims, x.at[1].dims];
    if (d1 === undefined || d2 === undefined || d1.length !== d2.length) {
      this.fail(
        'E_UNSUPPORTED',
        `${label}: the shape of its input '${node.inputs[0]}' could not be inferred, so its mask shape is unknown; run the model on the onnx backend`,
      );
    }
    const rowAxes = d1.map((d, a) => (d !== d2[a] ? a : -1)).filter((a) => a >= 0);
    const a = rowAxes[0];
    const factor = a === undefined ? 0 : d1[a]! / R1;
    if (rowAxes.length !== 1 || !Number.isInteger(factor) || factor < 1 || d2[a!] !== factor * R2) {
      this.fail(
        'E_UNSUPPORTED',
        `${label}: its input '${node.inputs[0]}' does not hold the rows on exactly one axis, so mcu cannot place the masks; run the model on the onnx backend`,
      );
    }
    const axis = a!;
    let maskShape = [...(factor > 1 ? [factor] : []), ...d1.filter((_, k) => k !== axis)];
    const name = this.freshMaskName();
    const channel = FEATURE_DROPOUT_NAME.test(node.name) || /feature_dropout/i.test(node.docString);
    if (channel) {
      if (axis !== 0 || factor !== 1 || maskShape.length < 2)
        this.fail('E_UNSUPPORTED', `${label} is channel-wise (feature) dropout, which needs an input [N, C, …spatial]`);
      maskShape = [maskShape[0]!, ...maskShape.slice(1).map(() => 1)];
    }
    const site: StochasticSite = {
      name,
      kind: 'bernoulli',
      rate,
      maskShape,
      scaling: 'inverted',
      origin: { op: 'Dropout', opset: this.opset, node: node.name || out },
      ...(axis !== 0 || factor !== 1 ? { rowLayout: { axis, factor } } : {}),
    };
    this.sites.push(site);
    if (axis === 0 && factor === 1) {
      this.nodes.push({ op: 'site', name: node.name || out, inputs: [node.inputs[0]!], outputs: [out], attrs: { site: name } });
    } else {
      this.nodes.push({
        op: 'onnx.SiteRows',
        name: node.name || out,
        inputs: [node.inputs[0]!],
        outputs: [out],
        attrs: { rowAxis: axis, rowFactor: factor },
        sites: [name],
      });
    }
    this.infos.set(out, { dep: true, at: [x.at[0], x.at[1]] });
  }

  /**
   * The node's attributes in one form for every opset (see ops.ts), and its inputs with the
   * parameter inputs that are translation-time constants moved into the attributes.
   */
  normalise(node: OnnxNode, ins: (Info | undefined)[], label: string): { attrs: Record<string, unknown>; inputs: string[] } {
    const attrs: Record<string, unknown> = {};
    for (const a of node.attributes) {
      if (a.f !== undefined) attrs[a.name] = a.f;
      else if (a.i !== undefined) attrs[a.name] = a.i;
      else if (a.s !== undefined) attrs[a.name] = a.s;
      else if (a.floats !== undefined) attrs[a.name] = [...a.floats];
      else if (a.ints !== undefined) attrs[a.name] = [...a.ints];
      else if (a.t !== undefined) attrs[a.name] = a.t;
    }
    const inputs = [...node.inputs];
    /** Move input k into attrs[name] when it is a known constant. */
    const lift = (k: number, name: string, scalar = false): void => {
      if (!inputs[k]) return;
      const v = this.constValue(ins[k]);
      if (v === undefined) return;
      attrs[name] = scalar ? v[0] : v;
      inputs[k] = '';
    };
    const op = node.opType;
    const unsupported = (why: string): never => this.fail('E_UNSUPPORTED', `${label}: ${why}; run the model on the onnx backend`);
    switch (op) {
      case 'Conv':
      case 'ConvTranspose':
      case 'MaxPool':
      case 'AveragePool': {
        const k = (attrs.kernel_shape as number[] | undefined)?.length ?? (ins[op.startsWith('Conv') ? 1 : 0]?.at[0].dims?.length ?? 4) - 2;
        if (k < 1 || k > 2) unsupported(`${k}-D ${op} (the tfjs backend runs 1-D and 2-D)`);
        const strides = (attrs.strides as number[] | undefined) ?? [1];
        const dil = (attrs.dilations as number[] | undefined) ?? [1];
        if (op !== 'Conv' && dil.some((d) => d !== 1)) unsupported(`dilations [${dil.join(', ')}]`);
        if (op === 'Conv' && dil.some((d) => d !== 1) && strides.some((s) => s !== 1))
          unsupported('strides and dilations both above 1 (tfjs convolutions take one or the other)');
        if (op === 'ConvTranspose' && (attrs.group ?? 1) !== 1) unsupported(`group ${String(attrs.group)}`);
        if (op === 'MaxPool' && (attrs.storage_order ?? 0) !== 0) unsupported('storage_order 1');
        if (op === 'Conv' && (attrs.group ?? 1) !== 1) {
          const w = ins[1]?.at[0].dims;
          if (w === undefined) unsupported('a grouped convolution whose weight shape is unknown');
        }
        if (attrs.auto_pad === undefined || attrs.auto_pad === 'NOTSET') delete attrs.auto_pad;
        break;
      }
      case 'Softmax':
      case 'LogSoftmax':
        if (this.opset < 13) attrs.coerce2d = true;
        break;
      case 'Reshape':
        lift(1, 'shape');
        break;
      case 'Expand':
        lift(1, 'shape');
        break;
      case 'Tile':
        lift(1, 'repeats');
        break;
      case 'ConstantOfShape': {
        lift(0, 'shape');
        const t = attrs.value as OnnxTensor | undefined;
        attrs.value = t ? Number(t.data[0] ?? 0) : 0;
        attrs.dtype = t ? (onnxDt(t.dataType) ?? unsupported(`value of type ${dataTypeName(t.dataType)}`)) : 'float32';
        break;
      }
      case 'Squeeze':
      case 'Unsqueeze':
        lift(1, 'axes');
        break;
      case 'ReduceMean':
      case 'ReduceMax':
      case 'ReduceMin':
      case 'ReduceProd':
      case 'ReduceSum':
        lift(1, 'axes');
        break;
      case 'Split':
        lift(1, 'split');
        if (attrs.num_outputs !== undefined) delete attrs.num_outputs;
        break;
      case 'Slice':
        if (this.opset < 10) {
          // starts / ends / axes as attributes already
        } else {
          lift(1, 'starts');
          lift(2, 'ends');
          lift(3, 'axes');
          lift(4, 'steps');
        }
        break;
      case 'Pad':
        if (this.opset < 11) {
          if (attrs.paddings !== undefined && attrs.pads === undefined) attrs.pads = attrs.paddings;
        } else {
          lift(1, 'pads');
          lift(2, 'value', true);
          lift(3, 'axes');
        }
        if (!['constant', 'reflect', 'edge', undefined].includes(attrs.mode as string)) unsupported(`pad mode '${String(attrs.mode)}'`);
        break;
      case 'Clip':
        if (this.opset >= 11) {
          lift(1, 'min', true);
          lift(2, 'max', true);
        }
        break;
      case 'Cast': {
        const to = onnxDt(Number(attrs.to));
        if (to === undefined) unsupported(`cast to ${dataTypeName(Number(attrs.to))}`);
        attrs.to = to;
        break;
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'Pow':
        if (this.opset < 7 && attrs.broadcast === 1 && attrs.axis !== undefined) attrs.legacyAxis = attrs.axis;
        delete attrs.broadcast;
        delete attrs.axis;
        break;
      case 'Gemm':
        delete attrs.broadcast;
        break;
      case 'BatchNormalization':
        if (node.outputs.slice(1).some((o) => o !== '')) {
          const used = node.outputs.slice(1).filter((o) => o && this.model.graph.nodes.some((n) => n.inputs.includes(o)));
          if (used.length > 0) unsupported('its training-mode outputs (running mean / variance) are used');
        }
        if (attrs.training_mode === 1) this.warnings.push(`${label} is exported in training mode; it runs with its running statistics (inference)`);
        break;
      default:
        break;
    }
    return { attrs, inputs };
  }
}

function defaultOpset(model: OnnxModel, what: string): number {
  let best: number | undefined;
  for (const o of model.opsetImport) if (isDefaultDomain(o.domain) && (best === undefined || o.version > best)) best = o.version;
  if (best === undefined) {
    if (model.opsetImport.length === 0 && model.irVersion < 3) return 1;
    throw new McuError('E_MODEL', `${what} imports no default-domain ONNX opset (opset_import is empty)`);
  }
  if (!Number.isSafeInteger(best) || best < 1 || best > 1000) throw new McuError('E_MODEL', `${what} declares an invalid ONNX opset version ${best}`);
  return best;
}

/** Dims / dtype / small values of a node's outputs in one pass. */
export function inferOp(op: string, attrs: Record<string, unknown>, ins: (Val | undefined)[], nOut: number, opset: number): Val[] {
  const x = ins[0];
  const dims = x?.dims;
  const dtype = x?.dtype ?? 'float32';
  const same = (): Val[] => [{ ...(dims ? { dims: [...dims] } : {}), dtype }];
  const ints = (k: string, i: number): number[] | undefined => (attrs[k] as number[] | undefined) ?? ins[i]?.value;
  const num = (k: string, d: number): number => (typeof attrs[k] === 'number' ? (attrs[k] as number) : d);
  const unknown = (dt: Dt = dtype): Val[] => Array.from({ length: nOut }, () => ({ dtype: dt }));
  const withValue = (d: number[] | undefined, dt: Dt, value?: number[]): Val => ({
    ...(d ? { dims: d } : {}),
    dtype: dt,
    ...(value && d && prod(d) <= VALUE_LIMIT ? { value } : {}),
  });
  const unaryValue = (f: (v: number) => number): Val[] => [
    withValue(
      dims,
      dtype,
      x?.value?.map((v) => castValue(f(v), dtype)),
    ),
  ];

  switch (op) {
    case 'Relu':
      return unaryValue((v) => Math.max(0, v));
    case 'Neg':
      return unaryValue((v) => -v);
    case 'Abs':
      return unaryValue(Math.abs);
    case 'Sqrt':
      return unaryValue(Math.sqrt);
    case 'Exp':
      return unaryValue(Math.exp);
    case 'Log':
      return unaryValue(Math.log);
    case 'Floor':
      return unaryValue(Math.floor);
    case 'Ceil':
      return unaryValue(Math.ceil);
    case 'Reciprocal':
      return unaryValue((v) => 1 / v);
    case 'Identity':
      return [withValue(dims ? [...dims] : undefined, dtype, x?.value)];
    case 'Not':
      return [
        withValue(
          dims,
          'bool',
          x?.value?.map((v) => (v ? 0 : 1)),
        ),
      ];
    case 'Cast': {
      const to = attrs.to as Dt;
      return [
        withValue(
          dims,
          to,
          x?.value?.map((v) => castValue(v, to)),
        ),
      ];
    }
    case 'LeakyRelu':
    case 'PRelu':
    case 'Elu':
    case 'Selu':
    case 'Sigmoid':
    case 'HardSigmoid':
    case 'HardSwish':
    case 'Tanh':
    case 'Softplus':
    case 'Softsign':
    case 'Erf':
    case 'Gelu':
    case 'Clip':
    case 'BatchNormalization':
    case 'LayerNormalization':
    case 'InstanceNormalization':
    case 'Softmax':
    case 'LogSoftmax':
      return [same()[0]!, ...unknown().slice(1)];
    case 'Max':
    case 'Min':
      if (ins.length === 1) return same();
      if (ins.length > 2) {
        // fold the variadic form pairwise
        let acc = ins[0];
        for (const next of ins.slice(1)) acc = inferOp(op, attrs, [acc, next], 1, opset)[0];
        return [acc ?? { dtype }];
      }
      return inferOp(`${op}2`, attrs, ins, nOut, opset);
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div':
    case 'Pow':
    case 'Max2':
    case 'Min2':
    case 'Equal':
    case 'Less':
    case 'Greater': {
      const a = ins[0];
      let b = ins[1];
      if (a?.dims === undefined || b?.dims === undefined) return unknown(['Equal', 'Less', 'Greater'].includes(op) ? 'bool' : dtype);
      let bDims = b.dims;
      if (typeof attrs.legacyAxis === 'number') {
        const ax = normAxis(attrs.legacyAxis, a.dims.length);
        bDims = [...bDims, ...Array(Math.max(0, a.dims.length - ax - bDims.length)).fill(1)];
        b = { ...b, dims: bDims };
      }
      const out = broadcastShapes(a.dims, bDims);
      const isInt = dtype === 'int32';
      const f: Record<string, (p: number, q: number) => number> = {
        Add: (p, q) => p + q,
        Sub: (p, q) => p - q,
        Mul: (p, q) => p * q,
        Div: (p, q) => (isInt ? Math.trunc(p / q) : p / q),
        Pow: (p, q) => p ** q,
        Max2: Math.max,
        Min2: Math.min,
        Equal: (p, q) => (p === q ? 1 : 0),
        Less: (p, q) => (p < q ? 1 : 0),
        Greater: (p, q) => (p > q ? 1 : 0),
      };
      const outDt: Dt = ['Equal', 'Less', 'Greater'].includes(op) ? 'bool' : dtype;
      const v = broadcastEval(a, b, f[op]!);
      return [
        withValue(
          out,
          outDt,
          v?.map((e) => castValue(e, outDt)),
        ),
      ];
    }
    case 'Where': {
      const [c, a, b] = ins;
      if (!c?.dims || !a?.dims || !b?.dims) return unknown(a?.dtype ?? 'float32');
      const out = broadcastShapes(broadcastShapes(c.dims, a.dims), b.dims);
      let v: number[] | undefined;
      const ab = broadcastEval(a, b, (p) => p); // a broadcast to a∪b
      const ba = broadcastEval(b, a, (p) => p);
      if (ab && ba) {
        const abDims = broadcastShapes(a.dims, b.dims);
        const ca = broadcastEval(c, { dims: abDims, value: ab, dtype: a.dtype }, (p, q) => (p ? q : NaN));
        const cb = broadcastEval(c, { dims: abDims, value: ba, dtype: a.dtype }, (p, q) => (p ? NaN : q));
        if (ca && cb) v = ca.map((e, i) => (Number.isNaN(e) ? cb[i]! : e));
      }
      return [withValue(out, a.dtype, v)];
    }
    case 'Gemm': {
      const [a, b] = [ins[0]?.dims, ins[1]?.dims];
      if (!a || !b) return unknown();
      return [{ dims: [num('transA', 0) ? a[1]! : a[0]!, num('transB', 0) ? b[0]! : b[1]!], dtype }];
    }
    case 'MatMul': {
      const [a, b] = [ins[0]?.dims, ins[1]?.dims];
      if (!a || !b) return unknown();
      const a2 = a.length === 1 ? [1, a[0]!] : a;
      const b2 = b.length === 1 ? [b[0]!, 1] : b;
      const batch = broadcastShapes(a2.slice(0, -2), b2.slice(0, -2));
      const out = [...batch, ...(a.length === 1 ? [] : [a2[a2.length - 2]!]), ...(b.length === 1 ? [] : [b2[b2.length - 1]!])];
      return [{ dims: out, dtype }];
    }
    case 'Conv':
    case 'ConvTranspose':
    case 'MaxPool':
    case 'AveragePool': {
      const w = ins[1]?.dims;
      if (!dims || (op.startsWith('Conv') && !w)) return unknown();
      const k = dims.length - 2;
      const kernel = (attrs.kernel_shape as number[] | undefined) ?? w!.slice(2);
      const strides = (attrs.strides as number[] | undefined) ?? Array(k).fill(1);
      const dil = (attrs.dilations as number[] | undefined) ?? Array(k).fill(1);
      const inSize = dims.slice(2);
      if (op === 'ConvTranspose') {
        const outPad = (attrs.output_padding as number[] | undefined) ?? Array(k).fill(0);
        const pads = (attrs.pads as number[] | undefined) ?? Array(2 * k).fill(0);
        const outShape = attrs.output_shape as number[] | undefined;
        const ap = attrs.auto_pad as string | undefined;
        const sp = inSize.map((d, i) =>
          outShape
            ? outShape[outShape.length - k + i]!
            : ap === 'SAME_UPPER' || ap === 'SAME_LOWER'
              ? d * strides[i]!
              : strides[i]! * (d - 1) + outPad[i]! + (kernel[i]! - 1) * dil[i]! + 1 - pads[i]! - pads[i + k]!,
        );
        return [{ dims: [dims[0]!, w![1]! * num('group', 1), ...sp], dtype }];
      }
      const pads = resolvePads((attrs.auto_pad as string | undefined) ?? 'NOTSET', attrs.pads as number[] | undefined, inSize, kernel, strides, dil);
      const ceil = num('ceil_mode', 0) !== 0;
      const sp = inSize.map((d, i) => poolOutSize(d, kernel[i]!, strides[i]!, dil[i]!, pads[i]!, pads[i + k]!, op.startsWith('Conv') ? false : ceil));
      const c = op === 'Conv' ? w![0]! : dims[1]!;
      const y: Val = { dims: [dims[0]!, c, ...sp], dtype };
      return op === 'MaxPool' && nOut > 1 ? [y, { dims: y.dims!, dtype: 'int32' }] : [y];
    }
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
      return [dims ? { dims: [dims[0]!, dims[1]!, ...dims.slice(2).map(() => 1)], dtype } : { dtype }];
    case 'Flatten': {
      if (!dims) return unknown();
      const axis = normAxis(num('axis', 1), dims.length);
      return [withValue([prod(dims.slice(0, axis)), prod(dims.slice(axis))], dtype, x?.value)];
    }
    case 'Reshape': {
      const shape = ints('shape', 1);
      if (!dims || !shape) return unknown();
      const out = reshapeDims(dims, shape, num('allowzero', 0) !== 0);
      if (prod(out) !== prod(dims) || out.some((d) => !Number.isInteger(d) || d < 0)) {
        throw new McuError(
          'E_UNSUPPORTED',
          `cannot reshape [${dims.join(', ')}] to [${shape.join(', ')}] (a batch size fixed in the export?); re-export with a dynamic batch axis, or run the model on the onnx backend`,
        );
      }
      return [withValue(out, dtype, x?.value)];
    }
    case 'Transpose': {
      if (!dims) return unknown();
      const perm = (attrs.perm as number[] | undefined) ?? dims.map((_, i) => dims.length - 1 - i);
      const out = perm.map((p) => dims[p]!);
      const st = stridesOf(dims);
      return [
        withValue(
          out,
          dtype,
          gatherEval(x!, out, (c) => c.reduce((s, ci, k) => s + ci * st[perm[k]!]!, 0)),
        ),
      ];
    }
    case 'Concat': {
      const parts = ins.filter((v): v is Val => v !== undefined);
      if (parts.some((p) => !p.dims)) return unknown(parts[0]?.dtype);
      const nonEmpty = parts.filter((p) => prod(p.dims!) > 0 || parts.every((q) => prod(q.dims!) === 0));
      const rank = nonEmpty[0]!.dims!.length;
      const axis = normAxis(num('axis', 0), rank);
      const out = [...nonEmpty[0]!.dims!];
      out[axis] = nonEmpty.reduce((s, p) => s + p.dims![axis]!, 0);
      let value: number[] | undefined;
      if (nonEmpty.every((p) => p.value) && prod(out) <= VALUE_LIMIT) {
        const outer = prod(out.slice(0, axis));
        value = [];
        for (let o = 0; o < outer; o++) {
          for (const p of nonEmpty) {
            const chunk = prod(p.dims!.slice(axis));
            value.push(...p.value!.slice(o * chunk, (o + 1) * chunk));
          }
        }
      }
      return [withValue(out, nonEmpty[0]!.dtype, value)];
    }
    case 'Split': {
      if (!dims) return unknown();
      const axis = normAxis(num('axis', 0), dims.length);
      let sizes = ints('split', 1);
      if (!sizes) {
        const part = Math.ceil(dims[axis]! / nOut);
        sizes = Array.from({ length: nOut }, (_, i) => Math.max(0, Math.min(part, dims[axis]! - i * part)));
      }
      return sizes.map((s) => {
        const d = [...dims];
        d[axis] = s;
        return { dims: d, dtype };
      });
    }
    case 'Slice': {
      const starts = ints('starts', 1);
      const ends = ints('ends', 2);
      if (!dims || !starts || !ends) return unknown();
      const axes = (ints('axes', 3) ?? starts.map((_, i) => i)).map((a) => normAxis(a, dims.length));
      const steps = ints('steps', 4) ?? starts.map(() => 1);
      const begin = dims.map(() => 0);
      const step = dims.map(() => 1);
      const out = [...dims];
      axes.forEach((a, i) => {
        const [s, e] = sliceRange(starts[i]!, ends[i]!, steps[i]!, dims[a]!);
        begin[a] = s;
        step[a] = steps[i]!;
        out[a] = Math.max(0, Math.ceil((e - s) / steps[i]!));
      });
      const st = stridesOf(dims);
      return [
        withValue(
          out,
          dtype,
          gatherEval(x!, out, (c) => c.reduce((sum, ci, k) => sum + (begin[k]! + ci * step[k]!) * st[k]!, 0)),
        ),
      ];
    }
    case 'Gather': {
      const idx = ins[1];
      if (!dims || !idx?.dims) return unknown();
      const axis = normAxis(num('axis', 0), dims.length);
      const out = [...dims.slice(0, axis), ...idx.dims, ...dims.slice(axis + 1)];
      let value: number[] | undefined;
      if (x?.value && idx.value) {
        const st = stridesOf(dims);
        const ir = idx.dims.length;
        const ist = stridesOf(idx.dims);
        value = gatherEval(x, out, (c) => {
          const ic = c.slice(axis, axis + ir).reduce((s, ci, k) => s + ci * ist[k]!, 0);
          let j = idx.value![ic]!;
          if (j < 0) j += dims[axis]!;
          const src = [...c.slice(0, axis), j, ...c.slice(axis + ir)];
          return src.reduce((s, ci, k) => s + ci * st[k]!, 0);
        });
      }
      return [withValue(out, dtype, value)];
    }
    case 'Squeeze': {
      if (!dims) return unknown();
      const axes = ints('axes', 1)?.map((a) => normAxis(a, dims.length));
      const out = dims.filter((d, i) => (axes ? !axes.includes(i) : d !== 1));
      return [withValue(out, dtype, x?.value)];
    }
    case 'Unsqueeze': {
      const axes = ints('axes', 1);
      if (!dims || !axes) return unknown();
      return [withValue(unsqueezeDims(dims, axes), dtype, x?.value)];
    }
    case 'Shape': {
      if (!dims) return [{ dtype: 'int32' }];
      const r = dims.length;
      const clampAxis = (a: number): number => Math.min(Math.max(normAxis(a, r), 0), r);
      const start = clampAxis(num('start', 0));
      const end = clampAxis(num('end', r));
      const v = dims.slice(start, Math.max(start, end));
      return [{ dims: [v.length], dtype: 'int32', value: v }];
    }
    case 'ConstantOfShape': {
      const shape = ints('shape', 0);
      const dt = (attrs.dtype as Dt | undefined) ?? 'float32';
      if (!shape) return [{ dtype: dt }];
      return [withValue(shape, dt, prod(shape) <= VALUE_LIMIT ? Array(prod(shape)).fill(castValue(num('value', 0), dt)) : undefined)];
    }
    case 'Expand': {
      const shape = ints('shape', 1);
      if (!dims || !shape) return unknown();
      const out = broadcastShapes(dims, shape);
      const v = x?.value ? broadcastEval(x, { dims: out, value: Array(prod(out)).fill(0), dtype }, (p) => p) : undefined;
      return [withValue(out, dtype, prod(out) <= VALUE_LIMIT ? v : undefined)];
    }
    case 'Tile': {
      const reps = ints('repeats', 1);
      if (!dims || !reps) return unknown();
      const out = dims.map((d, i) => d * reps[i]!);
      const st = stridesOf(dims);
      return [
        withValue(
          out,
          dtype,
          gatherEval(x!, out, (c) => c.reduce((s, ci, k) => s + (ci % dims[k]!) * st[k]!, 0)),
        ),
      ];
    }
    case 'Pad': {
      const pads = ints('pads', 1);
      if (!dims || !pads) return unknown();
      const axes = (ints('axes', 3) ?? dims.map((_, i) => i)).map((a) => normAxis(a, dims.length));
      const out = [...dims];
      axes.forEach((a, i) => (out[a] = dims[a]! + pads[i]! + pads[i + axes.length]!));
      return [{ dims: out, dtype }];
    }
    case 'Range': {
      const [s, l, d] = ins.map((v) => v?.value?.[0]);
      if (s === undefined || l === undefined || d === undefined) return unknown();
      const n = Math.max(Math.ceil((l - s) / d), 0);
      return [
        withValue(
          [n],
          dtype,
          Array.from({ length: n }, (_, i) => castValue(s + i * d, dtype)),
        ),
      ];
    }
    case 'ReduceMean':
    case 'ReduceSum':
    case 'ReduceMax':
    case 'ReduceMin':
    case 'ReduceProd': {
      if (!dims) return unknown();
      const keep = num('keepdims', 1) !== 0;
      let axes = ints('axes', 1);
      if (axes === undefined || axes.length === 0) {
        if (num('noop_with_empty_axes', 0) !== 0) return same();
        axes = dims.map((_, i) => i);
      }
      const ax = axes.map((a) => normAxis(a, dims.length));
      const out = keep ? dims.map((d, i) => (ax.includes(i) ? 1 : d)) : dims.filter((_, i) => !ax.includes(i));
      return [{ dims: out, dtype }];
    }
    default:
      void opset;
      return unknown();
  }
}

/** ONNX model bytes → the tfjs backend's ExecGraph (layout 'tiled'). */
export function onnxToGraph(bytes: Uint8Array, options: OnnxToGraphOptions): ExecGraph {
  const model = decodeModel(bytes, { label: options.label, ...(options.readExternal ? { readExternal: options.readExternal } : {}) });
  if (model.metadataProps.some((p) => p.key === 'mcu.sites')) {
    throw new McuError(
      'E_UNSUPPORTED',
      `${options.label} was already converted by mcu (metadata mcu.sites: its dropout sites are mask inputs); the tfjs backend translates the original export — run this file on the onnx backend, or give the tfjs backend the model before conversion`,
    );
  }
  return new Translation(model, options).run();
}
