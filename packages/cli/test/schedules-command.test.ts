// `drover schedules ...`: a job file submitted at each tick of a cron expression, through the
// real CLI against a real server, whose own ticker submits the jobs.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backend, openTestEngine, tokenFor, uniqueType } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '@drover/server';
import type { DroverServer } from '@drover/server';
import type { ScheduleRecord } from '@drover/protocol';
import { drover } from './run-drover.js';

describe(`drover schedules (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const type = uniqueType('render');

  before(async () => {
    t = await openTestEngine();
    dir = mkdtempSync(join(tmpdir(), 'drover-schedules-command-'));
    writeFileSync(join(dir, 'drover.json'), '{}');
    // A worker described the task type's params: a scheduled job is checked against them.
    await t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [type],
      slots: 1,
      paramsSchemas: {
        [type]: {
          type: 'object',
          properties: { scene: { type: 'string' } },
          required: ['scene'],
        },
      },
    });
    writeFileSync(
      join(dir, 'job.json'),
      JSON.stringify({ taskType: type, params: { scene: 'city' } }),
    );
    writeFileSync(join(dir, 'bad-job.json'), JSON.stringify({ taskType: type, params: {} }));
    server = await startServer({ engine: t.engine, port: 0 });
    env = { DROVER_TOKEN: await tokenFor(t.engine), DROVER_SERVER: server.url };
  });
  after(async () => {
    await server.close();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (args: string[]) => drover(args, { cwd: dir, env });

  it('adds a schedule whose ticks the server submits, and shows them', async () => {
    const added = await run([
      'schedules',
      'add',
      'nightly',
      '--cron',
      '* * * * * *',
      '--file',
      'job.json',
      '--timezone',
      'Europe/Paris',
      '--overlap',
      'queue',
      '--group',
      'renders',
    ]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /added schedule nightly/);
    assert.match(added.stdout, /cron: {8}\* \* \* \* \* \* \(Europe\/Paris\)/);

    // The server's ticker submits a job within a second or two.
    let shown: ScheduleRecord | undefined;
    for (let i = 0; i < 100 && !shown?.lastJobId; i++) {
      const json = await run(['schedules', 'show', 'nightly', '--json']);
      assert.equal(json.code, 0, json.stderr);
      shown = JSON.parse(json.stdout) as ScheduleRecord;
      if (!shown.lastJobId) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(shown?.lastJobId, 'a tick submitted a job');
    const job = await t.engine.getJob(shown.lastJobId);
    assert.equal(job.group, 'renders');
    assert.match(job.idempotencyKey ?? '', new RegExp(`^schedule:${shown.id}:`));

    const jobShown = await run(['jobs', 'show', shown.lastJobId]);
    assert.match(jobShown.stdout, new RegExp(`submitted by schedule ${shown.id} for its tick at`));

    const text = await run(['schedules', 'show', 'nightly']);
    assert.match(text.stdout, /next runs: {3}\d{4}-/);
    assert.match(text.stdout, /last run: {4}\S+ job [0-9a-f-]{36} \(drover jobs show/);

    const listed = await run(['schedules', 'ls']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /nightly\s+renders\s+\* \* \* \* \* \*\s+Europe\/Paris/);

    const paused = await run(['schedules', 'pause', 'nightly']);
    assert.match(paused.stdout, /paused schedule nightly/);
    assert.equal((await t.engine.schedules.get('nightly')).paused, true);
    const now = await run(['schedules', 'run-now', 'nightly']);
    assert.equal(now.code, 0, now.stderr);
    const jobId = /submitted job (\S+) for schedule nightly/.exec(now.stdout)?.[1];
    assert.equal((await t.engine.getJob(jobId ?? '')).group, 'renders');
    const resumed = await run(['schedules', 'resume', 'nightly']);
    assert.match(resumed.stdout, /schedule nightly runs; next at/);
    const removed = await run(['schedules', 'rm', 'nightly']);
    assert.match(removed.stdout, /removed schedule nightly/);
    assert.deepEqual(await t.engine.schedules.list(), []);
  });

  it('refuses a bad schedule at once, saying what is wrong, and adds nothing', async () => {
    const add = (name: string, ...more: string[]) =>
      run(['schedules', 'add', name, '--cron', '*/5 * * * *', '--file', 'job.json', ...more]);
    const badCron = await run(['schedules', 'add', 'x', '--cron', '*/5 * *', '--file', 'job.json']);
    assert.equal(badCron.code, 1);
    assert.match(
      badCron.stderr,
      /cron expression "\*\/5 \* \*" cannot be used.*DROVER_E_INVALID_CRON/s,
    );
    const badZone = await add('x', '--timezone', 'Europe/Atlantis');
    assert.match(badZone.stderr, /no time zone "Europe\/Atlantis".*DROVER_E_INVALID_TIMEZONE/s);
    const badJob = await run([
      'schedules',
      'add',
      'x',
      '--cron',
      '*/5 * * * *',
      '--file',
      'bad-job.json',
    ]);
    assert.equal(badJob.code, 1);
    assert.match(badJob.stderr, /scene/);
    assert.match(badJob.stderr, /DROVER_E_INVALID_PARAMS/);
    const missing = await add('x', '--file', 'nope.json');
    assert.match(missing.stderr, /--file nope\.json: there is no such file/);
    assert.deepEqual(await t.engine.schedules.list(), []);

    assert.equal((await add('twice')).code, 0);
    const again = await add('twice');
    assert.match(again.stderr, /DROVER_E_SCHEDULE_EXISTS/);
    const unknown = await run(['schedules', 'show', 'nobody']);
    assert.match(unknown.stderr, /There is no schedule nobody/);
  });
});
