import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isDroverError } from '@drover/protocol';
import type { ScheduleRecord } from '@drover/protocol';
import { CronRule } from '../src/cron.js';
import { backend, openTestEngine, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

/** Once a year: no tick comes by itself while a test runs; tests make ticks due by hand. */
const YEARLY = '0 0 1 1 *';

describe(`schedules (${backend})`, () => {
  let t: TestEngine;
  let n = 0;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  const add = (over: Record<string, unknown> = {}) =>
    t.engine.schedules.add({
      name: `s${++n}`,
      cron: YEARLY,
      job: { group: `sched${n}`, taskType: uniqueType(), params: { n } },
      ...over,
    });
  /** Makes the schedule's next tick `agoMs` in the past, as if its time had come. */
  const dueAgo = async (s: ScheduleRecord, agoMs: number) => {
    await t.engine.database.query(
      `UPDATE schedules SET next_run_at = date_trunc('milliseconds', now()) - make_interval(secs => $2::float8 / 1000)
       WHERE id = $1`,
      [s.id, agoMs],
    );
  };
  /**
   * One pass of the ticker; the jobs it submitted for `s`. Other tests' schedules may come due
   * meanwhile (every minute): their jobs are not counted.
   */
  const tickFor = async (s: ScheduleRecord) =>
    (await t.engine.schedules.tick()).submitted.filter((j) =>
      j.idempotencyKey?.startsWith(`schedule:${s.id}:`),
    );
  const jobsOf = async (s: ScheduleRecord) =>
    (await t.engine.listJobs({ group: s.group })).filter((j) =>
      j.idempotencyKey?.startsWith(`schedule:${s.id}:`),
    );

  it('adds a schedule due at its first tick after now, and shows the ticks after it', async () => {
    const s = await add({ cron: '*/5 * * * *', timezone: 'Europe/Paris' });
    assert.equal(s.timezone, 'Europe/Paris');
    assert.equal(s.overlap, 'skip');
    assert.equal(s.catchUp, 'none');
    assert.ok(s.nextRunAt);
    const next = new Date(s.nextRunAt);
    assert.ok(next.getTime() > Date.now() - 1000 && next.getTime() <= Date.now() + 5 * 60_000);
    assert.equal(next.getUTCMinutes() % 5, 0);
    assert.equal(s.upcoming.length, 5);
    assert.equal(new Date(s.upcoming[0] ?? '').getTime() - next.getTime(), 5 * 60_000);
    assert.deepEqual(await t.engine.schedules.get(s.name), s);
  });

  it('refuses a bad expression, zone, name or job at once, and stores nothing', async () => {
    const refused = async (over: Record<string, unknown>, code: string) => {
      await assert.rejects(add(over), (e) => isDroverError(e) && e.code === code);
    };
    await refused({ cron: '* * *' }, 'DROVER_E_INVALID_CRON');
    await refused({ cron: '61 * * * *' }, 'DROVER_E_INVALID_CRON');
    await refused({ cron: '0 0 30 2 *' }, 'DROVER_E_INVALID_CRON');
    await refused({ timezone: 'Mars/Olympus' }, 'DROVER_E_INVALID_TIMEZONE');
    await refused({ name: 'no spaces' }, 'DROVER_E_INVALID_PARAMS');
    await refused(
      { job: { group: 'g', taskType: 't', idempotencyKey: 'mine' } },
      'DROVER_E_INVALID_PARAMS',
    );
    await refused({ job: { group: 'g' } }, 'DROVER_E_INVALID_PARAMS');
    // A site job's cancel is the site link's to forward, not a tick's.
    await refused(
      { overlap: 'cancel', job: { group: 'g', taskType: 't', site: 'madison' } },
      'DROVER_E_INVALID_PARAMS',
    );
    const before = (await t.engine.schedules.list()).length;
    const first = await add();
    await assert.rejects(
      t.engine.schedules.add({ name: first.name, cron: YEARLY, job: first.job }),
      (e) => isDroverError(e, 'DROVER_E_SCHEDULE_EXISTS'),
    );
    assert.equal((await t.engine.schedules.list()).length, before + 1);
  });

  it('submits one job for a due tick, keyed by the schedule and the tick, and moves on', async () => {
    const s = await add({ cron: '* * * * *' });
    await dueAgo(s, 0);
    const tickAt = (await t.engine.schedules.get(s.name)).nextRunAt;
    const submitted = await tickFor(s);
    assert.equal(submitted.length, 1);
    const [job] = submitted;
    assert.equal(job?.idempotencyKey, `schedule:${s.id}:${tickAt}`);
    assert.equal(job?.group, s.group);
    // A job without a name of its own is named after its schedule.
    assert.equal(job?.name, s.name);
    assert.deepEqual(job?.params, { n: Number(s.name.slice(1)) });
    const after = await t.engine.schedules.get(s.name);
    assert.equal(after.lastOutcome, 'submitted');
    assert.equal(after.lastJobId, job?.id);
    assert.equal(after.lastTickAt, tickAt);
    assert.ok(after.nextRunAt && new Date(after.nextRunAt) > new Date());
    // Nothing is due any more: a second pass submits nothing.
    assert.equal((await tickFor(s)).length, 0);
    assert.equal((await jobsOf(s)).length, 1);
  });

  it('overlap skip: records why the tick submitted nothing while the last job runs', async () => {
    const s = await add({ overlap: 'skip' });
    await dueAgo(s, 0);
    await t.engine.schedules.tick();
    await dueAgo(s, 0);
    await t.engine.schedules.tick();
    const after = await t.engine.schedules.get(s.name);
    assert.equal(after.lastOutcome, 'skipped');
    assert.match(after.lastReason ?? '', /previous run has not ended \(queued\)/);
    assert.equal((await jobsOf(s)).length, 1);
    // Once it ended, the next tick submits again.
    await t.engine.cancelJob(after.lastJobId ?? '', 'done with it');
    await dueAgo(s, 0);
    await t.engine.schedules.tick();
    assert.equal((await jobsOf(s)).length, 2);
  });

  it('overlap queue: submits anyway; overlap cancel: cancels the last job first', async () => {
    const queued = await add({ overlap: 'queue' });
    for (let i = 0; i < 2; i++) {
      await dueAgo(queued, 10_000 - i * 1000);
      await t.engine.schedules.tick();
    }
    const queuedJobs = await jobsOf(queued);
    assert.equal(queuedJobs.length, 2);
    assert.ok(queuedJobs.every((j) => j.status === 'queued'));

    const cancelling = await add({ overlap: 'cancel' });
    await dueAgo(cancelling, 0);
    const [first] = await tickFor(cancelling);
    await dueAgo(cancelling, 5000);
    const [second] = await tickFor(cancelling);
    assert.ok(first && second && first.id !== second.id);
    const firstNow = await t.engine.getJob(first.id);
    assert.equal(firstNow.status, 'cancelled');
    assert.match(firstNow.cancelReason ?? '', /schedule/);
    assert.equal((await t.engine.getJob(second.id)).status, 'queued');
    assert.match(
      (await t.engine.schedules.get(cancelling.name)).lastReason ?? '',
      new RegExp(`cancelled job ${first.id}`),
    );
  });

  it('catch-up none: ticks missed while no server ran are dropped, the next is to come', async () => {
    const s = await add({ cron: '* * * * *', catchUp: 'none' });
    await dueAgo(s, 3600_000);
    assert.equal((await tickFor(s)).length, 0);
    const after = await t.engine.schedules.get(s.name);
    assert.equal(after.lastOutcome, 'missed');
    assert.match(after.lastReason ?? '', /no server ran/);
    assert.ok(after.nextRunAt && new Date(after.nextRunAt) > new Date());
    assert.equal((await jobsOf(s)).length, 0);
  });

  it('catch-up last: one run for all the missed ticks, at the latest, then on as usual', async () => {
    const s = await add({ cron: '* * * * *', catchUp: 'last' });
    await dueAgo(s, 3600_000);
    assert.equal((await tickFor(s)).length, 1);
    const after = await t.engine.schedules.get(s.name);
    assert.equal(after.lastOutcome, 'submitted');
    const tick = new Date(after.lastTickAt ?? '');
    // The latest minute that had come, not the first one missed.
    assert.ok(Date.now() - tick.getTime() < 61_000, `ran for ${after.lastTickAt}`);
    assert.equal(tick.getUTCSeconds(), 0);
    assert.ok(after.nextRunAt && new Date(after.nextRunAt) > new Date());
    assert.equal((await tickFor(s)).length, 0);
    assert.equal((await jobsOf(s)).length, 1);
  });

  it('a tick less than a minute late still runs, whatever the catch-up', async () => {
    const s = await add({ cron: '* * * * * *', catchUp: 'none', overlap: 'queue' });
    await dueAgo(s, 5000);
    // Six ticks have come (5 s ago up to now): each runs once.
    let submitted = 0;
    for (let pass = 0; pass < 10; pass++) {
      submitted += (await tickFor(s)).length;
    }
    const keys = (await jobsOf(s)).map((j) => j.idempotencyKey);
    assert.equal(new Set(keys).size, keys.length);
    assert.ok(submitted >= 6, `submitted ${submitted}`);
    await t.engine.schedules.pause(s.name);
  });

  it('pause stops the ticks; resume starts from the next tick to come', async () => {
    const s = await add({ cron: '* * * * *' });
    const paused = await t.engine.schedules.pause(s.name);
    assert.equal(paused.paused, true);
    assert.equal(paused.nextRunAt, null);
    assert.deepEqual(paused.upcoming, []);
    assert.equal((await tickFor(s)).length, 0);
    const resumed = await t.engine.schedules.resume(s.name);
    assert.equal(resumed.paused, false);
    assert.ok(resumed.nextRunAt && new Date(resumed.nextRunAt) > new Date(Date.now() - 1000));
  });

  it('run-now submits at once, even paused; update and remove change and drop it', async () => {
    const s = await add();
    await t.engine.schedules.pause(s.name);
    const { job, schedule } = await t.engine.schedules.runNow(s.name);
    assert.equal(schedule.lastJobId, job.id);
    assert.match(job.idempotencyKey ?? '', new RegExp(`^schedule:${s.id}:`));
    const updated = await t.engine.schedules.update({
      name: s.name,
      cron: '0 12 * * *',
      timezone: 'America/New_York',
      overlap: 'queue',
    });
    assert.equal(updated.cron, '0 12 * * *');
    assert.equal(updated.overlap, 'queue');
    assert.equal(updated.paused, true);
    await assert.rejects(t.engine.schedules.update({ name: s.name, cron: 'nope' }), (e) =>
      isDroverError(e, 'DROVER_E_INVALID_CRON'),
    );
    assert.equal((await t.engine.schedules.get(s.name)).cron, '0 12 * * *');
    await t.engine.schedules.remove(s.name);
    await assert.rejects(t.engine.schedules.get(s.name), (e) =>
      isDroverError(e, 'DROVER_E_NOT_FOUND'),
    );
    // Its job stays.
    assert.equal((await t.engine.getJob(job.id)).id, job.id);
  });

  it('a job refused at its tick is recorded as failed and the schedule moves on', async () => {
    const s = await add({ cron: '* * * * *' });
    await t.engine.database.query(`UPDATE schedules SET job = job - 'taskType' WHERE id = $1`, [
      s.id,
    ]);
    await dueAgo(s, 0);
    assert.equal((await tickFor(s)).length, 0);
    const after = await t.engine.schedules.get(s.name);
    assert.equal(after.lastOutcome, 'failed');
    assert.match(after.lastReason ?? '', /refused/);
    assert.ok(after.nextRunAt && new Date(after.nextRunAt) > new Date());
  });

  it('follows the time zone across a change to summer time', () => {
    const rule = new CronRule('30 1 * * *', 'Europe/Paris');
    // 01:30 in Paris is 00:30 UTC in winter and 23:30 UTC the day before in summer; clocks go
    // forward at 02:00 on 29 March, after that day's 01:30.
    const ticks = rule.upcoming(new Date('2026-03-27T12:00:00Z'), 4).map((d) => d.toISOString());
    assert.deepEqual(ticks, [
      '2026-03-28T00:30:00.000Z',
      '2026-03-29T00:30:00.000Z',
      '2026-03-29T23:30:00.000Z',
      '2026-03-30T23:30:00.000Z',
    ]);
    // 02:30 does not exist on 29 March in Paris: that day's tick is at 03:00 summer time.
    const skipped = new CronRule('30 2 * * *', 'Europe/Paris');
    assert.equal(
      skipped.next(new Date('2026-03-28T12:00:00Z'))?.toISOString(),
      '2026-03-29T01:00:00.000Z',
    );
    assert.equal(
      new CronRule('0 9 * * *', 'UTC').latest(new Date('2026-03-28T09:00:00.400Z'))?.toISOString(),
      '2026-03-28T09:00:00.000Z',
    );
  });
});
