import type { JobRecord } from '@drover/protocol';
import type { Database } from './database.js';
import type { Statements } from './statements.js';
import { updateJob } from './update.js';

/** Changes a job's priority and its waiting tasks' with it: `jobs.update` of the priority alone. */
export async function setJobPriority(
  db: Database,
  sql: Statements,
  jobId: string,
  priority: number,
): Promise<JobRecord> {
  return (await updateJob(db, sql, { id: jobId, priority })).job;
}
