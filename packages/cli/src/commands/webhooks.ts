import { readFileSync } from 'node:fs';
import { DroverError } from '@drover/protocol';
import type { WebhookDelivery, WebhookRecord } from '@drover/protocol';
import type { Config } from '../config.js';
import { age, table } from '../format.js';
import { call } from '../rpc-client.js';
import type { Output } from './output.js';

const USAGE =
  'drover webhooks add --url URL --events job.failed,worker.offline [--group G] [--secret-file F] | webhooks ls | webhooks rm ID | webhooks test ID | webhooks deliveries ID | webhooks enable|disable ID';

export interface WebhookFlags {
  url: string | undefined;
  events: string | undefined;
  /** A group's name or `*`; every group when not given. */
  group: string | undefined;
  secretFile: string | undefined;
  limit: number;
}

/**
 * `drover webhooks add|ls|rm|test|deliveries|enable|disable`: the receivers told when jobs end
 * and workers are lost (an admin's token). `add` prints the secret once, for the receiver to
 * check signatures with; nothing shows it again.
 */
export async function webhooks(
  config: Config,
  output: Output,
  action: string | undefined,
  args: string[],
  flags: WebhookFlags,
): Promise<void> {
  switch (action) {
    case 'add': {
      if (!flags.url || !flags.events) throw new Error(`Usage: ${USAGE}`);
      const { webhook, secret } = await call(config, 'webhooks.add', {
        url: flags.url,
        events: flags.events
          .split(',')
          .map((e) => e.trim())
          .filter(Boolean),
        ...(flags.group !== undefined && { group: flags.group }),
        ...(flags.secretFile !== undefined && { secret: readSecret(flags.secretFile) }),
      });
      if (output.json) {
        console.log(JSON.stringify({ webhook, secret }, null, 2));
      } else {
        console.log(
          `added webhook ${webhook.id}: ${webhook.events.join(', ')} of ${groupText(webhook.group)} to ${webhook.url}`,
        );
        // A secret the caller gave is theirs already; one made here is shown this once.
        if (flags.secretFile === undefined)
          console.log(
            `secret (shown this once; the receiver checks Drover-Signature with it): ${secret}`,
          );
      }
      return;
    }
    case 'ls':
    case undefined: {
      const { webhooks: list } = await call(config, 'webhooks.list', {});
      console.log(output.json ? JSON.stringify(list, null, 2) : webhooksTable(list));
      return;
    }
    case 'rm': {
      const webhook = await call(config, 'webhooks.remove', { id: idOf(args) });
      console.log(output.json ? JSON.stringify(webhook, null, 2) : `removed webhook ${webhook.id}`);
      return;
    }
    case 'enable':
    case 'disable': {
      const webhook = await call(config, 'webhooks.update', {
        id: idOf(args),
        enabled: action === 'enable',
      });
      console.log(
        output.json ? JSON.stringify(webhook, null, 2) : `webhook ${webhook.id} ${action}d`,
      );
      return;
    }
    case 'test': {
      const delivery = await call(config, 'webhooks.test', { id: idOf(args) });
      if (output.json) {
        console.log(JSON.stringify(delivery, null, 2));
      } else {
        console.log(`ping ${delivery.id}: ${outcome(delivery)}`);
      }
      if (delivery.state !== 'delivered') process.exitCode = 1;
      return;
    }
    case 'deliveries': {
      const { deliveries } = await call(config, 'webhooks.deliveries', {
        id: idOf(args),
        limit: flags.limit,
      });
      console.log(output.json ? JSON.stringify(deliveries, null, 2) : deliveriesTable(deliveries));
      return;
    }
    default:
      throw new Error(`There is no webhooks ${action}. Usage: ${USAGE}`);
  }
}

function idOf(args: string[]): string {
  const id = args[0];
  if (!id) throw new Error(`Usage: ${USAGE}`);
  return id;
}

/** The secret: the first line of its file, never echoed. */
function readSecret(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new DroverError(
      'DROVER_E_INVALID_PARAMS',
      `Cannot read the webhook's secret file ${path}: ${(error as Error).message}`,
    );
  }
  return (text.split(/\r?\n/)[0] ?? '').trim();
}

function groupText(group: string): string {
  return group === '*' ? 'every group' : `group ${group}`;
}

function outcome(d: WebhookDelivery): string {
  const status = d.status === null ? 'no answer' : `HTTP ${d.status}`;
  if (d.state === 'delivered') return `delivered (${status}, try ${d.tries})`;
  if (d.state === 'failed') return `failed after ${d.tries} tries: ${d.error ?? status}`;
  return d.tries === 0
    ? 'waiting to be sent'
    : `not yet: ${d.error ?? status} (try ${d.tries}; next ${d.nextTryAt ?? 'soon'})`;
}

function webhooksTable(list: WebhookRecord[]): string {
  if (list.length === 0) return 'no webhooks';
  return table(
    ['ID', 'GROUP', 'EVENTS', 'URL', 'ENABLED', 'LAST DELIVERY'],
    list.map((w) => [
      w.id,
      w.group,
      w.events.join(','),
      w.url,
      w.enabled ? 'yes' : 'no',
      w.lastDelivery
        ? `${w.lastDelivery.state} ${w.lastDelivery.status ?? '-'} ${age(w.lastDelivery.at)}`
        : 'none',
    ]),
  );
}

function deliveriesTable(list: WebhookDelivery[]): string {
  if (list.length === 0) return 'no deliveries';
  return table(
    ['DELIVERY', 'EVENT', 'SUBJECT', 'STATE', 'TRIES', 'STATUS', 'CREATED', 'ERROR'],
    list.map((d) => [
      d.id,
      d.event,
      d.subject,
      d.state,
      String(d.tries),
      d.status === null ? '-' : String(d.status),
      age(d.createdAt),
      d.error ?? '',
    ]),
  );
}
