// A dependency-free static file server for dist/ (used by scripts/run.sh and the browser
// test). It sends the same Content-Security-Policy as the page's meta tag, so the worker is
// held to it too, and serves .wasm as application/wasm (needed for streaming compilation). It
// also makes the page cross-origin isolated (COOP + COEP), which the CPU backend's wasm threads
// need: shared memory is only given to isolated pages.
//   node scripts/serve.mjs DIR [PORT] [HOST]    (PORT 0 = any free port; prints the URL)
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';

export const CSP =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'none'; frame-ancestors *";

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.md': 'text/markdown; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.gz': 'application/octet-stream', // a data pack, not a compressed response: no Content-Encoding
};

/** Cross-origin isolation: every resource of the page is same-origin, so require-corp costs nothing. */
export const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

/**
 * `extra`: pages served beside dir's files, `{ '/course/lesson.html': '<!doctype html>…' }` (the
 * browser test's). `isolation: false` leaves out COOP/COEP, as a host that cannot send them
 * does (the browser test checks the one-thread fallback that way).
 */
export function serve(dir, port = 0, host = '127.0.0.1', extra = {}, { isolation = true } = {}) {
  const isolationHeaders = isolation ? ISOLATION : {};
  const root = resolve(dir);
  // Links carry the run in the query, so a long one must not get 431: allow 1 MiB of
  // headers instead of Node's 16 KiB.
  const server = createServer({ maxHeaderSize: 1 << 20 }, async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      if (Object.hasOwn(extra, path)) {
        res.writeHead(200, { 'Content-Type': TYPES['.html'], 'Content-Security-Policy': CSP, 'Cache-Control': 'no-cache', ...isolationHeaders });
        res.end(extra[path]);
        return;
      }
      let file = normalize(join(root, path));
      if (file !== root && !file.startsWith(root + sep)) {
        res.writeHead(403).end('forbidden');
        return;
      }
      if ((await stat(file).catch(() => null))?.isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      res.writeHead(200, {
        'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
        'Content-Security-Policy': CSP,
        'Cache-Control': 'no-cache',
        'X-Content-Type-Options': 'nosniff',
        ...isolationHeaders,
      });
      res.end(body);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
    }
  });
  return new Promise((ok) => server.listen(port, host, () => ok(server)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir = 'dist', port = '8080', host = '127.0.0.1'] = process.argv.slice(2);
  const server = await serve(dir, Number(port), host);
  const { port: actual } = server.address();
  console.log(`ssl-playground: serving ${resolve(dir)} at http://${host}:${actual}/  (Ctrl+C to stop)`);
}
