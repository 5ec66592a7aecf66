import type * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { GRAPH_OPTIMIZATION_LEVELS, OnnxOptionsSchema, parseOnnxOptions } from '../src/options.js';
import { mcuErrorMessage } from '../../../test/helpers/check.js';

const bad = (raw: unknown): string => mcuErrorMessage(() => parseOnnxOptions(raw as never), 'E_CONFIG');

describe('parseOnnxOptions (OnnxOptionsSchema)', () => {
  it('accepts every option; fills insertDropout.before', () => {
    expect(parseOnnxOptions(undefined)).toEqual({});
    const all = {
      executionProviders: ['cuda', 'cpu'],
      graphOptimizationLevel: 'extended',
      intraOpNumThreads: 0,
      rates: { ratio: 0.1 },
      maskInputs: { mask_0: 0.5 },
      insertDropout: { rate: 0.2, before: ['Gemm'], spatial: true },
      scaling: 'none',
      rewrite: 'tiled',
    } as const;
    expect(parseOnnxOptions(all)).toEqual(all);
    expect(parseOnnxOptions({ insertDropout: { rate: 0.1 } })).toEqual({ insertDropout: { rate: 0.1, before: ['Gemm', 'MatMul', 'Conv'] } });
    expect(GRAPH_OPTIMIZATION_LEVELS).toEqual(['disabled', 'basic', 'extended', 'all']);
  });

  it('unknown keys are E_CONFIG listing the known keys', () => {
    const known = Object.keys(OnnxOptionsSchema.entries).join(', ');
    expect(bad({ ep: ['cpu'] })).toBe(`unknown onnx option 'ep'; known keys: ${known}`);
    expect(bad({ insertDropout: { rate: 0.1, where: 'x' } })).toBe("unknown onnx option 'insertDropout.where'; known keys: rate, before, spatial");
  });

  it('bad values name the option, what it expects and what it got', () => {
    expect(bad({ executionProviders: [] })).toBe(
      `onnx option 'executionProviders' expects an array of execution provider names (at least one), e.g. ["cuda", "cpu"], got []`,
    );
    expect(bad({ executionProviders: ['cpu', 3] })).toBe("onnx option 'executionProviders[1]' expects a provider name, got 3");
    expect(bad({ graphOptimizationLevel: 'max' })).toBe(
      `onnx option 'graphOptimizationLevel' expects one of "disabled", "basic", "extended", "all", got "max"`,
    );
    expect(bad({ intraOpNumThreads: 1.5 })).toBe("onnx option 'intraOpNumThreads' expects an integer ≥ 0, got 1.5");
    expect(bad({ rates: { ratio: 1 } })).toBe("onnx option 'rates.ratio' expects a rate p in [0, 1), got 1");
    expect(bad({ maskInputs: [0.5] })).toBe("onnx option 'maskInputs' expects an object mapping input names to rates, got an array");
    expect(bad({ insertDropout: { before: ['Conv'] } })).toBe("onnx option 'insertDropout.rate' is required");
    expect(bad({ insertDropout: { rate: 0.1, before: ['Relu'] } })).toBe(
      `onnx option 'insertDropout.before[0]' expects one of "Gemm", "MatMul", "Conv", got "Relu"`,
    );
    expect(bad({ insertDropout: { rate: 0.1, before: [] } })).toBe(
      "onnx option 'insertDropout.before' expects a non-empty array of Gemm, MatMul, Conv, got []",
    );
    expect(bad({ insertDropout: { rate: 0.1, spatial: 'yes' } })).toBe(`onnx option 'insertDropout.spatial' expects true or false, got "yes"`);
    expect(bad({ scaling: 'half' })).toBe(`onnx option 'scaling' expects one of "inverted", "none", got "half"`);
    expect(bad({ rewrite: 'fast' })).toBe(`onnx option 'rewrite' expects one of "auto", "broadcast", "tiled", got "fast"`);
    expect(bad(7)).toBe('onnx options: expected an object, got 7');
  });

  it('the type is the schema output', () => {
    const parsed: v.InferOutput<typeof OnnxOptionsSchema> = parseOnnxOptions({ scaling: 'inverted' });
    expect(parsed.scaling).toBe('inverted');
  });
});
