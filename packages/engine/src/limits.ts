import { DroverError } from '@drover/protocol';
import type { GroupLimits, GroupLimitsChange, TaskTypeLimits, WorkerBlock } from '@drover/protocol';
import type { Database } from './database.js';
import type { Statements } from './statements.js';

/**
 * Changes a group's limits and weight (decision 0035): only the keys given change, null lifts a
 * limit. Claims enforce them from the next one on, on every server; the dispatchers are woken.
 */
export async function setGroupLimits(
  db: Database,
  sql: Statements,
  change: GroupLimitsChange,
  by: string | null,
): Promise<GroupLimits> {
  const patch: Record<string, number | null> = {};
  if (change.maxRunning !== undefined) patch.maxRunning = change.maxRunning;
  if (change.ratePerMinute !== undefined) patch.ratePerMinute = change.ratePerMinute;
  if (change.weight !== undefined) patch.weight = change.weight;
  const [row] = await db.query<{ limits: GroupLimits }>(sql.get('set-group-limits'), [
    change.group,
    JSON.stringify(patch),
    by,
  ]);
  if (!row) throw new Error('set-group-limits returned no row');
  return row.limits;
}

/** Sets (or, with null, lifts) a task type's limit of tasks leased or running at once. */
export async function setTaskTypeLimits(
  db: Database,
  sql: Statements,
  limits: TaskTypeLimits,
  by: string | null,
): Promise<TaskTypeLimits> {
  const [row] = await db.query<{ limits: TaskTypeLimits }>(sql.get('set-task-type-limits'), [
    limits.taskType,
    limits.maxRunning,
    by,
  ]);
  if (!row) throw new Error('set-task-type-limits returned no row');
  return row.limits;
}

async function requireJob(db: Database, sql: Statements, jobId: string): Promise<void> {
  const [found] = await db.query(sql.get('get-job'), [jobId]);
  if (!found) throw new DroverError('DROVER_E_NOT_FOUND', `There is no job ${jobId}.`);
}

/** The workers that failed a job's tasks (decision 0036), blocked ones first. */
export async function listJobBlocks(
  db: Database,
  sql: Statements,
  jobId: string,
): Promise<WorkerBlock[]> {
  await requireJob(db, sql, jobId);
  const rows = await db.query<{ block: WorkerBlock }>(sql.get('list-job-blocks'), [jobId]);
  return rows.map((r) => r.block);
}

/**
 * Forgets a worker's failures of a job's tasks (every worker's, without one), so that it may be
 * offered them again. Returns how many workers were blocked and no longer are.
 */
export async function unblockWorkers(
  db: Database,
  sql: Statements,
  jobId: string,
  workerId: string | undefined,
): Promise<number> {
  await requireJob(db, sql, jobId);
  const [row] = await db.query<{ unblocked: number }>(sql.get('unblock-workers'), [
    jobId,
    workerId ?? null,
  ]);
  return row?.unblocked ?? 0;
}
