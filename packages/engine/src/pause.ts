import { DroverError } from '@drover/protocol';
import type { GroupRecord, JobRecord } from '@drover/protocol';
import type { Database } from './database.js';
import type { Statements } from './statements.js';

/**
 * Pauses a job (`paused` true) or resumes it. A paused job starts no task: claims skip its queued
 * tasks, while those workers hold run to their end. Resuming also lifts its group's pause from
 * this one job, and wakes the dispatchers of every server. Pausing a job already paused (or
 * resuming one that is not) changes nothing.
 */
export async function pauseJob(
  db: Database,
  sql: Statements,
  jobId: string,
  paused: boolean,
): Promise<JobRecord> {
  await db.transaction(async (tx) => {
    const changed = await tx.query(sql.get('pause-job'), [jobId, paused]);
    if (changed.length > 0 && !paused) await tx.query(sql.get('wake-dispatchers'));
  });
  const [found] = await db.query<{ job: JobRecord }>(sql.get('get-job'), [jobId]);
  if (!found) throw new DroverError('DROVER_E_NOT_FOUND', `There is no job ${jobId}.`);
  return found.job;
}

/**
 * Pauses a group (`paused` true): its jobs still to finish, and those submitted into it or coming
 * back to it (extended, retried) until it is resumed. Resuming lifts the group's pause from every
 * job of the group; jobs paused on their own stay paused. Returns the group and how many jobs
 * changed. A group need not have jobs yet: pausing one first makes its first jobs wait.
 */
export async function pauseGroup(
  db: Database,
  sql: Statements,
  group: string,
  paused: boolean,
): Promise<{ group: GroupRecord; changed: number }> {
  const changed = await db.transaction(async (tx) => {
    await tx.query(sql.get('lock-group'), [group]);
    await tx.query(sql.get(paused ? 'mark-group-paused' : 'unmark-group-paused'), [group]);
    const jobs = await tx.query(sql.get('pause-group-jobs'), [group, paused]);
    if (!paused) await tx.query(sql.get('wake-dispatchers'));
    return jobs.length;
  });
  return { group: await getGroup(db, sql, group), changed };
}

/** One group, as `groups.list` lists it; a group with no job that is not paused is not found. */
export async function getGroup(db: Database, sql: Statements, group: string): Promise<GroupRecord> {
  const [row] = await db.query<{ group: GroupRecord }>(sql.get('list-groups'), [group]);
  if (!row) throw new DroverError('DROVER_E_NOT_FOUND', `There is no group ${group}.`);
  return row.group;
}
