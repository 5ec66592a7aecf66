import { McuError, MODEL_FORMATS, type BackendInfo, type ModelFormat } from '@mcu/core';
import { stringifyJson } from '../io/format.js';
import { compose } from '../compose.js';
import type { Plan } from '../plan.js';

/**
 * Every registered backend (or the one --backend names) and its execution providers: installed
 * or not, and why (from the files, in milliseconds), or with --probe started or not, and why.
 */
export async function backends(plan: Plan, io: { stdout: NodeJS.WritableStream }): Promise<void> {
  const mcu = compose({ backendOptions: plan.backend.options });
  const all = mcu.registry.status();
  const name = plan.backend.name;
  if (name !== undefined && !all.some((b) => b.name === name)) {
    throw new McuError('E_BACKEND_UNKNOWN', `--backend ${name}: backend '${name}' is not registered; registered: ${all.map((b) => b.name).join(', ')}`);
  }
  const infos: (BackendInfo & { priority: number; formats: string[] | null })[] = [];
  for (const status of all.filter((b) => name === undefined || b.name === name)) {
    const info = await mcu.registry.describe(status.name, { probe: plan.probe });
    infos.push({ ...info, priority: status.priority, formats: status.formats ? [...status.formats] : null });
  }
  // A listing for people: a table unless json was asked for (flag or config), as `mcu backends --help` shows.
  if (plan.format === 'json' && plan.settings.sources.format !== 'default') {
    io.stdout.write(`${stringifyJson({ backends: infos })}\n`);
    return;
  }
  const lines: string[] = [];
  // probed: it started ("available"); not probed: its files are there ("installed"), which is all a listing can know without starting it
  const state = (ok: boolean, probed: boolean, reason: string | undefined): string =>
    ok ? `${probed ? 'available' : 'installed'}${reason !== undefined ? ` — ${reason}` : ''}` : `unavailable — ${reason}`;
  for (const b of infos) {
    const reads = b.formats === null ? 'any model' : b.formats.map((f) => MODEL_FORMATS[f as ModelFormat]).join(', ');
    lines.push(`${b.name} (priority ${b.priority}; reads ${reads}): ${state(b.available, b.probed, b.available ? undefined : b.reason)}`);
    for (const ep of b.executionProviders) lines.push(`  ${ep.name}: ${state(ep.available, b.probed, ep.reason)}`);
  }
  if (infos.some((b) => !b.probed)) lines.push('(installed: the files are there; `mcu backends --probe` starts each one to see that it runs)');
  io.stdout.write(`${lines.join('\n')}\n`);
}
