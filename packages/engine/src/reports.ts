import type { LogLine, TaskError } from '@drover/protocol';
import type { Database } from './database.js';
import type { Lease } from './leases.js';
import type { Statements } from './statements.js';
import { cleanJson, cleanText } from './clean-text.js';

/** Whether a report was applied. A refused one carried a stale lease token and changed nothing. */
export interface ReportOutcome {
  attemptId: string;
  accepted: boolean;
}

export interface ProgressReport extends Lease {
  /** 0..1; leave out to keep the current progress. */
  progress?: number | null;
  /** A status message for people ("rendering row 120 of 512"). */
  message?: string | null;
}

export interface ResultReport extends Lease {
  result: unknown;
}

export interface FailureReport extends Lease {
  error: TaskError;
  /** False when trying again cannot help; the task then fails at once. @defaultValue true */
  retry?: boolean;
}

/** An attempt its worker gives back in an orderly shutdown, unstarted or stopped unfinished. */
export interface ReleaseReport extends Lease {
  /** Why, for people: "the worker is shutting down". */
  reason: string;
}

export interface LogBatch extends Lease {
  lines: LogLine[];
}

/**
 * One report per lease: the same attempt and token twice keeps the first. Keyed by both, so a
 * report with a wrong token can never stand in for (or hide) the genuine one.
 */
function firstPerLease<T extends Lease>(reports: readonly T[]): T[] {
  const seen = new Set<string>();
  return reports.filter((r) => {
    const key = `${r.attemptId}:${r.token}`;
    return !seen.has(key) && seen.add(key);
  });
}

const ATTEMPT_ID = /^[1-9][0-9]{0,18}$/;
const TOKEN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A lease that cannot be one (not an id, not a UUID) is refused without asking the database. */
function wellFormed(row: { attempt_id: string; token: string }): boolean {
  return (
    ATTEMPT_ID.test(row.attempt_id) && BigInt(row.attempt_id) < 2n ** 63n && TOKEN.test(row.token)
  );
}

async function apply(
  db: Database,
  statement: string,
  all: readonly { attempt_id: string; token: string }[],
): Promise<ReportOutcome[]> {
  const rows = all.filter(wellFormed);
  const malformed = all
    .filter((r) => !wellFormed(r))
    .map((r) => ({ attemptId: r.attempt_id, accepted: false }));
  if (rows.length === 0) return malformed;
  const result = await db.query<{ attempt_id: string; accepted: boolean }>(statement, [
    JSON.stringify(rows),
  ]);
  return [...result.map((r) => ({ attemptId: r.attempt_id, accepted: r.accepted })), ...malformed];
}

export function reportProgress(
  db: Database,
  sql: Statements,
  reports: readonly ProgressReport[],
): Promise<ReportOutcome[]> {
  return apply(
    db,
    sql.get('report-progress'),
    firstPerLease(reports).map((r) => ({
      attempt_id: r.attemptId,
      token: r.token,
      progress: r.progress ?? null,
      message: r.message == null ? null : cleanText(r.message),
    })),
  );
}

export function completeAttempts(
  db: Database,
  sql: Statements,
  reports: readonly ResultReport[],
): Promise<ReportOutcome[]> {
  return apply(
    db,
    sql.get('complete-attempts'),
    firstPerLease(reports).map((r) => ({
      attempt_id: r.attemptId,
      token: r.token,
      result: cleanJson(r.result ?? null),
    })),
  );
}

export function failAttempts(
  db: Database,
  sql: Statements,
  reports: readonly FailureReport[],
): Promise<ReportOutcome[]> {
  return apply(
    db,
    sql.get('fail-attempts'),
    firstPerLease(reports).map((r) => ({
      attempt_id: r.attemptId,
      token: r.token,
      error: cleanJson(r.error),
      retry: r.retry ?? true,
    })),
  );
}

/**
 * Attempts given back by their worker in an orderly shutdown: not charged against the task's
 * attempts, and the tasks queued again at once (cancelled if a cancel was requested).
 */
export function releaseAttempts(
  db: Database,
  sql: Statements,
  reports: readonly ReleaseReport[],
): Promise<ReportOutcome[]> {
  return apply(
    db,
    sql.get('release-attempts'),
    firstPerLease(reports).map((r) => ({
      attempt_id: r.attemptId,
      token: r.token,
      reason: cleanText(r.reason),
    })),
  );
}

export function appendLogs(
  db: Database,
  sql: Statements,
  batches: readonly LogBatch[],
): Promise<ReportOutcome[]> {
  // Batches of one lease are merged so it gets one event per call; a batch under another token
  // stays apart, and is refused on its own.
  const merged = new Map<string, LogBatch>();
  for (const batch of batches) {
    const key = `${batch.attemptId}:${batch.token}`;
    const lines = batch.lines.map((l) => ({ ...l, line: cleanText(l.line) }));
    const existing = merged.get(key);
    if (existing) existing.lines.push(...lines);
    else merged.set(key, { ...batch, lines });
  }
  return apply(
    db,
    sql.get('append-logs'),
    [...merged.values()].map((b) => ({ attempt_id: b.attemptId, token: b.token, lines: b.lines })),
  );
}
