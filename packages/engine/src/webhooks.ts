import { randomBytes } from 'node:crypto';
import {
  DroverError,
  WEBHOOK_PING,
  WebhookAdd,
  WebhookId,
  WebhookUpdate,
  checkWebhookEvents,
  checkWebhookGroup,
  checkWebhookUrl,
  parseOrThrow,
} from '@drover/protocol';
import type { WebhookDelivery, WebhookRecord } from '@drover/protocol';
import type { Database } from './database.js';
import type { Statements } from './statements.js';

/** One delivery a server took to try: with its webhook's URL and secret, never sent elsewhere. */
export interface DueDelivery {
  id: string;
  event: string;
  /** `{ job }` or `{ worker }`: the record as it was when the event happened. */
  data: Record<string, unknown>;
  /** When the event happened, ISO 8601. */
  at: string;
  /** Which try this is: 1 for the first. */
  tries: number;
  url: string;
  secret: string;
}

/** What a try came to: `pending` is tried again after `retryInMs`. */
export interface DeliveryOutcome {
  state: 'pending' | 'delivered' | 'failed';
  status: number | null;
  error: string | null;
  retryInMs?: number;
}

/** The most webhooks a farm keeps: each event costs a row per webhook that hears it. */
export const MAX_WEBHOOKS = 100;

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function newWebhookId(): string {
  // Bytes past 247 are drawn again, so every letter is as likely.
  let id = '';
  while (id.length < 12) {
    for (const byte of randomBytes(16)) {
      if (byte < 248 && id.length < 12) id += ALPHANUMERIC[byte % 62];
    }
  }
  return `whk_${id}`;
}

/** A new webhook's secret when none is given: `whsec_` and 256 random bits. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

function notFound(id: string): DroverError {
  return new DroverError(
    'DROVER_E_WEBHOOK_NOT_FOUND',
    `There is no webhook ${id}: list them with drover webhooks ls.`,
  );
}

/**
 * The farm's webhooks and their outbox (migration 0019): what admins manage and what each
 * server's deliverer takes and settles. Secrets are read only by `claimDue`, for the server's
 * own signing; no record carries them.
 */
export class Webhooks {
  readonly #db: Database;
  readonly #sql: Statements;

  constructor(db: Database, sql: Statements) {
    this.#db = db;
    this.#sql = sql;
  }

  /** Stores a webhook; answers it with its secret (made here when not given), the only time. */
  async add(
    input: unknown,
    createdBy: string | null = null,
  ): Promise<{ webhook: WebhookRecord; secret: string }> {
    const add = parseOrThrow(WebhookAdd, input, 'webhook');
    const group = checkWebhookGroup(add.group);
    const url = checkWebhookUrl(add.url);
    const events = checkWebhookEvents(add.events);
    const secret = add.secret ?? newWebhookSecret();
    const rows = await this.#db.transaction(async (tx) => {
      // One adder at a time counts against the limit.
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['drover.webhooks.add']);
      const [count] = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM webhooks');
      if ((count?.n ?? 0) >= MAX_WEBHOOKS) {
        throw new DroverError(
          'DROVER_E_WEBHOOK_LIMIT',
          `This farm has ${MAX_WEBHOOKS} webhooks, as many as it keeps: remove one first.`,
        );
      }
      return tx.query<{ webhook: WebhookRecord }>(
        `INSERT INTO webhooks (id, group_name, url, secret, events, enabled, created_by)
         VALUES ($1, $2, $3, $4, $5::text[], $6, $7) RETURNING webhook_json(webhooks) AS webhook`,
        [newWebhookId(), group, url, secret, events, add.enabled ?? true, createdBy],
      );
    });
    const webhook = rows[0]?.webhook;
    if (!webhook) throw new Error('INSERT ... RETURNING answered no row');
    return { webhook, secret };
  }

  async list(): Promise<WebhookRecord[]> {
    const rows = await this.#db.query<{ webhook: WebhookRecord }>(
      'SELECT webhook_json(h) AS webhook FROM webhooks h ORDER BY h.created_at, h.id',
    );
    return rows.map((row) => row.webhook);
  }

  async get(id: string): Promise<WebhookRecord> {
    parseOrThrow(WebhookId, id, 'id');
    const [row] = await this.#db.query<{ webhook: WebhookRecord }>(
      'SELECT webhook_json(h) AS webhook FROM webhooks h WHERE h.id = $1',
      [id],
    );
    if (!row) throw notFound(id);
    return row.webhook;
  }

  /** Changes a webhook's URL, events or enabled flag; what is not given stays. */
  async update(input: unknown): Promise<WebhookRecord> {
    const change = parseOrThrow(WebhookUpdate, input, 'webhook');
    const url = change.url === undefined ? null : checkWebhookUrl(change.url);
    const events = change.events === undefined ? null : checkWebhookEvents(change.events);
    const [row] = await this.#db.query<{ webhook: WebhookRecord }>(
      `UPDATE webhooks SET url = coalesce($2, url), events = coalesce($3::text[], events),
         enabled = coalesce($4, enabled)
       WHERE id = $1 RETURNING webhook_json(webhooks) AS webhook`,
      [change.id, url, events, change.enabled ?? null],
    );
    if (!row) throw notFound(change.id);
    return row.webhook;
  }

  /** Removes a webhook with its deliveries: those still pending are never sent. */
  async remove(id: string): Promise<WebhookRecord> {
    const webhook = await this.get(id);
    const rows = await this.#db.query('DELETE FROM webhooks WHERE id = $1 RETURNING id', [id]);
    if (rows.length === 0) throw notFound(id);
    return webhook;
  }

  /** Queues a `ping` to the webhook, enabled or not; answers the delivery's id. */
  async ping(id: string): Promise<string> {
    parseOrThrow(WebhookId, id, 'id');
    const [row] = await this.#db.query<{ id: string }>(
      `INSERT INTO webhook_deliveries (webhook_id, event, subject, data)
       SELECT h.id, $2, h.id, '{}'::jsonb FROM webhooks h WHERE h.id = $1
       RETURNING id::text AS id`,
      [id, WEBHOOK_PING],
    );
    if (!row) throw notFound(id);
    await this.#db.query(`SELECT pg_notify(current_schema() || '_events', 'webhooks')`);
    return row.id;
  }

  async delivery(id: string): Promise<WebhookDelivery | undefined> {
    const [row] = await this.#db.query<{ delivery: WebhookDelivery }>(
      'SELECT webhook_delivery_json(d) AS delivery FROM webhook_deliveries d WHERE d.id = $1::uuid',
      [id],
    );
    return row?.delivery;
  }

  /** A webhook's deliveries, newest first. */
  async deliveries(id: string, limit = 100): Promise<WebhookDelivery[]> {
    await this.get(id);
    const rows = await this.#db.query<{ delivery: WebhookDelivery }>(
      `SELECT webhook_delivery_json(d) AS delivery FROM webhook_deliveries d
       WHERE d.webhook_id = $1 ORDER BY d.created_at DESC, d.id LIMIT $2`,
      [id, Math.min(Math.max(limit, 1), 1000)],
    );
    return rows.map((row) => row.delivery);
  }

  // What each server's deliverer does.

  /** Takes up to `limit` due deliveries for this server, each leased for `leaseMs`. */
  async claimDue(limit: number, leaseMs: number): Promise<DueDelivery[]> {
    const rows = await this.#db.query<DueDelivery & { at: Date | string }>(
      this.#sql.get('claim-webhook-deliveries'),
      [limit, leaseMs],
    );
    return rows.map((row) => ({ ...row, at: new Date(row.at).toISOString() }));
  }

  /** Records a try's outcome; a try whose lease ran out (taken again since) changes nothing. */
  async settle(
    delivery: DueDelivery,
    outcome: DeliveryOutcome,
  ): Promise<WebhookDelivery | undefined> {
    const [row] = await this.#db.query<{ delivery: WebhookDelivery }>(
      this.#sql.get('finish-webhook-delivery'),
      [
        delivery.id,
        delivery.tries,
        outcome.state,
        outcome.status,
        outcome.error === null ? null : outcome.error.slice(0, 500),
        Math.max(0, Math.round(outcome.retryInMs ?? 0)),
      ],
    );
    return row?.delivery;
  }

  /** The earliest time a pending delivery is due, or undefined when none is pending. */
  async nextDue(): Promise<Date | undefined> {
    const [row] = await this.#db.query<{ at: Date | string | null }>(
      `SELECT min(due_at) AS at FROM webhook_deliveries WHERE state = 'pending'`,
    );
    return row?.at ? new Date(row.at) : undefined;
  }

  /** Forgets deliveries that ended more than `keepMs` ago; answers how many. */
  async prune(keepMs: number): Promise<number> {
    const rows = await this.#db.query(
      `DELETE FROM webhook_deliveries WHERE state <> 'pending'
         AND finished_at < now() - $1 * interval '1 millisecond' RETURNING 1`,
      [keepMs],
    );
    return rows.length;
  }
}
