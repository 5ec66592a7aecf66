/**
 * Caffe nets on the command line: read MODEL.prototxt / --weights NET.caffemodel (or a
 * .caffemodel alone) and hand them to @mcu/format-caffe, which translates them into an ONNX
 * graph that the onnx backend then loads like any other. Parsing only: the library does the work.
 */
import { McuError } from '@mcu/core';
import { openCaffe, type CaffeModel } from '@mcu/format-caffe';
import type { CaffePlan, Plan } from '../plan.js';
import { readFileBytes } from '../io/files.js';

/** Read the plan's Caffe files and open the net (translated into ONNX when it has weights). */
export function openCaffeFiles(plan: Plan): CaffeModel {
  const c = plan.caffe;
  if (c === undefined) throw new McuError('E_INTERNAL', 'openCaffeFiles without a Caffe model');
  const prototxt = c.prototxt !== undefined ? readFileBytes(c.prototxt, 'Caffe network definition').toString('utf8') : undefined;
  const caffemodel = c.caffemodel !== undefined ? new Uint8Array(readFileBytes(c.caffemodel, 'Caffe weights')) : undefined;
  return openCaffe(
    {
      ...(prototxt !== undefined ? { prototxt } : {}),
      ...(caffemodel !== undefined ? { caffemodel } : {}),
      names: { ...(c.prototxt !== undefined ? { prototxt: c.prototxt } : {}), ...(c.caffemodel !== undefined ? { caffemodel: c.caffemodel } : {}) },
    },
    { inputShapes: c.inputShapes },
  );
}

/** The translated model, or the one-line refusal naming --weights for a net given without weights. */
export function requireWeights(plan: Plan, m: CaffeModel): NonNullable<CaffeModel['onnx']> {
  if (m.onnx !== undefined) return m.onnx;
  const c = plan.caffe as CaffePlan;
  throw new McuError(
    'E_USAGE',
    `${c.prototxt ?? c.caffemodel}: a network definition without weights cannot run: give its trained weights with --weights NET.caffemodel ` +
      `(mcu inspect ${c.prototxt ?? ''} shows its structure without them)`,
  );
}
