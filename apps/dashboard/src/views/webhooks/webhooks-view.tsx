import { useCallback, useEffect, useState } from 'react';
import type { FormEvent } from 'react';
import { WEBHOOK_EVENTS } from '@drover/protocol';
import type { WebhookDelivery, WebhookEvent, WebhookRecord } from '@drover/protocol';
import { useDrover } from '../../lib/drover.js';
import { formatAge } from '../../lib/format.js';
import { describeError } from '../../lib/retry.js';
import { useNow } from '../../lib/live.js';

interface HookForm {
  url: string;
  group: string;
  events: WebhookEvent[];
}

const EMPTY: HookForm = { url: '', group: '', events: ['job.failed'] };

/** What the newest delivery came to, in a few words. */
function lastDeliveryText(hook: WebhookRecord): string {
  const last = hook.lastDelivery;
  if (!last) return 'none yet';
  const status = last.status === null ? 'no answer' : String(last.status);
  return `${last.state} · ${status}`;
}

/**
 * An admin's webhooks: where the farm POSTs when jobs end or workers are lost, with the newest
 * delivery's outcome; add one (a secret is made and shown here once), send a test ping, remove.
 */
export function WebhooksView() {
  const client = useDrover();
  const [hooks, setHooks] = useState<WebhookRecord[]>();
  const [error, setError] = useState<string>();
  const [form, setForm] = useState<HookForm>(EMPTY);
  const [made, setMade] = useState<{ webhook: WebhookRecord; secret: string }>();
  const [tested, setTested] = useState<Record<string, WebhookDelivery>>({});
  const [busy, setBusy] = useState(false);
  const now = useNow(10_000);

  const load = useCallback(() => {
    client.call('webhooks.list', {}).then(
      ({ webhooks }) => {
        setHooks(webhooks);
        setError(undefined);
      },
      (reason: unknown) => setError(describeError(reason)),
    );
  }, [client]);
  useEffect(load, [load]);

  const add = (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    const group = form.group.trim();
    client
      .call('webhooks.add', {
        url: form.url.trim(),
        events: form.events,
        ...(group !== '' && { group }),
      })
      .then(
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

  const test = (hook: WebhookRecord) => {
    client.call('webhooks.test', { id: hook.id }).then(
      (delivery) => {
        setTested((t) => ({ ...t, [hook.id]: delivery }));
        load();
      },
      (reason: unknown) => setError(describeError(reason)),
    );
  };

  const remove = (hook: WebhookRecord) => {
    if (!confirm(`Remove the webhook to ${hook.url}? Its pending deliveries are never sent.`))
      return;
    client
      .call('webhooks.remove', { id: hook.id })
      .then(load, (reason: unknown) => setError(describeError(reason)));
  };

  const toggle = (name: WebhookEvent, on: boolean) =>
    setForm((f) => ({
      ...f,
      events: on ? [...f.events, name] : f.events.filter((e) => e !== name),
    }));

  return (
    <section className="view webhooks">
      <h1>Webhooks</h1>
      <p className="muted">
        The server POSTs to these URLs itself, signed with each webhook&apos;s secret
        (Drover-Signature): give URLs it may reach.
      </p>
      {made && (
        <div className="secret" role="status">
          <p>
            Webhook <strong>{made.webhook.id}</strong> to {made.webhook.url}: copy its secret now,
            it is shown only this once. The receiver checks signatures with it.
          </p>
          <code className="mono" data-secret>
            {made.secret}
          </code>
          <button className="small" type="button" onClick={() => setMade(undefined)}>
            Done
          </button>
        </div>
      )}
      <form className="token-form" onSubmit={add} aria-label="new webhook">
        <div className="row">
          <label className="field">
            <span className="field-label">URL</span>
            <input
              name="url"
              style={{ width: '26em' }}
              value={form.url}
              placeholder="https://hooks.example.org/drover"
              onChange={(e) => setForm((f) => ({ ...f, url: e.target.value }))}
            />
          </label>
          <label className="field">
            <span className="field-label">Group</span>
            <input
              name="group"
              value={form.group}
              placeholder="every group"
              onChange={(e) => setForm((f) => ({ ...f, group: e.target.value }))}
            />
          </label>
          <fieldset className="field" style={{ border: 'none', padding: 0, margin: 0 }}>
            <span className="field-label">Events</span>
            <span style={{ display: 'flex', gap: '12px', alignItems: 'center', minHeight: '30px' }}>
              {WEBHOOK_EVENTS.map((name) => (
                <label key={name}>
                  <input
                    type="checkbox"
                    name={name}
                    checked={form.events.includes(name)}
                    onChange={(e) => toggle(name, e.target.checked)}
                  />{' '}
                  {name}
                </label>
              ))}
            </span>
          </fieldset>
          <div className="actions">
            <button className="primary" type="submit" disabled={busy || form.events.length === 0}>
              {busy ? 'Adding…' : 'Add webhook'}
            </button>
          </div>
        </div>
      </form>
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
      {hooks === undefined ? (
        <p className="muted">Loading…</p>
      ) : hooks.length === 0 ? (
        <p className="empty">No webhooks yet.</p>
      ) : (
        <table className="grid webhooks-table" aria-label="webhooks">
          <thead>
            <tr>
              <th>URL</th>
              <th>Group</th>
              <th>Events</th>
              <th>Enabled</th>
              <th>Last delivery</th>
              <th className="num">Made</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {hooks.map((hook) => (
              <tr
                key={hook.id}
                data-webhook-id={hook.id}
                data-last-status={hook.lastDelivery?.status ?? ''}
              >
                <td className="mono small">{hook.url}</td>
                <td>{hook.group === '*' ? 'every group' : hook.group}</td>
                <td>{hook.events.join(', ')}</td>
                <td>{hook.enabled ? 'yes' : 'no'}</td>
                <td className="last-delivery" title={tested[hook.id]?.error ?? undefined}>
                  {lastDeliveryText(hook)}
                  {hook.lastDelivery && (
                    <span className="muted"> · {formatAge(hook.lastDelivery.at, now)}</span>
                  )}
                </td>
                <td className="num">{formatAge(hook.createdAt, now)}</td>
                <td className="row-actions">
                  <button className="small" type="button" onClick={() => test(hook)}>
                    Send test
                  </button>{' '}
                  <button className="small danger" type="button" onClick={() => remove(hook)}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
