import type { IncomingHttpHeaders } from 'node:http';
import { authHttp } from '@drover/protocol';
import type { Credential } from './authenticator.js';

/**
 * The credential a request carries: `Authorization: Bearer <token>`, else the session cookie.
 * A bearer that is an attempt's lease (`<attemptId>.<leaseToken>`, for artifacts) is not a token.
 */
export function requestCredential(headers: IncomingHttpHeaders): Credential | undefined {
  const bearer = bearerOf(headers.authorization);
  if (bearer !== undefined && !isLease(bearer)) return { kind: 'token', secret: bearer };
  const session = sessionCookie(headers.cookie);
  return session === undefined ? undefined : { kind: 'session', secret: session };
}

export function bearerOf(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S{1,512})\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** `<attemptId>.<leaseToken>`: decimal digits, a dot, a UUID. Tokens have no dot. */
export function isLease(bearer: string): boolean {
  return /^[0-9]+\.[0-9a-f-]{36}$/i.test(bearer);
}

/** The session cookie's value, if the request has one. */
export function sessionCookie(header: string | undefined): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== authHttp.sessionCookie) continue;
    const value = part.slice(eq + 1).trim();
    return /^[A-Za-z0-9_-]{16,128}$/.test(value) ? value : undefined;
  }
  return undefined;
}

/** The Set-Cookie of a session: never read by scripts, never sent by another site's page. */
export function sessionSetCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return [
    `${authHttp.sessionCookie}=${value}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${Math.floor(maxAgeSeconds)}`,
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}
