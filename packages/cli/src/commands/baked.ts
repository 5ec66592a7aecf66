import { readFileSync } from 'node:fs';
import { McuError } from '@mcu/core';
import type { BakeDescription } from '@mcu/backend-onnx';
import type { Plan } from '../plan.js';

/**
 * The `mcu.baked` record of MODEL when it is a baked model (mcu convert --bake T), else
 * undefined. Only files that hold the key's bytes are decoded; anything unreadable is left to
 * the command's own load to report.
 */
export async function bakedRecord(plan: Plan): Promise<BakeDescription | undefined> {
  if (plan.caffe !== undefined || plan.modelFormat !== 'onnx' || plan.modelPath === undefined) return undefined;
  let bytes: Buffer;
  try {
    bytes = readFileSync(plan.modelPath);
  } catch {
    return undefined;
  }
  const onnx = await import('@mcu/backend-onnx');
  if (!bytes.includes(onnx.BAKED_KEY)) return undefined;
  let model: ReturnType<typeof onnx.decodeModel>;
  try {
    model = onnx.decodeModel(bytes);
  } catch {
    return undefined;
  }
  return onnx.readBakedMetadata(model, plan.model);
}

/** What a baked model computes, in one line: `y_mean, y_variance, y_std`. */
export function bakedOutputs(d: BakeDescription): string {
  return d.outputs.flatMap((o) => o.outputs).join(', ');
}

/** predict (and other commands that sample) on a baked model: its randomness is fixed inside. */
export function refuseBaked(plan: Plan, d: BakeDescription, command: string): never {
  throw new McuError(
    'E_USAGE',
    `${plan.model} is a baked model (mcu convert --bake ${d.samples}, seed ${d.seed}): its ${d.samples} MC samples are fixed inside the graph, which computes ` +
      `${bakedOutputs(d)} itself, so mcu ${command} has nothing to sample; run it directly with any ONNX runtime (onnxruntime, Triton), or ${command} the original model`,
  );
}
