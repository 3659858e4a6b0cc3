import type { Readable } from 'node:stream';

/** Bytes stored under their sha256. */
export interface StoredBlob {
  sha256: string;
  size: number;
}

/** An inclusive byte range, as HTTP counts: `{ start: 0, end: 9 }` is the first ten bytes. */
export interface ByteRange {
  start: number;
  end: number;
}

/** A stored blob opened for reading; close it if `stream` is never called. */
export interface OpenBlob {
  size: number;
  /** Reads the blob, or a range of it; the stream closes the blob when it ends. */
  stream(range?: ByteRange): Readable;
  close(): Promise<void>;
}

/**
 * Where artifacts' bytes live, addressed by their sha256: the same bytes are stored once however
 * many artifacts have them. The filesystem store is the embedded default; `PeerArtifactStore`
 * wraps a replica's own store to reach the bytes other replicas hold; an object store can
 * implement the same methods.
 */
export interface ArtifactStore {
  /**
   * Streams `body` in while hashing it, and keeps it under its sha256 only if it is at most
   * `maxBytes` long (`DROVER_E_TOO_LARGE` otherwise, thrown as soon as it is passed) and its
   * sha256 is `sha256` (`DROVER_E_CHECKSUM_MISMATCH` otherwise). A failed put keeps nothing.
   */
  put(
    body: AsyncIterable<Uint8Array>,
    expect: { sha256: string; maxBytes: number },
  ): Promise<StoredBlob>;
  /**
   * Opens a stored blob, or resolves to undefined if there is none with this sha256. A store that
   * knows the bytes are elsewhere but cannot reach them rejects with
   * `DROVER_E_ARTIFACT_UNAVAILABLE`.
   */
  open(sha256: string): Promise<OpenBlob | undefined>;
  /** Every stored blob, with the time its bytes were last written. */
  list(): AsyncIterable<{ sha256: string; writtenAt: Date }>;
  /**
   * Deletes a blob unless its bytes were written after `writtenBefore`: an upload of the same
   * bytes that is being recorded right now keeps them. Resolves to whether it deleted.
   */
  delete(sha256: string, writtenBefore: Date): Promise<boolean>;
  /**
   * Marks the store as the farm's, or refuses (throws) if it is another farm's: a sweep deletes
   * every blob its own database does not reference, so two farms must never share a store.
   */
  claim?(farmId: string): Promise<void>;
  /** Removes what interrupted uploads left behind before this time; returns how many. */
  removeStaleUploads?(before: Date): Promise<number>;
}
