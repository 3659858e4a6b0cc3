// A removed job leaves every live list at once: subscribers of its group and of the job itself
// are told, through the same subscriptions every client uses.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { topics } from '@drover/protocol';
import type { EventRecord } from '@drover/protocol';
import { backend, openTestEngine, sleep, tokenFor, uniqueType } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '@drover/server';
import type { DroverServer } from '@drover/server';
import { DroverClient } from '../src/index.js';

async function until(done: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(20);
  }
}

describe(`removing a job, seen live (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let client: DroverClient;
  before(async () => {
    t = await openTestEngine();
    server = await startServer({ engine: t.engine, port: 0 });
    client = new DroverClient({ url: server.url, token: await tokenFor(t.engine), WebSocket });
  });
  after(async () => {
    client.close();
    await server.close();
    await t.close();
  });

  it('tells live subscribers of the group and of the job, and refuses a running job', async () => {
    const group = uniqueType('g').replaceAll('.', '-');
    const type = uniqueType();
    const { job } = await client.call('jobs.submit', {
      group,
      taskType: type,
      params: {},
      allowUnknownType: true,
    });
    const { worker } = await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 1,
    });
    const [lease] = await t.engine.claim({
      workerId: worker.id,
      taskTypes: [type],
      tags: [],
      limit: 1,
    });
    assert.ok(lease);
    const onGroup: EventRecord[] = [];
    const onJob: EventRecord[] = [];
    const subscriptions = [
      client.subscribe(topics.groupJobs(group), {
        cursor: (await client.call('events.head', { topic: topics.groupJobs(group) })).cursor,
        onEvents: (events) => onGroup.push(...events),
      }),
      client.subscribe(topics.job(job.id), {
        cursor: (await client.call('events.head', { topic: topics.job(job.id) })).cursor,
        onEvents: (events) => onJob.push(...events),
      }),
    ];
    try {
      await assert.rejects(client.call('jobs.remove', { id: job.id }), {
        code: 'DROVER_E_CONFLICT',
      });
      await t.engine.complete([{ ...lease, result: { ok: true } }]);
      await until(
        () => onGroup.some((e) => e.kind === 'job.updated' && e.data.status === 'succeeded'),
        'the job to succeed',
      );
      assert.ok(!onGroup.some((e) => e.kind === 'job.removed'), 'the refusal removed nothing');

      const { job: removed } = await client.call('jobs.remove', { id: job.id });
      assert.equal(removed.status, 'succeeded');
      await until(
        () =>
          onGroup.some((e) => e.kind === 'job.removed') &&
          onJob.some((e) => e.kind === 'job.removed'),
        'job.removed on both topics',
      );
      for (const events of [onGroup, onJob]) {
        const gone = events.find((e) => e.kind === 'job.removed');
        assert.deepEqual(gone?.data, { id: job.id, group });
      }
      assert.deepEqual((await client.call('jobs.list', { group })).jobs, []);
    } finally {
      for (const s of subscriptions) s.close();
    }
  });
});
