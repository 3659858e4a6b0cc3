import { useCallback, useEffect, useState } from 'react';
import type { FormEvent } from 'react';
import type { Role, TokenRecord } from '@drover/protocol';
import { useDrover } from '../../lib/drover.js';
import { formatAge } from '../../lib/format.js';
import { describeError } from '../../lib/retry.js';
import { useNow } from '../../lib/live.js';
import { describeAccess, parseGrant, tokenState } from './grant.js';
import type { GrantForm } from './grant.js';

const EMPTY: GrantForm = {
  name: '',
  role: 'member',
  groups: '',
  taskTypes: '',
  tags: '',
  expiresInDays: '',
};

/**
 * An admin's tokens: who holds one, what it may do, when it was last used; make one (its secret
 * is shown here once, and kept nowhere) or revoke one (its connections end at once).
 */
export function TokensView() {
  const client = useDrover();
  const [tokens, setTokens] = useState<TokenRecord[]>();
  const [error, setError] = useState<string>();
  const [form, setForm] = useState<GrantForm>(EMPTY);
  const [made, setMade] = useState<{ token: TokenRecord; secret: string }>();
  const [busy, setBusy] = useState(false);
  const now = useNow(10_000);

  const load = useCallback(() => {
    client.call('tokens.list', {}).then(
      ({ tokens }) => {
        setTokens(tokens);
        setError(undefined);
      },
      (reason: unknown) => setError(describeError(reason)),
    );
  }, [client]);
  useEffect(load, [load]);

  const create = (event: FormEvent) => {
    event.preventDefault();
    const grant = parseGrant(form);
    if (typeof grant === 'string') {
      setError(grant);
      return;
    }
    setBusy(true);
    client.call('tokens.create', grant).then(
      (result) => {
        setBusy(false);
        setMade(result);
        setForm(EMPTY);
        setError(undefined);
        load();
      },
      (reason: unknown) => {
        setBusy(false);
        setError(describeError(reason));
      },
    );
  };

  const revoke = (token: TokenRecord) => {
    if (!confirm(`Revoke "${token.name}" (${token.id})? Whatever signs in with it stops at once.`))
      return;
    client
      .call('tokens.revoke', { id: token.id })
      .then(load, (reason: unknown) => setError(describeError(reason)));
  };

  const update = (patch: Partial<GrantForm>) => setForm((f) => ({ ...f, ...patch }));
  return (
    <section className="view tokens">
      <h1>Tokens</h1>
      {made && (
        <div className="secret" role="status">
          <p>
            <strong>{made.token.name}</strong> ({describeAccess(made.token)}): copy the token now,
            it is shown only this once.
          </p>
          <code className="mono" data-secret>
            {made.secret}
          </code>
          <button className="small" type="button" onClick={() => setMade(undefined)}>
            Done
          </button>
        </div>
      )}
      <form className="token-form" onSubmit={create} aria-label="new token">
        <div className="row">
          <label className="field">
            <span className="field-label">Name</span>
            <input
              name="name"
              value={form.name}
              placeholder="who or what holds it"
              onChange={(e) => update({ name: e.target.value })}
            />
          </label>
          <label className="field">
            <span className="field-label">Role</span>
            <select
              name="role"
              value={form.role}
              onChange={(e) => update({ role: e.target.value as Role })}
            >
              <option value="member">member</option>
              <option value="worker">worker</option>
              <option value="admin">admin</option>
            </select>
          </label>
          {form.role === 'member' && (
            <label className="field">
              <span className="field-label">Groups</span>
              <input
                name="groups"
                value={form.groups}
                placeholder="renders:write, demo (read), * for all"
                onChange={(e) => update({ groups: e.target.value })}
              />
            </label>
          )}
          {form.role === 'worker' && (
            <>
              <label className="field">
                <span className="field-label">Task types</span>
                <input
                  name="taskTypes"
                  value={form.taskTypes}
                  placeholder="any"
                  onChange={(e) => update({ taskTypes: e.target.value })}
                />
              </label>
              <label className="field">
                <span className="field-label">Tags</span>
                <input
                  name="tags"
                  value={form.tags}
                  placeholder="any"
                  onChange={(e) => update({ tags: e.target.value })}
                />
              </label>
            </>
          )}
          <label className="field">
            <span className="field-label">Expires in days</span>
            <input
              name="expiresInDays"
              inputMode="numeric"
              className="narrow"
              value={form.expiresInDays}
              placeholder="never"
              onChange={(e) => update({ expiresInDays: e.target.value })}
            />
          </label>
          <div className="actions">
            <button className="primary" type="submit" disabled={busy}>
              {busy ? 'Making…' : 'Make a token'}
            </button>
          </div>
        </div>
      </form>
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
      {tokens === undefined ? (
        <p className="muted">Loading…</p>
      ) : (
        <table className="grid tokens-table" aria-label="tokens">
          <thead>
            <tr>
              <th>Name</th>
              <th>Id</th>
              <th>Access</th>
              <th className="num">Made</th>
              <th className="num">Last used</th>
              <th>State</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {tokens.map((token) => {
              const state = tokenState(token, now);
              return (
                <tr key={token.id} data-state={state}>
                  <td className="name">{token.name}</td>
                  <td className="mono small">{token.id}</td>
                  <td>{describeAccess(token)}</td>
                  <td className="num">{formatAge(token.createdAt, now)}</td>
                  <td className="num">
                    {token.lastUsedAt ? formatAge(token.lastUsedAt, now) : 'never'}
                  </td>
                  <td>{state}</td>
                  <td className="row-actions">
                    {state !== 'revoked' && (
                      <button className="small danger" type="button" onClick={() => revoke(token)}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
