import { createHash, randomUUID } from 'node:crypto';
import { DroverError, JobSubmission, parseOrThrow } from '@drover/protocol';
import type { JobRecord } from '@drover/protocol';
import type { Database, Queryable } from './database.js';
import { SUBMISSION_DEFAULTS, checkParamsSize, expandStages, expansionOf } from './expand.js';
import type { Statements } from './statements.js';
import { uncleanPath } from './clean-text.js';

export interface SubmitResult {
  job: JobRecord;
  /** False when the idempotency key matched an earlier submission, which is returned instead. */
  created: boolean;
}

/**
 * Validates a submission and writes the job with all its tasks in one statement; resolves only
 * after the commit. Invalid input throws `DROVER_E_INVALID_PARAMS` before anything is written.
 */
/**
 * Refuses a submission that is malformed, or whose tasks would store too many params, without
 * touching the database: for checks that cost more per task, to run before them.
 */
export function checkSubmissionSize(input: unknown): void {
  checkParamsSize(expandStages(parseOrThrow(JobSubmission, input, 'job submission')));
}

/**
 * What a site job's site is sent: the submission as given, without the site (the site runs it)
 * and without this farm's idempotency key (the link sends its own, derived from the job).
 */
function siteSubmission(input: unknown): Record<string, unknown> {
  const rest = { ...(input as Record<string, unknown>) };
  delete rest.site;
  delete rest.idempotencyKey;
  return rest;
}

interface PreparedSubmission {
  job: ReturnType<typeof JobSubmission.parse>;
  params: unknown[];
  hash: string;
  taskCount: number;
}

/** Validates a submission and lays out the statement's parameters; touches nothing. */
function prepareSubmission(input: unknown): PreparedSubmission {
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
  checkParamsSize(stages);
  const taskCount = stages.reduce((n, s) => n + s.task_count, 0);
  const firstStageCount = stages[0]?.task_count ?? 0;
  const hash = createHash('sha256').update(JSON.stringify(job)).digest('hex');
  const backoff = job.backoff ?? SUBMISSION_DEFAULTS.backoff;

  const id = randomUUID();
  const params = [
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
    JSON.stringify(stages),
    job.runAt ?? null,
    backoff.initialMs,
    backoff.maxMs,
    JSON.stringify(stages.map((s) => ({ stage: s.stage, task_count: s.task_count }))),
    ...expansionOf(job),
    job.site ?? null,
    job.site === undefined ? null : JSON.stringify(siteSubmission(input)),
    job.blocklistAfter ?? 3,
  ];
  return { job, params, hash, taskCount };
}

export async function submitJob(
  db: Database,
  sql: Statements,
  input: unknown,
): Promise<SubmitResult> {
  const prepared = prepareSubmission(input);
  // One statement, atomic on its own. Sorting a large job's tasks into submission order must not
  // spill to disk, which takes a setting and so a transaction.
  const inserted =
    prepared.taskCount > 10_000
      ? await db.transaction(async (tx) => {
          await tx.query(`SET LOCAL work_mem = '64MB'`);
          return tx.query<{ job: JobRecord }>(sql.get('submit-job'), prepared.params);
        })
      : await db.query<{ job: JobRecord }>(sql.get('submit-job'), prepared.params);
  return submitted(db, sql, prepared, inserted);
}

/**
 * `submitJob` inside a transaction the caller holds (a schedule's tick): the job is written, and
 * the dispatchers woken, only if that transaction commits.
 */
export async function submitJobIn(
  tx: Queryable,
  sql: Statements,
  input: unknown,
): Promise<SubmitResult> {
  const prepared = prepareSubmission(input);
  if (prepared.taskCount > 10_000) await tx.query(`SET LOCAL work_mem = '64MB'`);
  const inserted = await tx.query<{ job: JobRecord }>(sql.get('submit-job'), prepared.params);
  return submitted(tx, sql, prepared, inserted);
}

/** The job written, or the one submitted before under the same key (or a conflict). */
async function submitted(
  db: Queryable,
  sql: Statements,
  { job, hash }: PreparedSubmission,
  inserted: { job: JobRecord }[],
): Promise<SubmitResult> {
  const created = inserted[0];
  if (created) return { job: created.job, created: true };
  const [existing] = await db.query<{ job: JobRecord; submission_hash: string }>(
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
