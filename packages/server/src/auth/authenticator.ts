import { hashSecret } from '@drover/engine';
import type { Accounts } from '@drover/engine';
import type { Principal } from '@drover/protocol';
import { SignInFailures } from './rate-limit.js';

/** What a request or a connection signed in with: a token, or a browser's session cookie. */
export interface Credential {
  kind: 'token' | 'session';
  secret: string;
}

interface Cached {
  principal: Principal | undefined;
  at: number;
  pending?: Promise<Principal | undefined>;
}

/** Lookups kept at once; past this the oldest go first. */
const MAX_CACHED = 10_000;

/**
 * Who a credential signs in as, asked of the database at most once per `ttlMs` per credential:
 * a thousand workers sharing one token cost one query per interval, and a revoked token or an
 * ended session stops working everywhere within that time (connections are checked again on
 * the same clock, see `stillValid`).
 */
export class Authenticator {
  readonly #accounts: Accounts;
  readonly #ttlMs: number;
  readonly #cache = new Map<string, Cached>();
  readonly #failures = new SignInFailures(60);
  /** Credentials found valid lately (their keys), oldest first. */
  readonly #recentlyValid = new Set<string>();

  constructor(accounts: Accounts, ttlMs = 5000) {
    this.#accounts = accounts;
    this.#ttlMs = ttlMs;
  }

  /**
   * Who a sign-in from `address` is: as `authenticate`, but an address that failed too often
   * this minute is refused with DROVER_E_RATE_LIMITED before anything is looked up.
   */
  async signIn(
    credential: Credential,
    address: string | undefined,
  ): Promise<Principal | undefined> {
    // A credential that signed in lately still does: guesses from its address (behind a proxy,
    // everyone's) must not lock its holders out.
    if (!this.#recentlyValid.has(keyOf(credential))) this.refuseIfFailing(address);
    const principal = await this.authenticate(credential);
    if (!principal) this.failedFrom(address);
    return principal;
  }

  /** Throws DROVER_E_RATE_LIMITED for an address that failed to sign in too often this minute. */
  refuseIfFailing(address: string | undefined): void {
    this.#failures.check(address ?? 'unknown');
  }

  /** A sign-in (a token, a session, a sign-in code) from this address failed. */
  failedFrom(address: string | undefined): void {
    this.#failures.failed(address ?? 'unknown');
  }

  /** The principal, or undefined for an unknown, revoked or expired credential. */
  async authenticate(credential: Credential): Promise<Principal | undefined> {
    const key = keyOf(credential);
    const now = Date.now();
    const cached = this.#cache.get(key);
    if (cached?.pending) return cached.pending;
    if (cached && now - cached.at < this.#ttlMs) return cached.principal;
    const pending = (
      credential.kind === 'token'
        ? this.#accounts.authenticate(credential.secret)
        : this.#accounts.sessionPrincipal(credential.secret)
    ).then(
      (principal) => {
        this.#cache.delete(key);
        this.#cache.set(key, { principal, at: Date.now() });
        this.#recentlyValid.delete(key);
        if (principal) {
          this.#recentlyValid.add(key);
          if (this.#recentlyValid.size > MAX_CACHED) {
            const oldest = this.#recentlyValid.values().next();
            if (!oldest.done) this.#recentlyValid.delete(oldest.value);
          }
        }
        return principal;
      },
      (error: unknown) => {
        this.#cache.delete(key);
        throw error;
      },
    );
    this.#cache.set(key, { principal: cached?.principal, at: cached?.at ?? 0, pending });
    if (this.#cache.size > MAX_CACHED) {
      const oldest = this.#cache.keys().next();
      if (!oldest.done) this.#cache.delete(oldest.value);
    }
    return pending;
  }

  /** Forgets what is known of a credential: a session just ended must not outlive its cache. */
  forget(credential: Credential): void {
    this.#cache.delete(keyOf(credential));
    this.#recentlyValid.delete(keyOf(credential));
  }

  /** Forgets everything: a token was revoked through this server. */
  clear(): void {
    this.#cache.clear();
  }

  /**
   * Whether a connection's credential still holds: false once its token is revoked or expired,
   * or its session ended. A database that does not answer keeps the connection.
   */
  async stillValid(credential: Credential): Promise<boolean> {
    try {
      return (await this.authenticate(credential)) !== undefined;
    } catch {
      return true;
    }
  }
}

function keyOf(credential: Credential): string {
  return `${credential.kind}:${hashSecret(credential.secret)}`;
}
