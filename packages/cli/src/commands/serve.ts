import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { openEngine } from '@drover/engine';
import type { Engine } from '@drover/engine';
import { startServer } from '@drover/server';
import type { DroverServer, LogLevel } from '@drover/server';
import type { Config } from '../config.js';
import { metricsToken } from '../config.js';
import { removeAddress, writeAddress } from '../farm-address.js';
import {
  LOCAL_ADMIN_FILE,
  LOCAL_WORKER_FILE,
  ensureLocalToken,
  isLoopbackHost,
} from '../credentials.js';

export interface RunningServer {
  engine: Engine;
  server: DroverServer;
  /** The local credentials in the data directory, when this farm keeps them. */
  local: LocalCredentials | undefined;
  close(): Promise<void>;
}

export interface LocalCredentials {
  admin: { secret: string; tokenId: string };
  worker: { secret: string; tokenId: string };
}

/**
 * Opens the engine (embedded unless a database URL is set) and starts the server on it. With
 * `local`, the farm keeps an admin and a worker credential in its data directory (mode 0600),
 * for the commands and workers of this machine.
 */
export async function serve(
  config: Config,
  migrate: boolean,
  local: boolean,
  logLevel: LogLevel = 'info',
): Promise<RunningServer> {
  const dataDir = resolve(config.dataDir);
  const scraperToken = metricsToken(config);
  const engine = await openEngine({ databaseUrl: config.databaseUrl, dataDir, migrate });
  try {
    const credentials = local
      ? {
          admin: await ensureLocalToken(engine, join(dataDir, LOCAL_ADMIN_FILE), {
            name: 'local admin',
            role: 'admin',
          }),
          worker: await ensureLocalToken(engine, join(dataDir, LOCAL_WORKER_FILE), {
            name: 'local workers',
            role: 'worker',
          }),
        }
      : undefined;
    const server = await startServer({
      engine,
      host: config.host,
      port: config.port,
      ...(config.tlsCert !== undefined &&
        config.tlsKey !== undefined && {
          tls: { cert: readPem(config.tlsCert, 'certificate'), key: readPem(config.tlsKey, 'key') },
        }),
      coalesceMs: config.coalesceMs,
      leaseMs: config.leaseMs,
      secureCookies: config.secureCookies || config.tlsCert !== undefined,
      rateLimitPerMinute: config.rateLimitPerMinute,
      history: { sampleMs: config.sampleMs },
      trustProxy: config.trustProxy,
      allowedHosts: config.allowedHosts,
      artifactsDir: join(dataDir, 'artifacts'),
      ...(config.advertiseUrl !== undefined && { advertiseUrl: config.advertiseUrl }),
      dashboardDir: dashboardDir(),
      logLevel: config.logLevel ?? logLevel,
      ...(scraperToken !== undefined && { metricsToken: scraperToken }),
      retention: { farmMs: config.retention },
    });
    if (!isLoopbackHost(config.host) && config.tlsCert === undefined)
      console.error(exposedWarning(config.host, config.port));
    // Commands on this machine find the farm of this data directory here, whatever its port.
    if (local) writeAddress(dataDir, server.url);
    return {
      engine,
      server,
      local: credentials,
      close: async () => {
        if (local) removeAddress(dataDir);
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

/** A PEM file of the TLS certificate or key, or a clear error. */
function readPem(path: string, what: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`Cannot read the TLS ${what} ${path}: ${(error as Error).message}`);
  }
  if (!pem.includes('-----BEGIN '))
    throw new Error(`The TLS ${what} ${path} is not a PEM file (-----BEGIN ...).`);
  return pem;
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

/** What a server reachable from other machines should have in front of it. */
function exposedWarning(host: string, port: number): string {
  return [
    `warning: listening on ${host}, where other machines can reach port ${port}.`,
    '  Every call needs a token, but tokens and session cookies cross the network in the clear:',
    '  serve HTTPS (behind a proxy that terminates TLS) before leaving a trusted network.',
    '  See docs/security.md.',
  ].join('\n');
}
