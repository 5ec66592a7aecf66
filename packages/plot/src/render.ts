/**
 * Rendering: a Vega-Lite spec is compiled by Vega-Lite, run by a headless Vega view
 * (renderer 'none') and written as SVG by `view.toSVG()`; a PNG is that SVG rasterised by
 * resvg with the system's fonts (DejaVu Sans where installed). vega, vega-lite and resvg are
 * imported on first use only, so importing @mcu/plot (or `mcu --help`) loads none of them.
 *
 * A figure can carry metadata (the run that made it: backend, seed, T, τ …): an SVG gets it as
 * `<metadata id="mcu-run">JSON</metadata>`, a PNG as an iTXt chunk with keyword `mcu-run`.
 */
import { McuError, describeError } from '@mcu/core';
import type { TopLevelSpec } from 'vega-lite';
import type { Spec as VegaSpec } from 'vega';

export interface RenderOptions {
  /** Embedded in the figure as JSON (see the module comment). */
  readonly metadata?: unknown;
}

export interface PngOptions extends RenderOptions {
  /** Pixels per spec pixel (default 2: a 640-pixel-wide plot area becomes ≈ 1,300 pixels). */
  readonly scale?: number;
}

/** The keyword of the metadata (SVG element id, PNG iTXt keyword). */
export const METADATA_KEY = 'mcu-run';
export const DEFAULT_PNG_SCALE = 2;

/** A Vega-Lite spec compiled to Vega, with the compiler's warnings. */
export interface CompiledSpec {
  readonly vega: VegaSpec;
  readonly warnings: readonly string[];
}

function collectingLogger(warnings: string[]): unknown {
  let level = 2; // vega-util's Warn
  const logger = {
    level(l?: number) {
      if (l === undefined) return level;
      level = l;
      return logger;
    },
    error(...args: unknown[]) {
      throw new Error(args.map(String).join(' '));
    },
    warn(...args: unknown[]) {
      warnings.push(args.map(String).join(' '));
      return logger;
    },
    info: () => logger,
    debug: () => logger,
  };
  return logger;
}

/** Compile a Vega-Lite spec to Vega; a spec Vega-Lite rejects is E_INPUT. */
export async function compileSpec(spec: TopLevelSpec): Promise<CompiledSpec> {
  const vl = await import('vega-lite');
  const warnings: string[] = [];
  try {
    const out = vl.compile(spec, { logger: collectingLogger(warnings) as never });
    return { vega: out.spec, warnings };
  } catch (e) {
    throw new McuError('E_INPUT', `the figure's Vega-Lite spec does not compile: ${describeError(e)}`, { cause: e });
  }
}

/** The figure as SVG text. */
export async function renderSvg(spec: TopLevelSpec, options: RenderOptions = {}): Promise<string> {
  const svg = await plainSvg(spec);
  return options.metadata === undefined ? svg : withSvgMetadata(svg, options.metadata);
}

async function plainSvg(spec: TopLevelSpec): Promise<string> {
  const { vega: compiled } = await compileSpec(spec);
  const vega = await import('vega');
  const warnings: string[] = [];
  let view: InstanceType<typeof vega.View> | undefined;
  try {
    view = new vega.View(vega.parse(compiled), { renderer: 'none', logger: collectingLogger(warnings) as never });
    return await view.toSVG();
  } catch (e) {
    throw new McuError('E_INPUT', `the figure could not be drawn: ${describeError(e)}`, { cause: e });
  } finally {
    view?.finalize();
  }
}

/** The figure as PNG bytes: the SVG rasterised by resvg at `scale` (default 2). */
export async function renderPng(spec: TopLevelSpec, options: PngOptions = {}): Promise<Uint8Array> {
  const scale = options.scale ?? DEFAULT_PNG_SCALE;
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0 || scale > 16) {
    throw new McuError('E_CONFIG', `renderPng: scale must be a number in (0, 16], got ${String(options.scale)}`);
  }
  const svg = await plainSvg(spec);
  const { Resvg } = await import('@resvg/resvg-js');
  let png: Uint8Array;
  try {
    const r = new Resvg(svg, {
      background: 'white',
      fitTo: { mode: 'zoom', value: scale },
      font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
    });
    png = new Uint8Array(r.render().asPng());
  } catch (e) {
    throw new McuError('E_RUNTIME', `resvg could not rasterise the figure: ${describeError(e)}`, { cause: e });
  }
  return options.metadata === undefined ? png : withPngMetadata(png, options.metadata);
}

// ---------------------------------------------------------------------------------------
// Metadata
// ---------------------------------------------------------------------------------------

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const unescapeXml = (s: string): string => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** Insert `<metadata id="mcu-run">` right after the opening `<svg …>` tag. */
export function withSvgMetadata(svg: string, metadata: unknown): string {
  const open = svg.indexOf('<svg');
  const end = open < 0 ? -1 : svg.indexOf('>', open);
  if (end < 0) throw new McuError('E_INTERNAL', 'withSvgMetadata: no <svg> element in the figure');
  return `${svg.slice(0, end + 1)}<metadata id="${METADATA_KEY}">${escapeXml(JSON.stringify(metadata))}</metadata>${svg.slice(end + 1)}`;
}

/** The metadata of an SVG written by {@link renderSvg}; undefined when it has none. */
export function svgMetadata(svg: string): unknown {
  const m = new RegExp(`<metadata id="${METADATA_KEY}">([\\s\\S]*?)</metadata>`).exec(svg);
  return m === null ? undefined : JSON.parse(unescapeXml(m[1]!));
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

let crcTable: Uint32Array | undefined;
function crc32(bytes: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Insert an uncompressed iTXt chunk (keyword mcu-run, UTF-8 JSON) after IHDR. */
export function withPngMetadata(png: Uint8Array, metadata: unknown): Uint8Array {
  if (!PNG_SIGNATURE.every((b, i) => png[i] === b)) throw new McuError('E_INTERNAL', 'withPngMetadata: not a PNG');
  const ihdrEnd = 8 + 4 + 4 + 13 + 4;
  const enc = new TextEncoder();
  // keyword NUL, compression flag 0, method 0, language tag "" NUL, translated keyword "" NUL, text
  const body = Uint8Array.from([...enc.encode(`iTXt${METADATA_KEY}`), 0, 0, 0, 0, 0, ...enc.encode(JSON.stringify(metadata))]);
  const chunk = new Uint8Array(4 + body.length + 4);
  const dv = new DataView(chunk.buffer);
  dv.setUint32(0, body.length - 4);
  chunk.set(body, 4);
  dv.setUint32(4 + body.length, crc32(body));
  const out = new Uint8Array(png.length + chunk.length);
  out.set(png.subarray(0, ihdrEnd), 0);
  out.set(chunk, ihdrEnd);
  out.set(png.subarray(ihdrEnd), ihdrEnd + chunk.length);
  return out;
}

/** The metadata of a PNG written by {@link renderPng}; undefined when it has none. */
export function pngMetadata(png: Uint8Array): unknown {
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const dec = new TextDecoder();
  let off = 8;
  while (off + 8 <= png.length) {
    const len = dv.getUint32(off);
    const type = dec.decode(png.subarray(off + 4, off + 8));
    if (type === 'iTXt') {
      const data = png.subarray(off + 8, off + 8 + len);
      const key = dec.decode(data.subarray(0, data.indexOf(0)));
      if (key === METADATA_KEY) {
        // keyword NUL, flag, method, language NUL, translated NUL, text
        let p = key.length + 3;
        p = data.indexOf(0, p) + 1;
        p = data.indexOf(0, p) + 1;
        return JSON.parse(dec.decode(data.subarray(p)));
      }
    }
    off += 12 + len;
  }
  return undefined;
}

/** The width and height in pixels of a PNG (from IHDR). */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  if (!PNG_SIGNATURE.every((b, i) => png[i] === b)) throw new McuError('E_INPUT', 'not a PNG: the signature is missing');
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: dv.getUint32(16), height: dv.getUint32(20) };
}
