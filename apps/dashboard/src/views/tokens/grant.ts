import type { Role, TokenGrant, TokenRecord } from '@drover/protocol';

/** The new-token form as typed: lists are comma-separated. */
export interface GrantForm {
  name: string;
  role: Role;
  /** `group` (read) or `group:write`, comma-separated; `*` for every group. */
  groups: string;
  taskTypes: string;
  tags: string;
  expiresInDays: string;
}

function list(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/** The grant the form describes, or what is wrong with it (the server checks the rest). */
export function parseGrant(form: GrantForm): TokenGrant | string {
  if (form.name.trim() === '') return 'Name the token: who or what will hold it.';
  const grant: TokenGrant = { name: form.name.trim(), role: form.role };
  if (form.role === 'member') {
    const groups: Record<string, 'read' | 'write'> = {};
    for (const entry of list(form.groups)) {
      const at = entry.lastIndexOf(':');
      const access = at > 0 ? entry.slice(at + 1) : '';
      if (access === 'read' || access === 'write') groups[entry.slice(0, at)] = access;
      else groups[entry] = 'read';
    }
    if (Object.keys(groups).length === 0)
      return 'A member token needs at least one group (or * for every group).';
    grant.groups = groups;
  }
  if (form.role === 'worker') {
    if (form.taskTypes.trim() !== '') grant.taskTypes = list(form.taskTypes);
    if (form.tags.trim() !== '') grant.tags = list(form.tags);
  }
  if (form.expiresInDays.trim() !== '') {
    const days = Number(form.expiresInDays);
    if (!Number.isInteger(days) || days < 1) return 'Expires in days is a whole number from 1.';
    grant.expiresInDays = days;
  }
  return grant;
}

/** `demo write, renders read`, `task types a, b; tags gpu`, `every group`. */
export function describeAccess(
  token: Pick<TokenRecord, 'role' | 'groups' | 'taskTypes' | 'tags'>,
): string {
  if (token.role === 'admin') return 'admin: everything';
  if (token.role === 'member')
    return `member: ${Object.entries(token.groups)
      .map(([group, access]) => `${group === '*' ? 'every group' : group} ${access}`)
      .join(', ')}`;
  const limits = [
    token.taskTypes ? `task types ${token.taskTypes.join(', ')}` : 'any task type',
    token.tags ? `tags ${token.tags.join(', ') || 'none'}` : 'any tags',
  ];
  return `worker: ${limits.join('; ')}`;
}

export function tokenState(token: TokenRecord, now: number): 'revoked' | 'expired' | 'active' {
  if (token.revokedAt) return 'revoked';
  if (token.expiresAt && Date.parse(token.expiresAt) <= now) return 'expired';
  return 'active';
}
