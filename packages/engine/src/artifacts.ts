import {
  ArtifactId,
  ArtifactName,
  ContentType,
  DroverError,
  JobId,
  LeaseRef,
  Sha256,
  TaskId,
  parseOrThrow,
} from '@drover/protocol';
import type { ArtifactRecord } from '@drover/protocol';
import { z } from 'zod';
import type { Database } from './database.js';
import type { Lease } from './leases.js';
import type { Statements } from './statements.js';

/** What an upload's credential allows: storing files for this attempt of this task. */
export interface ArtifactScope {
  attemptId: string;
  taskId: string;
  jobId: string;
  /** The attempt's number, from 1. */
  attempt: number;
}

/** A file whose bytes are stored under `sha256`, to be recorded for the attempt holding the lease. */
export interface ArtifactReport extends Lease {
  name: string;
  contentType: string;
  size: number;
  sha256: string;
}

export type ArtifactQuery = ({ jobId: string } | { taskId: string }) & {
  /** Only artifacts stored after this one: the last artifact's id, for the next page. */
  after?: string | undefined;
  /** @defaultValue 1000 */
  limit?: number | undefined;
};

const Report = LeaseRef.extend({
  name: ArtifactName,
  contentType: ContentType,
  size: z.int().min(0),
  sha256: Sha256,
});

function staleLease(attemptId: string): DroverError {
  return new DroverError(
    'DROVER_E_STALE_LEASE',
    `Attempt ${attemptId} does not hold this lease any more (or never did): it may not store files.`,
  );
}

/** Checks an upload's credential before its bytes are read; a stale one is refused and recorded. */
export async function authorizeArtifact(
  db: Database,
  sql: Statements,
  lease: Lease,
): Promise<ArtifactScope> {
  const { attemptId, token } = parseOrThrow(LeaseRef, lease, 'lease');
  const [row] = await db.query<{
    attempt_id: string;
    task_id: string;
    job_id: string;
    attempt: number;
  }>(sql.get('authorize-artifact'), [attemptId, token]);
  if (!row) throw staleLease(attemptId);
  return {
    attemptId: row.attempt_id,
    taskId: row.task_id,
    jobId: row.job_id,
    attempt: row.attempt,
  };
}

/**
 * Records a stored file for the active attempt holding the lease. Recording the same file again
 * under the same name (an upload retried after its answer was lost) returns the first record;
 * other content under a name the attempt already used is refused.
 */
export async function recordArtifact(
  db: Database,
  sql: Statements,
  input: ArtifactReport,
): Promise<{ artifact: ArtifactRecord; created: boolean }> {
  const report = parseOrThrow(Report, input, 'artifact');
  const [row] = await db.query<{
    accepted: boolean;
    artifact: ArtifactRecord | null;
    task_id: string | null;
    attempt: number | null;
  }>(sql.get('record-artifact'), [
    report.attemptId,
    report.token,
    report.name,
    report.contentType,
    report.size,
    report.sha256,
  ]);
  if (!row?.accepted || row.task_id === null || row.attempt === null)
    throw staleLease(report.attemptId);
  if (row.artifact) return { artifact: row.artifact, created: true };
  const [found] = await db.query<{ artifact: ArtifactRecord }>(sql.get('find-artifact'), [
    row.task_id,
    row.attempt,
    report.name,
  ]);
  const existing = found?.artifact;
  if (!existing) throw new Error(`artifact ${report.name} conflicted but cannot be found`);
  if (
    existing.sha256 !== report.sha256 ||
    existing.size !== report.size ||
    existing.contentType !== report.contentType
  ) {
    throw new DroverError(
      'DROVER_E_ARTIFACT_EXISTS',
      `Attempt ${report.attemptId} already stored ${JSON.stringify(report.name)} with other content. Give each file its own name.`,
      { details: { artifact: existing } },
    );
  }
  return { artifact: existing, created: false };
}

export async function getArtifact(
  db: Database,
  sql: Statements,
  id: string,
): Promise<ArtifactRecord> {
  parseOrThrow(ArtifactId, id, 'artifact id');
  const [row] = await db.query<{ artifact: ArtifactRecord }>(sql.get('get-artifact'), [id]);
  if (!row) throw new DroverError('DROVER_E_NOT_FOUND', `There is no artifact ${id}.`);
  return row.artifact;
}

export async function listArtifacts(
  db: Database,
  sql: Statements,
  query: ArtifactQuery,
): Promise<ArtifactRecord[]> {
  const after = query.after ?? null;
  if (after !== null) parseOrThrow(ArtifactId, after, 'artifact id');
  const limit = Math.min(Math.max(Math.trunc(query.limit ?? 1000), 1), 10_000);
  let statement: string;
  let owner: string;
  if ('jobId' in query) {
    owner = parseOrThrow(JobId, query.jobId, 'job id');
    statement = 'list-job-artifacts';
  } else {
    owner = parseOrThrow(TaskId, query.taskId, 'task id');
    statement = 'list-task-artifacts';
  }
  const rows = await db.query<{ artifact: ArtifactRecord }>(sql.get(statement), [
    owner,
    after,
    limit,
  ]);
  return rows.map((r) => r.artifact);
}

/** Of these sha256s, the ones no artifact references: their blobs may be deleted. */
export async function unreferencedBlobs(
  db: Database,
  sql: Statements,
  sha256s: readonly string[],
): Promise<string[]> {
  if (sha256s.length === 0) return [];
  const rows = await db.query<{ sha256: string }>(sql.get('unreferenced-blobs'), [sha256s]);
  return rows.map((r) => r.sha256);
}
