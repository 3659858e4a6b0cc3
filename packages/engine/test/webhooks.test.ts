// The webhooks' outbox in the engine: rows written with the change they tell of, taken by one
// claimer at a time under a lease, settled only by the try that holds it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backend, claimFresh, openTestEngine, sleep, uniqueType } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`webhook deliveries (${backend})`, () => {
  let t: TestEngine;

  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  it('writes a row for each end of a job, to enabled webhooks that hear it, and none otherwise', async () => {
    const group = uniqueType('outbox').replaceAll('.', '-');
    const { webhook: failures } = await t.engine.webhooks.add({
      group,
      url: 'http://127.0.0.1:9/a',
      events: ['job.failed', 'job.succeeded'],
    });
    const { webhook: off } = await t.engine.webhooks.add({
      group,
      url: 'http://127.0.0.1:9/b',
      events: ['job.failed'],
      enabled: false,
    });
    const [lease] = await claimFresh(t.engine, 1, group);
    assert.ok(lease);
    await t.engine.fail([{ ...lease, error: { message: 'no' }, retry: false }]);
    // Retried and ended again: told again.
    await t.engine.retryJob(lease.task.jobId);
    const [again] = await t.engine.claim({
      workerId: lease.task.workerId ?? '',
      taskTypes: [lease.task.taskType],
      tags: [],
      limit: 1,
    });
    assert.ok(again);
    await t.engine.complete([{ ...again, result: null }]);
    const rows = await t.engine.webhooks.deliveries(failures.id);
    assert.deepEqual(rows.map((d) => d.event).sort(), ['job.failed', 'job.succeeded']);
    assert.ok(rows.every((d) => d.subject === lease.task.jobId && d.state === 'pending'));
    assert.deepEqual(await t.engine.webhooks.deliveries(off.id), []);
    await t.engine.webhooks.remove(failures.id);
    await t.engine.webhooks.remove(off.id);
  });

  it('gives a due delivery to one claimer, again only after its lease, and settles it once', async () => {
    const { webhook } = await t.engine.webhooks.add({
      url: 'http://127.0.0.1:9/c',
      events: ['worker.offline'],
    });
    const id = await t.engine.webhooks.ping(webhook.id);
    const [first, second] = await Promise.all([
      t.engine.webhooks.claimDue(10, 300),
      t.engine.webhooks.claimDue(10, 300),
    ]);
    const taken = [...(first ?? []), ...(second ?? [])].filter((d) => d.id === id);
    assert.equal(taken.length, 1, 'one claimer takes it');
    const [held] = taken;
    assert.ok(held);
    assert.equal(held.tries, 1);
    assert.equal(held.url, 'http://127.0.0.1:9/c');
    assert.match(held.secret, /^whsec_/);
    // Its lease runs out: taken again, as try 2; the first try's late outcome changes nothing.
    await sleep(400);
    const [retaken] = (await t.engine.webhooks.claimDue(10, 60_000)).filter((d) => d.id === id);
    assert.equal(retaken?.tries, 2);
    const late = await t.engine.webhooks.settle(held, {
      state: 'delivered',
      status: 200,
      error: null,
    });
    assert.equal(late, undefined);
    assert.ok(retaken);
    const settled = await t.engine.webhooks.settle(retaken, {
      state: 'failed',
      status: 410,
      error: 'HTTP 410',
    });
    assert.equal(settled?.state, 'failed');
    assert.equal(settled?.tries, 2);
    assert.equal(settled?.status, 410);
    assert.equal((await t.engine.webhooks.get(webhook.id)).lastDelivery?.status, 410);
    await t.engine.webhooks.remove(webhook.id);
  });

  it('refuses bad webhooks and stores nothing', async () => {
    const before = (await t.engine.webhooks.list()).length;
    await assert.rejects(
      t.engine.webhooks.add({ url: 'file:///etc/passwd', events: ['job.failed'] }),
      {
        code: 'DROVER_E_WEBHOOK_URL',
      },
    );
    await assert.rejects(
      t.engine.webhooks.add({ url: 'https://u:p@example.org/', events: ['job.failed'] }),
      { code: 'DROVER_E_WEBHOOK_URL' },
    );
    await assert.rejects(
      t.engine.webhooks.add({ url: 'https://example.org/', events: ['job.ended'] }),
      {
        code: 'DROVER_E_WEBHOOK_EVENT',
      },
    );
    await assert.rejects(
      t.engine.webhooks.add({ group: '../x', url: 'https://example.org/', events: ['job.failed'] }),
      { code: 'DROVER_E_WEBHOOK_GROUP' },
    );
    await assert.rejects(
      t.engine.webhooks.add({
        url: 'https://example.org/',
        events: ['job.failed'],
        secret: 'short',
      }),
      { code: 'DROVER_E_INVALID_PARAMS' },
    );
    await assert.rejects(t.engine.webhooks.update({ id: 'whk_AAAAAAAAAAAA', enabled: false }), {
      code: 'DROVER_E_WEBHOOK_NOT_FOUND',
    });
    assert.equal((await t.engine.webhooks.list()).length, before);
  });
});
