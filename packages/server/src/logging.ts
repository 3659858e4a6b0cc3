import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { LogController } from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';

/** pino's levels, most severe first; `silent` logs nothing. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What the server's own parts log through: fastify's logger (pino), or a part of it. */
export interface Log {
  error(object: object, message: string): void;
  warn(object: object, message: string): void;
  info(object: object, message: string): void;
  debug(object: object, message: string): void;
}

/** Query parameters whose values are credentials: a sign-in link's code, a token, a lease. */
const SECRET_PARAM = /code|token|secret|key|pass|lease|session|auth|sig/i;

/** Paths a probe or a scraper asks every few seconds: logged at debug, not info. */
const PROBES = new Set(['/healthz', '/readyz', '/metrics']);

/** An incoming `X-Request-Id` is kept if it is short and plain; else the server makes one. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Fastify's settings for structured logs (decision 0032): JSON lines on stdout at `level`, one
 * per HTTP request with its request id (an incoming `X-Request-Id`, else a new UUID), and never
 * a credential: authorization and cookie headers are redacted wherever they appear, and the
 * values of query parameters such as `code` or `token` are replaced in logged URLs.
 */
export function loggerSettings(
  level: LogLevel,
): Pick<FastifyServerOptions, 'logger' | 'genReqId' | 'requestIdHeader' | 'logController'> {
  const ids = {
    requestIdHeader: false as const,
    genReqId: (request: IncomingMessage) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  };
  if (level === 'silent') return { logger: false, ...ids };
  return {
    ...ids,
    logger: {
      level,
      base: { pid: process.pid, service: 'drover-server' },
      timestamp: () => `,"time":"${new Date().toISOString()}"`,
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'headers.authorization',
          'headers.cookie',
          'res.headers["set-cookie"]',
          '*.token',
          '*.secret',
          'token',
          'secret',
        ],
        censor: '[redacted]',
      },
      serializers: {
        req: (request: { method: string; url: string; ip?: string }) => ({
          method: request.method,
          url: redactUrl(request.url),
          remoteAddress: request.ip,
        }),
      },
    },
    logController: new RequestLines({ requestIdLogLabel: 'reqId' }),
  };
}

/**
 * One line per answered request, with what it asked and how it was answered, rather than two;
 * at debug for probes and scrapes, which come every few seconds. Errors keep fastify's lines.
 */
class RequestLines extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.trace({ req: request }, 'incoming request');
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const line = {
      req: request,
      res: { statusCode: reply.statusCode },
      responseTime: Math.round(reply.elapsedTime * 10) / 10,
    };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else if (PROBES.has(request.url.split('?', 1)[0] ?? ''))
      reply.log.debug(line, 'request completed');
    else reply.log.info(line, 'request completed');
  }
}

/** Every answer carries its request's id, for a person to quote and find in the logs. */
export function echoRequestIds(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
}

/** A URL with the values of its credential-like query parameters replaced. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      return eq >= 0 && SECRET_PARAM.test(decodeSafe(name)) ? `${name}=[redacted]` : pair;
    })
    .join('&');
  return `${url.slice(0, q)}?${query}`;
}

function decodeSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
