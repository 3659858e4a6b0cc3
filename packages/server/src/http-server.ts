import { hostname } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { Server as HttpsServer } from 'node:https';
import type {
  FastifyHttpsOptions,
  FastifyInstance,
  FastifyRequest,
  FastifyServerOptions,
} from 'fastify';
import type { Engine } from '@drover/engine';
import { engineHandlers } from './handlers.js';
import { createRpcDispatcher } from './rpc.js';
import { WorkerHub } from './worker-hub.js';
import { DroverError, isDroverError, methods } from '@drover/protocol';
import type { ArtifactRecord, ErrorCode, Principal } from '@drover/protocol';
import { FileArtifactStore, registerArtifacts, replicaStore } from './artifacts/index.js';
import { registerDashboard } from './dashboard.js';
import { hostChecker, sameOrigin } from './host-check.js';
import { EventFanout } from './subscriptions.js';
import { serveSockets } from './socket-server.js';
import { Authenticator } from './auth/authenticator.js';
import { Authorizer, signInFirst, visibleGroups, visibleOverview } from './auth/authorize.js';
import { authHandlers, connectionGuard, unknownToken } from './auth/connection.js';
import type { Connection } from './auth/connection.js';
import { bearerOf, isLease, requestCredential } from './auth/credentials.js';
import { registerLogin } from './auth/login-routes.js';
import { RateLimiter } from './auth/rate-limit.js';
import { leaseCredential } from './artifacts/routes.js';
import type { ArtifactStore } from './artifacts/index.js';
import { SiteLinks } from './sites/site-links.js';
import { siteHandlers } from './sites/site-handlers.js';
import { scheduleHandlers } from './schedules/schedule-handlers.js';
import { ScheduleTicker } from './schedules/schedule-ticker.js';
import { ParamsCheck } from './params-check.js';
import { proxySiteArtifact } from './sites/site-proxy.js';
import { registerHealth } from './health.js';
import { loggerSettings, echoRequestIds } from './logging.js';
import type { LogLevel } from './logging.js';
import { ServerMetrics } from './metrics/server-metrics.js';
import { registerMetrics } from './metrics/routes.js';
import { isLoopback } from './host-check.js';
import { MetricsSampler } from './metrics-sampler.js';
import type { SamplerOptions } from './metrics-sampler.js';
import { WebhookDeliverer } from './webhooks/deliverer.js';
import type { DelivererOptions } from './webhooks/deliverer.js';
import { webhookHandlers } from './webhooks/handlers.js';
import { Retention } from './retention.js';
import type { RetentionOptions } from './retention.js';

export interface ServerOptions {
  engine: Engine;
  /** @defaultValue `127.0.0.1`: the farm is private until its operator opens it. */
  host?: string;
  /** 0 picks a free port. @defaultValue 7400 */
  port?: number;
  /**
   * Names the server answers to in the `Host` header, besides its own address (see
   * `hostChecker`): a server on a loopback address answers only to loopback names and these, so
   * a page of another site cannot reach it through DNS rebinding. @defaultValue none
   */
  allowedHosts?: readonly string[];
  /**
   * Serve HTTPS and WSS with this certificate (PEM, the chain after the server's own) and key;
   * the session cookie is then Secure. @defaultValue plain HTTP
   */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /**
   * Behind one proxy (nginx): take a client's address from the last `X-Forwarded-For` entry, the
   * one the proxy added, for the limit on failed sign-ins per address. @defaultValue false
   */
  trustProxy?: boolean;
  /** The largest request body or WebSocket message, in bytes. @defaultValue 64 MiB */
  maxMessageBytes?: number;
  /**
   * Mark the session cookie Secure: browsers reach the server over HTTPS (through a proxy that
   * terminates TLS). @defaultValue true with `tls`, else false
   */
  secureCookies?: boolean;
  /** How long a lease lasts unless renewed, in milliseconds. @defaultValue 30,000 */
  leaseMs?: number;
  /** The dispatcher's safety poll, in milliseconds. @defaultValue 2,000 */
  pollMs?: number;
  /**
   * Structured logs: JSON lines on stdout from fastify's logger (pino) at this level, with a
   * request id per HTTP request and no credential. @defaultValue `silent`
   */
  logLevel?: LogLevel;
  /** Log at `info` (when `logLevel` is not given). @defaultValue false */
  logger?: boolean;
  /**
   * A bearer token that reads `GET /metrics` and nothing else, for a Prometheus scraper. The
   * metrics are open without it only on a loopback address with no proxy in front (see
   * `trustProxy`); an admin's token or session also reads them. @defaultValue none
   */
  metricsToken?: string;
  /**
   * Where artifacts' bytes are kept, content-addressed: this server's own directory, or one that
   * servers sharing a database share. What it lacks is fetched from the replica that stored it.
   * Another farm's directory is refused.
   * @defaultValue `<dataDir>/artifacts` when embedded, `./data/artifacts-<farm id>` otherwise
   */
  artifactsDir?: string;
  /**
   * Keeps artifacts' bytes somewhere else than a directory, somewhere every replica reads (an
   * object store): then `artifactsDir` is unused and no replica fetches bytes from another.
   */
  artifactStore?: ArtifactStore;
  /**
   * Where the farm's other servers reach this one, to fetch the artifacts' bytes it holds.
   * @defaultValue its own URL; on every interface (`0.0.0.0`, `::`), with the host's name
   */
  advertiseUrl?: string;
  /**
   * Keep a copy of the bytes fetched whole from another replica, once their sha256 proved right,
   * so that the next download here is local and outlives that replica. @defaultValue true
   */
  keepFetchedArtifacts?: boolean;
  /** The largest artifact a worker may upload, in bytes. @defaultValue 1 GiB */
  maxArtifactBytes?: number;
  /** At most one batch of events per subscription in this time, in ms. @defaultValue 200 */
  coalesceMs?: number;
  /**
   * Calls one token may make per minute, over every server of the farm (the worker protocol
   * apart); past it, calls get DROVER_E_RATE_LIMITED (HTTP 429) with when to retry. 0: no limit.
   * @defaultValue 3,000
   */
  rateLimitPerMinute?: number;
  /** How much one attempt may log, in characters; later lines are dropped. @defaultValue 64 Mi */
  maxLogPerAttempt?: number;
  /** Subscriptions one token may hold on this server at once. @defaultValue 1,024 */
  maxSubscriptionsPerToken?: number;
  /** Serve the dashboard built in this directory at `/` (`apps/dashboard/dist`). @defaultValue none */
  dashboardDir?: string;
  /**
   * How long finished jobs are kept (`farmMs`, null: forever, unless their group has a retention
   * of its own) and how often the farm prunes them, on one replica at a time (see `Retention`).
   * @defaultValue 30 days, every hour
   */
  retention?: RetentionOptions;
  /**
   * Sites: how often a site link looks for work, and its back-off between reconnects to its
   * site. @defaultValue 500 ms; 250 ms to 10 s
   */
  sites?: { tickMs?: number; reconnect?: { initialMs?: number; maxMs?: number } };
  /**
   * The farm's history for the overview (`farm.history`): how often a sample is recorded and how
   * long samples are kept. @defaultValue every 10 s, kept 7 days
   */
  history?: Omit<SamplerOptions, 'onError'>;
  /** Webhooks: the receiver's timeout, tries and back-off (see `WebhookDeliverer`). */
  webhooks?: Omit<DelivererOptions, 'onError'>;
}

export interface DroverServer {
  /** The base URL, such as `http://127.0.0.1:7400`. */
  readonly url: string;
  readonly app: FastifyInstance;
  readonly hub: WorkerHub;
  /**
   * Stops serving. Workers lose their connection but keep their leases: they reconnect (to this
   * server started again, or another replica) and re-attach their running tasks.
   */
  close(): Promise<void>;
}

/**
 * Starts the HTTP server: JSON-RPC 2.0 at `POST /rpc` and over the WebSocket at `/ws`, artifact
 * uploads and downloads under `/artifacts/`, signing in at `/login`, the probes `GET /healthz` and
 * `GET /readyz`, and `GET /metrics` for Prometheus. Every call but signing in and the probes
 * needs a token (see `engine.accounts`); the metrics one off a loopback address.
 *
 * @example
 * const server = await startServer({ engine, port: 7400 });
 * console.log(`listening on ${server.url}`);
 */
export async function startServer(options: ServerOptions): Promise<DroverServer> {
  const maxMessageBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
  // Closing ends every connection, idle or not: clients and workers reconnect to whoever serves next.
  const settings: FastifyServerOptions = {
    ...loggerSettings(options.logLevel ?? (options.logger ? 'info' : 'silent')),
    bodyLimit: maxMessageBytes,
    forceCloseConnections: true,
    // One hop: the address the proxy saw, never what a client wrote into the header.
    trustProxy: options.trustProxy ? (_address: string, hop: number) => hop === 0 : false,
  };
  // An HTTPS server is an HTTP server to everything here (routes, the WebSocket upgrade).
  const app = (options.tls
    ? Fastify({
        ...settings,
        https: { cert: options.tls.cert, key: options.tls.key },
      } as FastifyHttpsOptions<HttpsServer>)
    : Fastify(settings)) as unknown as FastifyInstance;
  const onError = (error: unknown, where: string) => app.log.error({ err: error }, where);
  echoRequestIds(app);
  const metrics: ServerMetrics = new ServerMetrics({
    engine: options.engine,
    serverId: () => hub.serverId,
    connections: {
      websockets: () => sockets.connectionCount,
      workers: () => hub.sessionCount,
      subscriptions: () => fanout.size,
    },
  });
  const hub: WorkerHub = new WorkerHub(options.engine, {
    log: app.log,
    metrics,
    // Called once the server listens, by which time the store below exists.
    onJoined: () => announceBlobs(),
    ...(options.leaseMs !== undefined && { leaseMs: options.leaseMs }),
    ...(options.pollMs !== undefined && { pollMs: options.pollMs }),
    ...(options.maxLogPerAttempt !== undefined && { maxLogPerAttempt: options.maxLogPerAttempt }),
    onError,
  });
  const siteLinks = new SiteLinks(options.engine, hub.serverId, { ...options.sites, onError });
  const sampler = new MetricsSampler(options.engine, { ...options.history, onError });
  const deliverer = new WebhookDeliverer(options.engine, { ...options.webhooks, onError });
  const clientHandlers = engineHandlers(options.engine, {
    stopTasks: (tasks, reason) => hub.stopTasks(tasks, reason),
    workerChanged: (worker) => hub.workerChanged(worker),
    tasksQueued: () => hub.queueChanged(),
    sitesChanged: () => siteLinks.refresh(),
    submitted: (job) => metrics.submitted(job),
    // Called once the server serves, by which time the retention below exists.
    prune: (request) => retention.prune(request),
    onError,
  });
  const submitted = (site: string | null | undefined) =>
    site ? siteLinks.refresh() : hub.queueChanged();
  const ticker = new ScheduleTicker(options.engine, {
    submitted: (jobs) => jobs.forEach((job) => submitted(job.site)),
    stopTasks: (tasks, reason) => hub.stopTasks(tasks, reason),
    onError,
  });
  const paramsCheck = new ParamsCheck(options.engine, onError);
  /** The methods that act as the caller: sites and webhooks (admins), schedules (by group). */
  const callerHandlers = (caller: () => Principal | undefined) => ({
    ...siteHandlers(
      options.engine,
      () => caller()?.tokenId,
      () => siteLinks.refresh(),
    ),
    ...scheduleHandlers(options.engine, paramsCheck, caller, {
      submitted,
      changed: () => ticker.wake(),
    }),
    ...webhookHandlers(options.engine, deliverer, {
      testWaitMs: deliverer.leaseMs,
      caller: () => caller()?.tokenId,
    }),
  });
  const fanout = new EventFanout(options.engine, {
    ...(options.coalesceMs !== undefined && { coalesceMs: options.coalesceMs }),
    onError,
  });
  const onRpcError = (error: unknown, method: string) => onError(error, `RPC method ${method}`);
  const accounts = options.engine.accounts;
  const authenticator = new Authenticator(accounts);
  const authorizer = new Authorizer((ref) => accounts.groupOf(ref));
  const perMinute = options.rateLimitPerMinute ?? 3000;
  const limiter =
    perMinute > 0
      ? new RateLimiter(accounts, {
          perMinute,
          onError: (error) => onError(error, "counting tokens' calls"),
        })
      : undefined;
  /** Who an HTTP request is signed in as, or a refusal: no credential, or a bad one. */
  const signIn = async (request: FastifyRequest): Promise<Connection> => {
    const credential = requestCredential(request.headers);
    const principal = credential && (await authenticator.signIn(credential, request.ip));
    if (!principal) throw credential ? unknownToken() : signInFirst();
    return { principal, credential };
  };

  const bindHost = options.host ?? '127.0.0.1';
  const allowedHosts = options.allowedHosts ?? [];
  // The name the other replicas reach it by, where names are checked at all.
  const replicaName =
    options.advertiseUrl !== undefined
      ? new URL(options.advertiseUrl).hostname
      : isWildcard(bindHost)
        ? hostname()
        : undefined;
  const hostAllowed = hostChecker(
    bindHost,
    replicaName !== undefined && (allowedHosts.length > 0 || !isWildcard(bindHost))
      ? [...allowedHosts, replicaName]
      : allowedHosts,
  );
  app.addHook('onRequest', async (request, reply) => {
    if (hostAllowed(request.headers.host)) return;
    return reply
      .code(403)
      .type('text/plain; charset=utf-8')
      .header('x-content-type-options', 'nosniff')
      .send(refusedHost(request.headers.host));
  });

  // The body is parsed by the RPC dispatcher, which answers malformed JSON with the spec's -32700.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  app.post('/rpc', async (request, reply) => {
    // A page of another site can POST text/plain without asking first; only JSON is taken, and
    // only from no page (a program) or one of this server's.
    if (!/^application\/json\s*(;|$)/i.test(request.headers['content-type'] ?? '')) {
      return reply
        .code(415)
        .type('application/json')
        .send(
          rpcRefusal(
            new DroverError(
              'DROVER_E_INVALID_REQUEST',
              'POST /rpc takes Content-Type: application/json.',
            ),
          ),
        );
    }
    if (!sameOrigin(request.raw)) {
      return reply
        .code(403)
        .type('application/json')
        .send(
          rpcRefusal(
            new DroverError(
              'DROVER_E_FORBIDDEN',
              'A request from a page of another site is refused.',
            ),
          ),
        );
    }
    let connection: Connection;
    try {
      connection = await signIn(request);
    } catch (error) {
      const refusal = isDroverError(error)
        ? error
        : new DroverError('DROVER_E_INTERNAL', undefined, { cause: error });
      if (!isDroverError(error)) onError(error, 'signing in a request');
      const status = HTTP_STATUS[refusal.code] ?? 500;
      if (status === 401) reply.header('www-authenticate', 'Bearer');
      if (status === 429) reply.header('retry-after', '60');
      return reply.code(status).type('application/json').send(rpcRefusal(refusal));
    }
    const principal = connection.principal;
    // A token out of calls is told so before its request is read.
    const wait = principal ? limiter?.retryAfterMs(principal.tokenId) : undefined;
    if (wait !== undefined) {
      const limited = new DroverError(
        'DROVER_E_RATE_LIMITED',
        `This token made its ${perMinute} calls of this minute: try again in ${Math.ceil(wait / 1000)} s.`,
        { details: { retryAfterMs: wait, limitPerMinute: perMinute } },
      );
      return reply
        .code(429)
        .header('retry-after', String(Math.ceil(wait / 1000)))
        .type('application/json')
        .send(rpcRefusal(limited));
    }
    const handlers = {
      ...clientHandlers,
      ...callerHandlers(() => connection.principal),
      ...authHandlers(connection, {
        accounts,
        authenticator,
        address: request.ip,
        revoked: (tokenId) => sockets.endToken(tokenId),
      }),
      'groups.list': async (p: Record<string, never>) => ({
        groups: principal
          ? visibleGroups(principal, (await clientHandlers['groups.list'](p)).groups)
          : [],
      }),
      'farm.overview': async (p: Record<string, never>) =>
        visibleOverview(principal, await clientHandlers['farm.overview'](p)),
    };
    const rpc = createRpcDispatcher(
      methods,
      handlers,
      onRpcError,
      connectionGuard(connection, authorizer, { limiter }),
      maxMessageBytes,
    );
    const text = typeof request.body === 'string' ? request.body : '';
    const response = await rpc.handleText(text);
    if (response === undefined) return reply.code(204).send();
    return reply.type('application/json').send(response);
  });

  const farmId = await options.engine.farmId();
  const local =
    options.artifactStore ??
    new FileArtifactStore(
      options.artifactsDir ??
        (options.engine.dataDir
          ? join(options.engine.dataDir, 'artifacts')
          : join('data', `artifacts-${farmId}`)),
    );
  // Before anything is served: a store that is another farm's is refused, never swept.
  await local.claim?.(farmId);
  // Files from anywhere: a directory of this server's own holds what was stored through it;
  // the rest is streamed from the replica that holds it. (Shared, it simply lacks nothing.)
  const replicaSecret = await options.engine.replicaSecret();
  const peers =
    options.artifactStore === undefined
      ? replicaStore({
          engine: options.engine,
          serverId: hub.serverId,
          local,
          secret: replicaSecret,
          keepCopies: options.keepFetchedArtifacts,
          onError,
        })
      : undefined;
  const announceBlobs = () => {
    peers?.announce().catch((error: unknown) => onError(error, 'announcing the blobs held here'));
  };
  registerArtifacts(app, {
    engine: options.engine,
    store: peers ?? local,
    replica: { local, secret: replicaSecret },
    maxArtifactBytes: options.maxArtifactBytes,
    // A site job's files are the site's: served from it.
    proxyDownload: async (artifact, request, reply) => {
      const remote = await options.engine.sites.remoteArtifact(artifact.id);
      return remote && proxySiteArtifact(remote, request, reply);
    },
    authorizeDownload: async (request, find) => {
      // A worker reads the files of the job it runs a task of, with that attempt's lease.
      const bearer = bearerOf(request.headers.authorization);
      if (bearer !== undefined && isLease(bearer)) {
        const scope = await options.engine.authorizeArtifact(
          leaseCredential(request.headers.authorization),
        );
        const artifact = await find();
        if (scope.jobId !== artifact.jobId) throw missing(artifact);
        return artifact;
      }
      const { principal } = await signIn(request);
      const artifact = await find();
      await authorizer.check(principal, 'artifacts.get', { id: artifact.id });
      return artifact;
    },
    onError,
  });
  const retention = new Retention(
    options.engine,
    hub.serverId,
    peers ?? local,
    options.retention ?? {},
    onError,
  );
  app.addHook('onClose', () => retention.close());
  registerLogin(app, {
    accounts,
    authenticator,
    secure: options.secureCookies ?? options.tls !== undefined,
  });

  registerHealth(app, options.engine);
  registerMetrics(app, {
    metrics,
    // Only this machine reaches a loopback address, unless a proxy in front forwards to it.
    open: isLoopback(bindHost) && !options.trustProxy,
    token: options.metricsToken,
    signIn,
    onError,
  });

  if (options.dashboardDir !== undefined)
    await registerDashboard(app, { dir: options.dashboardDir });

  const sockets = serveSockets(app, {
    engine: options.engine,
    hub,
    fanout,
    clientHandlers,
    callerHandlers,
    authenticator,
    authorizer,
    maxMessageBytes,
    hostAllowed,
    onRpcError,
    limiter,
    trustProxy: options.trustProxy ?? false,
    maxSubscriptionsPerToken: options.maxSubscriptionsPerToken ?? 1024,
  });

  await hub.start();
  await fanout.start();
  try {
    await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 7400 });
  } catch (error) {
    // The port is taken (or the host unknown): nothing of this server may keep running.
    await deliverer.close();
    await siteLinks.close();
    await fanout.close();
    await hub.close();
    sockets.close();
    limiter?.close();
    await app.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host ?? '127.0.0.1';
  const url = `${options.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  await hub.announce(options.advertiseUrl ?? advertisedUrl(url, host, port));
  siteLinks.start();
  await ticker.start();
  sampler.start();
  await deliverer.start();
  retention.start();
  return {
    url,
    app,
    hub,
    close: async () => {
      await ticker.close();
      await sampler.close();
      await deliverer.close();
      await retention.close();
      await siteLinks.close();
      await fanout.close();
      await hub.close();
      sockets.close();
      limiter?.close();
      await app.close();
    },
  };
}

/** Where other replicas reach a server listening at `url`: by the host's name on every interface. */
function advertisedUrl(url: string, host: string, port: number | undefined): string {
  if (!isWildcard(host)) return url;
  return `${new URL(url).protocol}//${hostname()}:${port}`;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** The answer to a request whose `Host` the server does not answer to. */
function refusedHost(host: string | undefined): string {
  const name = (host ?? '').slice(0, 200);
  return `This server does not answer to the host name ${JSON.stringify(name)}. If that is its name, start it with --allowed-hosts ${name.replace(/:\d+$/, '') || 'NAME'}.\n`;
}

/** A JSON-RPC error answer to a request refused before it was read. */
function rpcRefusal(error: DroverError): string {
  return JSON.stringify({ jsonrpc: '2.0', error: error.toRpcError(), id: null });
}

/** The HTTP status of a request to /rpc refused before it was read. */
const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  DROVER_E_UNAUTHORIZED: 401,
  DROVER_E_RATE_LIMITED: 429,
  DROVER_E_DATABASE_UNAVAILABLE: 503,
};

function missing(artifact: ArtifactRecord): DroverError {
  return new DroverError('DROVER_E_NOT_FOUND', `There is no artifact ${artifact.id}.`);
}
