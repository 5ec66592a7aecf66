// The opt-out rule of onnxruntime's telemetry (src/runtime/telemetry.ts) on a given environment:
// set to '1' when absent, the user's value kept otherwise ('0' keeps onnxruntime's default).
// test/ort-telemetry.test.ts checks the effect on onnxruntime itself, in whole CLI processes.
import { describe, expect, it } from 'vitest';
import { ORT_TELEMETRY_VARIABLE, optOutOfOrtTelemetry } from '../src/runtime/telemetry.js';

describe('optOutOfOrtTelemetry', () => {
  it('sets ORT_DISABLE_TELEMETRY=1 when the variable is absent', () => {
    const env: NodeJS.ProcessEnv = { PATH: '/bin' };
    expect(optOutOfOrtTelemetry(env)).toBe('1');
    expect(env).toEqual({ PATH: '/bin', ORT_DISABLE_TELEMETRY: '1' });
    expect(ORT_TELEMETRY_VARIABLE).toBe('ORT_DISABLE_TELEMETRY');
  });

  it.each(['0', '1', 'false', ''])('keeps a value the user set (%j)', (given) => {
    const env: NodeJS.ProcessEnv = { ORT_DISABLE_TELEMETRY: given };
    expect(optOutOfOrtTelemetry(env)).toBe(given);
    expect(env).toEqual({ ORT_DISABLE_TELEMETRY: given });
  });
});
