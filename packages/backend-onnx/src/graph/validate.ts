/**
 * Structural checks that everything after decoding relies on: a graph, named values, every
 * node input defined before use (nodes are put in topological order when they are not),
 * no tensor produced twice. Failures → McuError('E_MODEL') naming the problem.
 */
import { McuError } from '@mcu/core';
import type { GraphProto, ModelProto, NodeProto } from '../proto/types.js';
import { nodeLabel, outerScopeInputs } from './proto-util.js';

export function validateModel(model: ModelProto, what: string): void {
  const graph = model.graph;
  if (graph === undefined || graph === null || typeof graph !== 'object') {
    throw new McuError('E_MODEL', `${what} has no graph`);
  }
  const nodes = graph.node ?? [];
  if (nodes.length === 0) throw new McuError('E_MODEL', `${what}: the graph has no nodes`);
  const defined = new Set<string>();
  for (const t of graph.initializer ?? []) if (t.name) defined.add(t.name);
  for (const s of graph.sparse_initializer ?? []) if (s.values?.name) defined.add(s.values.name);
  for (const v of graph.input ?? []) {
    if (!v.name) throw new McuError('E_MODEL', `${what}: a graph input has no name`);
    defined.add(v.name);
  }
  const producers = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (!n.op_type) throw new McuError('E_MODEL', `${what}: node #${i}${n.name ? ` '${n.name}'` : ''} has no op_type`);
    for (const o of n.output ?? []) {
      if (!o) continue;
      if (producers.has(o) || defined.has(o)) {
        throw new McuError('E_MODEL', `${what}: tensor '${o}' is produced twice (by ${nodeLabel(n, i)})`);
      }
      producers.set(o, i);
    }
  });
  const needs = (n: NodeProto): string[] => [...(n.input ?? []), ...outerScopeInputs(n)].filter((x) => x);
  for (const [i, n] of nodes.entries()) {
    for (const x of needs(n)) {
      if (!defined.has(x) && !producers.has(x)) {
        throw new McuError('E_MODEL', `${what}: ${nodeLabel(n, i)} reads '${x}', which no node, input or initializer defines`);
      }
    }
  }
  for (const o of graph.output ?? []) {
    if (!o.name) throw new McuError('E_MODEL', `${what}: a graph output has no name`);
    if (!defined.has(o.name) && !producers.has(o.name)) {
      throw new McuError('E_MODEL', `${what}: graph output '${o.name}' is not produced by any node`);
    }
  }
  sortTopologically(graph, defined, producers, needs, what);
}

function sortTopologically(graph: GraphProto, defined: Set<string>, producers: Map<string, number>, needs: (n: NodeProto) => string[], what: string): void {
  const nodes = graph.node!;
  let sorted = true;
  const seen = new Set(defined);
  for (const n of nodes) {
    if (needs(n).some((x) => !seen.has(x))) {
      sorted = false;
      break;
    }
    for (const o of n.output ?? []) if (o) seen.add(o);
  }
  if (sorted) return;
  const indeg = nodes.map((n) => new Set(needs(n).filter((x) => !defined.has(x))).size);
  const users = new Map<string, number[]>();
  nodes.forEach((n, i) => {
    for (const x of new Set(needs(n))) {
      if (defined.has(x)) continue;
      const l = users.get(x);
      if (l) l.push(i);
      else users.set(x, [i]);
    }
  });
  const queue = nodes.map((_, i) => i).filter((i) => indeg[i] === 0);
  const order: number[] = [];
  while (queue.length > 0) {
    const i = queue.shift()!;
    order.push(i);
    for (const o of nodes[i]!.output ?? []) {
      if (!o) continue;
      for (const j of users.get(o) ?? []) if (--indeg[j]! === 0) queue.push(j);
    }
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.findIndex((_, i) => !order.includes(i));
    throw new McuError('E_MODEL', `${what}: the graph has a cycle (through ${nodeLabel(nodes[stuck]!, stuck)})`);
  }
  void producers;
  graph.node = order.map((i) => nodes[i]!);
}
