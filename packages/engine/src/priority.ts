import { DroverError } from '@drover/protocol';
import type { JobRecord } from '@drover/protocol';
import type { Database } from './database.js';
import type { Statements } from './statements.js';

/**
 * Changes a job's priority and its waiting tasks' with it, in one transaction: the job's row
 * first, then its tasks, the lock order the tasks trigger keeps. Running tasks are left alone.
 */
export async function setJobPriority(
  db: Database,
  sql: Statements,
  jobId: string,
  priority: number,
): Promise<JobRecord> {
  const job = await db.transaction(async (tx) => {
    const [found] = await tx.query(sql.get('lock-job'), [jobId]);
    if (!found) return undefined;
    await tx.query(sql.get('set-tasks-priority'), [jobId, priority]);
    const [row] = await tx.query<{ job: JobRecord }>(sql.get('set-job-priority'), [
      jobId,
      priority,
    ]);
    return row?.job;
  });
  if (!job) throw new DroverError('DROVER_E_NOT_FOUND', `There is no job ${jobId}.`);
  return job;
}
