import { createHash } from 'node:crypto';

/** The SHA-256 of the bytes, as 64 lowercase hex digits. */
export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
