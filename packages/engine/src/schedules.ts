import { randomUUID } from 'node:crypto';
import {
  DroverError,
  JobSubmission,
  ScheduleAdd,
  ScheduleName,
  ScheduleUpdate,
  isDroverError,
  parseOrThrow,
  scheduleIdempotencyKey,
} from '@drover/protocol';
import type { JobRecord, ScheduleOutcome, ScheduleRecord } from '@drover/protocol';
import type { Database, Queryable } from './database.js';
import type { Statements } from './statements.js';
import { CronRule } from './cron.js';
import { submitJobIn } from './submit.js';
import { cancelJob } from './cancel.js';
import type { TaskToStop } from './cancel.js';

/**
 * A tick more than this late was missed (no server ran at its time): the schedule's `catchUp`
 * decides whether it runs. A tick less late runs as usual: a server busy or starting for a few
 * seconds loses nothing. Quartz's `misfireThreshold` has the same default.
 */
export const MISSED_AFTER_MS = 60_000;

/** What one pass of a ticker did. */
export interface TickResult {
  /** Jobs the ticks submitted (not those a tick found submitted already under its key). */
  submitted: JobRecord[];
  /** Tasks of jobs cancelled by an `overlap: cancel` tick that workers hold: the server stops them. */
  toStop: TaskToStop[];
  /** Ticks handled (submitted, skipped, missed or failed). */
  handled: number;
}

interface DueRow {
  id: string;
  name: string;
  group_name: string;
  cron: string;
  timezone: string;
  overlap: 'skip' | 'queue' | 'cancel';
  catch_up: 'none' | 'last';
  job: Record<string, unknown>;
  next_run_at: Date | string;
  last_job_id: string | null;
  last_job_status: string | null;
  now: Date | string;
}

const ENDED = new Set(['succeeded', 'failed', 'cancelled']);
const RECORD = 'schedule_json(s) AS schedule';

/**
 * Schedules: a job submitted again at each tick of a cron expression. Any number of servers tick
 * the same schedules; `tick` makes each tick submit once (see migration 0016).
 */
export class Schedules {
  readonly #db: Database;
  readonly #sql: Statements;

  constructor(db: Database, sql: Statements) {
    this.#db = db;
    this.#sql = sql;
  }

  /**
   * Adds a schedule, due at its first tick after now. The job is checked as a submission here;
   * its params against the task type's schema are the server's to check, before this.
   */
  async add(input: unknown, createdBy: string | null = null): Promise<ScheduleRecord> {
    const add = parseOrThrow(ScheduleAdd, input, 'schedule');
    checkSiteOverlap(add.job.site, add.overlap ?? 'skip');
    const timezone = add.timezone ?? 'UTC';
    const rule = new CronRule(add.cron, timezone);
    const job = checkJob(add.job);
    return this.#db.transaction(async (tx) => {
      const now = await dbNow(tx);
      const [row] = await tx.query<{ schedule: ScheduleRecord }>(
        `INSERT INTO schedules AS s (id, name, group_name, cron, timezone, overlap, catch_up, job,
                               paused, next_run_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11)
         ON CONFLICT (name) DO NOTHING RETURNING ${RECORD}`,
        [
          randomUUID(),
          add.name,
          add.job.group,
          add.cron,
          timezone,
          add.overlap ?? 'skip',
          add.catchUp ?? 'none',
          JSON.stringify(job),
          add.paused ?? false,
          add.paused ? null : rule.next(now),
          createdBy,
        ],
      );
      if (!row) {
        throw new DroverError(
          'DROVER_E_SCHEDULE_EXISTS',
          `There is a schedule named ${add.name} already: pick another name, or change it (drover schedules update).`,
          { details: [{ path: 'name', message: 'taken' }] },
        );
      }
      await wakeTickers(tx);
      return withUpcoming(row.schedule);
    });
  }

  /** Every schedule, by name. */
  async list(): Promise<ScheduleRecord[]> {
    const rows = await this.#db.query<{ schedule: ScheduleRecord }>(
      `SELECT ${RECORD} FROM schedules s ORDER BY s.name`,
    );
    return rows.map((r) => withUpcoming(r.schedule));
  }

  async get(name: string): Promise<ScheduleRecord> {
    parseOrThrow(ScheduleName, name, 'schedule name');
    const [row] = await this.#db.query<{ schedule: ScheduleRecord }>(
      `SELECT ${RECORD} FROM schedules s WHERE s.name = $1`,
      [name],
    );
    if (!row) throw notFound(name);
    return withUpcoming(row.schedule);
  }

  /** A schedule's group, for checking who may see or change it; undefined when there is none. */
  async groupOf(name: string): Promise<string | undefined> {
    if (!ScheduleName.safeParse(name).success) return undefined;
    const [row] = await this.#db.query<{ group_name: string }>(
      'SELECT group_name FROM schedules WHERE name = $1',
      [name],
    );
    return row?.group_name;
  }

  /** No tick submits until `resume`. Pausing a paused schedule changes nothing. */
  pause(name: string): Promise<ScheduleRecord> {
    return this.#change(name, async (tx, s) => {
      await tx.query('UPDATE schedules SET paused = true, next_run_at = NULL WHERE id = $1', [
        s.id,
      ]);
    });
  }

  /** Ticks again from the next one after now; those that passed while paused do not run. */
  resume(name: string): Promise<ScheduleRecord> {
    return this.#change(name, async (tx, s) => {
      if (!s.paused) return;
      const next = new CronRule(s.cron, s.timezone).next(await dbNow(tx));
      await tx.query('UPDATE schedules SET paused = false, next_run_at = $2 WHERE id = $1', [
        s.id,
        next,
      ]);
    });
  }

  /** Changes what is given; a new expression or zone moves the next tick to its first after now. */
  update(input: unknown): Promise<ScheduleRecord> {
    const update = parseOrThrow(ScheduleUpdate, input, 'schedule update');
    const job = update.job === undefined ? undefined : checkJob(update.job);
    return this.#change(update.name, async (tx, s) => {
      checkSiteOverlap((job ?? s.job).site as string | undefined, update.overlap ?? s.overlap);
      const cron = update.cron ?? s.cron;
      const timezone = update.timezone ?? s.timezone;
      const rule = new CronRule(cron, timezone);
      const moved = cron !== s.cron || timezone !== s.timezone;
      const next = moved && !s.paused ? rule.next(await dbNow(tx)) : undefined;
      await tx.query(
        `UPDATE schedules
         SET cron = $2, timezone = $3, overlap = $4, catch_up = $5,
             job = coalesce($6::jsonb, job), group_name = coalesce($7, group_name),
             next_run_at = CASE WHEN $8 THEN $9::timestamptz ELSE next_run_at END
         WHERE id = $1`,
        [
          s.id,
          cron,
          timezone,
          update.overlap ?? s.overlap,
          update.catchUp ?? s.catchUp,
          job === undefined ? null : JSON.stringify(job),
          job?.group ?? null,
          next !== undefined,
          next ?? null,
        ],
      );
    });
  }

  /** Removes a schedule; the jobs it submitted stay. Resolves to it as it was. */
  async remove(name: string): Promise<ScheduleRecord> {
    parseOrThrow(ScheduleName, name, 'schedule name');
    const [row] = await this.#db.query<{ schedule: ScheduleRecord }>(
      `DELETE FROM schedules s WHERE s.name = $1 RETURNING ${RECORD}`,
      [name],
    );
    if (!row) throw notFound(name);
    return withUpcoming(row.schedule);
  }

  /**
   * Submits the schedule's job now, whatever its overlap policy and pause: someone asked for
   * this run. Its key is the schedule's with the time of the call, so it is one job per call.
   */
  async runNow(name: string): Promise<{ schedule: ScheduleRecord; job: JobRecord }> {
    let job: JobRecord | undefined;
    const schedule = await this.#change(name, async (tx, s) => {
      const now = await dbNow(tx);
      const key = scheduleIdempotencyKey(s.id, now.toISOString());
      ({ job } = await submitJobIn(tx, this.#sql, {
        name: s.name,
        ...s.job,
        idempotencyKey: key,
      }));
      await tx.query(
        `UPDATE schedules SET last_run_at = now(), last_job_id = $2,
           last_outcome = 'submitted', last_reason = 'run now, by hand'
         WHERE id = $1`,
        [s.id, job.id],
      );
    });
    if (!job) throw new Error('runNow submitted no job');
    return { schedule, job };
  }

  /**
   * How long until the earliest schedule's next tick, in ms by the database's clock (every
   * server's reference); 0 or less when one is due; null when none will come (all paused).
   */
  async untilNextTick(): Promise<number | null> {
    const [row] = await this.#db.query<{ ms: number | string | null }>(
      `SELECT extract(epoch FROM min(next_run_at) - clock_timestamp()) * 1000 AS ms
       FROM schedules WHERE next_run_at IS NOT NULL`,
    );
    return row?.ms === null || row?.ms === undefined ? null : Number(row.ms);
  }

  /**
   * Handles the ticks that have come, up to `limit` schedules: claims them (skipping those
   * another ticker holds), submits their jobs and moves each to its next tick, in one
   * transaction. One schedule's refused job is recorded as `failed` and moves it on all the
   * same. Call again while `untilNextTick()` is 0 or less.
   */
  async tick(options: { limit?: number; missedAfterMs?: number } = {}): Promise<TickResult> {
    const missedAfterMs = options.missedAfterMs ?? MISSED_AFTER_MS;
    const result: TickResult = { submitted: [], toStop: [], handled: 0 };
    await this.#db.transaction(async (tx) => {
      const due = await tx.query<DueRow>(this.#sql.get('claim-due-schedules'), [
        options.limit ?? 50,
      ]);
      for (const row of due) {
        await tx.query('SAVEPOINT schedule_tick');
        try {
          const done = await this.#tickOne(tx, row, missedAfterMs);
          if (done.job) result.submitted.push(done.job);
          result.toStop.push(...done.toStop);
          await tx.query('RELEASE SAVEPOINT schedule_tick');
        } catch (error) {
          // What this schedule's tick wrote is undone; the tick is recorded as failed and the
          // schedule moves on, so that one bad job does not stop every schedule behind it.
          await tx.query('ROLLBACK TO SAVEPOINT schedule_tick');
          const late = new Date(row.now).getTime() - new Date(row.next_run_at).getTime();
          const message = isDroverError(error) ? error.message : String(error);
          await tx.query(this.#sql.get('advance-schedule'), [
            row.id,
            // A rule that no longer reads (a zone this server does not know) stops the schedule
            // rather than every pass after this one.
            nextOrNull(row, new Date(late > missedAfterMs ? row.now : row.next_run_at)),
            row.next_run_at,
            'failed',
            `The job was refused: ${message}`.slice(0, 2000),
            null,
          ]);
        }
        result.handled += 1;
      }
    });
    return result;
  }

  async #tickOne(
    tx: Queryable,
    row: DueRow,
    missedAfterMs: number,
  ): Promise<{ job?: JobRecord; toStop: TaskToStop[] }> {
    const rule = new CronRule(row.cron, row.timezone);
    const tick = new Date(row.next_run_at);
    const now = new Date(row.now);
    const toStop: TaskToStop[] = [];
    let runTick: Date | null = tick;
    let next = rule.next(tick);
    let reason: string | null = null;
    if (now.getTime() - tick.getTime() > missedAfterMs) {
      // No server ran at the time: the ticks since are missed, and the next is the first to come.
      next = rule.next(now);
      const latest = rule.latest(now) ?? tick;
      if (row.catch_up === 'last') {
        runTick = latest;
        reason = `caught up: one run for the ticks from ${tick.toISOString()} to ${latest.toISOString()}, missed while no server ran`;
      } else {
        runTick = null;
        reason = `missed the ticks from ${tick.toISOString()} to ${latest.toISOString()}: no server ran then (catch-up: none)`;
      }
    }
    const advance = (outcome: ScheduleOutcome, why: string | null, jobId: string | null) =>
      tx.query(this.#sql.get('advance-schedule'), [
        row.id,
        next,
        runTick ?? tick,
        outcome,
        why,
        jobId,
      ]);
    if (runTick === null) {
      await advance('missed', reason, null);
      return { toStop };
    }
    const previous = row.last_job_id;
    if (previous !== null && row.last_job_status !== null && !ENDED.has(row.last_job_status)) {
      if (row.overlap === 'skip') {
        await advance(
          'skipped',
          `job ${previous} of the previous run has not ended (${row.last_job_status})`,
          null,
        );
        return { toStop };
      }
      if (row.overlap === 'cancel') {
        const cancelled = await cancelJob(
          tx,
          this.#sql,
          previous,
          `Cancelled by schedule ${row.name}: its next run began.`,
        );
        toStop.push(...cancelled.toStop);
        reason = [reason, `cancelled job ${previous} of the previous run`]
          .filter(Boolean)
          .join('; ');
      }
    }
    const key = scheduleIdempotencyKey(row.id, runTick.toISOString());
    // Named after the schedule unless the job has a name of its own.
    const { job, created } = await submitJobIn(tx, this.#sql, {
      name: row.name,
      ...row.job,
      idempotencyKey: key,
    });
    await advance('submitted', reason, job.id);
    // Not created: this tick's job was submitted already (the key's second guard).
    return created ? { job, toStop } : { toStop };
  }

  /** Runs `change` on the schedule, locked against tickers, and returns it as it is after. */
  async #change(
    name: string,
    change: (tx: Queryable, schedule: ScheduleRecord) => Promise<void>,
  ): Promise<ScheduleRecord> {
    parseOrThrow(ScheduleName, name, 'schedule name');
    return this.#db.transaction(async (tx) => {
      const [row] = await tx.query<{ schedule: ScheduleRecord }>(
        `SELECT ${RECORD} FROM schedules s WHERE s.name = $1 FOR UPDATE`,
        [name],
      );
      if (!row) throw notFound(name);
      await change(tx, row.schedule);
      await tx.query('UPDATE schedules SET updated_at = now() WHERE id = $1', [row.schedule.id]);
      await wakeTickers(tx);
      const [after] = await tx.query<{ schedule: ScheduleRecord }>(
        `SELECT ${RECORD} FROM schedules s WHERE s.id = $1`,
        [row.schedule.id],
      );
      if (!after) throw new Error('a schedule changed under its lock went missing');
      return withUpcoming(after.schedule);
    });
  }
}

/**
 * A site job's cancel is forwarded to its site by the server, not by a tick: a schedule of site
 * jobs skips or queues its overlapping runs.
 */
function checkSiteOverlap(site: string | undefined, overlap: string): void {
  if (site === undefined || overlap !== 'cancel') return;
  throw new DroverError(
    'DROVER_E_INVALID_PARAMS',
    `A schedule of jobs that run at site ${site} cannot cancel its last run: use overlap skip or queue.`,
    { details: [{ path: 'overlap', message: 'cancel is not for site jobs' }] },
  );
}

/** The job a schedule submits: a valid submission, its key and start time left to each tick. */
function checkJob(job: unknown): Record<string, unknown> {
  const parsed = parseOrThrow(JobSubmission, job, 'job');
  for (const field of ['idempotencyKey', 'runAt'] as const) {
    if (parsed[field] !== undefined) {
      throw new DroverError(
        'DROVER_E_INVALID_PARAMS',
        `A scheduled job has no ${field}: each tick's job gets its own (remove it from the job).`,
        { details: [{ path: `job.${field}`, message: 'not allowed on a scheduled job' }] },
      );
    }
  }
  return job as Record<string, unknown>;
}

function nextOrNull(row: { cron: string; timezone: string }, after: Date): Date | null {
  try {
    return new CronRule(row.cron, row.timezone).next(after);
  } catch {
    return null;
  }
}

/** The record with its next few ticks, for people to check the expression. */
function withUpcoming(schedule: ScheduleRecord): ScheduleRecord {
  let upcoming: string[] = [];
  try {
    if (schedule.nextRunAt !== null)
      upcoming = new CronRule(schedule.cron, schedule.timezone)
        .upcoming(new Date(schedule.nextRunAt))
        .map((d) => d.toISOString());
  } catch {
    // A rule that no longer reads lists no ticks; its schedule stopped at its last one.
  }
  return {
    ...schedule,
    nextRunAt: iso(schedule.nextRunAt),
    lastTickAt: iso(schedule.lastTickAt),
    lastRunAt: iso(schedule.lastRunAt),
    upcoming,
  };
}

function iso(value: string | null): string | null {
  return value === null ? null : new Date(value).toISOString();
}

async function dbNow(tx: Queryable): Promise<Date> {
  const [row] = await tx.query<{ now: Date | string }>('SELECT now() AS now');
  if (!row) throw new Error('SELECT now() returned nothing');
  return new Date(row.now);
}

/** Tells every server's ticker that the schedules changed: the earliest tick may be sooner. */
async function wakeTickers(tx: Queryable): Promise<void> {
  await tx.query(`SELECT pg_notify(current_schema() || '_events', 'schedules')`);
}

function notFound(name: string): DroverError {
  return new DroverError('DROVER_E_NOT_FOUND', `There is no schedule ${name}.`);
}
