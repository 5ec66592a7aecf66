// What runtime.ts keeps is per TensorFlow.js engine (keyed on tf.engine()), not per process:
// two engines never see each other's wasm location or work queue; on one engine, a second,
// different wasm location is E_CONFIG. Fake engines stand in for tfjs here (no tfjs loads).
import { describe, expect, it } from 'vitest';
import { exclusive, setWasmLocation, type Tf } from '../src/runtime.js';
import { expectMcuError } from '../../../test/helpers/check.js';

/** A stand-in for @tensorflow/tfjs with its own engine: setBackend switches it and logs the switch. */
function fakeTf(log: string[]): Tf {
  const engine = { backendName: 'cpu', registry: {} as Record<string, unknown> };
  return {
    engine: () => engine,
    setBackend: async (name: string) => {
      log.push(`switch ${name}`);
      engine.backendName = name;
      return true;
    },
  } as unknown as Tf;
}

describe('tfjs runtime state is per engine', () => {
  it('keeps one wasm location per engine: the same again is fine, another is E_CONFIG naming both', () => {
    const [a, b] = [fakeTf([]), fakeTf([])];
    setWasmLocation(a, () => '/a/');
    setWasmLocation(b, () => '/b/'); // another engine: its own location
    setWasmLocation(a, () => '/a/');
    expectMcuError(
      () => setWasmLocation(a, () => '/b/'),
      'E_CONFIG',
      "asked for in '/b/'",
      'was told by another mcu instance',
      "in '/a/'",
      'give every tfjs backend the same wasmPaths',
    );
  });

  it('applies the deprecated one-argument form to the next engine it works with', () => {
    const a = fakeTf([]);
    setWasmLocation(() => '/legacy/');
    setWasmLocation(a, () => '/legacy/');
    expectMcuError(() => setWasmLocation(a, () => '/other/'), 'E_CONFIG', "in '/legacy/'");
  });

  it('queues work per engine: each switches its own engine, and one engine never waits for another', async () => {
    const [logA, logB] = [[] as string[], [] as string[]];
    const [a, b] = [fakeTf(logA), fakeTf(logB)];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // a long job on a's queue, then a second one behind it
    const slow = exclusive(a, 'wasm', () => gate);
    const after = exclusive(a, 'cpu', () => 'a2');
    // b's queue is its own: its job runs while a's first job still holds a's queue
    expect(await exclusive(b, 'wasm', () => 'b1')).toBe('b1');
    expect(logB).toEqual(['switch wasm']);
    expect(logA).toEqual(['switch wasm']);
    release();
    await slow;
    expect(await after).toBe('a2');
    expect(logA).toEqual(['switch wasm', 'switch cpu']);
  });
});
