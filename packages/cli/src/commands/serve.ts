import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { openEngine } from '@drover/engine';
import type { Engine } from '@drover/engine';
import { startServer } from '@drover/server';
import type { DroverServer } from '@drover/server';
import type { Config } from '../config.js';

export interface RunningServer {
  engine: Engine;
  server: DroverServer;
  token: string;
  close(): Promise<void>;
}

/**
 * The worker token of an embedded farm: kept in its data directory, so workers started again
 * later (or on another machine, given the token) still get in.
 */
export function embeddedToken(dataDir: string): string {
  const file = join(dataDir, 'worker-token');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(dataDir, { recursive: true });
    const token = randomBytes(24).toString('base64url');
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    return token;
  }
}

/** Opens the engine (embedded unless a database URL is set) and starts the server on it. */
export async function serve(config: Config, migrate: boolean): Promise<RunningServer> {
  const dataDir = resolve(config.dataDir);
  const engine = await openEngine({ databaseUrl: config.databaseUrl, dataDir, migrate });
  const token = config.token ?? (config.databaseUrl ? undefined : embeddedToken(dataDir));
  if (!token) {
    await engine.close();
    throw new Error(
      'A server on a shared database needs a worker token: give --token-file FILE or set DROVER_TOKEN.',
    );
  }
  try {
    const server = await startServer({
      engine,
      host: config.host,
      port: config.port,
      workerToken: token,
      coalesceMs: config.coalesceMs,
      allowedHosts: config.allowedHosts,
      artifactsDir: join(dataDir, 'artifacts'),
      dashboardDir: dashboardDir(),
    });
    if (!isLoopback(config.host)) console.error(exposedWarning(config.host, config.port));
    return {
      engine,
      server,
      token,
      close: async () => {
        await server.close();
        await engine.close();
      },
    };
  } catch (error) {
    await engine.close();
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(
        `Port ${config.port} on ${config.host} is taken: is a farm already running? Pick another with --port.`,
      );
    }
    throw error;
  }
}

/** The built dashboard (`npm run build` makes it), or undefined when it is not installed. */
function dashboardDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    return join(dirname(require.resolve('@drover/dashboard/package.json')), 'dist');
  } catch {
    return undefined;
  }
}

function isLoopback(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[|\]$/g, '');
  return name === 'localhost' || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/** What a server reachable from other machines does not protect yet. */
function exposedWarning(host: string, port: number): string {
  return [
    `warning: listening on ${host}, where other machines can reach port ${port}.`,
    '  Workers need the worker token, but the client methods (submit, cancel, read every job,',
    '  log and artifact, disable workers) and the dashboard take no login yet: keep this port',
    '  on a network you trust, or behind a proxy that authenticates. See docs/security.md.',
  ].join('\n');
}
