// Fuzz: mutated and truncated small models through decodeModel + prepareModel (+ encodeModel
// of the result). Only McuError may come out — never a raw protobufjs error, RangeError,
// TypeError or E_INTERNAL — and nothing hangs. Seeded: a failure prints its seed and case.
import { describe, expect, test } from 'vitest';
import { isMcuError } from '@mcu/core';
import { fixtureBytes } from '../../../test/helpers/fixtures.js';
import { decodeModel, encodeModel } from '../src/proto/codec.js';
import { prepareModel, type PrepareOptions } from '../src/graph/prepare.js';
import { cloneProto } from '../src/graph/clone.js';
import type { ModelProto } from '../src/proto/types.js';
import { mulberry32 } from '../../../test/helpers/check.js';

/** One random mutation: byte flips, random insertions, deletions, truncation, duplication. */
function mutate(src: Uint8Array, rand: () => number): { bytes: Uint8Array; how: string } {
  const int = (n: number) => Math.floor(rand() * n);
  const b = Array.from(src);
  const steps: string[] = [];
  const count = rand() < 0.5 ? 1 : 1 + int(4);
  for (let s = 0; s < count; s++) {
    const kind = int(6);
    const at = int(b.length + 1);
    if (kind === 0 || kind === 1) {
      const i = Math.min(at, b.length - 1);
      b[i] = kind === 0 ? b[i]! ^ (1 << int(8)) : int(256);
      steps.push(`flip@${i}`);
    } else if (kind === 2) {
      const ins = Array.from({ length: 1 + int(8) }, () => (rand() < 0.3 ? 0xff : int(256)));
      b.splice(at, 0, ...ins);
      steps.push(`insert${ins.length}@${at}`);
    } else if (kind === 3) {
      const n = 1 + int(16);
      b.splice(at, n);
      steps.push(`delete${n}@${at}`);
    } else if (kind === 4) {
      b.length = at;
      steps.push(`truncate@${at}`);
    } else {
      const n = 1 + int(32);
      b.splice(at, 0, ...b.slice(Math.max(0, at - n), at));
      steps.push(`dup${n}@${at}`);
    }
  }
  return { bytes: Uint8Array.from(b), how: steps.join(',') };
}

const OPTIONS: PrepareOptions[] = [{}, { insertDropout: { rate: 0.1, before: ['Gemm', 'MatMul', 'Conv'] } }, { rates: { r: 0.5 }, maskInputs: {} }];

function check(bytes: Uint8Array, options: PrepareOptions): string | undefined {
  try {
    const p = prepareModel(decodeModel(bytes, 'fuzz.onnx'), options);
    encodeModel(p.model);
    return undefined;
  } catch (e) {
    if (isMcuError(e) && e.code !== 'E_INTERNAL') return undefined;
    return e instanceof Error ? `${e.name}: ${e.message}\n${e.stack?.split('\n').slice(1, 4).join('\n')}` : String(e);
  }
}

const corpus: { rel: string; runs: number }[] = [
  { rel: 'uci/yacht/split00.onnx', runs: 4000 },
  { rel: 'pytorch-2.11/lenet.dynamo-eval.onnx', runs: 4000 },
  { rel: 'onnx-dropout-conformance/test_training_dropout_mask/model.onnx', runs: 1500 },
  { rel: 'pytorch-1.13-small/co2_relu.train.onnx', runs: 500 },
];

describe('fuzz: only McuError escapes', () => {
  test.each(corpus.map((c) => [c.rel, c] as const))('%s', (rel, c) => {
    const src = fixtureBytes(rel);
    const seed = 0x5eed ^ rel.length;
    const rand = mulberry32(seed);
    const failures: string[] = [];
    let decoded = 0;
    for (let k = 0; k < c.runs; k++) {
      const { bytes, how } = mutate(src, rand);
      const options = OPTIONS[k % OPTIONS.length]!;
      const failure = check(bytes, options);
      if (failure) failures.push(`seed ${seed} case ${k} (${how}, options ${JSON.stringify(options)}): ${failure}`);
      if (failures.length >= 3) break;
      try {
        decodeModel(bytes);
        decoded++;
      } catch {
        /* counted below */
      }
    }
    // Plain truncations at every length for the small files, a stride for the big one.
    const step = src.length > 10_000 ? 997 : 1;
    for (let n = 0; n < src.length && failures.length < 3; n += step) {
      const failure = check(src.subarray(0, n), {});
      if (failure) failures.push(`truncated to ${n} bytes: ${failure}`);
    }
    expect(failures).toEqual([]);
    // Sanity: the mutations exercise prepareModel, not only the decoder.
    expect(decoded).toBeGreaterThan(c.runs / 20);
  });
});

const show = (v: unknown): string =>
  (JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? `bytes(${x.length})` : x)) ?? 'undefined').slice(0, 60);

/** Structural fuzz: decoded models with fields dropped, swapped or replaced by odd values. */
function mutateObject(model: ModelProto, rand: () => number): string {
  const int = (n: number) => Math.floor(rand() * n);
  const odd = (): unknown =>
    [undefined, '', 'x', 'Dropout', 'Gemm', 'Conv', 'Reshape', 0, -1, 1e9, 0n, -1n, 9223372036854775807n, [], [''], 0.5, 2, -0.5][int(17)];
  const paths: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown, depth: number) => {
    if (depth > 8 || v === null || typeof v !== 'object' || v instanceof Uint8Array) return;
    if (Array.isArray(v))
      v.forEach((x, i) => {
        paths.push({ parent: v, key: i });
        walk(x, depth + 1);
      });
    else
      for (const [k, x] of Object.entries(v)) {
        paths.push({ parent: v as Record<string, unknown>, key: k });
        walk(x, depth + 1);
      }
  };
  walk(model, 0);
  const names = [
    ...new Set((model.graph?.node ?? []).flatMap((n) => [...(n.input ?? []), ...(n.output ?? [])]).concat((model.graph?.input ?? []).map((v) => v.name ?? ''))),
  ];
  const steps: string[] = [];
  for (let s = 0, n = 1 + int(3); s < n && paths.length > 0; s++) {
    const { parent, key } = paths[int(paths.length)]!;
    const cur = (parent as Record<string | number, unknown>)[key];
    const kind = int(5);
    if (kind === 0 && !Array.isArray(parent)) {
      delete (parent as Record<string, unknown>)[key as string];
      steps.push(`delete .${String(key)}`);
    } else if (kind === 1) {
      const other = paths[int(paths.length)]!;
      (parent as Record<string | number, unknown>)[key] = cloneProto((other.parent as Record<string | number, unknown>)[other.key]);
      steps.push(`copy into .${String(key)}`);
    } else if (kind === 2) {
      const v = odd();
      (parent as Record<string | number, unknown>)[key] = v;
      steps.push(`.${String(key)} = ${show(v)}`);
    } else {
      // Type-preserving: reach deeper than the schema check.
      let v: unknown = cur;
      if (typeof cur === 'string') v = [names[int(names.length)], '', `${cur}_x`, 'Dropout', 'Mul', 'Gemm', 'Identity'][int(7)];
      else if (typeof cur === 'bigint') v = [0n, -1n, 1n, 2n, cur + 1n, -cur, 1n << 40n, 9223372036854775807n][int(8)];
      else if (typeof cur === 'number') v = Number.isInteger(cur) ? [0, 1, 7, 9, 13, 99, -1, cur + 1][int(8)] : [0, 0.5, 1, -0.1, NaN, 1.5][int(6)];
      else if (Array.isArray(cur) && cur.length > 0) {
        const a = cur.slice();
        const op = int(3);
        if (op === 0) a.splice(int(a.length), 1);
        else if (op === 1) a.push(cloneProto(a[int(a.length)]));
        else a.reverse();
        v = a;
      }
      (parent as Record<string | number, unknown>)[key] = v;
      steps.push(`.${String(key)} ~ ${show(v)}`);
    }
  }
  return steps.join('; ');
}

describe('structural fuzz: odd decoded models through prepareModel', () => {
  const bases = [
    'uci/yacht/split00.onnx',
    'pytorch-2.11/lenet.dynamo-eval.onnx',
    'onnx-dropout-conformance/test_training_dropout_mask/model.onnx',
    'pytorch-1.13-small/co2_relu.masked.onnx',
  ];
  test.each(bases)('%s', (rel) => {
    const base = decodeModel(fixtureBytes(rel), rel);
    const rand = mulberry32(0xf00d ^ rel.length);
    const failures: string[] = [];
    for (let k = 0; k < 1000 && failures.length < 3; k++) {
      const m = cloneProto(base);
      const how = mutateObject(m, rand);
      const options: PrepareOptions = rel.includes('masked')
        ? { maskInputs: { mask1: 0.1, mask2: 0.1, mask3: 0.1, mask4: 0.1 } }
        : OPTIONS[k % OPTIONS.length]!;
      try {
        const p = prepareModel(m, options);
        encodeModel(p.model);
      } catch (e) {
        if (isMcuError(e) && e.code !== 'E_INTERNAL') continue;
        failures.push(`case ${k} (${how}): ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack?.split('\n').slice(1, 4).join('\n')}` : String(e)}`);
      }
    }
    expect(failures).toEqual([]);
  });
});
