import { McuError, MODEL_FORMATS, type BackendInfo, type ModelFormat } from '@mcu/core';
import { stringifyJson } from '../io/format.js';
import { compose } from '../compose.js';
import type { Plan } from '../plan.js';

/** Every registered backend (or the one --backend names) and its execution providers, available or not, and why. */
export async function backends(plan: Plan, io: { stdout: NodeJS.WritableStream }): Promise<void> {
  const mcu = compose({ backendOptions: plan.backend.options });
  const all = mcu.registry.status();
  const name = plan.backend.name;
  if (name !== undefined && !all.some((b) => b.name === name)) {
    throw new McuError(
      'E_BACKEND_UNKNOWN',
      `--backend ${name}: backend '${name}' is not registered; registered: ${all.map((b) => b.name).join(', ')}`,
    );
  }
  const infos: (BackendInfo & { priority: number; formats: string[] | null })[] = [];
  for (const status of all.filter((b) => name === undefined || b.name === name)) {
    let info: BackendInfo;
    try {
      const backend = await mcu.registry.resolve([status.name]);
      info = backend.describe
        ? await backend.describe()
        : { name: status.name, available: true, executionProviders: [] };
    } catch (e) {
      info = { name: status.name, available: false, reason: e instanceof Error ? e.message : String(e), executionProviders: [] };
    }
    infos.push({ ...info, priority: status.priority, formats: status.formats ? [...status.formats] : null });
  }
  // A listing for people: a table unless json was asked for (flag or config), as `mcu backends --help` shows.
  if (plan.format === 'json' && plan.settings.sources.format !== 'default') {
    io.stdout.write(stringifyJson({ backends: infos }) + '\n');
    return;
  }
  const lines: string[] = [];
  for (const b of infos) {
    const reads = b.formats === null ? 'any model' : b.formats.map((f) => MODEL_FORMATS[f as ModelFormat]).join(', ');
    lines.push(`${b.name} (priority ${b.priority}; reads ${reads}): ${b.available ? 'available' : `unavailable — ${b.reason}`}`);
    for (const ep of b.executionProviders) {
      lines.push(`  ${ep.name}: ${ep.available ? 'available' : `unavailable — ${ep.reason}`}`);
    }
  }
  io.stdout.write(lines.join('\n') + '\n');
}
