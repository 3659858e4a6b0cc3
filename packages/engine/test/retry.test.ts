import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Assignment } from '@drover/protocol';
import { backend, openTestEngine, sleep, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`retries, timeouts and lost leases (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  async function setup(submission: Record<string, unknown>) {
    const type = uniqueType();
    const { job } = await t.engine.submit({ group: 'retry', taskType: type, ...submission });
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 4,
    });
    const claim = async (leaseMs = 60_000): Promise<Assignment[]> =>
      t.engine.claim({ workerId: worker.id, taskTypes: [type], tags: [], limit: 4, leaseMs });
    return { job, worker, claim };
  }

  it('retries a failed task after an exponential back-off with jitter, then fails it for good', async () => {
    const { job, claim } = await setup({
      maxAttempts: 3,
      backoff: { initialMs: 400, maxMs: 10_000 },
    });
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const [a] = await claim();
      assert.ok(a, `attempt ${attempt} is claimable once its back-off has passed`);
      assert.equal(a.task.attempt, attempt);
      const failedAt = Date.now();
      await t.engine.fail([
        { ...a, error: { message: `boom ${attempt}`, stack: 'Error: boom\n    at run' } },
      ]);
      const task = await t.engine.getTask(a.task.id);
      if (attempt < 3) {
        assert.equal(task.status, 'queued');
        assert.equal(task.error?.message, `boom ${attempt}`);
        const delay = Date.parse(task.runAt) - failedAt;
        delays.push(delay);
        const base = 400 * 2 ** (attempt - 1);
        assert.ok(
          delay >= base * 0.8 - 50 && delay <= base * 1.2 + 50,
          `attempt ${attempt}: back-off ${delay} ms, expected ${base} ± 20%`,
        );
        assert.deepEqual(await claim(), [], 'not claimable during its back-off');
        await sleep(Math.max(0, Date.parse(task.runAt) - Date.now()) + 20);
      } else {
        assert.equal(task.status, 'failed');
        assert.equal(task.error?.stack, 'Error: boom\n    at run');
      }
    }
    const attempts = await t.engine.listAttempts((await t.engine.listTasks(job.id))[0]?.id ?? '');
    assert.deepEqual(
      attempts.map((x) => [x.number, x.status]),
      [
        [1, 'failed'],
        [2, 'failed'],
        [3, 'failed'],
      ],
    );
    const finished = await t.engine.getJob(job.id);
    assert.equal(finished.status, 'failed');
    assert.equal(finished.counts.failed, 1);
    assert.equal(finished.progress, 0, 'a failed task counts as no work done');
  });

  it('caps the back-off at maxMs', async () => {
    const { claim } = await setup({ maxAttempts: 3, backoff: { initialMs: 600, maxMs: 800 } });
    const [first] = await claim();
    assert.ok(first);
    await t.engine.fail([{ ...first, error: { message: 'x' } }]);
    await sleep(Date.parse((await t.engine.getTask(first.task.id)).runAt) - Date.now() + 20);
    const [second] = await claim();
    assert.ok(second);
    const failedAt = Date.now();
    await t.engine.fail([{ ...second, error: { message: 'x' } }]);
    // Uncapped, the second back-off would be 1200 ms.
    const delay = Date.parse((await t.engine.getTask(second.task.id)).runAt) - failedAt;
    assert.ok(delay >= 590 && delay <= 1010, `back-off ${delay} ms, expected 800 ± 20%`);
  });

  it('fails at once when the failure says a retry cannot help', async () => {
    const { claim } = await setup({ maxAttempts: 5 });
    const [a] = await claim();
    assert.ok(a);
    await t.engine.fail([{ ...a, error: { message: 'bad params' }, retry: false }]);
    assert.equal((await t.engine.getTask(a.task.id)).status, 'failed');
  });

  it('gives up an attempt whose lease expired and runs the task again as the next attempt', async () => {
    const { claim } = await setup({ maxAttempts: 2, backoff: { initialMs: 0, maxMs: 0 } });
    const [a] = await claim(200);
    assert.ok(a);
    assert.deepEqual(await t.engine.reapExpired(), [], 'nothing is due before the lease runs out');
    await sleep(300);
    const reaped = await t.engine.reapExpired();
    assert.deepEqual(reaped, [
      {
        attemptId: a.attemptId,
        taskId: a.task.id,
        workerId: a.task.workerId ?? '',
        status: 'lost',
      },
    ]);
    const [again] = await claim();
    assert.ok(again);
    assert.equal(again.task.id, a.task.id);
    assert.equal(again.task.attempt, 2);
    // The first attempt's worker comes back too late: its report is refused.
    assert.deepEqual(await t.engine.complete([{ ...a, result: 'late' }]), [
      { attemptId: a.attemptId, accepted: false },
    ]);
    assert.deepEqual(await t.engine.complete([{ ...again, result: 'on time' }]), [
      { attemptId: again.attemptId, accepted: true },
    ]);
    const task = await t.engine.getTask(a.task.id);
    assert.equal(task.status, 'succeeded');
    assert.equal(task.result, 'on time');
    const attempts = await t.engine.listAttempts(a.task.id);
    assert.deepEqual(
      attempts.map((x) => [x.number, x.status, x.error?.code ?? null]),
      [
        [1, 'lost', 'DROVER_E_WORKER_LOST'],
        [2, 'succeeded', null],
      ],
    );
  });

  it('stops an attempt at its timeout even while its lease is renewed', async () => {
    const { claim } = await setup({ timeoutMs: 300, maxAttempts: 1 });
    const [a] = await claim();
    assert.ok(a);
    await sleep(150);
    await t.engine.renewLeases([a]);
    await sleep(200);
    const reaped = await t.engine.reapExpired();
    assert.deepEqual(
      reaped.map((r) => [r.attemptId, r.status]),
      [[a.attemptId, 'timed_out']],
    );
    const task = await t.engine.getTask(a.task.id);
    assert.equal(task.status, 'failed');
    assert.equal(task.error?.code, 'DROVER_E_TASK_TIMEOUT');
  });

  it("loses a departed worker's attempts at once and requeues their tasks without back-off", async () => {
    const { job, worker, claim } = await setup({
      items: [{ i: 1 }, { i: 2 }],
      backoff: { initialMs: 60_000, maxMs: 60_000 },
    });
    const held = await claim();
    assert.equal(held.length, 2);
    const lost = await t.engine.loseWorkerAttempts(worker.id, 'connection closed');
    assert.deepEqual(lost.map((l) => l.attemptId).sort(), held.map((a) => a.attemptId).sort());
    const again = await claim();
    assert.deepEqual(
      again.map((a) => [a.task.id, a.task.attempt]).sort(),
      held.map((a) => [a.task.id, 2]).sort(),
    );
    const current = await t.engine.getJob(job.id);
    assert.equal(current.counts.leased, 2);
    assert.deepEqual(await t.engine.loseWorkerAttempts('00000000-0000-4000-8000-000000000000'), []);
  });

  it('loses only the attempts a connection held, leaving those the worker holds through another server', async () => {
    const { worker, claim } = await setup({ items: [{ i: 1 }, { i: 2 }] });
    const [viaA, viaB] = await claim();
    assert.ok(viaA && viaB);
    const lost = await t.engine.loseWorkerAttempts(worker.id, 'connection to server A closed', [
      viaA.attemptId,
    ]);
    assert.deepEqual(
      lost.map((l) => l.attemptId),
      [viaA.attemptId],
    );
    assert.equal((await t.engine.getTask(viaB.task.id)).status, 'leased');
    assert.deepEqual(await t.engine.complete([{ ...viaB, result: 'kept' }]), [
      { attemptId: viaB.attemptId, accepted: true },
    ]);
  });
});
