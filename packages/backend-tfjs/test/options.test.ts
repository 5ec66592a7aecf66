import { describe, expect, it } from 'vitest';
import { parseTfjsOptions, requestedBackends, TFJS_BACKENDS, TfjsOptionsSchema } from '../src/options.js';
import { mcuErrorMessage } from '../../../test/helpers/check.js';

const bad = (raw: unknown): string => mcuErrorMessage(() => parseTfjsOptions(raw as never), 'E_CONFIG');

describe('parseTfjsOptions (TfjsOptionsSchema)', () => {
  it('accepts a backend or a list of them', () => {
    expect(parseTfjsOptions(undefined)).toEqual({});
    expect(parseTfjsOptions({ backend: 'wasm' })).toEqual({ backend: 'wasm' });
    const eps = ['wasm', 'cpu'] as const;
    const parsed = parseTfjsOptions({ executionProviders: eps });
    expect(parsed).toEqual({ executionProviders: ['wasm', 'cpu'] });
    expect(parsed.executionProviders).not.toBe(eps);
    expect(requestedBackends(parsed)).toEqual(['wasm', 'cpu']);
    expect(requestedBackends(parseTfjsOptions({ backend: 'cpu' }))).toEqual(['cpu']);
    expect(requestedBackends({})).toBeUndefined();
  });

  it('unknown keys and bad values are E_CONFIG naming them', () => {
    expect(bad({ threads: 4 })).toBe(`unknown tfjs option 'threads'; known keys: ${Object.keys(TfjsOptionsSchema.entries).join(', ')}`);
    const names = TFJS_BACKENDS.map((b) => `"${b}"`).join(', ');
    expect(bad({ backend: 'webgl' })).toBe(`tfjs option 'backend' expects one of ${names}, got "webgl"`);
    expect(bad({ executionProviders: ['cpu', 'cuda'] })).toBe(`tfjs option 'executionProviders[1]' expects one of ${names}, got "cuda"`);
    expect(bad({ executionProviders: [] })).toBe("tfjs option 'executionProviders' expects a non-empty array of tensorflow, wasm, cpu, got []");
    expect(bad({ executionProviders: 'cpu' })).toBe(`tfjs option 'executionProviders' expects a non-empty array of tensorflow, wasm, cpu, got "cpu"`);
    expect(bad({ backend: 'cpu', executionProviders: ['cpu'] })).toBe("tfjs options: 'backend' and 'executionProviders' were both given; give one");
    expect(bad([])).toBe('tfjs options: expected an object, got an array');
  });
});
