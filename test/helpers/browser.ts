// A page in headless Chromium, for the browser tests: scripts/headless-page.mjs (shared with the
// browser benches), typed, with mcu's packages resolved from the repository root.
import type { OutgoingHttpHeaders } from 'node:http';
import * as page from '../../scripts/headless-page.mjs';
import { REPO_ROOT } from './cli.js';

/** The Chromium binary, or undefined when none is installed. */
export const findChromium: () => string | undefined = page.findChromium;

/** `code` (an ES module that may import mcu's packages) bundled for the browser: its text. */
export function bundleModule(code: string): Promise<string> {
  return page.bundleModule(code, REPO_ROOT);
}

export interface Asset {
  body: string | Uint8Array;
  type: string;
}

/**
 * Serve `assets(path)` (undefined → 404) on 127.0.0.1 with `headers` on every response,
 * open `/` in headless Chromium and return the DOM after the page settled (virtual time).
 */
export const runPage: (chromium: string, assets: (path: string) => Asset | undefined, headers?: OutgoingHttpHeaders, timeoutMs?: number) => Promise<string> =
  page.runPage;

/** The JSON a page wrote into `<pre id="out">`. */
export const pageOutput: (dom: string) => unknown = page.pageOutput;
