import { createHash, randomBytes } from 'node:crypto';
import {
  ArtifactId,
  DroverError,
  JobId,
  TOKEN_PREFIX,
  TaskId,
  TokenGrant,
  TokenId,
  parseOrThrow,
} from '@drover/protocol';
import type { Principal, TokenRecord } from '@drover/protocol';
import type { Database, Queryable } from './database.js';

/** How long a browser's session lasts after signing in. */
export const SESSION_MS = 7 * 24 * 3600 * 1000;
/** How long a one-time sign-in link stays usable. */
export const LOGIN_CODE_MS = 3600 * 1000;

/** What a resource's group is asked by: a job, a task or an artifact. */
export type GroupRef = { jobId: string } | { taskId: string } | { artifactId: string };

/** A token whose secret was read, and whether it may still be used. */
export interface FoundToken {
  token: TokenRecord;
  /** Neither revoked nor expired. */
  valid: boolean;
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** The sha256 of a secret, in hex: what the database keeps instead of the secret. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** A new token's secret: the prefix and 256 random bits. */
export function newTokenSecret(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

function newTokenId(): string {
  // 256 is a multiple of 62 plus 8: bytes past 247 are drawn again, so every letter is as likely.
  let id = '';
  while (id.length < 12) {
    for (const byte of randomBytes(16)) {
      if (byte < 248 && id.length < 12) id += ALPHANUMERIC[byte % 62];
    }
  }
  return `tok_${id}`;
}

export function principalOf(token: TokenRecord): Principal {
  return {
    tokenId: token.id,
    name: token.name,
    role: token.role,
    groups: token.groups,
    taskTypes: token.taskTypes,
    tags: token.tags,
  };
}

const TOKEN_BY_HASH = `
  WITH found AS (SELECT * FROM tokens WHERE hash = decode($1, 'hex')),
  touched AS (
    UPDATE tokens t SET last_used_at = now() FROM found f
    WHERE t.id = f.id AND f.revoked_at IS NULL
      AND (f.last_used_at IS NULL OR f.last_used_at < now() - interval '1 minute')
    RETURNING t.id
  )
  SELECT token_json(f) AS token,
         f.revoked_at IS NULL AND (f.expires_at IS NULL OR f.expires_at > now()) AS valid
  FROM found f`;

const SESSION_TOKEN = `
  SELECT token_json(t) AS token FROM sessions s JOIN tokens t ON t.id = s.token_id
  WHERE s.hash = decode($1, 'hex') AND s.expires_at > now()
    AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())`;

/**
 * Tokens, browser sessions and one-time sign-in links. Secrets are random and only their sha256
 * is stored: a copy of the database lets nobody in.
 */
export class Accounts {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /**
   * Makes a token and returns its secret, which is nowhere else: show it once. `secret` imports
   * one chosen elsewhere (a local credential file written by an older version).
   */
  async createToken(
    input: unknown,
    options: { createdBy?: string; secret?: string } = {},
  ): Promise<{ token: TokenRecord; secret: string }> {
    const grant = parseOrThrow(TokenGrant, input, 'token');
    const secret = options.secret ?? newTokenSecret();
    const [row] = await this.#db.query<{ token: TokenRecord }>(
      `INSERT INTO tokens (id, name, role, groups, task_types, tags, hash, created_by, expires_at)
       VALUES ($1, $2, $3, $4::jsonb, $5::text[], $6::text[], decode($7, 'hex'), $8,
               now() + make_interval(days => $9::int))
       RETURNING token_json(tokens) AS token`,
      [
        newTokenId(),
        grant.name,
        grant.role,
        JSON.stringify(grant.groups ?? {}),
        grant.taskTypes ?? null,
        grant.tags ?? null,
        hashSecret(secret),
        options.createdBy ?? null,
        grant.expiresInDays ?? null,
      ],
    );
    if (!row) throw new Error('inserting a token returned no row');
    return { token: row.token, secret };
  }

  /** Every token, newest first. */
  async listTokens(): Promise<TokenRecord[]> {
    const rows = await this.#db.query<{ token: TokenRecord }>(
      'SELECT token_json(t) AS token FROM tokens t ORDER BY t.created_at DESC, t.id',
    );
    return rows.map((r) => r.token);
  }

  /** Revokes a token (again is no error) and ends its sessions and sign-in links. */
  async revokeToken(id: string): Promise<TokenRecord> {
    parseOrThrow(TokenId, id, 'token id');
    const token = await this.#db.transaction(async (tx) => {
      const [row] = await tx.query<{ token: TokenRecord }>(
        `UPDATE tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1
         RETURNING token_json(tokens) AS token`,
        [id],
      );
      if (!row) throw new DroverError('DROVER_E_NOT_FOUND', `There is no token ${id}.`);
      await tx.query('DELETE FROM sessions WHERE token_id = $1', [id]);
      await tx.query('DELETE FROM login_codes WHERE token_id = $1', [id]);
      return row.token;
    });
    return token;
  }

  /** The token with this secret, valid or not (revoked, expired), if there is one. */
  async findToken(secret: string): Promise<FoundToken | undefined> {
    const [row] = await this.#db.query<{ token: TokenRecord; valid: boolean }>(TOKEN_BY_HASH, [
      hashSecret(secret),
    ]);
    return row && { token: row.token, valid: row.valid };
  }

  /** Who a token's secret signs in as, or undefined for an unknown, revoked or expired one. */
  async authenticate(secret: string): Promise<Principal | undefined> {
    const found = await this.findToken(secret);
    return found?.valid ? principalOf(found.token) : undefined;
  }

  /** A one-time sign-in code for a token: `GET /login?code=<code>` signs a browser in. */
  async createLoginCode(
    tokenId: string,
    ttlMs = LOGIN_CODE_MS,
  ): Promise<{ code: string; expiresAt: string }> {
    const code = randomBytes(24).toString('base64url');
    const [row] = await this.#db.query<{ expires_at: string }>(
      `INSERT INTO login_codes (hash, token_id, expires_at)
       VALUES (decode($1, 'hex'), $2, now() + make_interval(secs => $3::float8 / 1000))
       RETURNING to_json(expires_at) #>> '{}' AS expires_at`,
      [hashSecret(code), tokenId, ttlMs],
    );
    return { code, expiresAt: row?.expires_at ?? '' };
  }

  /**
   * Uses up a sign-in code and opens a session for its token; undefined when the code is unknown,
   * used, expired, or its token revoked.
   */
  async redeemLoginCode(
    code: string,
    ttlMs = SESSION_MS,
  ): Promise<{ session: string; principal: Principal } | undefined> {
    return this.#db.transaction(async (tx) => {
      await tx.query('DELETE FROM login_codes WHERE expires_at < now()');
      const [row] = await tx.query<{ token_id: string }>(
        `DELETE FROM login_codes WHERE hash = decode($1, 'hex') AND expires_at > now()
         RETURNING token_id`,
        [hashSecret(code)],
      );
      if (!row) return undefined;
      const [token] = await tx.query<{ token: TokenRecord }>(
        `SELECT token_json(t) AS token FROM tokens t WHERE id = $1 AND revoked_at IS NULL
           AND (expires_at IS NULL OR expires_at > now())`,
        [row.token_id],
      );
      if (!token) return undefined;
      const session = await insertSession(tx, row.token_id, ttlMs);
      return { session, principal: principalOf(token.token) };
    });
  }

  /** Opens a browser session for a token already authenticated. */
  async createSession(tokenId: string, ttlMs = SESSION_MS): Promise<string> {
    return this.#db.transaction((tx) => insertSession(tx, tokenId, ttlMs));
  }

  /** Who a session's secret signs in as, while it and its token last. */
  async sessionPrincipal(session: string): Promise<Principal | undefined> {
    const [row] = await this.#db.query<{ token: TokenRecord }>(SESSION_TOKEN, [
      hashSecret(session),
    ]);
    return row && principalOf(row.token);
  }

  async endSession(session: string): Promise<void> {
    await this.#db.query(`DELETE FROM sessions WHERE hash = decode($1, 'hex')`, [
      hashSecret(session),
    ]);
  }

  /**
   * Adds calls to tokens' counts for the minute starting at `windowStart` (ms since the epoch)
   * and returns the totals, every server's calls included; older minutes are forgotten.
   */
  async addRequests(
    windowStart: number,
    counts: readonly { tokenId: string; calls: number }[],
  ): Promise<{ tokenId: string; calls: number }[]> {
    if (counts.length === 0) return [];
    return this.#db.transaction(async (tx) => {
      await tx.query(
        `DELETE FROM rate_counts WHERE window_start < to_timestamp($1::float8 / 1000) - interval '2 minutes'`,
        [windowStart],
      );
      const rows = await tx.query<{ token_id: string; calls: number }>(
        `INSERT INTO rate_counts AS c (token_id, window_start, calls)
         SELECT token_id, to_timestamp($1::float8 / 1000), calls
         FROM unnest($2::text[], $3::int[]) AS r(token_id, calls)
         ORDER BY token_id
         ON CONFLICT (token_id, window_start) DO UPDATE SET calls = c.calls + EXCLUDED.calls
         RETURNING token_id, calls`,
        [windowStart, counts.map((c) => c.tokenId), counts.map((c) => c.calls)],
      );
      return rows.map((r) => ({ tokenId: r.token_id, calls: Number(r.calls) }));
    });
  }

  /** The group a job, task or artifact belongs to; undefined when there is no such record. */
  async groupOf(ref: GroupRef): Promise<string | undefined> {
    let statement: string;
    let id: string;
    if ('jobId' in ref) {
      if (!JobId.safeParse(ref.jobId).success) return undefined;
      statement = 'SELECT group_name FROM jobs WHERE id = $1';
      id = ref.jobId;
    } else if ('taskId' in ref) {
      if (!TaskId.safeParse(ref.taskId).success) return undefined;
      statement =
        'SELECT j.group_name FROM tasks t JOIN jobs j ON j.id = t.job_id WHERE t.id = $1::bigint';
      id = ref.taskId;
    } else {
      if (!ArtifactId.safeParse(ref.artifactId).success) return undefined;
      statement =
        'SELECT j.group_name FROM artifacts a JOIN jobs j ON j.id = a.job_id WHERE a.id = $1';
      id = ref.artifactId;
    }
    const [row] = await this.#db.query<{ group_name: string }>(statement, [id]);
    return row?.group_name;
  }
}

async function insertSession(tx: Queryable, tokenId: string, ttlMs: number): Promise<string> {
  const session = randomBytes(32).toString('base64url');
  await tx.query('DELETE FROM sessions WHERE expires_at < now()');
  await tx.query(
    `INSERT INTO sessions (hash, token_id, expires_at)
     VALUES (decode($1, 'hex'), $2, now() + make_interval(secs => $3::float8 / 1000))`,
    [hashSecret(session), tokenId, ttlMs],
  );
  return session;
}
