import {
  DroverError,
  JobId,
  SiteAdd,
  SiteName,
  compareCursors,
  parseOrThrow,
} from '@drover/protocol';
import type { EventRecord, JobStatus, SiteRecord, TaskSummary } from '@drover/protocol';
import type { Database, Queryable } from './database.js';
import type { Statements } from './statements.js';

/** What a server needs to run a site's link: never leaves the server. */
export interface SiteLinkTarget {
  name: string;
  url: string;
  /** The site's token, presented to it on every connection. */
  token: string;
}

/** How far one site job's forwarding has come (see migration 0014). */
export interface SiteJob {
  jobId: string;
  group: string;
  state: 'pending' | 'submitting' | 'following' | 'done';
  /** What the site is sent. */
  submission: Record<string, unknown>;
  remoteJobId: string | null;
  /** The site's job topic is applied up to here. */
  cursor: string;
  /** A cancel made here that the site has not taken yet. */
  cancelReason: string | null;
  retryRequested: boolean;
  /** The job's status on this farm, as mirrored. */
  status: JobStatus;
}

/** A site task whose log is still to be mirrored. */
export interface SiteTaskLog {
  taskId: string;
  remoteTaskId: string;
  cursor: string;
  /** Whether the task has finished (its log is then read to the end once more). */
  finished: boolean;
}

/** A site's artifact behind one of this farm's records: where downloads are proxied. */
export interface RemoteArtifact {
  url: string;
  token: string;
  remoteId: string;
}

/** A site's artifact names a task of the site this farm has not mapped yet. */
export class UnmappedSiteTask extends Error {
  override readonly name = 'UnmappedSiteTask';
  constructor(readonly remoteTaskId: string) {
    super(`the site's task ${remoteTaskId} is not mapped to a task of this farm yet`);
  }
}

/** What `requestCancel` and `requestRetry` found: act here, or forward to the site. */
export type SiteAction = 'here' | 'forward';

const SITE_COLUMNS = 'site_json(s) AS site';

/**
 * The sites this farm forwards jobs to, and the state of each site job: what the site links of
 * the servers read and write. Tokens are read only by `linksFor` and `remoteArtifact`, for the
 * server's own connections; no record carries them.
 */
export class Sites {
  readonly #db: Database;
  readonly #sql: Statements;

  constructor(db: Database, sql: Statements) {
    this.#db = db;
    this.#sql = sql;
  }

  // The sites, as an admin manages them.

  async add(input: unknown, createdBy: string | null = null): Promise<SiteRecord> {
    const site = parseOrThrow(SiteAdd, input, 'site');
    const [row] = await this.#db.query<{ site: SiteRecord }>(
      `INSERT INTO sites (name, url, token, created_by) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO NOTHING RETURNING ${SITE_COLUMNS.replace('(s)', '(sites)')}`,
      [site.name, site.url.replace(/\/+$/, ''), site.token, createdBy],
    );
    if (!row) {
      throw new DroverError(
        'DROVER_E_INVALID_PARAMS',
        `There is a site named ${site.name} already: remove it first (sites.remove) to change it.`,
        { details: [{ path: 'name', message: 'taken' }] },
      );
    }
    return row.site;
  }

  async list(): Promise<SiteRecord[]> {
    const rows = await this.#db.query<{ site: SiteRecord }>(
      `SELECT ${SITE_COLUMNS} FROM sites s ORDER BY s.name`,
    );
    return rows.map((r) => r.site);
  }

  /** The sites' names, for telling a user which exist. */
  async names(): Promise<string[]> {
    const rows = await this.#db.query<{ name: string }>('SELECT name FROM sites ORDER BY name');
    return rows.map((r) => r.name);
  }

  /** Removes a site with no unfinished job; refused (`DROVER_E_CONFLICT`) while it has some. */
  async remove(name: string): Promise<SiteRecord> {
    parseOrThrow(SiteName, name, 'site name');
    return this.#db.transaction(async (tx) => {
      const [row] = await tx.query<{ site: SiteRecord }>(
        `SELECT ${SITE_COLUMNS} FROM sites s WHERE s.name = $1 FOR UPDATE`,
        [name],
      );
      if (!row) throw new DroverError('DROVER_E_NOT_FOUND', `There is no site ${name}.`);
      if (row.site.activeJobs > 0) {
        throw new DroverError(
          'DROVER_E_CONFLICT',
          `Site ${name} has ${row.site.activeJobs} unfinished job(s): cancel them, or wait until they end, then remove it.`,
          { details: { activeJobs: row.site.activeJobs } },
        );
      }
      await tx.query('DELETE FROM sites WHERE name = $1', [name]);
      return row.site;
    });
  }

  // The links: one server of the farm per site.

  /**
   * The sites whose link server `serverId` runs: those it ran already, and those whose server
   * is gone from the farm (stopped, or swept as dead), which it takes over.
   */
  async linksFor(serverId: string): Promise<SiteLinkTarget[]> {
    await this.#db.query(
      `UPDATE sites SET link_server = $1
       WHERE link_server IS DISTINCT FROM $1
         AND (link_server IS NULL OR NOT EXISTS (SELECT 1 FROM servers v WHERE v.id = sites.link_server))`,
      [serverId],
    );
    return this.#db.query<SiteLinkTarget>(
      'SELECT name, url, token FROM sites WHERE link_server = $1 ORDER BY name',
      [serverId],
    );
  }

  /** A server that stops gives its links up, for another to take at once. */
  async releaseLinks(serverId: string): Promise<void> {
    await this.#db.query('UPDATE sites SET link_server = NULL WHERE link_server = $1', [serverId]);
  }

  /** Why the site could not be reached (null: it answers). */
  async setError(site: string, error: string | null): Promise<void> {
    await this.#db.query(
      'UPDATE sites SET last_error = $2 WHERE name = $1 AND last_error IS DISTINCT FROM $2',
      [site, error],
    );
  }

  /** The site's jobs with something left to do, oldest first. */
  async activeJobs(site: string): Promise<SiteJob[]> {
    return this.#db.query<SiteJob>(
      `SELECT sj.job_id::text AS "jobId", j.group_name AS "group", sj.state, sj.submission,
              sj.remote_job_id::text AS "remoteJobId", sj.cursor,
              sj.cancel_reason AS "cancelReason", sj.retry_requested AS "retryRequested",
              j.status
       FROM site_jobs sj JOIN jobs j ON j.id = sj.job_id
       WHERE sj.site = $1 AND sj.state <> 'done' ORDER BY sj.created_at, sj.job_id`,
      [site],
    );
  }

  /**
   * The link is about to send the job: false when it must not (cancelled here meanwhile). From
   * here on, a cancel waits for the site's answer.
   */
  async startSubmitting(jobId: string): Promise<boolean> {
    const rows = await this.#db.query(
      `UPDATE site_jobs SET state = 'submitting'
       WHERE job_id = $1 AND state IN ('pending', 'submitting') RETURNING job_id`,
      [jobId],
    );
    return rows.length > 0;
  }

  /** The site took the job as `remoteJobId`: its events are followed from the beginning. */
  async forwarded(jobId: string, remoteJobId: string): Promise<void> {
    parseOrThrow(JobId, remoteJobId, 'site job id');
    await this.#db.query(
      `UPDATE site_jobs SET state = 'following', remote_job_id = $2, cursor = ''
       WHERE job_id = $1 AND remote_job_id IS NULL`,
      [jobId, remoteJobId],
    );
    await this.#setWaiting(this.#db, jobId, null);
  }

  /**
   * The site refused the job for good (its params, its task type, the token's access): the
   * job fails here with the site's words, and nothing more is sent.
   */
  async refused(
    jobId: string,
    site: string,
    error: { code: string; message: string },
  ): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await tx.query(`UPDATE site_jobs SET state = 'done' WHERE job_id = $1`, [jobId]);
      await tx.query(
        `UPDATE tasks SET status = 'failed', message = NULL, finished_at = now(),
                error = jsonb_build_object('code', $2::text, 'message', $3::text)
         WHERE job_id = $1 AND status IN ('queued', 'blocked')`,
        [jobId, error.code, `Site ${site} refused the job: ${error.message}`],
      );
    });
  }

  /**
   * Shows (or, with null, clears) why a job waits for its site on its waiting tasks' message,
   * so that its subscribers see it.
   */
  waiting(jobId: string, message: string | null): Promise<void> {
    return this.#setWaiting(this.#db, jobId, message);
  }

  async #setWaiting(db: Queryable, jobId: string, message: string | null): Promise<void> {
    await db.query(
      `UPDATE tasks SET message = $2
       WHERE job_id = $1 AND status IN ('queued', 'blocked')
         AND message IS DISTINCT FROM $2 AND ($2 IS NOT NULL OR message LIKE 'site % unreachable%')`,
      [jobId, message],
    );
  }

  /**
   * Applies what the site's job topic says after the job's cursor, in one transaction with the
   * cursor: each event is applied once, however often it is delivered. Resolves to the job's
   * status here afterwards. Throws `UnmappedSiteTask` for an artifact of a task the site has not
   * reported on yet (nothing is applied then).
   */
  async applyEvents(
    jobId: string,
    events: readonly EventRecord[],
    cursor: string,
  ): Promise<JobStatus> {
    return this.#db.transaction(async (tx) => {
      const [row] = await tx.query<{ cursor: string }>(
        'SELECT cursor FROM site_jobs WHERE job_id = $1 FOR UPDATE',
        [jobId],
      );
      if (!row) throw new DroverError('DROVER_E_NOT_FOUND', `There is no site job ${jobId}.`);
      const fresh = events.filter((e) => compareCursors(e.cursor, row.cursor) > 0);
      for (const event of fresh) await this.#apply(tx, jobId, event);
      if (compareCursors(cursor, row.cursor) > 0)
        await tx.query('UPDATE site_jobs SET cursor = $2 WHERE job_id = $1', [jobId, cursor]);
      const [job] = await tx.query<{ status: JobStatus }>('SELECT status FROM jobs WHERE id = $1', [
        jobId,
      ]);
      return job?.status ?? 'cancelled';
    });
  }

  async #apply(tx: Queryable, jobId: string, event: EventRecord): Promise<void> {
    switch (event.kind) {
      case 'tasks.updated': {
        const tasks: TaskSummary[] = event.data.tasks;
        await tx.query(this.#sql.get('apply-site-tasks'), [jobId, JSON.stringify(tasks)]);
        return;
      }
      case 'job.added':
      case 'job.updated':
        // The site's cancel, for the record; statuses come with its tasks.
        await tx.query(
          `UPDATE jobs SET cancel_reason = $2
           WHERE id = $1 AND cancel_reason IS DISTINCT FROM $2`,
          [jobId, event.data.cancelReason],
        );
        return;
      case 'artifact.added': {
        const a = event.data;
        const rows = await tx.query(this.#sql.get('apply-site-artifact'), [
          jobId,
          a.taskId,
          a.id,
          a.attemptId,
          a.attempt,
          a.name,
          a.contentType,
          a.size,
          a.sha256,
        ]);
        if (rows.length === 0) throw new UnmappedSiteTask(a.taskId);
        return;
      }
      default:
        return;
    }
  }

  /** Maps a site's task to this farm's task of the same index in the job. */
  async mapTask(jobId: string, index: number, remoteTaskId: string): Promise<void> {
    await this.#db.query(
      `INSERT INTO site_tasks (task_id, job_id, remote_task_id)
       SELECT t.id, t.job_id, $3 FROM tasks t WHERE t.job_id = $1 AND t.idx = $2
       ON CONFLICT (task_id) DO NOTHING`,
      [jobId, index, remoteTaskId],
    );
  }

  /** The job's tasks that have started at the site and whose log is not mirrored to its end. */
  async pendingLogs(jobId: string): Promise<SiteTaskLog[]> {
    return this.#db.query<SiteTaskLog>(
      `SELECT st.task_id::text AS "taskId", st.remote_task_id AS "remoteTaskId",
              st.log_cursor AS cursor, t.status IN ('succeeded', 'failed', 'cancelled') AS finished
       FROM site_tasks st JOIN tasks t ON t.id = st.task_id
       WHERE st.job_id = $1 AND NOT st.log_done AND t.status <> 'queued' AND t.status <> 'blocked'
       ORDER BY st.task_id`,
      [jobId],
    );
  }

  /**
   * Appends a site task's log lines (its `task.log` events after the task's log cursor) to the
   * task here, with the cursor, in one transaction; `done` marks the log mirrored to its end.
   */
  async applyLog(
    taskId: string,
    events: readonly EventRecord[],
    cursor: string,
    done = false,
  ): Promise<void> {
    await this.#db.transaction(async (tx) => {
      const [row] = await tx.query<{ cursor: string; job_id: string }>(
        'SELECT log_cursor AS cursor, job_id::text AS job_id FROM site_tasks WHERE task_id = $1 FOR UPDATE',
        [taskId],
      );
      if (!row) return;
      const batches = events
        .filter((e) => e.kind === 'task.log' && compareCursors(e.cursor, row.cursor) > 0)
        .map((e) =>
          e.kind === 'task.log' ? { attempt: e.data.attempt, lines: e.data.lines } : {},
        );
      if (batches.length > 0)
        await tx.query(this.#sql.get('append-site-log'), [
          taskId,
          row.job_id,
          JSON.stringify(batches),
        ]);
      const advance = compareCursors(cursor, row.cursor) > 0;
      if (advance || done)
        await tx.query(
          `UPDATE site_tasks SET log_cursor = $2, log_done = log_done OR $3 WHERE task_id = $1`,
          [taskId, advance ? cursor : row.cursor, done],
        );
    });
  }

  /** The site took the cancel (or retry) asked here: it is not sent again. */
  async cancelTaken(jobId: string, reason: string): Promise<void> {
    await this.#db.query(
      'UPDATE site_jobs SET cancel_reason = NULL WHERE job_id = $1 AND cancel_reason = $2',
      [jobId, reason],
    );
  }

  async retryTaken(jobId: string): Promise<void> {
    await this.#db.query('UPDATE site_jobs SET retry_requested = false WHERE job_id = $1', [jobId]);
  }

  /** The job has finished at its site and everything of it is mirrored. */
  async done(jobId: string): Promise<void> {
    await this.#db.query(
      `UPDATE site_jobs SET state = 'done'
       WHERE job_id = $1 AND state = 'following' AND cancel_reason IS NULL AND NOT retry_requested`,
      [jobId],
    );
  }

  // What the client methods do to a site job.

  /** The site of a job, or undefined for a job of this farm's workers. */
  async siteOf(jobId: string): Promise<string | undefined> {
    const [row] = await this.#db.query<{ site: string | null }>(
      'SELECT site FROM jobs WHERE id = $1',
      [jobId],
    );
    return row?.site ?? undefined;
  }

  /**
   * A cancel of a site job: `here` when the job never reached its site (nothing is sent then),
   * `forward` when the site may have it: the cancel is kept until the site has taken it.
   */
  async requestCancel(jobId: string, reason: string): Promise<SiteAction> {
    return this.#db.transaction(async (tx) => {
      const [row] = await tx.query<{ state: SiteJob['state']; remote: string | null }>(
        'SELECT state, remote_job_id::text AS remote FROM site_jobs WHERE job_id = $1 FOR UPDATE',
        [jobId],
      );
      if (!row || row.state === 'pending' || (row.state === 'done' && row.remote === null)) {
        await tx.query(`UPDATE site_jobs SET state = 'done' WHERE job_id = $1`, [jobId]);
        return 'here';
      }
      await tx.query(
        `UPDATE site_jobs SET cancel_reason = $2,
                state = CASE WHEN state = 'done' THEN 'following' ELSE state END
         WHERE job_id = $1`,
        [jobId, reason],
      );
      return 'forward';
    });
  }

  /**
   * A retry of a site job: `here` when the job never reached its site (refused, or cancelled
   * before it left): its tasks are put back here and it is sent again; `forward` otherwise.
   */
  async requestRetry(jobId: string): Promise<SiteAction> {
    return this.#db.transaction(async (tx) => {
      const [row] = await tx.query<{ state: SiteJob['state']; remote: string | null }>(
        'SELECT state, remote_job_id::text AS remote FROM site_jobs WHERE job_id = $1 FOR UPDATE',
        [jobId],
      );
      if (!row || row.remote === null) {
        await tx.query(
          `UPDATE site_jobs SET state = 'pending', cancel_reason = NULL WHERE job_id = $1 AND state = 'done'`,
          [jobId],
        );
        return 'here';
      }
      await tx.query(
        `UPDATE site_jobs SET retry_requested = true,
                state = CASE WHEN state = 'done' THEN 'following' ELSE state END
         WHERE job_id = $1`,
        [jobId],
      );
      return 'forward';
    });
  }

  /** The tasks of a job that ended failed or cancelled: what a retry puts back. */
  async retriable(jobId: string): Promise<string[]> {
    const rows = await this.#db.query<{ id: string }>(
      `SELECT id::text AS id FROM tasks WHERE job_id = $1 AND status IN ('failed', 'cancelled')
       ORDER BY id`,
      [jobId],
    );
    return rows.map((r) => r.id);
  }

  /** The site's artifact behind a record of this farm, if it is a site job's. */
  async remoteArtifact(artifactId: string): Promise<RemoteArtifact | undefined> {
    const [row] = await this.#db.query<RemoteArtifact>(
      `SELECT s.url, s.token, a.remote_id::text AS "remoteId"
       FROM artifacts a JOIN sites s ON s.name = a.site
       WHERE a.id = $1 AND a.remote_id IS NOT NULL`,
      [artifactId],
    );
    return row;
  }
}
