import * as v from 'valibot';
import type { LoadOptions } from '@mcu/core';
import { DropoutScalingSchema, integerAtLeast, oneOf, parseOptions, RateSchema } from '@mcu/core/options';

/** onnxruntime's graph optimisation levels. */
export const GRAPH_OPTIMIZATION_LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;
export type GraphOptimizationLevel = (typeof GRAPH_OPTIMIZATION_LEVELS)[number];

/** The weight layers an eval export gets dropout inserted before. */
export const INSERT_BEFORE_OPS = ['Gemm', 'MatMul', 'Conv'] as const;
/** An operator before which `insertDropout` puts a dropout site. */
export type InsertBeforeOp = (typeof INSERT_BEFORE_OPS)[number];

/** How Dropout nodes are rewritten (see PrepareOptions.rewrite). */
export const REWRITE_MODES = ['auto', 'broadcast', 'tiled'] as const;

const PROVIDERS = 'an array of execution provider names (at least one), e.g. ["cuda", "cpu"]';
const RATE_MAP = 'an object mapping input names to rates';
const BEFORE = `a non-empty array of ${INSERT_BEFORE_OPS.join(', ')}`;

const rateMap = (description: string) => v.optional(v.pipe(v.record(v.string(), RateSchema, RATE_MAP), v.description(description)));

/**
 * Options of the onnx backends (from `mcu.config.json` → backendOptions.onnx, or flags).
 * onnx-web reads the same schema; its only provider option is the list.
 */
export const OnnxOptionsSchema = v.strictObject(
  {
    /** Providers in order; more than one = explicit fallbacks. Default ['cpu'] (onnx) / ['wasm'] (onnx-web). */
    executionProviders: v.optional(
      v.pipe(
        v.array(v.pipe(v.string('a provider name'), v.regex(/\S/, 'a provider name')), PROVIDERS),
        v.minLength(1, PROVIDERS),
        v.description('Execution providers in order of preference; more than one = explicit fallbacks, e.g. ["cuda", "cpu"].'),
      ),
    ),
    graphOptimizationLevel: v.optional(v.pipe(oneOf(GRAPH_OPTIMIZATION_LEVELS), v.description("onnxruntime's graph optimisation level."))),
    /** 0 = onnxruntime's default. */
    intraOpNumThreads: v.optional(v.pipe(integerAtLeast(0), v.description("Threads of one operator; 0 = onnxruntime's default."))),
    /** Dropout `ratio` / `training_mode` given as graph inputs: input name → rate. */
    rates: rateMap('Dropout ratio / training_mode given as graph inputs: input name → rate p.'),
    /** Models that already take masks: input name → rate. */
    maskInputs: rateMap('Models that already take masks: mask input name → rate p.'),
    /** Eval exports without Dropout: insert sites before these weight layers (skipping the first). */
    insertDropout: v.optional(
      v.pipe(
        v.strictObject(
          {
            rate: RateSchema,
            before: v.optional(v.pipe(v.array(oneOf(INSERT_BEFORE_OPS), BEFORE), v.minLength(1, BEFORE)), () => [...INSERT_BEFORE_OPS]),
            spatial: v.optional(v.boolean('true or false')),
          },
          'an object { rate, before?, spatial? }',
        ),
        v.description('Eval exports without Dropout: insert sites of rate p before these weight layers (skipping the first).'),
      ),
    ),
    scaling: v.optional(v.pipe(DropoutScalingSchema, v.description("'inverted' (default): masks {0, 1/(1−p)}; 'none': masks {0, 1}."))),
    /** 'auto' (default), 'broadcast' or 'tiled' — see PrepareOptions.rewrite. */
    rewrite: v.optional(v.pipe(oneOf(REWRITE_MODES), v.description("How Dropout nodes are rewritten: 'auto' (default), 'broadcast' or 'tiled'."))),
    /**
     * A folder for prepared models (Node): a second load of the same model with the same
     * preparation options opens its session on the cached rewrite (see cache/store.ts). Off
     * when absent; the CLI's default is defaultCacheDir() (~/.cache/mcu).
     */
    cacheDir: v.optional(
      v.pipe(
        v.string('a folder path'),
        v.regex(/\S/, 'a folder path'),
        v.description('A folder where prepared models are cached by model hash and options, so that a second load skips the graph rewrite (Node).'),
      ),
    ),
  },
  'an object',
);

/** Validated onnx options (`insertDropout.before` filled in). */
export type OnnxLoadOptions = v.InferOutput<typeof OnnxOptionsSchema>;
/** onnx options as written (before their defaults). */
export type OnnxOptionsInput = v.InferInput<typeof OnnxOptionsSchema>;

/** Validate untyped options (config files, flags); unknown keys are errors that list the known ones. */
export function parseOnnxOptions(raw: LoadOptions | OnnxOptionsInput | undefined): OnnxLoadOptions {
  return parseOptions(OnnxOptionsSchema, raw ?? {}, { noun: 'onnx option', whole: 'onnx options' });
}
