// Who may see and change a schedule: its job's group decides, as for a job (decision 0014).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backend, openTestEngine, tokenFor, uniqueType } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';

describe(`schedules over RPC (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let admin: string;
  let writer: string;
  let reader: string;
  let stranger: string;
  let worker: string;

  before(async () => {
    t = await openTestEngine();
    server = await startServer({ engine: t.engine, port: 0 });
    admin = await tokenFor(t.engine);
    writer = await tokenFor(t.engine, { name: 'w', role: 'member', groups: { nightly: 'write' } });
    reader = await tokenFor(t.engine, { name: 'r', role: 'member', groups: { nightly: 'read' } });
    stranger = await tokenFor(t.engine, { name: 's', role: 'member', groups: { other: 'write' } });
    worker = await tokenFor(t.engine, { name: 'wk', role: 'worker' });
  });
  after(async () => {
    await server.close();
    await t.close();
  });

  async function rpc(token: string, method: string, params: unknown) {
    const response = await fetch(`${server.url}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
    });
    return (await response.json()) as {
      result?: Record<string, unknown>;
      error?: { message: string; data?: { code?: string } };
    };
  }
  const code = (answer: { error?: { data?: { code?: string } } }) => answer.error?.data?.code;

  it('lets a group writer add and change, a reader look, and hides it from others', async () => {
    const add = {
      name: 'renders',
      cron: '0 2 * * *',
      timezone: 'Europe/Paris',
      job: { group: 'nightly', taskType: uniqueType(), params: {} },
      allowUnknownType: true,
    };
    assert.equal(code(await rpc(reader, 'schedules.add', add)), 'DROVER_E_FORBIDDEN');
    assert.equal(code(await rpc(stranger, 'schedules.add', add)), 'DROVER_E_FORBIDDEN');
    assert.equal(code(await rpc(worker, 'schedules.add', add)), 'DROVER_E_FORBIDDEN');
    const added = await rpc(writer, 'schedules.add', add);
    assert.equal(added.result?.group, 'nightly');

    assert.equal((await rpc(reader, 'schedules.get', { name: 'renders' })).result?.name, 'renders');
    assert.equal(
      code(await rpc(reader, 'schedules.pause', { name: 'renders' })),
      'DROVER_E_FORBIDDEN',
    );
    // Another group's member is told there is no such schedule, and lists none.
    assert.equal(
      code(await rpc(stranger, 'schedules.get', { name: 'renders' })),
      'DROVER_E_NOT_FOUND',
    );
    assert.equal(
      code(await rpc(stranger, 'schedules.remove', { name: 'renders' })),
      'DROVER_E_NOT_FOUND',
    );
    assert.deepEqual((await rpc(stranger, 'schedules.list', {})).result?.schedules, []);
    assert.equal(
      ((await rpc(admin, 'schedules.list', {})).result?.schedules as unknown[]).length,
      1,
    );
    // A writer may not move the schedule's job to a group it cannot write.
    assert.equal(
      code(
        await rpc(writer, 'schedules.update', {
          name: 'renders',
          job: { ...add.job, group: 'other' },
          allowUnknownType: true,
        }),
      ),
      'DROVER_E_FORBIDDEN',
    );
    const paused = await rpc(writer, 'schedules.pause', { name: 'renders' });
    assert.equal(paused.result?.paused, true);
    const ran = await rpc(writer, 'schedules.runNow', { name: 'renders' });
    assert.ok((ran.result?.job as { id?: string } | undefined)?.id);
    assert.equal(
      (await rpc(writer, 'schedules.remove', { name: 'renders' })).result?.name,
      'renders',
    );
  });

  it('checks the job against the task types the workers offer, as jobs.submit does', async () => {
    const answer = await rpc(admin, 'schedules.add', {
      name: 'unknown-type',
      cron: '* * * * *',
      job: { group: 'nightly', taskType: 'nobody.offers.this', params: {} },
    });
    assert.equal(code(answer), 'DROVER_E_UNKNOWN_TASK_TYPE');
    assert.equal(
      code(await rpc(admin, 'schedules.get', { name: 'unknown-type' })),
      'DROVER_E_NOT_FOUND',
    );
  });
});
