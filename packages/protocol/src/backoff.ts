/**
 * How long to wait before try number `failures + 1`: `initialMs * 2^failures`, capped at `maxMs`,
 * then ±20% jitter, so that many parties cut off together (workers of a restarted server, tabs of
 * a dashboard) do not all come back in the same instant. The one back-off every reconnect and
 * retry in Drover uses; a failed task's retry follows the same rule in SQL.
 */
export function backoffMs(failures: number, options: { initialMs: number; maxMs: number }): number {
  const base = Math.min(options.maxMs, options.initialMs * 2 ** Math.max(0, failures));
  return base * (0.8 + Math.random() * 0.4);
}
