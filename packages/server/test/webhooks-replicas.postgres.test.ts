// Two replicas on one PostgreSQL database share the outbox: each notification reaches the
// receiver once (counted by its Drover-Delivery id), whichever replica sent it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openEngine } from '@drover/engine';
import type { Engine } from '@drover/engine';
import { claimFresh, databaseUrl, openTestEngine } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';
import { startReceiver } from './webhook-receiver.js';
import type { Receiver } from './webhook-receiver.js';

const JOBS = 40;

describe('webhooks on two replicas (postgres)', () => {
  let t: TestEngine;
  let other: Engine;
  let servers: DroverServer[];
  let receiver: Receiver;

  before(async () => {
    t = await openTestEngine();
    assert.ok(t.schema);
    other = await openEngine({ databaseUrl, schema: t.schema });
    const webhooks = { concurrency: 4, backoff: { initialMs: 100, maxMs: 200 }, pollMs: 100 };
    servers = [
      await startServer({ engine: t.engine, port: 0, webhooks }),
      await startServer({ engine: other, port: 0, webhooks }),
    ];
    // Each answer takes a while, so both replicas have deliveries under way at once.
    receiver = await startReceiver([{ status: 200, delayMs: 30 }]);
  });
  after(async () => {
    for (const server of servers) await server.close();
    await receiver.close();
    await other.close();
    await t.close();
  });

  it('delivers each notification once', async () => {
    const { webhook } = await t.engine.webhooks.add({
      url: receiver.url,
      events: ['job.succeeded'],
    });
    const jobs = new Set<string>();
    for (let i = 0; i < JOBS; i++) {
      const [lease] = await claimFresh(t.engine, 1, 'replicas');
      assert.ok(lease);
      await t.engine.complete([{ ...lease, result: null }]);
      jobs.add(lease.task.jobId);
    }
    await receiver.until(JOBS);
    const deadline = Date.now() + 20_000;
    let deliveries = await t.engine.webhooks.deliveries(webhook.id, 1000);
    while (deliveries.some((d) => d.state !== 'delivered') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      deliveries = await t.engine.webhooks.deliveries(webhook.id, 1000);
    }
    assert.equal(deliveries.length, JOBS);
    assert.ok(deliveries.every((d) => d.state === 'delivered' && d.tries === 1));
    const ids = receiver.received.map((r) => r.delivery);
    assert.equal(ids.length, JOBS, 'no delivery sent twice');
    assert.equal(new Set(ids).size, JOBS);
    assert.deepEqual(new Set(deliveries.map((d) => d.subject)), jobs);
  });
});
