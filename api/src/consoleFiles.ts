/**
 * Serves the web console (console/, built by Vite) at /console: its files with their
 * content types, index.html for every client route (the console routes in the browser),
 * hashed assets cached for a year, and a Content-Security-Policy that lets the page load
 * and connect to this origin only (plus, in development, the dev chain its wallet uses).
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';

export const CONSOLE_PATH = '/console';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

export function consoleCsp(devRpcUrl: string | null): string {
  const connect = ["'self'", ...(devRpcUrl ? [new URL(devRpcUrl).origin] : [])].join(' ');
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src ${connect}`,
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

async function fileIn(dir: string, relative: string): Promise<string | null> {
  const path = normalize(join(dir, relative));
  if (path !== dir && !path.startsWith(dir + sep)) return null; // ../ out of the console's folder
  const s = await stat(path).catch(() => null);
  return s?.isFile() ? path : null;
}

/**
 * The console's answer to a GET under /console, or null when the path is not the console's.
 * `dir` is the built console (console/dist); when it was never built, a page says how to build it.
 */
export async function serveConsole(dir: string, url: URL, method: string, devRpcUrl: string | null): Promise<Response | null> {
  if (url.pathname !== CONSOLE_PATH && !url.pathname.startsWith(`${CONSOLE_PATH}/`)) return null;
  if (url.pathname === CONSOLE_PATH) return new Response(null, { status: 308, headers: { location: `${CONSOLE_PATH}/${url.search}` } });
  const security = {
    'content-security-policy': consoleCsp(devRpcUrl),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  };
  if (method !== 'GET' && method !== 'HEAD') return new Response('method not allowed', { status: 405, headers: { allow: 'GET, HEAD', ...security } });
  let relative: string;
  try {
    relative = decodeURIComponent(url.pathname.slice(CONSOLE_PATH.length + 1));
  } catch {
    return new Response('bad path', { status: 400, headers: security });
  }
  const file = relative && (await fileIn(dir, relative));
  if (file) {
    const body = method === 'HEAD' ? null : await readFile(file);
    // Vite names every asset after its content hash: it never changes under the same name.
    const cache = relative.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    return new Response(body, { headers: { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': cache, ...security } });
  }
  // A missing file with an extension is a missing file; anything else is a client route.
  if (extname(relative)) return new Response('not found', { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8', ...security } });
  const index = await fileIn(dir, 'index.html');
  if (!index) {
    return new Response('<!doctype html><title>Console not built</title><p>The console is not built: run <code>npm run build</code> (or <code>npm start</code>, which builds it).</p>', {
      status: 503,
      headers: { 'content-type': 'text/html; charset=utf-8', ...security },
    });
  }
  return new Response(method === 'HEAD' ? null : await readFile(index), { headers: { 'content-type': TYPES['.html']!, 'cache-control': 'no-cache', ...security } });
}
