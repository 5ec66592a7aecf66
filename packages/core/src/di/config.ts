/** What the core container needs to know; the CLI maps its settings onto this. */
export interface McuConfig {
  /** Backends to use, in order; empty = pick by priority. */
  readonly backends?: readonly string[];
  /** Per-backend options, by backend name (handed to `Backend.load`). */
  readonly backendOptions?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Memory budget for one backend call, in bytes (default 256 MiB). */
  readonly memoryBudgetBytes?: number;
}

export const DEFAULT_MEMORY_BUDGET_BYTES = 256 * 1024 * 1024;
