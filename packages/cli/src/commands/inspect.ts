import { McuError, type StochasticModel } from '@mcu/core';
import type { Settings } from '../config.js';
import { writeFileAtomic } from '../io/files.js';
import { stringifyJson } from '../io/format.js';
import { loadModel } from './common.js';
import { isLayersModel, prepareFromSettings } from './prepare.js';

export interface InspectReport {
  readonly inputs: readonly { name: string; dtype: string; dims: readonly (number | string)[] }[];
  readonly outputs: readonly { name: string; dtype: string; dims: readonly (number | string)[] }[];
  readonly sites: readonly { name: string; op: string; opset: number | null; rate: number; kind: string; shape: readonly number[] }[];
  readonly warnings: readonly string[];
  readonly changes: readonly string[];
  readonly flops: { perRow: number | null; beforeFirstSite: number | null; shareBeforeFirstSite: number | null; note?: string };
}

/** A layers model: what the loaded StochasticModel says (no graph rewrite, no FLOP count). */
async function layersReport(s: Settings): Promise<InspectReport> {
  if (s.insertDropout !== undefined || Object.keys(s.rate).length > 0 || Object.keys(s.maskInput).length > 0) {
    throw new McuError('E_USAGE', `--insert-dropout, --rate and --mask-input rewrite ONNX graphs; '${s.model}' is a TensorFlow.js layers model: leave them out`);
  }
  const { model } = await loadModel(s);
  try {
    const spec = (t: StochasticModel['inputs'][number]) => ({ name: t.name, dtype: t.dtype, dims: t.dims });
    return {
      inputs: model.inputs.map(spec),
      outputs: model.outputs.map(spec),
      sites: model.sites.map((x) => ({ name: x.name, op: x.origin?.op ?? 'Dropout', opset: null, rate: x.rate, kind: x.kind, shape: [...x.maskShape] })),
      warnings: [...model.warnings],
      changes: [],
      flops: { perRow: null, beforeFirstSite: null, shareBeforeFirstSite: null, note: 'FLOPs are counted for ONNX models only' },
    };
  } finally {
    await model.dispose();
  }
}

export async function buildInspectReport(s: Settings): Promise<InspectReport> {
  if (isLayersModel(s)) return layersReport(s);
  const { prepared } = await prepareFromSettings(s, 'inspect');
  const { countFlops } = await import('@mcu/backend-onnx');
  const flops = countFlops(prepared);
  return {
    inputs: prepared.inputs.map((i) => ({ name: i.name, dtype: i.dtype, dims: i.dims })),
    outputs: prepared.outputs.map((o) => ({ name: o.name, dtype: o.dtype, dims: o.dims })),
    sites: prepared.sites.map((x) => ({
      name: x.name,
      op: x.origin?.op ?? 'Dropout',
      opset: x.origin?.opset ?? null,
      rate: x.rate,
      kind: x.kind,
      shape: [...x.maskShape],
    })),
    warnings: prepared.warnings,
    changes: prepared.changes,
    flops,
  };
}

function table(r: InspectReport): string {
  const lines: string[] = [];
  const dims = (d: readonly (number | string)[]) => `[${d.join(', ')}]`;
  lines.push('inputs:');
  for (const i of r.inputs) lines.push(`  ${i.name}  ${i.dtype} ${dims(i.dims)}`);
  lines.push('outputs:');
  for (const o of r.outputs) lines.push(`  ${o.name}  ${o.dtype} ${dims(o.dims)}`);
  lines.push(`stochastic sites (${r.sites.length}, graph order):`);
  r.sites.forEach((x, k) =>
    lines.push(`  ${k + 1}. ${x.name}  ${x.op}${x.opset !== null ? ` (opset ${x.opset})` : ''}  ${x.kind} p=${x.rate}  mask ${dims(x.shape)} per row`),
  );
  if (r.flops.perRow !== null) {
    const share = r.flops.shareBeforeFirstSite;
    lines.push(`FLOPs per pass per row: ${r.flops.perRow.toExponential(3)}${share !== null ? `; before the first site: ${(share * 100).toFixed(1)} % (computed once per row, not T times)` : ''}`);
  }
  for (const c of r.changes) lines.push(`change: ${c}`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n') + '\n';
}

export async function inspect(s: Settings, io: { stdout: NodeJS.WritableStream }): Promise<void> {
  const report = await buildInspectReport(s);
  const text = s.format === 'json' ? stringifyJson(report) + '\n' : table(report);
  if (s.out !== undefined) writeFileAtomic(s.out, text);
  else io.stdout.write(text);
}
