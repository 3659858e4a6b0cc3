import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { EventRecord } from '@drover/protocol';
import type { Assignment } from '@drover/protocol';
import { backend, openTestEngine, readEventsUntil, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`reports (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  async function claimOne(
    params: Record<string, unknown> = {},
  ): Promise<{ a: Assignment; workerId: string }> {
    const type = uniqueType();
    await t.engine.submit({ group: 'reports', taskType: type, params });
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 1,
    });
    const [a] = await t.engine.claim({
      workerId: worker.id,
      taskTypes: [type],
      tags: [],
      limit: 1,
    });
    assert.ok(a);
    return { a, workerId: worker.id };
  }

  async function refusals(atLeast = 0): Promise<EventRecord[]> {
    return readEventsUntil(t.engine, 'refusals', (events) => events.length >= atLeast);
  }

  it('records progress and a status message, and the task runs', async () => {
    const { a } = await claimOne();
    assert.deepEqual(await t.engine.reportProgress([a]), [
      { attemptId: a.attemptId, accepted: true },
    ]);
    assert.equal((await t.engine.getTask(a.task.id)).status, 'running');
    await t.engine.reportProgress([{ ...a, progress: 0.25, message: "I'm about to say hello" }]);
    const task = await t.engine.getTask(a.task.id);
    assert.equal(task.progress, 0.25);
    assert.equal(task.message, "I'm about to say hello");
    const job = await t.engine.getJob(task.jobId);
    assert.equal(job.progress, 0.25);
    assert.equal(job.counts.running, 1);
    // Out-of-range progress is clamped; a message alone keeps the progress.
    await t.engine.reportProgress([{ ...a, progress: 7 }]);
    await t.engine.reportProgress([{ ...a, message: 'almost' }]);
    const later = await t.engine.getTask(a.task.id);
    assert.equal(later.progress, 1);
    assert.equal(later.message, 'almost');
  });

  it('stores the result once: the job succeeds and a second result is refused', async () => {
    const { a } = await claimOne();
    assert.deepEqual(await t.engine.complete([{ ...a, result: 'hi!' }]), [
      { attemptId: a.attemptId, accepted: true },
    ]);
    const task = await t.engine.getTask(a.task.id);
    assert.equal(task.status, 'succeeded');
    assert.equal(task.result, 'hi!');
    assert.ok(task.finishedAt);
    const job = await t.engine.getJob(a.task.jobId);
    assert.equal(job.status, 'succeeded');
    assert.equal(job.progress, 1);
    assert.ok(job.finishedAt);
    const seen = await refusals();
    assert.deepEqual(await t.engine.complete([{ ...a, result: 'again' }]), [
      { attemptId: a.attemptId, accepted: false },
    ]);
    assert.equal((await t.engine.getTask(a.task.id)).result, 'hi!', 'the first result stands');
    const refused = (await refusals(seen.length + 1)).slice(seen.length);
    assert.equal(refused.length, 1);
    assert.equal(refused[0]?.kind, 'report.refused');
    assert.deepEqual(refused[0]?.data, { report: 'result', attemptId: a.attemptId });
  });

  it('refuses and records every report that carries a wrong token, applying none', async () => {
    const { a } = await claimOne();
    const forged = { attemptId: a.attemptId, token: '00000000-0000-4000-8000-000000000000' };
    const seen = (await refusals()).length;
    assert.deepEqual(await t.engine.reportProgress([{ ...forged, progress: 0.9 }]), [
      { attemptId: a.attemptId, accepted: false },
    ]);
    assert.deepEqual(
      await t.engine.appendLogs([
        { ...forged, lines: [{ at: new Date().toISOString(), stream: 'stdout', line: 'x' }] },
      ]),
      [{ attemptId: a.attemptId, accepted: false }],
    );
    assert.deepEqual(await t.engine.complete([{ ...forged, result: 1 }]), [
      { attemptId: a.attemptId, accepted: false },
    ]);
    assert.deepEqual(await t.engine.fail([{ ...forged, error: { message: 'boom' } }]), [
      { attemptId: a.attemptId, accepted: false },
    ]);
    const renewal = await t.engine.renewLeases([forged]);
    assert.deepEqual(renewal.stale, [a.attemptId]);
    const task = await t.engine.getTask(a.task.id);
    assert.equal(task.status, 'leased');
    assert.equal(task.progress, 0);
    assert.equal(task.result, null);
    assert.equal((await refusals(seen + 4)).length - seen, 4);
    assert.deepEqual(
      (await t.engine.readEvents({ topic: `task/${a.task.id}/log`, after: '' })).events,
      [],
    );
  });

  it('keeps log lines in order on the task log topic', async () => {
    const { a } = await claimOne();
    const at = new Date().toISOString();
    await t.engine.appendLogs([
      { ...a, lines: [{ at, stream: 'stdout', line: 'one' }] },
      { ...a, lines: [{ at, stream: 'stderr', line: 'two' }] },
    ]);
    await t.engine.appendLogs([{ ...a, lines: [{ at, stream: 'stdout', line: 'three' }] }]);
    const events = await readEventsUntil(t.engine, `task/${a.task.id}/log`, (e) => e.length >= 2);
    assert.equal(events.length, 2, 'one event per batch of an attempt');
    const lines = events.flatMap((e) =>
      (e.data as { lines: { line: string }[] }).lines.map((l) => l.line),
    );
    assert.deepEqual(lines, ['one', 'two', 'three']);
    assert.equal((events[0]?.data as { attempt: number }).attempt, 1);
  });

  it('renews leases in a batch and reports the stale ones', async () => {
    const one = await claimOne();
    const two = await claimOne();
    await t.engine.complete([{ ...two.a, result: null }]);
    const renewed = await t.engine.renewLeases([one.a, two.a], 120_000);
    assert.deepEqual(
      renewed.renewed.map((r) => r.attemptId),
      [one.a.attemptId],
    );
    assert.deepEqual(renewed.stale, [two.a.attemptId]);
    const expiry = Date.parse(renewed.renewed[0]?.leaseExpiresAt ?? '') - Date.now();
    assert.ok(expiry > 110_000, `renewed for ${expiry} ms`);
  });

  it('applies a mixed batch report by report', async () => {
    const one = await claimOne();
    const two = await claimOne();
    const outcomes = await t.engine.complete([
      { ...one.a, result: 1 },
      { attemptId: two.a.attemptId, token: one.a.token, result: 2 },
      { ...one.a, result: 'duplicate in the batch' },
    ]);
    assert.deepEqual(outcomes, [
      { attemptId: one.a.attemptId, accepted: true },
      { attemptId: two.a.attemptId, accepted: false },
    ]);
    assert.equal((await t.engine.getTask(one.a.task.id)).result, 1);
    assert.equal((await t.engine.getTask(two.a.task.id)).status, 'leased');
  });

  it('never lets a forged report in the same batch stand in for the genuine one, or hide it', async () => {
    const { a } = await claimOne();
    const forged = { attemptId: a.attemptId, token: '00000000-0000-4000-8000-000000000000' };
    assert.deepEqual(
      await t.engine.appendLogs([
        { ...a, lines: [{ at: new Date().toISOString(), stream: 'stdout', line: 'genuine' }] },
        { ...forged, lines: [{ at: new Date().toISOString(), stream: 'stdout', line: 'forged' }] },
      ]),
      [
        { attemptId: a.attemptId, accepted: true },
        { attemptId: a.attemptId, accepted: false },
      ],
    );
    const logged = await readEventsUntil(t.engine, `task/${a.task.id}/log`, (e) => e.length >= 1);
    assert.deepEqual(
      logged.flatMap((e) => (e.data as { lines: { line: string }[] }).lines.map((l) => l.line)),
      ['genuine'],
    );
    const outcomes = await t.engine.complete([
      { ...forged, result: 'forged' },
      { ...a, result: 'genuine' },
    ]);
    assert.deepEqual(outcomes, [
      { attemptId: a.attemptId, accepted: false },
      { attemptId: a.attemptId, accepted: true },
    ]);
    assert.equal((await t.engine.getTask(a.task.id)).result, 'genuine');
  });

  it('stores what a command printed even when it is not text PostgreSQL takes, and refuses malformed leases one by one', async () => {
    const { a } = await claimOne();
    await t.engine.appendLogs([
      {
        ...a,
        lines: [{ at: new Date().toISOString(), stream: 'stdout', line: 'bin\u0000ary \ud800' }],
      },
    ]);
    await t.engine.reportProgress([{ ...a, message: 'half\u0000way' }]);
    const outcomes = await t.engine.complete([
      { attemptId: a.attemptId, token: 'not-a-token', result: 1 },
      { ...a, result: { text: 'x\u0000y' } },
    ]);
    assert.deepEqual(outcomes.map((o) => o.accepted).sort(), [false, true]);
    const task = await t.engine.getTask(a.task.id);
    assert.deepEqual(task.result, { text: 'x\uFFFDy' });
    assert.equal(task.message, 'half\uFFFDway');
    const logged = await readEventsUntil(t.engine, `task/${a.task.id}/log`, (e) => e.length >= 1);
    assert.equal(
      (logged[0]?.data as { lines: { line: string }[] }).lines[0]?.line,
      'bin\uFFFDary \uFFFD',
    );
  });
});
