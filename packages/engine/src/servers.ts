import type { Database } from './database.js';
import type { Statements } from './statements.js';

/** A server of the farm as its peers see it in the database. */
export interface ServerRegistration {
  /** Chosen by the server (a UUID), kept for its life. */
  id: string;
  /** Where the other replicas reach it. */
  url: string;
  host: string;
  pid: number;
}

/** What a sweep found: the dead servers' URLs, and the workers they held, now offline. */
export interface SweepResult {
  servers: string[];
  workers: string[];
  /** The attempts of those workers given up, their tasks back in the queue at their place. */
  attempts: { attemptId: string; taskId: string }[];
}

export async function registerServer(
  db: Database,
  sql: Statements,
  server: ServerRegistration,
): Promise<void> {
  await db.query(sql.get('register-server'), [server.id, server.url, server.host, server.pid]);
}

/** A server's heartbeat: false when its peers had taken it for dead (it must register again). */
export async function heartbeatServer(
  db: Database,
  sql: Statements,
  serverId: string,
): Promise<boolean> {
  return (await db.query(sql.get('heartbeat-server'), [serverId])).length > 0;
}

export async function unregisterServer(
  db: Database,
  sql: Statements,
  serverId: string,
): Promise<void> {
  await db.query(sql.get('unregister-server'), [serverId]);
}

/**
 * Releases what the servers silent for more than `timeoutMs` held, in one transaction: their rows
 * go, their workers are offline, and those workers' active attempts are lost, the tasks back at
 * their place in the queue. Never sweeps `selfId`.
 */
export function sweepServers(
  db: Database,
  sql: Statements,
  selfId: string,
  timeoutMs: number,
): Promise<SweepResult> {
  return db.transaction(async (tx) => {
    const [row] = await tx.query<{ servers: string[]; workers: string[] }>(
      sql.get('sweep-servers'),
      [selfId, timeoutMs],
    );
    const servers = row?.servers ?? [];
    const workers = row?.workers ?? [];
    const attempts: SweepResult['attempts'] = [];
    for (const workerId of workers) {
      const lost = await tx.query<{ attempt_id: string; task_id: string }>(
        sql.get('lose-worker-attempts'),
        [workerId, 'The server the worker was connected to stopped.', null],
      );
      attempts.push(...lost.map((r) => ({ attemptId: r.attempt_id, taskId: r.task_id })));
    }
    return { servers, workers, attempts };
  });
}
