import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { topics } from '@drover/protocol';
import type { EventRecord, JobRecord } from '@drover/protocol';
import { openEngine } from '@drover/engine';
import type { Engine } from '@drover/engine';
import { databaseUrl, openTestEngine, sleep, tokenFor, uniqueType } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '@drover/server';
import type { DroverServer } from '@drover/server';
import { DroverClient } from '../src/index.js';

describe('subscriptions across server replicas on one PostgreSQL database', () => {
  let t: TestEngine;
  let other: Engine;
  let a: DroverServer;
  let b: DroverServer;
  let onA: DroverClient;
  let onB: DroverClient;
  before(async () => {
    t = await openTestEngine();
    // A second replica: its own connections to the same database and schema.
    other = await openEngine({ databaseUrl, schema: t.schema });
    // Tokens live in the database: one made through either replica signs in on both.
    const token = await tokenFor(t.engine);
    a = await startServer({ engine: t.engine, port: 0 });
    b = await startServer({ engine: other, port: 0 });
    onA = new DroverClient({ url: a.url, token, WebSocket });
    onB = new DroverClient({ url: b.url, token, WebSocket });
  });
  after(async () => {
    onA.close();
    onB.close();
    await a.close();
    await b.close();
    await other.close();
    await t.close();
  });

  it('delivers what one replica writes to the subscribers of another, live', async () => {
    const group = uniqueType('g').replaceAll('.', '-');
    const seen: EventRecord[] = [];
    const sub = onB.subscribe(topics.groupJobs(group), { onEvents: (e) => seen.push(...e) });
    await sleep(200);
    const started = Date.now();
    const { job } = await onA.submit('hello', {}, { group, allowUnknownType: true });
    while (!seen.some((e) => e.subject === job.id)) {
      assert.ok(Date.now() - started < 5000, 'the event reached the other replica');
      await sleep(10);
    }
    await onA.call('jobs.cancel', { id: job.id });
    const deadline = Date.now() + 5000;
    while (!seen.some((e) => (e.data as JobRecord).status === 'cancelled')) {
      assert.ok(Date.now() < deadline, 'the cancel reached the other replica');
      await sleep(10);
    }
    sub.close();
    assert.equal(seen[0]?.kind, 'job.added');
  });
});
