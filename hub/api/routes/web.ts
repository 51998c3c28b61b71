// The web UI (web/, built by `npm run build` into dist/web): its files by path, and index.html for any
// other GET outside /api/, so the single-page app's own paths (/pipelines/x, /builds/7) load on reload.
// Public: the page holds no data; everything it shows comes from the API with the viewer's credential.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { ApiContext } from '../context.js';
import { HttpError } from '../errors.js';
import { route, type Route } from '../route.js';
import { API_PREFIX } from '../types.js';

const HTML = 'text/html; charset=utf-8';
const CONTENT_TYPES: Record<string, string> = {
  '.html': HTML,
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** The app's own files only: no inline script, no other origin; the API answers the same origin. */
const PAGE_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Vite names what it emits under assets/ by content hash, so a browser may keep them for good. */
const HASHED_DIR = 'assets';

/** dist/web next to this module once built (dist/hub/api/routes), or the checkout's dist/web from source. */
export function builtWebDir(): string {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  return path.basename(root) === 'dist' ? path.join(root, 'web') : path.join(root, 'dist', 'web');
}

export function webRoutes({ deps }: ApiContext): Route[] {
  const root = path.resolve(deps.webDir);
  const handler = async (_input: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const wanted = decodedPath(req.url).slice(1);
    // The API's unknown paths stay JSON 404s, never the app's page.
    if (`/${wanted}`.startsWith(`${API_PREFIX}/`) || `/${wanted}` === API_PREFIX)
      throw new HttpError(404, 'not_found', `no route GET /${wanted}`);
    const file = path.resolve(root, wanted);
    if (file !== root && !file.startsWith(root + path.sep))
      throw new HttpError(404, 'not_found', `no file /${wanted}`);
    const found = await regularFile(file);
    if (found) {
      const hashed = file.startsWith(path.join(root, HASHED_DIR) + path.sep);
      return reply
        .type(CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream')
        .header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache')
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', PAGE_CSP)
        .send(await readFile(file));
    }
    // A missing asset is a 404 (a stale page asking for an old hash); any other path is the app's.
    if (wanted.startsWith(`${HASHED_DIR}/`) || path.extname(wanted) !== '')
      throw new HttpError(404, 'not_found', `no file /${wanted}`);
    const index = path.join(root, 'index.html');
    if (!(await regularFile(index)))
      throw new HttpError(404, 'not_found', `the web UI is not built (no ${index}); run \`npm run build\``);
    return reply
      .type(HTML)
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', PAGE_CSP)
      .send(await readFile(index));
  };
  return [
    route({ method: 'GET', url: '/', role: 'public', handler }),
    route({ method: 'GET', url: '/*', role: 'public', handler }),
  ];
}

function decodedPath(url: string): string {
  const raw = url.split('?')[0] ?? '/';
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'bad_request', `path: not valid percent-encoding`);
  }
}

async function regularFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}
