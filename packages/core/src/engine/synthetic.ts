/**
 * Synthetic rows for a model's inputs, for checks that need to run a model without the user's
 * data (measuring site shapes, the self-check in `mcu inspect`): deterministic, plausible for
 * any network — floats in [0, 1) (pixels, standardised features), integers 0 (a valid token
 * or class id), bools false. Inputs with named non-batch sizes cannot be synthesised.
 */
import { McuError } from '../errors.js';
import type { TensorSpec } from '../model.js';
import type { NamedTensors, TensorData } from '../tensor.js';

/** Deterministic synthetic rows for `spec` with `rows` rows: floats in [0, 1), integers 0, bools false. */
export function syntheticInput(spec: TensorSpec, rows: number, what = 'model'): TensorData {
  const rest = spec.dims.slice(1);
  if (!rest.every((d) => typeof d === 'number' && d > 0)) {
    throw new McuError(
      'E_UNSUPPORTED',
      `${what}: input '${spec.name}' has dims [N, ${rest.join(', ')}] with named or unknown sizes, so mcu cannot make rows for it; ` +
        'give rows (--input), or export with fixed sizes but the batch (dynamic_axes only for axis 0)',
    );
  }
  const dims = [rows, ...(rest as number[])];
  const n = dims.reduce((a, b) => a * b, 1);
  switch (spec.dtype) {
    case 'float32':
    case 'float64': {
      const data = spec.dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
      let x = 0x9e3779b9;
      for (let i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        data[i] = (x >>> 8) / 16777216;
      }
      return { dtype: spec.dtype, data, dims };
    }
    case 'int64':
      return { dtype: 'int64', data: new BigInt64Array(n), dims };
    case 'int32':
      return { dtype: 'int32', data: new Int32Array(n), dims };
    case 'uint8':
      return { dtype: 'uint8', data: new Uint8Array(n), dims };
    case 'int8':
      return { dtype: 'int8', data: new Int8Array(n), dims };
    case 'bool':
      return { dtype: 'bool', data: new Uint8Array(n), dims };
    default:
      throw new McuError('E_UNSUPPORTED', `${what}: input '${spec.name}' has type ${spec.dtype}, which mcu cannot synthesise`);
  }
}

/** {@link syntheticInput} for every input. */
export function syntheticFeeds(inputs: readonly TensorSpec[], rows: number, what = 'model'): NamedTensors {
  const feeds: Record<string, TensorData> = {};
  for (const spec of inputs) feeds[spec.name] = syntheticInput(spec, rows, what);
  return feeds;
}
