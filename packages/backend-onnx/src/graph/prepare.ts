/**
 * prepareModel: turn an ONNX model with dropout (Dropout nodes of any opset, mask inputs,
 * or an eval export plus `insertDropout`) into a graph whose stochastic sites are mask
 * inputs, following the 'broadcast' run contract (see ./broadcast.ts), or recognise a
 * per-sample masked model ('sample-axis') or an already prepared one (metadata).
 */
import { describeError, McuError, type DType, type DropoutScaling, type StochasticSite, type TensorData, type TensorSpec } from '@mcu/core';
import { DataLocation, DataType, dataTypeName } from '../proto/enums.js';
import { sanitizeModel } from '../proto/sanitize.js';
import type { GraphProto, ModelProto, NodeProto, ValueInfoProto } from '../proto/types.js';
import { switchBatchNormToInference } from './batchnorm.js';
import { LayoutRefusal, rewriteBroadcast, SAMPLE_ROWS_DIM } from './broadcast.js';
import { ConstantTable } from './constants.js';
import { allTensors } from './all-tensors.js';
import { relaxFixedBatch } from './fixed-batch.js';
import { detectMaskedLayout } from './layout.js';
import { raiseLegacyOpset } from './legacy-opset.js';
import { BAKED_KEY, type Layout, readSiteMetadata, writeSiteMetadata } from './metadata.js';
import { attrInt, defaultOpset, isDefaultDomain, Namer, tensorValueInfo, valueInfoDims, valueInfoElemType } from './proto-util.js';
import { cloneProto } from './clone.js';
import { float32Pitfalls } from './numerics.js';
import { measureSiteDims, probeModel } from './probe.js';
import { inferShapes } from './shapes.js';
import { findSites, NeedsSiteShapes, refuseUnusedRates, type MeasuredDims, type SitePlan } from './sites.js';
import { refuseUnhandledOps } from './stochastic-ops.js';
import { rewriteTiled } from './tiled.js';
import { validateModel } from './validate.js';

export interface PrepareOptions {
  /** Dropout ratio given as a GRAPH INPUT: that input's value, from the user (`--rate NAME=P`). */
  rates?: Record<string, number>;
  /** Models that already take masks: input name → rate. */
  maskInputs?: Record<string, number>;
  /** Eval exports: insert dropout on the data input of these layers, skipping the first (`spatial`: channel-wise masks). */
  insertDropout?: { rate: number; before: readonly string[]; spatial?: boolean };
  /**
   * 'auto' (default): the broadcast layout (the work before the first site once per row) where
   * the graph keeps rows on its leading axis, else 'tiled' (the whole graph on S·N rows).
   */
  rewrite?: 'auto' | 'broadcast' | 'tiled';
  /** Dims of site tensors measured at batch 1 and 2 (see {@link prepareModelMeasured}). */
  measured?: ReadonlyMap<string, MeasuredDims>;
  /** Scaling of kept units (recorded on the sites; masks are built by the sampler). */
  scaling?: 'inverted' | 'none';
  /** Override the detected layout of a masked model (normally not needed). */
  layout?: Layout;
  /** Names the model in messages (e.g. its path). */
  what?: string;
  /**
   * Tensors may keep their data in external files (checked by readModelFile; the runtime reads
   * them from the model's folder). Default false: the prepared model must be self-contained.
   */
  keepExternal?: boolean;
}

export interface PreparedModel {
  /** The rewritten model. */
  model: ModelProto;
  /** Ordinary data inputs (no mask inputs, no initializers-as-inputs). 'sample-axis': dims include the leading sample axis. */
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Graph order; site.name = the mask graph input. */
  sites: StochasticSite[];
  layout: Layout;
  /** Each with the fix. */
  warnings: string[];
  /** What was rewritten (for inspect / convert reports). */
  changes: string[];
  /** Default-domain opset after preparation. */
  opset: number;
  /**
   * Symbols of the data inputs' non-batch dims and where they are, for sites whose mask shape
   * depends on them (StochasticSite.dims): 'seq' → input 'input_ids', axis 1.
   */
  inputDims: Record<string, { input: string; axis: number }>;
  /** Outputs that depend on a site: leading axis S·N ('broadcast') — the others have N rows. */
  sampledOutputs: string[];
}

const DTYPES: Record<number, DType> = {
  [DataType.FLOAT]: 'float32',
  [DataType.DOUBLE]: 'float64',
  [DataType.INT32]: 'int32',
  [DataType.INT64]: 'int64',
  [DataType.UINT8]: 'uint8',
  [DataType.INT8]: 'int8',
  [DataType.BOOL]: 'bool',
};

function toSpec(vi: ValueInfoProto, role: string, what: string): TensorSpec {
  const elem = valueInfoElemType(vi);
  const dtype = elem === undefined ? 'float32' : DTYPES[elem];
  if (dtype === undefined) {
    throw new McuError(
      'E_UNSUPPORTED',
      `${what}: ${role} '${vi.name}' has element type ${dataTypeName(elem)}; mcu supports float32, float64, int32, int64, uint8, int8 and bool`,
    );
  }
  const dims = (valueInfoDims(vi) ?? []).map((d) => (d === '?' ? -1 : d));
  return { name: vi.name ?? '', dtype, dims };
}

/** Softmax / LogSoftmax as an output's last operation (through Identity), so a classifier's probabilities are not taken for logits. */
function outputActivation(graph: GraphProto, name: string): TensorSpec['activation'] {
  const producer = new Map<string, NodeProto>();
  for (const n of graph.node ?? []) for (const o of n.output ?? []) if (o) producer.set(o, n);
  let node = producer.get(name);
  for (let hops = 0; node?.op_type === 'Identity' && hops < 64; hops++) node = producer.get(node.input?.[0] ?? '');
  if (node === undefined || !isDefaultDomain(node.domain)) return undefined;
  return node.op_type === 'Softmax' ? 'softmax' : node.op_type === 'LogSoftmax' ? 'log-softmax' : undefined;
}

/**
 * The outputs as a run hands them back. The graph's sampled outputs carry S·N rows (leading dim
 * SAMPLE_ROWS_DIM); a run returns N rows of them, so their spec names the inputs' rows instead.
 */
function outputSpecs(graph: GraphProto, what: string, inputs: readonly TensorSpec[]): TensorSpec[] {
  const rowsDim = inputs[0]?.dims[0] ?? 'N';
  return (graph.output ?? []).map((o) => {
    const graphSpec = toSpec(o, 'output', what);
    const spec = graphSpec.dims[0] === SAMPLE_ROWS_DIM ? { ...graphSpec, dims: [rowsDim, ...graphSpec.dims.slice(1)] } : graphSpec;
    const activation = outputActivation(graph, spec.name);
    return activation ? { ...spec, activation } : spec;
  });
}

/** Outputs that depend on any of `sources` (mask inputs). */
function dependentOutputs(graph: GraphProto, sources: readonly string[]): string[] {
  const dep = new Set(sources);
  for (const n of graph.node ?? []) {
    if ((n.input ?? []).some((i) => i && dep.has(i))) for (const o of n.output ?? []) if (o) dep.add(o);
  }
  return (graph.output ?? []).map((o) => o.name ?? '').filter((n) => dep.has(n));
}

function dataInputNames(graph: GraphProto, exclude: ReadonlySet<string>): string[] {
  const inits = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  return (graph.input ?? []).map((v) => v.name ?? '').filter((n) => n && !inits.has(n) && !exclude.has(n));
}

/** Remove nodes (default domain) whose outputs nobody reads, and initializers they left unused. */
function sweepDeadNodes(graph: GraphProto): void {
  const outputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const usedBefore = new Set<string>();
  for (const n of graph.node ?? []) for (const i of n.input ?? []) if (i) usedBefore.add(i);
  let nodes = graph.node ?? [];
  for (;;) {
    const used = new Set<string>(outputs);
    for (const n of nodes) for (const i of n.input ?? []) if (i) used.add(i);
    const keep = nodes.filter(
      (n) => !isDefaultDomain(n.domain) || (n.output ?? []).some((o) => o && used.has(o)) || (n.attribute ?? []).some((a) => a.g || a.graphs?.length),
    );
    if (keep.length === nodes.length) break;
    nodes = keep;
  }
  graph.node = nodes;
  const usedNow = new Set<string>(outputs);
  for (const n of nodes) for (const i of n.input ?? []) if (i) usedNow.add(i);
  const inputs = new Set((graph.input ?? []).map((v) => v.name ?? ''));
  graph.initializer = (graph.initializer ?? []).filter((t) => !t.name || usedNow.has(t.name) || inputs.has(t.name) || !usedBefore.has(t.name));
}

function preparedFromMetadata(
  work: ModelProto,
  meta: { sites: StochasticSite[]; layout: Layout },
  opset: number,
  options: PrepareOptions,
  what: string,
): PreparedModel {
  const graph = work.graph!;
  const inputNames = new Set((graph.input ?? []).map((v) => v.name ?? ''));
  for (const s of meta.sites) {
    if (!inputNames.has(s.name)) {
      throw new McuError('E_MODEL', `${what}: metadata 'mcu.sites' names mask input '${s.name}', which the graph does not have`);
    }
  }
  const masks = new Set(meta.sites.map((s) => s.name));
  const inputs = dataInputNames(graph, masks).map((n) => toSpec(graph.input!.find((v) => v.name === n)!, 'input', what));
  const outputs = outputSpecs(graph, what, inputs);
  const warnings: string[] = [];
  // an already prepared graph has no Dropout ratio inputs left
  refuseUnusedRates(options.rates, new Set(), what);
  if (options.insertDropout || options.maskInputs) {
    warnings.push('the model was already prepared by mcu (metadata mcu.sites); the maskInputs / insertDropout options were ignored');
  }
  return {
    model: work,
    inputs,
    outputs,
    sites: meta.sites,
    layout: meta.layout,
    warnings,
    changes: [`already prepared by mcu (metadata mcu.sites, ${meta.sites.length} site${meta.sites.length === 1 ? '' : 's'}): not rewritten`],
    opset,
    sampledOutputs: dependentOutputs(graph, [...masks]),
    inputDims: inputDimSymbols(inputs),
  };
}

/** Checked last, so that everything else about a model read as bytes is reported first. */
function checkSelfContained(p: PreparedModel, what: string, keepExternal = false): PreparedModel {
  if (keepExternal) return p;
  const external = allTensors(p.model).find((t) => t.data_location === DataLocation.EXTERNAL);
  if (external) {
    throw new McuError(
      'E_MODEL',
      `${what}: tensor '${external.name ?? '?'}' keeps its data in an external file that was not read; load the model ` +
        'with loadModelFile(path), or call inlineExternalData(model, folder) first (a runtime would resolve the file against its working directory)',
    );
  }
  return p;
}

export function prepareModel(model: ModelProto, options: PrepareOptions = {}): PreparedModel {
  const what = options.what ?? 'model';
  if (model === null || typeof model !== 'object') throw new McuError('E_MODEL', `${what} is not a decoded ONNX model`);
  const scaling: DropoutScaling = options.scaling ?? 'inverted';
  if (scaling !== 'inverted' && scaling !== 'none') {
    throw new McuError('E_CONFIG', `scaling must be 'inverted' or 'none', got ${JSON.stringify(scaling)}`);
  }
  // A checked copy: models built by hand (not decoded) get their field types verified here.
  const work = sanitizeModel(model, what);
  if ((work.metadata_props ?? []).some((p) => p.key === BAKED_KEY)) {
    // its T samples are fixed inside: run through the engine it would be one network without dropout
    throw new McuError(
      'E_UNSUPPORTED',
      `${what} is a baked model (mcu convert --bake): its MC samples, masks and estimators are fixed inside the graph, so mcu has nothing to sample; run it directly with any ONNX runtime, or give mcu the original model`,
    );
  }
  validateModel(work, what);
  refuseUnhandledOps(work.graph!, work.functions ?? [], what);
  let opset = defaultOpset(work, what);
  const graph = work.graph!;
  const meta = readSiteMetadata(work, what);
  if (meta) return checkSelfContained(preparedFromMetadata(work, meta, opset, options, what), what, options.keepExternal);

  const changes: string[] = [];
  const warnings: string[] = [];
  const irVersion = Number(work.ir_version ?? 0n);
  if (irVersion > 11) warnings.push(`${what} declares IR version ${irVersion}, newer than mcu knows (≤ 11); it may not load`);

  // 1. BatchNormalization in training mode → inference.
  const bn = switchBatchNormToInference(graph, opset, what);
  changes.push(...bn.changes);
  warnings.push(...bn.warnings);

  // 2. is_test notes (before the attribute disappears with the opset raise).
  for (const n of graph.node ?? []) {
    if (n.op_type === 'Dropout' && isDefaultDomain(n.domain) && opset < 7 && (attrInt(n, 'is_test') ?? 0) !== 0) {
      changes.push(
        `Dropout '${n.name ?? n.output?.[0]}' has is_test=${attrInt(n, 'is_test')} (the exporter fixed it to identity); it is a dropout layer of the trained network, so it is a site`,
      );
    }
  }

  // 3. Legacy opsets → 7.
  const raised = raiseLegacyOpset(work, opset, what);
  if (raised) {
    opset = raised.to;
    changes.push(...raised.changes);
  }

  // 4. Layout.
  const maskNames = new Set(Object.keys(options.maskInputs ?? {}));
  let dataInputs = dataInputNames(graph, maskNames);
  const consts0 = new ConstantTable(graph);
  let layout: Layout = 'broadcast';
  if (options.layout) layout = options.layout;
  else if (maskNames.size > 0) {
    const detected = detectMaskedLayout(graph, dataInputs, consts0);
    if (detected?.layout === 'sample-axis') {
      layout = 'sample-axis';
      changes.push(`per-sample masked model: ${detected.reason}; layout 'sample-axis' (data tiled [S, N, ...] by the runtime, masks [S, 1|N, ...])`);
    }
  }

  // 5. Fixed batch sizes.
  const namer = new Namer(graph);
  if (layout === 'broadcast') {
    const relax = relaxFixedBatch(graph, dataInputs, namer);
    changes.push(...relax.changes);
    warnings.push(...relax.warnings);
  }

  // 6. Shapes and sites.
  const consts = new ConstantTable(graph);
  warnings.push(...float32Pitfalls(graph, consts, what));
  const shapes = inferShapes(graph, opset, consts);
  let found: ReturnType<typeof findSites>;
  try {
    found = findSites(graph, opset, shapes, consts, dataInputs, options, what, layout === 'sample-axis');
  } catch (e) {
    if (e instanceof NeedsSiteShapes) {
      const inputs = dataInputs.map((n) => toSpec(graph.input!.find((v) => v.name === n)!, 'input', what));
      throw Object.assign(e, {
        probe: probeModel(
          work,
          e.tensors.map((t) => t.tensor),
          shapes,
        ),
        inputs,
      });
    }
    throw e;
  }
  changes.push(...found.changes);
  warnings.push(...found.warnings);
  const called = new Set((graph.node ?? []).map((n) => `${n.domain ?? ''}:${n.op_type ?? ''}`));
  for (const f of work.functions ?? []) {
    if (called.has(`${f.domain ?? ''}:${f.name ?? ''}`) && (f.node ?? []).some((n) => n.op_type === 'Dropout')) {
      warnings.push(
        `model-local function ${f.domain ?? ''}.${f.name ?? ''} contains Dropout; mcu does not rewrite functions, so it is not a site. ` +
          'Fix: export without local functions (torch.onnx.export(..., export_modules_as_functions=False)).',
      );
    }
  }
  const plans: SitePlan[] = found.plans;
  let k = 0;
  for (const p of plans) {
    if (p.maskName) continue;
    let name: string;
    do name = `mcu_mask_${++k}`;
    while (namer.has(name));
    namer.reserve(name);
    p.maskName = name;
  }

  if (plans.length === 0) {
    warnings.push(
      `${what} has no dropout: no Dropout node, no mask input, nothing inserted — every MC sample will be identical. ` +
        'Fix: export with torch.onnx.TrainingMode.PRESERVE (model.eval(), dropout modules in train mode), or insert ' +
        'dropout where the network was trained with it: --insert-dropout P --before Gemm,MatMul,Conv.',
    );
  }

  // 7. Rewrite.
  const removed = new Set(found.removeInputs);
  let sampledOutputs: string[];
  if (layout === 'broadcast' && plans.length > 0) {
    const mode = options.rewrite ?? 'auto';
    let tiledWhy: string | undefined = mode === 'tiled' ? 'asked for (rewrite: tiled)' : undefined;
    const offAxis = plans.find((p) => p.rowAxis !== 0);
    if (tiledWhy === undefined && offAxis) tiledWhy = `site ${offAxis.origin.op} '${offAxis.origin.node}' holds its rows on axis ${offAxis.rowAxis}`;
    let res: { changes: string[]; expandedOutputs: string[] } | undefined;
    if (tiledWhy === undefined) {
      const saved = snapshot(graph);
      try {
        res = rewriteBroadcast(graph, plans, opset, namer, dataInputs, shapes, what);
      } catch (e) {
        if (!(e instanceof LayoutRefusal) || mode === 'broadcast') throw e;
        restore(graph, saved);
        tiledWhy = e.message.startsWith(`${what}: `) ? e.message.slice(what.length + 2) : e.message;
      }
    }
    if (res === undefined) {
      res = rewriteTiled(graph, plans, opset, namer, dataInputs, what);
      layout = 'tiled';
      changes.push(`layout 'tiled' (not 'broadcast': ${tiledWhy}); the work before the first site runs once per sample`);
    }
    changes.push(...res.changes);
    const kept = (graph.input ?? []).filter((v) => !removed.has(v.name ?? ''));
    const inits = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
    const dataVis = kept.filter((v) => !inits.has(v.name ?? ''));
    const initVis = kept.filter((v) => inits.has(v.name ?? ''));
    const maskVis = plans.map((p) => tensorValueInfo(p.maskName, DataType.FLOAT, ['mcu_samples', 'mcu_mask_rows', ...(p.dims ?? p.maskShape)]));
    graph.input = [...dataVis, ...maskVis, ...initVis];
    sampledOutputs = res.expandedOutputs;
    if (plans.length > 0) {
      changes.push(
        `${plans.length} site${plans.length === 1 ? '' : 's'} rewritten to mask inputs ${plans.map((p) => `${p.maskName} [S, 1|N, ${p.maskShape.join(', ')}]`).join(', ')}; ` +
          `outputs ${sampledOutputs.join(', ') || '(none)'} have S·N rows`,
      );
    }
    sweepDeadNodes(graph);
  } else if (layout === 'broadcast') {
    sampledOutputs = [];
  } else {
    // Masks [S, 1, ...] as exported also take [S, N, ...] (one per row): free that axis.
    for (const p of plans) {
      const dim = graph.input?.find((v) => v.name === p.maskName)?.type?.tensor_type?.shape?.dim;
      if (dim && dim.length >= 2) dim[1] = { dim_param: 'mcu_mask_rows' };
    }
    sampledOutputs = dependentOutputs(
      graph,
      plans.map((p) => p.maskName),
    );
  }
  dataInputs = dataInputNames(graph, new Set(plans.map((p) => p.maskName)));

  const sites: StochasticSite[] = plans.map((p) => ({
    name: p.maskName,
    kind: p.siteKind,
    rate: p.rate,
    maskShape: p.maskShape,
    scaling: p.siteKind === 'alpha' ? 'none' : scaling,
    origin: { op: p.origin.op, opset: p.origin.opset, node: p.origin.node },
    ...(p.rowAxis !== 0 || p.rowFactor !== 1 ? { rowLayout: { axis: p.rowAxis, factor: p.rowFactor } } : {}),
    ...(p.dims ? { dims: p.dims } : {}),
  }));
  if (scaling === 'none' && plans.some((p) => p.siteKind === 'alpha')) {
    warnings.push('--dropout-scaling none does not apply to AlphaDropout sites (their correction is part of the layer)');
  }
  writeSiteMetadata(work, sites, layout);

  const inputs = dataInputs.map((n) => toSpec(graph.input!.find((v) => v.name === n)!, 'input', what));
  const outputs = outputSpecs(graph, what, inputs);
  const inputDims = inputDimSymbols(inputs);
  for (const site of sites) {
    for (const d of site.dims ?? []) {
      const sym = typeof d === 'string' ? d.replace(/\*\d+$/, '') : undefined;
      if (sym !== undefined && inputDims[sym] === undefined) {
        throw new McuError(
          'E_UNSUPPORTED',
          `${what}: the mask of site ${site.name} has the size '${d}', which is no input's dim; mcu cannot size it. Fix: export with fixed sizes`,
        );
      }
    }
  }
  return checkSelfContained({ model: work, inputs, outputs, sites, layout, warnings, changes, opset, sampledOutputs, inputDims }, what, options.keepExternal);
}

/** Named non-batch dims of the inputs: symbol → the first input and axis that has it. */
function inputDimSymbols(inputs: readonly TensorSpec[]): Record<string, { input: string; axis: number }> {
  const out: Record<string, { input: string; axis: number }> = {};
  for (const spec of inputs) {
    spec.dims.forEach((d, axis) => {
      if (axis > 0 && typeof d === 'string' && d !== '?' && out[d] === undefined) out[d] = { input: spec.name, axis };
    });
  }
  return out;
}

/** The parts of a graph the broadcast rewrite replaces, to undo a refused attempt. */
function snapshot(graph: GraphProto): {
  node: NodeProto[];
  initializer: GraphProto['initializer'];
  output: ValueInfoProto[];
  value_info: GraphProto['value_info'];
} {
  return {
    node: [...(graph.node ?? [])],
    initializer: [...(graph.initializer ?? [])],
    output: (graph.output ?? []).map((o) => cloneProto(o)),
    value_info: graph.value_info ? [...graph.value_info] : undefined,
  };
}

function restore(graph: GraphProto, s: ReturnType<typeof snapshot>): void {
  graph.node = s.node;
  graph.initializer = s.initializer;
  graph.output = s.output;
  if (s.value_info) graph.value_info = s.value_info;
  else delete graph.value_info;
}

/**
 * prepareModel, measuring by running the model where static inference cannot place the rows
 * in a site tensor: `run` executes a model (bytes) on feeds and returns the dims of its outputs.
 */
export async function prepareModelMeasured(
  model: ModelProto,
  options: PrepareOptions,
  run: (probe: ModelProto, feeds: Record<string, TensorData>) => Promise<Record<string, readonly number[]>>,
): Promise<PreparedModel> {
  try {
    return prepareModel(model, options);
  } catch (e) {
    if (!(e instanceof NeedsSiteShapes) || options.measured) throw e;
    const { probe, inputs } = e as NeedsSiteShapes & { probe: ModelProto; inputs: TensorSpec[] };
    const what = options.what ?? 'model';
    const tensors = e.tensors.map((t) => t.tensor);
    let measured: Map<string, MeasuredDims>;
    try {
      measured = await measureSiteDims((feeds) => run(probe, feeds), inputs, tensors, what);
    } catch (err) {
      if (err instanceof McuError && err.code !== 'E_RUNTIME' && err.code !== 'E_PROVIDER') throw err;
      throw new McuError('E_UNSUPPORTED', `${e.message} Running the model on synthetic rows to measure them failed: ${describeError(err)}`, { cause: err });
    }
    const p = prepareModel(model, { ...options, measured });
    p.changes.push(
      `measured by running the model on 1 and 2 synthetic rows: ${tensors.map((t) => `'${t}' [${measured.get(t)!.two.join(', ')}] at 2 rows`).join('; ')}`,
    );
    return p;
  }
}

export { SAMPLE_ROWS_DIM };
