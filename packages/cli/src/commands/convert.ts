import { McuError } from '@mcu/core';
import type { Settings } from '../config.js';
import { writeFileAtomic } from '../io/files.js';
import { prepareFromSettings } from './prepare.js';

/** Write the rewritten model (sites as mask inputs, described in metadata_props). */
export async function convert(s: Settings, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): Promise<void> {
  if (s.out === undefined) throw new McuError('E_USAGE', "'convert' needs -o OUT, the file to write");
  const { prepared, encode } = await prepareFromSettings(s, 'convert');
  writeFileAtomic(s.out, encode());
  if (!s.quiet) {
    for (const w of prepared.warnings) io.stderr.write(`mcu: warning: ${w}\n`);
    io.stderr.write(`mcu: wrote ${s.out}: ${prepared.sites.length} stochastic site(s): ${prepared.sites.map((x) => `${x.name} (p=${x.rate})`).join(', ') || 'none'}\n`);
  }
}
