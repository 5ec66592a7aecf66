/** Small helpers over decoded ONNX objects: attributes, opsets, value infos, names. */
import { McuError } from '@mcu/core';
import { AttributeType, DataType } from '../proto/enums.js';
import type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../proto/types.js';

export function isDefaultDomain(domain: string | undefined): boolean {
  return domain === undefined || domain === '' || domain === 'ai.onnx';
}

/** The model's default-domain ('' / 'ai.onnx') opset version. */
export function defaultOpset(model: ModelProto, what = 'model'): number {
  const imports = model.opset_import ?? [];
  let best: number | undefined;
  for (const o of imports) {
    if (isDefaultDomain(o.domain) && o.version !== undefined) {
      const v = Number(o.version);
      if (best === undefined || v > best) best = v;
    }
  }
  if (best === undefined) {
    // IR < 3 models have no opset_import; they mean opset 1.
    if (imports.length === 0 && model.ir_version !== undefined && model.ir_version < 3n) return 1;
    throw new McuError('E_MODEL', `${what} imports no default-domain ONNX opset (opset_import is empty)`);
  }
  if (!Number.isSafeInteger(best) || best < 1 || best > 1000) {
    throw new McuError('E_MODEL', `${what} declares an invalid ONNX opset version ${best}`);
  }
  return best;
}

export function setDefaultOpset(model: ModelProto, version: number): void {
  const imports = model.opset_import ?? (model.opset_import = []);
  const entry = imports.find((o) => isDefaultDomain(o.domain));
  if (entry) entry.version = BigInt(version);
  else imports.push({ domain: '', version: BigInt(version) });
}

export function getAttr(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}

export function attrInt(node: NodeProto, name: string): number | undefined {
  const a = getAttr(node, name);
  return a?.i !== undefined ? Number(a.i) : undefined;
}

export function attrFloat(node: NodeProto, name: string): number | undefined {
  const a = getAttr(node, name);
  return a?.f;
}

export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = getAttr(node, name);
  if (a === undefined) return undefined;
  return (a.ints ?? []).map((x) => Number(x));
}

export function attrFloats(node: NodeProto, name: string): number[] | undefined {
  const a = (node.attribute ?? []).find((x) => x.name === name);
  return a?.floats !== undefined && a.floats.length > 0 ? [...a.floats] : undefined;
}

export function attrString(node: NodeProto, name: string): string | undefined {
  const a = getAttr(node, name);
  return a?.s !== undefined ? new TextDecoder().decode(a.s) : undefined;
}

export function removeAttr(node: NodeProto, name: string): boolean {
  const before = node.attribute?.length ?? 0;
  if (node.attribute) node.attribute = node.attribute.filter((a) => a.name !== name);
  return (node.attribute?.length ?? 0) !== before;
}

export function intsAttr(name: string, values: readonly (number | bigint)[]): AttributeProto {
  return { name, type: AttributeType.INTS, ints: values.map((v) => BigInt(v)) };
}

export function intAttr(name: string, value: number | bigint): AttributeProto {
  return { name, type: AttributeType.INT, i: BigInt(value) };
}

export function int64Tensor(name: string, values: readonly bigint[], dims?: readonly number[]): TensorProto {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, v, true));
  return {
    name,
    data_type: DataType.INT64,
    dims: (dims ?? [values.length]).map((d) => BigInt(d)),
    raw_data: raw,
  };
}

export function nodeLabel(node: NodeProto, index?: number): string {
  const op = node.op_type ?? '?';
  if (node.name) return `${op} node '${node.name}'`;
  const out = node.output?.[0];
  if (out) return `${op} node producing '${out}'`;
  return index !== undefined ? `${op} node #${index}` : `${op} node`;
}

/** Dims of a value info: numbers, symbolic names, or '?' when unknown. */
export function valueInfoDims(vi: ValueInfoProto | undefined): (number | string)[] | undefined {
  const tt = vi?.type?.tensor_type;
  if (tt?.shape === undefined) return undefined;
  return (tt.shape.dim ?? []).map((d) => {
    if (d.dim_value !== undefined) return Number(d.dim_value);
    if (d.dim_param !== undefined && d.dim_param !== '') return d.dim_param;
    return '?';
  });
}

export function valueInfoElemType(vi: ValueInfoProto | undefined): number | undefined {
  return vi?.type?.tensor_type?.elem_type;
}

export function tensorValueInfo(name: string, elemType: number, dims: readonly (number | string)[]): ValueInfoProto {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: elemType,
        shape: {
          dim: dims.map((d) => (typeof d === 'number' && d >= 0 ? { dim_value: BigInt(d) } : { dim_param: String(d) })),
        },
      },
    },
  };
}

/** Makes fresh tensor / node names that collide with nothing in the graph. */
export class Namer {
  private readonly used = new Set<string>();

  constructor(graph: GraphProto) {
    collectNames(graph, this.used);
  }

  fresh(base: string): string {
    if (!this.used.has(base)) {
      this.used.add(base);
      return base;
    }
    for (let i = 1; ; i++) {
      const name = `${base}_${i}`;
      if (!this.used.has(name)) {
        this.used.add(name);
        return name;
      }
    }
  }

  reserve(name: string): void {
    this.used.add(name);
  }

  has(name: string): boolean {
    return this.used.has(name);
  }
}

function collectNames(graph: GraphProto, used: Set<string>): void {
  for (const v of graph.input ?? []) if (v.name) used.add(v.name);
  for (const v of graph.output ?? []) if (v.name) used.add(v.name);
  for (const v of graph.value_info ?? []) if (v.name) used.add(v.name);
  for (const t of graph.initializer ?? []) if (t.name) used.add(t.name);
  for (const n of graph.node ?? []) {
    if (n.name) used.add(n.name);
    for (const o of n.output ?? []) if (o) used.add(o);
    for (const i of n.input ?? []) if (i) used.add(i);
    for (const a of n.attribute ?? []) {
      if (a.g) collectNames(a.g, used);
      for (const g of a.graphs ?? []) collectNames(g, used);
    }
  }
}

/** Names a node's subgraphs read from enclosing scopes (If / Loop / Scan bodies). */
export function outerScopeInputs(node: NodeProto): string[] {
  const out = new Set<string>();
  for (const a of node.attribute ?? []) {
    if (a.g) collectOuter(a.g, new Set(), out);
    for (const g of a.graphs ?? []) collectOuter(g, new Set(), out);
  }
  return [...out];
}

function collectOuter(graph: GraphProto, enclosing: Set<string>, out: Set<string>): void {
  const local = new Set<string>(enclosing);
  for (const v of graph.input ?? []) if (v.name) local.add(v.name);
  for (const t of graph.initializer ?? []) if (t.name) local.add(t.name);
  for (const n of graph.node ?? []) {
    for (const i of n.input ?? []) if (i && !local.has(i)) out.add(i);
    for (const a of n.attribute ?? []) {
      if (a.g) collectOuter(a.g, local, out);
      for (const g of a.graphs ?? []) collectOuter(g, local, out);
    }
    for (const o of n.output ?? []) if (o) local.add(o);
  }
  for (const v of graph.output ?? []) if (v.name && !local.has(v.name)) out.add(v.name);
}
