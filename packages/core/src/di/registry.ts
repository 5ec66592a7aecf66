import { injectable, multiInject, optional, type ContainerModuleLoadOptions } from 'inversify';
import { describeError, McuError } from '../errors.js';
import { MODEL_FORMATS, type Backend, type BackendDescriptor, type BackendInfo, type DescribeOptions, type ModelFormat } from '../model.js';
import { TOKENS } from '../tokens.js';

interface Slot {
  readonly descriptor: BackendDescriptor;
  /** The backend object, created once (not yet initialised). */
  created?: Promise<Backend>;
  /** Memoised init: every caller awaits the same promise; a failure is remembered. */
  ready?: Promise<Backend>;
}

export interface BackendStatus {
  readonly name: string;
  readonly priority: number;
  /** Model formats it reads; undefined = any. */
  readonly formats?: readonly ModelFormat[];
  readonly state: 'not-initialised' | 'ready' | 'failed';
  readonly reason?: string;
}

/**
 * Backends registered by name and priority (higher first; negative = only when named).
 * One per container, filled from the multi-bound BackendDescriptors (no module globals).
 */
@injectable()
export class BackendRegistry {
  readonly #slots = new Map<string, Slot>();
  readonly #failures = new Map<string, string>();
  readonly #ready = new Set<string>();

  constructor(@multiInject(TOKENS.BackendDescriptor) @optional() descriptors: BackendDescriptor[] | undefined) {
    for (const d of descriptors ?? []) {
      if (this.#slots.has(d.name)) {
        throw new McuError('E_BACKEND', `backend '${d.name}' is registered twice; each backend name must be unique`);
      }
      this.#slots.set(d.name, { descriptor: d });
    }
  }

  /** Registered names, highest priority first. */
  names(): string[] {
    return [...this.#slots.values()].sort((a, b) => b.descriptor.priority - a.descriptor.priority).map((s) => s.descriptor.name);
  }

  status(): BackendStatus[] {
    return this.names().map((name) => {
      const slot = this.#slots.get(name)!;
      const failure = this.#failures.get(name);
      return {
        name,
        priority: slot.descriptor.priority,
        ...(slot.descriptor.formats !== undefined ? { formats: [...slot.descriptor.formats] } : {}),
        state: failure !== undefined ? 'failed' : this.#ready.has(name) ? 'ready' : 'not-initialised',
        ...(failure !== undefined ? { reason: failure } : {}),
      };
    });
  }

  /**
   * Resolve a backend. With names: try them in order (a named backend that fails is an
   * error, never a silent fallback to an unnamed one). Without: all non-negative
   * priorities, highest first. Total failure is ONE error listing each candidate and why.
   */
  async resolve(names?: readonly string[], format?: ModelFormat): Promise<Backend> {
    const requested = names !== undefined && names.length > 0;
    if (requested) {
      for (const n of names) {
        if (!this.#slots.has(n)) {
          throw new McuError('E_BACKEND_UNKNOWN', `backend '${n}' is not registered; registered: ${this.names().join(', ') || '(none)'}`);
        }
      }
    }
    let candidates = requested ? [...names] : this.names().filter((n) => this.#slots.get(n)!.descriptor.priority >= 0);
    if (!requested && format !== undefined && candidates.length > 0) {
      const reads = (n: string) => this.#slots.get(n)!.descriptor.formats?.includes(format) ?? true;
      const readers = candidates.filter(reads);
      if (readers.length === 0) {
        const named = this.names().filter(reads);
        throw new McuError(
          'E_UNSUPPORTED',
          `no registered backend reads ${MODEL_FORMATS[format]}` +
            (named.length > 0
              ? `; name one: ${named.join(', ')}`
              : `; register one that does (for example @mcu/backend-${format === 'onnx' ? 'onnx' : 'tfjs'})`),
        );
      }
      candidates = readers;
    }
    if (candidates.length === 0) {
      throw new McuError(
        'E_BACKEND',
        `no backend is registered${this.#slots.size > 0 ? ` with a non-negative priority; name one explicitly: ${this.names().join(', ')}` : '; load a backend module (e.g. @mcu/backend-onnx)'}`,
      );
    }
    const errors: string[] = [];
    for (const name of candidates) {
      try {
        return await this.#init(name);
      } catch (e) {
        errors.push(`${name}: ${describeError(e)}`);
      }
    }
    throw new McuError('E_BACKEND', `no backend could be initialised (${requested ? 'requested' : 'tried'}: ${errors.join('; ')})`);
  }

  /**
   * What backend `name` and its execution providers can do on this machine: its `describe`,
   * from the installed files without starting the runtime, or with `probe` started. A backend
   * that cannot even be created, or (probe) initialised, is reported unavailable with the reason.
   */
  async describe(name: string, options: DescribeOptions = {}): Promise<BackendInfo> {
    if (!this.#slots.has(name)) {
      throw new McuError('E_BACKEND_UNKNOWN', `backend '${name}' is not registered; registered: ${this.names().join(', ') || '(none)'}`);
    }
    const probe = options.probe === true;
    const installed = this.#slots.get(name)!.descriptor.installed;
    try {
      if (!probe && installed !== undefined) return await installed();
      const backend = probe ? await this.#init(name) : await this.#create(name);
      return backend.describe ? await backend.describe({ probe }) : { name, available: true, probed: probe, executionProviders: [] };
    } catch (e) {
      return { name, available: false, probed: probe, reason: describeError(e), executionProviders: [] };
    }
  }

  #create(name: string): Promise<Backend> {
    const slot = this.#slots.get(name)!;
    slot.created ??= Promise.resolve().then(() => slot.descriptor.create());
    return slot.created;
  }

  #init(name: string): Promise<Backend> {
    const slot = this.#slots.get(name)!;
    slot.ready ??= (async () => {
      try {
        const backend = await this.#create(name);
        await backend.init();
        this.#ready.add(name);
        return backend;
      } catch (e) {
        this.#failures.set(name, describeError(e));
        throw e;
      }
    })();
    return slot.ready;
  }
}

/** Keep backend ContainerModules declarative: `bindBackend(options, { name, priority, create })`. */
export function bindBackend(options: Pick<ContainerModuleLoadOptions, 'bind'>, descriptor: BackendDescriptor): void {
  options.bind(TOKENS.BackendDescriptor).toConstantValue(descriptor);
}
