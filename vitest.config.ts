import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Tests read each package's TypeScript sources through the "source" export condition,
// so a test run never depends on a stale dist/.
export default defineConfig({
  // inversify uses legacy (experimental) parameter decorators: `@inject(TOKEN)`.
  oxc: { decorator: { legacy: true } },
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The CLI caches prepared models in $XDG_CACHE_HOME/mcu by default: tests (and the mcu
    // processes they start) use a folder of this run, never the user's ~/.cache.
    env: { XDG_CACHE_HOME: join(tmpdir(), `mcu-test-cache-${process.pid}`) },
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
