import type { Assignment, TaskRecord } from '@drover/protocol';
import type { Database } from './database.js';
import type { Statements } from './statements.js';

/** Proof that a report comes from the current attempt of a task. */
export interface Lease {
  attemptId: string;
  token: string;
}

export interface ClaimRequest {
  workerId: string;
  /** The task types the worker can run. */
  taskTypes: readonly string[];
  /** The worker's tags: a task is claimed only if the worker has every tag it requires. */
  tags: readonly string[];
  /** At most this many tasks: the worker's free slots. */
  limit: number;
  /** How long the lease lasts unless renewed, in milliseconds. @defaultValue 30,000 */
  leaseMs?: number;
}

/** Workers that can run the same tasks: the same task types and the same tags. */
export interface ClaimGroup {
  taskTypes: readonly string[];
  tags: readonly string[];
  /**
   * One worker id per free slot, in the order the slots are filled: the first task of the group
   * goes to the first entry. A worker with three free slots appears three times.
   */
  slots: readonly string[];
}

export interface BatchClaimRequest {
  groups: readonly ClaimGroup[];
  /** How long the leases last unless renewed, in milliseconds. @defaultValue 30,000 */
  leaseMs?: number;
}

export const DEFAULT_LEASE_MS = 30_000;

interface ClaimRow {
  worker_id: string;
  task: TaskRecord;
  attempt_id: string;
  token: string;
  lease_expires_at: Date;
  deadline_at: Date;
}

/**
 * Claims tasks for the free slots of many online workers in one statement, opening an attempt
 * with a lease for each. Each assignment's `task.workerId` names the worker it is for.
 */
export async function claimTasks(
  db: Database,
  sql: Statements,
  request: BatchClaimRequest,
): Promise<Assignment[]> {
  const groups = request.groups.filter((g) => g.slots.length > 0 && g.taskTypes.length > 0);
  if (groups.length === 0) return [];
  const rows = await db.query<ClaimRow>(sql.get('claim-tasks'), [
    JSON.stringify(groups.map((g) => ({ taskTypes: g.taskTypes, tags: g.tags, slots: g.slots }))),
    request.leaseMs ?? DEFAULT_LEASE_MS,
  ]);
  return rows.map((row) => ({
    task: row.task,
    attemptId: row.attempt_id,
    token: row.token,
    leaseExpiresAt: new Date(row.lease_expires_at).toISOString(),
    deadlineAt: new Date(row.deadline_at).toISOString(),
  }));
}

/** Claims up to `limit` tasks for one online worker: a claim whose one group is that worker. */
export function claimForWorker(
  db: Database,
  sql: Statements,
  request: ClaimRequest,
): Promise<Assignment[]> {
  if (request.limit <= 0) return Promise.resolve([]);
  const slots = Array.from({ length: Math.min(request.limit, 1024) }, () => request.workerId);
  return claimTasks(db, sql, {
    groups: [{ taskTypes: request.taskTypes, tags: request.tags, slots }],
    ...(request.leaseMs !== undefined && { leaseMs: request.leaseMs }),
  });
}

export interface RenewResult {
  /** The attempts whose leases now run to `leaseExpiresAt`. */
  renewed: { attemptId: string; leaseExpiresAt: string }[];
  /** The attempts that are no longer active: their workers must stop them. */
  stale: string[];
}

/** Renews many leases in one statement (a worker's heartbeat). */
export async function renewLeases(
  db: Database,
  sql: Statements,
  leases: readonly Lease[],
  leaseMs = DEFAULT_LEASE_MS,
): Promise<RenewResult> {
  if (leases.length === 0) return { renewed: [], stale: [] };
  const rows = await db.query<{ attempt_id: string; lease_expires_at: Date }>(
    sql.get('renew-leases'),
    [leases.map((l) => l.attemptId), leases.map((l) => l.token), leaseMs],
  );
  const renewed = new Set(rows.map((r) => r.attempt_id));
  return {
    renewed: rows.map((r) => ({
      attemptId: r.attempt_id,
      leaseExpiresAt: new Date(r.lease_expires_at).toISOString(),
    })),
    stale: leases.map((l) => l.attemptId).filter((id) => !renewed.has(id)),
  };
}

export interface ReapedAttempt {
  attemptId: string;
  taskId: string;
  workerId: string;
  /** `lost`: the lease ran out; `timed_out`: the task's timeout passed (stop the process). */
  status: 'lost' | 'timed_out';
}

/** The lease reaper's pass: gives up attempts whose lease expired or whose deadline passed. */
export async function reapAttempts(
  db: Database,
  sql: Statements,
  limit = 1000,
): Promise<ReapedAttempt[]> {
  const rows = await db.query<{
    attempt_id: string;
    task_id: string;
    worker_id: string;
    status: 'lost' | 'timed_out';
  }>(sql.get('reap-attempts'), [limit]);
  return rows.map((r) => ({
    attemptId: r.attempt_id,
    taskId: r.task_id,
    workerId: r.worker_id,
    status: r.status,
  }));
}

/** A worker went away: its attempts (those named, or all) are lost now and their tasks retried. */
export async function loseWorkerAttempts(
  db: Database,
  sql: Statements,
  workerId: string,
  reason: string,
  attemptIds?: readonly string[],
): Promise<{ attemptId: string; taskId: string }[]> {
  const rows = await db.query<{ attempt_id: string; task_id: string }>(
    sql.get('lose-worker-attempts'),
    [workerId, reason, attemptIds ?? null],
  );
  return rows.map((r) => ({ attemptId: r.attempt_id, taskId: r.task_id }));
}
