import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Engine } from '@drover/engine';
import type { Log } from './logging.js';

export interface ReplicaOptions {
  /** A replica whose heartbeat is older than this is dead to the others, in milliseconds. */
  timeoutMs: number;
  /** This server joined the farm at its URL: once it listens, again after it was taken for dead. */
  onJoined?: (() => void) | undefined;
  /** This server was taken for dead (and its workers released): they must say hello again. */
  onTakenForDead: () => void;
  /** The survivors' sweep gave up tasks: they are queued again. */
  onRequeued: () => void;
  onError?: ((error: unknown, where: string) => void) | undefined;
  log?: Log | undefined;
}

/**
 * This server among the farm's replicas, in the database's `servers` table: it registers,
 * heartbeats, and sweeps the replicas that stopped heartbeating (their workers offline, their
 * tasks back in the queue). See decision 0025.
 */
export class Replica {
  readonly id = randomUUID();
  readonly #engine: Engine;
  readonly #options: ReplicaOptions;
  #url = '';

  constructor(engine: Engine, options: ReplicaOptions) {
    this.#engine = engine;
    this.#options = options;
  }

  /** Joins the farm; its URL (where the other replicas reach it) follows with `announce`. */
  register(): Promise<void> {
    return this.#engine.registerServer({
      id: this.id,
      url: this.#url,
      host: hostname(),
      pid: process.pid,
    });
  }

  async announce(url: string): Promise<void> {
    this.#url = url;
    await this.register();
    this.#options.log?.info({ serverId: this.id, url }, 'replica registered');
    this.#options.onJoined?.();
  }

  /** Its heartbeat; found taken for dead, it registers again and has its workers say hello. */
  async heartbeat(): Promise<void> {
    try {
      if (await this.#engine.heartbeatServer(this.id)) return;
      this.#options.log?.warn(
        { serverId: this.id, url: this.#url },
        'this replica was taken for dead by its peers: registering again',
      );
      await this.register();
      if (this.#url !== '') this.#options.onJoined?.();
      this.#options.onTakenForDead();
    } catch (error) {
      this.#options.onError?.(error, 'heartbeating');
    }
  }

  /** Releases what the replicas that stopped heartbeating held: their workers and their tasks. */
  async sweep(): Promise<void> {
    try {
      const swept = await this.#engine.sweepServers(this.id, this.#options.timeoutMs);
      if (swept.servers.length > 0 || swept.workers.length > 0)
        this.#options.log?.warn(
          {
            servers: swept.servers,
            workers: swept.workers.length,
            attempts: swept.attempts.length,
          },
          'swept replicas that stopped heartbeating: their workers offline, their tasks requeued',
        );
      if (swept.attempts.length > 0) this.#options.onRequeued();
    } catch (error) {
      this.#options.onError?.(error, 'sweeping dead replicas');
    }
  }

  /** Leaves the farm in order. */
  async leave(): Promise<void> {
    try {
      await this.#engine.unregisterServer(this.id);
    } catch (error) {
      this.#options.onError?.(error, 'leaving the farm');
    }
  }
}
