// An ONNX network as JSON + .npy files, for bench/torch_bench.py on a machine whose python has
// torch and numpy but not the onnx package (the GPU machine: no network to install it). Also the
// .npy reader/writer that bench/suite.mjs, bench/gpu-prepare.mjs and bench/gpu.mjs share.
//
// <name>.json: { format, source, input, output, initializers: { name: file.npy }, nodes: [{ op_type,
// input, output, attrs }] } with attribute values as plain JSON (ints, floats, strings, lists; a
// tensor as { "tensor": file.npy }); the .npy files in <name>.tensors/, paths relative to the JSON.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { AttributeType, DataType, dataTypeName, decodeModel } from '@mcu/backend-onnx';

const NPY_DESCR = new Map([
  [Float32Array, '<f4'],
  [Float64Array, '<f8'],
  [Int32Array, '<i4'],
  [BigInt64Array, '<i8'],
  [Uint8Array, '|b1'],
]);
const NPY_TYPES = new Map([...NPY_DESCR].map(([ctor, descr]) => [descr, ctor]));

/** A C-order .npy file (format 1.0) of `data` with `dims` (a Uint8Array is written as bool). */
export function npyBytes(data, dims) {
  const descr = NPY_DESCR.get(data.constructor);
  if (descr === undefined) throw new Error(`no .npy type for ${data.constructor.name}`);
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims.join(', ')}${dims.length === 1 ? ',' : ''}), }`;
  header = `${header.padEnd(Math.ceil((header.length + 11) / 64) * 64 - 11)}\n`; // 10 + header + newline: a multiple of 64
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

export function writeNpy(path, data, dims) {
  writeFileSync(path, npyBytes(data, dims));
}

/** A .npy file written by {@link npyBytes} (or numpy, C order, little-endian): { data, dims }. */
export function readNpy(path) {
  const b = readFileSync(path);
  if (b.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${path} is not a .npy file`);
  const major = b[6];
  const len = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = b.toString('latin1', start, start + len);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${path}: Fortran order is not supported`);
  const Ctor = NPY_TYPES.get(descr);
  if (Ctor === undefined || shape === undefined) throw new Error(`${path}: unsupported .npy header ${header.trim()}`);
  const dims = shape
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const body = b.subarray(start + len);
  // a copy: the typed array needs an aligned buffer of its own
  const bytes = new Uint8Array(body.byteLength);
  bytes.set(body);
  return { data: new Ctor(bytes.buffer), dims };
}

/** The values of an initializer or Constant tensor as a typed array of the .npy type it is written as. */
function tensorArray(t, what) {
  if (t.data_location === 1 || (t.external_data?.length ?? 0) > 0) throw new Error(`${what}: external data is not supported`);
  const n = (t.dims ?? []).reduce((a, d) => a * Number(d), 1);
  const raw = t.raw_data;
  const fromRaw = (Ctor) => {
    if (raw.byteLength !== n * Ctor.BYTES_PER_ELEMENT) throw new Error(`${what}: ${raw.byteLength} bytes for ${n} elements`);
    const copy = new Uint8Array(raw.byteLength);
    copy.set(raw);
    return new Ctor(copy.buffer);
  };
  const typed = (Ctor, list, field) => {
    if (raw !== undefined) return fromRaw(Ctor);
    const values = list ?? [];
    if (values.length !== n) throw new Error(`${what}: ${values.length} values in ${field} for ${n} elements`);
    return Ctor.from(values);
  };
  switch (t.data_type) {
    case DataType.FLOAT:
      return typed(Float32Array, t.float_data, 'float_data');
    case DataType.DOUBLE:
      return typed(Float64Array, t.double_data, 'double_data');
    case DataType.INT64:
      return typed(BigInt64Array, t.int64_data, 'int64_data');
    case DataType.INT32:
      return typed(Int32Array, t.int32_data, 'int32_data');
    case DataType.BOOL:
      // bool is one byte per element in raw_data, an int32 per element in int32_data
      return raw !== undefined ? fromRaw(Uint8Array) : Uint8Array.from(t.int32_data ?? [], (v) => (v ? 1 : 0));
    default:
      throw new Error(`${what}: ${dataTypeName(t.data_type)} tensors are not supported (float, double, int64, int32, bool)`);
  }
}

const text = (bytes) => new TextDecoder().decode(bytes ?? new Uint8Array());

/** An attribute as plain JSON; `tensor(t)` writes a tensor value and returns its file name. */
function attributeValue(a, tensor, what) {
  // attributes without a type (very old exporters) are read by the field that is set
  const type =
    a.type ||
    (a.t !== undefined
      ? AttributeType.TENSOR
      : a.ints?.length
        ? AttributeType.INTS
        : a.floats?.length
          ? AttributeType.FLOATS
          : a.s !== undefined
            ? AttributeType.STRING
            : a.f !== undefined
              ? AttributeType.FLOAT
              : AttributeType.INT);
  switch (type) {
    case AttributeType.FLOAT:
      return a.f ?? 0;
    case AttributeType.INT:
      return Number(a.i ?? 0n);
    case AttributeType.STRING:
      return text(a.s);
    case AttributeType.TENSOR:
      return { tensor: tensor(a.t) };
    case AttributeType.FLOATS:
      return [...(a.floats ?? [])];
    case AttributeType.INTS:
      return (a.ints ?? []).map(Number);
    case AttributeType.STRINGS:
      return (a.strings ?? []).map(text);
    default:
      throw new Error(`${what}: attribute type ${type} is not supported (graphs, sparse tensors, type protos)`);
  }
}

/**
 * Decode `onnxPath` and write `outDir/<name>.json` (name: the file name without .onnx) and its
 * tensors to `outDir/<name>.tensors/`. Returns the JSON's path.
 */
export function writeGraphJson(onnxPath, outDir) {
  const model = decodeModel(new Uint8Array(readFileSync(onnxPath)), onnxPath);
  const graph = model.graph ?? {};
  const name = basename(onnxPath).replace(/\.onnx$/i, '');
  const folder = `${name}.tensors`;
  mkdirSync(join(outDir, folder), { recursive: true });
  let count = 0;
  const tensorFile = (t, label) => {
    // numbered: tensor names hold '/' and ':' (e.g. /2/Constant_output_0)
    const file = `${folder}/${String(count++).padStart(3, '0')}_${label.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80)}.npy`;
    writeNpy(
      join(outDir, file),
      tensorArray(t, `${onnxPath}: ${label}`),
      (t.dims ?? []).map((d) => Number(d)),
    );
    return file;
  };
  const initializers = {};
  for (const t of graph.initializer ?? []) initializers[t.name] = tensorFile(t, t.name);
  const input = (graph.input ?? []).find((i) => !(i.name in initializers))?.name;
  const output = graph.output?.[0]?.name;
  if (input === undefined || output === undefined) throw new Error(`${onnxPath}: the graph has no input or no output`);
  const nodes = (graph.node ?? []).map((n, k) => {
    if (n.domain) throw new Error(`${onnxPath}: node ${k} (${n.op_type}) is in domain ${n.domain}; only the default domain is supported`);
    const attrs = {};
    for (const a of n.attribute ?? []) {
      attrs[a.name] = attributeValue(a, (t) => tensorFile(t, `${n.output?.[0] ?? `node${k}`}.${a.name}`), `${onnxPath}: ${n.op_type} ${a.name}`);
    }
    return { op_type: n.op_type, input: [...(n.input ?? [])], output: [...(n.output ?? [])], attrs };
  });
  const opset = (model.opset_import ?? []).find((o) => !o.domain)?.version;
  const out = {
    format: 'mcu-graph-json/1',
    source: basename(onnxPath),
    ...(opset !== undefined ? { opset: Number(opset) } : {}),
    input,
    output,
    initializers,
    nodes,
  };
  const path = join(outDir, `${name}.json`);
  writeFileSync(path, `${JSON.stringify(out, null, 1)}\n`);
  return path;
}
