// A small parser for the proto2 subset onnx.proto uses: package, messages (nested),
// enums, oneofs, optional/repeated/required fields with [packed = true]. No imports, options
// other than packed, services, extensions, maps or groups — the generator refuses them.
// Used at build time by generate.mjs and by the tests (to build a sample of every field).

/** Scalar types: protobuf wire type and the JavaScript value kind. */
export const SCALARS = {
  int32: { wire: 0, js: 'number' },
  uint32: { wire: 0, js: 'number' },
  sint32: { wire: 0, js: 'number' },
  int64: { wire: 0, js: 'bigint' },
  uint64: { wire: 0, js: 'bigint' },
  sint64: { wire: 0, js: 'bigint' },
  bool: { wire: 0, js: 'boolean' },
  fixed32: { wire: 5, js: 'number' },
  sfixed32: { wire: 5, js: 'number' },
  float: { wire: 5, js: 'number' },
  fixed64: { wire: 1, js: 'bigint' },
  sfixed64: { wire: 1, js: 'bigint' },
  double: { wire: 1, js: 'number' },
  string: { wire: 2, js: 'string' },
  bytes: { wire: 2, js: 'bytes' },
};

function tokenize(text) {
  const tokens = [];
  const re = /\s+|\/\/[^\n]*|\/\*[\s\S]*?\*\/|("(?:[^"\\]|\\.)*")|([A-Za-z_][\w.]*)|(-?\d+)|([{}=;[\]<>,()])/y;
  let line = 1;
  while (re.lastIndex < text.length) {
    const at = re.lastIndex;
    const m = re.exec(text);
    if (m === null) throw new Error(`onnx.proto:${line}: unexpected character ${JSON.stringify(text[at])}`);
    if (m[1] !== undefined) tokens.push({ t: 'str', v: m[1].slice(1, -1), line });
    else if (m[2] !== undefined) tokens.push({ t: 'id', v: m[2], line });
    else if (m[3] !== undefined) tokens.push({ t: 'num', v: Number(m[3]), line });
    else if (m[4] !== undefined) tokens.push({ t: 'sym', v: m[4], line });
    line += (m[0].match(/\n/g) ?? []).length;
  }
  return tokens;
}

/**
 * Parse `text`. Returns { package, messages, enums }: every message and enum flattened, with
 * `fullName` ('TypeProto.Tensor') and `tsName` ('TypeProto_Tensor'); each field has
 * { name, number, repeated, type, kind: 'scalar' | 'enum' | 'message', packed, oneof }.
 */
export function parseProto(text) {
  const tokens = tokenize(text);
  let i = 0;
  const peek = () => tokens[i];
  const next = () => {
    const tok = tokens[i++];
    if (tok === undefined) throw new Error('onnx.proto: unexpected end of file');
    return tok;
  };
  const fail = (tok, want) => {
    throw new Error(`onnx.proto:${tok?.line ?? 'end'}: expected ${want}, got ${tok ? JSON.stringify(tok.v) : 'end of file'}`);
  };
  const expect = (v) => {
    const tok = next();
    if (tok.v !== v) fail(tok, JSON.stringify(v));
    return tok;
  };
  const ident = () => {
    const tok = next();
    if (tok.t !== 'id') fail(tok, 'a name');
    return tok.v;
  };
  const number = () => {
    const tok = next();
    if (tok.t !== 'num') fail(tok, 'a number');
    return tok.v;
  };

  const messages = [];
  const enums = [];
  let pkg = '';

  function parseEnum(scope) {
    const name = ident();
    const fullName = [...scope, name].join('.');
    const values = [];
    expect('{');
    while (peek()?.v !== '}') {
      if (peek()?.v === ';') {
        next();
        continue;
      }
      const key = ident();
      expect('=');
      values.push({ name: key, number: number() });
      expect(';');
    }
    expect('}');
    enums.push({ fullName, tsName: fullName.replace(/\./g, '_'), scope, values });
  }

  function parseField(msg, label, oneof) {
    const type = ident();
    const name = ident();
    expect('=');
    const num = number();
    let packed = false;
    if (peek()?.v === '[') {
      next();
      for (;;) {
        const opt = ident();
        expect('=');
        const val = ident();
        if (opt !== 'packed') fail({ v: opt, line: peek()?.line }, 'only the packed option');
        packed = val === 'true';
        if (peek()?.v === ',') {
          next();
          continue;
        }
        break;
      }
      expect(']');
    }
    expect(';');
    msg.fields.push({ name, number: num, repeated: label === 'repeated', rawType: type, packed, oneof });
  }

  function parseMessage(scope) {
    const name = ident();
    const path = [...scope, name];
    const msg = { fullName: path.join('.'), tsName: path.join('_'), scope: path, fields: [], oneofs: [] };
    messages.push(msg);
    expect('{');
    while (peek()?.v !== '}') {
      const tok = next();
      if (tok.v === ';') continue;
      if (tok.v === 'message') parseMessage(path);
      else if (tok.v === 'enum') parseEnum(path);
      else if (tok.v === 'oneof') {
        const group = ident();
        msg.oneofs.push(group);
        expect('{');
        while (peek()?.v !== '}') parseField(msg, 'optional', group);
        expect('}');
      } else if (tok.v === 'optional' || tok.v === 'repeated' || tok.v === 'required') parseField(msg, tok.v, undefined);
      else fail(tok, 'a field, message, enum or oneof');
    }
    expect('}');
  }

  while (i < tokens.length) {
    const tok = next();
    if (tok.v === 'syntax') {
      expect('=');
      const s = next();
      if (s.v !== 'proto2') fail(s, '"proto2"');
      expect(';');
    } else if (tok.v === 'package') {
      pkg = ident();
      expect(';');
    } else if (tok.v === 'message') parseMessage([]);
    else if (tok.v === 'enum') parseEnum([]);
    else fail(tok, 'syntax, package, message or enum');
  }

  // Resolve type names as protobuf does: innermost scope first, then outwards.
  const byName = new Map();
  for (const m of messages) byName.set(m.fullName, { kind: 'message', def: m });
  for (const e of enums) byName.set(e.fullName, { kind: 'enum', def: e });
  for (const msg of messages) {
    const seen = new Set();
    for (const f of msg.fields) {
      if (seen.has(f.number)) throw new Error(`onnx.proto: ${msg.fullName} uses field number ${f.number} twice`);
      seen.add(f.number);
      if (f.rawType in SCALARS) {
        Object.assign(f, { kind: 'scalar', type: f.rawType });
        if (f.packed && SCALARS[f.type].wire === 2) throw new Error(`onnx.proto: ${msg.fullName}.${f.name}: ${f.type} cannot be packed`);
        continue;
      }
      const rel = f.rawType.startsWith(`${pkg}.`) ? f.rawType.slice(pkg.length + 1) : f.rawType;
      let found;
      for (let s = msg.scope.length; s >= 0 && found === undefined; s--) found = byName.get([...msg.scope.slice(0, s), rel].join('.'));
      if (found === undefined) throw new Error(`onnx.proto: ${msg.fullName}.${f.name} has unknown type ${f.rawType}`);
      Object.assign(f, { kind: found.kind, type: found.def.fullName, tsType: found.def.tsName });
      if (f.packed && found.kind === 'message') throw new Error(`onnx.proto: ${msg.fullName}.${f.name}: a message cannot be packed`);
    }
  }
  return { package: pkg, messages, enums };
}
