import { openEngine } from '@drover/engine';
import type { TokenGrant, TokenRecord } from '@drover/protocol';
import type { Config } from '../config.js';
import { age, table } from '../format.js';
import { call, clientOf } from '../rpc-client.js';
import type { Output } from './output.js';

/** What `drover tokens create` reads from the command line besides the config. */
export interface GrantFlags {
  role: string | undefined;
  name: string | undefined;
  /** `group` (read) or `group:write`, comma-separated; `*` for every group. */
  groups: string | undefined;
  taskTypes: string | undefined;
  tags: string | undefined;
  expiresInDays: string | undefined;
}

const USAGE =
  'drover tokens create --role admin|member|worker --name NAME [--groups g1:write,g2] [--task-types a,b] [--tags t1,t2] [--expires-in-days N] | tokens ls | tokens revoke <token id>';

/**
 * `drover tokens create|ls|revoke`: an admin's tokens. Through the server with an admin token;
 * with `--database-url`, straight in the database (the first admin token of a farm on PostgreSQL).
 */
export async function tokens(
  config: Config,
  output: Output,
  action: string | undefined,
  args: string[],
  flags: GrantFlags,
): Promise<void> {
  switch (action) {
    case 'create': {
      const grant = grantOf(flags);
      const { token, secret } = config.databaseUrl
        ? await direct(config, (engine) => engine.accounts.createToken(grant))
        : await call(config, 'tokens.create', grant as never);
      if (output.json) {
        console.log(JSON.stringify({ token, secret }, null, 2));
        return;
      }
      // The secret alone on stdout, so that `> token-file` keeps it; what it is on stderr.
      console.error(`made ${token.id} "${token.name}" (${describe(token)})`);
      console.log(secret);
      console.error('Keep this token now: it is shown only this once (only its hash is kept).');
      return;
    }
    case 'ls':
    case undefined: {
      const list = config.databaseUrl
        ? await direct(config, (engine) => engine.accounts.listTokens())
        : (await call(config, 'tokens.list', {})).tokens;
      console.log(output.json ? JSON.stringify(list, null, 2) : tokensTable(list));
      return;
    }
    case 'revoke': {
      const id = args[0];
      if (!id) throw new Error(`Usage: ${USAGE}`);
      const token = config.databaseUrl
        ? await direct(config, (engine) => engine.accounts.revokeToken(id))
        : await call(config, 'tokens.revoke', { id });
      console.log(
        output.json
          ? JSON.stringify(token, null, 2)
          : `revoked ${token.id} "${token.name}": it no longer signs anything in`,
      );
      return;
    }
    default:
      throw new Error(`There is no tokens ${action}. Usage: ${USAGE}`);
  }
}

/** `drover login`: a one-time link that signs a browser in as this command's token. */
export async function login(config: Config): Promise<void> {
  const { path, expiresAt } = await call(config, 'auth.loginLink', {});
  // On the server that made it (any of a farm's would take it).
  console.log(new URL(path, clientOf(config).url).toString());
  console.error(`(one use, until ${expiresAt})`);
}

function grantOf(flags: GrantFlags): TokenGrant {
  if (!flags.role || !flags.name) throw new Error(`Usage: ${USAGE}`);
  const list = (value: string | undefined) =>
    value === undefined ? undefined : value.split(',').filter(Boolean);
  const groups = list(flags.groups)?.map((entry): [string, string] => {
    const at = entry.lastIndexOf(':');
    const access = at > 0 ? entry.slice(at + 1) : '';
    return access === 'read' || access === 'write' ? [entry.slice(0, at), access] : [entry, 'read'];
  });
  const taskTypes = list(flags.taskTypes);
  const tags = list(flags.tags);
  return {
    role: flags.role,
    name: flags.name,
    ...(groups && { groups: Object.fromEntries(groups) as Record<string, string> }),
    ...(taskTypes && { taskTypes }),
    ...(tags && { tags }),
    ...(flags.expiresInDays !== undefined && { expiresInDays: Number(flags.expiresInDays) }),
  } as TokenGrant;
}

async function direct<T>(
  config: Config,
  fn: (engine: Awaited<ReturnType<typeof openEngine>>) => Promise<T>,
): Promise<T> {
  const engine = await openEngine({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

/** `member: demo write, renders read`, `worker: task types a, b`, `admin`. */
function describe(token: TokenRecord): string {
  const parts: string[] = [];
  const groups = Object.entries(token.groups).map(([group, access]) => `${group} ${access}`);
  if (groups.length > 0) parts.push(groups.join(', '));
  if (token.taskTypes) parts.push(`task types ${token.taskTypes.join(', ')}`);
  if (token.tags) parts.push(`tags ${token.tags.join(', ') || 'none'}`);
  return parts.length > 0 ? `${token.role}: ${parts.join('; ')}` : token.role;
}

function tokensTable(list: TokenRecord[]): string {
  if (list.length === 0) return 'no tokens';
  return table(
    ['ID', 'NAME', 'ACCESS', 'CREATED', 'LAST USED', 'STATE'],
    list.map((t) => [
      t.id,
      t.name,
      describe(t),
      age(t.createdAt),
      t.lastUsedAt ? age(t.lastUsedAt) : 'never',
      t.revokedAt
        ? 'revoked'
        : t.expiresAt && Date.parse(t.expiresAt) <= Date.now()
          ? 'expired'
          : t.expiresAt
            ? `until ${t.expiresAt.slice(0, 10)}`
            : 'active',
    ]),
  );
}
