import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { JsonSchema } from '@drover/protocol';
import { backend, openTestEngine, sleep, tokenFor, uniqueType } from '@drover/engine/testing';
import type { TestEngine } from '@drover/engine/testing';
import { startServer } from '../src/index.js';
import type { DroverServer } from '../src/index.js';

describe(`params checked at submission against the described schemas (${backend})`, () => {
  let t: TestEngine;
  let server: DroverServer;
  let token: string;
  before(async () => {
    t = await openTestEngine();
    token = await tokenFor(t.engine);
    server = await startServer({ engine: t.engine, port: 0 });
  });
  after(async () => {
    await server.close();
    await t.close();
  });

  async function submit(submission: Record<string, unknown>) {
    const response = await fetch(`${server.url}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'jobs.submit', params: submission, id: 1 }),
    });
    return (await response.json()) as {
      result?: { job: { id: string }; created: boolean };
      error?: {
        code: number;
        message: string;
        data?: { code?: string; details?: { path: string; message?: string }[] };
      };
    };
  }

  const describeType = (name: string, schema: JsonSchema) =>
    t.engine.registerWorker({
      name: uniqueType('w'),
      host: 'h',
      taskTypes: [name],
      slots: 1,
      paramsSchemas: { [name]: schema },
    });

  it('names nested fields by their whole path', async () => {
    const type = uniqueType();
    await describeType(type, {
      type: 'object',
      properties: {
        size: {
          type: 'object',
          properties: { width: { type: 'integer' } },
          required: ['width'],
          additionalProperties: false,
        },
      },
      required: ['size'],
    });
    await sleep(2100); // past the schemas' cache
    const bad = await submit({ group: 'params', taskType: type, params: { size: { depth: 1 } } });
    assert.deepEqual(bad.error?.data?.details?.map((d) => d.path).sort(), [
      'params.size.depth',
      'params.size.width',
    ]);
  });

  it('refuses a submission too large to store before checking each task against the schema', async () => {
    // Checking every item against the schema costs per task; the stored size is known at once.
    const type = uniqueType();
    await describeType(type, {
      type: 'object',
      properties: { n: { type: 'integer' } },
      required: ['n'],
    });
    await sleep(2100); // past the schemas' cache
    const wide = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i]));
    const bad = await submit({
      group: 'params-size',
      taskType: type,
      params: wide,
      items: Array.from({ length: 2000 }, () => ({ n: 'not a number' })),
    });
    assert.deepEqual(
      bad.error?.data?.details?.map((d) => d.path),
      ['params'],
      'the size, not 2,000 schema errors',
    );
    assert.equal((await t.engine.listJobs({ group: 'params-size' })).length, 0);
  });

  it('follows a changed schema, even one with an $id, and never runs its patterns', async () => {
    const type = uniqueType();
    const v1 = { $id: 'urn:drover:test', type: 'object', properties: { n: { type: 'string' } } };
    await describeType(type, v1);
    await sleep(2100);
    assert.equal(
      (await submit({ group: 'params', taskType: type, params: { n: 1 } })).error?.code,
      -32602,
    );
    await describeType(type, {
      ...v1,
      properties: { n: { type: 'integer' }, s: { type: 'string', pattern: '^(a+)+$' } },
    });
    await sleep(2100);
    assert.ok((await submit({ group: 'params', taskType: type, params: { n: 1 } })).result);
    assert.equal(
      (await submit({ group: 'params', taskType: type, params: { n: 'x' } })).error?.code,
      -32602,
      'the new version is checked',
    );
    // A catastrophic pattern would take seconds on this input; the server leaves patterns to
    // the workers.
    const started = Date.now();
    const evil = await submit({
      group: 'params',
      taskType: type,
      params: { n: 1, s: `${'a'.repeat(40)}!` },
    });
    assert.ok(evil.result, 'patterns are checked by the workers, not here');
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
  });

  it('answers a resubmission under a used key with the first job, whatever the schema says now', async () => {
    const type = uniqueType();
    const group = 'params';
    const first = await submit({
      group,
      taskType: type,
      params: { n: 'x' },
      idempotencyKey: 'k1',
      allowUnknownType: true,
    });
    assert.ok(first.result?.created);
    await describeType(type, { type: 'object', properties: { n: { type: 'integer' } } });
    await sleep(2100);
    const again = await submit({ group, taskType: type, params: { n: 'x' }, idempotencyKey: 'k1' });
    assert.equal(again.result?.job.id, first.result.job.id);
    assert.equal(again.result.created, false);
  });

  it('refuses a task type no worker has offered, naming the nearest, unless allowed', async () => {
    const known = `${uniqueType('render')}.frame`;
    await describeType(known, { type: 'object', properties: {} });
    const misspelt = known.replace('.frame', '.frme');
    const before = await t.engine.listJobs({ group: 'unknown-types' });
    const refused = await submit({ group: 'unknown-types', taskType: misspelt });
    assert.equal(refused.error?.data?.code, 'DROVER_E_UNKNOWN_TASK_TYPE');
    assert.match(refused.error?.message ?? '', new RegExp(`did you mean "${known}"\\?`));
    assert.match(refused.error?.message ?? '', /allowUnknownType/);
    const inStage = await submit({
      group: 'unknown-types',
      taskType: known,
      then: [{ taskType: 'nobody.offers.this' }],
    });
    assert.equal(inStage.error?.data?.code, 'DROVER_E_UNKNOWN_TASK_TYPE');
    assert.match(inStage.error?.message ?? '', /^then\.0\.taskType: /);
    assert.deepEqual(
      await t.engine.listJobs({ group: 'unknown-types' }),
      before,
      'nothing was stored',
    );

    const allowed = await submit({
      group: 'unknown-types',
      taskType: misspelt,
      allowUnknownType: true,
    });
    assert.equal(allowed.result?.created, true);
    // Known at once: a worker that has just said hello is not waited for past the cache.
    const fresh = uniqueType('fresh');
    await describeType(fresh, { type: 'object', properties: {} });
    assert.equal((await submit({ group: 'unknown-types', taskType: fresh })).result?.created, true);
  });

  it('names a param the task type does not take, with the one probably meant', async () => {
    const type = uniqueType();
    await describeType(type, {
      type: 'object',
      properties: { message: { type: 'string' }, count: { type: 'integer' } },
      additionalProperties: false,
    });
    await sleep(2100);
    const bad = await submit({ group: 'params', taskType: type, params: { mesage: 'hi' } });
    assert.deepEqual(bad.error?.data?.details, [
      {
        path: 'params.mesage',
        message: `"mesage" is not a param of ${type}; did you mean "message"?`,
      },
    ]);
    const other = await submit({ group: 'params', taskType: type, params: { colour: 'red' } });
    assert.deepEqual(other.error?.data?.details, [
      {
        path: 'params.colour',
        message: `"colour" is not a param of ${type}; it takes count, message`,
      },
    ]);
  });

  it('refuses a worker describing a task type it does not offer', async () => {
    await assert.rejects(
      t.engine.registerWorker({
        name: uniqueType('w'),
        host: 'h',
        taskTypes: ['mine'],
        slots: 1,
        paramsSchemas: { theirs: { type: 'object' } },
      }),
      /only describe task types this worker offers/,
    );
  });
  it('gives framed tasks their frame, checked only where the type takes one', async () => {
    const still = uniqueType();
    const animated = uniqueType();
    const strict = { type: 'object', additionalProperties: false } as const;
    await describeType(still, { ...strict, properties: { size: { type: 'integer' } } });
    await describeType(animated, {
      ...strict,
      properties: { size: { type: 'integer' }, frame: { type: 'integer', maximum: 10 } },
    });
    await sleep(2100);
    const frames = { start: 1, end: 3 };
    const ignored = await submit({ group: 'params', taskType: still, params: { size: 2 }, frames });
    assert.equal(ignored.result?.created, true, JSON.stringify(ignored.error));
    const taken = await submit({ group: 'params', taskType: animated, frames });
    assert.equal(taken.result?.created, true, JSON.stringify(taken.error));
    const beyond = await submit({
      group: 'params',
      taskType: animated,
      frames: { start: 11, end: 12 },
    });
    assert.equal(beyond.error?.data?.code, 'DROVER_E_INVALID_PARAMS');
  });
});
