import { McuError } from '@mcu/core';
import type { Plan } from '../plan.js';
import { writeFileAtomic } from '../io/files.js';
import { prepareFromSettings } from './prepare.js';

/** Write the rewritten model (sites as mask inputs, described in metadata_props). */
export async function convert(plan: Plan, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): Promise<void> {
  if (plan.out === undefined) throw new McuError('E_USAGE', "'convert' needs -o OUT, the file to write");
  const { prepared, encode } = await prepareFromSettings(plan.settings, 'convert', plan.out);
  writeFileAtomic(plan.out, encode());
  if (!plan.quiet) {
    for (const w of prepared.warnings) io.stderr.write(`mcu: warning: ${w}\n`);
    io.stderr.write(`mcu: wrote ${plan.out}: ${prepared.sites.length} stochastic site(s): ${prepared.sites.map((x) => `${x.name} (p=${x.rate})`).join(', ') || 'none'}\n`);
  }
}
