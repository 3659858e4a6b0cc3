import type { Engine } from '@drover/engine';
import type { ArtifactStore } from './store.js';

export interface SweepOptions {
  /**
   * Blobs written more recently than this are kept whatever the database says: their upload may
   * be between storing the bytes and recording the artifact. @defaultValue 1 hour
   */
  graceMs?: number;
  /** sha256s asked about per query. @defaultValue 500 */
  batch?: number;
}

/**
 * Deletes the blobs no artifact references any more. Artifact records go with their job (when
 * retention deletes it); their bytes stay until this pass, because the same bytes may belong to
 * other artifacts too: a blob goes only when no artifact anywhere has its sha256. Also removes
 * what interrupted uploads left behind. Safe to run while uploads go on, and on several servers
 * sharing one store. Resolves to how many blobs it deleted.
 */
export async function sweepArtifacts(
  engine: Engine,
  store: ArtifactStore,
  options: SweepOptions = {},
): Promise<number> {
  const graceMs = options.graceMs ?? 3_600_000;
  const batch = options.batch ?? 500;
  const writtenBefore = new Date(Date.now() - graceMs);
  let deleted = 0;
  let candidates: string[] = [];
  const check = async () => {
    const unreferenced = await engine.unreferencedBlobs(candidates);
    candidates = [];
    for (const sha256 of unreferenced) if (await store.delete(sha256, writtenBefore)) deleted += 1;
  };
  for await (const blob of store.list()) {
    if (blob.writtenAt >= writtenBefore) continue;
    candidates.push(blob.sha256);
    if (candidates.length >= batch) await check();
  }
  if (candidates.length > 0) await check();
  // An upload stalled for a day is gone; its client gave up long ago.
  await store.removeStaleUploads?.(new Date(Date.now() - Math.max(graceMs, 86_400_000)));
  return deleted;
}

/** Runs the sweep every `intervalMs` (never two at once); returns a function that stops it. */
export function scheduleSweep(
  engine: Engine,
  store: ArtifactStore,
  intervalMs: number,
  onError: (error: unknown) => void,
  options: SweepOptions = {},
): () => Promise<void> {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    running ??= sweepArtifacts(engine, store, options)
      .catch(onError)
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
