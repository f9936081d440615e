// The static server behind `gue serve`: the built browser page (dist/web, made by `npm run build:web`) plus
// the generator as /model.onnx and its settings as /model.json. node:http only, GET/HEAD only, no uploads:
// the page protects photos inside the browser (onnxruntime-web) and nothing is ever sent back here.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { GueOnnxMeta } from '../export/onnx-meta.js';

/** dist/web in this package (the vite build's output folder). */
export const WEB_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');

export const MIME: Readonly<Record<string, string>> = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
});

export interface ServedModel {
  /** The ONNX bytes served as /model.onnx. */
  bytes: Uint8Array;
  info: GueOnnxMeta;
  /** Where it came from (shown on the page). */
  source: string;
}

export interface ServeOptions {
  model: ServedModel;
  /** Folder of the built page; default WEB_ROOT. */
  root?: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
}

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

// What the page may load: only this origin (and blob:/data: for the pictures it makes). The browser itself
// then refuses any request elsewhere, so "nothing is uploaded" is enforced, not just promised.
const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self' blob:",
  "img-src 'self' blob: data:",
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** Throws a clear error when the page has not been built. */
export function checkBuilt(root = WEB_ROOT): void {
  if (!existsSync(join(root, 'index.html'))) {
    throw new Error(`the browser page is not built (no ${join(root, 'index.html')}); run \`npm run build:web\` (or \`npm run setup\`)`);
  }
}

function send(res: ServerResponse, status: number, type: string, body: Uint8Array | string, head: boolean, extra: Record<string, string> = {}): void {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': String(buf.byteLength),
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': CSP,
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Cross-Origin-Resource-Policy': 'same-origin',
    ...extra,
  });
  res.end(head ? undefined : buf);
}

function handler(root: string, model: ServedModel, modelJson: string) {
  const rootWithSep = root.endsWith(sep) ? root : root + sep;
  return (req: IncomingMessage, res: ServerResponse): void => {
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      send(res, 405, MIME['.txt']!, 'only GET and HEAD: this server receives nothing\n', false, { Allow: 'GET, HEAD' });
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      send(res, 400, MIME['.txt']!, 'bad request\n', head);
      return;
    }
    if (path === '/model.onnx') {
      send(res, 200, MIME['.onnx']!, model.bytes, head, { 'Cache-Control': 'no-store' });
      return;
    }
    if (path === '/model.json') {
      send(res, 200, MIME['.json']!, modelJson, head, { 'Cache-Control': 'no-store' });
      return;
    }
    if (path.endsWith('/')) path += 'index.html';
    const file = resolve(root, '.' + path);
    if (!file.startsWith(rootWithSep) || path.includes('\0')) {
      send(res, 404, MIME['.txt']!, 'not found\n', head);
      return;
    }
    let body: Buffer;
    try {
      if (!statSync(file).isFile()) throw new Error('not a file');
      body = readFileSync(file);
    } catch {
      send(res, 404, MIME['.txt']!, 'not found\n', head);
      return;
    }
    const type = MIME[extname(file).toLowerCase()] ?? 'application/octet-stream';
    // Hashed build assets never change; the HTML and the runtime's fixed names must be revalidated.
    const cache = path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    send(res, 200, type, body, head, { 'Cache-Control': cache });
  };
}

/** Starts the server; resolves once it listens. Port-in-use and permission errors get clear messages. */
export function startServer(o: ServeOptions): Promise<RunningServer> {
  const root = resolve(o.root ?? WEB_ROOT);
  checkBuilt(root);
  const host = o.host ?? '127.0.0.1';
  const port = o.port ?? 8080;
  const modelJson = JSON.stringify({
    kind: 'gue-generator',
    eps: o.model.info.eps,
    eps255: Math.round(o.model.info.eps * 255 * 1000) / 1000,
    channels: o.model.info.channels,
    source: o.model.source,
    bytes: o.model.bytes.byteLength,
  });
  const server = createServer(handler(root, o.model, modelJson));
  server.keepAliveTimeout = 2000;
  return new Promise((resolvePromise, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      if (e.code === 'EADDRINUSE') reject(new Error(`port ${port} on ${host} is already in use; pass another --port (0 picks a free one)`));
      else if (e.code === 'EACCES') reject(new Error(`no permission to listen on ${host}:${port}; pass a --port above 1023`));
      else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') reject(new Error(`cannot listen on host '${host}': no such local address`));
      else reject(new Error(`cannot listen on ${host}:${port}: ${e.message}`));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const addr = server.address() as AddressInfo;
      const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      const url = `http://${shownHost === '0.0.0.0' || shownHost === '[::]' ? 'localhost' : shownHost}:${addr.port}/`;
      resolvePromise({
        url,
        host: addr.address,
        port: addr.port,
        server,
        close: () => new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections();
        }),
      });
    });
  });
}
