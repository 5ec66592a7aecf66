import 'reflect-metadata';
import { ContainerModule } from 'inversify';
import { describe, expect, it } from 'vitest';
import { bindBackend, createMcu } from '../src/di/index.js';
import { McuError } from '../src/errors.js';
import { modelFormatOf, type Backend, type BackendDescriptor } from '../src/model.js';
import { ReferenceBackend } from '../src/reference/backend.js';

function fake(name: string, opts: { fail?: string; onInit?: () => void } = {}): Backend {
  return {
    name,
    async init() {
      opts.onInit?.();
      if (opts.fail) throw new Error(opts.fail);
    },
    async load() {
      throw new Error('not used');
    },
  };
}

function moduleOf(...descriptors: BackendDescriptor[]): ContainerModule {
  return new ContainerModule((options) => {
    for (const d of descriptors) bindBackend(options, d);
  });
}

describe('BackendRegistry inside the container', () => {
  it('resolves by priority when no backend is named, skipping negative priorities', async () => {
    const mcu = createMcu({
      modules: [
        moduleOf(
          { name: 'low', priority: 1, create: () => fake('low') },
          { name: 'high', priority: 5, create: () => fake('high') },
          { name: 'manual', priority: -1, create: () => fake('manual') },
        ),
      ],
    });
    expect(mcu.registry.names()).toEqual(['high', 'low', 'manual']);
    expect((await mcu.registry.resolve()).name).toBe('high');
    expect((await mcu.registry.resolve(['manual'])).name).toBe('manual');
  });

  it('falls through failing backends by priority and remembers why each failed', async () => {
    const mcu = createMcu({
      modules: [moduleOf({ name: 'a', priority: 9, create: () => fake('a', { fail: 'no GPU' }) }, { name: 'b', priority: 1, create: () => fake('b') })],
    });
    expect((await mcu.registry.resolve()).name).toBe('b');
    expect(mcu.registry.status()).toEqual([
      { name: 'a', priority: 9, state: 'failed', reason: 'no GPU' },
      { name: 'b', priority: 1, state: 'ready' },
    ]);
  });

  it('total failure is ONE error that lists each backend and why', async () => {
    const mcu = createMcu({
      modules: [
        moduleOf(
          { name: 'a', priority: 2, create: () => fake('a', { fail: 'native binding missing' }) },
          {
            name: 'b',
            priority: 1,
            create: () => {
              throw new Error('wasm not found');
            },
          },
        ),
      ],
    });
    const err = await mcu.registry.resolve().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McuError);
    expect((err as McuError).code).toBe('E_BACKEND');
    expect((err as McuError).message).toContain('a: native binding missing');
    expect((err as McuError).message).toContain('b: wasm not found');
  });

  it('a named backend that fails is an error, never a silent fallback', async () => {
    const mcu = createMcu({
      backends: ['gpu'],
      modules: [
        moduleOf({ name: 'gpu', priority: 1, create: () => fake('gpu', { fail: 'no device' }) }, { name: 'cpu', priority: 5, create: () => fake('cpu') }),
      ],
    });
    await expect(mcu.backend()).rejects.toThrow(/requested: gpu: no device/);
  });

  it('an unknown backend name names the registered alternatives', async () => {
    const mcu = createMcu({
      modules: [moduleOf({ name: 'onnx', priority: 1, create: () => fake('onnx') }, { name: 'tfjs', priority: 0, create: () => fake('tfjs') })],
    });
    const err = (await mcu.registry.resolve(['tfjs-gpu']).catch((e: unknown) => e)) as McuError;
    expect(err.code).toBe('E_BACKEND_UNKNOWN');
    expect(err.message).toBe("backend 'tfjs-gpu' is not registered; registered: onnx, tfjs");
  });

  it('with no backends at all, says which module to load', async () => {
    const err = (await createMcu()
      .registry.resolve()
      .catch((e: unknown) => e)) as McuError;
    expect(err.code).toBe('E_BACKEND');
    expect(err.message).toMatch(/no backend is registered; load a backend module/);
  });

  it('initialises each backend once, even under concurrent callers', async () => {
    let inits = 0;
    let creates = 0;
    const mcu = createMcu({
      modules: [
        moduleOf({
          name: 'x',
          priority: 1,
          create: () => {
            creates++;
            return fake('x', { onInit: () => inits++ });
          },
        }),
      ],
    });
    const [a, b, c] = await Promise.all([mcu.registry.resolve(), mcu.registry.resolve(['x']), mcu.backend()]);
    expect(a).toBe(b);
    expect(b).toBe(c);
    expect([creates, inits]).toEqual([1, 1]);
  });

  it('each container has its own registry (no module globals)', async () => {
    let inits = 0;
    const mod = moduleOf({ name: 'x', priority: 1, create: () => fake('x', { onInit: () => inits++ }) });
    await createMcu({ modules: [mod] }).backend();
    await createMcu({ modules: [mod] }).backend();
    expect(inits).toBe(2);
  });

  it('duplicate names are refused', () => {
    expect(() =>
      createMcu({ modules: [moduleOf({ name: 'x', priority: 1, create: () => fake('x') }, { name: 'x', priority: 2, create: () => fake('x') })] }),
    ).toThrow(/registered twice/);
  });

  it('load() passes the backend options from the config', async () => {
    let seen: unknown;
    const backend: Backend = {
      name: 'ref',
      init: async () => {},
      load: async (source, options) => {
        seen = options;
        return new ReferenceBackend().load(source);
      },
    };
    const mcu = createMcu({
      backendOptions: { ref: { executionProviders: ['cpu'] } },
      modules: [moduleOf({ name: 'ref', priority: 1, create: () => backend })],
    });
    const model = await mcu.load({ kind: 'object', value: { input: 'x', output: 'y', inputSize: 1, layers: [] } }, { extra: 1 });
    expect(seen).toEqual({ executionProviders: ['cpu'], extra: 1 });
    await model.dispose();
  });
});

describe('choosing a backend by model format', () => {
  it('modelFormatOf reads extensions and first bytes, and says nothing otherwise', () => {
    const bytes = (s: string | number[]) => ({ kind: 'bytes' as const, bytes: typeof s === 'string' ? new TextEncoder().encode(s) : Uint8Array.from(s) });
    expect(modelFormatOf({ kind: 'path', path: 'm/Model.ONNX' })).toBe('onnx');
    expect(modelFormatOf({ kind: 'path', path: 'web/model.json' })).toBe('tfjs-layers');
    expect(modelFormatOf({ kind: 'path', path: 'web/' })).toBeUndefined();
    expect(modelFormatOf({ kind: 'path', path: 'model.pb' })).toBeUndefined();
    expect(modelFormatOf(bytes('\ufeff \n{"format":"layers-model"}'))).toBe('tfjs-layers');
    expect(modelFormatOf(bytes([0x08, 0x07, 0x12]))).toBe('onnx'); // ir_version = 7
    expect(modelFormatOf(bytes([0x50, 0x4b]))).toBeUndefined(); // a zip
    expect(modelFormatOf({ kind: 'object', value: {} })).toBeUndefined();
  });

  it('without a name, the best backend that reads the format; with a name, that one; none: E_UNSUPPORTED naming who does', async () => {
    const mcu = createMcu({
      modules: [
        moduleOf(
          { name: 'graph', priority: 10, formats: ['onnx'], create: () => fake('graph') },
          { name: 'layers', priority: 1, formats: ['tfjs-layers'], create: () => fake('layers') },
          { name: 'any', priority: 0, create: () => fake('any') },
        ),
      ],
    });
    expect((await mcu.registry.resolve(undefined, 'tfjs-layers')).name).toBe('layers');
    expect((await mcu.registry.resolve(undefined, 'onnx')).name).toBe('graph');
    expect((await mcu.registry.resolve()).name).toBe('graph');
    expect((await mcu.registry.resolve(['graph'], 'tfjs-layers')).name).toBe('graph');
    expect(mcu.registry.status().map((s) => s.formats)).toEqual([['onnx'], ['tfjs-layers'], undefined]);

    const onlyOnnx = createMcu({
      modules: [
        moduleOf(
          { name: 'graph', priority: 10, formats: ['onnx'], create: () => fake('graph') },
          { name: 'keras', priority: -1, formats: ['tfjs-layers'], create: () => fake('keras') },
        ),
      ],
    });
    const err = await onlyOnnx.registry.resolve(undefined, 'tfjs-layers').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McuError);
    expect((err as McuError).code).toBe('E_UNSUPPORTED');
    expect((err as McuError).message).toMatch(/no registered backend reads TensorFlow\.js \/ Keras layers models \(model\.json\); name one: keras/);
  });

  it('mcu.load sends a model.json path to the layers backend', async () => {
    const seen: string[] = [];
    const loader = (name: string): Backend => ({
      ...fake(name),
      load: async () => {
        seen.push(name);
        throw new McuError('E_FILE', 'stop here');
      },
    });
    const mcu = createMcu({
      modules: [
        moduleOf(
          { name: 'graph', priority: 10, formats: ['onnx'], create: () => loader('graph') },
          { name: 'layers', priority: 1, formats: ['tfjs-layers'], create: () => loader('layers') },
        ),
      ],
    });
    await mcu.load({ kind: 'path', path: 'a/model.json' }).catch(() => undefined);
    await mcu.load({ kind: 'path', path: 'a/model.onnx' }).catch(() => undefined);
    expect(seen).toEqual(['layers', 'graph']);
  });
});

describe('BackendRegistry.describe', () => {
  const info = (name: string, probed: boolean) => ({ name, available: true, probed, executionProviders: [{ name: 'cpu', available: true }] });

  it("without probe: the descriptor's installed() (nothing created), else the backend's describe() uninitialised; with probe: initialised", async () => {
    let created = 0;
    let inited = 0;
    const describing = (name: string): Backend => ({ ...fake(name, { onInit: () => inited++ }), describe: async (o) => info(name, o?.probe === true) });
    const mcu = createMcu({
      modules: [
        moduleOf(
          {
            name: 'files',
            priority: 2,
            create: () => {
              created++;
              return describing('files');
            },
            installed: () => info('files', false),
          },
          {
            name: 'plain',
            priority: 1,
            create: () => {
              created++;
              return describing('plain');
            },
          },
        ),
      ],
    });
    expect(await mcu.registry.describe('files')).toEqual(info('files', false));
    expect([created, inited]).toEqual([0, 0]);
    expect(await mcu.registry.describe('plain')).toEqual(info('plain', false));
    expect([created, inited]).toEqual([1, 0]);
    expect(await mcu.registry.describe('files', { probe: true })).toEqual(info('files', true));
    expect([created, inited]).toEqual([2, 1]);
    // the probed backend is the one resolve() hands out: created and initialised once
    await mcu.registry.resolve(['files']);
    expect([created, inited]).toEqual([2, 1]);
  });

  it('a backend that cannot start is reported unavailable with the reason; an unknown name is E_BACKEND_UNKNOWN', async () => {
    const mcu = createMcu({ modules: [moduleOf({ name: 'broken', priority: 1, create: () => fake('broken', { fail: 'no runtime here' }) })] });
    expect(await mcu.registry.describe('broken', { probe: true })).toEqual({
      name: 'broken',
      available: false,
      probed: true,
      reason: expect.stringContaining('no runtime here'),
      executionProviders: [],
    });
    expect(await mcu.registry.describe('broken')).toEqual({ name: 'broken', available: true, probed: false, executionProviders: [] });
    await expect(mcu.registry.describe('torch')).rejects.toMatchObject({ code: 'E_BACKEND_UNKNOWN' });
  });
});
