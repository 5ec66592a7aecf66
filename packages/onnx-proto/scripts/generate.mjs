#!/usr/bin/env node
// Writes src/gen/onnx.ts from onnx.proto: for every message an interface, a static decoder
// (a switch on the field number), a static encoder and a check (sanitize) function; for
// every enum an `as const` object. Plain TypeScript over ../src/wire.ts and ../src/values.ts:
// nothing is parsed or compiled at run time (no eval, no `new Function`, CSP-safe).
//
//   node scripts/generate.mjs [--check]   (--check: fail if src/gen/onnx.ts is stale)
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseProto, SCALARS } from './parse-proto.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const WIRE = { 0: 'varint', 1: '64-bit', 2: 'length-delimited', 5: '32-bit' };
const FIXED_SIZE = { float: 4, fixed32: 4, sfixed32: 4, double: 8, fixed64: 8, sfixed64: 8 };
const UNSIGNED_64 = new Set(['uint64', 'fixed64']);

function tsType(f) {
  let t;
  if (f.kind === 'message') t = f.tsType;
  else if (f.kind === 'enum') t = 'number';
  else {
    const js = SCALARS[f.type].js;
    t = js === 'bytes' ? 'Uint8Array' : js;
  }
  return f.repeated ? `${t}[]` : t;
}

/** The Reader/Writer method of a scalar or enum field. */
const method = (f) => (f.kind === 'enum' ? 'int32' : f.type);
const wireOf = (f) => (f.kind === 'message' ? 2 : f.kind === 'enum' ? 0 : SCALARS[f.type].wire);

function decodeCase(msg, f) {
  const name = f.name;
  const wt = wireOf(f);
  const wrong = `r.wrongWire('${msg.fullName}', '${name}', wt, '${WIRE[wt]}')`;
  const lines = [`      case ${f.number}: {`];
  const clear = f.oneof
    ? msg.fields.filter((g) => g.oneof === f.oneof && g !== f).map((g) => `        if (m.${g.name} !== undefined) delete m.${g.name};`)
    : [];
  if (f.kind === 'message') {
    const read = `read${f.tsType}(r, depth + 1)`;
    lines.push(`        if (wt !== 2) ${wrong};`, `        const outer = r.enter(depth + 1);`);
    lines.push(f.repeated ? `        (m.${name} ??= []).push(${read});` : `        m.${name} = ${read};`);
    lines.push(`        r.leave(outer);`);
  } else if (f.repeated && wt !== 2) {
    // Packed or not, whatever the schema says (parsers must accept both).
    lines.push(
      `        if (wt === ${wt}) (m.${name} ??= []).push(r.${method(f)}());`,
      `        else if (wt === 2) {`,
      `          const outer = r.enterPacked();`,
      ...(f.type === 'float' || f.type === 'double'
        ? [`          const a = r.packedFloats(m.${name}, ${FIXED_SIZE[f.type]});`]
        : [`          const a = m.${name} ?? [];`, `          while (r.pos < r.end) a.push(r.${method(f)}());`]),
      `          r.leave(outer);`,
      `          if (a.length > 0) m.${name} = a;`,
      `        } else ${wrong};`,
    );
  } else {
    lines.push(`        if (wt !== ${wt}) ${wrong};`);
    lines.push(f.repeated ? `        (m.${name} ??= []).push(r.${method(f)}());` : `        m.${name} = r.${method(f)}();`);
  }
  lines.push(...clear, `        break;`, `      }`);
  return lines;
}

function genDecoder(msg) {
  const out = [
    `function read${msg.tsName}(r: Reader, depth: number): ${msg.tsName} {`,
    `  const m: ${msg.tsName} = {};`,
    `  while (r.pos < r.end) {`,
    `    const tag = r.uint32();`,
    `    const wt = tag & 7;`,
    `    switch (tag >>> 3) {`,
  ];
  for (const f of msg.fields) out.push(...decodeCase(msg, f));
  out.push(`      default:`, `        r.skip(wt, tag >>> 3, depth);`, `    }`, `  }`, `  return m;`, `}`);
  return out;
}

/** Encode-time value check of a scalar: the helper of ../values.ts and its extra arguments. */
function valueCall(f, x, at, index) {
  const idx = index === undefined ? '' : `, ${index}`;
  if (f.kind === 'enum') return `int32Value(${x}, ${at}${idx})`;
  const t = f.type;
  if (SCALARS[t].js === 'bigint') return `int64Value(${x}, ${at}, ${UNSIGNED_64.has(t)}${idx})`;
  if (t === 'float' || t === 'double') return `numberValue(${x}, ${at}${idx})`;
  if (SCALARS[t].js === 'number') return `int32Value(${x}, ${at}${idx})`;
  if (t === 'bool') return `boolValue(${x}, ${at}${idx})`;
  if (t === 'string') return `stringValue(${x}, ${at}${idx})`;
  return `bytesValue(${x}, ${at}${idx})`;
}

function encodeField(f) {
  const at = `\`\${path}.${f.name}\``;
  const wt = wireOf(f);
  const tag = `w.tag(${f.number}, ${wt});`;
  if (f.kind === 'message') {
    const write = (x, p) => [
      `w.tag(${f.number}, 2);`,
      `w.fork();`,
      `write${f.tsType}(w, objectValue(${x}, ${p}, '${f.type}', depth + 1) as ${f.tsType}, ${p}, depth + 1);`,
      `w.ldelim();`,
    ];
    if (!f.repeated) return [`  if ((v = m.${f.name}) != null) {`, `    const p = ${at};`, ...write('v', 'p').map((l) => `    ${l}`), `  }`];
    return [
      `  if ((v = m.${f.name}) != null) {`,
      `    const a = arrayValue(v, ${at});`,
      `    for (let k = 0; k < a.length; k++) {`,
      `      const p = \`\${path}.${f.name}[\${k}]\`;`,
      ...write('a[k]', 'p').map((l) => `      ${l}`),
      `    }`,
      `  }`,
    ];
  }
  const m = method(f);
  if (!f.repeated) return [`  if ((v = m.${f.name}) != null) {`, `    ${tag}`, `    w.${m}(${valueCall(f, 'v', at)});`, `  }`];
  const lines = [`  if ((v = m.${f.name}) != null) {`, `    const p = ${at};`, `    const a = arrayValue(v, p);`];
  if (f.packed) {
    const size = FIXED_SIZE[f.type];
    lines.push(`    if (a.length > 0) {`, `      w.tag(${f.number}, 2);`);
    if (size !== undefined) lines.push(`      w.uint32(a.length * ${size});`);
    else lines.push(`      w.fork();`);
    lines.push(`      for (let k = 0; k < a.length; k++) w.${m}(${valueCall(f, 'a[k]', 'p', 'k')});`);
    if (size === undefined) lines.push(`      w.ldelim();`);
    lines.push(`    }`);
  } else {
    lines.push(`    for (let k = 0; k < a.length; k++) {`, `      ${tag}`, `      w.${m}(${valueCall(f, 'a[k]', 'p', 'k')});`, `    }`);
  }
  lines.push(`  }`);
  return lines;
}

function genEncoder(msg) {
  const out = [`function write${msg.tsName}(w: Writer, m: ${msg.tsName}, path: string, depth: number): void {`];
  if (msg.fields.length > 0) out.push(`  let v: unknown;`);
  for (const f of [...msg.fields].sort((a, b) => a.number - b.number)) out.push(...encodeField(f));
  out.push(`}`);
  return out;
}

/** check*: the sanitizer of one scalar, and the in-place test for numeric arrays. */
function checkOne(f) {
  if (f.kind === 'enum') return { one: 'checkEnum', inPlace: undefined };
  const t = f.type;
  if (SCALARS[t].js === 'bigint') {
    const u = UNSIGNED_64.has(t);
    return { one: `(y, q) => checkInt64(y, q, ${u})`, single: (x, p) => `checkInt64(${x}, ${p}, ${u})`, inPlace: u ? 'isUint64' : 'isInt64' };
  }
  if (t === 'float' || t === 'double') return { one: 'checkNumber', inPlace: 'isNumber' };
  if (SCALARS[t].js === 'number') return { one: 'checkInteger', inPlace: 'isInteger' };
  if (t === 'bool') return { one: 'checkBool' };
  if (t === 'string') return { one: 'checkString' };
  return { one: 'checkBytes' };
}

function checkField(f) {
  const at = `\`\${path}.${f.name}\``;
  const head = `  if ((x = o.${f.name}) != null) `;
  if (f.kind === 'message') {
    if (!f.repeated) return [`${head}m.${f.name} = check${f.tsType}(x, ${at}, depth + 1);`];
    return [
      `${head}{`,
      `    const a = checkRepeated(x, ${at}, (y, q) => check${f.tsType}(y, q, depth + 1));`,
      `    if (a !== undefined) m.${f.name} = a;`,
      `  }`,
    ];
  }
  const c = checkOne(f);
  if (!f.repeated) return [`${head}m.${f.name} = ${c.single ? c.single('x', at) : `${c.one}(x, ${at})`};`];
  return [
    `${head}{`,
    `    const a = checkRepeated(x, ${at}, ${c.one}${c.inPlace ? `, ${c.inPlace}` : ''});`,
    `    if (a !== undefined) m.${f.name} = a;`,
    `  }`,
  ];
}

function genCheck(msg) {
  const out = [
    `/** A checked copy of a hand-built ${msg.fullName}: unknown keys dropped, int64 numbers made bigint; throws OnnxWireError naming the bad field. */`,
    `export function check${msg.tsName}(value: unknown, path = '${msg.fullName}', depth = 0): ${msg.tsName} {`,
    `  const o = objectValue(value, path, '${msg.fullName}', depth);`,
    `  const m: ${msg.tsName} = {};`,
  ];
  if (msg.fields.length > 0) out.push(`  let x: unknown;`);
  for (const f of msg.fields) out.push(...checkField(f));
  out.push(`  return m;`, `}`);
  return out;
}

export function generate(protoText) {
  const schema = parseProto(protoText);
  const out = [
    '// Generated by packages/onnx-proto/scripts/generate.mjs from onnx.proto. Do not edit;',
    '// run `pnpm --filter @mcu/onnx-proto build` (or `node scripts/generate.mjs`) instead.',
    '/* eslint-disable */',
    "import { Reader, Writer } from '../wire.js';",
    'import {',
    '  arrayValue, boolValue, bytesValue, checkBool, checkBytes, checkEnum, checkInt64, checkInteger, checkNumber,',
    '  checkRepeated, checkString, int32Value, int64Value, isInt64, isInteger, isNumber, isUint64, numberValue,',
    '  objectValue, stringValue,',
    "} from '../values.js';",
    '',
  ];
  for (const e of schema.enums) {
    out.push(`/** ${schema.package}.${e.fullName} */`, `export const ${e.tsName} = {`);
    for (const v of e.values) out.push(`  ${v.name}: ${v.number},`);
    out.push('} as const;', '');
  }
  for (const msg of schema.messages) {
    out.push(`/** ${schema.package}.${msg.fullName} */`, `export interface ${msg.tsName} {`);
    for (const f of msg.fields) {
      const note = [`field ${f.number}`, f.oneof ? `oneof ${f.oneof}` : '', f.kind === 'enum' ? `enum ${f.type}` : ''].filter(Boolean).join(', ');
      out.push(`  /** ${note} */`, `  ${f.name}?: ${tsType(f)};`);
    }
    out.push('}', '');
  }
  for (const msg of schema.messages) {
    out.push(...genDecoder(msg), '', ...genEncoder(msg), '', ...genCheck(msg), '');
    out.push(
      `/** Decode a serialized ${msg.fullName}; throws OnnxWireError on malformed bytes. */`,
      `export function decode${msg.tsName}(bytes: Uint8Array): ${msg.tsName} {`,
      `  return read${msg.tsName}(new Reader(bytes), 0);`,
      `}`,
      '',
      `/** Encode a ${msg.fullName}; int64 fields take bigint or safe-integer numbers. Throws OnnxWireError on a bad value. */`,
      `export function encode${msg.tsName}(message: ${msg.tsName}, path = '${msg.fullName}'): Uint8Array {`,
      `  const w = new Writer();`,
      `  write${msg.tsName}(w, objectValue(message, path, '${msg.fullName}', 0) as ${msg.tsName}, path, 0);`,
      `  return w.finish();`,
      `}`,
      '',
    );
  }
  out.push('/** Every message type by its interface name (ModelProto, TensorProto_Segment, …). */', 'export interface Messages {');
  for (const msg of schema.messages) out.push(`  ${msg.tsName}: ${msg.tsName};`);
  out.push('}', '');
  for (const [what, fn] of [
    ['decoders', 'decode'],
    ['encoders', 'encode'],
    ['checkers', 'check'],
  ]) {
    out.push(`export const ${what} = {`);
    for (const msg of schema.messages) out.push(`  ${msg.tsName}: ${fn}${msg.tsName},`);
    out.push('} as const;', '');
  }
  return out.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = generate(readFileSync(join(root, 'onnx.proto'), 'utf8'));
  const file = join(root, 'src/gen/onnx.ts');
  if (process.argv.includes('--check')) {
    if (!existsSync(file) || readFileSync(file, 'utf8') !== text) {
      console.error(`${file} is stale: run node scripts/generate.mjs`);
      process.exit(1);
    }
  } else {
    mkdirSync(dirname(file), { recursive: true });
    if (!existsSync(file) || readFileSync(file, 'utf8') !== text) writeFileSync(file, text);
  }
}
