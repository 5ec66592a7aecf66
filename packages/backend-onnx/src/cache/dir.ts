/** Where the CLI keeps prepared models by default (Node built-ins only: cheap to import at start). */
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The default cache folder: `$XDG_CACHE_HOME/mcu`, else `~/.cache/mcu` (for the CLI's
 * `--cache-dir` default; the library caches only where `cacheDir` is given).
 */
export function defaultCacheDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const xdg = env['XDG_CACHE_HOME'];
  return xdg !== undefined && xdg !== '' ? join(xdg, 'mcu') : join(env['HOME'] || homedir(), '.cache', 'mcu');
}
