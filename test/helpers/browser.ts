// A page in headless Chromium, for the browser tests: bundle an ES module with esbuild for
// the browser platform (from the built packages, as a published user gets them), serve it
// with its assets on 127.0.0.1 under chosen response headers, and read back the DOM the
// page leaves after its scripts ran (Debian's `chromium --headless --dump-dom`).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { REPO_ROOT } from './cli.js';

/** The Chromium binary, or undefined when none is installed. */
export function findChromium(): string | undefined {
  return ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));
}

/** `code` (an ES module that may import mcu's packages) bundled for the browser: its text. */
export async function bundleModule(code: string): Promise<string> {
  const result = await build({
    stdin: { contents: code, resolveDir: REPO_ROOT, loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

export interface Asset {
  body: string | Uint8Array;
  type: string;
}

/**
 * Serve `assets(path)` (undefined → 404) on 127.0.0.1 with `headers` on every response,
 * open `/` in headless Chromium and return the DOM after the page settled (virtual time).
 */
export async function runPage(
  chromium: string,
  assets: (path: string) => Asset | undefined,
  headers: OutgoingHttpHeaders = {},
  timeoutMs = 120_000,
): Promise<string> {
  const server = createServer((req, res) => {
    const asset = assets((req.url ?? '/').split('?')[0]!);
    if (asset === undefined) {
      res.writeHead(404, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': asset.type }).end(asset.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    // async: this process serves the page's requests while Chromium runs
    const { stdout } = await promisify(execFile)(
      chromium,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=/tmp/mcu-chromium-${process.pid}-${port}`,
        '--virtual-time-budget=30000',
        '--dump-dom',
        `http://127.0.0.1:${port}/`,
      ],
      { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 24 },
    );
    return stdout;
  } finally {
    server.close();
  }
}

/** The JSON a page wrote into `<pre id="out">`. */
export function pageOutput(dom: string): unknown {
  const text =
    /<pre id="out">([^<]*)<\/pre>/
      .exec(dom)?.[1]
      ?.replace(/&quot;/g, '"')
      .replace(/&amp;/g, '&') ?? '';
  return text.startsWith('{') ? JSON.parse(text) : { ok: false, error: text || 'no output in the page' };
}
