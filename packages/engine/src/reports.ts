import type { LogLine, TaskError } from '@drover/protocol';
import type { Database } from './database.js';
import type { Lease } from './leases.js';
import type { Statements } from './statements.js';

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

export interface LogBatch extends Lease {
  lines: LogLine[];
}

/** A report for each lease at most once: a batch with the same attempt twice keeps the first. */
function firstPerAttempt<T extends Lease>(reports: readonly T[]): T[] {
  const seen = new Set<string>();
  return reports.filter((r) => !seen.has(r.attemptId) && seen.add(r.attemptId));
}

async function apply(
  db: Database,
  statement: string,
  rows: readonly object[],
): Promise<ReportOutcome[]> {
  if (rows.length === 0) return [];
  const result = await db.query<{ attempt_id: string; accepted: boolean }>(statement, [
    JSON.stringify(rows),
  ]);
  return result.map((r) => ({ attemptId: r.attempt_id, accepted: r.accepted }));
}

export function reportProgress(
  db: Database,
  sql: Statements,
  reports: readonly ProgressReport[],
): Promise<ReportOutcome[]> {
  return apply(
    db,
    sql.get('report-progress'),
    firstPerAttempt(reports).map((r) => ({
      attempt_id: r.attemptId,
      token: r.token,
      progress: r.progress ?? null,
      message: r.message ?? null,
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
    firstPerAttempt(reports).map((r) => ({
      attempt_id: r.attemptId,
      token: r.token,
      result: r.result ?? null,
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
    firstPerAttempt(reports).map((r) => ({
      attempt_id: r.attemptId,
      token: r.token,
      error: r.error,
      retry: r.retry ?? true,
    })),
  );
}

export function appendLogs(
  db: Database,
  sql: Statements,
  batches: readonly LogBatch[],
): Promise<ReportOutcome[]> {
  // Batches of one attempt are merged so it gets one event per call.
  const merged = new Map<string, LogBatch>();
  for (const batch of batches) {
    const existing = merged.get(batch.attemptId);
    if (existing) existing.lines.push(...batch.lines);
    else merged.set(batch.attemptId, { ...batch, lines: [...batch.lines] });
  }
  return apply(
    db,
    sql.get('append-logs'),
    [...merged.values()].map((b) => ({ attempt_id: b.attemptId, token: b.token, lines: b.lines })),
  );
}
