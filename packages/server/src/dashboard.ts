import { existsSync } from 'node:fs';
import { join, sep } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface DashboardOptions {
  /** The dashboard's built files: `apps/dashboard/dist`, holding `index.html` and `assets/`. */
  dir: string;
}

/** What the server answers itself; a miss there is a plain 404, never the dashboard's page. */
const SERVER_PATHS = ['/rpc', '/ws', '/artifacts', '/healthz', '/readyz', '/metrics'];

/**
 * The page loads only its own scripts and styles, talks only to this origin (its WebSocket
 * included) and shows images from here: artifacts are previewed from `/artifacts/`.
 */
const PAGE_POLICY = [
  "default-src 'self'",
  "img-src 'self' data: blob:",
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const NOT_BUILT = `<!doctype html>
<meta charset="utf-8"><title>Drover</title>
<body style="font: 14px system-ui, sans-serif; margin: 40px">
<h1 style="font-size: 18px">The dashboard is not built</h1>
<p>Run <code>npm run build</code> in the Drover checkout, then reload this page.
The farm itself is running: <code>POST /rpc</code>, <code>/ws</code> and the <code>drover</code> command work.</p>
</body>`;

/**
 * Serves the dashboard at `/`: its hashed assets cached for good, and `index.html` (never
 * cached) for every other page path, so that `/jobs/<id>` can be bookmarked and reloaded. The
 * server's own routes keep their answers, misses included.
 */
export async function registerDashboard(
  app: FastifyInstance,
  options: DashboardOptions,
): Promise<void> {
  const built = existsSync(join(options.dir, 'index.html'));
  if (built) {
    await app.register(fastifyStatic, {
      root: options.dir,
      prefix: '/',
      index: false,
      cacheControl: false,
      // Missing files fall through to the not-found handler below.
      wildcard: true,
      setHeaders: (res, path) => {
        res.setHeader('x-content-type-options', 'nosniff');
        if (path.endsWith('.html')) res.setHeader('content-security-policy', PAGE_POLICY);
        // Vite names what it puts in assets/ by content hash: a new build, a new name.
        res.setHeader(
          'cache-control',
          path.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
        );
      },
    });
  }

  const page = (reply: FastifyReply): FastifyReply => {
    reply
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', PAGE_POLICY);
    if (!built) return reply.code(503).type('text/html; charset=utf-8').send(NOT_BUILT);
    return reply.type('text/html; charset=utf-8').sendFile('index.html');
  };
  // A route of its own: the static files' wildcard would answer a directory with 403.
  app.get('/', (_request, reply) => page(reply));
  app.setNotFoundHandler((request, reply) =>
    wantsPage(request) ? page(reply) : notFound(request, reply),
  );
}

/**
 * A page of the dashboard: a GET outside the server's routes, for a document (a path without a
 * file extension, or a request that accepts HTML), not a missing script or image.
 */
function wantsPage(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const path = new URL(request.url, 'http://localhost').pathname;
  if (SERVER_PATHS.some((p) => path === p || path.startsWith(`${p}/`))) return false;
  const accept = request.headers.accept ?? '';
  return !/\.[A-Za-z0-9]+$/.test(path) || accept.includes('text/html');
}

/** Fastify's own 404 answer, as it would have been without the dashboard. */
function notFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.code(404).send({
    message: `Route ${request.method}:${request.url} not found`,
    error: 'Not Found',
    statusCode: 404,
  });
}
