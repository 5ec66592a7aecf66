import { McuError, sitesFor, type NamedTensors, type SelfCheckReport, type StochasticModel } from '@mcu/core';
import type { PreparedModel } from '@mcu/backend-onnx';
import type { Plan } from '../plan.js';
import { writeFileAtomic } from '../io/files.js';
import { stringifyJson } from '../io/format.js';
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
  /** 'broadcast': the part before the first site runs once per row; 'tiled': the graph runs on S·N rows; 'sample-axis'; null for layers models. */
  readonly layout: string | null;
  readonly inputs: readonly { name: string; dtype: string; dims: Dims }[];
  readonly outputs: readonly { name: string; dtype: string; dims: Dims; activation: string | null }[];
  readonly sites: readonly InspectSite[];
  /** The self-check of the prepared model (2 rows × 2 samples against each pair alone), on the --input rows or synthetic ones. */
  readonly selfCheck: (Omit<SelfCheckReport, 'cached'> & { readonly on: string }) | { readonly passed: null; readonly skipped: string };
  readonly warnings: readonly string[];
  readonly changes: readonly string[];
  readonly flops: { perRow: number | null; beforeFirstSite: number | null; shareBeforeFirstSite: number | null; note?: string };
}

function siteReport(model: StochasticModel, feeds: NamedTensors | undefined): InspectSite[] {
  const sites = feeds ? sitesFor(model, feeds) : model.sites;
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

/** The rows the self-check runs on: --input, else two synthetic rows where the input sizes are fixed. */
async function checkRows(plan: Plan, model: StochasticModel): Promise<{ feeds?: NamedTensors; on?: string; skipped?: string }> {
  if (plan.input.length > 0) return { feeds: readFeeds(model, plan.input), on: 'the --input rows (first 2)' };
  const { syntheticFeeds } = await import('@mcu/core');
  try {
    return { feeds: syntheticFeeds(model.inputs, 2, plan.model ?? 'model'), on: '2 synthetic rows' };
  } catch (e) {
    if (e instanceof McuError && e.code === 'E_UNSUPPORTED') {
      return { skipped: `the model's inputs have named sizes (${model.inputs.map((i) => `${i.name} [${i.dims.join(', ')}]`).join(', ')}); give rows with --input to run it` };
    }
    throw e;
  }
}

export async function buildInspectReport(plan: Plan): Promise<InspectReport> {
  const { mcu, model }: Loaded = await loadModel(plan);
  try {
    const rows = await checkRows(plan, model);
    let selfCheck: InspectReport['selfCheck'];
    if (rows.feeds) {
      const { cached: _cached, ...r } = await mcu.engine.check(model, rows.feeds);
      void _cached;
      selfCheck = { ...r, on: rows.on! };
    } else selfCheck = { passed: null, skipped: rows.skipped! };
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
      layout: prepared?.layout ?? null,
      inputs: model.inputs.map(spec),
      outputs: model.outputs.map((o) => ({ ...spec(o), activation: o.activation ?? null })),
      sites: siteReport(model, rows.feeds),
      selfCheck,
      warnings: [...model.warnings],
      changes: prepared ? [...prepared.changes] : [],
      flops,
    };
  } finally {
    await model.dispose();
  }
}

function table(r: InspectReport): string {
  const lines: string[] = [];
  const dims = (d: Dims) => `[${d.join(', ')}]`;
  lines.push('inputs:');
  for (const i of r.inputs) lines.push(`  ${i.name}  ${i.dtype} ${dims(i.dims)}`);
  lines.push('outputs:');
  for (const o of r.outputs) lines.push(`  ${o.name}  ${o.dtype} ${dims(o.dims)}${o.activation ? `  (ends in ${o.activation})` : ''}`);
  lines.push(`stochastic sites (${r.sites.length}, graph order${r.layout ? `; layout ${r.layout}` : ''}):`);
  r.sites.forEach((x, k) => {
    const where = x.rows.axis !== 0 || x.rows.factor !== 1 ? `; rows on axis ${x.rows.axis}${x.rows.factor > 1 ? `, ${x.rows.factor} entries each` : ''}` : '';
    lines.push(
      `  ${k + 1}. ${x.name}  ${x.op}${x.opset !== null ? ` (opset ${x.opset})` : ''}  ${x.kind} p=${x.rate}${x.scaling !== 'inverted' ? ` scaling ${x.scaling}` : ''}  mask ${dims(x.dims ?? x.shape)} per row${where}`,
    );
  });
  if (r.flops.perRow !== null) {
    const share = r.flops.shareBeforeFirstSite;
    const tiled = r.layout === 'tiled';
    lines.push(
      `FLOPs per pass per row: ${r.flops.perRow.toExponential(3)}` +
        (tiled ? '; tiled layout: everything runs once per sample' : share !== null ? `; before the first site: ${(share * 100).toFixed(1)} % (computed once per row, not T times)` : ''),
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
  return lines.join('\n') + '\n';
}

export async function inspect(plan: Plan, io: { stdout: NodeJS.WritableStream }): Promise<void> {
  const report = await buildInspectReport(plan);
  const text = plan.format === 'json' ? stringifyJson(report) + '\n' : table(report);
  if (plan.out !== undefined) writeFileAtomic(plan.out, text);
  else io.stdout.write(text);
}
