/**
 * Emits the small helper nodes of mcu's rewrites in the form the model's opset wants:
 * Unsqueeze takes `axes` as an attribute below opset 13 and as an input from 13; Slice takes
 * `starts/ends/axes` as attributes below opset 10 and as inputs from 10. Constants become
 * shared int64 initializers.
 */
import { McuError } from '@mcu/core';
import type { AttributeProto, NodeProto, TensorProto } from '../proto/types.js';
import { DataType } from '../proto/enums.js';
import { int64Tensor, intAttr, intsAttr, type Namer } from './proto-util.js';

export const INT64_MAX = 9223372036854775807n;

export class Emitter {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly constCache = new Map<string, string>();
  prefix = 'mcu';

  constructor(
    readonly opset: number,
    private readonly namer: Namer,
  ) {}

  constInt64(values: readonly bigint[], base: string): string {
    const key = values.join(',');
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.namer.fresh(`mcu_const_${base}`);
    this.initializers.push(int64Tensor(name, [...values]));
    this.constCache.set(key, name);
    return name;
  }

  /** A float32 scalar initializer, cast to `elem` when that is another float type. */
  constFloat(value: number, elem: number, base: string): string {
    const key = `f32:${Object.is(value, -0) ? '-0' : value}`;
    let name = this.constCache.get(key);
    if (!name) {
      name = this.namer.fresh(`mcu_const_${base}`);
      const raw = new Uint8Array(4);
      new DataView(raw.buffer).setFloat32(0, value, true);
      this.initializers.push({ name, data_type: DataType.FLOAT, dims: [], raw_data: raw });
      this.constCache.set(key, name);
    }
    return elem === DataType.FLOAT ? name : this.cast(name, elem);
  }

  node(op: string, inputs: readonly string[], attrs: AttributeProto[] = [], outName?: string): string {
    const out = outName ?? this.namer.fresh(`${this.prefix}/${op}_output`);
    const node: NodeProto = {
      input: [...inputs],
      output: [out],
      name: this.namer.fresh(`${this.prefix}/${op}`),
      op_type: op,
      domain: '',
    };
    if (attrs.length) node.attribute = attrs;
    this.nodes.push(node);
    return out;
  }

  /** x with a new leading axis of size 1. */
  unsqueeze0(x: string): string {
    if (this.opset >= 13) return this.node('Unsqueeze', [x, this.constInt64([0n], 'axes0')]);
    return this.node('Unsqueeze', [x], [intsAttr('axes', [0])]);
  }

  /** x[start:end] of a 1-D tensor (end = INT64_MAX: to the end). */
  slice1d(x: string, start: bigint, end: bigint = INT64_MAX): string {
    if (this.opset >= 10) {
      return this.node('Slice', [
        x,
        this.constInt64([start], `start${start}`),
        this.constInt64([end], end === INT64_MAX ? 'end_max' : `end${end}`),
        this.constInt64([0n], 'axes0'),
      ]);
    }
    return this.node('Slice', [x], [intsAttr('starts', [start]), intsAttr('ends', [end]), intsAttr('axes', [0])]);
  }

  shape(x: string): string {
    return this.node('Shape', [x]);
  }

  concat(parts: readonly string[]): string {
    return this.node('Concat', parts, [intAttr('axis', 0)]);
  }

  reshape(x: string, shape: string, outName?: string): string {
    return this.node('Reshape', [x, shape], [], outName);
  }

  mul(a: string, b: string, outName?: string): string {
    return this.node('Mul', [a, b], [], outName);
  }

  add(a: string, b: string, outName?: string): string {
    return this.node('Add', [a, b], [], outName);
  }

  less(a: string, b: string): string {
    return this.node('Less', [a, b]);
  }

  where(cond: string, a: string, b: string, outName?: string): string {
    if (this.opset < 9) {
      throw new McuError(
        'E_UNSUPPORTED',
        `this rewrite needs the Where operator (opset ≥ 9) but the model is at opset ${this.opset}; re-export the model with opset ≥ 9`,
      );
    }
    return this.node('Where', [cond, a, b], [], outName);
  }

  transpose(x: string, perm: readonly number[]): string {
    return this.node('Transpose', [x], [intsAttr('perm', perm)]);
  }

  cast(x: string, to: number, outName?: string): string {
    return this.node('Cast', [x], [intAttr('to', to)], outName);
  }

  expand(x: string, shape: string): string {
    if (this.opset < 8) {
      throw new McuError(
        'E_UNSUPPORTED',
        `this rewrite needs the Expand operator (opset ≥ 8) but the model is at opset ${this.opset}; re-export the model with opset ≥ 8`,
      );
    }
    return this.node('Expand', [x, shape]);
  }
}
