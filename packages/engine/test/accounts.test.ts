import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TokenRecord, isDroverError } from '@drover/protocol';
import { hashSecret } from '../src/index.js';
import { backend, openTestEngine } from './harness.js';
import type { TestEngine } from './harness.js';

describe(`tokens, sessions and sign-in codes (${backend})`, () => {
  let t: TestEngine;
  before(async () => {
    t = await openTestEngine();
  });
  after(async () => {
    await t.close();
  });

  it('makes a random token, keeps only its hash, and signs in with it', async () => {
    const a = await t.engine.accounts.createToken({ name: 'alice', role: 'admin' });
    const b = await t.engine.accounts.createToken({ name: 'bob', role: 'admin' });
    assert.match(a.secret, /^drover_[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a.secret, b.secret);
    TokenRecord.parse(a.token);
    // Nothing in the database holds the secret; the hash is its sha256.
    const rows = await t.engine.database.query<{ dump: string; hash: string }>(
      `SELECT row_to_json(t)::text AS dump, encode(hash, 'hex') AS hash FROM tokens t WHERE id = $1`,
      [a.token.id],
    );
    assert.equal(rows[0]?.hash, hashSecret(a.secret));
    assert.ok(!rows[0]?.dump.includes(a.secret.slice(7)));
    const principal = await t.engine.accounts.authenticate(a.secret);
    assert.deepEqual(principal, {
      tokenId: a.token.id,
      name: 'alice',
      role: 'admin',
      groups: {},
      taskTypes: null,
      tags: null,
    });
    assert.equal(await t.engine.accounts.authenticate(`${a.secret}x`), undefined);
    const listed = await t.engine.accounts.listTokens();
    assert.ok(listed.some((token) => token.id === a.token.id && token.lastUsedAt !== null));
  });

  it('refuses grants that do not fit their role, storing nothing', async () => {
    const before = (await t.engine.accounts.listTokens()).length;
    for (const grant of [
      { name: 'm', role: 'member' },
      { name: 'm', role: 'member', groups: { 'bad group': 'read' } },
      { name: 'm', role: 'member', groups: { demo: 'admin' } },
      { name: 'a', role: 'admin', groups: { demo: 'write' } },
      { name: 'w', role: 'member', groups: { demo: 'read' }, taskTypes: ['x'] },
      { name: '', role: 'worker' },
      { name: 'x', role: 'root' },
    ]) {
      await assert.rejects(t.engine.accounts.createToken(grant), (error) =>
        isDroverError(error, 'DROVER_E_INVALID_PARAMS'),
      );
    }
    assert.equal((await t.engine.accounts.listTokens()).length, before);
  });

  it('stops a revoked or expired token, and ends its sessions and sign-in codes', async () => {
    const { token, secret } = await t.engine.accounts.createToken({
      name: 'carol',
      role: 'member',
      groups: { demo: 'write', '*': 'read' },
    });
    const session = await t.engine.accounts.createSession(token.id);
    const { code } = await t.engine.accounts.createLoginCode(token.id);
    assert.equal((await t.engine.accounts.sessionPrincipal(session))?.name, 'carol');
    const revoked = await t.engine.accounts.revokeToken(token.id);
    assert.notEqual(revoked.revokedAt, null);
    assert.equal(await t.engine.accounts.authenticate(secret), undefined);
    assert.equal(await t.engine.accounts.sessionPrincipal(session), undefined);
    assert.equal(await t.engine.accounts.redeemLoginCode(code), undefined);
    assert.equal((await t.engine.accounts.findToken(secret))?.valid, false);
    await assert.rejects(t.engine.accounts.revokeToken('tok_000000000000'), (error) =>
      isDroverError(error, 'DROVER_E_NOT_FOUND'),
    );

    const expiring = await t.engine.accounts.createToken({
      name: 'dave',
      role: 'worker',
      expiresInDays: 1,
    });
    assert.ok(await t.engine.accounts.authenticate(expiring.secret));
    await t.engine.database.query(
      `UPDATE tokens SET expires_at = now() - interval '1 second' WHERE id = $1`,
      [expiring.token.id],
    );
    assert.equal(await t.engine.accounts.authenticate(expiring.secret), undefined);
  });

  it('signs a browser in once per code, and out', async () => {
    const { token } = await t.engine.accounts.createToken({ name: 'erin', role: 'admin' });
    const { code } = await t.engine.accounts.createLoginCode(token.id);
    const first = await t.engine.accounts.redeemLoginCode(code);
    assert.equal(first?.principal.tokenId, token.id);
    assert.equal(await t.engine.accounts.redeemLoginCode(code), undefined, 'used once only');
    const session = first?.session ?? '';
    assert.equal((await t.engine.accounts.sessionPrincipal(session))?.name, 'erin');
    await t.engine.accounts.endSession(session);
    assert.equal(await t.engine.accounts.sessionPrincipal(session), undefined);

    const { code: late } = await t.engine.accounts.createLoginCode(token.id, 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(await t.engine.accounts.redeemLoginCode(late), undefined, 'expired');
  });

  it("finds the group of a job, its tasks and its artifacts, and nothing's for unknown ids", async () => {
    const { job } = await t.engine.submit({ group: 'grp-a', taskType: 'hello', params: {} });
    const [task] = await t.engine.listTasks(job.id);
    assert.equal(await t.engine.accounts.groupOf({ jobId: job.id }), 'grp-a');
    assert.equal(await t.engine.accounts.groupOf({ taskId: task?.id ?? '' }), 'grp-a');
    assert.equal(
      await t.engine.accounts.groupOf({ jobId: '00000000-0000-4000-8000-000000000000' }),
      undefined,
    );
    assert.equal(await t.engine.accounts.groupOf({ taskId: 'not a task' }), undefined);
    assert.equal(await t.engine.accounts.groupOf({ artifactId: 'x' }), undefined);
  });
});
