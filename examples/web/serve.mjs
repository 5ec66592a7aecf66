// A tiny static server for the built page (examples/web/dist): `node examples/web/serve.mjs [port]`.
// It sends Cross-Origin-Opener/Embedder-Policy so that the page is cross-origin isolated: the
// Cancel button reaches the worker that runs the model through a SharedArrayBuffer flag.
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.csv': 'text/csv',
  '.json': 'application/json',
};

const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

/**
 * Serve the files under `root` on 127.0.0.1:`port` (0: any free port).
 * @param {string} root
 * @param {number} [port]
 * @returns {Promise<{ url: string, close: () => Promise<void> }>}
 */
export async function serveStatic(root, port = 0) {
  const server = createServer((req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const file = path.join(root, urlPath.endsWith('/') ? `${urlPath}index.html` : urlPath);
    let size = -1;
    if (file.startsWith(root + path.sep) || file === root) {
      try {
        const s = statSync(file);
        if (s.isFile()) size = s.size;
      } catch {}
    }
    if (size < 0) {
      res.writeHead(404, { ...ISOLATION, 'content-type': 'text/plain' }).end(`not found: ${urlPath}\n`);
      return;
    }
    res.writeHead(200, { ...ISOLATION, 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'content-length': size });
    createReadStream(file).pipe(res);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(undefined));
  });
  const address = server.address();
  const actual = typeof address === 'object' && address !== null ? address.port : port;
  return {
    url: `http://127.0.0.1:${actual}/`,
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dist');
  try {
    statSync(path.join(root, 'index.html'));
  } catch {
    console.error(`serve: ${root}/index.html is missing; build the page first: node examples/web/build.mjs`);
    process.exit(1);
  }
  const { url } = await serveStatic(root, Number(process.argv[2] ?? 8080));
  console.log(`serving ${root} at ${url}`);
}
