import { McuError, type DropoutScaling, type LoadOptions } from '@mcu/core';

export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

/** Options of the onnx backends (from `mcu.config.json` → backendOptions.onnx, or flags). */
export interface OnnxLoadOptions {
  /** Providers in order; more than one = explicit fallbacks. Default ['cpu'] (onnx) / ['wasm'] (onnx-web). */
  readonly executionProviders?: readonly string[];
  readonly graphOptimizationLevel?: GraphOptimizationLevel;
  readonly intraOpNumThreads?: number;
  /** Dropout `ratio` / `training_mode` given as graph inputs: input name → rate. */
  readonly rates?: Readonly<Record<string, number>>;
  /** Models that already take masks: input name → rate. */
  readonly maskInputs?: Readonly<Record<string, number>>;
  /** Eval exports without Dropout: insert sites before these weight layers (skipping the first). */
  readonly insertDropout?: { readonly rate: number; readonly before: readonly string[]; readonly spatial?: boolean };
  readonly scaling?: DropoutScaling;
  /** 'auto' (default), 'broadcast' or 'tiled' — see PrepareOptions.rewrite. */
  readonly rewrite?: 'auto' | 'broadcast' | 'tiled';
}

const KNOWN = new Set([
  'executionProviders',
  'graphOptimizationLevel',
  'intraOpNumThreads',
  'rates',
  'maskInputs',
  'insertDropout',
  'scaling',
  'rewrite',
]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function rateMap(name: string, v: unknown): Record<string, number> | undefined {
  if (v === undefined) return undefined;
  if (!isRecord(v)) throw new McuError('E_CONFIG', `onnx option '${name}' must map input names to rates, got ${JSON.stringify(v)}`);
  for (const [k, r] of Object.entries(v)) {
    if (typeof r !== 'number' || !(r >= 0 && r < 1)) {
      throw new McuError('E_CONFIG', `onnx option '${name}.${k}' must be a rate p in [0, 1), got ${JSON.stringify(r)}`);
    }
  }
  return v as Record<string, number>;
}

/** Validate untyped options (config files, flags); unknown keys are errors that name the key. */
export function parseOnnxOptions(raw: LoadOptions | undefined): OnnxLoadOptions {
  const o = raw ?? {};
  for (const k of Object.keys(o)) {
    if (!KNOWN.has(k)) {
      throw new McuError('E_CONFIG', `unknown onnx backend option '${k}'; known: ${[...KNOWN].join(', ')}`);
    }
  }
  const eps = o['executionProviders'];
  if (eps !== undefined && !(Array.isArray(eps) && eps.length > 0 && eps.every((e) => typeof e === 'string'))) {
    throw new McuError('E_CONFIG', `onnx option 'executionProviders' must be a non-empty list of names, got ${JSON.stringify(eps)}`);
  }
  const level = o['graphOptimizationLevel'];
  if (level !== undefined && !['disabled', 'basic', 'extended', 'all'].includes(level as string)) {
    throw new McuError('E_CONFIG', `onnx option 'graphOptimizationLevel' must be disabled, basic, extended or all, got ${JSON.stringify(level)}`);
  }
  const threads = o['intraOpNumThreads'];
  if (threads !== undefined && !(Number.isInteger(threads) && (threads as number) >= 0)) {
    throw new McuError('E_CONFIG', `onnx option 'intraOpNumThreads' must be an integer ≥ 0, got ${JSON.stringify(threads)}`);
  }
  const insert = o['insertDropout'];
  if (insert !== undefined) {
    if (!isRecord(insert) || typeof insert['rate'] !== 'number' || !((insert['rate'] as number) >= 0 && (insert['rate'] as number) < 1)) {
      throw new McuError('E_CONFIG', `onnx option 'insertDropout' needs a rate p in [0, 1), got ${JSON.stringify(insert)}`);
    }
    for (const k of Object.keys(insert)) {
      if (!['rate', 'before', 'spatial'].includes(k)) throw new McuError('E_CONFIG', `unknown onnx option 'insertDropout.${k}'; known: rate, before, spatial`);
    }
    if (insert['spatial'] !== undefined && typeof insert['spatial'] !== 'boolean') {
      throw new McuError('E_CONFIG', `onnx option 'insertDropout.spatial' must be true or false, got ${JSON.stringify(insert['spatial'])}`);
    }
    const before = insert['before'] ?? ['Gemm', 'MatMul', 'Conv'];
    if (!Array.isArray(before) || before.length === 0 || !before.every((b) => ['Gemm', 'MatMul', 'Conv'].includes(b as string))) {
      throw new McuError('E_CONFIG', `onnx option 'insertDropout.before' must list Gemm, MatMul and/or Conv, got ${JSON.stringify(before)}`);
    }
  }
  const rewrite = o['rewrite'];
  if (rewrite !== undefined && rewrite !== 'auto' && rewrite !== 'broadcast' && rewrite !== 'tiled') {
    throw new McuError('E_CONFIG', `onnx option 'rewrite' must be 'auto', 'broadcast' or 'tiled', got ${JSON.stringify(rewrite)}`);
  }
  const scaling = o['scaling'];
  if (scaling !== undefined && scaling !== 'inverted' && scaling !== 'none') {
    throw new McuError('E_CONFIG', `onnx option 'scaling' must be 'inverted' or 'none', got ${JSON.stringify(scaling)}`);
  }
  const rates = rateMap('rates', o['rates']);
  const maskInputs = rateMap('maskInputs', o['maskInputs']);
  return {
    ...(eps !== undefined ? { executionProviders: eps as string[] } : {}),
    ...(level !== undefined ? { graphOptimizationLevel: level as GraphOptimizationLevel } : {}),
    ...(threads !== undefined ? { intraOpNumThreads: threads as number } : {}),
    ...(rates ? { rates } : {}),
    ...(maskInputs ? { maskInputs } : {}),
    ...(insert !== undefined
      ? {
          insertDropout: {
            rate: (insert as { rate: number }).rate,
            before: (insert as { before?: string[] }).before ?? ['Gemm', 'MatMul', 'Conv'],
            ...((insert as { spatial?: boolean }).spatial ? { spatial: true } : {}),
          },
        }
      : {}),
    ...(scaling !== undefined ? { scaling: scaling as DropoutScaling } : {}),
    ...(rewrite !== undefined ? { rewrite: rewrite as 'auto' | 'broadcast' | 'tiled' } : {}),
  };
}
