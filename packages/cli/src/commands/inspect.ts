import { inspect as coreInspect, type SelfCheckReport, type StochasticModel, type StochasticSite } from '@mcu/core';
import { readFileSync } from 'node:fs';
import type { BakeDescription, PreparedModel } from '@mcu/backend-onnx';
import type { CaffeModel } from '@mcu/format-caffe';
import type { Plan } from '../plan.js';
import { writeFileAtomic } from '../io/files.js';
import { stringifyJson } from '../io/format.js';
import { bakedRecord } from './baked.js';
import { loadModel, readFeeds, type Loaded } from './common.js';

type Dims = readonly (number | string)[];

export interface InspectSite {
  readonly name: string;
  readonly op: string;
  readonly opset: number | null;
  readonly node: string | null;
  readonly rate: number;
  readonly kind: string;
  readonly scaling: string;
  /** The mask of one input row ([k, …] with k entries per row on a merged axis; [C, 1, 1] channel-wise). */
  readonly shape: readonly number[];
  /** The same with named sizes taken from the input (e.g. [4, 'seq', 'seq']), when it depends on it. */
  readonly dims: Dims | null;
  /** Where the rows are in the site's tensor: axis and entries per row (attention [N·heads, L, L]: axis 0, 4). */
  readonly rows: { readonly axis: number; readonly factor: number };
}

export interface InspectReport {
  readonly backend: string;
  readonly executionProvider: string;
  /** 'broadcast' (onnx) / 'lazy' (tfjs): the part before the first site runs once per row; 'tiled': the graph runs on S·N rows; 'sample-axis'. */
  readonly layout: string | null;
  readonly inputs: readonly { name: string; dtype: string; dims: Dims }[];
  readonly outputs: readonly { name: string; dtype: string; dims: Dims; activation: string | null }[];
  readonly sites: readonly InspectSite[];
  /** The self-check of the prepared model (2 rows × 2 samples against each pair alone), on the --input rows or synthetic ones. */
  readonly selfCheck: (Omit<SelfCheckReport, 'cached'> & { readonly on: string }) | { readonly passed: null; readonly skipped: string };
  readonly warnings: readonly string[];
  readonly changes: readonly string[];
  readonly flops: { perRow: number | null; beforeFirstSite: number | null; shareBeforeFirstSite: number | null; note?: string };
  /** A Caffe net: where it came from, whether it has weights, the layers kept and dropped. */
  readonly caffe?: InspectCaffe;
  /** A baked model (convert --bake T): its fixed samples and what its outputs compute. */
  readonly baked?: BakeDescription;
}

/** A baked model is described by its record: it has no dropout sites left, its masks are initializers. */
async function bakedReport(plan: Plan, d: BakeDescription): Promise<InspectReport> {
  const onnx = await import('@mcu/backend-onnx');
  const model = onnx.decodeModel(readFileSync(plan.modelPath!));
  const g = model.graph!;
  const inits = new Set((g.initializer ?? []).map((t) => t.name));
  const dimsOf = (v: NonNullable<typeof g.input>[number]): Dims =>
    (v.type?.tensor_type?.shape?.dim ?? []).map((x) => (x.dim_value !== undefined ? Number(x.dim_value) : (x.dim_param ?? '?')));
  const names: Record<number, string> = { 1: 'float32', 11: 'float64', 6: 'int32', 7: 'int64', 2: 'uint8', 3: 'int8', 9: 'bool' };
  const elem = (v: NonNullable<typeof g.input>[number]) => {
    const t = v.type?.tensor_type?.elem_type ?? 0;
    return names[t] ?? onnx.dataTypeName(t).toLowerCase();
  };
  return {
    backend: 'none (a baked model runs on any ONNX runtime)',
    executionProvider: 'none',
    layout: null,
    inputs: (g.input ?? []).filter((v) => !inits.has(v.name)).map((v) => ({ name: v.name ?? '', dtype: elem(v), dims: dimsOf(v) })),
    outputs: (g.output ?? []).map((v) => ({ name: v.name ?? '', dtype: elem(v), dims: dimsOf(v), activation: null })),
    sites: [],
    selfCheck: { passed: null, skipped: `a baked model: its ${d.samples} samples are fixed in the graph` },
    warnings: [],
    changes: [],
    flops: { perRow: null, beforeFirstSite: null, shareBeforeFirstSite: null, note: 'not counted for a baked model' },
    baked: d,
  };
}

export interface InspectCaffe {
  readonly net: string;
  readonly prototxt: string | null;
  readonly caffemodel: string | null;
  readonly weights: 'present' | 'missing';
  readonly layers: number;
  readonly dropped: readonly { name: string; type: string; why: string }[];
}

function caffeBlock(plan: Plan, m: CaffeModel): InspectCaffe {
  return {
    net: m.net.name,
    prototxt: plan.caffe?.prototxt ?? null,
    caffemodel: plan.caffe?.caffemodel ?? null,
    weights: m.net.weights,
    layers: m.net.layers.length,
    dropped: m.net.dropped.map((d) => ({ name: d.name, type: d.type, why: d.why })),
  };
}

/** The structure of a Caffe net given without weights: what the prototxt says, nothing run. */
function structureReport(plan: Plan, m: CaffeModel): InspectReport {
  const d = m.description;
  const dims = (x: readonly (number | undefined)[] | undefined): Dims => ['N', ...(x ?? ['?']).map((v) => v ?? '?')];
  const layerOf = (name: string) => d.layers.find((l) => l.name === name);
  /** The layer that writes an output last (a net ending in Softmax hands out probabilities). */
  const writer = (blob: string) => [...d.layers].reverse().find((l) => l.top.includes(blob));
  return {
    backend: 'none (no weights)',
    executionProvider: 'none',
    layout: null,
    inputs: d.inputs.map((i) => ({ name: i.name, dtype: 'float32', dims: dims(i.dims) })),
    outputs: d.outputs.map((o) => ({ name: o.name, dtype: 'float32', dims: dims(o.dims), activation: writer(o.name)?.type === 'Softmax' ? 'Softmax' : null })),
    // named as the translated model's sites will be (mcu_mask_k in graph order; node = the Dropout layer)
    sites: d.sites.map((x, k) => {
      const shape = layerOf(x.name)?.shapes[0];
      const known = shape?.every((v): v is number => v !== undefined) === true;
      return {
        name: `mcu_mask_${k + 1}`,
        op: 'Dropout',
        opset: 13,
        node: x.name,
        rate: x.rate,
        kind: 'bernoulli',
        scaling: x.scaling,
        shape: known ? [...shape] : [],
        dims: shape === undefined ? null : shape.map((v) => v ?? '?'),
        rows: { axis: 0, factor: 1 },
      };
    }),
    selfCheck: { passed: null, skipped: 'the net has no weights' },
    warnings: [
      `${plan.caffe?.prototxt ?? plan.model}: no weights (structure only): give them with --weights NET.caffemodel to run it (predict, evaluate, plot and convert need them)`,
      ...m.net.warnings,
    ],
    changes: [],
    flops: { perRow: null, beforeFirstSite: null, shareBeforeFirstSite: null, note: 'not counted for a net without weights' },
    caffe: caffeBlock(plan, m),
  };
}

function siteReport(sites: readonly StochasticSite[]): InspectSite[] {
  return sites.map((x) => ({
    name: x.name,
    op: x.origin?.op ?? 'Dropout',
    opset: x.origin?.opset ?? null,
    node: x.origin?.node ?? null,
    rate: x.rate,
    kind: x.kind,
    scaling: x.scaling ?? 'inverted',
    shape: [...x.maskShape],
    dims: x.dims ? [...x.dims] : null,
    rows: x.rowLayout ? { axis: x.rowLayout.axis, factor: x.rowLayout.factor } : { axis: 0, factor: 1 },
  }));
}

export async function buildInspectReport(plan: Plan): Promise<InspectReport> {
  const baked = await bakedRecord(plan);
  if (baked !== undefined) return bakedReport(plan, baked);
  let opened: CaffeModel | undefined;
  if (plan.caffe !== undefined) {
    const { openCaffeFiles } = await import('./caffe.js');
    opened = openCaffeFiles(plan);
    if (opened.onnx === undefined) return structureReport(plan, opened);
  }
  const { mcu, model, warnings, caffe }: Loaded = await loadModel(plan, opened);
  try {
    // the self-check runs on --input's first 2 rows, else on 2 synthetic rows where the input sizes are fixed
    const feeds = plan.input.length > 0 ? readFeeds(model, plan.input) : undefined;
    const r = await coreInspect(model, { mcu, ...(feeds !== undefined ? { inputs: feeds } : {}), wording: { inputs: '--input' } });
    let selfCheck: InspectReport['selfCheck'];
    if (r.selfCheck.passed === null) selfCheck = { passed: null, skipped: r.selfCheck.skipped };
    else {
      const { cached: _cached, on, ...check } = r.selfCheck;
      void _cached;
      selfCheck = { ...check, on: on === 'inputs' ? 'the --input rows (first 2)' : '2 synthetic rows' };
    }
    const prepared = (model as { prepared?: PreparedModel }).prepared;
    let flops: InspectReport['flops'] = { perRow: null, beforeFirstSite: null, shareBeforeFirstSite: null, note: 'FLOPs are counted for ONNX models only' };
    if (prepared) {
      const { countFlops } = await import('@mcu/backend-onnx');
      const f = countFlops(prepared);
      flops = {
        perRow: f.perRow,
        beforeFirstSite: f.beforeFirstSite,
        shareBeforeFirstSite: f.shareBeforeFirstSite,
        ...(!f.complete ? { note: 'incomplete: some layers could not be counted' } : {}),
        ...(prepared.layout === 'tiled' ? { note: "layout 'tiled': the work before the first site is repeated per sample" } : {}),
      };
    }
    const spec = (t: StochasticModel['inputs'][number]) => ({ name: t.name, dtype: t.dtype, dims: t.dims });
    return {
      backend: model.backend,
      executionProvider: model.executionProvider,
      // onnx: broadcast / tiled / sample-axis; tfjs: lazy (the work before the first site once per row) or tiled
      layout: prepared?.layout ?? (model as { layout?: string }).layout ?? null,
      inputs: model.inputs.map(spec),
      outputs: model.outputs.map((o) => ({ ...spec(o), activation: o.activation ?? null })),
      sites: siteReport(r.sites),
      selfCheck,
      warnings: [...warnings],
      changes: prepared ? [...prepared.changes] : [],
      flops,
      ...(caffe !== undefined ? { caffe: caffeBlock(plan, caffe) } : {}),
    };
  } finally {
    await model.dispose();
  }
}

function table(r: InspectReport): string {
  const lines: string[] = [];
  const dims = (d: Dims) => `[${d.join(', ')}]`;
  if (r.caffe !== undefined) {
    const c = r.caffe;
    lines.push(
      `caffe net '${c.net}': ${[c.prototxt, c.caffemodel].filter((f) => f !== null).join(' + ')}; ${c.layers} layer(s)` +
        `${c.dropped.length > 0 ? `, dropped: ${c.dropped.map((x) => `${x.name} (${x.type}: ${x.why})`).join('; ')}` : ''}; weights ${c.weights}`,
    );
  }
  if (r.baked !== undefined) {
    const b = r.baked;
    lines.push(
      `baked model (mcu ${b.version}): ${b.samples} MC samples, seed ${b.seed}, scope ${b.scope}, τ ${b.tau ?? 'none (variances + 0)'}; ${b.sites.length} site(s) baked: ${b.sites.map((x) => `${x.name} (p=${x.rate})`).join(', ')}`,
    );
    for (const o of b.outputs) lines.push(`  ${o.name} (${o.task}${o.holds ? `, ${o.holds}` : ''}) → ${o.outputs.join(', ')}`);
  }
  lines.push('inputs:');
  for (const i of r.inputs) lines.push(`  ${i.name}  ${i.dtype} ${dims(i.dims)}`);
  lines.push('outputs:');
  for (const o of r.outputs) lines.push(`  ${o.name}  ${o.dtype} ${dims(o.dims)}${o.activation ? `  (ends in ${o.activation})` : ''}`);
  if (r.baked === undefined) lines.push(`stochastic sites (${r.sites.length}, graph order${r.layout ? `; layout ${r.layout}` : ''}):`);
  r.sites.forEach((x, k) => {
    const where = x.rows.axis !== 0 || x.rows.factor !== 1 ? `; rows on axis ${x.rows.axis}${x.rows.factor > 1 ? `, ${x.rows.factor} entries each` : ''}` : '';
    lines.push(
      `  ${k + 1}. ${x.name}  ${x.op}${x.node !== null ? ` '${x.node}'` : ''}${x.opset !== null ? ` (opset ${x.opset})` : ''}  ${x.kind} p=${x.rate}${x.scaling !== 'inverted' ? ` scaling ${x.scaling}` : ''}  mask ${dims(x.dims ?? x.shape)} per row${where}`,
    );
  });
  if (r.flops.perRow !== null) {
    const share = r.flops.shareBeforeFirstSite;
    const tiled = r.layout === 'tiled';
    lines.push(
      `FLOPs per pass per row: ${r.flops.perRow.toExponential(3)}` +
        (tiled
          ? '; tiled layout: everything runs once per sample'
          : share !== null
            ? `; before the first site: ${(share * 100).toFixed(1)} % (computed once per row, not T times)`
            : ''),
    );
  }
  const c = r.selfCheck;
  lines.push(
    c.passed === null
      ? `self-check: not run (${c.skipped})`
      : `self-check: passed on ${c.on} (${c.rows} rows × ${c.samples} samples against each pair alone; largest difference ${c.maxDifference.toExponential(2)}, tolerance ${c.tolerance.toExponential(2)})`,
  );
  for (const ch of r.changes) lines.push(`change: ${ch}`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return `${lines.join('\n')}\n`;
}

export async function inspect(plan: Plan, io: { stdout: NodeJS.WritableStream }): Promise<void> {
  const report = await buildInspectReport(plan);
  const text = plan.format === 'json' ? `${stringifyJson(report)}\n` : table(report);
  if (plan.out !== undefined) writeFileAtomic(plan.out, text);
  else io.stdout.write(text);
}
