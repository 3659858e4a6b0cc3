import { DroverError, authHttp, workerMethods } from '@drover/protocol';
import type { MethodResult, Principal, methods } from '@drover/protocol';
import type { Accounts } from '@drover/engine';
import type { z } from 'zod';
import type { RpcGuard } from '../rpc.js';
import type { Authenticator, Credential } from './authenticator.js';
import { signInFirst } from './authorize.js';
import type { Authorizer, WorkerScope } from './authorize.js';
import type { RateLimiter } from './rate-limit.js';

/** Who one connection (a WebSocket, or one HTTP request) is signed in as. */
export interface Connection {
  principal: Principal | undefined;
  credential: Credential | undefined;
}

/** Methods answered before signing in: the ways to sign in. */
const OPEN = new Set(['auth.login', 'workers.hello']);

/** The guard of a connection's calls: signed in first, then allowed by the authorizer. */
export function connectionGuard(
  connection: Connection,
  authorizer: Authorizer,
  options: { worker?: WorkerScope; limiter?: RateLimiter | undefined } = {},
): RpcGuard {
  const { worker, limiter } = options;
  return {
    async admit(method) {
      if (OPEN.has(method)) return;
      const principal = connection.principal;
      if (!principal) throw signInFirst();
      // The worker protocol grows with the fleet and is bounded by its slots, not by this.
      if (limiter && !Object.hasOwn(workerMethods, method)) await limiter.take(principal.tokenId);
    },
    async authorize(method, params) {
      // Worker methods are the hub's: it checks the connection said workers.hello.
      if (OPEN.has(method) || Object.hasOwn(workerMethods, method)) return;
      await authorizer.check(connection.principal, method, params, worker);
    },
  };
}

type AuthMethod =
  | 'auth.login'
  | 'auth.whoami'
  | 'auth.loginLink'
  | 'tokens.create'
  | 'tokens.list'
  | 'tokens.revoke';
type AuthHandlers = {
  [M in AuthMethod]: (params: z.output<(typeof methods)[M]['params']>) => Promise<MethodResult<M>>;
};

export interface AuthDeps {
  accounts: Accounts;
  authenticator: Authenticator;
  /** Where the connection comes from: failed sign-ins are limited per address. */
  address: string | undefined;
  /** A token was revoked here: end this server's connections signed in with it. */
  revoked: (tokenId: string) => void;
}

export function unknownToken(): DroverError {
  return new DroverError(
    'DROVER_E_UNAUTHORIZED',
    'The token is not known here, or was revoked, or has expired. Ask an admin for a token (drover tokens create).',
  );
}

/** Signing in, and the admin's token methods, for one connection. */
export function authHandlers(connection: Connection, deps: AuthDeps): AuthHandlers {
  const signedIn = (): Principal => {
    if (!connection.principal) throw signInFirst();
    return connection.principal;
  };
  return {
    'auth.login': async ({ token }) => {
      const credential: Credential = { kind: 'token', secret: token };
      const principal = await deps.authenticator.signIn(credential, deps.address);
      if (!principal) throw unknownToken();
      connection.principal = principal;
      connection.credential = credential;
      return principal;
    },
    'auth.whoami': () => Promise.resolve(signedIn()),
    'auth.loginLink': async () => {
      const { code, expiresAt } = await deps.accounts.createLoginCode(signedIn().tokenId);
      return { path: `${authHttp.loginPath}?code=${code}`, expiresAt };
    },
    'tokens.create': (grant) => deps.accounts.createToken(grant, { createdBy: signedIn().tokenId }),
    'tokens.list': async () => ({ tokens: await deps.accounts.listTokens() }),
    'tokens.revoke': async ({ id }) => {
      const token = await deps.accounts.revokeToken(id);
      deps.authenticator.clear();
      deps.revoked(id);
      return token;
    },
  };
}

/**
 * Whether a token may serve as this worker: a worker or admin token, whose task types and tags
 * (when limited) cover those the worker offers.
 */
export function admitWorker(
  principal: Principal,
  hello: { taskTypes: readonly string[]; tags: readonly string[] },
): void {
  if (principal.role !== 'worker' && principal.role !== 'admin') {
    throw new DroverError(
      'DROVER_E_FORBIDDEN',
      `A ${principal.role} token cannot serve as a worker: give the worker a worker token (drover tokens create --role worker).`,
    );
  }
  const outside = (offered: readonly string[], allowed: readonly string[] | null) =>
    allowed === null ? [] : offered.filter((name) => !allowed.includes(name));
  const types = outside(hello.taskTypes, principal.taskTypes);
  if (types.length > 0) {
    throw new DroverError(
      'DROVER_E_FORBIDDEN',
      `This worker token may not run the task types ${types.join(', ')} (it allows ${principal.taskTypes?.join(', ') ?? ''}).`,
    );
  }
  const tags = outside(hello.tags, principal.tags);
  if (tags.length > 0) {
    throw new DroverError(
      'DROVER_E_FORBIDDEN',
      `This worker token may not offer the tags ${tags.join(', ')} (it allows ${principal.tags?.join(', ') || 'none'}).`,
    );
  }
}
