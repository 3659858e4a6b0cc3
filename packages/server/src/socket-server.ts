import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import { DroverError, isDroverError, methods, workerMethods } from '@drover/protocol';
import type { Engine } from '@drover/engine';
import type { Principal } from '@drover/protocol';
import { createRpcDispatcher } from './rpc.js';
import type { RpcDispatcher } from './rpc.js';
import type { Handlers } from './handlers.js';
import type { SiteHandlers } from './sites/site-handlers.js';
import type { ScheduleHandlers } from './schedules/schedule-handlers.js';
import type { WebhookHandlers } from './webhooks/handlers.js';
import { WorkerSession } from './worker-session.js';
import type { WorkerHub } from './worker-hub.js';
import type { EventFanout, Subscriber } from './subscriptions.js';
import { sameOrigin } from './host-check.js';
import type { Authenticator } from './auth/authenticator.js';
import type { Authorizer } from './auth/authorize.js';
import { visibleGroups, visibleOverview } from './auth/authorize.js';
import { bearerOf, isLease, requestCredential } from './auth/credentials.js';
import { admitWorker, authHandlers, connectionGuard, unknownToken } from './auth/connection.js';
import type { Connection } from './auth/connection.js';
import type { RateLimiter } from './auth/rate-limit.js';

export interface SocketServerOptions {
  engine: Engine;
  hub: WorkerHub;
  fanout: EventFanout;
  clientHandlers: Handlers;
  /**
   * The site, schedule and webhook methods, for one connection: `caller` is who is signed in on it.
   */
  callerHandlers: (
    caller: () => Principal | undefined,
  ) => SiteHandlers & ScheduleHandlers & WebhookHandlers;
  authenticator: Authenticator;
  authorizer: Authorizer;
  maxMessageBytes: number;
  hostAllowed: (host: string | undefined) => boolean;
  onRpcError: (error: unknown, method: string) => void;
  /** How long a connection may stay without signing in, in ms. @defaultValue 60,000 */
  signInWithinMs?: number;
  /** How often connections' tokens and sessions are checked again, in ms. @defaultValue 5,000 */
  recheckMs?: number;
  /** Calls per token per minute, when limited. */
  limiter?: RateLimiter | undefined;
  /** Subscriptions one token may hold on this server, over all its connections. */
  maxSubscriptionsPerToken: number;
  /** Take a client's address from the last X-Forwarded-For entry (one proxy in front). */
  trustProxy: boolean;
}

export interface SocketServer {
  /** Ends this server's connections signed in with a token (just revoked). */
  endToken(tokenId: string): void;
  /** The WebSocket connections open now: clients and workers. */
  readonly connectionCount: number;
  close(): void;
}

/** 1008: policy violation. The client does not sign in again with what was refused. */
const SIGNED_OUT = 1008;

/**
 * JSON-RPC over WebSockets at `/ws`, for clients and workers alike. A connection signs in before
 * anything else is answered: with `Authorization: Bearer <token>` or the session cookie on the
 * upgrade, `auth.login` (clients) or `workers.hello` (workers). It stays signed in while its
 * token (or session) holds, checked again every few seconds.
 */
export function serveSockets(app: FastifyInstance, options: SocketServerOptions): SocketServer {
  const { hub, fanout, authenticator, authorizer } = options;
  const sockets = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes });
  const connections = new Map<WebSocket, Connection>();
  /** Live subscriptions per token on this server. */
  const subscriptionsOf = new Map<string, number>();
  const countSubscription = (tokenId: string, delta: number) => {
    const n = (subscriptionsOf.get(tokenId) ?? 0) + delta;
    if (n > 0) subscriptionsOf.set(tokenId, n);
    else subscriptionsOf.delete(tokenId);
  };
  const socketCatalogue = { ...methods, ...workerMethods };
  let closing = false;

  const recheck = setInterval(() => {
    for (const [ws, connection] of connections) {
      const credential = connection.credential;
      if (!credential) continue;
      void authenticator.stillValid(credential).then((valid) => {
        if (!valid && connection.credential === credential)
          ws.close(SIGNED_OUT, 'The token was revoked or has expired, or the session ended.');
      });
    }
  }, options.recheckMs ?? 5000);
  recheck.unref();

  app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A connection reset or a bad write while upgrading ends that connection, not the server.
    socket.on('error', (error) => {
      app.log.warn({ err: error }, 'a connection failed while upgrading to a WebSocket');
      socket.destroy();
    });
    if (
      new URL(request.url ?? '/', 'http://localhost').pathname !== '/ws' ||
      !options.hostAllowed(request.headers.host) ||
      !sameOrigin(request)
    ) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    void upgrade(request, socket, head);
  });

  async function upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const connection: Connection = { principal: undefined, credential: undefined };
    const credential = requestCredential(request.headers);
    const address = clientAddress(request, options.trustProxy);
    if (credential) {
      try {
        connection.principal = await authenticator.signIn(credential, address);
      } catch (error) {
        if (isDroverError(error, 'DROVER_E_RATE_LIMITED')) {
          socket.end(
            'HTTP/1.1 429 Too Many Requests\r\nRetry-After: 60\r\nConnection: close\r\n\r\n',
          );
          return;
        }
        app.log.warn({ err: error }, 'could not check the credential of a WebSocket');
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
        return;
      }
      const bearer = bearerOf(request.headers.authorization);
      // A program's bad token is refused outright; a browser's stale cookie leaves the page a
      // connection on which to learn that it must sign in.
      if (!connection.principal && bearer !== undefined && !isLease(bearer)) {
        socket.end(
          'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nConnection: close\r\n\r\n',
        );
        return;
      }
      if (connection.principal) connection.credential = credential;
    }
    if (socket.destroyed) return;
    sockets.handleUpgrade(request, socket, head, (ws) => accept(ws, connection, address));
  }

  function accept(ws: WebSocket, connection: Connection, address: string | undefined): void {
    // A malformed frame (unmasked, a reserved opcode or bit, text that is not UTF-8, a length
    // over the limit) is an 'error' of this socket: ws closes it with the matching close code
    // (1002, 1007, 1009). Without a listener the error would end the process.
    ws.on('error', (error) => {
      app.log.warn({ err: error }, 'closed a WebSocket that broke the protocol');
    });
    connections.set(ws, connection);
    const unsigned = setTimeout(() => {
      if (!connection.principal) ws.close(SIGNED_OUT, 'Not signed in.');
    }, options.signInWithinMs ?? 60_000);
    unsigned.unref();
    // Every socket speaks the client methods; one that says workers.hello becomes a worker.
    const session = new WorkerSession(ws);
    const subscriber = socketSubscriber(ws);
    const hubHandlers = hub.handlersFor(session);
    const auth = authHandlers(connection, {
      accounts: options.engine.accounts,
      authenticator,
      address,
      revoked: (tokenId) => endToken(tokenId),
    });
    /** This connection's subscriptions, and the token each counts against. */
    const mine = new Map<string, string>();
    const handlers = {
      ...options.clientHandlers,
      ...options.callerHandlers(() => connection.principal),
      ...hubHandlers,
      ...auth,
      'groups.list': async (p: Record<string, never>) => {
        const { groups } = await options.clientHandlers['groups.list'](p);
        return { groups: connection.principal ? visibleGroups(connection.principal, groups) : [] };
      },
      'farm.overview': async (p: Record<string, never>) =>
        visibleOverview(connection.principal, await options.clientHandlers['farm.overview'](p)),
      'workers.hello': async (hello: Parameters<(typeof hubHandlers)['workers.hello']>[0]) => {
        const helloCredential = { kind: 'token' as const, secret: hello.token };
        const principal = await authenticator.signIn(helloCredential, address);
        if (!principal) throw unknownToken();
        admitWorker(principal, hello);
        session.tokenId = principal.tokenId;
        session.admin = principal.role === 'admin';
        const result = await hubHandlers['workers.hello'](hello);
        connection.principal = principal;
        connection.credential = helloCredential;
        return result;
      },
      'events.subscribe': async (p: { subscription: string; topic: string; cursor: string }) => {
        const tokenId = connection.principal?.tokenId ?? '';
        const limit = options.maxSubscriptionsPerToken;
        if ((subscriptionsOf.get(tokenId) ?? 0) >= limit) {
          throw new DroverError(
            'DROVER_E_INVALID_REQUEST',
            `This token holds ${limit} subscriptions on this server already, the most it may; close some first.`,
          );
        }
        // Counted before the replay is awaited, so that many at once cannot all pass the check.
        countSubscription(tokenId, 1);
        try {
          await fanout.subscribe(subscriber, p.subscription, p.topic, p.cursor);
        } catch (error) {
          countSubscription(tokenId, -1);
          throw error;
        }
        if (ws.readyState === ws.OPEN) mine.set(p.subscription, tokenId);
        else countSubscription(tokenId, -1);
        return { subscription: p.subscription };
      },
      'events.unsubscribe': (p: { subscription: string }) => {
        fanout.unsubscribe(subscriber, p.subscription);
        const tokenId = mine.get(p.subscription);
        if (tokenId !== undefined) {
          mine.delete(p.subscription);
          countSubscription(tokenId, -1);
        }
        return Promise.resolve({ subscription: p.subscription });
      },
    };
    const guard = connectionGuard(connection, authorizer, {
      worker: session,
      limiter: options.limiter,
    });
    const rpc = createRpcDispatcher(
      socketCatalogue,
      handlers,
      options.onRpcError,
      guard,
      options.maxMessageBytes,
    );
    serveSocket(ws, rpc, connection, options.maxMessageBytes);
    ws.on('close', () => {
      clearTimeout(unsigned);
      connections.delete(ws);
      for (const tokenId of mine.values()) countSubscription(tokenId, -1);
      mine.clear();
      fanout.dropSubscriber(subscriber);
      if (!closing) void hub.disconnected(session);
    });
  }

  function endToken(tokenId: string): void {
    for (const [ws, connection] of connections) {
      if (connection.principal?.tokenId === tokenId) {
        connection.credential = undefined;
        ws.close(SIGNED_OUT, 'The token was revoked.');
      }
    }
  }

  return {
    endToken,
    get connectionCount() {
      return sockets.clients.size;
    },
    close() {
      closing = true;
      clearInterval(recheck);
      for (const ws of sockets.clients) ws.terminate();
      sockets.close();
    },
  };
}

/** Where a connection comes from: the socket's peer, or behind a proxy what the proxy saw. */
function clientAddress(request: IncomingMessage, trustProxy: boolean): string | undefined {
  const forwarded = request.headers['x-forwarded-for'];
  if (trustProxy && typeof forwarded === 'string') {
    const last = forwarded.split(',').pop()?.trim();
    if (last) return last;
  }
  return request.socket.remoteAddress;
}

/** Messages of one connection handled at once; the rest wait their turn. */
const IN_FLIGHT = 16;
/** Messages waiting on one connection before the server stops reading it. */
const QUEUED = 256;
/** The largest message a connection may send before it signs in, in bytes. */
const UNSIGNED_MAX_BYTES = 64 * 1024;

/**
 * JSON-RPC over one WebSocket: each message is a request, a notification or a batch. A few are
 * handled at once; past a queue the socket is not read until they are answered; and a client
 * that leaves its answers unread (more than `maxBacklog` bytes queued to it) is disconnected
 * rather than held in memory.
 */
function serveSocket(
  ws: WebSocket,
  rpc: RpcDispatcher,
  connection: Connection,
  maxBacklog: number,
): void {
  const queue: string[] = [];
  let inFlight = 0;
  const pump = () => {
    while (inFlight < IN_FLIGHT && queue.length > 0 && ws.readyState === ws.OPEN) {
      if (ws.bufferedAmount > maxBacklog) {
        queue.length = 0;
        ws.close(1013, 'This client leaves its answers unread; reconnect.');
        return;
      }
      const text = queue.shift() ?? '';
      inFlight += 1;
      void rpc.handleText(text).then((response) => {
        inFlight -= 1;
        if (response !== undefined && ws.readyState === ws.OPEN) ws.send(response);
        pump();
      });
    }
    if (queue.length >= QUEUED) ws.pause();
    else if (ws.isPaused) ws.resume();
  };
  ws.on('message', (data) => {
    const text = toText(data);
    // Before signing in, a connection has nothing large to say.
    if (!connection.principal && text.length > UNSIGNED_MAX_BYTES) {
      ws.close(1009, 'Sign in before sending large messages.');
      return;
    }
    queue.push(text);
    pump();
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
