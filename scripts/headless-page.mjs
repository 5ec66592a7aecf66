// A page in headless Chromium, for the browser tests (test/helpers/browser.ts) and the browser
// benches (bench/browser-check*.mjs): bundle an ES module with esbuild for the browser platform
// (from the built packages, as a published user gets them), serve it with its assets on
// 127.0.0.1 under chosen response headers, and read back the DOM the page leaves after its
// scripts ran (Debian's `chromium --headless --dump-dom`). Plain JavaScript, so that the
// .mjs benches import it as the tests do.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { promisify } from 'node:util';
import { build } from 'esbuild';

/** @returns {string | undefined} the Chromium binary, or undefined when none is installed */
export function findChromium() {
  return ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));
}

/**
 * `code` (an ES module that may import mcu's packages, resolved from `root`) bundled for the browser.
 * @param {string} code
 * @param {string} root
 * @param {{ external?: string[] }} [options] packages left out of the bundle (optional imports)
 * @returns {Promise<string>} the bundle's text
 */
export async function bundleModule(code, root, options = {}) {
  const result = await build({
    stdin: { contents: code, resolveDir: root, loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    external: options.external ?? [],
  });
  return result.outputFiles[0].text;
}

/**
 * Serve `assets(path)` (undefined → 404) on 127.0.0.1 with `headers` on every response, open
 * `/` in headless Chromium and return the DOM after the page settled (virtual time).
 * @param {string} chromium
 * @param {(path: string) => { body: string | Uint8Array, type: string } | undefined} assets
 * @param {import('node:http').OutgoingHttpHeaders} [headers]
 * @param {number} [timeoutMs]
 * @param {{ gpu?: boolean, virtualTimeMs?: number }} [options] gpu: leave Chromium's GPU process on
 *   (WebGL on its software rasteriser); virtualTimeMs: how long the page may run (default 30 s)
 * @returns {Promise<string>}
 */
export async function runPage(chromium, assets, headers = {}, timeoutMs = 120_000, options = {}) {
  const server = createServer((req, res) => {
    const asset = assets((req.url ?? '/').split('?')[0]);
    if (asset === undefined) {
      res.writeHead(404, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': asset.type }).end(asset.body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  try {
    // async: this process serves the page's requests while Chromium runs
    const { stdout } = await promisify(execFile)(
      chromium,
      [
        '--headless',
        '--no-sandbox',
        ...(options.gpu === true ? [] : ['--disable-gpu']),
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=/tmp/mcu-chromium-${process.pid}-${port}`,
        `--virtual-time-budget=${options.virtualTimeMs ?? 30_000}`,
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

/**
 * The JSON a page wrote into `<pre id="out">` (`{ ok: false, error }` when there is none).
 * @param {string} dom
 * @returns {unknown}
 */
export function pageOutput(dom) {
  const text =
    /<pre id="out">([^<]*)<\/pre>/
      .exec(dom)?.[1]
      ?.replace(/&quot;/g, '"')
      .replace(/&amp;/g, '&') ?? '';
  return text.startsWith('{') ? JSON.parse(text) : { ok: false, error: text || 'no output in the page' };
}
