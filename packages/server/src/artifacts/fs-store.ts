import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DroverError } from '@drover/protocol';
import type { ArtifactStore, OpenBlob, StoredBlob } from './store.js';

const SHA256 = /^[0-9a-f]{64}$/;
const PREFIX = /^[0-9a-f]{2}$/;

/**
 * Artifacts' bytes in a directory, content-addressed: `<dir>/<sha[0:2]>/<sha>`. An upload is
 * written to `<dir>/tmp/` while it is hashed, and renamed into place only once its size and
 * sha256 are right, so a blob at its address is always whole. `tmp/` is inside the directory so
 * the rename stays on one filesystem and is atomic.
 */
export class FileArtifactStore implements ArtifactStore {
  readonly dir: string;
  readonly #tmp: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
    this.#tmp = join(this.dir, 'tmp');
  }

  /** The directory is the farm's from its first use: `<dir>/farm-id` says whose it is. */
  async claim(farmId: string): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const file = join(this.dir, 'farm-id');
    try {
      await writeFile(file, `${farmId}\n`, { flag: 'wx' });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = (await readFile(file, 'utf8')).trim();
    if (owner !== farmId) {
      throw new Error(
        `The artifacts directory ${this.dir} belongs to another farm (${owner}; this one is ${farmId}). Each farm needs its own: its sweep deletes every file its database does not know. Give this server another --data-dir (artifacts go in <data dir>/artifacts).`,
      );
    }
  }

  /** Where a blob lives; only ever called with a checked sha256, never with a client's path. */
  #path(sha256: string): string {
    if (!SHA256.test(sha256)) throw new TypeError(`not a sha256: ${sha256}`);
    return join(this.dir, sha256.slice(0, 2), sha256);
  }

  async put(
    body: AsyncIterable<Uint8Array>,
    expect: { sha256: string; maxBytes: number },
  ): Promise<StoredBlob> {
    const target = this.#path(expect.sha256);
    await mkdir(this.#tmp, { recursive: true });
    const temporary = join(this.#tmp, `upload-${randomUUID()}`);
    const hash = createHash('sha256');
    let size = 0;
    async function* measured(): AsyncGenerator<Uint8Array> {
      for await (const chunk of body) {
        size += chunk.byteLength;
        if (size > expect.maxBytes) {
          throw new DroverError(
            'DROVER_E_TOO_LARGE',
            `The upload is larger than the ${expect.maxBytes} bytes this server accepts.`,
            { details: { maxBytes: expect.maxBytes } },
          );
        }
        hash.update(chunk);
        yield chunk;
      }
    }
    try {
      // flush: the bytes are on disk before the blob is renamed into place and recorded.
      await pipeline(measured, createWriteStream(temporary, { flags: 'wx', flush: true }));
      const sha256 = hash.digest('hex');
      if (sha256 !== expect.sha256) {
        throw new DroverError(
          'DROVER_E_CHECKSUM_MISMATCH',
          `The ${size} bytes that arrived have sha256 ${sha256}, not the declared ${expect.sha256}; nothing was stored.`,
          { details: { declared: expect.sha256, received: sha256, size } },
        );
      }
      await mkdir(join(this.dir, sha256.slice(0, 2)), { recursive: true });
      // Always renamed, even over the same bytes: the fresh write time tells a sweep running
      // now that this blob is about to be referenced again.
      await rename(temporary, target);
      return { sha256, size };
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  async open(sha256: string): Promise<OpenBlob | undefined> {
    if (!SHA256.test(sha256)) return undefined;
    let handle;
    try {
      handle = await open(this.#path(sha256), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    // An open descriptor keeps reading the same bytes even if a sweep unlinks the name meanwhile.
    const { size } = await handle.stat();
    let streaming = false;
    return {
      size,
      stream: (range) => {
        streaming = true;
        return handle.createReadStream({
          ...(range && { start: range.start, end: range.end }),
          autoClose: true,
        });
      },
      close: async () => {
        if (!streaming) await handle.close();
      },
    };
  }

  async *list(): AsyncGenerator<{ sha256: string; writtenAt: Date }> {
    const prefixes = await readdir(this.dir).catch(missingIsEmpty);
    for (const prefix of prefixes.filter((p) => PREFIX.test(p)).sort()) {
      const names = await readdir(join(this.dir, prefix)).catch(missingIsEmpty);
      for (const name of names) {
        if (!SHA256.test(name) || !name.startsWith(prefix)) continue;
        const stats = await stat(join(this.dir, prefix, name)).catch(() => undefined);
        if (stats?.isFile()) yield { sha256: name, writtenAt: stats.mtime };
      }
    }
  }

  async delete(sha256: string, writtenBefore: Date): Promise<boolean> {
    const path = this.#path(sha256);
    await mkdir(this.#tmp, { recursive: true });
    // Moved aside first, then judged by the file actually moved: an upload renaming the same
    // bytes into place at this moment either lands after the move (and stays), or is the file
    // moved, whose fresh write time puts it back.
    const aside = join(this.#tmp, `delete-${randomUUID()}`);
    try {
      await rename(path, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
    const { mtime } = await stat(aside);
    if (mtime >= writtenBefore) {
      // Whatever is at the address now has the same bytes, so putting this back is harmless.
      await rename(aside, path);
      return false;
    }
    await rm(aside, { force: true });
    return true;
  }

  async removeStaleUploads(before: Date): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.#tmp).catch(missingIsEmpty)) {
      const path = join(this.#tmp, name);
      const stats = await stat(path).catch(() => undefined);
      if (stats && stats.mtime < before) {
        await rm(path, { force: true });
        removed += 1;
      }
    }
    return removed;
  }
}

function missingIsEmpty(error: unknown): string[] {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
  throw error;
}
