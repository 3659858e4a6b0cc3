import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import type { Engine } from '@drover/engine';
import { schemaVersion } from '@drover/engine';
import { engineHandlers } from './handlers.js';
import { createRpcDispatcher } from './rpc.js';
import { WorkerHub, WorkerSession } from './worker-hub.js';
import { DroverError, isDroverError, methods, workerMethods } from '@drover/protocol';
import type { RpcDispatcher } from './rpc.js';
import { FileArtifactStore, registerArtifacts } from './artifacts/index.js';
import { registerDashboard } from './dashboard.js';
import { hostChecker, sameOrigin } from './host-check.js';
import { EventFanout } from './subscriptions.js';
import type { Subscriber } from './subscriptions.js';
import type { ArtifactStore } from './artifacts/index.js';

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
  /** The largest request body or WebSocket message, in bytes. @defaultValue 64 MiB */
  maxMessageBytes?: number;
  /** The token workers must present in workers.hello. */
  workerToken: string;
  /** How long a lease lasts unless renewed, in milliseconds. @defaultValue 30,000 */
  leaseMs?: number;
  /** The dispatcher's safety poll, in milliseconds. @defaultValue 2,000 */
  pollMs?: number;
  /** Log requests and errors with fastify's logger. @defaultValue false */
  logger?: boolean;
  /**
   * Where artifacts' bytes are kept, content-addressed. Servers sharing a database must share
   * it too; another farm's directory is refused.
   * @defaultValue `<dataDir>/artifacts` when embedded, `./data/artifacts-<farm id>` otherwise
   */
  artifactsDir?: string;
  /** Keeps artifacts' bytes somewhere else than a directory (then `artifactsDir` is unused). */
  artifactStore?: ArtifactStore;
  /** The largest artifact a worker may upload, in bytes. @defaultValue 1 GiB */
  maxArtifactBytes?: number;
  /** At most one batch of events per subscription in this time, in ms. @defaultValue 200 */
  coalesceMs?: number;
  /** Serve the dashboard built in this directory at `/` (`apps/dashboard/dist`). @defaultValue none */
  dashboardDir?: string;
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
 * uploads and downloads under `/artifacts/`, and `GET /healthz`.
 *
 * @example
 * const server = await startServer({ engine, port: 7400, workerToken: process.env.DROVER_TOKEN });
 * console.log(`listening on ${server.url}`);
 */
export async function startServer(options: ServerOptions): Promise<DroverServer> {
  const maxMessageBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
  // Closing ends every connection, idle or not: clients and workers reconnect to whoever serves next.
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: maxMessageBytes,
    forceCloseConnections: true,
  });
  const onError = (error: unknown, where: string) => app.log.error({ err: error }, where);
  const hub = new WorkerHub(options.engine, {
    workerToken: options.workerToken,
    ...(options.leaseMs !== undefined && { leaseMs: options.leaseMs }),
    ...(options.pollMs !== undefined && { pollMs: options.pollMs }),
    onError,
  });
  const clientHandlers = engineHandlers(options.engine, {
    stopTasks: (tasks, reason) => hub.stopTasks(tasks, reason),
    workerChanged: (worker) => hub.workerChanged(worker),
    tasksQueued: () => hub.queueChanged(),
    onError,
  });
  const fanout = new EventFanout(options.engine, {
    ...(options.coalesceMs !== undefined && { coalesceMs: options.coalesceMs }),
    onError,
  });
  const onRpcError = (error: unknown, method: string) => onError(error, `RPC method ${method}`);
  const rpc = createRpcDispatcher(methods, clientHandlers, onRpcError);
  const socketCatalogue = { ...methods, ...workerMethods };
  let closing = false;

  const hostAllowed = hostChecker(options.host ?? '127.0.0.1', options.allowedHosts);
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
          rpcRefusal('DROVER_E_INVALID_REQUEST', 'POST /rpc takes Content-Type: application/json.'),
        );
    }
    if (!sameOrigin(request.raw)) {
      return reply
        .code(403)
        .type('application/json')
        .send(
          rpcRefusal('DROVER_E_UNAUTHORIZED', 'A request from a page of another site is refused.'),
        );
    }
    const text = typeof request.body === 'string' ? request.body : '';
    const response = await rpc.handleText(text);
    if (response === undefined) return reply.code(204).send();
    return reply.type('application/json').send(response);
  });

  const farmId = await options.engine.farmId();
  const store =
    options.artifactStore ??
    new FileArtifactStore(
      options.artifactsDir ??
        (options.engine.dataDir
          ? join(options.engine.dataDir, 'artifacts')
          : join('data', `artifacts-${farmId}`)),
    );
  // Before anything is served: a store that is another farm's is refused, never swept.
  await store.claim?.(farmId);
  registerArtifacts(app, {
    engine: options.engine,
    store,
    maxArtifactBytes: options.maxArtifactBytes,
    onError,
  });

  // A load balancer's probe: 503 while the database does not answer, so traffic goes elsewhere.
  app.get('/healthz', async (_request, reply) => {
    try {
      const { current, required } = await schemaVersion(options.engine.database);
      return { ok: current === required, database: options.engine.kind, schema: current };
    } catch (error) {
      const code = isDroverError(error) ? error.code : 'DROVER_E_INTERNAL';
      return reply.code(503).send({ ok: false, database: options.engine.kind, error: code });
    }
  });

  if (options.dashboardDir !== undefined)
    await registerDashboard(app, { dir: options.dashboardDir });

  const sockets = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes });
  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A connection reset or a bad write while upgrading ends that connection, not the server.
    socket.on('error', (error) => {
      app.log.warn({ err: error }, 'a connection failed while upgrading to a WebSocket');
      socket.destroy();
    });
    if (
      new URL(request.url ?? '/', 'http://localhost').pathname !== '/ws' ||
      !hostAllowed(request.headers.host) ||
      !sameOrigin(request)
    ) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(request, socket, head, (ws) => {
      // A malformed frame (unmasked, a reserved opcode or bit, text that is not UTF-8, a length
      // over the limit) is an 'error' of this socket: ws closes it with the matching close code
      // (1002, 1007, 1009). Without a listener the error would end the process.
      ws.on('error', (error) => {
        app.log.warn({ err: error }, 'closed a WebSocket that broke the protocol');
      });
      // Every socket speaks the client methods; one that says workers.hello becomes a worker.
      const session = new WorkerSession(ws);
      const subscriber = socketSubscriber(ws);
      const handlers = {
        ...clientHandlers,
        ...hub.handlersFor(session),
        'events.subscribe': async (p: { subscription: string; topic: string; cursor: string }) => {
          await fanout.subscribe(subscriber, p.subscription, p.topic, p.cursor);
          return { subscription: p.subscription };
        },
        'events.unsubscribe': (p: { subscription: string }) => {
          fanout.unsubscribe(subscriber, p.subscription);
          return Promise.resolve({ subscription: p.subscription });
        },
      };
      serveSocket(ws, createRpcDispatcher(socketCatalogue, handlers, onRpcError));
      ws.on('close', () => {
        fanout.dropSubscriber(subscriber);
        if (!closing) void hub.disconnected(session);
      });
    });
  });

  await hub.start();
  await fanout.start();
  try {
    await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 7400 });
  } catch (error) {
    // The port is taken (or the host unknown): nothing of this server may keep running.
    await fanout.close();
    await hub.close();
    sockets.close();
    await app.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    app,
    hub,
    close: async () => {
      closing = true;
      await fanout.close();
      await hub.close();
      for (const ws of sockets.clients) ws.terminate();
      sockets.close();
      await app.close();
    },
  };
}

/** JSON-RPC over one WebSocket: each message is a request, a notification or a batch. */
function serveSocket(ws: WebSocket, rpc: RpcDispatcher): void {
  ws.on('message', (data) => {
    const text = toText(data);
    void rpc.handleText(text).then((response) => {
      if (response !== undefined && ws.readyState === ws.OPEN) ws.send(response);
    });
  });
}

/** A client's socket as the fan-out sees it. */
function socketSubscriber(ws: WebSocket): Subscriber {
  return {
    get backlog() {
      return ws.bufferedAmount;
    },
    send: (batch) => {
      if (ws.readyState === ws.OPEN) {
        ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'events.batch', params: batch }));
      }
    },
    // 1013: try again later. The client reconnects and resumes from its cursor.
    drop: (reason) => ws.close(1013, reason.slice(0, 120)),
  };
}

function toText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}

/** The answer to a request whose `Host` the server does not answer to. */
function refusedHost(host: string | undefined): string {
  const name = (host ?? '').slice(0, 200);
  return `This server does not answer to the host name ${JSON.stringify(name)}. If that is its name, start it with --allowed-hosts ${name.replace(/:\d+$/, '') || 'NAME'}.\n`;
}

/** A JSON-RPC error answer to a request refused before it was read. */
function rpcRefusal(
  code: 'DROVER_E_INVALID_REQUEST' | 'DROVER_E_UNAUTHORIZED',
  message: string,
): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    error: new DroverError(code, message).toRpcError(),
    id: null,
  });
}
