/** `inspect`: what a model is to mcu — its inputs, outputs, stochastic sites, warnings and self-check. */
import type { Mcu } from '../di/container.js';
import type { SelfCheckReport } from '../engine/self-check.js';
import { sitesFor } from '../engine/engine.js';
import { syntheticFeeds } from '../engine/synthetic.js';
import { isMcuError } from '../errors.js';
import type { LoadOptions, StochasticSite, TensorSpec } from '../model.js';
import type { NamedTensors } from '../tensor.js';
import { VERSION } from '../version.js';
import { acquireModel, toFeeds, type Inputs, type ModelInput } from './inputs.js';
import { engineOf } from './run.js';

/** Options of {@link inspect}. */
export interface InspectOptions {
  /** Loads a model given as a path, URL, bytes or ModelSource. */
  readonly mcu?: Mcu;
  /** Backend load options, for a model loaded here. */
  readonly load?: LoadOptions;
  /** Rows to run the self-check on (default: 2 synthetic rows, where the inputs' per-row sizes are fixed). */
  readonly inputs?: Inputs;
  /** How messages name the `inputs` option (the CLI: `--input`). */
  readonly wording?: { readonly inputs?: string };
}

/** The self-check's outcome: passed (on the given or synthetic rows), or skipped and why. */
export type InspectSelfCheck = (SelfCheckReport & { readonly on: 'inputs' | 'synthetic' }) | { readonly passed: null; readonly skipped: string };

/** What {@link inspect} returns. */
export interface InspectResult {
  readonly version: string;
  readonly modelHash: string | null;
  readonly backend: string;
  readonly executionProvider: string;
  readonly inputs: readonly TensorSpec[];
  /** With `activation` where the output ends in a softmax or log-softmax. */
  readonly outputs: readonly TensorSpec[];
  /** Graph order; concrete mask shapes for the self-check's rows when they depend on the input. */
  readonly sites: readonly StochasticSite[];
  readonly warnings: readonly string[];
  /**
   * The self-check (2 rows × 2 samples against each pair alone). A model whose samples or rows
   * mix fails it: inspect then throws that E_UNSUPPORTED McuError, as predict would.
   */
  readonly selfCheck: InspectSelfCheck;
}

/**
 * Inspect a model in one call: `await inspect('model.onnx', { mcu })`. The self-check runs on
 * `options.inputs`, else on synthetic rows when the inputs' per-row sizes are fixed (skipped,
 * with the reason, when they are named).
 */
export async function inspect(model: ModelInput, options: InspectOptions = {}): Promise<InspectResult> {
  const { model: m, owned } = await acquireModel(model, options.mcu, options.load, 'inspect');
  try {
    let feeds: NamedTensors | undefined;
    let on: 'inputs' | 'synthetic' = 'inputs';
    let skipped: string | undefined;
    if (options.inputs !== undefined) feeds = toFeeds(m, options.inputs);
    else {
      try {
        feeds = syntheticFeeds(m.inputs, 2);
        on = 'synthetic';
      } catch (e) {
        if (!(isMcuError(e) && e.code === 'E_UNSUPPORTED')) throw e;
        skipped = `the model's inputs have named sizes (${m.inputs.map((i) => `${i.name} [${i.dims.join(', ')}]`).join(', ')}); give rows with ${options.wording?.inputs ?? 'the inputs option'} to run it`;
      }
    }
    let selfCheck: InspectSelfCheck;
    if (feeds !== undefined) selfCheck = { ...(await engineOf(options.mcu).check(m, feeds)), on };
    else selfCheck = { passed: null, skipped: skipped! };
    return {
      version: VERSION,
      modelHash: m.hash ?? null,
      backend: m.backend,
      executionProvider: m.executionProvider,
      inputs: m.inputs,
      outputs: m.outputs,
      sites: feeds !== undefined ? sitesFor(m, feeds) : m.sites,
      warnings: [...m.warnings],
      selfCheck,
    };
  } finally {
    if (owned) await m.dispose();
  }
}
