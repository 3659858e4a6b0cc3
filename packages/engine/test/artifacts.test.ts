import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ArtifactRecord, DroverError } from '@drover/protocol';
import type { Assignment, EventRecord } from '@drover/protocol';
import { backend, claimFresh, openTestEngine, readEventsUntil, sleep } from './harness.js';
import type { TestEngine } from './harness.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

const isCode = (code: string) => (error: unknown) =>
  error instanceof DroverError && error.code === code;

describe(`artifacts (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  const claim = (items = 1): Promise<Assignment[]> => claimFresh(t.engine, items, 'artifacts');

  const file = (a: Assignment, name: string, text: string, contentType = 'text/plain') => ({
    attemptId: a.attemptId,
    token: a.token,
    name,
    contentType,
    size: Buffer.byteLength(text),
    sha256: sha(text),
  });

  async function refusals(): Promise<EventRecord[]> {
    return (await t.engine.readEvents({ topic: 'refusals', after: '', limit: 10_000 })).events;
  }

  it("records a file for the active attempt, readable by id, by job and by task, and tells the job's topic", async () => {
    const [a] = await claim();
    assert.ok(a);
    const scope = await t.engine.authorizeArtifact(a);
    assert.deepEqual(scope, {
      attemptId: a.attemptId,
      taskId: a.task.id,
      jobId: a.task.jobId,
      attempt: 1,
    });
    const { artifact, created } = await t.engine.recordArtifact(file(a, 'frames/0001.txt', 'one'));
    assert.equal(created, true);
    ArtifactRecord.parse(artifact);
    assert.deepEqual(
      { ...artifact, id: '', createdAt: '' },
      {
        id: '',
        jobId: a.task.jobId,
        taskId: a.task.id,
        attemptId: a.attemptId,
        attempt: 1,
        name: 'frames/0001.txt',
        contentType: 'text/plain',
        size: 3,
        sha256: sha('one'),
        createdAt: '',
      },
    );
    const second = (await t.engine.recordArtifact(file(a, 'b.txt', 'two'))).artifact;
    assert.deepEqual(await t.engine.getArtifact(artifact.id), artifact);
    assert.deepEqual(await t.engine.listArtifacts({ jobId: a.task.jobId }), [artifact, second]);
    assert.deepEqual(await t.engine.listArtifacts({ taskId: a.task.id }), [artifact, second]);
    assert.deepEqual(
      await t.engine.listArtifacts({ jobId: a.task.jobId, after: artifact.id, limit: 1 }),
      [second],
    );
    assert.deepEqual(await t.engine.listArtifacts({ jobId: a.task.jobId, limit: 1 }), [artifact]);
    const events = await readEventsUntil(
      t.engine,
      `job/${a.task.jobId}`,
      (e) => e.filter((x) => x.kind === 'artifact.added').length >= 2,
    );
    assert.deepEqual(
      events.filter((e) => e.kind === 'artifact.added').map((e) => [e.subject, e.data]),
      [
        [artifact.id, artifact],
        [second.id, second],
      ],
    );
  });

  it('returns the first record when the same file comes again, and refuses other content under its name', async () => {
    const [a] = await claim();
    assert.ok(a);
    const first = await t.engine.recordArtifact(file(a, 'out.txt', 'same'));
    const again = await t.engine.recordArtifact(file(a, 'out.txt', 'same'));
    assert.equal(again.created, false);
    assert.deepEqual(again.artifact, first.artifact);
    await assert.rejects(
      t.engine.recordArtifact(file(a, 'out.txt', 'different')),
      isCode('DROVER_E_ARTIFACT_EXISTS'),
    );
    assert.equal((await t.engine.listArtifacts({ taskId: a.task.id })).length, 1);
  });

  it('refuses and records a stale or forged lease, recording nothing', async () => {
    const [a, b] = await claim(2);
    assert.ok(a && b);
    const seen = (await refusals()).length;
    const forged = { ...a, token: '00000000-0000-4000-8000-000000000000' };
    await assert.rejects(t.engine.authorizeArtifact(forged), isCode('DROVER_E_STALE_LEASE'));
    await assert.rejects(
      t.engine.recordArtifact(file(forged, 'x.txt', 'x')),
      isCode('DROVER_E_STALE_LEASE'),
    );
    // Another attempt's lease is worth nothing for this one.
    await assert.rejects(
      t.engine.recordArtifact({ ...file(a, 'x.txt', 'x'), token: b.token }),
      isCode('DROVER_E_STALE_LEASE'),
    );
    await t.engine.complete([{ ...a, result: null }]);
    await assert.rejects(t.engine.authorizeArtifact(a), isCode('DROVER_E_STALE_LEASE'));
    await assert.rejects(
      t.engine.recordArtifact(file(a, 'late.txt', 'late')),
      isCode('DROVER_E_STALE_LEASE'),
    );
    assert.deepEqual(await t.engine.listArtifacts({ taskId: a.task.id }), []);
    const refused = await readEventsUntil(t.engine, 'refusals', (e) => e.length >= seen + 5);
    assert.deepEqual(
      refused.slice(seen).map((e) => [e.kind, (e.data as { report: string }).report]),
      Array.from({ length: 5 }, () => ['report.refused', 'artifact']),
    );
  });

  it('rejects malformed input and unknown ids clearly', async () => {
    const [a] = await claim();
    assert.ok(a);
    for (const bad of [
      file(a, '../escape', 'x'),
      file(a, '/abs', 'x'),
      file(a, 'a//b', 'x'),
      file(a, 'back\\slash', 'x'),
      file(a, 'ok.txt', 'x', 'not a type'),
      { ...file(a, 'ok.txt', 'x'), sha256: 'abc' },
      { ...file(a, 'ok.txt', 'x'), size: -1 },
    ]) {
      await assert.rejects(t.engine.recordArtifact(bad), isCode('DROVER_E_INVALID_PARAMS'));
    }
    await assert.rejects(t.engine.getArtifact('nope'), isCode('DROVER_E_INVALID_PARAMS'));
    await assert.rejects(
      t.engine.getArtifact('00000000-0000-4000-8000-000000000000'),
      isCode('DROVER_E_NOT_FOUND'),
    );
    assert.deepEqual(
      await t.engine.listArtifacts({
        jobId: a.task.jobId,
        after: '00000000-0000-4000-8000-000000000000',
      }),
      [],
      'an unknown page start gives nothing rather than starting over',
    );
    assert.deepEqual(await t.engine.listArtifacts({ taskId: a.task.id }), []);
  });

  it("deletes a job's artifact records with the job, and reports a blob unreferenced only when no artifact is left on it", async () => {
    const [old, keep] = await claim(2);
    const [other] = await claim();
    assert.ok(old && keep && other);
    const shared = await t.engine.recordArtifact(file(old, 'shared.txt', 'shared bytes'));
    const only = await t.engine.recordArtifact(file(old, 'only.txt', 'only bytes'));
    await t.engine.complete([old, keep].map((a) => ({ ...a, result: null })));
    // The same bytes, stored by an unfinished job: their blob must outlive the first job.
    await t.engine.recordArtifact(file(other, 'copy.txt', 'shared bytes'));
    await sleep(300);
    assert.equal(await t.engine.applyRetention({ finishedJobsMs: 200 }), 1);
    assert.deepEqual(await t.engine.listArtifacts({ jobId: old.task.jobId }), []);
    await assert.rejects(t.engine.getArtifact(only.artifact.id), isCode('DROVER_E_NOT_FOUND'));
    await assert.rejects(t.engine.getArtifact(shared.artifact.id), isCode('DROVER_E_NOT_FOUND'));
    assert.deepEqual(
      (
        await t.engine.unreferencedBlobs([sha('shared bytes'), sha('only bytes'), sha('never')])
      ).sort(),
      [sha('only bytes'), sha('never')].sort(),
    );
    assert.deepEqual(await t.engine.unreferencedBlobs([]), []);
  });
});
