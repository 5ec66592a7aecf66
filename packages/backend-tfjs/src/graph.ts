/**
 * The tfjs backend's one executable form: a graph of ops over tfjs tensors, what every loader
 * compiles to — Keras / TensorFlow.js layers models (keras.ts), ONNX graphs (onnx/), MlpSpec
 * objects — and what executor.ts runs, with the stochastic sites as mask inputs.
 *
 * Semantics (the contract between the loaders and the executor):
 * - Every VALUE (graph input, node output) is a full tensor whose axis 0 is the rows. Ops never
 *   use the number of rows literally (a reshape writes -1 or 0 for axis 0): the executor runs the
 *   same graph on N rows or on S·N rows (sample-major: row t·N + i is sample t of input row i).
 * - CONSTANTS (weights, shape vectors) have no row axis; they are uploaded once per model and are
 *   never expanded.
 * - Layout 'lazy' (Keras graphs: no op reads a shape at run time): values start with N rows; a
 *   site's output has S·N rows; an op whose row-valued inputs mix N and S·N rows gets the N-row
 *   ones tiled first, so the work before the first site is done once per row. Layout 'tiled'
 *   (ONNX graphs, which may compute shapes from values): the inputs are tiled to S·N rows before
 *   the first op, every value has S·N rows.
 * - A node with `sites` (a recurrent layer's input and state dropout) receives its row inputs
 *   expanded and reads its masks through `ctx.siteMask(name)`: [S·N, ...maskShape].
 * - The op `site` (input [x], attrs { site }) is the executor's own: x·mask (bernoulli,
 *   gaussian), AlphaDropout's affine form (alpha), or x + noise (additive); the mask [S, 1|N,
 *   ...maskShape] broadcasts against x's per-row dims (noise_shape, spatial dropout: 1s).
 */
import type { StochasticSite } from '@mcu/core';
import type { Tensor } from '@tensorflow/tfjs';
import type { Tf } from './runtime.js';

export type GraphDType = 'float32' | 'int32';

/** A constant: row-major data, its full dims (no row axis). */
export interface GraphConstant {
  readonly dims: readonly number[];
  readonly dtype: GraphDType;
  readonly data: Float32Array | Int32Array;
}

export interface GraphNode {
  /** A key of the op registry (executor.ts OPS + the loaders' registered ops). */
  readonly op: string;
  /** For messages: the layer / node name. */
  readonly name: string;
  /** Value or constant names; '' for an omitted optional input. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: Readonly<Record<string, unknown>>;
  /** Sites whose masks this node applies itself (recurrent dropout); their masks come through ctx.siteMask. */
  readonly sites?: readonly string[];
}

export interface GraphInput {
  readonly name: string;
  /** Dims of one row (without the row axis). */
  readonly dims: readonly number[];
  readonly dtype: GraphDType;
}

export interface GraphOutput {
  readonly name: string;
  /** Dims of one row, when known. */
  readonly dims?: readonly number[];
  /** The output is already a distribution (a network ending in softmax / log-softmax). */
  readonly activation?: 'softmax' | 'log-softmax';
}

export interface ExecGraph {
  readonly inputs: readonly GraphInput[];
  readonly outputs: readonly GraphOutput[];
  /** In an order where every input of a node is produced before it. */
  readonly nodes: readonly GraphNode[];
  readonly constants: ReadonlyMap<string, GraphConstant>;
  readonly sites: readonly StochasticSite[];
  readonly layout: 'lazy' | 'tiled';
  readonly warnings: readonly string[];
  /** The ops this graph's nodes name, besides the executor's own ('site', 'identity'). */
  readonly ops: OpRegistry;
}

/** What an op sees besides its input tensors. */
export interface OpContext {
  readonly tf: Tf;
  /** MC samples S of this run. */
  readonly samples: number;
  /** Input rows N of this run. */
  readonly rows: number;
  /** The mask of a site in `node.sites`, expanded to one row per value row: [S·N, ...maskShape]. */
  siteMask(name: string): Tensor;
}

/**
 * An op: input tensors (in node.inputs order; undefined for '' inputs) → output tensors (in
 * node.outputs order). Runs inside tf.tidy; must not dispose its inputs.
 */
export type OpFn = (ctx: OpContext, inputs: readonly (Tensor | undefined)[], node: GraphNode) => Tensor | readonly Tensor[];

/** The ops a loader adds to the executor (e.g. 'keras.lstm', 'onnx.Gemm'). */
export type OpRegistry = Readonly<Record<string, OpFn>>;
