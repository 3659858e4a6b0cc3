import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DroverError, parseDuration, parseOrThrow } from '@drover/protocol';
import { readAddress } from './farm-address.js';
import type { LogLevel } from '@drover/server';

/** The server's log levels (pino's), most severe first. */
const LOG_LEVELS = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
] as const satisfies readonly LogLevel[];

/** A yes-or-no setting: `true`/`1` and `false`/`0` from the command line or the environment. */
const onOff = z.preprocess(
  (v) => (v === 'false' || v === '0' ? false : v === 'true' || v === '1' ? true : v),
  z.boolean(),
);

/**
 * Everything the drover command can be configured with. Each setting comes from, in order of
 * precedence: a command-line flag, an environment variable (`DROVER_` + the name in capitals and
 * underscores), the config file (`--config`, default `drover.json` when it exists), then the
 * default here.
 */
export const Config = z.object({
  /** A PostgreSQL server; when absent the server runs PGlite in `dataDir`. */
  databaseUrl: z.string().min(1).optional(),
  /** @defaultValue `./data` */
  dataDir: z.string().min(1).default('data'),
  /** Where the server listens. @defaultValue `127.0.0.1` */
  host: z.string().min(1).default('127.0.0.1'),
  /**
   * More names the server answers to in the `Host` header, comma-separated on the command line.
   * On a loopback address it answers only to loopback names and these; on every interface
   * (`0.0.0.0`) to any name unless these list them.
   */
  allowedHosts: z
    .preprocess(
      (v) => (typeof v === 'string' ? v.split(',').filter(Boolean) : v),
      z.array(z.string().min(1)),
    )
    .default([]),
  /** @defaultValue 7400 */
  port: z.coerce.number().int().min(0).max(65_535).default(7400),
  /**
   * The server's URL, for workers and for commands that drive a farm; `host:port` means
   * `http://host:port`. Several, comma-separated (an array in the config file), are replicas of
   * one farm: the first is used first, and when it goes away the next. @defaultValue the farm of
   * `dataDir` on this machine (the address its `drover up` or `drover server` wrote there), else
   * `http://127.0.0.1:<port>`
   */
  server: z
    .preprocess(
      (v) => (typeof v === 'string' ? v.split(',').map((one) => one.trim()) : v),
      z
        .array(
          z.preprocess(
            (v) =>
              typeof v === 'string' && v !== '' && !/^[a-z][a-z0-9+.-]*:\/\//i.test(v)
                ? `http://${v}`
                : v,
            z.url({
              protocol: /^https?$/,
              error: 'a server URL such as http://farm:7400 (or farm:7400)',
            }),
          ),
        )
        .min(1, 'a server URL such as http://farm:7400 (or farm:7400)'),
    )
    .optional(),
  /**
   * The worker token: what a worker presents and what the server expects. From `DROVER_TOKEN`,
   * the config file or `tokenFile`, never the command line, where every user of the machine
   * could read it (`ps`, `/proc/<pid>/cmdline`).
   */
  token: z.string().min(8).optional(),
  /** A file whose first line is the worker token (an embedded farm's `<data dir>/worker-token`). */
  tokenFile: z.string().min(1).optional(),
  /**
   * A worker's name: the same name is the same worker. @defaultValue the host's name plus a
   * suffix kept in `stateDir`, one for each worker running at once
   */
  name: z.string().min(1).optional(),
  /**
   * Where a worker keeps its default name and the secret that lets it take its name back after a
   * restart. @defaultValue `$XDG_STATE_HOME/drover`, or `~/.local/state/drover`
   */
  stateDir: z.string().min(1).optional(),
  /** A worker's tags, comma-separated on the command line. */
  tags: z
    .preprocess(
      (v) => (typeof v === 'string' ? v.split(',').filter(Boolean) : v),
      z.array(z.string()),
    )
    .default([]),
  /** Tasks a worker runs at once. @defaultValue 1 */
  slots: z.coerce.number().int().min(1).max(1024).default(1),
  /** Local worker processes `drover up` starts. @defaultValue 2 */
  workers: z.coerce.number().int().min(0).max(64).default(2),
  /**
   * Whether `drover up` runs the fractal producer, and `drover worker` the demo's task types.
   * @defaultValue true
   */
  demo: onOff.default(true),
  /** Seconds between producer rounds. @defaultValue 3 */
  interval: z.coerce.number().min(0.1).max(3600).default(3),
  /**
   * Modules whose exported task definitions a worker runs (`--tasks FILE`, repeatable; comma-
   * separated in the environment), besides the demo's unless `demo` is false.
   */
  tasks: z
    .preprocess(
      (v) => (typeof v === 'string' ? v.split(',').filter(Boolean) : v),
      z.array(z.string().min(1)),
    )
    .default([]),
  /** A JSON file of shell-command task templates this worker runs, besides its task library. */
  shellTasks: z.string().min(1).optional(),
  /**
   * A subscription's coalescing window, in ms: progress and log lines at most once per window;
   * a change of state (a task or job ended) is sent at once. @defaultValue 200
   */
  coalesceMs: z.coerce.number().int().min(0).max(60_000).default(200),
  /**
   * How long a task's lease lasts without a worker's heartbeat, in ms. A worker silent for two of
   * its heartbeats (a third of this each) is unresponsive and offered nothing; one silent for the
   * whole lease loses its tasks to other workers; a server replica silent for two heartbeats is
   * taken for dead by its peers, which release its workers. @defaultValue 30000
   */
  leaseMs: z.coerce.number().int().min(1000).max(3_600_000).default(30_000),
  /** Serve HTTPS and WSS with this certificate (a PEM file, with its chain), and `tlsKey`. */
  tlsCert: z.string().min(1).optional(),
  /** The TLS certificate's private key (a PEM file). */
  tlsKey: z.string().min(1).optional(),
  /**
   * A certificate authority to trust besides the system's (a PEM file), for a server whose
   * certificate a private authority issued, or a self-signed one: for workers and commands.
   */
  caFile: z.string().min(1).optional(),
  /**
   * Behind one proxy (nginx): take a client's address from the last X-Forwarded-For entry, for
   * the limit on failed sign-ins per address. @defaultValue false
   */
  trustProxy: onOff.default(false),
  /**
   * Mark the dashboard's session cookie Secure: browsers reach the server over HTTPS, through a
   * proxy that terminates TLS. @defaultValue false
   */
  secureCookies: onOff.default(false),
  /**
   * Calls one token may make per minute, over every server of the farm (the worker protocol
   * apart); 0 for no limit. @defaultValue 3000
   */
  rateLimitPerMinute: z.coerce.number().int().min(0).max(100_000_000).default(3000),
  /**
   * How often the farm's servers record a sample of its history, for the dashboard's overview
   * (`farm.history`), in ms; one server of the farm records each. 0: this server records none.
   * @defaultValue 10000
   */
  sampleMs: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
  /** The group jobs go to. @defaultValue `default` */
  group: z.string().min(1).default('default'),
  /**
   * Where the farm's other servers reach this one, to fetch the files it holds. @defaultValue the
   * address it listens on; on every interface (`0.0.0.0`), the host's name and its port
   */
  advertiseUrl: z
    .url({ protocol: /^https?$/, error: 'a URL such as http://server-2:7400' })
    .optional(),
  /**
   * How much the server logs, as JSON lines on stdout: fatal, error, warn, info, debug, trace or
   * silent. @defaultValue `info` for `drover server`, `warn` for `drover up`
   */
  logLevel: z.enum(LOG_LEVELS, { error: `one of ${LOG_LEVELS.join(', ')}` }).optional(),
  /**
   * A file whose first line is the metrics token: a Prometheus scraper reads `GET /metrics` with
   * it as its bearer token. Needed off a loopback address (or behind a proxy) unless the scraper
   * uses an admin token.
   */
  metricsTokenFile: z.string().min(1).optional(),
  /**
   * How long a server keeps finished jobs in the groups without a retention of their own
   * (`drover groups retention`): a whole number and d, h, m or s, or `off` to keep them.
   * @defaultValue `30d`
   */
  retention: z
    .string()
    .default('30d')
    .transform((text, context) => {
      if (text === 'off') return null;
      try {
        const ms = parseDuration(text, 'retention');
        if (ms > 0) return ms;
      } catch {
        // Told below.
      }
      context.addIssue({
        code: 'custom',
        message: `a duration such as 30d, 12h, 30m or 90s (at least 1s), or off, not ${JSON.stringify(text)}`,
      });
      return z.NEVER;
    }),
});
/** The configuration, with the servers to talk to resolved (see `server` above). */
export type Config = Omit<z.output<typeof Config>, 'server'> & {
  /** The farm's servers, in the order they are tried: at least one, no two the same. */
  server: string[];
  /** Where `server` came from, for messages: given, the data directory's farm, or the default. */
  serverFrom: 'given' | 'data-dir' | 'default';
};

const KEYS = Object.keys(Config.shape) as (keyof Config)[];

/** `dataDir` → `DROVER_DATA_DIR`. */
export function envName(key: string): string {
  return `DROVER_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** `dataDir` → `data-dir`. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export interface ConfigSources {
  flags: Record<string, unknown>;
  env: NodeJS.ProcessEnv;
  /** The config file's path; a missing default file is fine, a missing named one is not. */
  file?: string | undefined;
}

/** Merges the sources by precedence and validates the result; nothing is read at import time. */
export function loadConfig(sources: ConfigSources): Config {
  const fromFile = readConfigFile(sources.file);
  const merged: Record<string, unknown> = {};
  for (const key of KEYS) {
    const flag = sources.flags[flagName(key)];
    const env = sources.env[envName(key)];
    const value = flag ?? (env === '' ? undefined : env) ?? fromFile[key];
    if (value !== undefined) merged[key] = value;
  }
  if (sources.flags.token !== undefined) {
    throw new DroverError(
      'DROVER_E_INVALID_PARAMS',
      'A token on the command line can be read by every user of this machine (ps, /proc): give it with --token-file FILE or the DROVER_TOKEN environment variable.',
    );
  }
  const parsed = parseOrThrow(Config, merged, 'configuration');
  const found = parsed.server === undefined ? readAddress(parsed.dataDir) : undefined;
  const config: Config = {
    ...parsed,
    server: parsed.server
      ? [...new Set(parsed.server)]
      : [found ?? `http://127.0.0.1:${parsed.port}`],
    serverFrom:
      parsed.server !== undefined ? 'given' : found !== undefined ? 'data-dir' : 'default',
  };
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    throw new DroverError(
      'DROVER_E_INVALID_PARAMS',
      'HTTPS takes both --tls-cert FILE and --tls-key FILE.',
    );
  }
  if (config.tokenFile !== undefined) config.token = readTokenFile(config.tokenFile);
  return config;
}

/** The metrics token of `metricsTokenFile`, read when a server starts. */
export function metricsToken(config: Config): string | undefined {
  if (config.metricsTokenFile === undefined) return undefined;
  const token = readTokenFile(config.metricsTokenFile);
  if (token.length < 16)
    throw new DroverError(
      'DROVER_E_INVALID_PARAMS',
      `The metrics token in ${config.metricsTokenFile} is too short to be a secret: give at least 16 characters (openssl rand -hex 32).`,
    );
  return token;
}

/** The token in the first line of a file, checked as `token` is. */
function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new DroverError(
      'DROVER_E_INVALID_PARAMS',
      `Cannot read the token file ${path}: ${(error as Error).message}`,
    );
  }
  const token = (text.split(/\r?\n/)[0] ?? '').trim();
  if (token.length < 8) {
    throw new DroverError(
      'DROVER_E_INVALID_PARAMS',
      `The token file ${path} does not start with a token (at least 8 characters on its first line).`,
    );
  }
  return token;
}

function readConfigFile(path: string | undefined): Record<string, unknown> {
  const file = path ?? 'drover.json';
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (path === undefined && (error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new DroverError(
      'DROVER_E_INVALID_PARAMS',
      `Cannot read the config file ${file}: ${(error as Error).message}`,
    );
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new DroverError(
      'DROVER_E_INVALID_PARAMS',
      `The config file ${file} is not a JSON object: ${(error as Error).message}`,
    );
  }
}
