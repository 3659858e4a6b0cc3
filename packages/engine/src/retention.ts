import { GroupName, GroupRetention, parseOrThrow, RetentionMs } from '@drover/protocol';
import type { PruneReport } from '@drover/protocol';
import { z } from 'zod';
import type { Database } from './database.js';
import type { Statements } from './statements.js';

export interface RetentionPolicy {
  /** Finished jobs older than this go, with their tasks, attempts and events. */
  finishedJobsMs: number;
  /** Events outside any job (workers, refusals) older than this go. @defaultValue finishedJobsMs */
  eventsMs?: number;
  /** Rows deleted per statement, so no pass holds locks for long. @defaultValue 500 */
  batch?: number;
}

/** Which finished jobs a retention pass deletes. */
export interface RetentionRules {
  /**
   * The farm's retention, in ms, for the groups without one of their own; null keeps their
   * finished jobs. Events outside any job older than this go too.
   */
  farmMs: number | null;
  /** Jobs that finished longer ago than this go, whatever their group's retention (a prune). */
  olderThanMs?: number | undefined;
  /** Only this group's jobs (and then no events outside jobs). */
  group?: string | undefined;
  /**
   * Events outside any job older than this go; null none.
   * @defaultValue none with `group`, else `olderThanMs`, else `farmMs`
   */
  eventsMs?: number | null | undefined;
  /** Jobs deleted per statement, so no statement holds locks for long. @defaultValue 500 */
  batch?: number | undefined;
}

/** What a pass deleted, and the blobs it left unreferenced, for the server's stores to delete. */
export interface RetentionPass extends PruneReport {
  /** The sha256s of the blobs no artifact references any more since this pass. */
  freed: string[];
}

const Age = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
const Rules = z.object({
  farmMs: Age.nullable(),
  olderThanMs: Age.optional(),
  group: GroupName.optional(),
  eventsMs: Age.nullable().optional(),
  batch: z.int().min(1).max(100_000).optional(),
});

/** The age past which events outside any job go, or null. */
function eventsAge(rules: z.output<typeof Rules>): number | null {
  if (rules.eventsMs !== undefined) return rules.eventsMs;
  return rules.group === undefined ? (rules.olderThanMs ?? rules.farmMs) : null;
}

const Policy = z.object({
  finishedJobsMs: z.number().min(0).max(Number.MAX_SAFE_INTEGER),
  eventsMs: z.number().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  batch: z.int().min(1).max(100_000).optional(),
});

interface BatchRow {
  jobs: number;
  tasks: string | number;
  events: string | number;
  artifacts: string | number;
  blobs: Record<string, number | string>;
}

/**
 * One retention pass: the finished jobs past their retention go in batches of `batch` jobs (each
 * its own statement, holding its locks briefly), then, without a group, the events outside any
 * job older than the farm's retention. `beforeBatch` runs before each batch (a scheduled pass
 * renews its hold there). Resolves to what went, with the blobs no artifact references any more.
 */
export async function runRetentionPass(
  db: Database,
  sql: Statements,
  input: RetentionRules,
  beforeBatch?: () => Promise<void>,
): Promise<RetentionPass> {
  const rules = parseOrThrow(Rules, input, 'retention rules');
  const batch = rules.batch ?? 500;
  const report: RetentionPass = {
    jobs: 0,
    tasks: 0,
    events: 0,
    artifacts: 0,
    blobs: 0,
    bytes: 0,
    dryRun: false,
    freed: [],
  };
  const sizes = new Map<string, number>();
  for (;;) {
    await beforeBatch?.();
    const [row] = await db.query<BatchRow>(sql.get('retention-delete-jobs'), [
      rules.farmMs,
      batch,
      rules.group ?? null,
      rules.olderThanMs ?? null,
    ]);
    if (!row) break;
    report.jobs += row.jobs;
    report.tasks += Number(row.tasks);
    report.events += Number(row.events);
    report.artifacts += Number(row.artifacts);
    for (const [sha256, size] of Object.entries(row.blobs)) sizes.set(sha256, Number(size));
    if (row.jobs < batch) break;
  }
  const eventsMs = eventsAge(rules);
  if (eventsMs !== null) {
    for (;;) {
      await beforeBatch?.();
      const [row] = await db.query<{ events: number }>(sql.get('delete-old-events'), [
        eventsMs,
        batch * 20,
      ]);
      report.events += row?.events ?? 0;
      if ((row?.events ?? 0) < batch * 20) break;
    }
  }
  const candidates = [...sizes.keys()];
  for (let i = 0; i < candidates.length; i += 1000) {
    const rows = await db.query<{ sha256: string }>(sql.get('unreferenced-blobs'), [
      candidates.slice(i, i + 1000),
    ]);
    for (const { sha256 } of rows) report.freed.push(sha256);
  }
  report.blobs = report.freed.length;
  report.bytes = report.freed.reduce((sum, sha256) => sum + (sizes.get(sha256) ?? 0), 0);
  return report;
}

/** What a pass with these rules would delete, deleting nothing. */
export async function previewRetention(
  db: Database,
  sql: Statements,
  input: RetentionRules,
): Promise<PruneReport> {
  const rules = parseOrThrow(Rules, input, 'retention rules');
  const eventsMs = eventsAge(rules);
  const [row] = await db.query<Record<Exclude<keyof PruneReport, 'dryRun'>, string | number>>(
    sql.get('retention-preview'),
    [rules.farmMs, rules.group ?? null, rules.olderThanMs ?? null, eventsMs],
  );
  return {
    jobs: Number(row?.jobs ?? 0),
    tasks: Number(row?.tasks ?? 0),
    events: Number(row?.events ?? 0),
    artifacts: Number(row?.artifacts ?? 0),
    blobs: Number(row?.blobs ?? 0),
    bytes: Number(row?.bytes ?? 0),
    dryRun: true,
  };
}

/** Deletes what the retention policy no longer keeps; returns how many jobs went. */
export async function applyRetention(
  db: Database,
  sql: Statements,
  input: RetentionPolicy,
): Promise<number> {
  const policy = parseOrThrow(Policy, input, 'retention policy');
  const pass = await runRetentionPass(db, sql, {
    farmMs: Math.trunc(policy.finishedJobsMs),
    olderThanMs: Math.trunc(policy.finishedJobsMs),
    eventsMs: Math.trunc(policy.eventsMs ?? policy.finishedJobsMs),
    batch: policy.batch ?? 500,
  });
  return pass.jobs;
}

/** A group's own retention (`default`: the farm's again). */
export async function setGroupRetention(
  db: Database,
  sql: Statements,
  group: string,
  retention: unknown,
): Promise<void> {
  parseOrThrow(GroupName, group, 'group');
  const value = parseOrThrow(GroupRetention, retention, 'retention');
  if (value === 'default') await db.query(sql.get('clear-group-retention'), [group]);
  else
    await db.query(sql.get('set-group-retention'), [
      group,
      value === 'off' ? null : parseOrThrow(RetentionMs, value, 'retention'),
    ]);
}

/**
 * The farm's scheduled pass, run by one replica at a time: `claim` takes it (false when another
 * replica holds it, or the last pass ended less than `intervalMs` ago), `renew` extends the hold
 * between batches, `release` ends it.
 */
export class RetentionHold {
  readonly #db: Database;
  readonly #sql: Statements;

  constructor(db: Database, sql: Statements) {
    this.#db = db;
    this.#sql = sql;
  }

  async claim(serverId: string, holdMs: number, intervalMs: number): Promise<boolean> {
    const rows = await this.#db.query(this.#sql.get('claim-retention'), [
      serverId,
      holdMs,
      intervalMs,
    ]);
    return rows.length > 0;
  }

  /** False when the hold had lapsed (another replica may run the pass too: harmless). */
  async renew(serverId: string, holdMs: number): Promise<boolean> {
    return (await this.#db.query(this.#sql.get('renew-retention'), [serverId, holdMs])).length > 0;
  }

  async release(serverId: string): Promise<void> {
    await this.#db.query(this.#sql.get('release-retention'), [serverId]);
  }

  /** Records a pass that ended, scheduled or asked for; resolves to its id. */
  async record(
    serverId: string,
    scheduled: boolean,
    startedAt: Date,
    report: PruneReport,
  ): Promise<number> {
    const [row] = await this.#db.query<{ id: string }>(this.#sql.get('record-retention-pass'), [
      serverId,
      scheduled,
      startedAt.toISOString(),
      report.jobs,
      report.tasks,
      report.events,
      report.artifacts,
      report.blobs,
      report.bytes,
    ]);
    return Number(row?.id ?? 0);
  }

  /** The id of the newest recorded pass that left blobs unreferenced; 0 when none did. */
  async newestFreeingPass(): Promise<number> {
    const [row] = await this.#db.query<{ id: string }>(this.#sql.get('newest-freeing-pass'));
    return Number(row?.id ?? 0);
  }

  /** The recorded passes, oldest first. */
  async passes(): Promise<RecordedPass[]> {
    const rows = await this.#db.query<{ pass: RecordedPass }>(
      this.#sql.get('list-retention-passes'),
    );
    return rows.map((r) => r.pass);
  }
}

/** A pass as `retention_passes` keeps it. */
export interface RecordedPass extends Omit<PruneReport, 'dryRun'> {
  id: number;
  serverId: string;
  scheduled: boolean;
  startedAt: string;
  finishedAt: string;
}
