import { z } from 'zod';
import { DroverError } from './errors.js';
import { GroupName } from './ids.js';
import { JobRecord, WorkerRecord } from './records.js';

/**
 * What a webhook may be told of. A job's end is told by its status (`job.succeeded`,
 * `job.failed`, `job.cancelled`), in the `noun.verb` form of the farm's events; `worker.offline`
 * is a worker lost without being drained first (a drained worker leaving is expected).
 */
export const WEBHOOK_EVENTS = [
  'job.succeeded',
  'job.failed',
  'job.cancelled',
  'worker.offline',
] as const;
export const WebhookEvent = z.enum(WEBHOOK_EVENTS);
export type WebhookEvent = z.infer<typeof WebhookEvent>;

/** The event of the delivery `webhooks.test` sends: a receiver answers it as any other. */
export const WEBHOOK_PING = 'ping';

/** A webhook's id: `whk_` and 12 letters or digits. */
export const WebhookId = z
  .string()
  .regex(/^whk_[A-Za-z0-9]{12}$/, 'a webhook id is whk_ and 12 letters or digits');
export type WebhookId = z.infer<typeof WebhookId>;

/** A delivery's id: the receiver's key for telling a delivery sent again from a new one. */
export const WebhookDeliveryId = z.uuid();

/** The group a webhook hears of: a group's name, or `*` for every group. */
export const WEBHOOK_EVERY_GROUP = '*';

/** A webhook as listed: never its secret. */
export const WebhookRecord = z.object({
  id: WebhookId,
  /** A group's name, or `*`: every group's jobs. `worker.offline` is told whatever the group. */
  group: z.string(),
  url: z.string(),
  events: z.array(WebhookEvent),
  enabled: z.boolean(),
  createdAt: z.string(),
  createdBy: z.string().nullable(),
  /** The newest delivery's outcome, or null before the first. */
  lastDelivery: z
    .object({
      id: z.string(),
      event: z.string(),
      state: z.enum(['pending', 'delivered', 'failed']),
      /** The receiver's HTTP status, or null when it did not answer. */
      status: z.int().nullable(),
      at: z.string(),
    })
    .nullable(),
});
export type WebhookRecord = z.infer<typeof WebhookRecord>;

/**
 * One notification to one webhook, and how its sending went: `pending` while tries remain,
 * `delivered` once the receiver answered 2xx, `failed` after the last try or a refusal (4xx).
 */
export const WebhookDelivery = z.object({
  id: z.string(),
  webhookId: WebhookId,
  event: z.string(),
  /** The job's or worker's id. */
  subject: z.string(),
  state: z.enum(['pending', 'delivered', 'failed']),
  tries: z.int(),
  /** The receiver's last HTTP status, or null when it did not answer. */
  status: z.int().nullable(),
  /** Why the last try failed, or null. */
  error: z.string().nullable(),
  createdAt: z.string(),
  /** When it is tried next (pending), or null. */
  nextTryAt: z.string().nullable(),
  lastTryAt: z.string().nullable(),
});
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

/**
 * What is POSTed, as JSON: `data.job` (a job's record as it ended) for the job events,
 * `data.worker` for `worker.offline`, nothing for a `ping`.
 */
export const WebhookPayload = z.object({
  /** The delivery's id, also in the `Drover-Delivery` header: the same on every try. */
  id: z.string(),
  event: z.string(),
  /** When the event happened. */
  at: z.string(),
  data: z.object({ job: JobRecord.optional(), worker: WorkerRecord.optional() }),
});
export type WebhookPayload = z.infer<typeof WebhookPayload>;

// Params are taken loosely and judged by `checkWebhook`, which names each mistake with its own
// code (a URL that is not http(s), an event no webhook hears, a group that cannot be one).
const Secret = z
  .string()
  .min(16, 'a secret is 16 to 200 characters')
  .max(200, 'a secret is 16 to 200 characters');

export const WebhookAdd = z.object({
  /** A group's name or `*`. @defaultValue `*` */
  group: z.string().max(200).optional(),
  url: z.string().max(2000),
  events: z.array(z.string().max(100)).min(1).max(10),
  /** Made for you (and answered once) when not given. */
  secret: Secret.optional(),
  /** @defaultValue true */
  enabled: z.boolean().optional(),
});
export type WebhookAdd = z.infer<typeof WebhookAdd>;

export const WebhookUpdate = z.object({
  id: WebhookId,
  url: z.string().max(2000).optional(),
  events: z.array(z.string().max(100)).min(1).max(10).optional(),
  enabled: z.boolean().optional(),
});
export type WebhookUpdate = z.infer<typeof WebhookUpdate>;

/** Refuses a URL a webhook cannot call: only `http://` and `https://`, with a host, no user. */
export function checkWebhookUrl(value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    throw new DroverError(
      'DROVER_E_WEBHOOK_URL',
      `${JSON.stringify(value.slice(0, 200))} is not a URL a webhook can call: give an http:// or https:// URL, such as https://hooks.example.org/drover.`,
      { details: [{ path: 'url', message: 'an http:// or https:// URL' }] },
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new DroverError(
      'DROVER_E_WEBHOOK_URL',
      'A webhook URL carries no user or password: the receiver checks the Drover-Signature header instead.',
      { details: [{ path: 'url', message: 'no user or password' }] },
    );
  }
  return url.href;
}

/** Refuses an event no webhook hears, naming those it may. */
export function checkWebhookEvents(events: readonly string[]): WebhookEvent[] {
  const unknown = events.filter((event) => !(WEBHOOK_EVENTS as readonly string[]).includes(event));
  if (unknown.length > 0) {
    throw new DroverError(
      'DROVER_E_WEBHOOK_EVENT',
      `No webhook hears ${unknown.map((e) => JSON.stringify(e)).join(', ')}: the events are ${WEBHOOK_EVENTS.join(', ')}.`,
      { details: [{ path: 'events', message: `one of ${WEBHOOK_EVENTS.join(', ')}` }] },
    );
  }
  return [...new Set(events)] as WebhookEvent[];
}

/** Refuses a group that cannot be one: a group's name, or `*` for every group. */
export function checkWebhookGroup(group: string | undefined): string {
  const value = group ?? WEBHOOK_EVERY_GROUP;
  if (value === WEBHOOK_EVERY_GROUP || GroupName.safeParse(value).success) return value;
  throw new DroverError(
    'DROVER_E_WEBHOOK_GROUP',
    `${JSON.stringify(value.slice(0, 100))} is not a group: give a group's name (letters, digits, ".", "_", ":" or "-", starting with a letter or digit) or * for every group.`,
    { details: [{ path: 'group', message: "a group's name or *" }] },
  );
}

/** The value of the `Drover-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256>`. */
export function webhookSignatureHeader(unixSeconds: number, hexDigest: string): string {
  return `t=${unixSeconds},v1=${hexDigest}`;
}

/** What is signed: the timestamp, a dot, and the body exactly as sent. */
export function webhookSignedText(unixSeconds: number, body: string): string {
  return `${unixSeconds}.${body}`;
}
