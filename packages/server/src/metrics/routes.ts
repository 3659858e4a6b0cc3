import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DroverError, isDroverError } from '@drover/protocol';
import type { Connection } from '../auth/connection.js';
import { bearerOf } from '../auth/credentials.js';
import type { ServerMetrics } from './server-metrics.js';

export interface MetricsRouteOptions {
  metrics: ServerMetrics;
  /**
   * Served to anyone who reaches it: the server listens on a loopback address with no proxy in
   * front, so only this machine does.
   */
  open: boolean;
  /** A bearer token that reads the metrics and nothing else (a scraper's). */
  token?: string | undefined;
  /** Who a request is signed in as (an admin's token or session also reads the metrics). */
  signIn: (request: FastifyRequest) => Promise<Connection>;
  onError: (error: unknown, where: string) => void;
}

/**
 * `GET /metrics`, in Prometheus' text format (decision 0032): open on a loopback address with no
 * proxy in front; otherwise for the metrics token (`--metrics-token-file`) or an admin.
 */
export function registerMetrics(app: FastifyInstance, options: MetricsRouteOptions): void {
  const expected = options.token === undefined ? undefined : digest(options.token);
  app.get('/metrics', async (request, reply) => {
    if (!options.open) {
      const bearer = bearerOf(request.headers.authorization);
      const scraper =
        expected !== undefined && bearer !== undefined && timingSafeEqual(digest(bearer), expected);
      if (!scraper) {
        const refusal = await admitted(request);
        if (refusal) return refuse(reply, refusal);
      }
    }
    try {
      const text = await options.metrics.text();
      return reply.header('cache-control', 'no-store').type(options.metrics.contentType).send(text);
    } catch (error) {
      options.onError(error, 'collecting metrics');
      return refuse(
        reply,
        new DroverError('DROVER_E_INTERNAL', 'The metrics could not be collected.'),
      );
    }
  });

  /** Undefined when an admin signed in; else why not. */
  async function admitted(request: FastifyRequest): Promise<DroverError | undefined> {
    try {
      const { principal } = await options.signIn(request);
      if (principal?.role === 'admin') return undefined;
      return new DroverError(
        'DROVER_E_FORBIDDEN',
        "The metrics are for the farm's metrics token or an admin.",
      );
    } catch (error) {
      if (isDroverError(error)) {
        return error.code === 'DROVER_E_UNAUTHORIZED'
          ? new DroverError(
              'DROVER_E_UNAUTHORIZED',
              'GET /metrics needs Authorization: Bearer with the metrics token (drover server --metrics-token-file) or an admin token.',
            )
          : error;
      }
      options.onError(error, 'signing in a metrics scrape');
      return new DroverError('DROVER_E_INTERNAL', undefined, { cause: error });
    }
  }
}

function refuse(reply: FastifyReply, error: DroverError): FastifyReply {
  const status =
    { DROVER_E_UNAUTHORIZED: 401, DROVER_E_FORBIDDEN: 403, DROVER_E_RATE_LIMITED: 429 }[
      error.code as string
    ] ?? (error.code === 'DROVER_E_DATABASE_UNAVAILABLE' ? 503 : 500);
  if (status === 401) reply.header('www-authenticate', 'Bearer');
  if (status === 429) reply.header('retry-after', '60');
  return reply
    .code(status)
    .type('application/json')
    .send({ error: error.toRpcError().data, message: error.message });
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
