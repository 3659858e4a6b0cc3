import { DroverError } from '@drover/protocol';
import type { GroupRecord, JobRecord } from '@drover/protocol';
import type { Database } from './database.js';
import type { Statements } from './statements.js';

/**
 * Pauses a job (`paused` true) or resumes it. A paused job starts no task: claims skip its queued
 * tasks, while those workers hold run to their end; its waiting tasks are walked last by the
 * queue, so that claims for other jobs do not read past them. Resuming also lifts its group's
 * pause from this one job, and wakes the dispatchers of every server. Pausing a job already
 * paused (or resuming one that is not) changes nothing.
 */
export async function pauseJob(
  db: Database,
  sql: Statements,
  jobId: string,
  paused: boolean,
): Promise<JobRecord> {
  if (paused) {
    await db.transaction(async (tx) => {
      const changed = await tx.query(sql.get('pause-job'), [jobId, true]);
      if (changed.length > 0) await tx.query(sql.get('hold-back-tasks'), [[jobId]]);
    });
  } else {
    // Tasks first, in a transaction of their own (see release-queued-tasks.sql), then the job.
    await db.query(sql.get('release-queued-tasks'), [[jobId]]);
    await db.transaction(async (tx) => {
      await tx.query(sql.get('lock-job'), [jobId]);
      const changed = await tx.query(sql.get('pause-job'), [jobId, false]);
      await tx.query(sql.get('release-waiting-tasks'), [[jobId]]);
      if (changed.length > 0) await tx.query(sql.get('wake-dispatchers'));
    });
  }
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
  if (!paused) {
    // Tasks first, in a transaction of their own (see release-queued-tasks.sql).
    const jobs = await db.query<{ id: string }>(sql.get('group-jobs-to-resume'), [group]);
    if (jobs.length > 0) await db.query(sql.get('release-queued-tasks'), [jobs.map((j) => j.id)]);
  }
  const changed = await db.transaction(async (tx) => {
    await tx.query(sql.get('lock-group'), [group]);
    await tx.query(sql.get(paused ? 'mark-group-paused' : 'unmark-group-paused'), [group]);
    const jobs = await tx.query<{ id: string; paused: boolean }>(sql.get('pause-group-jobs'), [
      group,
      paused,
    ]);
    if (paused) {
      if (jobs.length > 0) await tx.query(sql.get('hold-back-tasks'), [jobs.map((j) => j.id)]);
    } else {
      const resumed = jobs.filter((j) => !j.paused).map((j) => j.id);
      if (resumed.length > 0) await tx.query(sql.get('release-waiting-tasks'), [resumed]);
      await tx.query(sql.get('wake-dispatchers'));
    }
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
