/**
 * A protobuf TEXT FORMAT parser (prototxt) driven by the Caffe schema (schema.ts).
 *
 * Accepted syntax, as Google's TextFormat parser: `#` comments; `field: value`; messages as
 * `field { … }`, `field: { … }` or `field < … >`; repeated fields given several times or as a list
 * `field: [a, b]` (messages too: `field [ { … }, { … } ]`); an optional `;` or `,` after each field;
 * strings in '…' or "…" with C escapes (\n \t \\ \' \" \ooo \xHH \uXXXX …), adjacent strings
 * concatenated; integers in decimal, hex (0x1F) or octal (017); floats with exponents, a trailing
 * `f`, `inf`/`infinity`/`nan` (any case, `-` allowed); bools true/false/t/f/True/False/1/0; enum
 * values by name or number. A singular field given twice keeps the last value (with a warning:
 * Caffe's own parser refuses such a file).
 *
 * Values: see {@link Message}. A singular `float` keeps the decimal value as written (a double;
 * the binary decoder gives the float32 value); repeated float / double become Float32Array /
 * Float64Array; int64 / uint64 must be safe integers.
 *
 * Unknown fields (e.g. Gal's `dropout_param { sample_weights_test: true }`) are skipped, nested
 * blocks included, with one warning each. Fork extension: `dropout_param { scale_train: … }` is
 * read (bool, default true) and stored as `scale_train` although it is not in caffe.proto (see
 * TEXT_EXTENSIONS in schema.ts).
 */
import { McuError } from '@mcu/core';
import { CAFFE_SCHEMA, fieldSpec, type FieldSpec, type TextExtensionSpec } from './schema.js';
import type { Message } from './types.js';

/** The result of {@link parseText}: the decoded message and one line per warning. */
export interface ParsedText {
  readonly message: Message;
  readonly warnings: string[];
}

/** Where a message parsed from text starts (its field name, or 1:1 for the root). */
export interface TextPosition {
  /** 1-based line. */
  readonly line: number;
  /** 1-based column. */
  readonly column: number;
}

const positions = new WeakMap<object, TextPosition>();

/** The position of a message parsed by {@link parseText} (undefined for a message from elsewhere). */
export function textPosition(msg: Message): TextPosition | undefined {
  return positions.get(msg);
}

/**
 * Parse `text` (protobuf text format) as the schema message `messageName` ('NetParameter',
 * 'SolverParameter', …). `fileName` prefixes every message and warning.
 * Throws E_MODEL "FILE:LINE:COL: expected …, got …" for syntax and type errors.
 */
export function parseText(text: string, messageName: string, fileName: string): ParsedText {
  if (CAFFE_SCHEMA.messages[messageName] === undefined) {
    throw new McuError('E_INTERNAL', `parseText: no message ${messageName} in the Caffe schema`);
  }
  const parser = new Parser(text, fileName);
  const message = parser.parseRoot(messageName);
  return { message, warnings: parser.finishWarnings() };
}

// ---------------------------------------------------------------------------------------------
// Tokens

type TokenKind = 'ident' | 'number' | 'string' | 'punct' | 'eof';

interface Token {
  readonly kind: TokenKind;
  /** The source text ('' at the end of the file). */
  readonly text: string;
  /** The decoded bytes of a string token. */
  readonly bytes?: Uint8Array;
  readonly line: number;
  readonly col: number;
}

const NUMBER_RE = /0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[fF]?/y;
const IDENT_RE = /[A-Za-z_][A-Za-z0-9_]*/y;
const PUNCT = new Set(['{', '}', '<', '>', '[', ']', ':', ',', ';', '-', '.', '/']);

class Lexer {
  private pos = 0;
  private line = 1;
  private lineStart = 0;
  private peeked: Token | undefined;

  constructor(
    private readonly src: string,
    private readonly file: string,
  ) {
    if (src.charCodeAt(0) === 0xfeff) this.pos = 1;
  }

  peek(): Token {
    this.peeked ??= this.scan();
    return this.peeked;
  }

  next(): Token {
    const t = this.peek();
    this.peeked = undefined;
    return t;
  }

  error(line: number, col: number, message: string): McuError {
    return new McuError('E_MODEL', `${this.file}:${line}:${col}: ${message}`);
  }

  private scan(): Token {
    const s = this.src;
    for (;;) {
      const c = s.charCodeAt(this.pos);
      if (c === 10) {
        this.pos++;
        this.line++;
        this.lineStart = this.pos;
      } else if (c === 32 || c === 9 || c === 13 || c === 11 || c === 12) {
        this.pos++;
      } else if (c === 35) {
        while (this.pos < s.length && s.charCodeAt(this.pos) !== 10) this.pos++;
      } else break;
    }
    const line = this.line;
    const col = this.pos - this.lineStart + 1;
    if (this.pos >= s.length) return { kind: 'eof', text: '', line, col };
    const ch = s[this.pos];
    if (ch === '"' || ch === "'") return this.scanString(ch, line, col);
    if ((ch >= '0' && ch <= '9') || (ch === '.' && /[0-9]/.test(s[this.pos + 1] ?? ''))) {
      NUMBER_RE.lastIndex = this.pos;
      const m = NUMBER_RE.exec(s);
      if (m === null) throw this.error(line, col, `expected a number, got '${ch}'`);
      this.pos += m[0].length;
      const after = s[this.pos];
      if (after !== undefined && /[A-Za-z0-9_.]/.test(after)) {
        throw this.error(line, col, `expected a number, got '${m[0]}${after}…': remove the stray character or quote the value`);
      }
      return { kind: 'number', text: m[0], line, col };
    }
    IDENT_RE.lastIndex = this.pos;
    const id = IDENT_RE.exec(s);
    if (id !== null) {
      this.pos += id[0].length;
      return { kind: 'ident', text: id[0], line, col };
    }
    if (PUNCT.has(ch)) {
      this.pos++;
      return { kind: 'punct', text: ch, line, col };
    }
    throw this.error(line, col, `expected a field name, value or one of { } < > [ ] : , ;  got '${ch}'`);
  }

  private scanString(quote: string, line: number, col: number): Token {
    const s = this.src;
    const start = this.pos;
    const bytes: number[] = [];
    this.pos++;
    for (;;) {
      if (this.pos >= s.length || s[this.pos] === '\n') {
        throw this.error(
          line,
          col,
          `expected the closing ${quote} of this string, got the end of the ${this.pos >= s.length ? 'file' : 'line'}; strings cannot span lines (write "…" "…" to concatenate)`,
        );
      }
      const ch = s[this.pos];
      if (ch === quote) {
        this.pos++;
        break;
      }
      if (ch !== '\\') {
        const cp = s.codePointAt(this.pos) ?? 0;
        this.pos += cp > 0xffff ? 2 : 1;
        pushUtf8(bytes, cp);
        continue;
      }
      const escCol = this.pos - this.lineStart + 1;
      const e = s[this.pos + 1];
      this.pos += 2;
      const simple = SIMPLE_ESCAPES[e ?? ''];
      if (simple !== undefined) {
        bytes.push(simple);
      } else if (e !== undefined && e >= '0' && e <= '7') {
        let v = e.charCodeAt(0) - 48;
        for (let k = 0; k < 2 && /[0-7]/.test(s[this.pos] ?? ''); k++) v = v * 8 + (s.charCodeAt(this.pos++) - 48);
        bytes.push(v & 0xff);
      } else if (e === 'x' || e === 'X') {
        const m = /^[0-9a-fA-F]{1,2}/.exec(s.slice(this.pos, this.pos + 2));
        if (m === null) throw this.error(line, escCol, `expected hex digits after \\x, got '${s[this.pos] ?? ''}'`);
        this.pos += m[0].length;
        bytes.push(parseInt(m[0], 16));
      } else if (e === 'u' || e === 'U') {
        const n = e === 'u' ? 4 : 8;
        const hex = s.slice(this.pos, this.pos + n);
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) {
          throw this.error(line, escCol, `expected ${n} hex digits after \\${e}, got '${hex}'`);
        }
        this.pos += n;
        const cp = parseInt(hex, 16);
        if (cp > 0x10ffff) throw this.error(line, escCol, `expected a Unicode code point ≤ 10FFFF after \\U, got ${hex}`);
        pushUtf8(bytes, cp);
      } else {
        throw this.error(line, escCol, `expected an escape (\\n \\t \\r \\\\ \\' \\" \\ooo \\xHH \\uXXXX), got '\\${e ?? ''}'`);
      }
    }
    return { kind: 'string', text: s.slice(start, this.pos), bytes: Uint8Array.from(bytes), line, col };
  }
}

const SIMPLE_ESCAPES: Record<string, number> = {
  n: 10,
  t: 9,
  r: 13,
  a: 7,
  b: 8,
  f: 12,
  v: 11,
  '\\': 92,
  "'": 39,
  '"': 34,
  '?': 63,
};

function pushUtf8(out: number[], cp: number): void {
  if (cp < 0x80) out.push(cp);
  else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
  else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
}

function describe(t: Token): string {
  if (t.kind === 'eof') return 'the end of the file';
  if (t.kind === 'string') return t.text.length > 40 ? `${t.text.slice(0, 37)}…` : t.text;
  return `'${t.text}'`;
}

// ---------------------------------------------------------------------------------------------
// Parser

type Spec = FieldSpec | TextExtensionSpec;
type Mutable = Record<string, unknown>;

/** One message being parsed: for paths in messages ("dropout_param.sample_weights_test in layer 'drop1'"). */
interface Frame {
  readonly messageName: string;
  readonly obj: Mutable;
  /** The field name that holds this message ('' for the root). */
  readonly fieldName: string;
  /** For an element of a repeated field: its 0-based index. */
  readonly index: number | undefined;
  readonly parent: Frame | undefined;
  /** Singular fields seen so far: name → line, for the "given again" warning. */
  readonly seen: Map<string, number>;
}

interface PendingWarning {
  readonly line: number;
  readonly frame: Frame;
  readonly fieldName: string;
  readonly text: (where: string, path: string) => string;
}

const MAX_DEPTH = 100;
const LAYER_MESSAGES = new Set(['LayerParameter', 'V1LayerParameter']);
const INT_RANGES: Record<string, readonly [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};
const utf8 = new TextDecoder('utf-8');

class Parser {
  private readonly lex: Lexer;
  private readonly pending: PendingWarning[] = [];

  constructor(
    text: string,
    private readonly file: string,
  ) {
    this.lex = new Lexer(text, file);
  }

  parseRoot(messageName: string): Message {
    const obj: Mutable = {};
    positions.set(obj, { line: 1, column: 1 });
    this.parseBody({ messageName, obj, fieldName: '', index: undefined, parent: undefined, seen: new Map() }, 'eof', 0);
    return obj as Message;
  }

  finishWarnings(): string[] {
    return this.pending.map((w) => {
      const { where, path } = this.where(w.frame, w.fieldName);
      return `${this.file}:${w.line}: ${w.text(where, path)}`;
    });
  }

  /** "in layer 'drop1'" / "in layer 3 (unnamed)" / "in NetParameter", and the field path relative to it. */
  private where(frame: Frame, fieldName: string): { where: string; path: string } {
    const names = [fieldName];
    let f: Frame = frame;
    while (!LAYER_MESSAGES.has(f.messageName) && f.parent !== undefined) {
      names.unshift(f.fieldName);
      f = f.parent;
    }
    const path = names.join('.');
    if (!LAYER_MESSAGES.has(f.messageName)) return { where: `in ${f.messageName}`, path };
    const name = f.obj.name;
    const label = typeof name === 'string' ? `'${name}'` : `${(f.index ?? 0) + 1} (unnamed)`;
    return { where: `in ${f.messageName === 'V1LayerParameter' ? 'V1 layer' : 'layer'} ${label}`, path };
  }

  /** "'convolution_param.num_output' in layer 'conv1'", for error messages. */
  private fieldLabel(frame: Frame, name: string, type: string): string {
    const { where, path } = this.where(frame, name);
    return `'${path}' (${type}) ${where}`;
  }

  private error(t: Token, message: string): McuError {
    return this.lex.error(t.line, t.col, message);
  }

  private parseBody(frame: Frame, close: '}' | '>' | 'eof', depth: number): void {
    if (depth > MAX_DEPTH) {
      const t = this.lex.peek();
      throw this.error(t, `expected messages nested at most ${MAX_DEPTH} deep, got deeper nesting; the file is malformed`);
    }
    for (;;) {
      const t = this.lex.peek();
      if (close === 'eof' ? t.kind === 'eof' : t.kind === 'punct' && t.text === close) {
        this.lex.next();
        break;
      }
      if (t.kind === 'eof')
        throw this.error(t, `expected '${close}' to close ${frame.fieldName === '' ? 'the message' : `'${frame.fieldName}'`}, got the end of the file`);
      this.parseField(frame, depth);
      const sep = this.lex.peek();
      if (sep.kind === 'punct' && (sep.text === ';' || sep.text === ',')) this.lex.next();
    }
    finalizeRepeatedFloats(frame.messageName, frame.obj);
  }

  private parseField(frame: Frame, depth: number): void {
    const nameTok = this.lex.next();
    let name: string;
    if (nameTok.kind === 'ident') {
      name = nameTok.text;
    } else if (nameTok.kind === 'punct' && nameTok.text === '[') {
      name = `[${this.extensionName()}]`;
    } else {
      throw this.error(nameTok, `expected a field name, got ${describe(nameTok)}`);
    }
    const spec: Spec | undefined = name.startsWith('[') ? undefined : fieldSpec(frame.messageName, name);
    if (spec === undefined) {
      this.skipUnknown(nameTok, name);
      this.pending.push({
        line: nameTok.line,
        frame,
        fieldName: name,
        text: (where, path) => `unknown field '${path}' ${where} (kept as a warning, ignored)`,
      });
      return;
    }
    if (spec.type === 'message') {
      const colon = this.lex.peek();
      if (colon.kind === 'punct' && colon.text === ':') this.lex.next();
      const open = this.lex.peek();
      if (open.kind === 'punct' && open.text === '[') {
        this.requireRepeated(open, frame, name, spec);
        this.lex.next();
        this.parseList(() => this.parseMessageValue(frame, name, spec, depth, undefined));
      } else {
        this.parseMessageValue(frame, name, spec, depth, nameTok);
      }
      return;
    }
    const colon = this.lex.next();
    if (!(colon.kind === 'punct' && colon.text === ':')) {
      throw this.error(colon, `expected ':' after '${name}' (a ${typeName(spec)} field), got ${describe(colon)}`);
    }
    const open = this.lex.peek();
    if (open.kind === 'punct' && open.text === '[') {
      this.requireRepeated(open, frame, name, spec);
      this.lex.next();
      this.parseList(() => this.store(frame, name, spec, this.parseScalar(frame, name, spec), open));
    } else {
      this.store(frame, name, spec, this.parseScalar(frame, name, spec), nameTok);
    }
  }

  private extensionName(): string {
    const parts: string[] = [];
    for (;;) {
      const t = this.lex.next();
      if (t.kind === 'punct' && t.text === ']') break;
      if (t.kind === 'ident' || (t.kind === 'punct' && (t.text === '.' || t.text === '/'))) parts.push(t.text);
      else throw this.error(t, `expected an extension name and ']', got ${describe(t)}`);
    }
    return parts.join('');
  }

  private requireRepeated(t: Token, frame: Frame, name: string, spec: Spec): void {
    if (spec.label !== 'repeated') {
      throw this.error(t, `expected a single value for ${this.fieldLabel(frame, name, 'not repeated')}, got a list '['; give one value`);
    }
  }

  /** After '[': elements separated by ',' up to ']'. */
  private parseList(element: () => void): void {
    const first = this.lex.peek();
    if (first.kind === 'punct' && first.text === ']') {
      this.lex.next();
      return;
    }
    for (;;) {
      element();
      const t = this.lex.next();
      if (t.kind === 'punct' && t.text === ']') return;
      if (!(t.kind === 'punct' && t.text === ',')) throw this.error(t, `expected ',' or ']' in the list, got ${describe(t)}`);
    }
  }

  /** `{ … }` or `< … >`; its position is `at` (the field name) or else the opening bracket. */
  private parseMessageValue(frame: Frame, name: string, spec: Spec, depth: number, at: Token | undefined): void {
    const open = this.lex.next();
    if (!(open.kind === 'punct' && (open.text === '{' || open.text === '<'))) {
      throw this.error(open, `expected '{' to open '${name}' (a ${spec.messageName} message), got ${describe(open)}`);
    }
    const obj: Mutable = {};
    positions.set(obj, { line: (at ?? open).line, column: (at ?? open).col });
    const existing = frame.obj[name];
    const index = spec.label === 'repeated' ? ((existing as unknown[] | undefined)?.length ?? 0) : undefined;
    const child: Frame = { messageName: spec.messageName ?? '', obj, fieldName: name, index, parent: frame, seen: new Map() };
    // Record the element before parsing it, so nested warnings can name the enclosing layer.
    this.store(frame, name, spec, obj, open);
    this.parseBody(child, open.text === '{' ? '}' : '>', depth + 1);
  }

  private store(frame: Frame, name: string, spec: Spec, value: unknown, at: Token): void {
    if (spec.label === 'repeated') {
      const arr = (frame.obj[name] as unknown[] | undefined) ?? [];
      arr.push(value);
      frame.obj[name] = arr;
      return;
    }
    const first = frame.seen.get(name);
    if (first !== undefined) {
      this.pending.push({
        line: at.line,
        frame,
        fieldName: name,
        text: (where, path) =>
          `field '${path}' ${where} is given again (first on line ${first}); the last value is used (Caffe's own parser refuses this: keep one)`,
      });
    } else {
      frame.seen.set(name, at.line);
    }
    frame.obj[name] = value;
  }

  // -- scalars ---------------------------------------------------------------------------------

  private parseScalar(frame: Frame, name: string, spec: Spec): unknown {
    switch (spec.type) {
      case 'string':
      case 'bytes': {
        const t = this.lex.next();
        if (t.kind !== 'string') throw this.typeError(t, frame, name, spec, 'a quoted string', 'quote it: "…"');
        const parts: Uint8Array[] = [t.bytes ?? new Uint8Array(0)];
        while (this.lex.peek().kind === 'string') parts.push(this.lex.next().bytes ?? new Uint8Array(0));
        const bytes = concatBytes(parts);
        return spec.type === 'string' ? utf8.decode(bytes) : bytes;
      }
      case 'bool': {
        const t = this.lex.next();
        if (t.kind === 'ident' && ['true', 'True', 't'].includes(t.text)) return true;
        if (t.kind === 'ident' && ['false', 'False', 'f'].includes(t.text)) return false;
        if (t.kind === 'number' && (t.text === '1' || t.text === '0')) return t.text === '1';
        throw this.typeError(t, frame, name, spec, 'true or false', 'write true or false');
      }
      case 'enum':
        return this.parseEnum(frame, name, spec);
      case 'float':
      case 'double':
        return this.parseFloat(frame, name, spec);
      default:
        return this.parseInt(frame, name, spec);
    }
  }

  /** An optional '-' and the token after it. */
  private signed(): { neg: boolean; tok: Token; start: Token } {
    const start = this.lex.next();
    if (start.kind === 'punct' && start.text === '-') return { neg: true, tok: this.lex.next(), start };
    return { neg: false, tok: start, start };
  }

  private parseFloat(frame: Frame, name: string, spec: Spec): number {
    const { neg, tok, start } = this.signed();
    let v: number;
    if (tok.kind === 'ident' && /^(inf|infinity)$/i.test(tok.text)) v = Infinity;
    else if (tok.kind === 'ident' && /^nan$/i.test(tok.text)) v = NaN;
    else if (tok.kind === 'number') v = isIntegerToken(tok.text) ? Number(parseIntToken(tok.text)) : Number(tok.text.replace(/[fF]$/, ''));
    else throw this.typeError(tok, frame, name, spec, 'a number', 'write a number such as 0.5, 1e-3 or inf', start);
    return neg ? -v : v;
  }

  private parseInt(frame: Frame, name: string, spec: Spec): number {
    const { neg, tok, start } = this.signed();
    if (tok.kind !== 'number' || !isIntegerToken(tok.text)) {
      throw this.typeError(tok, frame, name, spec, 'an integer', 'write a whole number (decimal, 0x hex or 0 octal)', start);
    }
    const big = neg ? -parseIntToken(tok.text) : parseIntToken(tok.text);
    const [lo, hi] = INT_RANGES[spec.type] ?? [0n, 0n];
    const text = `${neg ? '-' : ''}${tok.text}`;
    if (big < lo || big > hi) {
      throw this.error(start, `expected an integer in [${lo}, ${hi}] for ${this.fieldLabel(frame, name, spec.type)}, got ${text}; give a value in range`);
    }
    if (big < BigInt(Number.MIN_SAFE_INTEGER) || big > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw this.error(
        start,
        `expected a safe integer (|n| ≤ 2^53 − 1) for ${this.fieldLabel(frame, name, spec.type)}, got ${text}; mcu reads 64-bit integers as JavaScript numbers`,
      );
    }
    return Number(big);
  }

  private parseEnum(frame: Frame, name: string, spec: Spec): string {
    const values = CAFFE_SCHEMA.enums[spec.enumName ?? ''] ?? {};
    const names = Object.keys(values);
    const list = names.length > 12 ? `${names.slice(0, 12).join(', ')}, …` : names.join(', ');
    const { neg, tok, start } = this.signed();
    if (!neg && tok.kind === 'ident') {
      if (Object.hasOwn(values, tok.text)) return tok.text;
      throw this.error(tok, `expected a value of enum ${spec.enumName} for ${this.fieldLabel(frame, name, list)}, got '${tok.text}'; use one of those names`);
    }
    if (tok.kind === 'number' && isIntegerToken(tok.text)) {
      const n = Number(neg ? -parseIntToken(tok.text) : parseIntToken(tok.text));
      const found = names.find((k) => values[k] === n);
      if (found !== undefined) return found;
      throw this.error(
        start,
        `expected a value of enum ${spec.enumName} for ${this.fieldLabel(frame, name, list)}, got the number ${neg ? '-' : ''}${tok.text}, which none has; use one of those names`,
      );
    }
    throw this.typeError(tok, frame, name, spec, `a value of enum ${spec.enumName} (${list})`, 'write one of those names, unquoted', start);
  }

  private typeError(t: Token, frame: Frame, name: string, spec: Spec, expected: string, fix: string, at: Token = t): McuError {
    return this.error(at, `expected ${expected} for ${this.fieldLabel(frame, name, typeName(spec))}, got ${describe(t)}; ${fix}`);
  }

  // -- unknown fields --------------------------------------------------------------------------

  /** Skip the value of an unknown field: `: scalar`, `: [ … ]`, `{ … }`, `: { … }`, `< … >`. */
  private skipUnknown(nameTok: Token, name: string): void {
    let t = this.lex.peek();
    const hasColon = t.kind === 'punct' && t.text === ':';
    if (hasColon) {
      this.lex.next();
      t = this.lex.peek();
    }
    if (t.kind === 'punct' && (t.text === '{' || t.text === '<' || (hasColon && t.text === '['))) {
      this.skipBalanced();
      return;
    }
    if (!hasColon) throw this.error(t, `expected ':' or '{' after field name '${name}', got ${describe(t)}`);
    const v = this.lex.next();
    if (v.kind === 'string') {
      while (this.lex.peek().kind === 'string') this.lex.next();
      return;
    }
    if (v.kind === 'punct' && v.text === '-') {
      const n = this.lex.next();
      if (n.kind === 'number' || n.kind === 'ident') return;
      throw this.error(n, `expected a number after '-', got ${describe(n)}`);
    }
    if (v.kind === 'number' || v.kind === 'ident') return;
    throw this.error(v, `expected a value for '${nameTok.text}', got ${describe(v)}`);
  }

  /** Skip a bracketed block starting at the next token, matching {} <> [] without recursion. */
  private skipBalanced(): void {
    const closers: string[] = [];
    const pairs: Record<string, string> = { '{': '}', '<': '>', '[': ']' };
    do {
      const t = this.lex.next();
      if (t.kind === 'eof') throw this.error(t, `expected '${closers[closers.length - 1]}' to close the block, got the end of the file`);
      if (t.kind !== 'punct') continue;
      const closer = pairs[t.text];
      if (closer !== undefined) closers.push(closer);
      else if (t.text === '}' || t.text === '>' || t.text === ']') {
        const want = closers.pop();
        if (t.text !== want) throw this.error(t, `expected '${want}' to close the block, got '${t.text}'`);
      }
    } while (closers.length > 0);
  }
}

function typeName(spec: Spec): string {
  if (spec.type === 'enum') return `enum ${spec.enumName}`;
  if (spec.type === 'message') return `message ${spec.messageName}`;
  return spec.type;
}

function isIntegerToken(text: string): boolean {
  return /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.test(text);
}

function parseIntToken(text: string): bigint {
  if (/^0[xX]/.test(text)) return BigInt(text);
  if (text.length > 1 && text.startsWith('0')) return BigInt(`0o${text.slice(1)}`);
  return BigInt(text);
}

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Turn the number[] of repeated float / double fields into Float32Array / Float64Array. */
function finalizeRepeatedFloats(messageName: string, obj: Mutable): void {
  const fields = CAFFE_SCHEMA.messages[messageName] ?? {};
  for (const key of Object.keys(obj)) {
    const spec = fields[key];
    if (spec === undefined || spec.label !== 'repeated') continue;
    if (spec.type === 'float') obj[key] = Float32Array.from(obj[key] as number[]);
    else if (spec.type === 'double') obj[key] = Float64Array.from(obj[key] as number[]);
  }
}
