import { Sha256, parseOrThrow } from '@drover/protocol';
import { z } from 'zod';
import type { Database } from './database.js';
import type { Statements } from './statements.js';

/** A replica that holds a blob, and where the other replicas reach it. */
export interface BlobHolder {
  serverId: string;
  url: string;
}

const ServerId = z.uuid();

/**
 * Replica `serverId` holds these blobs: recorded, or their time refreshed. Nothing is recorded
 * while the replica has no row (its peers took it for dead): it records its whole store again
 * when it registers again.
 */
export async function recordBlobLocations(
  db: Database,
  sql: Statements,
  serverId: string,
  sha256s: readonly string[],
): Promise<void> {
  parseOrThrow(ServerId, serverId, 'server id');
  parseOrThrow(z.array(Sha256), sha256s, 'sha256s');
  if (sha256s.length === 0) return;
  await db.query(sql.get('record-blob-locations'), [serverId, sha256s]);
}

/**
 * A replica deleted a blob no artifact referenced: every location of it recorded before
 * `storedBefore` goes (a copy stored since, anywhere, stays recorded).
 */
export async function forgetBlobLocations(
  db: Database,
  sql: Statements,
  sha256: string,
  storedBefore: Date,
): Promise<void> {
  parseOrThrow(Sha256, sha256, 'sha256');
  await db.query(sql.get('forget-blob-location'), [sha256, storedBefore.toISOString()]);
}

/** The live replicas other than `exceptServerId` that hold a blob, most recently heard first. */
export async function blobHolders(
  db: Database,
  sql: Statements,
  sha256: string,
  exceptServerId: string,
): Promise<BlobHolder[]> {
  parseOrThrow(Sha256, sha256, 'sha256');
  parseOrThrow(ServerId, exceptServerId, 'server id');
  const rows = await db.query<{ server_id: string; url: string }>(sql.get('blob-holders'), [
    sha256,
    exceptServerId,
  ]);
  return rows.map((r) => ({ serverId: r.server_id, url: r.url }));
}

/** What the replicas of this farm show one another to fetch bytes; only servers read it. */
export async function replicaSecret(db: Database, sql: Statements): Promise<string> {
  const [row] = await db.query<{ replica_secret: string }>(sql.get('replica-secret'));
  if (!row) throw new Error('the farm table has no row: the schema was not migrated');
  return row.replica_secret;
}
