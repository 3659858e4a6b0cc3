import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DroverError,
  JobSubmission,
  RpcCode,
  RpcRequest,
  Topic,
  errorCatalogue,
  parseOrThrow,
  stageTaskCount,
  topics,
} from './index.js';

describe('job submission', () => {
  it('counts the tasks a stage expands into', () => {
    assert.equal(stageTaskCount({}), 1);
    assert.equal(stageTaskCount({ items: [{}, {}, {}] }), 3);
    assert.equal(stageTaskCount({ frames: { start: 1, end: 10, step: 3 } }), 4);
    assert.equal(stageTaskCount({ frames: { start: -5, end: 5, step: 1 } }), 11);
  });

  it('fills in the defaults a user leaves out', () => {
    const parsed = JobSubmission.parse({
      group: 'alice',
      taskType: 'render',
      frames: { start: 1, end: 3 },
    });
    assert.deepEqual(parsed.params, {});
    assert.equal(parsed.frames?.step, 1);
  });

  it('lists every field at fault at once, with where it is', () => {
    try {
      parseOrThrow(
        JobSubmission,
        { group: '', taskType: 'ok', maxAttempts: 0, then: [{ taskType: 'bad name!' }] },
        'job submission',
      );
      assert.fail('expected an error');
    } catch (error) {
      assert.ok(error instanceof DroverError);
      assert.equal(error.code, 'DROVER_E_INVALID_PARAMS');
      const paths = (error.details as { path: string }[]).map((d) => d.path).sort();
      assert.deepEqual(paths, ['group', 'maxAttempts', 'then.0.taskType']);
      assert.match(error.message, /^Invalid job submission: /);
    }
  });

  it('counts all stages against the task limit', () => {
    const stage = { taskType: 't', frames: { start: 1, end: 600_000 } };
    assert.equal(JobSubmission.safeParse({ group: 'g', ...stage }).success, true);
    assert.equal(JobSubmission.safeParse({ group: 'g', ...stage, then: [stage] }).success, false);
  });
});

describe('error catalogue', () => {
  it("gives each code its own JSON-RPC number, in the spec range or Drover's", () => {
    const numbers = Object.values(errorCatalogue).map((entry) => entry.rpc);
    assert.equal(new Set(numbers).size, numbers.length);
    const spec = new Set<number>(Object.values(RpcCode));
    for (const [code, entry] of Object.entries(errorCatalogue)) {
      assert.match(code, /^DROVER_E_[A-Z_]+$/);
      assert.ok(
        spec.has(entry.rpc) || (entry.rpc <= -32000 && entry.rpc >= -32099),
        `${code}: ${entry.rpc}`,
      );
      assert.ok(entry.message.endsWith('.'), `${code} says what to do in a sentence`);
    }
  });

  it('turns an error into a JSON-RPC error object with its stable code and keeps the cause', () => {
    const cause = new Error('connection refused');
    const error = new DroverError('DROVER_E_DATABASE_UNAVAILABLE', undefined, {
      cause,
      details: { host: 'db' },
    });
    assert.equal(error.cause, cause);
    assert.deepEqual(error.toRpcError(), {
      code: -32011,
      message: errorCatalogue.DROVER_E_DATABASE_UNAVAILABLE.message,
      data: { code: 'DROVER_E_DATABASE_UNAVAILABLE', retryable: true, details: { host: 'db' } },
    });
  });
});

describe('topics and the JSON-RPC envelope', () => {
  it('accepts the topics a subscriber may read, and nothing else', () => {
    for (const topic of [
      topics.groupJobs('alice'),
      topics.job('5f7c1b5e-0000-4000-8000-000000000000'),
      topics.taskLog('42'),
      topics.workers,
      topics.refusals,
    ]) {
      assert.equal(Topic.safeParse(topic).success, true, topic);
    }
    for (const topic of ['jobs/', 'job/42', 'task/abc/log', 'everything', 'jobs/a/b']) {
      assert.equal(Topic.safeParse(topic).success, false, topic);
    }
  });

  it('tells requests from notifications and rejects what is not JSON-RPC 2.0', () => {
    assert.equal(
      RpcRequest.parse({ jsonrpc: '2.0', method: 'jobs.get', params: { id: 'x' }, id: 1 }).id,
      1,
    );
    assert.equal(RpcRequest.parse({ jsonrpc: '2.0', method: 'workers.heartbeat' }).id, undefined);
    assert.equal(RpcRequest.safeParse({ jsonrpc: '1.0', method: 'x', id: 1 }).success, false);
    assert.equal(
      RpcRequest.safeParse({ jsonrpc: '2.0', method: 'x', params: 'scalar', id: 1 }).success,
      false,
    );
  });
});
