import { z } from 'zod';
import { GroupName, Tag, TaskTypeName } from './ids.js';

/**
 * What a token may do:
 * - `admin`: everything, tokens included;
 * - `member`: read, or read and write, the jobs of its groups (`*`: every group), and see the
 *   workers and task types;
 * - `worker`: only the worker methods (`workers.hello` and its reports), optionally limited to
 *   some task types and tags.
 */
export const Role = z.enum(['admin', 'member', 'worker']);
export type Role = z.infer<typeof Role>;

/** `read`: see a group's jobs, tasks, logs, artifacts and events; `write`: also submit and change. */
export const GroupAccess = z.enum(['read', 'write']);
export type GroupAccess = z.infer<typeof GroupAccess>;

/** The group a member's access names: a group's name, or `*` for every group. */
export const GroupPattern = z.union([z.literal('*'), GroupName]);

/** Every token starts with this, so that a leaked one is easy to recognise and search for. */
export const TOKEN_PREFIX = 'drover_';

/** A token as given to the server: what `tokens.create` returned once, or a legacy worker token. */
export const TokenSecret = z.string().min(8).max(512);

/** A token's public id, shown by `tokens.list` and used to revoke it. */
export const TokenId = z
  .string()
  .regex(/^tok_[A-Za-z0-9]{12}$/, 'a token id is tok_ and 12 letters or digits');

export const TokenRecord = z.object({
  id: TokenId,
  /** Who or what holds it: a person, a team, a machine. */
  name: z.string(),
  role: Role,
  /** A member's groups and its access to each. */
  groups: z.record(z.string(), GroupAccess),
  /** A worker token's task types, when limited; null: any. */
  taskTypes: z.array(z.string()).nullable(),
  /** A worker token's tags, when limited; null: any. */
  tags: z.array(z.string()).nullable(),
  createdAt: z.string(),
  /** The token that created it, when one did (not a local credential or the command line). */
  createdBy: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
export type TokenRecord = z.infer<typeof TokenRecord>;

/** What a new token may do, as `tokens.create` takes it. */
export const TokenGrant = z
  .object({
    name: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[^\p{Cc}]*$/u, 'a token name has no control characters'),
    role: Role,
    groups: z.record(GroupPattern, GroupAccess).optional(),
    taskTypes: z.array(TaskTypeName).max(1000).optional(),
    tags: z.array(Tag).max(1000).optional(),
    /** Days until it stops working. @defaultValue never */
    expiresInDays: z.int().min(1).max(3650).optional(),
  })
  .superRefine((grant, ctx) => {
    const groups = Object.keys(grant.groups ?? {});
    if (grant.role === 'member' && groups.length === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['groups'],
        message: 'a member token needs at least one group (or "*" for every group)',
      });
    if (grant.role !== 'member' && groups.length > 0)
      ctx.addIssue({
        code: 'custom',
        path: ['groups'],
        message: `groups apply to member tokens; an ${grant.role} token ${grant.role === 'admin' ? 'sees every group' : 'sees none'}`,
      });
    for (const key of ['taskTypes', 'tags'] as const)
      if (grant.role !== 'worker' && grant[key] !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `${key} limit worker tokens only`,
        });
  });
export type TokenGrant = z.infer<typeof TokenGrant>;

/** Who a connection is signed in as. */
export const Principal = z.object({
  tokenId: TokenId,
  name: z.string(),
  role: Role,
  groups: z.record(z.string(), GroupAccess),
  taskTypes: z.array(z.string()).nullable(),
  tags: z.array(z.string()).nullable(),
});
export type Principal = z.infer<typeof Principal>;

/** The HTTP routes of signing in, and the cookie they set. */
export const authHttp = {
  /** `GET /login?code=...`: a one-time sign-in link; `POST /login` with `{ token }`. */
  loginPath: '/login',
  /** `POST /logout`: ends the browser's session. */
  logoutPath: '/logout',
  sessionCookie: 'drover_session',
} as const;
