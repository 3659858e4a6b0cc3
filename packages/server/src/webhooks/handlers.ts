import { DroverError } from '@drover/protocol';
import type { MethodResult, methods } from '@drover/protocol';
import type { Engine } from '@drover/engine';
import type { z } from 'zod';
import type { WebhookDeliverer } from './deliverer.js';

type WebhookMethod =
  | 'webhooks.add'
  | 'webhooks.list'
  | 'webhooks.update'
  | 'webhooks.remove'
  | 'webhooks.test'
  | 'webhooks.deliveries';

export type WebhookHandlers = {
  [M in WebhookMethod]: (
    params: z.output<(typeof methods)[M]['params']>,
  ) => Promise<MethodResult<M>>;
};

/** `webhooks.*`: admins' methods (see authorize.ts). */
export function webhookHandlers(
  engine: Engine,
  deliverer: WebhookDeliverer,
  options: {
    testWaitMs: number;
    /** The token signed in on the connection, recorded as a webhook's creator. */
    caller: () => string | undefined;
  },
): WebhookHandlers {
  return {
    'webhooks.add': (params) => engine.webhooks.add(params, options.caller() ?? null),
    'webhooks.list': async () => ({ webhooks: await engine.webhooks.list() }),
    'webhooks.update': (params) => engine.webhooks.update(params),
    'webhooks.remove': ({ id }) => engine.webhooks.remove(id),
    'webhooks.deliveries': async ({ id, limit }) => ({
      deliveries: await engine.webhooks.deliveries(id, limit),
    }),
    'webhooks.test': async ({ id }) => {
      const deliveryId = await engine.webhooks.ping(id);
      deliverer.wake();
      // Whichever server took it, its first try is recorded in the delivery's row.
      const deadline = Date.now() + options.testWaitMs;
      for (;;) {
        const delivery = await engine.webhooks.delivery(deliveryId);
        if (!delivery) {
          throw new DroverError('DROVER_E_WEBHOOK_NOT_FOUND', `The webhook ${id} was removed.`);
        }
        const tried =
          delivery.state !== 'pending' || delivery.status !== null || delivery.error !== null;
        if (tried || Date.now() > deadline) return delivery;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}
