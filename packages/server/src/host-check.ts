import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

/**
 * Which `Host` headers a server answers, against DNS rebinding: a page of another site whose name
 * the attacker points at 127.0.0.1 sends its own name as `Host`, and is refused.
 *
 * Bound to a loopback address, the server answers to loopback names (`localhost`, `127.0.0.1`,
 * `::1`) and the names in `allowed`. Bound to one address or name, to that and `allowed`. Bound to
 * every interface (`0.0.0.0`, `::`), it cannot know its names: it answers any unless `allowed`
 * lists them. Ports are not compared.
 */
export function hostChecker(
  bindHost: string,
  allowed: readonly string[] = [],
): (host: string | undefined) => boolean {
  const names = new Set(allowed.map((name) => name.toLowerCase().replace(/^\[|\]$/g, '')));
  const wildcard = bindHost === '0.0.0.0' || bindHost === '::' || bindHost === '';
  if (isLoopback(bindHost)) for (const name of LOOPBACK_NAMES) names.add(name);
  else if (!wildcard) names.add(bindHost.toLowerCase().replace(/^\[|\]$/g, ''));
  if (wildcard && allowed.length === 0) return () => true;
  return (host) => {
    const name = hostName(host);
    return name !== undefined && names.has(name);
  };
}

/** The name in a `Host` header, without its port or an IPv6 address's brackets. */
function hostName(host: string | undefined): string | undefined {
  if (!host) return undefined;
  try {
    return new URL(`http://${host}`).hostname.toLowerCase().replace(/^\[|\]$/g, '');
  } catch {
    return undefined;
  }
}

export function isLoopback(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (name === 'localhost' || name === '::1') return true;
  return isIP(name) === 4 && name.startsWith('127.');
}

/**
 * Whether a request comes from no page (programs send no `Origin`) or from a page of this server.
 * Stops another site from driving the farm through a user's browser.
 */
export function sameOrigin(request: IncomingMessage): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}
