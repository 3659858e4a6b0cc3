import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DroverError } from '@drover/protocol';
import { fetchBlob } from './remote-blob.js';
import { replicaHttp } from './replica-routes.js';
import type { ArtifactStore, ByteRange, OpenBlob, StoredBlob } from './store.js';

/** Where blobs are, as the farm's database records it; what `PeerArtifactStore` needs of it. */
export interface BlobLocations {
  /** This replica holds these blobs. */
  record(sha256s: readonly string[]): Promise<void>;
  /** A blob no artifact references was deleted: its locations recorded before then go. */
  forget(sha256: string, storedBefore: Date): Promise<void>;
  /** The other replicas that hold a blob, and where they are reached. */
  holders(sha256: string): Promise<{ url: string }[]>;
}

export interface PeerStoreOptions {
  /** This replica's own store: a directory (shared or not), or anything that holds bytes. */
  local: ArtifactStore;
  locations: BlobLocations;
  /** The farm's replica secret, shown to the replica a blob is fetched from. */
  secret: string;
  /**
   * Keep a copy of a blob fetched whole (once its sha256 proved right), so that the next download
   * here is local and the file outlives the replica that stored it. @defaultValue true
   */
  keepCopies?: boolean;
  /** How long a replica may take to answer before the next holder is asked. @defaultValue 5,000 */
  timeoutMs?: number;
  /** The fetch replicas are reached with. @defaultValue fetch */
  fetch?: typeof globalThis.fetch;
  onError: (error: unknown, where: string) => void;
}

/** sha256s recorded per statement when the whole store is announced. */
const ANNOUNCE_BATCH = 500;

/**
 * This replica's store, plus every other replica's: what the local store lacks is streamed from
 * a replica that holds it (found in the database), whole with its sha256 checked, or one range
 * of it. On a shared directory (or an object store every replica reads) every blob is local and
 * no replica is ever asked. Whatever this replica stores is recorded as held here; what it
 * deletes, forgotten.
 */
export class PeerArtifactStore implements ArtifactStore {
  readonly #options: PeerStoreOptions;
  readonly #local: ArtifactStore;

  constructor(options: PeerStoreOptions) {
    this.#options = options;
    this.#local = options.local;
  }

  /** The bytes held here, never fetched from elsewhere: what other replicas are served. */
  get local(): ArtifactStore {
    return this.#local;
  }

  async put(
    body: AsyncIterable<Uint8Array>,
    expect: { sha256: string; maxBytes: number },
  ): Promise<StoredBlob> {
    const blob = await this.#local.put(body, expect);
    // Before the artifact is recorded: whoever can read its record can find its bytes.
    await this.#options.locations.record([blob.sha256]);
    return blob;
  }

  /**
   * The local blob, or one another replica holds, opened there (a `HEAD` gives its size). Rejects
   * with `DROVER_E_ARTIFACT_UNAVAILABLE` when no replica that holds it answers.
   */
  async open(sha256: string): Promise<OpenBlob | undefined> {
    const local = await this.#local.open(sha256);
    if (local) return local;
    const holders = await this.#options.locations.holders(sha256);
    for (const { url } of holders) {
      const blobUrl = new URL(replicaHttp.blobPath(sha256), url);
      try {
        const found = await fetchBlob({ ...this.#request(blobUrl, sha256), method: 'HEAD' });
        if (found) return this.#remote(blobUrl, sha256, found.size);
        this.#options.onError(new Error(`${url} no longer has blob ${sha256}`), 'finding a blob');
      } catch (error) {
        this.#options.onError(error, `asking ${url} for blob ${sha256}`);
      }
    }
    throw unavailable(sha256, holders.length);
  }

  list(): AsyncIterable<{ sha256: string; writtenAt: Date }> {
    return this.#local.list();
  }

  async delete(sha256: string, writtenBefore: Date): Promise<boolean> {
    const deleted = await this.#local.delete(sha256, writtenBefore);
    if (deleted) await this.#options.locations.forget(sha256, writtenBefore);
    return deleted;
  }

  async claim(farmId: string): Promise<void> {
    await this.#local.claim?.(farmId);
  }

  async removeStaleUploads(before: Date): Promise<number> {
    return (await this.#local.removeStaleUploads?.(before)) ?? 0;
  }

  /**
   * Records every blob the local store holds as held here: when this replica joins the farm (its
   * locations went with its last run's row) and when it comes back after being taken for dead.
   */
  async announce(): Promise<number> {
    let batch: string[] = [];
    let count = 0;
    for await (const { sha256 } of this.#local.list()) {
      batch.push(sha256);
      if (batch.length >= ANNOUNCE_BATCH) {
        await this.#options.locations.record(batch);
        count += batch.length;
        batch = [];
      }
    }
    if (batch.length > 0) await this.#options.locations.record(batch);
    return count + batch.length;
  }

  #request(url: URL, sha256: string) {
    return {
      url,
      sha256,
      headers: { [replicaHttp.secretHeader]: this.#options.secret },
      timeoutMs: this.#options.timeoutMs ?? 5000,
      ...(this.#options.fetch && { fetch: this.#options.fetch }),
    };
  }

  /** A blob another replica holds, read from there when streamed. */
  #remote(url: URL, sha256: string, size: number): OpenBlob {
    return {
      size,
      close: () => Promise.resolve(),
      stream: (range) => {
        const whole = range === undefined || (range.start === 0 && range.end === size - 1);
        const out = new PassThrough();
        this.#pull(url, sha256, size, whole ? undefined : range, out).catch((error: unknown) => {
          // The reader went away: nothing is wrong, and the request to the replica ended with it.
          if ((error as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') return;
          this.#options.onError(error, `streaming blob ${sha256} from ${url.origin}`);
        });
        return out;
      },
    };
  }

  /**
   * Streams the blob (or a range of it) from `url` into `out`. Any failure (among them bytes
   * whose sha256 is wrong) destroys `out` with the error: the answer ends short, never passing
   * the bytes on as the whole file; the reader going away ends the request to the replica.
   */
  async #pull(
    url: URL,
    sha256: string,
    size: number,
    range: ByteRange | undefined,
    out: PassThrough,
  ): Promise<void> {
    try {
      const remote = await fetchBlob({ ...this.#request(url, sha256), range });
      if (!remote) throw unavailable(sha256, 1);
      if (remote.size !== size) {
        remote.body.destroy();
        throw new Error(
          `blob ${sha256} on ${url.origin} changed size (${size}, now ${remote.size})`,
        );
      }
      const copier = !range && this.#options.keepCopies !== false ? [this.#copier(sha256)] : [];
      await pipeline([remote.body, ...copier, out]);
    } catch (error) {
      if (!out.destroyed) out.destroy(error as Error);
      throw error;
    }
  }

  /**
   * Passes a blob's bytes on, writing them to the local store as well: kept once the whole blob
   * arrived with the right sha256 (the local store checks it again), dropped if the download is
   * cut short. Keeping the copy never slows or fails the download.
   */
  #copier(sha256: string): Transform {
    const copy = new PassThrough();
    let ended = false;
    this.#local
      .put(copy, { sha256, maxBytes: Number.MAX_SAFE_INTEGER })
      .then(() => this.#options.locations.record([sha256]))
      .catch((error: unknown) => {
        if (ended) this.#options.onError(error, `keeping a copy of blob ${sha256}`);
      });
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        if (copy.destroyed || copy.write(chunk)) return callback(null, chunk);
        // The disk is behind: wait for it rather than hold the blob in memory.
        const go = () => {
          copy.off('drain', go).off('close', go);
          callback(null, chunk);
        };
        copy.on('drain', go).on('close', go);
      },
      flush(callback) {
        ended = true;
        copy.end();
        callback();
      },
    });
    tap.on('close', () => {
      if (!ended) copy.destroy(new Error('the download ended before the whole blob arrived'));
    });
    return tap;
  }
}

function unavailable(sha256: string, holders: number): DroverError {
  // Which servers those are is for the servers' log, not for whoever downloads.
  return new DroverError(
    'DROVER_E_ARTIFACT_UNAVAILABLE',
    holders === 0
      ? 'The bytes of this file are on no running server of the farm: the server that stored them has stopped (or lost them). Try again once it is back.'
      : `The bytes of this file are on ${holders === 1 ? 'a server' : `${holders} servers`} of the farm that ${holders === 1 ? 'does' : 'do'} not answer. Try again later.`,
    { details: { sha256 } },
  );
}
