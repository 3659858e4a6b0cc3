import { createHmac, timingSafeEqual } from 'node:crypto';
import { webhookSignatureHeader, webhookSignedText } from '@drover/protocol';

/**
 * The `Drover-Signature` header of a body sent at `unixSeconds`: HMAC-SHA256 with the webhook's
 * secret over `<t>.<body>`, hex. The receiver computes the same and compares (see
 * docs/operations/webhooks.md).
 */
export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const digest = createHmac('sha256', secret)
    .update(webhookSignedText(unixSeconds, body))
    .digest('hex');
  return webhookSignatureHeader(unixSeconds, digest);
}

/**
 * Whether `header` signs `body` with `secret`, no older than `toleranceSeconds`: the recipe a
 * receiver follows, in Node.
 */
export function verifyWebhook(
  secret: string,
  body: string,
  header: string,
  toleranceSeconds = 300,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  const parts = new Map(
    header.split(',').map((part) => {
      const at = part.indexOf('=');
      return [part.slice(0, at).trim(), part.slice(at + 1).trim()] as const;
    }),
  );
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1') ?? '';
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return v1.length === expected.length && timingSafeEqual(Buffer.from(v1), Buffer.from(expected));
}
