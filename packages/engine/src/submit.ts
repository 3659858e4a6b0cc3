import { createHash, randomUUID } from 'node:crypto';
import { DroverError, JobSubmission, parseOrThrow } from '@drover/protocol';
import type { JobRecord } from '@drover/protocol';
import type { Database } from './database.js';
import { SUBMISSION_DEFAULTS, expandStages } from './expand.js';
import type { Statements } from './statements.js';
import { uncleanPath } from './clean-text.js';

export interface SubmitResult {
  job: JobRecord;
  /** False when the idempotency key matched an earlier submission, which is returned instead. */
  created: boolean;
}

/**
 * Validates a submission and writes the job with all its tasks in one transaction; resolves only
 * after the commit. Invalid input throws `DROVER_E_INVALID_PARAMS` before anything is written.
 */
export async function submitJob(
  db: Database,
  sql: Statements,
  input: unknown,
): Promise<SubmitResult> {
  const job = parseOrThrow(JobSubmission, input, 'job submission');
  const unclean = uncleanPath(job);
  if (unclean !== undefined) {
    const message = 'text must not contain NUL characters or unpaired UTF-16 surrogates';
    throw new DroverError(
      'DROVER_E_INVALID_PARAMS',
      `Invalid job submission: ${unclean}: ${message}`,
      {
        details: [{ path: unclean, message }],
      },
    );
  }
  const stages = expandStages(job);
  const taskCount = stages.reduce((n, s) => n + s.task_count, 0);
  const firstStageCount = stages[0]?.task_count ?? 0;
  const hash = createHash('sha256').update(JSON.stringify(job)).digest('hex');
  const backoff = job.backoff ?? SUBMISSION_DEFAULTS.backoff;

  return db.transaction(async (tx) => {
    const id = randomUUID();
    const inserted = await tx.query<{ job: JobRecord }>(sql.get('insert-job'), [
      id,
      job.group,
      job.name ?? job.taskType,
      job.taskType,
      JSON.stringify(job.params),
      job.priority ?? SUBMISSION_DEFAULTS.priority,
      taskCount,
      firstStageCount,
      taskCount - firstStageCount,
      job.idempotencyKey ?? null,
      hash,
    ]);
    const created = inserted[0];
    if (!created) {
      const [existing] = await tx.query<{ job: JobRecord; submission_hash: string }>(
        sql.get('find-job-by-key'),
        [job.group, job.idempotencyKey],
      );
      if (!existing) throw new Error('idempotency conflict without an existing job');
      if (existing.submission_hash !== hash) {
        throw new DroverError('DROVER_E_IDEMPOTENCY_CONFLICT', undefined, {
          details: { jobId: existing.job.id, idempotencyKey: job.idempotencyKey },
        });
      }
      return { job: existing.job, created: false };
    }
    // Sorting a large job's tasks into submission order must not spill to disk.
    if (taskCount > 10_000) await tx.query(`SET LOCAL work_mem = '64MB'`);
    await tx.query(sql.get('insert-stages'), [
      id,
      JSON.stringify(stages.map((s) => ({ stage: s.stage, task_count: s.task_count }))),
    ]);
    await tx.query(sql.get('insert-tasks'), [
      id,
      job.priority ?? SUBMISSION_DEFAULTS.priority,
      job.runAt ?? null,
      backoff.initialMs,
      backoff.maxMs,
      JSON.stringify(stages),
    ]);
    await tx.query(sql.get('notify-queue'));
    return { job: created.job, created: true };
  });
}
