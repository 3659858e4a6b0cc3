import type { FastifyInstance, FastifyReply } from 'fastify';
import { SESSION_MS } from '@drover/engine';
import type { Accounts } from '@drover/engine';
import { DroverError, TokenSecret, authHttp, isDroverError } from '@drover/protocol';
import { sameOrigin } from '../host-check.js';
import type { Authenticator } from './authenticator.js';
import { sessionCookie, sessionSetCookie } from './credentials.js';

export interface LoginRouteOptions {
  accounts: Accounts;
  authenticator: Authenticator;
  /** Mark the cookie Secure: the server is reached over HTTPS. */
  secure: boolean;
}

/**
 * How a browser signs in and out: `GET /login?code=...` (a one-time link the farm printed or
 * `drover login` made), `POST /login` with `{ "token": ... }` (the dashboard's sign-in form), and
 * `POST /logout`. Each signs in with a session cookie (HttpOnly, SameSite=Strict) standing for
 * the token; the token itself never reaches the page's scripts after the form.
 */
export function registerLogin(app: FastifyInstance, options: LoginRouteOptions): void {
  const { accounts, authenticator, secure } = options;
  const maxAge = SESSION_MS / 1000;

  app.get(authHttp.loginPath, async (request, reply) => {
    const code = (request.query as Record<string, unknown>).code;
    noStore(reply);
    try {
      authenticator.refuseIfFailing(request.ip);
    } catch {
      return reply.code(303).header('location', '/?signin=expired').send();
    }
    const redeemed =
      typeof code === 'string' && /^[A-Za-z0-9_-]{16,64}$/.test(code)
        ? await accounts.redeemLoginCode(code)
        : undefined;
    if (!redeemed) authenticator.failedFrom(request.ip);
    // Used, expired or made up: the dashboard says so and offers the sign-in form.
    if (!redeemed) return reply.code(303).header('location', '/?signin=expired').send();
    return reply
      .code(303)
      .header('set-cookie', sessionSetCookie(redeemed.session, maxAge, secure))
      .header('location', '/')
      .send();
  });

  app.post(authHttp.loginPath, async (request, reply) => {
    noStore(reply);
    const refusal = refuseForeign(request.headers['content-type'], request.raw);
    if (refusal) return reply.code(refusal.status).send(errorBody(refusal.error));
    let token: unknown;
    try {
      token = (
        JSON.parse(typeof request.body === 'string' ? request.body : '') as { token?: unknown }
      ).token;
    } catch {
      token = undefined;
    }
    const parsed = TokenSecret.safeParse(token);
    let principal;
    try {
      principal = parsed.success
        ? await authenticator.signIn({ kind: 'token', secret: parsed.data }, request.ip)
        : undefined;
    } catch (error) {
      if (!isDroverError(error, 'DROVER_E_RATE_LIMITED')) throw error;
      return reply.code(429).header('retry-after', '60').send(errorBody(error));
    }
    if (!principal) {
      return reply
        .code(401)
        .send(
          errorBody(
            new DroverError(
              'DROVER_E_UNAUTHORIZED',
              'That token is not known here, or was revoked, or has expired.',
            ),
          ),
        );
    }
    const session = await accounts.createSession(principal.tokenId);
    return reply
      .header('set-cookie', sessionSetCookie(session, maxAge, secure))
      .send({ principal });
  });

  app.post(authHttp.logoutPath, async (request, reply) => {
    noStore(reply);
    if (!sameOrigin(request.raw)) {
      return reply
        .code(403)
        .send(
          errorBody(
            new DroverError('DROVER_E_FORBIDDEN', 'A page of another site cannot sign you out.'),
          ),
        );
    }
    const session = sessionCookie(request.headers.cookie);
    if (session !== undefined) {
      await accounts.endSession(session);
      authenticator.forget({ kind: 'session', secret: session });
    }
    return reply
      .code(204)
      .header('set-cookie', sessionSetCookie('', 0, secure))
      .send();
  });
}

function noStore(reply: FastifyReply): void {
  reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
}

/** A sign-in form's POST must be JSON from a page of this server (or from no page). */
function refuseForeign(
  contentType: string | undefined,
  raw: Parameters<typeof sameOrigin>[0],
): { status: number; error: DroverError } | undefined {
  if (!/^application\/json\s*(;|$)/i.test(contentType ?? ''))
    return {
      status: 415,
      error: new DroverError(
        'DROVER_E_INVALID_REQUEST',
        'POST /login takes Content-Type: application/json.',
      ),
    };
  if (!sameOrigin(raw))
    return {
      status: 403,
      error: new DroverError('DROVER_E_FORBIDDEN', 'A page of another site cannot sign you in.'),
    };
  return undefined;
}

function errorBody(error: DroverError): { error: { code: string; message: string } } {
  return { error: { code: error.code, message: error.message } };
}
