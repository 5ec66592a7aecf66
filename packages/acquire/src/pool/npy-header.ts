/**
 * The NPY header (format versions 1, 2 and 3; C order only), parsed from the file's first
 * bytes — the whole file or just its prefix, so a pool of any size is opened by reading its
 * header alone. The CLI's whole-file reader (packages/cli/src/io/npy.ts) parses with this too.
 * https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 */
import { McuError } from '@mcu/core/errors';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** True when the bytes start with the NPY magic. */
export function isNpy(bytes: Uint8Array): boolean {
  return bytes.length >= 6 && MAGIC.every((b, i) => bytes[i] === b);
}

const bad = (source: string, msg: string): McuError => new McuError('E_INPUT', `${source}: ${msg}`);

/** An element type: byte order, kind (float, signed, unsigned, bool) and bytes per element. */
export interface NpyDescr {
  readonly little: boolean;
  readonly kind: 'f' | 'i' | 'u' | 'b';
  readonly size: number;
}

/** What the header says: the element type, the shape, and where the data starts. */
export interface NpyHeader {
  readonly descr: NpyDescr;
  readonly dims: number[];
  /** Byte offset of the first element. */
  readonly dataOffset: number;
}

/** Bytes to read to learn the header length: the magic, the version and the length field. */
export const NPY_PREAMBLE_BYTES = 12;

/** Where the header dict ends, from the first {@link NPY_PREAMBLE_BYTES} bytes (or fewer, for a short file). */
export function npyHeaderEnd(bytes: Uint8Array, source: string): number {
  if (!isNpy(bytes)) throw bad(source, 'not an NPY file (no \\x93NUMPY magic)');
  if (bytes.length < 10) throw bad(source, 'NPY file is truncated (no header)');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) return 10 + view.getUint16(8, true);
  if (major === 2 || major === 3) {
    if (bytes.length < 12) throw bad(source, 'NPY file is truncated (no header)');
    return 12 + view.getUint32(8, true);
  }
  throw bad(source, `NPY format version ${major}.${bytes[7]} is not supported (1.0, 2.0 and 3.0 are)`);
}

function parseDict(header: string, source: string): { descr: NpyDescr; dims: number[] } {
  const d = /['"]descr['"]\s*:\s*(['"])([^'"]*)\1/.exec(header);
  if (d === null) {
    if (/['"]descr['"]\s*:\s*\[/.test(header)) {
      throw bad(source, 'structured NPY arrays (record dtypes) are not supported; save a plain numeric array');
    }
    throw bad(source, `NPY header has no 'descr': ${header.trim()}`);
  }
  const m = /^([<>|=]?)([fiub])(\d+)$/.exec(d[2]!);
  if (m === null) throw bad(source, `NPY dtype '${d[2]}' is not supported (use float32, float64 or an integer type)`);
  const order = m[1]!;
  const kind = m[2] as NpyDescr['kind'];
  const size = Number(m[3]);
  const supported =
    (kind === 'f' && (size === 4 || size === 8)) || ((kind === 'i' || kind === 'u') && [1, 2, 4, 8].includes(size)) || (kind === 'b' && size === 1);
  if (!supported) throw bad(source, `NPY dtype '${d[2]}' is not supported (use float32, float64 or an integer type)`);

  const f = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header);
  if (f === null) throw bad(source, `NPY header has no 'fortran_order': ${header.trim()}`);
  if (f[1] === 'True') {
    throw bad(source, 'NPY array is in Fortran order; save it in C order (np.ascontiguousarray(a)) and retry');
  }
  const s = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header);
  if (s === null) throw bad(source, `NPY header has no 'shape': ${header.trim()}`);
  const dims = s[1]!
    .split(',')
    .map((x) => x.trim().replace(/L$/, ''))
    .filter((x) => x !== '')
    .map((x) => {
      if (!/^\d+$/.test(x)) throw bad(source, `NPY shape has a bad dimension '${x}'`);
      return Number(x);
    });
  return { descr: { little: order !== '>', kind, size }, dims };
}

/**
 * Parse the NPY header from `bytes`, which hold at least the file's first
 * {@link npyHeaderEnd} bytes. E_INPUT naming `source` for anything that is not a C-order NPY
 * array of a numeric type.
 */
export function parseNpyHeader(bytes: Uint8Array, source: string): NpyHeader {
  const end = npyHeaderEnd(bytes, source);
  const start = bytes[6] === 1 ? 10 : 12;
  if (end > bytes.length) throw bad(source, 'NPY file is truncated (header runs past the end)');
  const header = new TextDecoder(bytes[6] === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, end));
  return { ...parseDict(header, source), dataOffset: end };
}
