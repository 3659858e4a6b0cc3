import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Engine } from '@drover/engine';
import type { Role } from '@drover/protocol';

/** The local credentials a farm keeps in its data directory, each readable by its owner only. */
export const LOCAL_ADMIN_FILE = 'admin-token';
export const LOCAL_WORKER_FILE = 'worker-token';

export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[|\]$/g, '');
  return name === 'localhost' || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/**
 * The token commands sign in with: the configured one (`DROVER_TOKEN`, `--token-file`, the config
 * file), else, for a farm on this machine, the local admin credential in its data directory. It
 * is never sent to another machine's server: only when every server given is on this machine.
 */
export function clientToken(config: {
  token?: string | undefined;
  server: readonly string[];
  dataDir: string;
}): string | undefined {
  if (config.token !== undefined) return config.token;
  if (!config.server.every((url) => isLoopbackHost(new URL(url).hostname))) return undefined;
  return readSecret(join(config.dataDir, LOCAL_ADMIN_FILE));
}

function readSecret(file: string): string | undefined {
  try {
    const secret = (readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '').trim();
    return secret.length >= 8 ? secret : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The token kept in `file` (mode 0600), made when missing, and made again when it was revoked
 * or expired (whoever can read the data directory owns the farm anyway). A file from before
 * tokens had roles is taken in as it is, so that copies of it on other machines keep working.
 */
export async function ensureLocalToken(
  engine: Engine,
  file: string,
  grant: { name: string; role: Role },
): Promise<{ secret: string; tokenId: string }> {
  const secret = readSecret(file);
  if (secret !== undefined) {
    const found = await engine.accounts.findToken(secret);
    if (found?.valid && found.token.role === grant.role) return { secret, tokenId: found.token.id };
    if (!found) {
      const { token } = await engine.accounts.createToken(grant, { secret });
      return { secret, tokenId: token.id };
    }
  }
  const made = await engine.accounts.createToken(grant);
  writeSecret(file, made.secret);
  return { secret: made.secret, tokenId: made.token.id };
}

/** Written whole or not at all, readable by the owner only from the start. */
function writeSecret(file: string, secret: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  writeFileSync(partial, `${secret}\n`, { mode: 0o600 });
  renameSync(partial, file);
}
