/**
 * Keeps every MC sample of one output — for what needs the T passes themselves, not their
 * summary: the scatter of softmax inputs and outputs over T passes (the paper's figure 4), a
 * histogram of a prediction. O(T·N·D) memory by design, so it is bounded by `maxValues`.
 */
import { McuError } from '../errors.js';
import type { Chunk, Estimator } from './estimator.js';
import { checkOutputName, readChunk, type ChunkLayout } from './input.js';

export interface SampleCollectorOptions {
  readonly output: string;
  /** Refuse to keep more than this many values (default 2^24 = 64 MiB of float32). */
  readonly maxValues?: number;
}

export interface CollectedSamples {
  /** T·N·D values, sample-major: value (t, i, j) at (t·N + i)·D + j. */
  readonly values: Float32Array;
  readonly samples: number;
  readonly rows: number;
  /** Dims of one row's output. */
  readonly rest: readonly number[];
}

export class SampleCollector implements Estimator<CollectedSamples> {
  readonly output: string;
  readonly #max: number;
  #layout: ChunkLayout | undefined;
  #consumed = 0;
  readonly #parts: Float32Array[] = [];

  constructor(options: SampleCollectorOptions) {
    this.output = checkOutputName(options?.output, 'SampleCollector');
    this.#max = options.maxValues ?? 2 ** 24;
    if (!(Number.isSafeInteger(this.#max) && this.#max > 0)) {
      throw new McuError('E_CONFIG', `SampleCollector: maxValues must be a positive integer, got ${String(options.maxValues)}`);
    }
  }

  get samples(): number {
    return this.#consumed;
  }

  update(chunk: Chunk): void {
    const v = readChunk(chunk, this.output, this.#consumed, this.#layout, 'SampleCollector');
    this.#layout ??= { rows: v.rows, rest: v.rest, width: v.width };
    const kept = (this.#consumed + v.samples) * v.rows * v.width;
    if (kept > this.#max) {
      throw new McuError(
        'E_CONFIG',
        `SampleCollector: keeping ${this.#consumed + v.samples} samples × ${v.rows} rows × ${v.width} values of '${this.output}' ` +
          `(${kept}) exceeds maxValues ${this.#max}; use fewer samples or rows, or raise maxValues`,
      );
    }
    this.#parts.push(Float32Array.from(v.data));
    this.#consumed += v.samples;
  }

  result(): CollectedSamples {
    const l = this.#layout;
    if (l === undefined) throw new McuError('E_RUNTIME', `SampleCollector: no MC samples of '${this.output}' yet; call update() first`);
    const values = new Float32Array(this.#consumed * l.rows * l.width);
    let o = 0;
    for (const p of this.#parts) {
      values.set(p, o);
      o += p.length;
    }
    return { values, samples: this.#consumed, rows: l.rows, rest: [...l.rest] };
  }
}
