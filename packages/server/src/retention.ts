import type { Engine, RetentionPass, RetentionRules } from '@drover/engine';
import type { PruneReport, PruneRequest } from '@drover/protocol';
import type { ArtifactStore } from './artifacts/index.js';
import { sweepArtifacts } from './artifacts/index.js';

/** 30 days: how long a farm keeps its finished jobs unless told otherwise. */
export const DEFAULT_RETENTION_MS = 30 * 86_400_000;

export interface RetentionOptions {
  /**
   * How long finished jobs are kept, in ms, in the groups without a retention of their own
   * (`groups.setRetention`); null keeps them (groups with their own are still pruned).
   * @defaultValue 30 days
   */
  farmMs?: number | null | undefined;
  /** The farm runs one scheduled pass this often, on one replica; 0 never. @defaultValue 1 hour */
  intervalMs?: number | undefined;
  /**
   * How often this replica looks whether a pass is due, and whether another replica's pass left
   * blobs to delete here. @defaultValue a minute, or `intervalMs` if shorter
   */
  checkMs?: number | undefined;
  /** Jobs deleted per statement. @defaultValue 500 */
  batch?: number | undefined;
  /**
   * Blobs written more recently than this stay on disk when a pass frees them (an upload of the
   * same bytes may be between storing them and recording its artifact); the store's sweep takes
   * them later. @defaultValue 1 hour, as the sweep's
   */
  graceMs?: number | undefined;
}

/** How long a replica's hold on the scheduled pass lasts without a batch renewing it. */
const HOLD_MS = 10 * 60_000;

/**
 * Retention on a schedule: every `intervalMs` one replica of the farm (the one that takes the hold
 * in the database) deletes the finished jobs past their group's retention, or the farm's, in
 * batches; then the blobs they alone referenced, from its own store at once and from the other
 * replicas' as each sees the pass recorded; then, on PGlite, vacuums so that the space is reused.
 * `prune` runs a pass now with an age given.
 */
export class Retention {
  readonly #engine: Engine;
  readonly #serverId: string;
  readonly #store: ArtifactStore;
  readonly #onError: (error: unknown, where: string) => void;
  readonly #farmMs: number | null;
  readonly #intervalMs: number;
  readonly #checkMs: number;
  readonly #batch: number;
  readonly #graceMs: number;
  #timer: NodeJS.Timeout | undefined;
  #closing = false;
  #running: Promise<unknown> | undefined;
  /** The newest recorded pass that freed blobs, as this replica last saw it. */
  #seenPass: number | undefined;

  constructor(
    engine: Engine,
    serverId: string,
    store: ArtifactStore,
    options: RetentionOptions,
    onError: (error: unknown, where: string) => void,
  ) {
    this.#engine = engine;
    this.#serverId = serverId;
    this.#store = store;
    this.#onError = onError;
    this.#farmMs = options.farmMs === undefined ? DEFAULT_RETENTION_MS : options.farmMs;
    this.#intervalMs = options.intervalMs ?? 3_600_000;
    this.#checkMs = options.checkMs ?? Math.min(60_000, this.#intervalMs);
    this.#batch = options.batch ?? 500;
    this.#graceMs = options.graceMs ?? 3_600_000;
  }

  /** The farm's retention for groups without their own, in ms; null: kept. */
  get farmMs(): number | null {
    return this.#farmMs;
  }

  /** Starts looking every `checkMs` whether the scheduled pass is due (never two at once here). */
  start(): void {
    if (this.#intervalMs <= 0 || this.#timer) return;
    this.#timer = setInterval(() => {
      this.#running ??= this.#tick().finally(() => {
        this.#running = undefined;
      });
    }, this.#checkMs);
    this.#timer.unref();
  }

  /** Stops the schedule; a scheduled pass under way stops after its current batch. */
  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** `retention.prune`: finished jobs older than `olderThanMs` go now (or are counted, dry). */
  async prune(request: PruneRequest): Promise<PruneReport> {
    const rules: RetentionRules = {
      farmMs: this.#farmMs,
      olderThanMs: request.olderThanMs,
      group: request.group,
      batch: this.#batch,
    };
    if (request.dryRun) return this.#engine.previewRetention(rules);
    const pass = await this.#pass(rules, false);
    return {
      jobs: pass.jobs,
      tasks: pass.tasks,
      events: pass.events,
      artifacts: pass.artifacts,
      blobs: pass.blobs,
      bytes: pass.bytes,
      dryRun: false,
    };
  }

  async #tick(): Promise<void> {
    try {
      await this.#sweepAfterOthers();
      const taken = await this.#engine.retentionHold.claim(
        this.#serverId,
        HOLD_MS,
        this.#intervalMs,
      );
      if (!taken) return;
      try {
        await this.#pass({ farmMs: this.#farmMs, batch: this.#batch }, true);
      } finally {
        await this.#engine.retentionHold.release(this.#serverId);
      }
    } catch (error) {
      if (!(error instanceof ServerClosing)) this.#onError(error, 'applying retention');
    }
  }

  /** A pass: the jobs, the blobs they freed in this replica's store, the record, the vacuum. */
  async #pass(rules: RetentionRules, scheduled: boolean): Promise<RetentionPass> {
    const startedAt = new Date();
    const pass = await this.#engine.runRetentionPass(
      rules,
      scheduled
        ? async () => {
            // What went so far stays gone; the next pass, here or on another replica, goes on.
            if (this.#closing) throw new ServerClosing();
            await this.#engine.retentionHold.renew(this.#serverId, HOLD_MS);
          }
        : undefined,
    );
    const writtenBefore = new Date(Date.now() - this.#graceMs);
    for (const sha256 of pass.freed) {
      try {
        await this.#store.delete(sha256, writtenBefore);
      } catch (error) {
        // The store's hourly sweep tries again: the blob is unreferenced for good.
        this.#onError(error, `deleting blob ${sha256}`);
      }
    }
    if (pass.jobs + pass.events > 0) {
      const id = await this.#engine.retentionHold.record(
        this.#serverId,
        scheduled,
        startedAt,
        pass,
      );
      // Its own pass needs no sweep here: its blobs went above.
      if (pass.blobs > 0 && this.#seenPass !== undefined)
        this.#seenPass = Math.max(this.#seenPass, id);
      // PGlite reuses the space of deleted rows once they are vacuumed; PostgreSQL's autovacuum
      // does this by itself.
      await this.#engine.reclaimSpace();
    }
    return pass;
  }

  /**
   * Another replica's pass freed blobs, which this replica's own store may hold too: they go at
   * once, by a sweep of the store, rather than at its hourly sweep.
   */
  async #sweepAfterOthers(): Promise<void> {
    const newest = await this.#engine.retentionHold.newestFreeingPass();
    if (this.#seenPass === undefined || newest <= this.#seenPass) {
      this.#seenPass = Math.max(this.#seenPass ?? 0, newest);
      return;
    }
    this.#seenPass = newest;
    await sweepArtifacts(this.#engine, this.#store, { graceMs: this.#graceMs });
  }
}

/** Ends a scheduled pass as its server closes. */
class ServerClosing extends Error {}
