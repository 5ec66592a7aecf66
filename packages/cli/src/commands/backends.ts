import { MODEL_FORMATS, type BackendInfo, type ModelFormat } from '@mcu/core';
import type { Settings } from '../config.js';
import { stringifyJson } from '../io/format.js';
import { compose } from '../compose.js';
import { backendOptions } from './common.js';

/** Every registered backend and execution provider, available or not, and why. */
export async function backends(s: Settings, io: { stdout: NodeJS.WritableStream }): Promise<void> {
  const mcu = compose({ backendOptions: backendOptions(s) });
  const infos: (BackendInfo & { priority: number; formats: string[] | null })[] = [];
  for (const status of mcu.registry.status()) {
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
  if (s.format === 'json' && s.sources.format !== 'default') {
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
