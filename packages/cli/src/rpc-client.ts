import { lookup } from 'node:dns/promises';
import { join } from 'node:path';
import { ADDRESS_FILE } from './farm-address.js';
import { WebSocket } from 'ws';
import { DroverClient } from '@drover/client';
import type { WebSocketConstructor } from '@drover/client';
import { trustFile } from '@drover/worker';
import { LOCAL_ADMIN_FILE, clientToken } from './credentials.js';
import { DroverError, isDroverError } from '@drover/protocol';
import type { MethodName, MethodParams, MethodResult } from '@drover/protocol';

const clients = new Map<string, DroverClient>();

/** Where a command's calls go, and what it signs in with. */
export interface Target {
  /** The farm's servers, in the order they are tried (replicas of one farm). */
  server: readonly string[];
  token?: string | undefined;
  dataDir: string;
  /** A certificate authority to trust besides the system's (a PEM file). */
  caFile?: string | undefined;
  /** Where `server` came from: given, the data directory's farm, or the default. */
  serverFrom?: 'given' | 'data-dir' | 'default';
}

/** `ws`'s WebSocket, trusting `ca` as well as the system's authorities. */
function trustingWebSocket(ca: string[] | undefined): WebSocketConstructor {
  if (!ca) return WebSocket;
  return class extends WebSocket {
    constructor(url: string) {
      super(url, { ca });
    }
  };
}

/** How a command fetches from its server: trusting its CA file when it has one. */
export function fetchFor(target: Target): typeof fetch {
  return trustFile(target.caFile).fetch;
}

/**
 * The client of a farm, connected once per command over its WebSocket, signed in; when its
 * server goes away it moves on to the next one given.
 */
export function clientOf(target: Target): DroverClient {
  const token = clientToken(target);
  const key = `${target.server.join(',')} ${token ?? ''}`;
  let client = clients.get(key);
  if (!client) {
    const trust = trustFile(target.caFile);
    client = new DroverClient({
      url: target.server,
      WebSocket: trustingWebSocket(trust.ca),
      connectTimeoutMs: 5000,
      reconnect: { initialMs: 100, maxMs: 1000 },
      ...(token !== undefined && { token }),
    });
    clients.set(key, client);
  }
  return client;
}

/** Calls one method on a server; a server that does not answer gets a message saying what to do. */
export async function call<M extends MethodName>(
  target: Target,
  method: M,
  params: MethodParams<M>,
): Promise<MethodResult<M>> {
  try {
    return await clientOf(target).call(method, params);
  } catch (error) {
    // The server names the call's method ("Invalid params of jobs.get"); the user gave a
    // command, not a method.
    const internal = `Invalid params of ${method}: `;
    if (isDroverError(error, 'DROVER_E_INVALID_PARAMS') && error.message.startsWith(internal)) {
      throw new DroverError(
        'DROVER_E_INVALID_PARAMS',
        `The server refused this: ${error.message.slice(internal.length)}`,
        { details: error.details, cause: error },
      );
    }
    if (isDroverError(error, 'DROVER_E_UNAUTHORIZED')) {
      throw new DroverError('DROVER_E_UNAUTHORIZED', `${error.message} ${signInAdvice(target)}`, {
        cause: error,
      });
    }
    // Only a server that never answered gets this advice: a call lost on its way may have taken
    // effect, and its own message says so.
    if (
      error instanceof DroverError &&
      error.code === 'DROVER_E_CONNECTION_LOST' &&
      (error.details as { unreachable?: boolean } | undefined)?.unreachable === true
    ) {
      throw new DroverError('DROVER_E_CONNECTION_LOST', await unreachableAdvice(target), {
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * Fetches `path` from the farm: from the server the command's client is on, else from the others
 * in turn while one cannot be reached (replicas share their database and artifact store).
 */
export async function fetchFromFarm(
  target: Target,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const first = clientOf(target).url;
  const servers = [first, ...target.server.filter((url) => url !== first)];
  let failure: unknown;
  for (const server of servers) {
    try {
      return await fetchFor(target)(new URL(path, server), init);
    } catch (error) {
      failure = error;
    }
  }
  throw failure;
}

/** Why no server answered, as far as this machine can tell, and what to do. */
async function unreachableAdvice(target: Target): Promise<string> {
  for (const server of target.server) {
    const { hostname } = new URL(server);
    try {
      await lookup(hostname.replace(/^\[|\]$/g, ''));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
        return `The server's host name "${hostname}" (in ${server}) is not known here (${code}): check --server for a typo, or the network's name service.`;
    }
  }
  const server = target.server.join(' or ');
  const from =
    target.serverFrom === 'data-dir'
      ? ` (the address the farm of ${target.dataDir}/ wrote in ${join(target.dataDir, ADDRESS_FILE)}; it did not stop cleanly)`
      : target.serverFrom === 'default'
        ? ` (no farm has written its address in ${join(target.dataDir, ADDRESS_FILE)}: is it running with another --data-dir?)`
        : '';
  const tls =
    target.server.some((url) => url.startsWith('https:')) && target.caFile === undefined
      ? ' Over HTTPS, a server whose certificate is self-signed or from a private authority needs --ca-file FILE.'
      : '';
  return `No Drover server answers at ${server}${from}. Start one with \`drover up\` or pass --server.${tls}`;
}

/** Closes every connection a command opened. */
export function closeClients(): void {
  for (const client of clients.values()) client.close();
  clients.clear();
}

/** What to do when the server does not take this command's token, or it has none. */
function signInAdvice(target: Target): string {
  if (target.token !== undefined)
    return 'The token given (--token-file, DROVER_TOKEN or the config file) was refused.';
  return `Give a token with --token-file FILE or DROVER_TOKEN (on the farm's own machine, ${join(target.dataDir, LOCAL_ADMIN_FILE)} is used by itself).`;
}
