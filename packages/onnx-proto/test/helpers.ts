// Shared by the onnx-proto tests: the parsed schema, a sample value for every field of a
// message, and the ONNX files of the repository.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error -- a build script in plain JavaScript, without declarations
import { parseProto } from '../scripts/parse-proto.mjs';
import { fixtureBytes, fixtureFiles } from '../../fixtures/src/fixtures.js';

export { protoDiff } from '../../../test/helpers/proto-diff.js';

export interface FieldDef {
  name: string;
  number: number;
  repeated: boolean;
  type: string;
  kind: 'scalar' | 'enum' | 'message';
  packed: boolean;
  oneof?: string;
}
export interface MessageDef {
  fullName: string;
  tsName: string;
  fields: FieldDef[];
}
export interface EnumDef {
  fullName: string;
  tsName: string;
  values: { name: string; number: number }[];
}

const here = fileURLToPath(new URL('.', import.meta.url));
export const PROTO_FILE = join(here, '../onnx.proto');
export const schema = parseProto(readFileSync(PROTO_FILE, 'utf8')) as { messages: MessageDef[]; enums: EnumDef[] };
export const messageDef = (fullName: string): MessageDef => schema.messages.find((m) => m.fullName === fullName)!;

export const INT64_MIN = -(1n << 63n);
export const INT64_MAX = (1n << 63n) - 1n;
export const UINT64_MAX = (1n << 64n) - 1n;

/** Two distinct values of each scalar type, extremes included. */
const SCALAR_SAMPLES: Record<string, [unknown, unknown]> = {
  int32: [-7, 2147483647],
  uint32: [4000000000, 1],
  sint32: [-2147483648, 5],
  int64: [INT64_MIN, INT64_MAX],
  uint64: [UINT64_MAX, 3n],
  sint64: [INT64_MIN, -1n],
  fixed64: [UINT64_MAX, 0n],
  sfixed64: [INT64_MIN, 9n],
  fixed32: [4294967295, 2],
  sfixed32: [-1, 2],
  bool: [true, false],
  float: [1.5, -0.25],
  double: [Math.PI, -1e300],
  string: ['naïve ✓ '.repeat(3), 'x'.repeat(200)],
  bytes: [Uint8Array.of(0, 1, 255), new Uint8Array(300).fill(7)],
};

/**
 * A value of `def` with every field set (one member per oneof, the first), nested messages
 * filled to `levels` deep and empty below.
 */
export function sample(def: MessageDef, levels = 2): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const oneofs = new Set<string>();
  for (const f of def.fields) {
    if (f.oneof !== undefined) {
      if (oneofs.has(f.oneof)) continue;
      oneofs.add(f.oneof);
    }
    let one: (k: number) => unknown;
    if (f.kind === 'message') {
      const sub = messageDef(f.type);
      one = () => (levels > 0 ? sample(sub, levels - 1) : {});
    } else if (f.kind === 'enum') {
      const e = schema.enums.find((x) => x.fullName === f.type)!;
      one = (k) => e.values[Math.min(k + 1, e.values.length - 1)]!.number;
    } else {
      const pair = SCALAR_SAMPLES[f.type];
      if (pair === undefined) throw new Error(`no sample for ${f.type}`);
      one = (k) => pair[k];
    }
    out[f.name] = f.repeated ? [one(0), one(1)] : one(0);
  }
  return out;
}

/** Every .onnx file of test/fixtures and examples, as [label, bytes()]. */
export function onnxFiles(): [string, () => Uint8Array][] {
  const out: [string, () => Uint8Array][] = fixtureFiles()
    .filter((f) => f.endsWith('.onnx'))
    .map((f) => [`fixtures/${f}`, () => fixtureBytes(f)]);
  const examples = join(here, '../../../examples');
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name), `${rel}${e.name}/`);
      else if (e.name.endsWith('.onnx')) out.push([`examples/${rel}${e.name}`, () => new Uint8Array(readFileSync(join(dir, e.name)))]);
    }
  };
  walk(examples, '');
  return out;
}
