/**
 * JSON parsing with a usable error position. V8's JSON.parse messages do not always carry a
 * position ("Unexpected token '}', ... is not valid JSON"), so on failure a small scanner
 * finds the offset of the first syntax error and reports it as line and column.
 */
import { McuError } from '@mcu/core/errors';
import type { McuErrorCode } from '@mcu/core/errors';

/** Offset of the first JSON syntax error in `text`, or -1 when it is valid JSON. */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const n = text.length;
  class Fail {
    constructor(readonly at: number) {}
  }
  const ws = (): void => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const lit = (word: string): void => {
    if (text.startsWith(word, i)) i += word.length;
    else throw new Fail(i);
  };
  const str = (): void => {
    i++; // opening quote
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) throw new Fail(i);
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new Fail(i);
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else throw new Fail(i);
      } else i++;
    }
    throw new Fail(i);
  };
  const num = (): void => {
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (m === null) throw new Fail(i);
    i += m[0].length;
  };
  const value = (depth: number): void => {
    if (depth > 10000) throw new Fail(i);
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') throw new Fail(i);
        str();
        ws();
        if (text[i] !== ':') throw new Fail(i);
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        throw new Fail(i);
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        throw new Fail(i);
      }
    } else if (c === '"') str();
    else if (c === 't') lit('true');
    else if (c === 'f') lit('false');
    else if (c === 'n') lit('null');
    else num();
  };
  try {
    if (text.charCodeAt(0) === 0xfeff) i = 1;
    value(0);
    ws();
    return i < n ? i : -1;
  } catch (e) {
    if (e instanceof Fail) return Math.min(e.at, n);
    throw e;
  }
}

/** 1-based line and column of an offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let k = 0; k < offset && k < text.length; k++) {
    if (text[k] === '\n') {
      line++;
      start = k + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

/**
 * JSON.parse, or an McuError(code) "SOURCE: invalid JSON at line L, column C (near '…')".
 * A leading BOM is accepted.
 */
export function parseJsonText(text: string, source: string, code: McuErrorCode): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(body);
  } catch (e) {
    if (body.trim() === '') throw new McuError(code, `${source}: empty file (expected JSON)`, { cause: e });
    let at = jsonErrorOffset(body);
    if (at < 0) at = 0;
    const { line, column } = lineColumn(body, at);
    const near = body.slice(at, at + 20).split('\n')[0];
    const what = at >= body.length ? 'unexpected end of file' : `near '${near}'`;
    throw new McuError(code, `${source}: invalid JSON at line ${line}, column ${column} (position ${at}): ${what}`, { cause: e });
  }
}
